"""Statistics of hotspot detection: teams where heavy AI usage meets high AI pressure and low
well-being, judged against the organisation with the uncertainty of small teams.

Pure numpy/scipy, no Django: the hotspot service reads released values (persisted publications
and released usage aggregates), builds the input types below and calls two functions.

Public API
==========
Inputs (frozen dataclasses; each one holds released values only, validated on construction):

- ``Construct``: ``AI_PRESSURE`` (0-100, higher = more pressure), ``WHO5`` (0-100, higher =
  better), ``CBI`` (work-related burnout 0-100, higher = worse), ``AUTONOMY`` (0-100, higher =
  better; reported, not tested).
- ``ConstructStat(mean, sd, n)``: one released construct cell of one team.
- ``ReleasedSurvey(n, constructs)``: a team's released respondents and construct cells.
- ``ReleasedUsage(intensity, contributors, ...)``: a team's released usage for the round's
  period: ``intensity`` per contributing person per day of ``metric`` (tokens, requests or
  suggestions), ``active_share``, ``change`` against the previous period, ``top_share``
  (concentration: the heaviest single person's share of the team's usage).
- ``TeamRound(team_id, path, survey, usage)``: one team in one round. ``survey`` / ``usage``
  are ``None`` when that side is hidden or not released: a hidden side has no number to give.
- ``OrgReference(means, intensity_median=None)``: the organisation's released means (the
  whole-organisation cell) and optionally its median usage intensity.
- ``HotspotConfig``: k, q and the practical effect sizes; defaults below.

Functions:

- ``eligible_teams(teams, *, config) -> (eligible, excluded)``: the release filter.
- ``detect_hotspots(teams, *, org, config) -> HotspotReport``: one round, every level.
- ``usage_score_correlations(current, *, previous=None, config) -> tuple[Correlation, ...]``:
  organisation-wide correlation of usage intensity with pressure, burnout and WHO-5, in the
  same round and lagged by one round.

Outputs: ``HotspotReport`` (``.hotspots``, ``.containing``, ``.assessments``, ``.excluded``),
``TeamAssessment`` (with ``reason`` in words and numbers), ``Correlation``.

Method
======
1. Release filter. A team is assessed only when both sides are released: survey respondents
   and every construct cell used >= k, usage contributors >= k and the heaviest person's share
   <= 85%. ``ConstructStat``, ``ReleasedSurvey`` and ``ReleasedUsage`` refuse n below the hard
   floor of 5 at construction, and ``eligible_teams`` applies the configured k (>= 5), so a
   hidden team cannot be tested, flagged, named as a descendant or counted in a correlation.
2. Reference sample. Between-team quantities are estimated on the *finest visible partition*:
   assessed teams with no assessed descendant, so each respondent counts once.
3. Test per team, one-sided, three components:
   - AI pressure above the organisation mean and well-being below it (WHO-5 below, or CBI above;
     when both are released the smaller p-value is Bonferroni-doubled). The standard error
     uses a moderated variance ``s2 = (d0 * s_pool^2 + (n - 1) * s^2) / (d0 + n - 1)`` with
     ``s_pool`` the pooled within-team SD of the finest partition and ``d0 = prior_df`` (10), and
     a t reference with ``d0 + n - 1`` df: a 5-person team with an unusually small SD cannot
     look certain, and the test keeps the small-team uncertainty of its n. The organisation
     mean is treated as known (it rests on every respondent); a large team pulls it toward
     itself, which makes its test conservative.
   - Usage intensity above the organisation median, on a log scale:
     ``z = (log I - median log I) / sqrt(se^2 + (1.2533 * spread)^2 / m)``, the median over the
     finest partition (robust to the heavy teams being tested) or ``org.intensity_median``.
     Usage is a census of the period, not a sample, so ``se`` is the team's day-to-day
     fluctuation (``ReleasedUsage.log_se``); when the service cannot give it, ``se`` is the
     robust spread between teams (``1.4826 * MAD`` of log intensity, floored at
     ``min_log_scale``), which is conservative because it counts real differences between
     teams as noise. The second term is the sampling error of the median itself.
   - Intersection-union test: the team's p-value is the largest of the three, so all three
     must hold. Benjamini-Hochberg at ``q`` across every assessed team at every level controls
     the false-discovery rate of the flags. ``q`` defaults to 0.10, not 0.05: the
     intersection-union test is conservative (all three components must pass at q), so the
     realised error is far below q (measured on generated organisations: precision >= 0.99,
     a false alarm in < 1% of organisations without hotspots), and 0.10 buys about ten points of
     recall for moderate hotspots.
4. Empirical-Bayes shrinkage and practical effect. Each construct mean is shrunk toward the
   organisation mean by its n: ``shrunk = org + B * (mean - org)``, ``B = tau2 / (tau2 + s2/n)``,
   with the between-team variance ``tau2`` estimated by the method of moments of DerSimonian and
   Laird over the finest partition: ``tau2 = max(0, (Q - (m - 1)) / (W - sum(w^2) / W))``,
   ``w = n / s2``, ``W = sum(w)``, ``Q = sum(w * (mean - weighted mean)^2)``. The shrunk mean
   moves at most ``max_shrink_se`` (1) standard errors from the team's mean (Efron and Morris's
   limited translation): when teams barely differ, tau2 is near zero and the normal prior
   would otherwise erase a genuine outlier. A significant team is flagged only when its
   *shrunk* pressure is >= org + ``min_points``, its shrunk well-being
   is ``min_points`` worse than the organisation, and its intensity is >= ``min_intensity_ratio``
   times the organisation median: a huge team is never flagged for a trivial difference, and a
   tiny team's extreme mean counts only as much as its n supports.
5. Nesting. Every level is a candidate. A flagged team with a flagged descendant is reported as
   ``CONTAINS_HOTSPOT`` (with the descendants' ids), not as a hotspot: a parent is never a
   hotspot because of one child. A flagged team without a flagged descendant is a ``HOTSPOT``
   (the deepest evidence), and its assessed ancestors are marked ``CONTAINS_HOTSPOT``.
6. Correlations. Across the finest partition of teams released on both sides: Pearson r of log
   intensity with the construct mean, 95% CI by Fisher z (``atanh r +- 1.96 / sqrt(m - 3)``),
   Spearman rho, and the same with usage of the previous round matched by team id (lag 1).
   ``r`` is ``None`` with a ``reason`` below ``min_teams`` teams.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import numpy as np
from scipy import stats

ABSOLUTE_MIN_GROUP_SIZE: Final = 5
"""k can be raised, never lowered below 5 (anonymity rule 1); released values below it do not
exist, so the input types refuse them."""

MAX_TOP_SHARE: Final = 0.85
"""Usage is released only when no single person contributes more than this share (rule 11)."""

TEAM_PATH_SEPARATOR: Final = "/"

TeamId = int | str


class Construct(StrEnum):
    AI_PRESSURE = "ai_pressure"
    WHO5 = "who5"
    CBI = "cbi"
    AUTONOMY = "autonomy"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: Final = {
    Construct.AI_PRESSURE: "AI Pressure",
    Construct.WHO5: "WHO-5",
    Construct.CBI: "CBI burnout",
    Construct.AUTONOMY: "autonomy",
}

# Direction in which a construct is worse: +1 higher is worse, -1 lower is worse.
_WORSE: Final = {
    Construct.AI_PRESSURE: 1.0,
    Construct.WHO5: -1.0,
    Construct.CBI: 1.0,
    Construct.AUTONOMY: -1.0,
}
WELLBEING_CONSTRUCTS: Final = (Construct.WHO5, Construct.CBI)


class Status(StrEnum):
    HOTSPOT = "hotspot"
    CONTAINS_HOTSPOT = "contains_hotspot"
    CLEAR = "clear"


# ----------------------------------------------------------------------------------- inputs


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True, slots=True)
class ConstructStat:
    """A released construct cell: mean (0-100), SD of the individual scores, and n >= 5."""

    mean: float
    sd: float
    n: int

    def __post_init__(self) -> None:
        _require(0.0 <= self.mean <= 100.0, f"construct mean {self.mean} outside 0-100")
        _require(self.sd >= 0.0 and math.isfinite(self.sd), f"construct SD {self.sd} invalid")
        _require(
            self.n >= ABSOLUTE_MIN_GROUP_SIZE,
            f"a construct cell with n={self.n} is not a released value",
        )


@dataclass(frozen=True, slots=True)
class ReleasedSurvey:
    """A team's released survey side: respondents n (>= 5) and the released construct cells
    (a construct hidden or not asked this round is simply absent)."""

    n: int
    constructs: Mapping[Construct, ConstructStat]

    def __post_init__(self) -> None:
        _require(
            self.n >= ABSOLUTE_MIN_GROUP_SIZE,
            f"a survey side with n={self.n} respondents is not a released value",
        )

    def stat(self, construct: Construct, *, min_group_size: int) -> ConstructStat | None:
        cell = self.constructs.get(construct)
        return cell if cell is not None and cell.n >= min_group_size else None


@dataclass(frozen=True, slots=True)
class ReleasedUsage:
    """A team's released usage for the round's period.

    ``intensity``: ``metric`` units per contributing person per day (> 0). ``contributors``:
    people who contributed (>= 5). ``active_share``: contributors / team size. ``change``:
    relative change of intensity against the previous period (0.4 = +40%). ``top_share``: the
    heaviest person's share of the team's usage (the release gate keeps it <= 0.85).
    ``log_se``: standard error of ``log(intensity)`` from the team's day-to-day fluctuation
    (the service can compute it from the team x day aggregates: SD of the daily per-person
    intensity / its mean / sqrt(days)); ``None`` when unknown."""

    intensity: float
    contributors: int
    metric: str = "tokens"
    active_share: float | None = None
    change: float | None = None
    top_share: float | None = None
    log_se: float | None = None

    def __post_init__(self) -> None:
        _require(
            self.intensity > 0.0 and math.isfinite(self.intensity),
            f"usage intensity {self.intensity} must be positive",
        )
        _require(
            self.contributors >= ABSOLUTE_MIN_GROUP_SIZE,
            f"usage with {self.contributors} contributors is not a released value",
        )
        for name in ("active_share", "top_share"):
            value = getattr(self, name)
            _require(value is None or 0.0 <= value <= 1.0, f"{name}={value} outside 0-1")
        _require(self.log_se is None or self.log_se >= 0.0, f"log_se={self.log_se} negative")


@dataclass(frozen=True, slots=True)
class TeamRound:
    """One team in one round. ``path`` is the full team path (``Engineering/Platform/API``);
    ``survey`` / ``usage`` are ``None`` when that side is hidden or not released."""

    team_id: TeamId
    path: str
    survey: ReleasedSurvey | None
    usage: ReleasedUsage | None

    @property
    def level(self) -> int:
        """0 for a top-level team, as ``Team.depth``."""
        return self.path.count(TEAM_PATH_SEPARATOR)


@dataclass(frozen=True, slots=True)
class OrgReference:
    """The organisation's released means per construct (the whole-organisation cell) and,
    optionally, the organisation median intensity. A construct missing here falls back to the
    respondent-weighted mean of the finest partition; a missing median to the median of the
    finest partition's intensities."""

    means: Mapping[Construct, float]
    intensity_median: float | None = None


