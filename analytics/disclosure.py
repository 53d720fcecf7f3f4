"""Disclosure control for a publication: which cells may be shown. Pure Python, no Django.

Called once per publication by the publication service (after a round closes), never per
request. The whole public API:

    from analytics.disclosure import Cell, suppress_cells, homogeneity_verdict, generalise_microdata

    result = suppress_cells(
        group_weights=[3, 1, 7, ...],          # respondents per group (see below)
        cells=[Cell(key=("team", 12), groups=[0, 1, 2], priority=1), ...],
        k=5,                                  # never below 5
        insider_margin=True,                  # the default
    )
    for decision in result.decisions:         # same order as `cells`
        decision.key, decision.n, decision.shown, decision.reason

Vocabulary
- A *group* is a set of respondents sharing every reportable attribute (leaf team, location,
  tenure band): every cell either contains all of a group or none of it, so the audit works on
  groups, one column each, with a weight = its number of respondents. Pass groups in a
  hierarchical order (sorted by team path, then the other attributes): correctness does not
  depend on it, speed does (pivots are taken at the highest column index, which keeps the
  elimination inside subtrees).
- A *cell* is a set of groups. `priority` orders the candidates for publication: lower is
  more important to keep (use the tree depth: organisation 0, its teams 1, ...); ties go to the
  larger cell, then to the earlier cell. Candidates are taken in that order, so large and
  high-level cells stay published and the smallest ones are suppressed to protect others.

Guarantees of `suppress_cells` (the published span is the span of the shown cells as 0/1
vectors over respondents; a group of weight w is w identical columns, so spans over groups and
over respondents contain the same cell-shaped vectors):
1. `empty`: a cell with 0 respondents is hidden. `below_k`: a cell with 0 < n < k is hidden
   (primary suppression). Every shown cell has n >= k.
2. `protects_another` (secondary suppression, Statistics Norway's GaussSuppression): no hidden
   cell lies in the published span, and no group of fewer than k respondents does either
   (this is what defeats the three-set attack, whose target A-and-B is not a cell). Complement,
   overlap, three-set and tracker attacks are all "a hidden set in the span" and are refused.
3. `insider_margin` (default on): no vector of the published span is supported on two groups
   that together hold fewer than k respondents (whatever the coefficients: this refuses
   Glint's "suppressed pair", x_a + x_b, and differences x_a - x_b that bounded answers can
   reveal), and no 0/1 combination of three or more groups holding fewer than k respondents
   is in the span (the residual "parent minus published children" must hold >= k, so an
   insider who removes their own answer still faces k - 1 others, as with a shown cell of k).
   Single groups and pairs are checked exhaustively (kernel vectors, below). Residual sets of
   three or more groups are found when they are one elimination row (the usual "parent minus
   published children") or the 0/1 sum of two short rows; other combinations are NOT searched
   (see "limits").
4. Deterministic: the same input gives the same output (the random vectors are seeded).

How (and why it is exact): the span is kept as a sparse reduced row echelon form over the
prime field GF(p), p = 2**61 - 1, with integer arithmetic only (no floating-point rank
errors). Two random vectors of the kernel of the published matrix are maintained alongside: a
vector v is in the span iff v.d = 0 for every kernel vector d, so "v.d1 = v.d2 = 0" never
misses an exposure (one-sided test) and wrongly flags an unexposed v with probability about
1/p**2, which would only suppress one more cell. Publishing a candidate changes the kernel
vectors on a handful of columns (its pivot and the pivots of the rows containing it), so each
test costs the size of that change, not of the publication. The rows are updated in place:
publishing costs (rows containing its pivot) x (its reduced length), never a pass over a long
row, and the residual search works out only the rows it can inspect (pivot group below k,
fewer than 2k columns). None of this changes a decision: tests/analytics/reference_audit.py
keeps the straightforward implementation (every changed row rebuilt) and a property test
checks that both decide every cell alike. Soundness over the rationals holds
unless p divides every maximal minor of the published 0/1 matrix; for matrices of nested
marginals (whose minors are small) this does not happen.

Limits: (1) residual 0/1 sets of 3..k-1 small groups made of three or more elimination rows,
or of two long rows, escape the insider-margin search (random-organisation tests find such
4-person residuals); hidden cells and sets of one or two groups are always protected. (2) Speed:
about 2-4 s for 20,000 respondents / 2,000 teams / 20,000 cells (bench/disclosure.py: 9-20x a
pandas GROUP BY of the same cells, depending on the machine's load); a publication runs one
audit per distinct (respondents, k), 12 for the bench's 12 items with 3% skipped answers, and
re-publishes a subset of its shown cells with `restricted_release` for each measure that has
banded cells (no insider-margin work there: a subspace inherits it). (3) Per-category
distributions and repeated rounds are outside this audit (each measure and round is a separate
call).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

MIN_K = 5
PRIME = (1 << 61) - 1
_SEED = 0x5EED_D15C

REASON_EMPTY = "empty"
REASON_BELOW_K = "below_k"
REASON_PROTECTS_ANOTHER = "protects_another"
REASON_INSIDER_MARGIN = "insider_margin"
REASON_UNANIMITY = "unanimity"


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of a publication: `groups` are indices into `group_weights`."""

    key: Hashable
    groups: frozenset[int]
    priority: int = 0

    def __init__(self, key: Hashable, groups: Iterable[int], priority: int = 0) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "groups", frozenset(groups))
        object.__setattr__(self, "priority", priority)


