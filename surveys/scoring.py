"""Scoring: the one place that knows response anchors, scale scores, risk bands and statistics.

Pure functions over plain data. Nothing here touches the database or applies anonymity rules:
every figure computed here leaves the system only through the release gate (k >= 5, homogeneity
bands, complementary suppression), which is not this module's job.

Conventions every caller can rely on:

- A missing answer ("Prefer not to say", or an item not asked) is `None`. It is never replaced by
  the midpoint and never counts in a denominator.
- Stored values are the anchor values of `ANCHORS` (WHO-5 0-5, recommendation 0-10, every other
  kind 0-100). Scale scores are on 0-100, except the per-person recommendation value (0-10).
- A scale is described by a `ScaleSpec` (built from plain data in `surveys.question_bank` or
  from a `Scale` row with `ScaleSpec.from_model`), so one set of rules serves the migration, the
  tests and the publications.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from scipy.stats import t as student_t

if TYPE_CHECKING:
    from surveys.models import Scale

# --- Response kinds and their anchors ----------------------------------------------------------

# The values of `surveys.models.ResponseKind` (kept as strings so this module imports no models;
# a test checks they agree).
WHO5 = "who5"
CBI_INTENSITY = "cbi_intensity"
CBI_FREQUENCY = "cbi_frequency"
COPSOQ_FREQUENCY = "copsoq_frequency"
AGREEMENT = "agreement"
FREQUENCY = "frequency"
ZERO_TEN = "zero_ten"
FREE_TEXT = "free_text"

PREFER_NOT_TO_SAY = "Prefer not to say"
# The raw form value of the "Prefer not to say" option; `parse_answer` maps it to None.
PREFER_NOT_TO_SAY_VALUE = "pns"

# Response options in display order, with the value stored for each. Published instruments keep
# their published order (highest first); Pulse's own kinds run from low to high (Strongly
# disagree -> Strongly agree, Never -> Always, 0 -> 10). "Prefer not to say" is offered after the
# anchors on every kind and is not listed here because it stores no value.
ANCHORS: dict[str, list[tuple[float, str]]] = {
    WHO5: [
        (5.0, "All of the time"),
        (4.0, "Most of the time"),
        (3.0, "More than half of the time"),
        (2.0, "Less than half of the time"),
        (1.0, "Some of the time"),
        (0.0, "At no time"),
    ],
    CBI_INTENSITY: [
        (100.0, "To a very high degree"),
        (75.0, "To a high degree"),
        (50.0, "Somewhat"),
        (25.0, "To a low degree"),
        (0.0, "To a very low degree"),
    ],
    CBI_FREQUENCY: [
        (100.0, "Always"),
        (75.0, "Often"),
        (50.0, "Sometimes"),
        (25.0, "Seldom"),
        (0.0, "Never/almost never"),
    ],
    COPSOQ_FREQUENCY: [
        (100.0, "Always"),
        (75.0, "Often"),
        (50.0, "Sometimes"),
        (25.0, "Seldom"),
        (0.0, "Never/hardly ever"),
    ],
    AGREEMENT: [
        (0.0, "Strongly disagree"),
        (25.0, "Disagree"),
        (50.0, "Neither agree nor disagree"),
        (75.0, "Agree"),
        (100.0, "Strongly agree"),
    ],
    FREQUENCY: [
        (0.0, "Never"),
        (25.0, "Rarely"),
        (50.0, "Sometimes"),
        (75.0, "Often"),
        (100.0, "Always"),
    ],
    ZERO_TEN: [
        (0.0, "0 - Not at all likely"),
        *((float(v), str(v)) for v in range(1, 10)),
        (10.0, "10 - Extremely likely"),
    ],
    FREE_TEXT: [],
}


@functools.cache
def valid_values(kind: str) -> frozenset[float]:
    """The values an answer of `kind` may store (None, "Prefer not to say", is always allowed).

    Raises ValueError for an unknown kind; free text has no values. Cached (the anchors are
    constants): a publication checks every answer of every cell.
    """
    try:
        return frozenset(value for value, _ in ANCHORS[kind])
    except KeyError:
        raise ValueError(f"unknown response kind {kind!r}") from None


def anchor_label(kind: str, value: float | None) -> str:
    """The label shown for a stored value (`PREFER_NOT_TO_SAY` for None)."""
    if value is None:
        return PREFER_NOT_TO_SAY
    for anchor, label in ANCHORS.get(kind, []):
        if anchor == value:
            return label
    raise ValueError(f"{value!r} is not an option of response kind {kind!r}")


def parse_answer(kind: str, raw: str) -> float | None:
    """Parse a submitted option (`"75"`, `"75.0"`, or `PREFER_NOT_TO_SAY_VALUE`) into the value
    to store: a float from `ANCHORS[kind]`, or None for "Prefer not to say".

    Raises ValueError, naming the allowed values, for anything else: blanks, numbers that are not
    an anchor of this kind (60 on a 0/25/50/75/100 scale), NaN/inf, free text. A form that lets
    people skip an item maps the blank to None itself before calling this.
    """
    allowed = valid_values(kind)
    if not allowed:
        raise ValueError(f"response kind {kind!r} has no options to choose from")
    text = raw.strip()
    if text == PREFER_NOT_TO_SAY_VALUE:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if value not in allowed:
        options = ", ".join(f"{v:g}" for v in sorted(allowed))
        raise ValueError(
            f"{raw!r} is not an option of response kind {kind!r}: choose one of {options} "
            f"or {PREFER_NOT_TO_SAY_VALUE!r}"
        )
    return value


def _check_value(kind: str, value: float) -> None:
    if value not in valid_values(kind):
        raise ValueError(f"{value!r} is not an option of response kind {kind!r}")


def item_value(kind: str, value: float | None, *, reverse: bool = False) -> float | None:
    """The value of one answer in the construct's direction: reversed items become
    `min + max - value` on their own kind's anchors (0-100 kinds: `100 - value`). None stays None.
    """
    if value is None:
        return None
    _check_value(kind, value)
    if not reverse:
        return value
    values = valid_values(kind)
    return min(values) + max(values) - value


def item_score_0_100(kind: str, value: float | None, *, reverse: bool = False) -> float | None:
    """One answer as 0-100 in the construct's direction (identity for the 0-100 kinds)."""
    directed = item_value(kind, value, reverse=reverse)
    if directed is None:
        return None
    values = valid_values(kind)
    low, high = min(values), max(values)
    return (directed - low) * 100.0 / (high - low)


