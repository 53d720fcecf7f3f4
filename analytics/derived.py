"""Derived-set control for a publication: what the published figures let an attacker derive
about sets of people that are not cells. Pure Python (numpy/scipy), no Django; called by
`analytics.publication` after the linear audit of `analytics.disclosure`, which it only
complements (it never shows a cell that audit hides; it only withdraws figures).

Three attack families are closed here.

1. Rule 6 on derived sets, for shares and distributions (`nested_release`). A top-2 share,
   a risk-band share and a distribution are counts of 0/1 category indicators (in the top-2
   box, in the risk band, chose option j). They are published on *team cells only* (every
   level, the organisation included), never on location or tenure breakdowns. Team cells are
   nested (a laminar family): the span of the published teams is spanned by their *atoms*,
   atom(T) = the people of T in no published sub-team of T; atoms are disjoint and each
   published team is the disjoint union of the atoms below it. So what any least-squares or
   LP attacker (0 <= x <= 1) derives from those counts is exactly each atom's count per
   category - the incidence matrix of a nested family is totally unimodular, so the LP's
   bounds are the integer ones - and nothing about who inside an atom has which category.
   `nested_release` keeps every atom empty or of >= `minimum` people (k for shares, 8 for
   distributions) none of whose categories holds n - 1 or more of them. Hence no derived set is
   small or homogeneous and no one's category is pinned, for an outsider or for an insider who
   knows their own answer (two unknown people remain on each side). A distribution is
   published only where the share is (it implies the top-2 count), so its atoms are unions of
   the share's atoms and the two never combine into finer sets.
2. Rule 5 exhaustively, for every mean and count (`small_set_release`): no 0/1 set of groups in
   the span of the published cells holds 1..k-1 respondents. `analytics.disclosure` searches
   residual sets of three or more small groups only locally; `small_derived_sets` enumerates
   all of them from the reduced echelon form (see its docstring for why the search is
   complete; the audit hands that form over), and the published cells are published again in
   the audit's order, each one withdrawn that would bring one of those sets (or a disjoint
   union of them below k) into the span (`analytics.disclosure.restricted_release`).
3. Rule 6 on derived sets, for means (`bound_release`): no combination of the published cells
   is non-zero, >= 0 only on groups whose answers all sit at the top of the scale, <= 0 only on
   groups all at the bottom, and 0 elsewhere - the certificate that an LP attacker with the
   answer bounds pins every answer it touches ("P minus its sub-team C: 8 people, all at 5 of
   5"). Exact for such certificates: one linear program (HiGHS) per round of withdrawals.

Withdrawing a published cell only shrinks the published span, so every guarantee of
`analytics.disclosure` (no hidden cell, no group below k, no small pair in the span) still
holds afterwards, and every set derivable afterwards was derivable before.

What is NOT guaranteed here:
- For means, pins from a *fractional* LP vertex: the mean's cells cross (team x location x
  tenure), their matrix is not totally unimodular, and an LP attacker can in rare, very skewed
  cases narrow an answer to less than one step without an exact certificate (random tests with
  nearly every answer at the top found one in 150 organisations). Rule 6 for means is exact
  for exact pins, and for insiders only through the cell-level check.
- Inequalities published as bands (">= 90% agree" on a team whose exact share is withheld).
- Joint inference across different figures of the same item (its mean on crossing cells
  combined with its share or distribution on team atoms), and across rounds.
- Identities across measures with different respondent sets. Each measure is audited over
  the respondents who have a value for it, and a scale's score is a fixed function of its
  items. For WHO-5 (4 x the raw sum of all five) the items are reported over the scale's
  respondents, so "items minus scale" concerns nobody (`analytics.publication._measures`).
  For the mean-of-answered scales (CBI, COPSOQ, Pulse's AI constructs) it is not closed: on
  one shown cell, the items' sums minus the scale's sum times the number of items concerns
  only the cell's people who answered some but not all of the scale's items, and with one
  such person in the cell the sum of their answers is determined up to the rounding of the
  published figures (integers on 0-100, about n/2 per figure). Closing it needs the scale
  and its items over one respondent set (which the "at least half" scoring rules forbid for
  the scale) or those "incomplete" sets audited as derived sets (which hides the scale on
  most teams at a 3% skip rate). Counts across different respondent sets (how many in a cell
  skipped an item) are derivable the same way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from analytics.disclosure import MIN_K, PRIME, restricted_release

TEAM_SEPARATOR = "/"
REASON_DERIVED = "derived_set"
REASON_TEAMS_ONLY = "teams_only"


def atom_passes(
    members: Sequence[int], categorisations: Sequence[Mapping[int, Hashable]], minimum: int
) -> bool:
    """Whether an atom may be derived: empty, or >= `minimum` people and, for every
    categorisation, every category held by at most n - 2 of them."""
    n = len(members)
    if n == 0:
        return True
    if n < minimum:
        return False
    for categories in categorisations:
        counts = Counter(categories[i] for i in members)
        if max(counts.values()) >= n - 1:
            return False
    return True


def _parent(path: str) -> str:
    return path.rsplit(TEAM_SEPARATOR, 1)[0] if TEAM_SEPARATOR in path else ""


def _depth(path: str) -> int:
    return path.count(TEAM_SEPARATOR) + 1 if path else 0


def nested_release(
    *,
    leaf_of: Sequence[str],
    who: Iterable[int],
    candidates: Collection[str],
    categorisations: Sequence[Mapping[int, Hashable]],
    minimum: int,
) -> dict[str, str | None]:
    """Which candidate team cells may show their category figures; see the module docstring.

    `leaf_of[i]`: the team path of respondent i (the organisation is ""); `who`: the
    respondents with a value for the measure; `candidates`: team paths whose score is shown;
    `categorisations`: respondent -> category maps (every respondent of `who` in each).
    Returns candidate path -> None (show) or `REASON_DERIVED`. Raises ValueError for a
    `minimum` below k = 5.
    """
    if minimum < MIN_K:
        raise ValueError(f"minimum must be at least {MIN_K}, got {minimum}")
    direct: dict[str, list[int]] = defaultdict(list)
    for i in who:
        direct[leaf_of[i]].append(i)
    paths: set[str] = {""}
    for leaf in direct:
        parts = leaf.split(TEAM_SEPARATOR) if leaf else []
        paths.update(TEAM_SEPARATOR.join(parts[: d + 1]) for d in range(len(parts)))
    children: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        if path:
            children[_parent(path)].append(path)
    size: dict[str, int] = {}
    for path in sorted(paths, key=lambda p: (-_depth(p), p)):
        size[path] = len(direct.get(path, ())) + sum(size[c] for c in children[path])

    verdicts: dict[str, str | None] = {}
    # pending[T]: people of T in no shown team at or below T (T's atom when T is shown).
    pending: dict[str, list[int]] = {}
    atoms: dict[str, list[int]] = {}  # shown team -> its atom
    for path in sorted(paths, key=lambda p: (-_depth(p), p)):
        atom = list(direct.get(path, ()))
        shown_children = []
        for child in children[path]:
            if child in atoms:
                shown_children.append(child)
            else:
                atom.extend(pending.pop(child))
        if path not in candidates:
            pending[path] = atom
            continue
        # Withdraw published children, smallest first, until the atom passes: one withdrawal
        # of a child with a non-empty (passing) atom always suffices.
        for child in sorted(shown_children, key=lambda c: (size[c], c)):
            if atom_passes(atom, categorisations, minimum):
                break
            if atoms[child]:
                atom.extend(atoms.pop(child))
                verdicts[child] = REASON_DERIVED
        if atom_passes(atom, categorisations, minimum):
            atoms[path] = atom
            pending[path] = []
            verdicts[path] = None
        else:
            pending[path] = atom
            verdicts[path] = REASON_DERIVED
    return verdicts


# --- The mean's span: small derived sets (rule 5) and derived sets at a bound (rule 6) ---------

_LP_TOLERANCE = 1e-7


def _add(target: dict[int, int], source: Mapping[int, int], factor: int) -> None:
    """target += factor * source over GF(PRIME), dropping zeros."""
    for c, v in source.items():
        value = (target.get(c, 0) + factor * v) % PRIME
        if value:
            target[c] = value
        else:
            target.pop(c, None)


def _rref(cells: Sequence[frozenset[int]]) -> dict[int, dict[int, int]]:
    """Reduced row echelon form over GF(PRIME) of the 0/1 cells (columns = groups, pivot = the
    highest column of a row). `rows[p]` is the row with pivot p without its pivot entry; its
    other entries are all at non-pivot columns below p. (`analytics.disclosure` builds the
    same form incrementally while it audits; this is for callers without an audit.)"""
    rows: dict[int, dict[int, int]] = {}
    col_rows: dict[int, set[int]] = defaultdict(set)
    for groups in cells:
        r: dict[int, int] = {}
        for g in groups:
            if g in rows:
                _add(r, rows[g], PRIME - 1)
            else:
                r[g] = (r.get(g, 0) + 1) % PRIME
        r = {c: v for c, v in r.items() if v}
        if not r:
            continue
        q = max(r)
        lead = r.pop(q)
        # Leading entries of 0/1 cells are nearly always 1 or -1: skip the modular inverse.
        inv = lead if lead in (1, PRIME - 1) else pow(lead, PRIME - 2, PRIME)
        rest = {c: v * inv % PRIME for c, v in r.items()}
        for p in col_rows.pop(q, set()):
            row = rows[p]
            f = row.pop(q)
            for c, v in rest.items():
                value = (row.get(c, 0) - f * v) % PRIME
                if value:
                    if c not in row:
                        col_rows[c].add(p)
                    row[c] = value
                elif c in row:
                    del row[c]
                    col_rows[c].discard(p)
        rows[q] = rest
        for c in rest:
            col_rows[c].add(q)
    return rows


MAX_SEARCH_NODES = 3_000_000


def small_derived_sets(
    group_weights: Sequence[int],
    cells: Sequence[frozenset[int]],
    *,
    k: int,
    max_nodes: int = MAX_SEARCH_NODES,
    span: Mapping[int, Mapping[int, int]] | None = None,
) -> list[frozenset[int]]:
    """0/1 combinations of groups in the span of `cells` holding 1..k-1 respondents: every
    one of them is a disjoint union of the sets returned (exhaustive in that sense; every
    minimal one is returned itself).

    Why exhaustive: in reduced echelon form a 0/1 vector 1_S of the span is the sum of the
    rows whose pivots lie in S, so S is found by growing a set P of rows of small pivots (total
    weight < k) from its highest pivot: while the running sum has an entry that is not 1, or a
    1 on a group heavier than what the set may still hold, some row of S must meet that column;
    otherwise either some row of S meets one of the running sum's non-zero columns, or the rows
    left sum to a 0/1 vector of their own (S is then the disjoint union of two smaller sets,
    each found from its own highest pivot). Branching on exactly those rows visits every such
    set; the depth is at most k - 1 rows.

    Cost grows steeply with k (measured on the bench's 20,000 respondents: about 3 s at k = 5,
    20 s at k = 8). Fails closed: raises RuntimeError after `max_nodes` branches rather than
    returning an incomplete answer. `span`: the reduced echelon form of `cells` when the caller
    has it already (`Suppression.span`: the same rows, the form being unique); `cells` is then
    not read.
    """
    w = group_weights
    rows = span if span is not None else _rref(cells)
    col_rows: dict[int, list[int]] = defaultdict(list)
    for p, rest in rows.items():
        for c in rest:
            col_rows[c].append(p)
    items = {p: tuple(rest.items()) for p, rest in rows.items()}
    found: set[frozenset[int]] = set()
    seen: set[frozenset[int]] = set()

    def record(chosen: frozenset[int], acc: Mapping[int, int], pivots: int) -> None:
        weight = pivots
        for c, v in acc.items():
            if v != 1:
                return
            weight += w[c]
            if weight >= k:
                return
        found.add(chosen | set(acc))

    def grow(top: int, chosen: frozenset[int], acc: dict[int, int], budget: int) -> None:
        record(chosen, acc, k - 1 - budget)
        if budget <= 0:
            return
        forced = next((c for c, v in acc.items() if v != 1 or w[c] > budget), None)
        columns = (forced,) if forced is not None else tuple(acc)
        tried: set[int] = set()
        for c in columns:
            for p in col_rows.get(c, ()):
                if p >= top or p in chosen or p in tried or w[p] > budget:
                    continue
                tried.add(p)
                nxt_chosen = chosen | {p}
                if nxt_chosen in seen:
                    continue
                seen.add(nxt_chosen)
                if len(seen) > max_nodes:
                    raise RuntimeError(
                        f"the small-set search exceeded {max_nodes} branches (k = {k}): "
                        "no publication is released on an incomplete audit"
                    )
                nxt = dict(acc)
                for cc, v in items[p]:
                    value = (nxt.get(cc, 0) + v) % PRIME
                    if value:
                        nxt[cc] = value
                    else:
                        del nxt[cc]
                grow(top, nxt_chosen, nxt, budget - w[p])

    for p in sorted(rows):
        if w[p] < k:
            grow(p, frozenset({p}), dict(rows[p]), k - 1 - w[p])
    return sorted(found, key=sorted)


def _matrix(cells: Sequence[frozenset[int]], n_groups: int) -> sparse.csr_matrix:
    """Rows = cells, columns = groups, 0/1."""
    indptr = np.zeros(len(cells) + 1, dtype=np.int64)
    indices: list[int] = []
    for i, groups in enumerate(cells):
        indices.extend(sorted(groups))
        indptr[i + 1] = len(indices)
    data = np.ones(len(indices))
    return sparse.csr_matrix(
        (data, np.array(indices, dtype=np.int64), indptr), (len(cells), n_groups)
    )


def _at_bound_witness(
    matrix: sparse.csr_matrix, at_upper: Collection[int], at_lower: Collection[int]
) -> np.ndarray | None:
    """Cell coefficients of a vector v of the span that is non-zero, >= 0 only on groups all at
    the upper bound, <= 0 only on groups all at the lower bound, and 0 elsewhere (such a v's
    sum is at its extreme, which pins every answer in its support); None when there is none.
    One linear program: maximise sum(v on upper) - sum(v on lower) with |v| <= 1."""
    n_groups = matrix.shape[1]
    sign = np.zeros(n_groups)
    sign[list(at_upper)] = 1.0
    sign[list(at_lower)] = -1.0
    columns = matrix.T.tocsr()
    present = np.asarray(matrix.sum(axis=0)).ravel() > 0
    free = np.flatnonzero(present & (sign == 0))
    bounded = np.flatnonzero(present & (sign != 0))
    if bounded.size == 0:
        return None
    a_bounded = columns[bounded]
    s = sign[bounded]
    # sign * v in [0, 1] on the bounded groups.
    a_ub = sparse.vstack([sparse.diags(s) @ a_bounded, -(sparse.diags(s) @ a_bounded)]).tocsr()
    b_ub = np.concatenate([np.ones(bounded.size), np.zeros(bounded.size)])
    objective = -np.asarray(a_bounded.T @ s).ravel()
    result = linprog(
        objective,
        A_ub=a_ub,
        b_ub=b_ub,
        A_eq=columns[free] if free.size else None,
        b_eq=np.zeros(free.size) if free.size else None,
        bounds=(None, None),
        method="highs",
    )
    if result.status != 0:
        # Fail closed: a publication is never released on an audit that did not finish.
        raise RuntimeError(f"the at-bound audit did not solve: {result.message}")
    if -result.fun <= _LP_TOLERANCE:
        return None
    return result.x


def _disjoint_unions(
    sets: Sequence[frozenset[int]], weights: Sequence[int], k: int
) -> list[frozenset[int]]:
    """Every union of pairwise disjoint members of `sets` holding fewer than k respondents."""
    weight = [sum(weights[g] for g in s) for s in sets]
    out: set[frozenset[int]] = set()

    def extend(start: int, union: frozenset[int], total: int) -> None:
        for j in range(start, len(sets)):
            if total + weight[j] < k and not union & sets[j]:
                grown = union | sets[j]
                out.add(grown)
                extend(j + 1, grown, total + weight[j])

    extend(0, frozenset(), 0)
    return sorted(out, key=sorted)


def small_set_release(
    *,
    group_weights: Sequence[int],
    cells: Sequence[frozenset[int]],
    shown: Sequence[bool],
    importance: Sequence[Hashable],
    k: int,
    span: Mapping[int, Mapping[int, int]] | None = None,
    found: Sequence[frozenset[int]] | None = None,
) -> dict[int, str]:
    """The shown cells to withdraw so that no 0/1 set of groups in the span of the shown cells
    holds 1..k-1 respondents (rules 1 and 5, exhaustive: see `small_derived_sets`; this closes
    the residual sets of three or more small groups that `analytics.disclosure` searches only
    locally).

    `importance[i]`: a sort key, lower = keep first (the audit's candidate order). The small
    sets are found once; then the shown cells are published again in that order and a cell is
    withdrawn when it would bring one of them into the span (`restricted_release`, exact). What
    is kept is a subset of what was shown, so its span is a subspace: every small set of it is
    a disjoint union (weight < k) of the sets found, all of which are kept out, and every
    guarantee of `analytics.disclosure` still holds. `span`: the echelon form of the shown
    cells if the caller has it (`Suppression.span`); `found`: the sets to keep out if the
    caller has searched already (`small_sets_to_protect` of the same shown cells and k).
    Returns cell index -> `REASON_DERIVED`.
    """
    live = [i for i, s in enumerate(shown) if s]
    sets = (
        found
        if found is not None
        else small_sets_to_protect(group_weights, [cells[i] for i in live], k=k, span=span)
    )
    if not sets:
        return {}
    return restricted_release(
        group_weights=group_weights,
        cells=cells,
        order=sorted(live, key=lambda i: importance[i]),
        protect=[(s, REASON_DERIVED) for s in sets],
    )


def small_sets_to_protect(
    group_weights: Sequence[int],
    shown: Sequence[frozenset[int]],
    *,
    k: int,
    span: Mapping[int, Mapping[int, int]] | None = None,
) -> list[frozenset[int]]:
    """Every 0/1 set of groups holding 1..k-1 respondents that the span of `shown`, or any
    subspace of it, contains: the disjoint unions (weight < k) of the sets
    `small_derived_sets` finds. Keeping all of them out of a subspace (`restricted_release`)
    leaves no small derived set in it."""
    if not shown:
        return []
    return _disjoint_unions(
        small_derived_sets(group_weights, shown, k=k, span=span), group_weights, k
    )


def bound_release(
    *,
    group_weights: Sequence[int],
    cells: Sequence[frozenset[int]],
    shown: Sequence[bool],
    importance: Sequence[Hashable],
    at_upper: Collection[int],
    at_lower: Collection[int],
) -> dict[int, str]:
    """The shown cells of a mean to withdraw so that no vector of the span of the shown cells
    is non-zero, >= 0 only on groups whose answers all sit at the upper bound, <= 0 only on
    groups all at the lower bound, and 0 elsewhere (rule 6 on derived sets: such a
    combination's published sum is at its extreme, which pins every answer it touches; "the
    parent minus its children: 5 people, all answered 5 of 5" is the simplest one). Exact for
    such certificates (one linear program per round, `_at_bound_witness`); the least important
    cell of the certificate is withdrawn until none is left. `at_upper` / `at_lower`: group
    indices. Returns cell index -> `REASON_DERIVED`.
    """
    live = [i for i, s in enumerate(shown) if s]
    withdrawn: dict[int, str] = {}
    if not (at_upper or at_lower):
        return withdrawn
    while live:
        matrix = _matrix([cells[i] for i in live], len(group_weights))
        coefficients = _at_bound_witness(matrix, at_upper, at_lower)
        if coefficients is None:
            break
        cause = [live[j] for j in np.flatnonzero(np.abs(coefficients) > _LP_TOLERANCE)]
        victim = max(cause or live, key=lambda i: importance[i])
        withdrawn[victim] = REASON_DERIVED
        live.remove(victim)
    return withdrawn


__all__ = [
    "REASON_DERIVED",
    "REASON_TEAMS_ONLY",
    "atom_passes",
    "bound_release",
    "nested_release",
    "small_derived_sets",
    "small_set_release",
    "small_sets_to_protect",
]