@dataclass(frozen=True, slots=True)
class HotspotConfig:
    """Thresholds. ``q``: Benjamini-Hochberg false-discovery rate (see the module docstring for
    why 0.10). ``min_points``: practical effect on the 0-100 scales,
    applied to shrunk means. ``min_intensity_ratio``: usage intensity against the organisation
    median. ``max_shrink_se``: the most a shrunk mean moves, in standard errors of the team
    mean (limited translation). ``prior_df``: weight of the pooled SD in each team's moderated
    variance.
    ``min_log_scale``: floor of the robust spread of log intensity. ``min_teams``: fewest
    teams in the finest partition for detection and for a correlation."""

    min_group_size: int = ABSOLUTE_MIN_GROUP_SIZE
    q: float = 0.10
    min_points: float = 5.0
    min_intensity_ratio: float = 1.5
    max_top_share: float = MAX_TOP_SHARE
    prior_df: float = 10.0
    min_log_scale: float = 0.05
    min_teams: int = 5
    max_shrink_se: float = 1.0

    def __post_init__(self) -> None:
        _require(
            self.min_group_size >= ABSOLUTE_MIN_GROUP_SIZE,
            f"min_group_size={self.min_group_size}: k can be raised, never lowered below 5",
        )
        _require(0.0 < self.q < 1.0, f"q={self.q} outside (0, 1)")
        _require(self.max_top_share <= MAX_TOP_SHARE, "max_top_share can only be lowered")
        _require(self.prior_df >= 0.0 and self.min_log_scale > 0.0, "invalid variance settings")
        _require(self.min_teams >= 4, "a Fisher-z interval needs at least 4 teams")


