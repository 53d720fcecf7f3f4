"""Reads for the hotspot pages, exports and API. Models only; what a user may see of them is
decided by `analytics.gate` (`release_assessments`, `release_hotspots`,
`user_may_see_team_path`)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from analytics import gate
from analytics.models import Hotspot, HotspotAssessment, HotspotRun, Publication
from surveys.models import Team


def hotspot_runs_latest_first() -> QuerySet[HotspotRun]:
    return HotspotRun.objects.select_related("round").order_by("-round__scheduled_for", "-pk")


def hotspot_run_for(round_id: int | None) -> HotspotRun | None:
    """The run of `round_id`, or the latest one when None."""
    runs = hotspot_runs_latest_first()
    if round_id is not None:
        return runs.filter(round_id=round_id).first()
    return runs.first()


def hotspots_visible_to(
    user: object, *, open_only: bool = False, round_id: int | None = None
) -> list[Hotspot]:
    """Hotspots of teams `user` may see, newest first; `round_id`: those seen in that round."""
    query = Hotspot.objects.select_related(
        "team", "first_round", "last_round", "follow_up_round"
    ).order_by("-last_round__scheduled_for", "team__path")
    if open_only:
        query = query.exclude(state=Hotspot.State.RESOLVED)
    if round_id is not None:
        query = query.filter(Q(last_round_id=round_id) | Q(first_round_id=round_id))
    return gate.release_hotspots(user=user, queryset=query)  # type: ignore[return-value]


def hotspot_visible_or_none(user: object, hotspot_id: int) -> Hotspot | None:
    """The hotspot if `user` may see its team; None when absent or out of scope alike."""
    hotspot = (
        Hotspot.objects.select_related("team", "first_round", "last_round", "follow_up_round")
        .filter(pk=hotspot_id)
        .first()
    )
    if hotspot is None or not gate.user_may_see_team_path(user=user, path=hotspot.team.path):
        return None
    return hotspot


@dataclass(frozen=True, slots=True)
class TimelineRow:
    run: HotspotRun
    assessment: HotspotAssessment | None


def team_timeline(team: Team, *, limit: int = 26) -> list[TimelineRow]:
    """The team across the rounds of every cadence that assessed it, oldest first: its
    assessment, or None where it was hidden on a side (or not asked)."""
    runs = list(hotspot_runs_latest_first()[:limit])
    rows = HotspotAssessment.objects.filter(team=team, run__in=[r.pk for r in runs])
    found = {a.run_id: a for a in rows}
    return [TimelineRow(run, found.get(run.pk)) for run in reversed(runs)]


def follow_up_publication(hotspot: Hotspot) -> Publication | None:
    if hotspot.follow_up_round_id is None:
        return None
    return Publication.objects.filter(round_id=hotspot.follow_up_round_id).first()
