"""Generated organisations for the hotspot tests (service, pages, browser): rosters, usage
exports and answered rounds, all through the real services (see `analytics.demo`)."""

from __future__ import annotations

import datetime as dt
import random

from analytics.demo import (
    NORMAL,
    TeamProfile,
    round_answered,
    usage_exports,
    usage_import_generated,
    usage_span_start,
)
from analytics.models import Hotspot, HotspotRun
from surveys.models import Employee, Invitation, Round, SurveyTemplate, Team
from surveys.services.config import cadence_save
from tests.support.rounds import build_org

DAY0 = dt.date(2026, 3, 2)  # a Monday
# Planted teams of the service tests: clearly hot, but not so uniformly unwell that the
# publication bands their well-being (all but one answer in the low band hides the cell).
PLANTED_PROFILE = TeamProfile(pressure=80.0, wellbeing=35.0, intensity=90_000.0, active=0.95)
DEPARTMENTS = ("Eng", "Ops", "Biz")


def world(
    *,
    seed: int,
    hot: tuple[str, ...] = (),
    extra_teams: dict[str, int] | None = None,
    extra_profiles: dict[str, TeamProfile] | None = None,
    rounds: int = 1,
    size: int = 14,
) -> tuple[list[Round], dict[str, TeamProfile]]:
    """3 departments x 4 teams of `size`, plus `extra_teams`; the `hot` teams planted; usage
    imported (generic CSV + Claude Code JSON) for the whole span: every day of the calendar
    months the rounds' usage months compare with (`usage_span_start`) to a week after the last
    round opened, so each round's usage month and the month before it are complete (a round
    opening on DAY0, March 2, joins February and compares it with January); `rounds`
    fortnightly rounds answered, closed and published (the after-close hooks run, hotspots
    included)."""
    teams = {f"{d}/T{i}": size for d in DEPARTMENTS for i in range(1, 5)}
    teams.update(extra_teams or {})
    build_org(teams)
    rng = random.Random(seed)
    # Ordinary teams differ a little from each other, as real ones do.
    profiles = {
        path: TeamProfile(
            pressure=NORMAL.pressure + rng.uniform(-6, 6),
            wellbeing=NORMAL.wellbeing + rng.uniform(-6, 6),
            intensity=NORMAL.intensity * rng.uniform(0.7, 1.4),
        )
        for path in teams
    }
    profiles.update(dict.fromkeys(hot, PLANTED_PROFILE))
    profiles.update(extra_profiles or {})
    last = DAY0 + dt.timedelta(weeks=2 * (rounds - 1))
    files = usage_exports(
        employees=list(Employee.objects.select_related("team")),
        profiles=profiles,
        start=usage_span_start(DAY0),
        end=last + dt.timedelta(days=7),
        seed=seed,
        formats=("generic", "claude-code"),
    )
    usage_import_generated(files)
    cadence = cadence_save(
        name=f"Pulse {seed}",
        template=SurveyTemplate.objects.get(name="AI pressure & well-being pulse"),
        audience=list(Team.objects.filter(depth=0)),
        start_date=DAY0,
    )
    done = [
        round_answered(
            cadence=cadence, day=DAY0 + dt.timedelta(weeks=2 * i), profiles=profiles, seed=seed
        )
        for i in range(rounds)
    ]
    return done, profiles


PLANTED = ("Eng/T4", "Ops/T2", "Biz/T1")


def some_hotspot() -> Hotspot:
    """One hotspot of a world with three planted teams (at least one is always found)."""
    hotspot = Hotspot.objects.select_related("team").order_by("team__path").first()
    assert hotspot is not None
    return hotspot


def reset_world() -> None:
    """Empty the organisation between generated worlds inside one test."""
    from analytics.models import Publication, TeamDayUsage, UsageImport, UsageRelease
    from surveys.models import Answer, Cadence, Comment, Response

    Hotspot.objects.all().delete()
    HotspotRun.objects.all().delete()
    Publication.objects.all().delete()
    Answer.objects.all().delete()
    Comment.objects.all().delete()
    Response.objects.all().delete()
    Invitation.objects.all().delete()
    Round.objects.all().delete()
    Cadence.objects.all().delete()
    TeamDayUsage.objects.all().delete()
    UsageRelease.objects.all().delete()  # a new world's usage is not the old one's
    UsageImport.objects.all().delete()
    Employee.objects.all().delete()
    for depth in sorted(set(Team.objects.values_list("depth", flat=True)), reverse=True):
        Team.objects.filter(depth=depth).delete()