@dataclass(frozen=True, slots=True)
class CellDecision:
    key: Hashable
    n: int
    shown: bool
    reason: str | None


@dataclass(frozen=True, slots=True)
class Suppression:
    """The decision for every cell, in input order, plus the parameters used."""

    decisions: tuple[CellDecision, ...]
    k: int
    insider_margin: bool
    counts: Mapping[str, int] = field(default_factory=dict)
    # The published span in reduced row echelon form over GF(PRIME) (pivot = highest group of
    # a row; `span[p]` is the row of pivot p without its pivot entry). The reduced echelon
    # form of a span is unique, so this is what `analytics.derived` would compute from the
    # shown cells; it is handed over so that it is not computed twice.
    span: Mapping[int, Mapping[int, int]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def shown(self) -> list[int]:
        return [i for i, d in enumerate(self.decisions) if d.shown]

    @property
    def hidden(self) -> list[int]:
        return [i for i, d in enumerate(self.decisions) if not d.shown]


def suppress_cells(
    *,
    group_weights: Sequence[int],
    cells: Sequence[Cell],
    k: int = MIN_K,
    insider_margin: bool = True,
    withheld: Collection[int] = (),
) -> Suppression:
    """Decide shown / hidden (with a reason) for every cell; see the module docstring.

    `withheld`: indices of cells (n >= k) whose exact figure is replaced by a band for the
    measure being published (see `homogeneity_verdict`); they get reason `unanimity` and are
    protected like primary cells, so that their exact figure cannot be derived from the others
    either. Run once for counts (no `withheld`), and again per measure when a cell is banded.

    Pure and deterministic; raises ValueError for k < 5, a non-positive group weight or a group
    index out of range. Cost: roughly linear in the total size of the cells for nested
    (tree-shaped) publications.
    """
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}, got {k}")
    if any(w <= 0 for w in group_weights):
        raise ValueError("group weights must be positive (leave empty groups out)")
    n_groups = len(group_weights)
    withheld = set(withheld)
    sizes = []
    for cell in cells:
        if cell.groups and (min(cell.groups) < 0 or max(cell.groups) >= n_groups):
            raise ValueError(f"cell {cell.key!r} names a group that does not exist")
        sizes.append(sum([group_weights[g] for g in cell.groups]))

    reasons: list[str | None] = [None] * len(cells)
    primary: list[int] = []
    candidates: list[int] = []
    for i, n in enumerate(sizes):
        if n == 0:
            reasons[i] = REASON_EMPTY
        elif n < k:
            reasons[i] = REASON_BELOW_K
            primary.append(i)
        elif i in withheld:
            reasons[i] = REASON_UNANIMITY
            primary.append(i)
        else:
            candidates.append(i)

    audit = _SpanAudit(group_weights, k=k, insider_margin=insider_margin)
    for i in primary:
        audit.protect(cells[i].groups)
    candidates.sort(key=lambda i: (cells[i].priority, -sizes[i], i))
    for i in candidates:
        verdict = audit.try_publish(cells[i].groups)
        if verdict is not None:
            reasons[i] = verdict
            audit.protect(cells[i].groups)

    decisions = tuple(
        CellDecision(key=cell.key, n=n, shown=reason is None, reason=reason)
        for cell, n, reason in zip(cells, sizes, reasons, strict=True)
    )
    counts = Counter(d.reason or "shown" for d in decisions)
    return Suppression(
        decisions=decisions,
        k=k,
        insider_margin=insider_margin,
        counts=dict(counts),
        span=audit.rows,
    )


