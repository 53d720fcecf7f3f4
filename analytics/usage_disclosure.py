"""Which teams' usage figures may be released together (rule 11 under differencing). Pure
Python, no Django: called by `analytics.gate` with the stored per-day cells.

The figures of one family (one source's metric over one period, every team at every level)
are nested sets of people: a team's figure covers its whole subtree. Checking each figure on
its own (>= k contributors, nobody above 85%) is not enough: a parent's figure minus its
shown children's isolates the people sitting directly in the parent and in its hidden
children, who may be fewer than k or dominated by one person.

What an attacker can derive from nested figures. Call the *residual* of a shown team its
subtree minus the subtrees of its nearest shown descendants. The residuals of the shown teams
are disjoint, and every shown figure is the sum of the residuals below it, so the 0/1
combinations of shown figures (the sets whose total can be worked out) are exactly the unions
of residuals. A union of disjoint sets that each have >= k contributors has >= k; and if
nobody holds more than 85% of any of them, nobody holds more than 85% of their union (a
person sits in one team, so in one residual: their value <= 0.85 x that residual's total <=
0.85 x the union's total). So it suffices, and it is necessary, that every residual passes the
rule. `audit_family` enforces exactly that, greedily from the top of the tree (larger and
higher teams first, like the survey publication's GaussSuppression): a team that passes on its
own is shown unless showing it would leave its nearest shown ancestor's residual failing; then
it is hidden to protect the others.

Over several days the people behind each day are not known, so the bounds only err towards
hiding (as for a single figure): distinct people in a residual >= the largest daily count
(daily counts subtract exactly: every person is in one team); one person's total in a residual
<= the sum over days of the largest direct-member value among the residual's teams
(`direct_max`: the largest value among the people sitting directly in a team, stored per cell;
`max_single` when unknown, a larger bound). A residual with no contributor on any day reveals
nothing and is allowed (a parent whose only child holds all its contributors).

Sums of released figures reveal nothing more: a figure summed over sources is released only
when each source's figure for that team is (callers do this: `analytics.gate`).

Across periods. Figures of one team over different periods difference too: a calendar month
minus an overlapping shorter period is the team's usage over the month's other days, which may
hold fewer than k people or one dominant person. So the caller
(`analytics.gate.usage_family_decisions`) releases usage over whole calendar months only and
audits month by month: the *atoms* are the calendar months (every released period is a
disjoint union of them, and no released period ever splits one, whatever periods are released
later). Each month is audited as a family of its own (this function, the month as the period),
and a team's figure over a range of months X is released only when the team is shown in EVERY
month of X (where it has usage). Why that suffices: pieces are (month, residual of a shown
team in that month); within a month the residuals of the shown teams are disjoint and each
passes the rule; pieces of different months are disjoint because months are. A released figure
of a team over X is the sum over X's months of its figure in each month, each of which is a
union of pieces, so every released figure (any team, any released range of months) is a union
of pieces, and so is every 0/1 combination of them that the attacker can compute exactly: any
difference of released figures is a sum of whole-month pieces that each passed. A union of
disjoint passing pieces passes: it holds at least the >= k people of any one of them, and a
person's value in each piece is <= 85% of that piece's total (in a month a person sits in one
residual), so their total over the union is <= 85% of the union's.
Within a month the days are still pooled with the conservative bounds above. Finer periods
would break this: a period that cuts a month already released (audited whole) leaves, in the
difference, a part of the month that no audit checked; that is why the gate refuses them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Decision = Callable[[float, int | None, float | None], str]
"""(total, contributors lower bound, one person's upper bound) -> '' or the reason hidden."""


@dataclass(frozen=True, slots=True)
class TeamNode:
    team_id: int
    parent_id: int | None
    depth: int


@dataclass(frozen=True, slots=True)
class DayCell:
    """One team's stored cell of one day: subtree figures and the direct members' maximum."""

    total: float
    contributors: int | None
    max_single: float | None
    direct_max: float | None


def audit_family(
    *,
    teams: Sequence[TeamNode],
    cells: Mapping[int, Mapping[int, DayCell]],
    decide: Decision,
    protects_reason: str,
) -> dict[int, str]:
    """Release decision ('' shown, else the reason) for every team with cells in `cells`
    (team id -> day -> cell) of one family; see the module docstring. `teams` must hold every
    ancestor of those teams. Deterministic. Cost: per team, one pass over the teams and days
    of its nearest shown ancestor's residual (numpy)."""
    ids = sorted(cells)
    if not ids:
        return {}
    row = {team_id: i for i, team_id in enumerate(ids)}
    day_list = sorted({d for days in cells.values() for d in days})
    col = {d: j for j, d in enumerate(day_list)}
    shape = (len(ids), len(day_list))
    total = np.zeros(shape)
    count = np.zeros(shape, dtype=np.int64)
    top = np.zeros(shape)
    direct = np.zeros(shape)
    unknown = np.zeros(len(ids), dtype=bool)
    for team_id, days in cells.items():
        i = row[team_id]
        for day, cell in days.items():
            j = col[day]
            total[i, j] = cell.total
            if cell.contributors is None or cell.max_single is None:
                unknown[i] = True
                continue
            count[i, j] = cell.contributors
            top[i, j] = cell.max_single
            direct[i, j] = cell.max_single if cell.direct_max is None else cell.direct_max

    node = {t.team_id: t for t in teams}

    def ancestors(team_id: int) -> list[int]:
        out = []
        current = node[team_id].parent_id
        while current is not None:
            out.append(current)
            current = node[current].parent_id
        return out

    # Rows of each team's subtree (itself included), among the teams with cells.
    below: dict[int, list[int]] = {team_id: [] for team_id in ids}
    for team_id in ids:
        for holder in (team_id, *ancestors(team_id)):
            if holder in below:
                below[holder].append(row[team_id])

    def decide_residual(res_total: np.ndarray, res_count: np.ndarray, atoms: np.ndarray) -> str:
        active = res_count > 0
        if not active.any():
            return ""  # nobody in it: nothing about anyone can be worked out
        upper = float(direct[np.flatnonzero(atoms)][:, active].max(axis=0).sum())
        return decide(float(res_total.sum()), int(res_count.max()), upper)

    decisions: dict[int, str] = {}
    lowers = count.max(axis=1)
    own: dict[int, str] = {}
    for team_id in ids:
        i = row[team_id]
        if unknown[i]:
            own[team_id] = decide(float(total[i].sum()), None, None)
        else:
            own[team_id] = decide(float(total[i].sum()), int(lowers[i]), float(top[i].sum()))
    # Residuals of the shown teams: (totals per day, counts per day, rows of its atoms).
    shown: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    order = sorted(ids, key=lambda t: (node[t].depth, -int(lowers[row[t]]), t))
    for team_id in order:
        if own[team_id]:
            decisions[team_id] = own[team_id]
            continue
        i = row[team_id]
        mine = np.zeros(len(ids), dtype=bool)
        mine[below[team_id]] = True
        ancestor = next((a for a in ancestors(team_id) if a in shown), None)
        if ancestor is not None:
            res_total, res_count, atoms = shown[ancestor]
            left = (res_total - total[i], res_count - count[i], atoms & ~mine)
            if decide_residual(*left):
                decisions[team_id] = protects_reason
                continue
            shown[ancestor] = left
        shown[team_id] = (total[i].copy(), count[i].copy(), mine)
        decisions[team_id] = ""
    return decisions
