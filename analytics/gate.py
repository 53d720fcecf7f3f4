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
names the rule, never the count that failed it. Periods are given as their first and last UTC
day (inclusive) and are whole calendar months (below).

Figures are not judged one by one only: a parent team's figure minus its shown children's
would isolate the people sitting directly in it (and in its hidden children). Every team of a
family (one source's metric over one period, every level) is decided together
(`analytics.usage_disclosure.audit_family`): a team is shown only when what is left of its
nearest shown ancestor once it is subtracted still passes the rule, so every set of people an
attacker can work out by adding and subtracting the figures of a family has >= k contributors
and nobody above 85%. A figure summed over sources is shown only when each source's figure
for that team is, so it reveals nothing the per-source figures do not.

Across periods: every period over which usage leaves the system is a whole number of calendar
months (UTC), and the gate refuses any other (`usage_atoms` raises): the API's months that
have ended (`usage_release_for_months`), and for the hotspots each cadence round's usage month
and the month before it (`usage_round_period`, `usage_previous_period`). Why months and nothing
finer: figures of one team over two periods difference. A month minus an overlapping round's
period, or one round's period minus another's, is the team's usage over a few days, which may
hold fewer than k people or one dominant person; and auditing the pieces of the timeline
("atoms") cut at the periods that exist when a figure is asked for does not close it, because
a period created later (a new round) cuts a piece whose figures were already released and
audited whole. With months only, no released period ever cuts another: the atoms are the
calendar months, whatever rounds exist or are created later. Each month is audited as a
family (`usage_family_decisions`), and a team's figure over a range of months is shown only
when it is shown in each month of the range in which it has usage. So every released figure
is a sum of whole-month figures that each pass the family audit, and every difference of
released figures (between periods, teams or sources) is a sum of whole months that pass: a
sum of passing (month, residual) pieces, which passes (the argument:
`analytics.usage_disclosure`).

Across versions of the data: a later export replaces the days it covers (latest wins), and a
figure released before and the same figure after would differ by exactly the rows that
changed (one late file correcting one person's day would give that day away); so would any
two overlapping periods computed from the two versions. So released data never changes:
every gate function that returns figures for a period records the period, for each source
with a shown figure (`usage_release_record`, the write-once `UsageRelease`), and an import
keeps the stored cells of every (source, day) inside a recorded period of that source
(`analytics.services`). The read and the record are one transaction serialised with imports
(`usage_releasing`). Consequence: usage imported after its period was released (an export
that lags behind a round's close, when the hotspots read the round's period) is kept out of
those days for good, and counted as kept in the import's record.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum

from analytics.models import Publication, TeamDayUsage, UsageRelease
from analytics.usage_disclosure import DayCell, TeamNode, audit_family
from surveys.models import Round, Team

USAGE_DOMINANCE_LIMIT = 0.85

USAGE_HIDDEN_NO_BREAKDOWN = "hidden: the source gives no per-person breakdown"
USAGE_HIDDEN_TOO_FEW = "hidden: fewer than {k} people contribute"
USAGE_HIDDEN_DOMINANT = "hidden: one person may account for more than 85% of it"
USAGE_HIDDEN_PROTECTS = (
    "hidden so that a few people's usage cannot be worked out by subtracting it from a larger "
    "team's"
)


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


def _decide(total: float, lower: int | None, upper: float | None) -> str:
    return usage_release_decision(
        total=total, contributors_lower_bound=lower, max_single_upper_bound=upper
    )


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of `month`'s calendar month."""
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def _month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def usage_atoms(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The calendar months whose union is `start`..`end`, in order: the atoms every released
    period is cut into (module docstring). Raises ValueError when `start`..`end` is not a
    whole number of calendar months: the gate releases usage over nothing else, so that no
    released period ever cuts another. Pure."""
    if start > end or start.day != 1 or month_bounds(end)[1] != end:
        raise ValueError(f"usage is released over whole calendar months only, not {start}..{end}")
    months = [month_bounds(start)]
    while months[-1][1] < end:
        months.append(month_bounds(months[-1][1] + dt.timedelta(days=1)))
    return months


def usage_round_period(round_: Round) -> tuple[dt.date, dt.date]:
    """The UTC days whose usage the hotspots join with `round_`'s answers: the last whole
    calendar month that ended on or before the day it closed (or is due to close), in UTC.
    A round closing on 2026-11-20 joins October 2026 (a round closing on 2026-12-01 joins
    November: it ended at the start of that day).

    Why a month and not the days the answers recall (the two weeks before the round opened, to
    its close): usage leaves the system over whole months only (module docstring), so that no
    released period cuts another and differences of released figures are whole months that
    each passed the audit. Round-shaped periods overlapped the months and each other (with
    fortnightly rounds every new round cut the previous round's period), and their
    differences gave a few days of usage that no audit had checked. The cost: the usage lags
    the answers it is joined with, by up to about seven weeks (a round closing on the last day
    of a month joins the month before: its last day is a month before the close, its first
    some eight and a half weeks), and rounds that close in the same month join the same usage
    month, so they show the same usage and the same "change against the previous period"."""
    closed = min(round_.closed_at or round_.closes_at, round_.closes_at)
    closed_on = closed.astimezone(dt.UTC).date()
    return month_bounds(closed_on.replace(day=1) - dt.timedelta(days=1))


def usage_previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of as many whole calendar months as `start`..`end`, just before it (the
    hotspots' change: for a round's usage month, the month before). Raises ValueError when
    `start`..`end` is not whole months (`usage_atoms`). Pure."""
    months = len(usage_atoms(start, end))
    year, month = divmod(_month_index(start) - months, 12)
    return dt.date(year, month + 1, 1), start - dt.timedelta(days=1)


def usage_family_decisions(
    *, start: dt.date, end: dt.date, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], dict[int, str]]:
    """For each (source, metric) in `pairs`, every team's decision over the whole months
    `start`..`end` ('' shown, else the reason): shown only when the team is shown in each month
    of the period in which it has usage, each month audited with every team of the
    organisation together (`audit_family`), so that no difference of shown figures - between
    teams, between sources, or between ranges of months - singles out fewer than k people or
    a dominant one (module docstring). Raises ValueError when the period is not whole months
    (`usage_atoms`). One query for the stored daily cells of those pairs over the period, for
    the whole organisation."""
    atoms = usage_atoms(start, end)
    if not pairs:
        return {}
    which = Q()
    for source, metric in sorted(pairs):
        which |= Q(source=source, metric=metric)
    rows = (
        TeamDayUsage.objects.filter(which, day__gte=start, day__lte=end)
        .values_list(
            "source",
            "metric",
            "team_id",
            "day",
            "total",
            "contributors",
            "max_single",
            "direct_max_single",
        )
        .order_by()
    )
    firsts = [first.toordinal() for first, _ in atoms]
    # (source, metric) -> month -> team -> day -> cell
    families: dict[tuple[str, str], list[dict[int, dict[int, DayCell]]]] = {
        p: [{} for _ in atoms] for p in pairs
    }
    for source, metric, team_id, day, total, people, top, direct in rows.iterator(2000):
        ordinal = day.toordinal()
        month = bisect.bisect_right(firsts, ordinal) - 1
        families[(source, metric)][month].setdefault(team_id, {})[ordinal] = DayCell(
            total, people, top, direct
        )
    teams = [
        TeamNode(pk, parent, depth)
        for pk, parent, depth in Team.objects.values_list("id", "parent_id", "depth")
    ]
    out: dict[tuple[str, str], dict[int, str]] = {}
    for pair, per_month in families.items():
        decided: dict[int, str] = {}
        for cells in per_month:
            for team_id, reason in audit_family(
                teams=teams, cells=cells, decide=_decide, protects_reason=USAGE_HIDDEN_PROTECTS
            ).items():
                if not decided.get(team_id):  # the first month that hides it gives the reason
                    decided[team_id] = reason
        out[pair] = decided
    return out


@contextmanager
def usage_releasing() -> Iterator[None]:
    """The transaction a gate function reads the cells of a period and records its release in
    (`usage_release_record`), serialised with imports: an import takes a SHARE lock on the
    release table before reading the recorded periods and holds it until it commits
    (`analytics.services`), and this takes ROW EXCLUSIVE (the lock an INSERT takes, taken here
    before the cells are read), which conflicts with it. So either the import commits first and
    the figure is computed from its cells, or the release is recorded first and the import
    keeps those days as they are: a figure never leaves computed from cells that an import
    running at the same time then changes. (SQLite: every transaction takes the database's
    write lock at BEGIN, `transaction_mode` IMMEDIATE, which serialises them anyway.)"""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {UsageRelease._meta.db_table} IN ROW EXCLUSIVE MODE")
        yield


def usage_release_record(*, sources: Iterable[str], start: dt.date, end: dt.date) -> None:
    """Record that usage of `sources` over `start`..`end` has been released (shown for at
    least one team), so that no import changes those days afterwards (`UsageRelease`).
    Idempotent (a period already recorded is left as it is). Called by the gate functions
    that return figures, inside `usage_releasing`, with the sources of their shown figures:
    a period whose figures are all hidden gave no number away, and freezing it would only keep
    late data out (a source's figure over a period is released, and so recorded, as soon as
    one team's is: the whole family's days then stay as they are)."""
    UsageRelease.objects.bulk_create(
        [UsageRelease(source=s, start=start, end=end) for s in sorted(set(sources))],
        ignore_conflicts=True,
    )


def usage_release_for_months(
    *,
    team: Team,
    first_month: dt.date,
    last_month: dt.date,
    source: str | None = None,
    metric: str | None = None,
) -> list[UsageFigure]:
    """`team`'s usage over whole calendar months (UTC days), `first_month`..`last_month` (any
    day of each), for the figures that leave on request (the API). Each month is its own
    family (`usage_release_for_team`); a (source, metric) over the range is shown only when
    its figure is shown in every month the team used it, and is then the sum of those monthly
    figures. So whatever ranges are asked for, every figure is a sum of audited monthly ones:
    differences between ranges give whole months that passed, never days. The caller refuses
    months that have not ended (a month still being imported would move day by day)."""
    months = usage_atoms(month_bounds(first_month)[0], month_bounds(last_month)[1])
    combined: dict[tuple[str, str], list[UsageFigure]] = {}
    for start, end in months:
        for f in usage_release_for_team(
            team=team, start=start, end=end, source=source, metric=metric
        ):
            combined.setdefault((f.source, f.metric), []).append(f)
    start, end = months[0][0], months[-1][1]
    figures = []
    for (source_name, metric_name), parts in sorted(combined.items()):
        reason = next((f.hidden_reason for f in parts if not f.shown), "")
        figures.append(
            UsageFigure(
                team_id=team.pk,
                source=source_name,
                metric=metric_name,
                unit=parts[0].unit,
                start=start,
                end=end,
                value=None if reason else sum(f.value or 0.0 for f in parts),
                hidden_reason=reason,
            )
        )
    return figures


def usage_release_for_team(
    *,
    team: Team,
    start: dt.date,
    end: dt.date,
    source: str | None = None,
    metric: str | None = None,
) -> list[UsageFigure]:
    """Every (source, metric) with usage for `team` (its whole subtree) over the whole calendar
    months `start`..`end` (first and last UTC day), each released or hidden with its reason,
    decided with every other team's figure of the same source, metric and month, month by month
    (`usage_family_decisions`), so that neither parent-minus-children differences nor
    differences with the figures over other ranges of months isolate anyone. Raises ValueError
    for a period that is not whole months (`usage_atoms`). The caller has already checked that
    the user may see `team` (`teams_visible_to`). Records the period as released for every
    source with a shown figure (`UsageRelease`): from then on imports keep those days as they
    are."""
    usage_atoms(start, end)
    with usage_releasing():
        figures = _team_figures(team=team, start=start, end=end, source=source, metric=metric)
        usage_release_record(sources={f.source for f in figures if f.shown}, start=start, end=end)
    return figures


def _team_figures(
    *, team: Team, start: dt.date, end: dt.date, source: str | None, metric: str | None
) -> list[UsageFigure]:
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
    grouped = list(grouped)
    family = usage_family_decisions(
        start=start, end=end, pairs={(g["source"], g["metric"]) for g in grouped}
    )
    figures = []
    for g in grouped:
        reason = usage_release_decision(
            total=g["total"] or 0.0,
            contributors_lower_bound=None if g["unknown"] else g["lower"],
            max_single_upper_bound=None if g["unknown"] else g["upper"],
        ) or family[(g["source"], g["metric"])].get(team.pk, USAGE_HIDDEN_NO_BREAKDOWN)
        unit = "person-days" if g["unit"] == "people" else g["unit"]  # a month: several days
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


# --- Survey results: publications (rules 1-6, 9, 12) -------------------------------------------
#
# Everything a page, the API, a CSV export, an email or an alert shows about a round comes from
# here: persisted publication cells (already audited when the round closed), filtered to the
# teams the viewer may see, with every hidden cell's reason in words. Nothing here reads
# responses, answers or comments: `tests/test_release_gate.py` checks that no module but the
# publication service (and the one door that writes responses) touches them.

REASON_WORDS: dict[str, str] = {
    "empty": "no answers",
    "below_k": "fewer than {k} answers",
    "protects_another": "hidden so that a smaller group cannot be worked out from the others",
    "insider_margin": "hidden so that nobody who answered can work out another person's answer",
    "unanimity": "answers too alike to show exactly",
    "below_distribution_k": "fewer than 8 answers: distribution not shown",
    "below_recommendation_k": "fewer than 20 answers: the recommendation score is too noisy",
    "derived_set": "hidden so that no small or like-minded group can be worked out from the rest",
    "teams_only": "shown for whole teams only",
    "out_of_scope": "outside your part of the organisation",
}


def reason_in_words(reason: str | None, k: int) -> str:
    if not reason:
        return ""
    return REASON_WORDS.get(reason, "hidden").format(k=k)


@dataclass(frozen=True, slots=True)
class ReleasedFigure:
    """One measure of one cell, as it may be shown: either figures or a reason."""

    code: str
    label: str
    kind: str
    shown: bool
    n: int | None = None
    score: int | None = None
    ci_low: int | None = None
    ci_high: int | None = None
    top2: int | None = None
    risk_share: int | None = None
    band: str = ""
    distribution: tuple[tuple[str, int], ...] = ()
    distribution_note: str = ""
    reason: str = ""
    higher_is_better: bool = True
    exploratory: bool = False

    @property
    def text(self) -> str:
        if self.score is not None:
            return str(self.score)
        if self.band:
            return self.band
        return "hidden"


def _round(value: object) -> int | None:
    return None if value is None else round(float(value))  # type: ignore[arg-type]


def _released(measure: dict[str, object], entry: dict[str, object], k: int) -> ReleasedFigure:
    shown = bool(entry.get("shown"))
    anchors = measure.get("anchors") or []
    distribution: tuple[tuple[str, int], ...] = ()
    if shown and entry.get("distribution"):
        distribution = tuple(zip(anchors, entry["distribution"], strict=False))  # type: ignore[arg-type]
    band = str(entry.get("band") or entry.get("top2_band") or entry.get("risk_share_band") or "")
    return ReleasedFigure(
        code=str(measure["code"]),
        label=str(measure["label"]),
        kind=str(measure["kind"]),
        shown=shown,
        n=entry.get("n") if shown else None,  # type: ignore[arg-type]
        score=_round(entry.get("score")) if shown else None,
        ci_low=_round(entry.get("ci_low")) if shown else None,
        ci_high=_round(entry.get("ci_high")) if shown else None,
        top2=_round(entry.get("top2")) if shown else None,
        risk_share=_round(entry.get("risk_share")) if shown else None,
        band=band,
        distribution=distribution,
        distribution_note=reason_in_words(str(entry.get("distribution_reason") or ""), k),
        reason=reason_in_words(entry.get("reason"), k) if not shown else "",  # type: ignore[arg-type]
        higher_is_better=bool(measure.get("higher_is_better", True)),
        exploratory=bool(measure.get("exploratory", False)),
    )


def _visible_paths(user: object) -> list[str] | None:
    """None: everything (HR); otherwise the leader's subtree roots."""
    from surveys.selectors import leader_root_paths, user_is_hr

    if user is ORGANISATION_WIDE or user_is_hr(user):  # type: ignore[arg-type]
        return None
    return leader_root_paths(user)  # type: ignore[arg-type]


def _within(path: str, roots: list[str] | None) -> bool:
    if roots is None:
        return True
    return any(path == r or path.startswith(r + "/") for r in roots)


@dataclass(frozen=True, slots=True)
class ReleasedRow:
    team_id: int | None
    team_path: str
    depth: int
    breakdown: str
    value: str
    n: int | None
    figures: tuple[ReleasedFigure, ...]


def release_rows(
    *,
    publication: Publication,
    user: object,
    breakdown: str | None = "all",
    team_path: str | None = None,
    kinds: tuple[str, ...] | None = None,
    include_organisation: bool = True,
) -> list[ReleasedRow]:
    """Publication cells the user may see (HR: all; leader: their subtrees, plus the
    organisation as a benchmark), with every figure released or explained. `team_path`
    limits to one team's cells (any breakdown when `breakdown` is None)."""
    roots = _visible_paths(user)
    measures = [m for m in publication.measures if kinds is None or m["kind"] in kinds]
    cells = publication.cells.all()
    if breakdown is not None:
        cells = cells.filter(breakdown=breakdown)
    if team_path is not None:
        cells = cells.filter(team_path=team_path)
    rows = []
    for cell in cells.order_by("team_path", "breakdown", "value"):
        if cell.team_path and not _within(cell.team_path, roots):
            continue
        if not cell.team_path and not include_organisation:
            continue
        count = cell.figures.get("respondents", {})
        rows.append(
            ReleasedRow(
                team_id=cell.team_id,
                team_path=cell.team_path,
                depth=cell.depth,
                breakdown=cell.breakdown,
                value=cell.value,
                n=count.get("n") if count.get("shown") else None,
                figures=tuple(
                    _released(
                        m,
                        cell.figures.get(m["code"], {"shown": False, "reason": "empty"}),
                        publication.k,
                    )
                    for m in measures
                ),
            )
        )
    return rows


def release_comments(*, publication: Publication, user: object, team_path: str) -> list[str]:
    """Comments homed within `team_path`'s subtree ("" = all, HR only), in their published
    (shuffled) order. Each home pool holds >= 10 respondents; texts are already redacted."""
    roots = _visible_paths(user)
    if not _within(team_path, roots) or (team_path == "" and roots is not None):
        return []
    comments = publication.comments.all()
    if team_path:
        comments = comments.filter(
            Q(home_path=team_path) | Q(home_path__startswith=team_path + "/")
        )
    return list(comments.values_list("text", flat=True))


EXPORT_COLUMNS = [
    "round",
    "closed_on",
    "team",
    "breakdown",
    "value",
    "measure",
    "label",
    "shown",
    "respondents",
    "score_0_100",
    "ci_low",
    "ci_high",
    "top2_percent",
    "risk_share_percent",
    "band",
    "hidden_reason",
]


def release_export(*, publication: Publication, user: object) -> list[list[object]]:
    """The publication as CSV rows (header first), scoped like the dashboard."""
    out: list[list[object]] = [EXPORT_COLUMNS]
    for row in release_rows(publication=publication, user=user, breakdown=None):
        for f in row.figures:
            out.append(
                [
                    publication.round.name,
                    publication.closed_on.isoformat(),
                    row.team_path or "Organisation",
                    row.breakdown,
                    row.value,
                    f.code,
                    f.label,
                    "yes" if f.shown else "no",
                    f.n if f.shown else "",
                    "" if f.score is None else f.score,
                    "" if f.ci_low is None else f.ci_low,
                    "" if f.ci_high is None else f.ci_high,
                    "" if f.top2 is None else f.top2,
                    "" if f.risk_share is None else f.risk_share,
                    f.band,
                    f.reason,
                ]
            )
    return out


def trend_verdict(previous: ReleasedFigure | None, current: ReleasedFigure) -> str:
    """'up', 'down', 'no change' (the difference lies inside the uncertainty of the two
    scores) or '' when either is not shown."""
    if previous is None or previous.score is None or current.score is None:
        return ""
    if None in (previous.ci_low, previous.ci_high, current.ci_low, current.ci_high):
        return ""
    se_prev = (previous.ci_high - previous.ci_low) / (2 * 1.96)  # type: ignore[operator]
    se_curr = (current.ci_high - current.ci_low) / (2 * 1.96)  # type: ignore[operator]
    margin = 1.96 * (se_prev**2 + se_curr**2) ** 0.5
    delta = current.score - previous.score
    if abs(delta) <= margin:
        return "no change"
    return "up" if delta > 0 else "down"


def release_participation(*, invitees: int, responded: int) -> tuple[int | None, str]:
    """A response rate as it may be shown: only for groups of >= k invitees, rounded to 5%
    (rule 2), and only when at least k have answered and the non-respondents are none or at
    least k - otherwise the rate of a small group gives away how many (so who) answered.
    Returns (percent or None, reason in words)."""
    k = settings.PULSE_MIN_GROUP_SIZE
    if invitees < k:
        return None, f"fewer than {k} invitees"
    if responded < k:
        return None, f"fewer than {k} answers so far"
    if 0 < invitees - responded < k:
        return None, f"fewer than {k} have not answered"
    return int(5 * round(100 * responded / invitees / 5)), ""


ORGANISATION_WIDE = object()
"""Viewer for trusted server-side callers that act for HR (the `export_results` command)."""


# --- Hotspots: released inputs of the join, and its scoped outputs -----------------------------
#
# The hotspot service (`analytics.hotspots`) joins two released sides per team: the construct
# cells of a round's publication and the usage of the round's period. Both are read here, so
# that a team hidden on either side has no number to give; the assessments and hotspots it
# stores are then shown through the scoped readers below.

CONSTRUCT_CODES: dict[str, str] = {
    "API": "ai_pressure",
    "WHO5": "who5",
    "CBI_WORK": "cbi",
    "AAV": "autonomy",
}
"""Publication measure code -> hotspot construct (`analytics.hotspot_stats.Construct`)."""


@dataclass(frozen=True, slots=True)
class ReleasedConstruct:
    """A shown construct cell: mean, the SD of individual scores (recovered from the published
    95% t-interval: ``sd = half_width * sqrt(n) / t(0.975, n - 1)``), and n (>= k)."""

    mean: float
    sd: float
    n: int


@dataclass(frozen=True, slots=True)
class ReleasedTeamSurvey:
    team_id: int | None
    team_path: str
    respondents: int | None
    constructs: dict[str, ReleasedConstruct]


@functools.lru_cache(maxsize=4096)
def _t975(df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, df))


def _construct_from(entry: dict[str, object], k: int) -> ReleasedConstruct | None:
    if not entry.get("shown") or entry.get("score") is None:
        return None
    n = int(entry.get("n") or 0)  # type: ignore[call-overload]
    low, high = entry.get("ci_low"), entry.get("ci_high")
    if n < k or low is None or high is None:
        return None
    half = (float(high) - float(low)) / 2  # type: ignore[arg-type]
    sd = half * n**0.5 / _t975(n - 1)
    mean = min(100.0, max(0.0, float(entry["score"])))  # type: ignore[arg-type]
    return ReleasedConstruct(mean=mean, sd=max(0.0, sd), n=n)


def release_team_surveys(*, publication: Publication) -> list[ReleasedTeamSurvey]:
    """Every whole-group cell of a publication (organisation first, then every team at every
    level) with its shown respondents count and shown construct cells only; hidden, banded or
    empty figures are absent. For server-side computation acting for HR (the hotspot service);
    pages read the stored results through `release_assessments` / `release_hotspots`."""
    k = publication.k
    out = []
    cells = publication.cells.filter(breakdown="all").order_by("team_path")
    for team_id, path, figures in cells.values_list("team_id", "team_path", "figures"):
        count = figures.get("respondents", {})
        respondents = count.get("n") if count.get("shown") else None
        constructs = {}
        for code, construct in CONSTRUCT_CODES.items():
            released = _construct_from(figures.get(code, {}), k)
            if released is not None:
                constructs[construct] = released
        out.append(ReleasedTeamSurvey(team_id, path, respondents, constructs))
    return out


@dataclass(frozen=True, slots=True)
class ReleasedUsagePeriod:
    """A team's usage of one measure (one metric per source) over a period. When released:
    `total`, `contributors` (lower bound of distinct people: the largest daily count),
    `person_days` (sum of daily contributors), `top_share` (upper bound of one person's share)
    and the mean and SD over `days` of the daily usage per contributing person. When hidden:
    only the reason."""

    team_id: int
    hidden_reason: str
    total: float = 0.0
    contributors: int = 0
    person_days: int = 0
    top_share: float | None = None
    days: int = 0
    daily_mean: float = 0.0
    daily_sd: float | None = None

    @property
    def shown(self) -> bool:
        return not self.hidden_reason

    @property
    def intensity(self) -> float | None:
        """Units per contributing person per day (per active person-day)."""
        if not self.shown or self.person_days <= 0:
            return None
        return self.total / self.person_days


_PERIOD_SQL = """
SELECT team_id, SUM(t), MAX(c_max), SUM(c_sum), SUM(m), SUM(unknown),
       COUNT(CASE WHEN c_sum > 0 THEN 1 END),
       SUM(CASE WHEN c_sum > 0 THEN t / c_sum END),
       SUM(CASE WHEN c_sum > 0 THEN (t / c_sum) * (t / c_sum) END)
FROM (
    SELECT team_id, day, SUM(total) AS t, MAX(contributors) AS c_max,
           SUM(contributors) AS c_sum, SUM(max_single) AS m,
           SUM(CASE WHEN contributors IS NULL OR max_single IS NULL THEN 1 ELSE 0 END) AS unknown
    FROM {table}
    WHERE day >= %s AND day <= %s AND ({which})
    GROUP BY team_id, day
) AS per_day
GROUP BY team_id
"""


def usage_release_period(
    *, start: dt.date, end: dt.date, metric_by_source: dict[str, str]
) -> dict[int, ReleasedUsagePeriod]:
    """Every team's usage over the whole calendar months `start`..`end` (first and last UTC
    day) of the metric chosen for each source, summed over sources, released or hidden by rule
    11 with the same bounds as `usage_release_for_team` (taken over every source-day: distinct
    people >= the largest daily count; one person's total <= the sum of daily maxima), and
    shown only when each source's figure for the team is shown in its family, month by month
    (`usage_family_decisions`: no parent-minus-children difference, nor one with another range
    of months, isolates anyone). A team with no usage has no entry. Raises ValueError for a
    period that is not whole months (`usage_atoms`); the hotspots pass a round's usage month
    and the month before it (`usage_round_period`, `usage_previous_period`).
    One aggregate query for the whole organisation (per team and day, then per team); for
    server-side computation acting for HR. When any team is shown, records the period as
    released for every source of `metric_by_source` (`UsageRelease`): from then on imports
    keep those days as they are."""
    usage_atoms(start, end)
    if not metric_by_source:
        return {}
    with usage_releasing():
        out = _period_figures(start=start, end=end, metric_by_source=metric_by_source)
        if any(figure.shown for figure in out.values()):
            usage_release_record(sources=metric_by_source, start=start, end=end)
    return out


def _period_figures(
    *, start: dt.date, end: dt.date, metric_by_source: dict[str, str]
) -> dict[int, ReleasedUsagePeriod]:
    which = " OR ".join("(source = %s AND metric = %s)" for _ in metric_by_source)
    params: list[object] = [start.isoformat(), end.isoformat()]
    for source, metric in sorted(metric_by_source.items()):
        params += [source, metric]
    sql = _PERIOD_SQL.format(table=TeamDayUsage._meta.db_table, which=which)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    family = usage_family_decisions(start=start, end=end, pairs=set(metric_by_source.items()))
    out: dict[int, ReleasedUsagePeriod] = {}
    for team_id, total, lower, person_days, upper, unknown, days, x_sum, x_squares in rows:
        if unknown:
            out[team_id] = ReleasedUsagePeriod(team_id, USAGE_HIDDEN_NO_BREAKDOWN)
            continue
        total = float(total or 0.0)
        reason = usage_release_decision(
            total=total, contributors_lower_bound=int(lower), max_single_upper_bound=float(upper)
        ) or next(  # each source's own figure for the team must be shown (module docstring)
            (d[team_id] for d in family.values() if d.get(team_id)), ""
        )
        if reason:
            out[team_id] = ReleasedUsagePeriod(team_id, reason)
            continue
        mean = float(x_sum) / days if days else 0.0
        variance = (float(x_squares) - days * mean * mean) / (days - 1) if days > 1 else None
        out[team_id] = ReleasedUsagePeriod(
            team_id,
            "",
            total=total,
            contributors=int(lower),
            person_days=int(person_days),
            top_share=float(upper) / total,
            days=int(days),
            daily_mean=mean,
            daily_sd=None if variance is None else max(0.0, variance) ** 0.5,
        )
    return out


def release_assessments(*, run: object, user: object) -> list[object]:
    """A hotspot run's assessments (teams released on both sides) that `user` may see: HR all,
    a leader their subtrees, in path order."""
    roots = _visible_paths(user)
    rows = run.assessments.order_by("team_path")  # type: ignore[attr-defined]
    return [a for a in rows if _within(a.team_path, roots)]


def release_hotspots(*, user: object, queryset: object) -> list[object]:
    """The hotspots of `queryset` whose team `user` may see (HR all, leaders their subtrees)."""
    roots = _visible_paths(user)
    return [h for h in queryset if _within(h.team.path, roots)]  # type: ignore[attr-defined]


def user_may_see_team_path(*, user: object, path: str) -> bool:
    return _within(path, _visible_paths(user))