def restricted_release(
    *,
    group_weights: Sequence[int],
    cells: Sequence[Cell] | Sequence[frozenset[int]],
    order: Sequence[int],
    protect: Sequence[tuple[Collection[int], str]],
) -> dict[int, str]:
    """Publish the cells `order` (indices into `cells`, most important first) one by one,
    refusing every cell that would bring one of the protected group sets into the published
    span. `protect`: (groups, reason) pairs. Returns refused index -> the reason of a set it
    would have exposed. Exact (the kernel-vector test of `suppress_cells`).

    For the caller's re-use of an audit: when `order` is a subset of the cells an audit with
    `suppress_cells` showed, every guarantee of that audit (hidden cells, groups below k, the
    insider margin) is a property of its span and holds for any subspace, so this only adds
    the new protected sets and skips the rest of the audit's work. Pure and deterministic.
    """
    audit = _SpanAudit(group_weights, k=MIN_K, insider_margin=False)
    # The audit's own checks for groups below k are inherited from the caller's audit; only
    # the sets asked for are protected here.
    audit.small = [False] * len(group_weights)
    for groups, _reason in protect:
        audit.protect(frozenset(groups))
    refused: dict[int, str] = {}
    for i in order:
        cell = cells[i]
        groups = cell.groups if isinstance(cell, Cell) else cell
        if audit.try_publish(groups) is not None:
            # A refused cell need not be protected itself: were it in a later span, that
            # span with it would be the same span, which holds no protected set.
            assert audit.exposed is not None
            refused[i] = protect[audit.exposed][1]
    return refused