# ---------------------------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class ConstructEstimate:
    """One tested construct of one team: released mean, shrunk mean, organisation mean, the
    shrinkage weight B (0 = all organisation, 1 = all team) and the one-sided p-value."""

    construct: Construct
    mean: float
    n: int
    shrunk: float
    org_mean: float
    weight: float
    p_value: float

    @property
    def worse_by(self) -> float:
        """Shrunk difference from the organisation, positive when worse."""
        return _WORSE[self.construct] * (self.shrunk - self.org_mean)


@dataclass(frozen=True, slots=True)
class TeamAssessment:
    """Every assessed team. ``flagged``: significant after BH and practically large;
    ``status``: after the nesting rule; ``reason``: words and numbers (empty when clear)."""

    team_id: TeamId
    path: str
    level: int
    respondents: int
    contributors: int
    pressure: ConstructEstimate
    wellbeing: ConstructEstimate
    autonomy: float | None
    intensity: float
    intensity_ratio: float
    metric: str
    active_share: float | None
    change: float | None
    p_usage: float
    p_value: float
    q_value: float
    significant: bool
    practical: bool
    status: Status
    reason: str
    contains: tuple[TeamId, ...] = ()

    @property
    def flagged(self) -> bool:
        return self.significant and self.practical


@dataclass(frozen=True, slots=True)
class HotspotReport:
    """Result of one round; ``assessments`` in path order. ``excluded`` maps each team not
    assessed to why (hidden on a side, construct not released); ``note`` says why nothing could
    be assessed, if so."""

    assessments: tuple[TeamAssessment, ...]
    excluded: Mapping[TeamId, str]
    n_tested: int
    q: float
    note: str | None = None

    @property
    def hotspots(self) -> tuple[TeamAssessment, ...]:
        """Hotspots, strongest evidence first."""
        found = [a for a in self.assessments if a.status is Status.HOTSPOT]
        return tuple(sorted(found, key=lambda a: (a.q_value, a.path)))

    @property
    def containing(self) -> tuple[TeamAssessment, ...]:
        """Assessed ancestors of hotspots, by path."""
        found = [a for a in self.assessments if a.status is Status.CONTAINS_HOTSPOT]
        return tuple(sorted(found, key=lambda a: a.path))


