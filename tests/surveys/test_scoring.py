"""Scoring rules: published instrument scoring, missing answers, and the group statistics."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from surveys import scoring
from surveys.models import ResponseKind, Scale
from surveys.question_bank import (
    AAV_SCALE,
    AUP_SCALE,
    AWI_SCALE,
    CBI_WORK_SCALE,
    COPSOQ_QD_SCALE,
    PAU_SCALE,
    REC_SCALE,
    WHO5_SCALE,
)
from surveys.scoring import (
    ANCHORS,
    PREFER_NOT_TO_SAY_VALUE,
    ItemSpec,
    ScaleSpec,
    ai_pressure_index,
    in_risk_band,
    is_homogeneous,
    mean_ci,
    parse_answer,
    recommendation_score,
    risk_band_share,
    score_scale,
    top2_box,
    top2_values,
    valid_values,
)


def who5(*values: float | None) -> dict[str, float | None]:
    return {f"WHO5_{i}": v for i, v in enumerate(values, start=1)}


def cbi(*values: float | None) -> dict[str, float | None]:
    return {f"CBI{i}": v for i, v in enumerate(values, start=1)}


# --- Anchors and parsing ---------------------------------------------------------------------


def test_every_response_kind_and_scoring_rule_is_known_to_scoring():
    assert set(ANCHORS) == set(ResponseKind.values)
    assert set(Scale.Scoring.values) == scoring.SCORING_RULES


def test_the_anchors_store_the_published_values_in_display_order():
    assert ANCHORS["who5"][0] == (5.0, "All of the time")
    assert ANCHORS["who5"][-1] == (0.0, "At no time")
    assert [v for v, _ in ANCHORS["cbi_intensity"]] == [100, 75, 50, 25, 0]
    assert ANCHORS["cbi_frequency"][-1] == (0.0, "Never/almost never")
    assert ANCHORS["copsoq_frequency"][-1] == (0.0, "Never/hardly ever")
    assert ANCHORS["agreement"][0] == (0.0, "Strongly disagree")
    assert ANCHORS["agreement"][-1] == (100.0, "Strongly agree")
    assert [label for _, label in ANCHORS["frequency"]] == [
        "Never",
        "Rarely",
        "Sometimes",
        "Often",
        "Always",
    ]
    assert valid_values("zero_ten") == frozenset(float(v) for v in range(11))
    assert valid_values("free_text") == frozenset()


def test_every_kind_offers_a_distinct_label_per_value():
    for kind, anchors in ANCHORS.items():
        assert len({v for v, _ in anchors}) == len(anchors), kind
        assert len({label for _, label in anchors}) == len(anchors), kind
        assert scoring.PREFER_NOT_TO_SAY not in {label for _, label in anchors}


def test_parse_answer_accepts_anchor_values_and_prefer_not_to_say():
    assert parse_answer("agreement", "75") == 75.0
    assert parse_answer("agreement", " 75.0 ") == 75.0
    assert parse_answer("who5", "5") == 5.0
    assert parse_answer("zero_ten", "0") == 0.0
    assert parse_answer("cbi_frequency", PREFER_NOT_TO_SAY_VALUE) is None


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("agreement", "60"),
        ("agreement", "5"),
        ("who5", "6"),
        ("who5", "100"),
        ("zero_ten", "9.5"),
        ("zero_ten", "11"),
        ("agreement", ""),
        ("agreement", "agree"),
        ("agreement", "nan"),
        ("agreement", "inf"),
        ("free_text", "75"),
    ],
)
def test_parse_answer_refuses_values_not_in_the_anchors(kind, raw):
    with pytest.raises(ValueError, match=kind):
        parse_answer(kind, raw)


def test_parse_answer_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown response kind"):
        parse_answer("likert7", "3")


def test_score_scale_refuses_a_stored_value_outside_the_anchors():
    # A WHO-5 answer stored on the 0-100 scale by mistake must not be multiplied silently.
    with pytest.raises(ValueError, match="who5"):
        score_scale(WHO5_SCALE, who5(100, 100, 100, 100, 100))
    with pytest.raises(ValueError, match="agreement"):
        score_scale(AUP_SCALE, {"AUP1": 60, "AUP2": 50})


# --- WHO-5 -----------------------------------------------------------------------------------


def test_who5_is_the_raw_sum_times_four():
    assert score_scale(WHO5_SCALE, who5(5, 5, 5, 5, 5)) == 100
    assert score_scale(WHO5_SCALE, who5(0, 0, 0, 0, 0)) == 0
    assert score_scale(WHO5_SCALE, who5(3, 2, 4, 1, 3)) == 52


@pytest.mark.parametrize("missing", range(5))
def test_who5_needs_all_five_items(missing):
    values: list[float | None] = [5, 5, 5, 5, 5]
    values[missing] = None
    assert score_scale(WHO5_SCALE, who5(*values)) is None
    answers = who5(5, 5, 5, 5, 5)
    del answers[f"WHO5_{missing + 1}"]
    assert score_scale(WHO5_SCALE, answers) is None


def test_who5_risk_band_is_low_well_being_at_or_below_50():
    assert WHO5_SCALE.risk_label == "low well-being"
    assert in_risk_band(WHO5_SCALE, 50) is True
    assert in_risk_band(WHO5_SCALE, 52) is False
    assert in_risk_band(WHO5_SCALE, None) is None


# --- CBI -------------------------------------------------------------------------------------


def test_cbi_reverses_item_7():
    # "Always" enough energy for family and friends is the least burnt-out answer.
    assert score_scale(CBI_WORK_SCALE, cbi(0, 0, 0, 0, 0, 0, 100)) == 0
    assert score_scale(CBI_WORK_SCALE, cbi(100, 100, 100, 100, 100, 100, 0)) == 100
    assert score_scale(CBI_WORK_SCALE, cbi(50, 50, 50, 50, 50, 50, 25)) == pytest.approx(
        (6 * 50 + 75) / 7
    )


def test_cbi_is_the_mean_of_answered_items_when_at_least_four_of_seven():
    answers = cbi(100, 75, None, 50, None, None, 100)
    # 100, 75, 50 and reversed item 7 (100 -> 0): four answered.
    assert score_scale(CBI_WORK_SCALE, answers) == pytest.approx((100 + 75 + 50 + 0) / 4)


def test_cbi_is_not_scored_with_three_of_seven():
    assert score_scale(CBI_WORK_SCALE, cbi(100, 75, None, 50, None, None, None)) is None
    assert score_scale(CBI_WORK_SCALE, {"CBI1": 100, "CBI2": 75, "CBI3": 50}) is None


def test_cbi_risk_band_is_the_elevated_convention_at_or_above_50():
    assert CBI_WORK_SCALE.risk_label == "elevated (convention)"
    assert in_risk_band(CBI_WORK_SCALE, 50) is True
    assert in_risk_band(CBI_WORK_SCALE, 49.9) is False
    assert in_risk_band(AUP_SCALE, 100) is None  # no band for exploratory constructs


# --- Missing answers -------------------------------------------------------------------------


def test_a_missing_answer_is_never_counted_as_the_midpoint():
    # Imputing the midpoint would give (100 + 100 + 50) / 3 = 83.3.
    assert score_scale(AUP_SCALE, {"AUP1": 100, "AUP2": 100, "AUP3": None}) == 100
    assert score_scale(CBI_WORK_SCALE, cbi(0, 0, 0, 0, None, None, None)) == 0


def test_prefer_not_to_say_is_left_out_of_every_denominator():
    agree = AUP_SCALE.items[0]
    assert top2_box(agree, [100, 75, 0, None, None]) == pytest.approx(200 / 3)
    assert recommendation_score([10, 0, None, None]) == 0
    assert mean_ci([10, 20, None, 30]) == mean_ci([10, 20, 30])
    assert mean_ci([10, None]).n == 1
    assert risk_band_share(WHO5_SCALE, [40, 80, None]) == 50


@given(
    st.lists(
        st.one_of(st.none(), st.sampled_from([0.0, 25.0, 50.0, 75.0, 100.0])),
        min_size=3,
        max_size=3,
    )
)
def test_prefer_not_to_say_scores_as_if_the_item_was_not_asked(values):
    with_none = dict(zip(["AUP1", "AUP2", "AUP3"], values, strict=True))
    without = {code: v for code, v in with_none.items() if v is not None}
    score = score_scale(AUP_SCALE, with_none)
    assert score == score_scale(AUP_SCALE, without)
    answered = [v for v in values if v is not None]
    if len(answered) >= 2:
        assert score == pytest.approx(sum(answered) / len(answered))
    else:
        assert score is None


# --- COPSOQ and Pulse's constructs: at least half answered ------------------------------------


def test_copsoq_single_item_scores_its_value_and_nothing_when_missing():
    assert score_scale(COPSOQ_QD_SCALE, {"COPSOQ_QD1": 75}) == 75
    assert score_scale(COPSOQ_QD_SCALE, {"COPSOQ_QD1": None}) is None
    assert score_scale(COPSOQ_QD_SCALE, {}) is None


def test_half_rule_needs_at_least_half_of_the_items():
    assert score_scale(AUP_SCALE, {"AUP1": 100}) is None  # 1 of 3
    assert score_scale(AUP_SCALE, {"AUP1": 100, "AUP3": 50}) == 75  # 2 of 3
    assert score_scale(AWI_SCALE, {"AWI2": 25}) == 25  # 1 of 2 is half
    assert score_scale(AWI_SCALE, {"AWI1": None, "AWI2": None}) is None


def test_half_rule_on_a_four_item_copsoq_style_scale():
    items = tuple(
        ItemSpec(code=f"Q{i}", text=f"Item {i}", response_kind="copsoq_frequency", order=i)
        for i in range(1, 5)
    )
    spec = ScaleSpec(
        code="QD",
        name="Quantitative demands",
        construct="Quantitative demands",
        scoring="mean_half",
        items=items,
        source="test",
        licence="test",
    )
    assert score_scale(spec, {"Q1": 100}) is None
    assert score_scale(spec, {"Q1": 100, "Q4": 50}) == 75
    assert score_scale(spec, {"Q1": 100, "Q2": 50, "Q3": 0, "Q4": None}) == 50


def test_reversed_items_are_reversed_on_their_own_scale():
    assert scoring.item_value("who5", 4, reverse=True) == 1
    assert scoring.item_value("zero_ten", 9, reverse=True) == 1
    assert scoring.item_value("agreement", 25, reverse=True) == 75
    assert scoring.item_score_0_100("who5", 4) == 80


def test_pau_mixes_frequency_and_agreement_on_0_100():
    assert score_scale(PAU_SCALE, {"PAU1": 75, "PAU2": 25}) == 50
    assert PAU_SCALE.item("PAU1").response_kind == "frequency"


def test_free_text_scales_are_never_scored():
    spec = ScaleSpec(
        code="c",
        name="Comments",
        construct="-",
        scoring="none",
        items=(ItemSpec(code="t", text="Anything?", response_kind="free_text"),),
        source="HR",
        licence="HR",
    )
    assert score_scale(spec, {"t": None}) is None


def test_a_scale_spec_refuses_inconsistent_rules():
    agree = (ItemSpec(code="x", text="x", response_kind="agreement"),)
    common = {"code": "s", "name": "s", "construct": "s", "source": "s", "licence": "s"}
    with pytest.raises(ValueError, match="unknown scoring"):
        ScaleSpec(scoring="median", items=agree, **common)
    with pytest.raises(ValueError, match="WHO-5"):
        ScaleSpec(scoring="who5", items=agree, **common)
    with pytest.raises(ValueError, match="recommendation"):
        ScaleSpec(scoring="recommendation", items=agree, **common)


# --- Recommendation score --------------------------------------------------------------------


def test_recommendation_per_person_is_the_0_to_10_answer():
    assert score_scale(REC_SCALE, {"REC1": 7}) == 7
    assert score_scale(REC_SCALE, {"REC1": None}) is None


def test_recommendation_score_is_promoters_minus_detractors():
    assert recommendation_score([10, 10, 9, 5]) == 50  # 75% promoters - 25% detractors
    assert recommendation_score([10, 9, 8, 7, 6, 0, None]) == 0  # 7-8 are passives
    assert recommendation_score([0, 6]) == -100
    assert recommendation_score([None, None]) is None
    assert recommendation_score([]) is None


def test_recommendation_score_refuses_values_off_the_0_10_scale():
    with pytest.raises(ValueError):
        recommendation_score([9.5])
    with pytest.raises(ValueError):
        recommendation_score([100])


# --- AI Pressure Index -----------------------------------------------------------------------


def test_ai_pressure_index_is_the_mean_of_the_four_pressure_constructs():
    assert ai_pressure_index({"AUP": 80, "PAU": 40, "AWI": 60, "AMD": 20}) == 50


def test_ai_pressure_index_ignores_autonomy_and_voice():
    assert ai_pressure_index({"AUP": 80, "PAU": 40, "AWI": 60, "AMD": 20, "AAV": 0}) == 50


def test_ai_pressure_index_needs_two_of_four_constructs():
    # The default template's wave A asks AUP + PAU, wave B asks AWI + AMD.
    assert ai_pressure_index({"AUP": 80, "PAU": 40, "AWI": None, "AMD": None}) == 60
    assert ai_pressure_index({"AWI": 60, "AMD": 20}) == 40
    assert ai_pressure_index({"AUP": 80, "PAU": None}) is None
    assert ai_pressure_index({}) is None
    assert ai_pressure_index({"AUP": 80, "PAU": 40}, min_constructs=4) is None


def test_ai_pressure_index_from_respondent_answers():
    answers = {"AUP1": 100, "AUP2": 50, "AUP3": None, "PAU1": 25, "PAU2": None}
    constructs = scoring.score_scales([AUP_SCALE, PAU_SCALE, AWI_SCALE, AAV_SCALE], answers)
    assert constructs == {"AUP": 75, "PAU": 25, "AWI": None, "AAV": None}
    assert ai_pressure_index(constructs) == 50


# --- Top-2-box -------------------------------------------------------------------------------


def test_top2_box_counts_the_two_anchors_at_the_high_end():
    assert top2_values("agreement") == {75, 100}
    assert top2_values("frequency") == {75, 100}
    assert top2_values("who5") == {4, 5}
    assert top2_values("zero_ten") == {9, 10}
    assert top2_box(AUP_SCALE.items[0], [100, 75, 50, 0]) == 50
    assert top2_box(AUP_SCALE.items[0], [None]) is None


def test_top2_box_of_a_reversed_item_points_the_way_of_the_construct():
    energy = CBI_WORK_SCALE.item("CBI7")
    assert energy.reverse
    # "Never" and "Seldom" having enough energy are the burnout end.
    assert top2_values("cbi_frequency", reverse=True) == {0, 25}
    assert top2_box(energy, [0, 25, 100]) == pytest.approx(200 / 3)


def test_top2_box_is_labelled_by_meaning():
    assert AUP_SCALE.top2_label == "% reporting pressure"
    assert AAV_SCALE.higher_is_better
    for spec in (WHO5_SCALE, CBI_WORK_SCALE, AUP_SCALE, PAU_SCALE, AAV_SCALE, REC_SCALE):
        assert spec.top2_label.startswith("%")
        assert "favourable" not in spec.top2_label


# --- Group statistics ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        [40.0, 60.0],
        [0.0, 25.0, 50.0, 75.0, 100.0, 100.0],
        [52.0, 68.0, 20.0, 84.0, 44.0, 76.0, 60.0, 36.0, 92.0, 48.0, 56.0],
    ],
)
def test_mean_ci_matches_scipy_t_interval(values):
    result = mean_ci(values)
    low, high = stats.t.interval(
        0.95, len(values) - 1, loc=stats.tmean(values), scale=stats.sem(values)
    )
    assert result.n == len(values)
    assert result.mean == pytest.approx(sum(values) / len(values))
    assert result.low == pytest.approx(low)
    assert result.high == pytest.approx(high)
    mean, lo, hi, n = result
    assert n == len(values)
    assert lo < mean < hi


def test_mean_ci_leaves_out_missing_values():
    assert mean_ci([None, 50.0, None, 70.0]) == mean_ci([50.0, 70.0])
    assert mean_ci([None, None]) == (None, None, None, 0)
    assert mean_ci([42.0, None]) == (42.0, None, None, 1)


def test_mean_ci_of_identical_values_has_zero_width():
    assert mean_ci([50.0, 50.0, 50.0]) == (50.0, 50.0, 50.0, 3)


def test_mean_ci_refuses_nan_as_a_stand_in_for_missing():
    with pytest.raises(ValueError, match="None"):
        mean_ci([50.0, math.nan])


def test_is_homogeneous_when_all_but_one_answer_share_a_category():
    assert is_homogeneous([100, 100, 100, 100, 0])
    assert is_homogeneous([True, True, True, None, None])
    assert not is_homogeneous([100, 100, 100, 0, 25])
    assert not is_homogeneous([None, None])