class _SpanAudit:
    """Sparse RREF of the published cells over GF(p) plus two random kernel vectors.

    Invariants: `rows[p]` is the row whose pivot column is p, stored without its pivot entry
    (coefficient 1) and zero at every other pivot column; `row_weight[p]` is the number of
    respondents in the support of `rows[p]`; `col_rows[c]` is the set of pivots whose row has
    a non-zero at c; `d1`, `d2` are in the kernel of the published matrix and uniformly random
    on the free (non-pivot) columns; `cls[g]` is the projective class of (d1[g], d2[g]) of a
    small group g and `by_class` its inverse (kept only with the insider margin).

    Cost: publishing a candidate costs (rows containing its pivot) x (its reduced length) and
    never a pass over a whole row: rows are updated in place, and a row's length and weight
    after the update are derived from the entries that change. The elimination and every test
    are the same as in a straightforward implementation that rebuilds each changed row
    (tests/analytics/test_disclosure.py compares the two on random organisations).
    """

    def __init__(self, weights: Sequence[int], *, k: int, insider_margin: bool) -> None:
        self.weights = list(weights)
        self.k = k
        self.insider_margin = insider_margin
        n = len(weights)
        rng = random.Random(_SEED)
        self.d1 = [rng.randrange(1, PRIME) for _ in range(n)]
        self.d2 = [rng.randrange(1, PRIME) for _ in range(n)]
        self.is_pivot = [False] * n
        self.rows: dict[int, dict[int, int]] = {}
        self.row_weight: dict[int, int] = {}
        self.col_rows: dict[int, set[int]] = defaultdict(set)
        self.small = [w < k for w in weights]
        # Protected (hidden) cells: members, and their dot products with d1, d2.
        self.sens_groups: list[frozenset[int]] = []
        self.exposed: int | None = None  # the protected set the last refusal would expose
        self.sigma1: list[int] = []
        self.sigma2: list[int] = []
        self.group_sens: dict[int, list[int]] = defaultdict(list)
        # Small groups indexed by projective class of (d1, d2).
        self.cls: dict[int, tuple[int, int]] = {}
        self.by_class: dict[tuple[int, int], set[int]] = defaultdict(set)
        if insider_margin:
            small = [g for g in range(n) if self.small[g]]
            classes = _projective_many([(self.d1[g], self.d2[g]) for g in small])
            for g, c in zip(small, classes, strict=True):
                self.cls[g] = c
                self.by_class[c].add(g)

    def protect(self, groups: frozenset[int]) -> None:
        """Add a hidden cell that must never enter the published span."""
        s = len(self.sens_groups)
        self.sens_groups.append(groups)
        d1, d2 = self.d1, self.d2
        self.sigma1.append(sum(d1[g] for g in groups) % PRIME)
        self.sigma2.append(sum(d2[g] for g in groups) % PRIME)
        for g in groups:
            self.group_sens[g].append(s)

    def _reduce(self, groups: frozenset[int]) -> dict[int, int]:
        is_pivot, rows = self.is_pivot, self.rows
        pivots = [g for g in groups if is_pivot[g]]
        if not pivots:  # the usual case for a small cell: nothing to eliminate
            return dict.fromkeys(groups, 1)
        r = dict.fromkeys(groups.difference(pivots), 1)
        for g in pivots:
            for c, v in rows[g].items():
                r[c] = r.get(c, 0) - v
        out = {}
        for c, v in r.items():
            v %= PRIME
            if v:
                out[c] = v
        return out

    def try_publish(self, groups: frozenset[int]) -> str | None:
        """Publish the cell and return None, or return why it must stay hidden (unchanged)."""
        r = self._reduce(groups)
        if not r:
            return None  # already derivable from what is published: showing it adds nothing
        q = max(r)
        inv = pow(r.pop(q), -1, PRIME)
        rest = {c: v * inv % PRIME for c, v in r.items()}
        d1, d2 = self.d1, self.d2
        lam1 = (d1[q] + sum(v * d1[c] for c, v in rest.items())) % PRIME
        lam2 = (d2[q] + sum(v * d2[c] for c, v in rest.items())) % PRIME
        delta: dict[int, tuple[int, int]] = {q: (-lam1 % PRIME, -lam2 % PRIME)}
        factors: dict[int, int] = {}
        rows = self.rows
        for p in self.col_rows.get(q, ()):
            f = rows[p][q]
            factors[p] = f
            delta[p] = (lam1 * f % PRIME, lam2 * f % PRIME)
        new = {g: ((d1[g] + a) % PRIME, (d2[g] + b) % PRIME) for g, (a, b) in delta.items()}
        verdict, classes = self._check(new)
        if verdict is not None:
            return verdict
        if self.insider_margin:
            updates = self._row_updates(q, rest, factors)
            if self._residual_exposed(q, rest, factors, updates):
                return REASON_INSIDER_MARGIN
        else:
            # Without the residual search nothing inspects the changed rows beforehand:
            # `_commit` applies every update in its one pass.
            w = self.weights
            updates = dict.fromkeys(factors, (None, 0, 0))
            updates[q] = (rest, len(rest), sum(w[c] for c in rest))
        self._commit(q, rest, factors, updates, delta, new, classes)
        return None

    def _check(
        self, new: dict[int, tuple[int, int]]
    ) -> tuple[str | None, dict[int, tuple[int, int]]]:
        """Why the kernel vectors `new` expose a hidden cell or a small group (or None), and
        the projective classes of the changed small groups (for the commit)."""
        acc: dict[int, list[int]] = {}
        d1, d2, group_sens = self.d1, self.d2, self.group_sens
        for g, (v1, v2) in new.items():
            sens = group_sens.get(g)
            if not sens:
                continue
            a1 = v1 - d1[g]
            a2 = v2 - d2[g]
            for s in sens:
                slot = acc.get(s)
                if slot is None:
                    acc[s] = [a1, a2]
                else:
                    slot[0] += a1
                    slot[1] += a2
        sigma1, sigma2 = self.sigma1, self.sigma2
        for s, (a1, a2) in acc.items():
            if (sigma1[s] + a1) % PRIME == 0 and (sigma2[s] + a2) % PRIME == 0:
                self.exposed = s
                return REASON_PROTECTS_ANOTHER, {}
        small = self.small
        changed_small = [g for g in new if small[g]]
        for g in changed_small:
            if new[g] == (0, 0):
                return REASON_PROTECTS_ANOTHER, {}
        if not self.insider_margin or not changed_small:
            return None, {}
        classes = dict(
            zip(changed_small, _projective_many([new[g] for g in changed_small]), strict=True)
        )
        if self._pair_exposed(classes, new):
            return REASON_INSIDER_MARGIN, {}
        return None, classes

    def _pair_exposed(
        self, classes: dict[int, tuple[int, int]], new: dict[int, tuple[int, int]]
    ) -> bool:
        """Any vector of the span supported on two small groups of total weight < k."""
        k, w = self.k, self.weights
        new_classes: dict[tuple[int, int], list[int]] = defaultdict(list)
        for g, c in classes.items():
            new_classes[c].append(g)
        for cls, members in new_classes.items():
            others = [h for h in self.by_class.get(cls, ()) if h not in new]
            lightest = sorted(w[h] for h in members + others)
            if len(lightest) >= 2 and lightest[0] + lightest[1] < k:
                return True
        return False

    def _row_updates(
        self, q: int, rest: dict[int, int], factors: dict[int, int]
    ) -> dict[int, tuple[dict[int, int] | None, int, int]]:
        """For every row that publishing (pivot q, `rest`) creates or changes: the new values
        of the entries that change (0: the entry vanishes; for row q, the whole row), and the
        row's length and support weight afterwards (column q leaves every row).

        Only rows the residual search can inspect are worked out here: a row whose pivot group
        holds k or more respondents is never inspected (nor taken as a partner), and a row
        that keeps at least 2k columns and enough weight whatever the update cancels is
        skipped by the search too. For those, the changes are None and the length and weight
        are lower bounds (the update is applied in `_commit`, in one pass)."""
        w, k = self.weights, self.k
        rest_weight = sum(w[c] for c in rest)
        out: dict[int, tuple[dict[int, int] | None, int, int]] = {q: (rest, len(rest), rest_weight)}
        rows, row_weight = self.rows, self.row_weight
        w_q = w[q]
        for p, f in factors.items():
            row = rows[p]
            length = len(row) - 1
            weight = row_weight[p] - w_q
            if w[p] >= k:
                out[p] = (None, 0, 0)
                continue
            if length - len(rest) >= 2 * k and weight - rest_weight >= k - w[p]:
                out[p] = (None, length - len(rest), weight - rest_weight)
                continue
            changes = {}
            for c, v in rest.items():
                old = row.get(c, 0)
                value = (old - f * v) % PRIME
                changes[c] = value
                if old:
                    if not value:
                        length -= 1
                        weight -= w[c]
                elif value:
                    length += 1
                    weight += w[c]
            out[p] = (changes, length, weight)
        return out

    def _new_row(
        self, p: int, q: int, updates: dict[int, tuple[dict[int, int] | None, int, int]]
    ) -> dict[int, int]:
        """Row p as it would be after the publish (materialised: only for worked-out rows)."""
        if p not in updates:
            return self.rows[p]
        changes = updates[p][0]
        assert changes is not None
        if p == q:
            return changes
        row = dict(self.rows[p])
        del row[q]
        for c, value in changes.items():
            if value:
                row[c] = value
            else:
                row.pop(c, None)
        return row

    def _residual_exposed(
        self,
        q: int,
        rest: dict[int, int],
        factors: dict[int, int],
        updates: dict[int, tuple[dict[int, int] | None, int, int]],
    ) -> bool:
        """A changed elimination row supported on fewer than k respondents (any coefficients),
        or a changed row plus one row it meets summing to a 0/1 vector of fewer than k.

        In reduced echelon form a 0/1 vector 1_S of the span is the sum of the rows whose
        pivots lie in S, and a new one contains a changed row; "parent minus its published
        children" is a single row, so this catches the residual sets that nested cells
        create. Sums of three or more rows, and of two rows of 2k or more columns, are not
        searched (a documented limit; the pair and unit checks, which use the kernel vectors,
        are exhaustive).
        """
        k, w = self.k, self.weights
        long_row = 2 * k
        rows = self.rows

        # Only rows that can be a partner are gathered: a row whose pivot group holds k or
        # more respondents, or of 2k or more columns, is skipped as a partner anyway, and so
        # is every changed row left unworked by `_row_updates` (it is one or the other).
        worked = [
            (p, changes) for p, (changes, _, _) in updates.items() if p != q and changes is not None
        ]

        def length(p: int) -> int:
            return updates[p][1] if p in updates else len(rows[p])

        def rows_with(c: int) -> set[int]:
            out = {
                p
                for p in self.col_rows.get(c, ())
                if p not in updates and w[p] < k and len(rows[p]) < long_row
            }
            if c in rest:
                out.add(q)
            for p, changes in worked:
                if changes.get(c, 1) and (c in changes or c in rows[p]):
                    out.add(p)
            return out

        for p0, (_, length0, weight0) in updates.items():
            if w[p0] >= k:
                continue
            if w[p0] + weight0 < k:
                return True
            if length0 >= long_row:
                continue  # long rows only cancel against long rows: not searched (a limit)
            budget = k - 1 - w[p0]
            rest0 = self._new_row(p0, q, updates)
            partners: set[int] = set()
            for c in rest0:
                partners.update(rows_with(c))
            partners.discard(p0)
            for p1 in sorted(partners):
                if w[p1] > budget or length(p1) >= long_row:
                    continue
                total = dict(rest0)
                total[p0] = 1
                total[p1] = 1
                for c, v in self._new_row(p1, q, updates).items():
                    total[c] = (total.get(c, 0) + v) % PRIME
                support = [c for c, v in total.items() if v]
                if all(total[c] == 1 for c in support) and sum(w[c] for c in support) < k:
                    return True
        return False

    def _commit(
        self,
        q: int,
        rest: dict[int, int],
        factors: dict[int, int],
        updates: dict[int, tuple[dict[int, int] | None, int, int]],
        delta: dict[int, tuple[int, int]],
        new: dict[int, tuple[int, int]],
        classes: dict[int, tuple[int, int]],
    ) -> None:
        rows, col_rows, row_weight, w = self.rows, self.col_rows, self.row_weight, self.weights
        for p, f in factors.items():
            row = rows[p]
            del row[q]
            weight = row_weight[p] - w[q]
            changes = updates[p][0]
            if changes is None:
                get = row.get
                for c, v in rest.items():
                    old = get(c)
                    if old is None:  # f, v are non-zero mod a prime: a new entry
                        row[c] = -f * v % PRIME
                        col_rows[c].add(p)
                        weight += w[c]
                    else:
                        value = (old - f * v) % PRIME
                        if value:
                            row[c] = value
                        else:
                            del row[c]
                            col_rows[c].discard(p)
                            weight -= w[c]
            else:
                for c, value in changes.items():
                    if value:
                        if c not in row:
                            col_rows[c].add(p)
                            weight += w[c]
                        row[c] = value
                    elif c in row:
                        del row[c]
                        col_rows[c].discard(p)
                        weight -= w[c]
            row_weight[p] = weight
        rows[q] = rest
        row_weight[q] = updates[q][2]
        for c in rest:
            col_rows[c].add(q)
        col_rows.pop(q, None)
        self.is_pivot[q] = True
        group_sens, sigma1, sigma2 = self.group_sens, self.sigma1, self.sigma2
        for g, (a1, a2) in delta.items():
            for s in group_sens.get(g, ()):
                sigma1[s] = (sigma1[s] + a1) % PRIME
                sigma2[s] = (sigma2[s] + a2) % PRIME
            self.d1[g], self.d2[g] = new[g]
        for g, c in classes.items():
            self.by_class[self.cls[g]].discard(g)
            self.cls[g] = c
            self.by_class[c].add(g)