# --- Scale specifications --------------------------------------------------------------------

# The values of `surveys.models.Scale.Scoring` (a test checks they agree).
SCORING_WHO5 = "who5"
SCORING_MEAN_MIN_COUNT = "mean_min_count"
SCORING_MEAN_HALF = "mean_half"
SCORING_RECOMMENDATION = "recommendation"
SCORING_NONE = "none"
SCORING_RULES = frozenset(
    {SCORING_WHO5, SCORING_MEAN_MIN_COUNT, SCORING_MEAN_HALF, SCORING_RECOMMENDATION, SCORING_NONE}
)


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """One item of a scale, as scoring needs it (and as the question bank installs it)."""

    code: str
    text: str
    response_kind: str
    reverse: bool = False
    order: int = 0


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    """A scale with its scoring rule and its items. Mirrors `surveys.models.Scale` field by field
    (plus `items`), so the bank's plain data and database rows are scored by the same code."""

    code: str
    name: str
    construct: str
    scoring: str
    items: tuple[ItemSpec, ...]
    source: str
    licence: str
    stem: str = ""
    min_answered: int = 1
    higher_is_better: bool = True
    risk_threshold: float | None = None
    risk_label: str = ""
    top2_label: str = ""
    is_validated: bool = False
    is_exploratory: bool = False
    min_interval_weeks: int = 0
    order: int = 0

    def __post_init__(self) -> None:
        if self.scoring not in SCORING_RULES:
            raise ValueError(f"scale {self.code}: unknown scoring rule {self.scoring!r}")
        for item in self.items:
            valid_values(item.response_kind)
        kinds = {item.response_kind for item in self.items}
        if self.scoring == SCORING_WHO5 and kinds != {WHO5}:
            raise ValueError(f"scale {self.code}: WHO-5 scoring needs WHO-5 items only")
        if self.scoring == SCORING_RECOMMENDATION and (len(self.items) != 1 or kinds != {ZERO_TEN}):
            raise ValueError(f"scale {self.code}: a recommendation scale is one 0-10 item")
        if self.scoring not in (SCORING_NONE, SCORING_RECOMMENDATION) and FREE_TEXT in kinds:
            raise ValueError(f"scale {self.code}: free-text items cannot be scored")

    @classmethod
    def from_model(cls, scale: Scale) -> ScaleSpec:
        """Build the spec of a `Scale` row and its questions (uses `scale.questions.all()`, so a
        `prefetch_related("questions")` avoids one query per scale)."""
        items = tuple(
            ItemSpec(
                code=q.code,
                text=q.text,
                response_kind=q.response_kind,
                reverse=q.reverse,
                order=q.order,
            )
            for q in sorted(scale.questions.all(), key=lambda q: (q.order, q.code))
        )
        return cls(
            code=scale.code,
            name=scale.name,
            construct=scale.construct,
            scoring=scale.scoring,
            items=items,
            source=scale.source,
            licence=scale.licence,
            stem=scale.stem,
            min_answered=scale.min_answered,
            higher_is_better=scale.higher_is_better,
            risk_threshold=scale.risk_threshold,
            risk_label=scale.risk_label,
            top2_label=scale.top2_label,
            is_validated=scale.is_validated,
            is_exploratory=scale.is_exploratory,
            min_interval_weeks=scale.min_interval_weeks,
            order=scale.order,
        )

    def item(self, code: str) -> ItemSpec:
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(f"scale {self.code} has no item {code!r}")