@dataclass(frozen=True, slots=True)
class Correlation:
    """Across teams: log usage intensity (of the same round, or of the previous one when
    ``lag`` is 1) against a construct mean. ``r`` is ``None`` with a ``reason`` when it cannot
    be estimated."""

    outcome: Construct
    lag: int
    n_teams: int
    r: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    spearman: float | None = None
    reason: str | None = None


# ---------------------------------------------------------------------------- release filter


def _exclusion(team: TeamRound, config: HotspotConfig) -> str | None:
    k = config.min_group_size
    if team.survey is None:
        return "survey results hidden"
    if team.survey.n < k:
        return "fewer respondents than the minimum group size"
    if team.usage is None:
        return "usage not released"
    if team.usage.contributors < k:
        return "fewer usage contributors than the minimum group size"
    if team.usage.top_share is not None and team.usage.top_share > config.max_top_share:
        return "usage dominated by one person"
    return None


def eligible_teams(
    teams: Iterable[TeamRound], *, config: HotspotConfig
) -> tuple[list[TeamRound], dict[TeamId, str]]:
    """Split teams into those released on both sides and the rest (team id -> why).

    The only door into detection and correlation: both call it first. Pure."""
    eligible: list[TeamRound] = []
    excluded: dict[TeamId, str] = {}
    for team in teams:
        why = _exclusion(team, config)
        if why is None:
            eligible.append(team)
        else:
            excluded[team.team_id] = why
    return eligible, excluded


