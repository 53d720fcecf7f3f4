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
import functools
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Max, Q, Sum

from analytics.models import Publication, TeamDayUsage
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
    """Every team's usage between `start` and `end` (UTC days, inclusive) of the metric chosen
    for each source, summed over sources, released or hidden by rule 11 with the same bounds as
    `usage_release_for_team` (taken over every source-day: distinct people >= the largest daily
    count; one person's total <= the sum of daily maxima). A team with no usage has no entry.
    One aggregate query for the whole organisation (per team and day, then per team); for
    server-side computation acting for HR."""
    from django.db import connection

    if not metric_by_source:
        return {}
    which = " OR ".join("(source = %s AND metric = %s)" for _ in metric_by_source)
    params: list[object] = [start.isoformat(), end.isoformat()]
    for source, metric in sorted(metric_by_source.items()):
        params += [source, metric]
    sql = _PERIOD_SQL.format(table=TeamDayUsage._meta.db_table, which=which)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out: dict[int, ReleasedUsagePeriod] = {}
    for team_id, total, lower, person_days, upper, unknown, days, x_sum, x_squares in rows:
        if unknown:
            out[team_id] = ReleasedUsagePeriod(team_id, USAGE_HIDDEN_NO_BREAKDOWN)
            continue
        total = float(total or 0.0)
        reason = usage_release_decision(
            total=total, contributors_lower_bound=int(lower), max_single_upper_bound=float(upper)
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
