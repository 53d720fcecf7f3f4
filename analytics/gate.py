"""The release gate: every number leaves the system through this module (anonymity rule 12).

AI usage (rule 11), `usage_*` below: a team's usage of a metric over a period is shown only
when at least k people (`settings.PULSE_MIN_GROUP_SIZE`) contribute and no single person
contributes more than 85% of it. Stored cells are per UTC day (`TeamDayUsage`); for a period of
several days the gate does not know who contributed on which day, so it uses bounds that can
only err towards hiding:
- distinct people over the period >= the largest daily `contributors` (the lower bound must be
  >= k);
- any one person's period total <= the sum over days of the daily `max_single` (the upper
  bound must be <= 85% of the period total).
For a single day both bounds are exact. A cell from a team-level source without a per-person
breakdown (`contributors` NULL) hides the whole period. Hidden figures carry a reason that
names the rule, never the count that failed it. Periods are UTC days: a caller rolling up a
survey round in local time passes the UTC days that cover it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Max, Q, Sum

from analytics.models import TeamDayUsage
from surveys.models import Team

USAGE_DOMINANCE_LIMIT = 0.85

USAGE_HIDDEN_NO_BREAKDOWN = "hidden: the source gives no per-person breakdown"
USAGE_HIDDEN_TOO_FEW = "hidden: fewer than {k} people contribute"
USAGE_HIDDEN_DOMINANT = "hidden: one person may account for more than 85% of it"


@dataclass(frozen=True, slots=True)
class UsageFigure:
    """One team's usage of one metric over a period, as it may leave the system."""

    team_id: int
    source: str
    metric: str
    unit: str
    start: dt.date
    end: dt.date
    value: float | None
    hidden_reason: str

    @property
    def shown(self) -> bool:
        return self.value is not None


def usage_release_decision(
    *,
    total: float,
    contributors_lower_bound: int | None,
    max_single_upper_bound: float | None,
    k: int | None = None,
) -> str:
    """'' when the figure may be shown, otherwise the reason it is hidden. Pure."""
    k = k if k is not None else settings.PULSE_MIN_GROUP_SIZE
    if contributors_lower_bound is None or max_single_upper_bound is None:
        return USAGE_HIDDEN_NO_BREAKDOWN
    if contributors_lower_bound < k:
        return USAGE_HIDDEN_TOO_FEW.format(k=k)
    if total <= 0 or max_single_upper_bound > USAGE_DOMINANCE_LIMIT * total:
        return USAGE_HIDDEN_DOMINANT
    return ""


def usage_release_for_team(
    *,
    team: Team,
    start: dt.date,
    end: dt.date,
    source: str | None = None,
    metric: str | None = None,
) -> list[UsageFigure]:
    """Every (source, metric) with usage for `team` (its whole subtree) between `start` and
    `end` (UTC days, inclusive), each released or hidden with its reason. The caller has
    already checked that the user may see `team` (`teams_visible_to`)."""
    rows = TeamDayUsage.objects.filter(team=team, day__gte=start, day__lte=end)
    if source:
        rows = rows.filter(source=source)
    if metric:
        rows = rows.filter(metric=metric)
    grouped = (
        rows.values("source", "metric", "unit")
        .annotate(
            total=Sum("total"),
            lower=Max("contributors"),
            upper=Sum("max_single"),
            unknown=Count("pk", filter=Q(contributors__isnull=True)),
        )
        .order_by("source", "metric", "unit")
    )
    several_days = end > start
    figures = []
    for g in grouped:
        reason = usage_release_decision(
            total=g["total"] or 0.0,
            contributors_lower_bound=None if g["unknown"] else g["lower"],
            max_single_upper_bound=None if g["unknown"] else g["upper"],
        )
        unit = "person-days" if g["unit"] == "people" and several_days else g["unit"]
        figures.append(
            UsageFigure(
                team_id=team.pk,
                source=g["source"],
                metric=g["metric"],
                unit=unit,
                start=start,
                end=end,
                value=None if reason else float(g["total"]),
                hidden_reason=reason,
            )
        )
    return figures
