"""Hotspots: the join of a closed round's released survey results with the released AI usage of
its period, detection (`analytics.hotspot_stats`), HR alerts and the action loop.

Callers: `hotspots_compute` is an after-close hook (`settings.PULSE_AFTER_CLOSE_HOOKS`, after
the publication) and `seed_demo`; `hotspot_alert_send` is the `send_hotspot_alert` task;
`hotspot_update` and `hotspot_follow_up_open` are called by the hotspot pages and the API.

The join, per closed round of a cadence and per team at every level:

- Survey side: the whole-group cells of the round's publication, read through
  `gate.release_team_surveys` (shown cells only: a hidden, banded or empty construct is absent;
  a team whose respondents count is hidden has no survey side).
- Usage side: `gate.usage_release_period` (rule 11: >= k contributors, nobody above 85%,
  audited month by month with every team, so that no difference between released figures
  isolates anyone: `gate.usage_family_decisions`).
  The period is the last whole calendar month (UTC) that ended on or before the day the round
  closed (`gate.usage_round_period`): usage leaves the system over whole months only, so that
  no released period cuts another. It lags the answers' two-week recall by up to about seven
  weeks, and rounds that close in the same month join the same month (same usage, same
  change). Intensity is the measure's units per contributing person per day (total / active
  person-days). The measure is the first of `INTENSITY_MEASURES` with usage in the period;
  each source contributes the first of the measure's metric names it reports (tokens: `tokens`,
  else `total_tokens`, else `output_tokens`), summed over sources. Change: intensity against
  the calendar month before (when that one is released too).
  Concentration: the upper bound of the heaviest person's share. Active share: the average
  share of the team active on a day with usage (active person-days / (headcount x days)).
  Distinct people are stored per source and day only, so the released contributor count over
  several sources is the largest single (source, day) count: a team whose people split between
  two tools shows about half of them, and may be hidden where each tool has fewer than k.
- Only teams released on both sides enter `detect_hotspots`; a team hidden on either side is
  never assessed, stored, flagged or counted in a correlation.

Storage is recompute-and-replace per round (`HotspotRun` + its `HotspotAssessment` rows, in one
transaction), except `Hotspot` rows, which carry HR's work: a team flagged again keeps its row,
state and notes; an unresolved hotspot continues into the next round that flags the team; a
hotspot that a recomputation no longer finds is deleted only when nobody has touched it.
New hotspots' alert emails are enqueued after commit; each is sent once (`alerted_at`).

One-off rounds (follow-up pulses, no cadence) are not assessed: one team has no organisation
to be compared with. Their results are shown on the hotspot's page instead.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Final

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone

from analytics import gate
from analytics.hotspot_stats import (
    Construct,
    ConstructStat,
    HotspotConfig,
    HotspotReport,
    OrgReference,
    ReleasedSurvey,
    ReleasedUsage,
    TeamAssessment,
    TeamRound,
    detect_hotspots,
    usage_score_correlations,
)
from analytics.models import (
    Hotspot,
    HotspotAssessment,
    HotspotNote,
    HotspotRun,
    Publication,
    TeamDayUsage,
)
from surveys.models import Employee, Question, Role, Round, SurveyTemplate, Team, Wave

FOLLOW_UP_TEMPLATE: Final = "Hotspot follow-up pulse"
FOLLOW_UP_SCALES: Final = ("WHO5", "AUP", "PAU", "AWI")
"""WHO-5 (5 items) + AI usage pressure (3) + performative use (2) + work intensification (2):
12 items, a 3-minute pulse; the AI Pressure Index rests on three of its four constructs."""
FOLLOW_UP_WINDOW_DAYS: Final = 7
# Reminders to those who have not answered, days after the invitation (the cadences' default).
FOLLOW_UP_REMINDER_DAYS: Final = (2, 4)


@dataclass(frozen=True, slots=True)
class IntensityMeasure:
    code: str
    label: str
    metrics: tuple[str, ...]  # per source, the first one it reports


INTENSITY_MEASURES: Final = (
    IntensityMeasure("tokens", "tokens", ("tokens", "total_tokens", "output_tokens")),
    IntensityMeasure(
        "requests",
        "requests",
        ("requests", "model_requests", "agentRequests", "composerRequests", "chatRequests"),
    ),
    IntensityMeasure(
        "suggestions",
        "suggestions accepted",
        (
            "suggestions_accepted",
            "code_acceptance_activity_count",
            "totalTabsAccepted",
            "tool_actions_accepted",
        ),
    ),
)


# --- Periods and inputs ----------------------------------------------------------------------


def round_usage_period(round_: Round) -> tuple[dt.date, dt.date]:
    """The UTC days whose usage is joined with `round_`'s answers: a whole calendar month
    (module docstring). Defined in the gate, which releases usage over whole months only."""
    return gate.usage_round_period(round_)


def _measure_for(start: dt.date, end: dt.date) -> tuple[IntensityMeasure | None, dict[str, str]]:
    """The first measure with usage in the period, and the metric each source contributes."""
    for measure in INTENSITY_MEASURES:
        present = set(
            TeamDayUsage.objects.filter(day__gte=start, day__lte=end, metric__in=measure.metrics)
            .values_list("source", "metric")
            .distinct()
        )
        if not present:
            continue
        chosen: dict[str, str] = {}
        for source in sorted({s for s, _ in present}):
            chosen[source] = next(m for m in measure.metrics if (source, m) in present)
        return measure, chosen
    return None, {}


def _headcounts() -> dict[str, int]:
    """Active employees per team path, each counted in its team and every ancestor."""
    counts: dict[str, int] = defaultdict(int)
    rows = Employee.objects.active().values_list("team__path").annotate(n=Count("pk"))
    for path, n in rows.order_by():
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            counts["/".join(parts[:i])] += n
    return counts


def _log_se(released: gate.ReleasedUsagePeriod) -> float | None:
    """SE of log intensity from the day-to-day fluctuation of usage per contributing person."""
    if released.days < 2 or released.daily_sd is None or released.daily_mean <= 0:
        return None
    return released.daily_sd / released.daily_mean / math.sqrt(released.days)


def _active_share(released: gate.ReleasedUsagePeriod, headcount: int) -> float | None:
    """The average share of the team active on a day of the period: active person-days over
    headcount x days (capped at 1: a person using two tools on one day counts twice)."""
    if not headcount or not released.days:
        return None
    return min(1.0, released.person_days / (headcount * released.days))


def _survey_side(
    cell: gate.ReleasedTeamSurvey, k: int
) -> tuple[ReleasedSurvey | None, dict[Construct, float]]:
    if cell.respondents is None or cell.respondents < k:
        return None, {}
    constructs = {
        Construct(code): ConstructStat(mean=c.mean, sd=c.sd, n=c.n)
        for code, c in cell.constructs.items()
        if c.n >= k
    }
    return ReleasedSurvey(n=cell.respondents, constructs=constructs), {
        c: s.mean for c, s in constructs.items()
    }


@dataclass(slots=True)
class RoundInputs:
    """What detection needs for one round, built from released values only."""

    teams: list[TeamRound]
    org: OrgReference
    period: tuple[dt.date, dt.date]
    measure: IntensityMeasure | None


def round_inputs(*, publication: Publication, k: int | None = None) -> RoundInputs:
    """The released join of one round (module docstring). Reads only through `analytics.gate`."""
    k = k or publication.k
    round_ = publication.round
    start, end = round_usage_period(round_)
    measure, metric_by_source = _measure_for(start, end)
    now = gate.usage_release_period(start=start, end=end, metric_by_source=metric_by_source)
    before_start, before_end = gate.usage_previous_period(start, end)
    before = gate.usage_release_period(
        start=before_start, end=before_end, metric_by_source=metric_by_source
    )
    headcount = _headcounts()
    teams: list[TeamRound] = []
    org_means: dict[Construct, float] = {}
    for cell in gate.release_team_surveys(publication=publication):
        survey, means = _survey_side(cell, k)
        if cell.team_id is None:
            org_means = means
            continue
        usage = None
        released = now.get(cell.team_id)
        intensity = released.intensity if released is not None else None
        if released is not None and intensity is not None and released.contributors >= k:
            previous = before.get(cell.team_id)
            previous_intensity = previous.intensity if previous is not None else None
            people = headcount.get(cell.team_path, 0)
            usage = ReleasedUsage(
                intensity=intensity,
                contributors=released.contributors,
                metric=measure.label if measure else "usage",
                active_share=_active_share(released, people),
                change=intensity / previous_intensity - 1 if previous_intensity else None,
                top_share=released.top_share,
                log_se=_log_se(released),
            )
        teams.append(TeamRound(cell.team_id, cell.team_path, survey, usage))
    return RoundInputs(teams, OrgReference(means=org_means), (start, end), measure)


def _previous_run(round_: Round) -> HotspotRun | None:
    return (
        HotspotRun.objects.filter(
            round__cadence_id=round_.cadence_id, round__scheduled_for__lt=round_.scheduled_for
        )
        .order_by("-round__scheduled_for")
        .first()
    )


def _lagged_inputs(run: HotspotRun | None, k: int) -> list[TeamRound] | None:
    """The previous round's teams released on both sides, as stored with its run (their usage
    is what the lag-1 correlation needs; their survey side only has to be released)."""
    if run is None:
        return None
    return [
        TeamRound(
            a.team_id,
            a.team_path,
            ReleasedSurvey(n=a.respondents, constructs={}),
            ReleasedUsage(
                intensity=a.intensity,
                contributors=a.contributors,
                metric=run.metric,
                top_share=a.top_share,
            ),
        )
        for a in run.assessments.all()
        if a.respondents >= k and a.contributors >= k
    ]


# --- Computing and storing -------------------------------------------------------------------


def _figures(a: TeamAssessment, median: float | None) -> dict[str, object]:
    return {
        "metric": a.metric,
        "intensity": a.intensity,
        "intensity_ratio": a.intensity_ratio,
        "org_intensity_median": median,
        "pressure": a.pressure.mean,
        "pressure_shrunk": a.pressure.shrunk,
        "org_pressure": a.pressure.org_mean,
        "wellbeing_construct": str(a.wellbeing.construct),
        "wellbeing_label": a.wellbeing.construct.label,
        "wellbeing": a.wellbeing.mean,
        "wellbeing_shrunk": a.wellbeing.shrunk,
        "org_wellbeing": a.wellbeing.org_mean,
        "respondents": a.respondents,
        "contributors": a.contributors,
        "active_share": a.active_share,
        "change": a.change,
        "q_value": a.q_value,
    }


def _assessment_row(run: HotspotRun, a: TeamAssessment) -> HotspotAssessment:
    wellbeing = {str(a.wellbeing.construct): a.wellbeing.mean}
    return HotspotAssessment(
        run=run,
        team_id=int(a.team_id),
        team_path=a.path,
        depth=a.level,
        respondents=a.respondents,
        contributors=a.contributors,
        intensity=a.intensity,
        intensity_ratio=a.intensity_ratio,
        active_share=a.active_share,
        change=a.change,
        top_share=None,
        pressure=a.pressure.mean,
        who5=wellbeing.get(str(Construct.WHO5)),
        cbi=wellbeing.get(str(Construct.CBI)),
        autonomy=a.autonomy,
        q_value=a.q_value,
        status=str(a.status),
        reason=a.reason[:500],
    )


def _org_median(report: HotspotReport) -> float | None:
    for a in report.assessments:
        if a.intensity_ratio > 0:
            return a.intensity / a.intensity_ratio
    return None


def hotspots_compute(*, round_id: int, config: HotspotConfig | None = None) -> HotspotRun | None:
    """Compute and store a closed round's hotspots (module docstring). Returns the run, or None
    for a round without a publication or without a cadence. Idempotent (recompute-and-replace;
    hotspots keep their state and notes); atomic; alerts are enqueued after commit."""
    round_ = Round.objects.select_related("cadence").get(pk=round_id)
    publication = Publication.objects.filter(round=round_).first()
    if publication is None or round_.cadence_id is None:
        return None
    config = config or HotspotConfig(min_group_size=max(publication.k, 5))
    inputs = round_inputs(publication=publication, k=config.min_group_size)
    report = detect_hotspots(inputs.teams, org=inputs.org, config=config)
    previous_run = _previous_run(round_)
    correlations = usage_score_correlations(
        inputs.teams, previous=_lagged_inputs(previous_run, config.min_group_size), config=config
    )
    # Each team's exact survey cell for the assessment rows: WHO-5 and CBI both, when shown.
    surveys = {t.team_id: t.survey for t in inputs.teams}
    top_shares = {t.team_id: t.usage.top_share for t in inputs.teams if t.usage is not None}
    median = _org_median(report)
    now = timezone.now()
    with transaction.atomic():
        HotspotRun.objects.filter(round=round_).delete()
        run = HotspotRun.objects.create(
            round=round_,
            computed_at=now,
            period_start=inputs.period[0],
            period_end=inputs.period[1],
            metric=inputs.measure.label if inputs.measure else "",
            organisation={
                **{str(c): mean for c, mean in inputs.org.means.items()},
                "intensity_median": median,
                "q": config.q,
            },
            correlations=[
                {
                    "outcome": str(c.outcome),
                    "label": c.outcome.label,
                    "lag": c.lag,
                    "n_teams": c.n_teams,
                    "r": c.r,
                    "ci_low": c.ci_low,
                    "ci_high": c.ci_high,
                    "p_value": c.p_value,
                    "spearman": c.spearman,
                    "reason": c.reason,
                }
                for c in correlations
            ],
            n_tested=report.n_tested,
            n_excluded=len(report.excluded),
            note=report.note or "",
        )
        rows = []
        for a in report.assessments:
            row = _assessment_row(run, a)
            survey = surveys.get(a.team_id)
            if survey is not None:
                for construct, field in ((Construct.WHO5, "who5"), (Construct.CBI, "cbi")):
                    cell = survey.stat(construct, min_group_size=config.min_group_size)
                    setattr(row, field, cell.mean if cell else None)
            row.top_share = top_shares.get(a.team_id)
            rows.append(row)
        HotspotAssessment.objects.bulk_create(rows, batch_size=1000)
        alerts = _hotspots_store(round_, report, median, now)
        for hotspot_id in alerts:
            transaction.on_commit(lambda pk=hotspot_id: _enqueue_alert(pk))
    return run


def _hotspots_store(
    round_: Round, report: HotspotReport, median: float | None, now: dt.datetime
) -> list[int]:
    """Create or continue the round's hotspots; returns the ids still waiting for an alert."""
    found = {int(a.team_id): a for a in report.hotspots}
    mine = {h.team_id: h for h in Hotspot.objects.filter(first_round=round_)}
    open_elsewhere = {
        h.team_id: h
        for h in Hotspot.objects.filter(team_id__in=found, first_round__cadence=round_.cadence)
        .exclude(state=Hotspot.State.RESOLVED)
        .exclude(first_round=round_)
        .filter(first_round__scheduled_for__lt=round_.scheduled_for)
        .order_by("first_round__scheduled_for")
    }
    for team_id, hotspot in mine.items():
        untouched = hotspot.state == Hotspot.State.NEW and not hotspot.notes.exists()
        if team_id not in found and untouched:
            hotspot.delete()
    for team_id, a in found.items():
        hotspot = mine.get(team_id) or open_elsewhere.get(team_id)
        figures = _figures(a, median)
        if hotspot is None:
            Hotspot.objects.create(
                team_id=team_id,
                first_round=round_,
                last_round=round_,
                reason=a.reason[:500],
                figures=figures,
                detected_at=now,
                state_changed_at=now,
            )
            continue
        if hotspot.last_round.scheduled_for <= round_.scheduled_for:
            Hotspot.objects.filter(pk=hotspot.pk).update(
                last_round=round_, reason=a.reason[:500], figures=figures
            )
    return list(
        Hotspot.objects.filter(first_round=round_, alerted_at__isnull=True).values_list(
            "pk", flat=True
        )
    )