def _ancestor_paths(path: str) -> list[str]:
    parts = path.split(TEAM_PATH_SEPARATOR)
    return [TEAM_PATH_SEPARATOR.join(parts[:i]) for i in range(1, len(parts))]


def _finest_mask(paths: Sequence[str]) -> np.ndarray:
    """True for paths with no descendant among ``paths``."""
    has_child: set[str] = set()
    for path in paths:
        has_child.update(_ancestor_paths(path))
    return np.fromiter((p not in has_child for p in paths), dtype=bool, count=len(paths))


# ---------------------------------------------------------------------------------- numerics


def _pooled_variance(sd: np.ndarray, n: np.ndarray) -> float:
    df = n - 1.0
    total = float(df.sum())
    return float((df * sd**2).sum() / total) if total > 0 else 0.0


def _dersimonian_laird_tau2(mean: np.ndarray, var_of_mean: np.ndarray) -> float:
    """Method-of-moments between-team variance (DerSimonian and Laird, 1986)."""
    if mean.size < 2:
        return 0.0
    w = 1.0 / var_of_mean
    w_sum = float(w.sum())
    centre = float((w * mean).sum() / w_sum)
    q_stat = float((w * (mean - centre) ** 2).sum())
    denominator = w_sum - float((w**2).sum()) / w_sum
    if denominator <= 0:
        return 0.0
    return max(0.0, (q_stat - (mean.size - 1)) / denominator)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """BH-adjusted q-values (step-up), same order as ``p_values``."""
    m = p_values.size
    if m == 0:
        return p_values.copy()
    order = np.argsort(p_values, kind="stable")
    ranked = p_values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    q_values = np.empty(m)
    q_values[order] = np.minimum(adjusted, 1.0)
    return q_values


@dataclass(slots=True)
class _ConstructColumn:
    """One construct over the assessed teams (NaN where not released)."""

    construct: Construct
    mean: np.ndarray
    sd: np.ndarray
    n: np.ndarray
    org_mean: float = 0.0
    shrunk: np.ndarray = field(default_factory=lambda: np.empty(0))
    weight: np.ndarray = field(default_factory=lambda: np.empty(0))
    p_value: np.ndarray = field(default_factory=lambda: np.empty(0))


def _column(
    construct: Construct, teams: Sequence[TeamRound], min_group_size: int
) -> _ConstructColumn:
    size = len(teams)
    mean, sd, n = np.full(size, np.nan), np.full(size, np.nan), np.full(size, np.nan)
    for i, team in enumerate(teams):
        assert team.survey is not None  # guaranteed by eligible_teams
        cell = team.survey.stat(construct, min_group_size=min_group_size)
        if cell is not None:
            mean[i], sd[i], n[i] = cell.mean, cell.sd, cell.n
    return _ConstructColumn(construct, mean, sd, n)