# --- Per-respondent scores -------------------------------------------------------------------

# WHO-5: the clinical screening cut-off. Never shown below organisation level (the "low
# well-being" band at <= 50 is what teams see).
WHO5_CLINICAL_CUTOFF = 28.0
# Recommendation score: promoters answer 9-10, detractors 0-6. The group score is noisy in small
# groups: show it only at organisation level or for groups of at least this many respondents.
PROMOTER_MIN = 9.0
DETRACTOR_MAX = 6.0
RECOMMENDATION_MIN_GROUP = 20


def score_scale(spec: ScaleSpec, answers: Mapping[str, float | None]) -> float | None:
    """One respondent's score on `spec`, or None when the scale's rule says it cannot be scored.

    `answers` maps question codes to stored values (None = "Prefer not to say"); codes of other
    scales are ignored and codes absent from `answers` count as missing. Rules:

    - `who5`: raw sum x 4 (0-100), only when every item is answered.
    - `mean_min_count`: mean of the answered items on 0-100 when at least `min_answered` are
      answered (CBI work-related: 4 of 7, item 7 reversed).
    - `mean_half`: mean of the answered items on 0-100 when at least half are answered (COPSOQ,
      Pulse's AI constructs).
    - `recommendation`: the person's 0-10 answer (the group score is `recommendation_score`).
    - `none`: always None.

    Reversed items count as `min + max - value` on their own kind. A missing item is left out of
    the mean and its denominator, never imputed. Raises ValueError for a value that is not an
    anchor of its item's kind.
    """
    if spec.scoring == SCORING_NONE:
        return None
    present = [
        (item, answers[item.code]) for item in spec.items if answers.get(item.code) is not None
    ]
    if spec.scoring == SCORING_RECOMMENDATION:
        if not present:
            return None
        item, value = present[0]
        return item_value(item.response_kind, value)
    if spec.scoring == SCORING_WHO5:
        directed = [item_value(i.response_kind, v, reverse=i.reverse) for i, v in present]
        if len(present) < len(spec.items):
            return None
        return 4.0 * math.fsum(v for v in directed if v is not None)
    scores = [item_score_0_100(i.response_kind, v, reverse=i.reverse) for i, v in present]
    if spec.scoring == SCORING_MEAN_MIN_COUNT:
        enough = len(scores) >= max(1, spec.min_answered)
    else:
        enough = len(scores) >= 1 and 2 * len(scores) >= len(spec.items)
    if not enough:
        return None
    return math.fsum(s for s in scores if s is not None) / len(scores)


def score_scales(
    specs: Iterable[ScaleSpec], answers: Mapping[str, float | None]
) -> dict[str, float | None]:
    """`score_scale` for every spec, keyed by scale code (one respondent's construct scores)."""
    return {spec.code: score_scale(spec, answers) for spec in specs}


def in_risk_band(spec: ScaleSpec, score: float | None) -> bool | None:
    """Whether a respondent's score falls in the scale's risk band: at or below `risk_threshold`
    when higher is better (WHO-5 <= 50, "low well-being"), at or above it otherwise (CBI >= 50,
    "elevated (convention)"). None when the score is missing or the scale has no band."""
    if score is None or spec.risk_threshold is None:
        return None
    if spec.higher_is_better:
        return score <= spec.risk_threshold
    return score >= spec.risk_threshold


def risk_band_share(spec: ScaleSpec, scores: Iterable[float | None]) -> float | None:
    """Percentage (0-100) of scored respondents in the risk band; missing scores are left out of
    the denominator. None when the scale has no band or nobody was scored."""
    flags = [flag for flag in (in_risk_band(spec, s) for s in scores) if flag is not None]
    if not flags:
        return None
    return 100.0 * sum(flags) / len(flags)


# --- Item-level and group statistics ---------------------------------------------------------