def _projective_many(pairs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The class of each (v1, v2) up to a non-zero factor: equal iff the two are proportional.

    (v1 / v2, 1) when v2 != 0, else (1, 0) or (0, 0); the inverses are computed together with
    one modular inversion (Montgomery's trick: invert the product, then peel off factors).
    """
    nonzero = [v2 for _, v2 in pairs if v2]
    inverses = iter(_inverses(nonzero))
    out = []
    for v1, v2 in pairs:
        if v2:
            out.append((v1 * next(inverses) % PRIME, 1))
        else:
            out.append((1, 0) if v1 else (0, 0))
    return out


def _inverses(values: Sequence[int]) -> list[int]:
    """Modular inverses of non-zero residues mod PRIME, with one call to pow."""
    if not values:
        return []
    prefix = []
    acc = 1
    for v in values:
        acc = acc * v % PRIME
        prefix.append(acc)
    inv = pow(acc, -1, PRIME)
    out = [0] * len(values)
    for i in range(len(values) - 1, 0, -1):
        out[i] = inv * prefix[i - 1] % PRIME
        inv = inv * values[i] % PRIME
    out[0] = inv
    return out


# --- Homogeneity (rule 6) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HomogeneityVerdict:
    """`status` is "exact" (show the figure), "band" (show only `band`) or "hidden"."""

    status: str
    reason: str | None = None
    category: int | None = None
    band: str | None = None
    band_floor_pct: int | None = None


def homogeneity_verdict(counts: Sequence[int], *, k: int = MIN_K) -> HomogeneityVerdict:
    """Whether a shown cell's exact figures may be shown, given its answers per category.

    A cell where all answers but at most one fall in one category reveals (nearly) every
    answer from its mean or percentage, so it gets a band instead: "at least X% answered
    <category>", X the largest multiple of 10 at most (n - 1) / n and at most 90, which is true
    whether the odd one out exists or not. A cell below k, or too small for a band of at least
    50%, is hidden. Pure and deterministic; `category` is the index of the dominant category.
    """
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}, got {k}")
    n = sum(counts)
    if n == 0:
        return HomogeneityVerdict(status="hidden", reason=REASON_EMPTY)
    if n < k:
        return HomogeneityVerdict(status="hidden", reason=REASON_BELOW_K)
    top = max(range(len(counts)), key=lambda i: (counts[i], -i))
    if counts[top] < n - 1:
        return HomogeneityVerdict(status="exact")
    floor_pct = min(90, (100 * (n - 1) // n) // 10 * 10)
    if floor_pct < 50:
        return HomogeneityVerdict(status="hidden", reason=REASON_UNANIMITY, category=top)
    return HomogeneityVerdict(
        status="band",
        reason=REASON_UNANIMITY,
        category=top,
        band=f">= {floor_pct}%",
        band_floor_pct=floor_pct,
    )


# --- Stored microdata (rule 8) ----------------------------------------------------------------

TEAM_SEPARATOR = "/"
OTHER_LOCATION = "Other"
ANY_TENURE = "Any"
TENURE_COARSER: dict[str, str] = {
    "<1y": "<3y",
    "1-3y": "<3y",
    "3-5y": "3y+",
    "5y+": "3y+",
    "<3y": ANY_TENURE,
    "3y+": ANY_TENURE,
    "": ANY_TENURE,
}

Attributes = tuple[str, str, str]


def generalise_microdata(
    records: Iterable[Attributes],
    *,
    k: int = MIN_K,
    tenure_coarser: Mapping[str, str] | None = None,
) -> dict[Attributes, Attributes]:
    """Map each (team path, location, tenure band) of a round to a generalised tuple such that
    every generalised tuple is shared by >= k of the records (or by all of them, when the round
    has fewer than k). Returns the mapping for the distinct input tuples.

    Steps, applied to the offending combination with the deepest team first, then the
    smallest (ties by sort order): tenure
    band -> coarser band -> "Any", then location -> "Other", then team -> parent team (a
    top-level team -> "", the whole organisation); a combination already at ("", "Other",
    "Any") pulls in the smallest other combination.
    Only offending combinations are generalised (local recoding), so large ones keep full
    detail. Pure and deterministic (depends only on the multiset of records).
    """
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}, got {k}")
    coarser = dict(TENURE_COARSER if tenure_coarser is None else tenure_coarser)
    originals = Counter(records)
    mapping: dict[Attributes, Attributes] = {a: a for a in originals}
    current: Counter[Attributes] = Counter(originals)

    def move(source: Attributes, target: Attributes) -> None:
        current[target] += current.pop(source)
        for original, now in mapping.items():
            if now == source:
                mapping[original] = target

    while True:
        # Deepest team first, so that small combinations meet at the lowest common team.
        small = sorted((-_depth(a[0]), n, a) for a, n in current.items() if n < k)
        if not small or len(current) == 1:
            return mapping
        combo = small[0][2]
        team, location, tenure = combo
        if tenure != ANY_TENURE:
            move(combo, (team, location, coarser.get(tenure, ANY_TENURE)))
        elif location != OTHER_LOCATION:
            move(combo, (team, OTHER_LOCATION, tenure))
        elif team:
            parent = team.rsplit(TEAM_SEPARATOR, 1)[0] if TEAM_SEPARATOR in team else ""
            move(combo, (parent, location, tenure))
        else:
            others = sorted((n, a) for a, n in current.items() if a != combo)
            move(others[0][1], combo)


@dataclass(frozen=True, slots=True)
class Layout:
    """The standard cells of a publication, built by `publication_layout`."""

    group_keys: tuple[Attributes, ...]  # (team path, location, tenure band) of each group
    group_weights: tuple[int, ...]
    cells: tuple[Cell, ...]  # keys: (team path, "all" | "location" | "tenure", value)


def publication_layout(records: Iterable[Attributes]) -> Layout:
    """Groups and cells for per-respondent (team path, location, tenure band) tuples.

    Cells: every team at every level ("" is the organisation), and each team (organisation
    included) broken down by location and by tenure band. Groups come sorted by team path, so
    the audit stays local. Priority = depth of the team (breakdowns one lower than the team).
    """
    weights = Counter(records)
    keys = tuple(sorted(weights))
    members: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    for g, (team, location, tenure) in enumerate(keys):
        parts = team.split(TEAM_SEPARATOR) if team else []
        for depth in range(len(parts) + 1):
            prefix = TEAM_SEPARATOR.join(parts[:depth])
            members[(prefix, "all", "")].add(g)
            members[(prefix, "location", location)].add(g)
            members[(prefix, "tenure", tenure)].add(g)
    cells = tuple(
        Cell(key=key, groups=groups, priority=_depth(key[0]) * 2 + (key[1] != "all"))
        for key, groups in sorted(members.items())
    )
    return Layout(group_keys=keys, group_weights=tuple(weights[a] for a in keys), cells=cells)


def _depth(team: str) -> int:
    return team.count(TEAM_SEPARATOR) + 1 if team else 0


__all__ = [
    "MIN_K",
    "REASON_BELOW_K",
    "REASON_EMPTY",
    "REASON_INSIDER_MARGIN",
    "REASON_PROTECTS_ANOTHER",
    "REASON_UNANIMITY",
    "Cell",
    "CellDecision",
    "HomogeneityVerdict",
    "Layout",
    "Suppression",
    "generalise_microdata",
    "homogeneity_verdict",
    "publication_layout",
    "suppress_cells",
]