def round_hotspots_after_close(*, round_id: int) -> None:
    """After-close hook (`PULSE_AFTER_CLOSE_HOOKS`, after the publication)."""
    hotspots_compute(round_id=round_id)


# --- Alerts ----------------------------------------------------------------------------------


def _enqueue_alert(hotspot_id: int) -> None:
    from analytics.tasks import send_hotspot_alert

    send_hotspot_alert.delay(hotspot_id)


def hotspot_alert_recipients() -> list[str]:
    """HR admins with an email address, plus `PULSE_HOTSPOT_ALERT_TO` if set."""
    emails = set(
        Role.objects.filter(kind=Role.Kind.HR, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    emails.update(settings.PULSE_HOTSPOT_ALERT_TO)
    return sorted(emails)


def hotspot_alert_send(*, hotspot_id: int) -> bool:
    """Email HR about a new hotspot, once. The email is sent inside the transaction whose
    conditional UPDATE (`alerted_at IS NULL`) claims it: a second run (or a concurrent one)
    finds it claimed and sends nothing; a failure to send rolls the claim back, so a retry
    sends it. Returns whether this call sent it. Caller: the `send_hotspot_alert` task."""
    recipients = hotspot_alert_recipients()
    if not recipients:
        return False
    with transaction.atomic():
        claimed = Hotspot.objects.filter(pk=hotspot_id, alerted_at__isnull=True).update(
            alerted_at=timezone.now()
        )
        if not claimed:
            return False
        hotspot = Hotspot.objects.select_related("team", "first_round").get(pk=hotspot_id)
        context = {
            "hotspot": hotspot,
            "url": f"{settings.BASE_URL}/results/hotspots/{hotspot.pk}/",
        }
        message = EmailMultiAlternatives(
            subject=f"Pulse: new hotspot in {hotspot.team.path}",
            body=render_to_string("analytics/email/hotspot_alert.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=recipients,
        )
        message.send()
    return True


# --- The action loop -------------------------------------------------------------------------


class HotspotError(Exception):
    """A refused action, with a message for the user."""


def hotspot_update(
    *,
    hotspot: Hotspot,
    user: AbstractBaseUser | None,
    state: str = "",
    text: str = "",
    now: dt.datetime | None = None,
) -> HotspotNote:
    """Record a note and/or a change of state. The caller has checked that `user` is HR or a
    leader of the team. Atomic; the state change is a conditional UPDATE from the state the
    user saw, so two concurrent changes cannot both apply."""
    now = now or timezone.now()
    text = text.strip()
    if state and state not in Hotspot.State.values:
        raise HotspotError(f"'{state}' is not a state.")
    changing = bool(state) and state != hotspot.state
    if not changing and not text:
        raise HotspotError("Write a note or choose a new state.")
    with transaction.atomic():
        if changing:
            moved = Hotspot.objects.filter(pk=hotspot.pk, state=hotspot.state).update(
                state=state, state_changed_at=now
            )
            if not moved:
                raise HotspotError("Someone else changed this hotspot; reload and try again.")
        note = HotspotNote.objects.create(
            hotspot=hotspot,
            author=user if user is not None and user.is_authenticated else None,
            text=text,
            state_from=hotspot.state if changing else "",
            state_to=state if changing else "",
            created_at=now,
        )
    if changing:
        hotspot.state, hotspot.state_changed_at = state, now
    return note


def follow_up_template() -> SurveyTemplate:
    """The follow-up pulse's template (created on first use): WHO-5, AUP, PAU and AWI, every
    item in every round, no comment box. Idempotent."""
    template = SurveyTemplate.objects.filter(name=FOLLOW_UP_TEMPLATE).first()
    if template is not None:
        return template
    from surveys.services.config import template_save

    questions = Question.objects.filter(scale__code__in=FOLLOW_UP_SCALES).values_list(
        "pk", flat=True
    )
    return template_save(
        name=FOLLOW_UP_TEMPLATE,
        waves=dict.fromkeys(questions, Wave.EVERY),
        description="A one-off pulse for a hotspot team: well-being and AI pressure.",
        include_comment=False,
    )


def hotspot_follow_up_open(
    *, hotspot: Hotspot, user: AbstractBaseUser | None, now: dt.datetime | None = None
) -> Round:
    """Open a one-off round (no cadence) for the hotspot team's audience (its subtree's active
    employees) with the follow-up items, sent at once, open `FOLLOW_UP_WINDOW_DAYS`; fan out
    its invitations after commit (the delivery chunks: unique invitations, each email marked in
    its sending transaction); set the hotspot to "follow-up sent" with a note. Idempotent: a
    hotspot has at most one follow-up (the row is locked; a second call returns the first)."""
    now = now or timezone.now()
    template = follow_up_template()
    with transaction.atomic():
        locked = Hotspot.objects.select_for_update().select_related("team").get(pk=hotspot.pk)
        if locked.follow_up_round_id is not None:
            return Round.objects.get(pk=locked.follow_up_round_id)
        team: Team = locked.team
        employee_ids = list(
            Employee.objects.active()
            .in_subtrees([team.path])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if len(employee_ids) < settings.PULSE_MIN_GROUP_SIZE:
            raise HotspotError("The team has too few active employees for an anonymous pulse.")
        round_ = Round.objects.create(
            cadence=None,
            template=template,
            name=f"Follow-up pulse · {team.path} · {timezone.localdate(now).isoformat()}",
            scheduled_for=timezone.localdate(now),
            wave="",
            sends_immediately=True,
            opens_at=now,
            closes_at=now + dt.timedelta(days=FOLLOW_UP_WINDOW_DAYS),
            audience_team=team,
            reminder_offsets=list(FOLLOW_UP_REMINDER_DAYS),
            fanout_total=len(employee_ids),
        )
        round_.questions.set(Question.objects.filter(scale__code__in=FOLLOW_UP_SCALES))
        Hotspot.objects.filter(pk=locked.pk).update(
            follow_up_round=round_, state=Hotspot.State.FOLLOW_UP_SENT, state_changed_at=now
        )
        HotspotNote.objects.create(
            hotspot=locked,
            author=user if user is not None and user.is_authenticated else None,
            text=f"Follow-up pulse opened for {len(employee_ids)} people, closes "
            f"{timezone.localtime(round_.closes_at):%Y-%m-%d %H:%M}.",
            state_from=locked.state if locked.state != Hotspot.State.FOLLOW_UP_SENT else "",
            state_to=Hotspot.State.FOLLOW_UP_SENT,
            created_at=now,
        )
        transaction.on_commit(lambda: _enqueue_follow_up_fan_out(round_.pk))
    hotspot.refresh_from_db()
    return round_


def _enqueue_follow_up_fan_out(round_id: int) -> None:
    from surveys.tasks import fan_out_round

    fan_out_round.delay(round_id, True)


__all__ = [
    "INTENSITY_MEASURES",
    "HotspotError",
    "follow_up_template",
    "hotspot_alert_send",
    "hotspot_follow_up_open",
    "hotspot_update",
    "hotspots_compute",
    "round_hotspots_after_close",
    "round_inputs",
    "round_usage_period",
]