def _estimate(
    column: _ConstructColumn, finest: np.ndarray, org: OrgReference, config: HotspotConfig
) -> None:
    """Fill org mean, shrunk means, weights and one-sided p-values (NaN where absent)."""
    present = ~np.isnan(column.mean)
    base = present & finest
    if not base.any():
        base = present
    if column.construct in org.means:
        column.org_mean = float(org.means[column.construct])
    elif base.any():
        column.org_mean = float(np.average(column.mean[base], weights=column.n[base]))
    pooled = _pooled_variance(column.sd[base], column.n[base]) if base.any() else 0.0
    df_team = column.n - 1.0
    moderated = (config.prior_df * pooled + df_team * column.sd**2) / (config.prior_df + df_team)
    # A released cell with SD 0 and no pooled spread (degenerate data): avoid division by zero.
    moderated = np.where(moderated > 0, moderated, 1e-9)
    var_of_mean = moderated / column.n
    tau2 = _dersimonian_laird_tau2(column.mean[base], var_of_mean[base])
    column.weight = tau2 / (tau2 + var_of_mean)
    shrunk = column.org_mean + column.weight * (column.mean - column.org_mean)
    # Limited translation (Efron and Morris, 1972): with tau2 near zero the normal prior would
    # pull a genuine outlier all the way to the organisation mean; move at most d SEs.
    limit = config.max_shrink_se * np.sqrt(var_of_mean)
    column.shrunk = np.clip(shrunk, column.mean - limit, column.mean + limit)
    t_stat = _WORSE[column.construct] * (column.mean - column.org_mean) / np.sqrt(var_of_mean)
    column.p_value = stats.t.sf(t_stat, config.prior_df + df_team)


def _format_reason(
    team: TeamRound, pressure: ConstructEstimate, wellbeing: ConstructEstimate, ratio: float
) -> str:
    assert team.usage is not None and team.survey is not None
    return (
        f"{team.usage.metric} per person {ratio:.1f}x the organisation median; "
        f"{pressure.construct.label} {pressure.mean:.0f} vs {pressure.org_mean:.0f}; "
        f"{wellbeing.construct.label} {wellbeing.mean:.0f} vs {wellbeing.org_mean:.0f}; "
        f"{team.survey.n} respondents"
    )


# --------------------------------------------------------------------------------- detection


