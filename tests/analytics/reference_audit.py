"""A straightforward reference implementation of the disclosure audit, used as a test oracle.

It is the audit as first written (each changed elimination row rebuilt as a new dict, one
modular exponentiation per projective class): slow, but simple enough to read against the
module docstring of `analytics.disclosure`. `tests/analytics/test_disclosure.py` checks that the
production audit, which updates rows in place and batches the inversions, decides every cell
exactly as this one does. Not imported by Pulse itself.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence

from analytics.disclosure import (
    MIN_K,
    PRIME,
    REASON_BELOW_K,
    REASON_EMPTY,
    REASON_INSIDER_MARGIN,
    REASON_PROTECTS_ANOTHER,
    REASON_UNANIMITY,
    Cell,
    CellDecision,
    Suppression,
)

_SEED = 0x5EED_D15C


def reference_suppress_cells(
    *,
    group_weights: Sequence[int],
    cells: Sequence[Cell],
    k: int = MIN_K,
    insider_margin: bool = True,
    withheld: Collection[int] = (),
) -> Suppression:
    """The decisions of `analytics.disclosure.suppress_cells`, computed the straightforward way.

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