def top2_values(kind: str, *, reverse: bool = False) -> frozenset[float]:
    """The two anchors at the construct's high end: the two highest values, or the two lowest for
    a reversed item (so CBI item 7's top-2 is "Seldom"/"Never" having enough energy, and the
    scale's `top2_label` reads the same for every item)."""
    ordered = sorted(valid_values(kind), reverse=not reverse)
    if len(ordered) < 2:
        raise ValueError(f"response kind {kind!r} has no top-2 box")
    return frozenset(ordered[:2])


def top2_box(item: ItemSpec, values: Iterable[float | None]) -> float | None:
    """Percentage (0-100) of the answered values of `item` that fall in its top-2 box (see
    `top2_values`). Shown labelled by the scale's `top2_label` ("% reporting pressure"), never as
    "favourable". Missing answers are left out; None when nobody answered."""
    top = top2_values(item.response_kind, reverse=item.reverse)
    answered = [v for v in values if v is not None]
    for value in answered:
        _check_value(item.response_kind, value)
    if not answered:
        return None
    return 100.0 * sum(v in top for v in answered) / len(answered)


def recommendation_score(values: Iterable[float | None]) -> float | None:
    """The group recommendation score: % promoters (9-10) minus % detractors (0-6) of those who
    answered, from -100 to 100. None when nobody answered. Show it only at organisation level or
    for groups of at least `RECOMMENDATION_MIN_GROUP`."""
    answered = [v for v in values if v is not None]
    for value in answered:
        _check_value(ZERO_TEN, value)
    if not answered:
        return None
    promoters = sum(v >= PROMOTER_MIN for v in answered)
    detractors = sum(v <= DETRACTOR_MAX for v in answered)
    return 100.0 * (promoters - detractors) / len(answered)


AI_PRESSURE_CONSTRUCTS = ("AUP", "PAU", "AWI", "AMD")
AI_PRESSURE_MIN_CONSTRUCTS = 2


def ai_pressure_index(
    construct_scores: Mapping[str, float | None],
    *,
    min_constructs: int = AI_PRESSURE_MIN_CONSTRUCTS,
) -> float | None:
    """The AI Pressure Index (exploratory): mean of the available AUP, PAU, AWI and AMD scores
    (0-100, higher = more pressure), or None when fewer than `min_constructs` are available.

    Why at least 2 of 4 (the "at least half" rule the constructs themselves use): the default
    template asks AUP + PAU in wave A and AWI + AMD in wave B, so no single round has all four.
    Requiring all four would leave the index empty in every round. The price: a wave-A index and
    a wave-B index rest on different constructs, so trends must compare like waves (or a
    publication combines the latest A and B construct means first, which this function accepts
    just as well since it only averages construct scores). AAV is a resource, not pressure, and
    is never part of the index.
    """
    available = [
        score
        for code in AI_PRESSURE_CONSTRUCTS
        if (score := construct_scores.get(code)) is not None
    ]
    if len(available) < max(1, min_constructs):
        return None
    return math.fsum(available) / len(available)


class MeanCI(NamedTuple):
    mean: float | None
    low: float | None
    high: float | None
    n: int


def mean_ci(values: Iterable[float | None], confidence: float = 0.95) -> MeanCI:
    """Mean and two-sided confidence interval (Student's t, sample standard deviation) of the
    non-missing values, with n counting only those. With n = 1 the interval is (None, None);
    with n = 0 everything is None. NaN is refused (missing must be None, never NaN)."""
    answered = [float(v) for v in values if v is not None]
    if any(math.isnan(v) for v in answered):
        raise ValueError("NaN is not a value; pass None for a missing answer")
    n = len(answered)
    if n == 0:
        return MeanCI(None, None, None, 0)
    mean = math.fsum(answered) / n
    if n == 1:
        return MeanCI(mean, None, None, 1)
    # The sample standard deviation in floating point (two passes, compensated sums): the
    # statistics module's exact-fraction stdev costs a publication seconds, for digits that
    # no figure shows.
    variance = math.fsum((v - mean) ** 2 for v in answered) / (n - 1)
    half_width = _t_quantile((1 + confidence) / 2, n - 1) * math.sqrt(variance / n)
    return MeanCI(mean, mean - half_width, mean + half_width, n)


@functools.lru_cache(maxsize=4096)
def _t_quantile(probability: float, df: int) -> float:
    """Student's t quantile, cached: a publication asks for the same few (p, df) per cell."""
    return float(student_t.ppf(probability, df))


def is_homogeneous(categories: Iterable[Hashable | None]) -> bool:
    """True when all but at most one of the non-missing entries share one category (anonymity
    rule 6: the exact figure must then be replaced by a band or hidden). Pass anchor values for a
    distribution, top-2 membership for a top-2 box, risk-band flags for a risk share."""
    counts = Counter(c for c in categories if c is not None)
    if not counts:
        return False
    return counts.total() - max(counts.values()) <= 1