def detect_hotspots(
    teams: Iterable[TeamRound],
    *,
    org: OrgReference,
    config: HotspotConfig | None = None,
) -> HotspotReport:
    """Assess every team of one round (every level) and flag hotspots (module docstring).

    Pure and deterministic: the same input gives the same report. Teams hidden on either side
    are listed in ``excluded`` and nowhere else. Called by the hotspot service after a round's
    publication and the period's usage aggregates are released."""
    config = config or HotspotConfig()
    released, excluded = eligible_teams(teams, config=config)
    metrics = {team.usage.metric for team in released if team.usage is not None}
    _require(len(metrics) <= 1, f"one usage metric per detection, got {sorted(metrics)}")

    k = config.min_group_size
    assessed: list[TeamRound] = []
    for team in released:
        assert team.survey is not None
        if team.survey.stat(Construct.AI_PRESSURE, min_group_size=k) is None:
            excluded[team.team_id] = "AI pressure not released"
        elif all(team.survey.stat(c, min_group_size=k) is None for c in WELLBEING_CONSTRUCTS):
            excluded[team.team_id] = "well-being (WHO-5 or CBI) not released"
        else:
            assessed.append(team)
    # Path order makes the result independent of the input order, down to the last bit.
    assessed.sort(key=lambda team: team.path)

    paths = [team.path for team in assessed]
    finest = _finest_mask(paths)
    if int(finest.sum()) < config.min_teams:
        return HotspotReport(
            assessments=(),
            excluded=excluded,
            n_tested=0,
            q=config.q,
            note=f"fewer than {config.min_teams} teams released on both sides",
        )

    columns = {c: _column(c, assessed, k) for c in (Construct.AI_PRESSURE, *WELLBEING_CONSTRUCTS)}
    for column in columns.values():
        _estimate(column, finest, org, config)

    # Well-being: WHO-5 below or CBI above; Bonferroni over the measures released for the team.
    wb_p = np.vstack([columns[c].p_value for c in WELLBEING_CONSTRUCTS])
    available = ~np.isnan(wb_p)
    wb_choice = np.argmin(np.where(available, wb_p, np.inf), axis=0)
    wb_min = np.take_along_axis(wb_p, wb_choice[None, :], axis=0)[0]
    p_wellbeing = np.minimum(1.0, wb_min * available.sum(axis=0))

    log_intensity = np.log([team.usage.intensity for team in assessed if team.usage])
    if org.intensity_median is not None:
        log_median = math.log(org.intensity_median)
    else:
        log_median = float(np.median(log_intensity[finest]))
    mad = float(np.median(np.abs(log_intensity[finest] - np.median(log_intensity[finest]))))
    between_teams = max(1.4826 * mad, config.min_log_scale)
    # A team's own day-to-day SE when the service gives it; else the spread between teams.
    own_se = np.array(
        [t.usage.log_se if t.usage and t.usage.log_se is not None else np.nan for t in assessed]
    )
    team_var = np.where(np.isnan(own_se), between_teams**2, own_se**2)
    # Uncertainty of the sample median itself (1.2533 sigma / sqrt(m)).
    median_var = (1.2533 * between_teams) ** 2 / int(finest.sum())
    p_usage = stats.norm.sf((log_intensity - log_median) / np.sqrt(team_var + median_var))
    ratio = np.exp(log_intensity - log_median)

    pressure = columns[Construct.AI_PRESSURE]
    p_team = np.maximum.reduce([pressure.p_value, p_wellbeing, p_usage])
    q_values = benjamini_hochberg(p_team)
    significant = q_values <= config.q

    estimates: list[tuple[ConstructEstimate, ConstructEstimate]] = []
    practical = np.zeros(len(assessed), dtype=bool)
    for i in range(len(assessed)):
        pair = (
            _estimate_of(pressure, i),
            _estimate_of(columns[WELLBEING_CONSTRUCTS[wb_choice[i]]], i),
        )
        estimates.append(pair)
        practical[i] = (
            pair[0].worse_by >= config.min_points
            and pair[1].worse_by >= config.min_points
            and ratio[i] >= config.min_intensity_ratio
        )
    flagged = significant & practical

    # Nesting: the deepest flagged team is the hotspot; its assessed ancestors contain it.
    index_of = {path: i for i, path in enumerate(paths)}
    flagged_below: dict[int, list[int]] = {}
    for i in np.flatnonzero(flagged):
        for ancestor in _ancestor_paths(paths[i]):
            j = index_of.get(ancestor)
            if j is not None:
                flagged_below.setdefault(j, []).append(int(i))
    hotspot = flagged.copy()
    hotspot[list(flagged_below)] = False
    status = [
        Status.HOTSPOT
        if hotspot[i]
        else Status.CONTAINS_HOTSPOT
        if i in flagged_below
        else Status.CLEAR
        for i in range(len(assessed))
    ]

    assessments = []
    for i, team in enumerate(assessed):
        assert team.usage is not None and team.survey is not None
        contains = tuple(
            assessed[j].team_id
            for j in sorted(flagged_below.get(i, ()), key=paths.__getitem__)
            if hotspot[j]
        )
        if status[i] is Status.HOTSPOT:
            reason = _format_reason(team, *estimates[i], float(ratio[i]))
        elif status[i] is Status.CONTAINS_HOTSPOT:
            reason = "contains " + ", ".join(
                assessed[j].path
                for j in sorted((j for j in flagged_below[i] if hotspot[j]), key=paths.__getitem__)
            )
        else:
            reason = ""
        autonomy = team.survey.stat(Construct.AUTONOMY, min_group_size=k)
        assessments.append(
            TeamAssessment(
                team_id=team.team_id,
                path=team.path,
                level=team.level,
                respondents=team.survey.n,
                contributors=team.usage.contributors,
                pressure=estimates[i][0],
                wellbeing=estimates[i][1],
                autonomy=autonomy.mean if autonomy else None,
                intensity=team.usage.intensity,
                intensity_ratio=float(ratio[i]),
                metric=team.usage.metric,
                active_share=team.usage.active_share,
                change=team.usage.change,
                p_usage=float(p_usage[i]),
                p_value=float(p_team[i]),
                q_value=float(q_values[i]),
                significant=bool(significant[i]),
                practical=bool(practical[i]),
                status=status[i],
                reason=reason,
                contains=contains,
            )
        )
    return HotspotReport(
        assessments=tuple(assessments), excluded=excluded, n_tested=len(assessed), q=config.q
    )


