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
test costs the size of that change, not of the publication. Soundness over the rationals holds
unless p divides every maximal minor of the published 0/1 matrix; for matrices of nested
marginals (whose minors are small) this does not happen.

Limits: (1) residual 0/1 sets of 3..k-1 small groups made of three or more elimination rows,
or of two long rows, escape the insider-margin search (random-organisation tests find such
4-person residuals); hidden cells and sets of one or two groups are always protected. (2) Speed:
about 3 minutes for 20,000 respondents / 2,000 teams / 20,000 cells (bench/disclosure.py),
far from the 10x-GROUP-BY target. (3) Per-category distributions and repeated rounds are
outside this audit (each measure and round is a separate call).
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
    sizes = []
    for cell in cells:
        if any(g < 0 or g >= n_groups for g in cell.groups):
            raise ValueError(f"cell {cell.key!r} names a group that does not exist")
        sizes.append(sum(group_weights[g] for g in cell.groups))

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
    return Suppression(decisions=decisions, k=k, insider_margin=insider_margin, counts=dict(counts))


class _SpanAudit:
    """Sparse RREF of the published cells over GF(p) plus two random kernel vectors.

    Invariants: `rows[p]` is the row whose pivot column is p, stored without its pivot entry
    (coefficient 1) and zero at every other pivot column; `col_rows[c]` is the set of pivots
    whose row has a non-zero at c; `d1`, `d2` are in the kernel of the published matrix and
    uniformly random on the free (non-pivot) columns.
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
        self.col_rows: dict[int, set[int]] = defaultdict(set)
        self.small = [w < k for w in weights]
        # Protected (hidden) cells: members, and their dot products with d1, d2.
        self.sens_groups: list[frozenset[int]] = []
        self.sigma1: list[int] = []
        self.sigma2: list[int] = []
        self.group_sens: dict[int, list[int]] = defaultdict(list)
        # Small groups indexed by projective class of (d1, d2) and by d1 value.
        self.by_class: dict[tuple[int, int], set[int]] = defaultdict(set)
        for g in range(n):
            if self.small[g]:
                self.by_class[_projective(self.d1[g], self.d2[g])].add(g)

    def protect(self, groups: frozenset[int]) -> None:
        """Add a hidden cell that must never enter the published span."""
        s = len(self.sens_groups)
        self.sens_groups.append(groups)
        self.sigma1.append(sum(self.d1[g] for g in groups) % PRIME)
        self.sigma2.append(sum(self.d2[g] for g in groups) % PRIME)
        for g in groups:
            self.group_sens[g].append(s)

    def _reduce(self, groups: frozenset[int]) -> dict[int, int]:
        r: dict[int, int] = {}
        for g in groups:
            if self.is_pivot[g]:
                for c, v in self.rows[g].items():
                    r[c] = (r.get(c, 0) - v) % PRIME
            else:
                r[g] = (r.get(g, 0) + 1) % PRIME
        return {c: v for c, v in r.items() if v}

    def try_publish(self, groups: frozenset[int]) -> str | None:
        """Publish the cell and return None, or return why it must stay hidden (unchanged)."""
        r = self._reduce(groups)
        if not r:
            return None  # already derivable from what is published: showing it adds nothing
        q = max(r)
        inv = pow(r[q], PRIME - 2, PRIME)
        rest = {c: v * inv % PRIME for c, v in r.items() if c != q}
        lam1 = (self.d1[q] + sum(v * self.d1[c] for c, v in rest.items())) % PRIME
        lam2 = (self.d2[q] + sum(v * self.d2[c] for c, v in rest.items())) % PRIME
        delta: dict[int, tuple[int, int]] = {q: (-lam1 % PRIME, -lam2 % PRIME)}
        for p in self.col_rows.get(q, ()):
            f = self.rows[p][q]
            delta[p] = (lam1 * f % PRIME, lam2 * f % PRIME)
        new = {
            g: ((self.d1[g] + a) % PRIME, (self.d2[g] + b) % PRIME) for g, (a, b) in delta.items()
        }
        verdict = self._check(new)
        if verdict is not None:
            return verdict
        new_rows = self._updated_rows(q, rest)
        if self.insider_margin and self._residual_exposed(new_rows):
            return REASON_INSIDER_MARGIN
        self._commit(q, new_rows, delta, new)
        return None

    def _check(self, new: dict[int, tuple[int, int]]) -> str | None:
        acc: dict[int, list[int]] = {}
        for g, (v1, v2) in new.items():
            a1 = (v1 - self.d1[g]) % PRIME
            a2 = (v2 - self.d2[g]) % PRIME
            for s in self.group_sens.get(g, ()):
                slot = acc.setdefault(s, [0, 0])
                slot[0] += a1
                slot[1] += a2
        for s, (a1, a2) in acc.items():
            if (self.sigma1[s] + a1) % PRIME == 0 and (self.sigma2[s] + a2) % PRIME == 0:
                return REASON_PROTECTS_ANOTHER
        changed_small = [g for g in new if self.small[g]]
        for g in changed_small:
            if new[g] == (0, 0):
                return REASON_PROTECTS_ANOTHER
        if self.insider_margin and changed_small and self._pair_exposed(changed_small, new):
            return REASON_INSIDER_MARGIN
        return None

    def _pair_exposed(self, changed: list[int], new: dict[int, tuple[int, int]]) -> bool:
        """Any vector of the span supported on two small groups of total weight < k."""
        k, w = self.k, self.weights
        new_classes: dict[tuple[int, int], list[int]] = defaultdict(list)
        for g in changed:
            new_classes[_projective(*new[g])].append(g)
        for cls, members in new_classes.items():
            others = [h for h in self.by_class.get(cls, ()) if h not in new]
            lightest = sorted(w[h] for h in members + others)
            if len(lightest) >= 2 and lightest[0] + lightest[1] < k:
                return True
        return False

    def _updated_rows(self, q: int, rest: dict[int, int]) -> dict[int, dict[int, int]]:
        """The rows that publishing (pivot q, `rest`) would create or change, without pivots."""
        out = {q: rest}
        for p in self.col_rows.get(q, ()):
            row = dict(self.rows[p])
            f = row.pop(q)
            for c, v in rest.items():
                value = (row.get(c, 0) - f * v) % PRIME
                if value:
                    row[c] = value
                else:
                    row.pop(c, None)
            out[p] = row
        return out

    def _residual_exposed(self, new_rows: dict[int, dict[int, int]]) -> bool:
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

        def row(p: int) -> dict[int, int]:
            return new_rows[p] if p in new_rows else self.rows[p]

        for p0, rest0 in new_rows.items():
            if w[p0] >= k:
                continue
            if w[p0] + sum(w[c] for c in rest0) < k:
                return True
            budget = k - 1 - w[p0]
            if len(rest0) >= 2 * k:
                continue  # long rows only cancel against long rows: not searched (a limit)
            partners: set[int] = set()
            for c in rest0:
                partners.update(self._rows_with(c, new_rows))
            partners.discard(p0)
            for p1 in sorted(partners):
                if w[p1] > budget or len(row(p1)) >= 2 * k:
                    continue
                total = dict(rest0)
                total[p0] = 1
                total[p1] = 1
                for c, v in row(p1).items():
                    total[c] = (total.get(c, 0) + v) % PRIME
                support = [c for c, v in total.items() if v]
                if all(total[c] == 1 for c in support) and sum(w[c] for c in support) < k:
                    return True
        return False

    def _rows_with(self, c: int, new_rows: dict[int, dict[int, int]]) -> set[int]:
        out = {p for p in self.col_rows.get(c, ()) if p not in new_rows}
        out.update(p for p, r in new_rows.items() if c in r)
        return out

    def _commit(
        self,
        q: int,
        new_rows: dict[int, dict[int, int]],
        delta: dict[int, tuple[int, int]],
        new: dict[int, tuple[int, int]],
    ) -> None:
        for p, row in new_rows.items():
            old = self.rows.get(p, {})
            for c in old.keys() - row.keys():
                self.col_rows[c].discard(p)
            for c in row.keys() - old.keys():
                self.col_rows[c].add(p)
            self.rows[p] = row
        self.col_rows.pop(q, None)
        self.is_pivot[q] = True
        for g, (a1, a2) in delta.items():
            for s in self.group_sens.get(g, ()):
                self.sigma1[s] = (self.sigma1[s] + a1) % PRIME
                self.sigma2[s] = (self.sigma2[s] + a2) % PRIME
            if self.small[g]:
                old_value = (self.d1[g], self.d2[g])
                self.by_class[_projective(*old_value)].discard(g)
                self.by_class[_projective(*new[g])].add(g)
            self.d1[g], self.d2[g] = new[g]


def _projective(v1: int, v2: int) -> tuple[int, int]:
    """The class of (v1, v2) up to a non-zero factor: equal iff the two are proportional."""
    if v2:
        return (v1 * pow(v2, PRIME - 2, PRIME) % PRIME, 1)
    return (1, 0) if v1 else (0, 0)


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