def _estimate_of(column: _ConstructColumn, i: int) -> ConstructEstimate:
    return ConstructEstimate(
        construct=column.construct,
        mean=float(column.mean[i]),
        n=int(column.n[i]),
        shrunk=float(column.shrunk[i]),
        org_mean=column.org_mean,
        weight=float(column.weight[i]),
        p_value=float(column.p_value[i]),
    )


# ------------------------------------------------------------------------------ correlations

_Z_95: Final = float(stats.norm.ppf(0.975))


def _correlate(
    outcome: Construct, lag: int, x: np.ndarray, y: np.ndarray, min_teams: int
) -> Correlation:
    m = int(x.size)
    if m < min_teams:
        return Correlation(
            outcome, lag, m, reason=f"{m} teams released on both sides; at least {min_teams} needed"
        )
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return Correlation(outcome, lag, m, reason="no variation across teams")
    r = float(np.clip(np.corrcoef(x, y)[0, 1], -0.999999, 0.999999))
    half = _Z_95 / math.sqrt(m - 3)
    centre = math.atanh(r)
    t_stat = r * math.sqrt((m - 2) / (1 - r * r))
    return Correlation(
        outcome,
        lag,
        m,
        r=r,
        ci_low=math.tanh(centre - half),
        ci_high=math.tanh(centre + half),
        p_value=float(2 * stats.t.sf(abs(t_stat), m - 2)),
        spearman=float(stats.spearmanr(x, y).statistic),
    )


def _pairs(
    survey_side: Sequence[TeamRound],
    usage_by_team: Mapping[TeamId, ReleasedUsage],
    outcome: Construct,
    min_group_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    rows = []
    for team in survey_side:
        usage = usage_by_team.get(team.team_id)
        assert team.survey is not None
        cell = team.survey.stat(outcome, min_group_size=min_group_size)
        if usage is not None and cell is not None:
            rows.append((team.path, math.log(usage.intensity), cell.mean))
    if not rows:
        return np.empty(0), np.empty(0)
    keep = _finest_mask([row[0] for row in rows])
    x = np.array([row[1] for row in rows])[keep]
    y = np.array([row[2] for row in rows])[keep]
    return x, y


def usage_score_correlations(
    current: Iterable[TeamRound],
    *,
    previous: Iterable[TeamRound] | None = None,
    config: HotspotConfig | None = None,
    outcomes: Sequence[Construct] = (Construct.AI_PRESSURE, Construct.CBI, Construct.WHO5),
) -> tuple[Correlation, ...]:
    """Organisation-wide correlation across teams of log usage intensity with each outcome:
    lag 0 (usage and scores of ``current``) and lag 1 (usage of ``previous``, scores of
    ``current``, matched by team id). Only teams released on both sides (in the round each
    side comes from) enter, one per finest visible partition cell. Pure."""
    config = config or HotspotConfig()
    current_teams = list(current)
    released_now, _ = eligible_teams(current_teams, config=config)
    k = config.min_group_size
    result: list[Correlation] = []
    usage_now = {t.team_id: t.usage for t in released_now if t.usage is not None}
    for outcome in outcomes:
        x, y = _pairs(released_now, usage_now, outcome, k)
        result.append(_correlate(outcome, 0, x, y, config.min_teams))
    if previous is None:
        result.extend(
            Correlation(outcome, 1, 0, reason="no previous round") for outcome in outcomes
        )
        return tuple(result)
    released_before, _ = eligible_teams(previous, config=config)
    usage_before = {t.team_id: t.usage for t in released_before if t.usage is not None}
    # Survey side of the current round: released survey, whatever its current usage.
    survey_now = [t for t in current_teams if t.survey is not None and t.survey.n >= k]
    for outcome in outcomes:
        x, y = _pairs(survey_now, usage_before, outcome, k)
        result.append(_correlate(outcome, 1, x, y, config.min_teams))
    return tuple(result)
