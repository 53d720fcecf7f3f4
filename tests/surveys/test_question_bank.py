"""The question bank installed by migration 0003, and the default template's waves."""

from __future__ import annotations

import importlib
from collections import Counter
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection

from surveys import question_bank
from surveys.models import Question, Scale, SurveyTemplate, TemplateItem
from surveys.scoring import ANCHORS, FREE_TEXT, ScaleSpec

pytestmark = pytest.mark.django_db

migration = importlib.import_module("surveys.migrations.0003_question_bank")

VALIDATED = {"WHO5", "CBI_WORK", "COPSOQ_QD", "COPSOQ_WP", "REC"}
EXPLORATORY = {"AUP", "PAU", "AWI", "AMD", "AAV"}


def run_migration_again() -> None:
    migration.install_bank(django_apps, SimpleNamespace(connection=connection))


def default_template() -> SurveyTemplate:
    return SurveyTemplate.objects.get(name=question_bank.DEFAULT_TEMPLATE.name)


def wave_items(wave: str) -> list[TemplateItem]:
    return list(
        TemplateItem.objects.filter(template=default_template(), wave=wave).select_related(
            "question__scale"
        )
    )


def test_the_migration_installed_the_bank_exactly():
    scales = Scale.objects.prefetch_related("questions")
    installed = {s.code: ScaleSpec.from_model(s) for s in scales}
    assert installed == {spec.code: spec for spec in question_bank.SCALES}


def test_every_scale_names_its_source_and_licence():
    assert Scale.objects.count() == len(question_bank.SCALES)
    for scale in Scale.objects.all():
        assert scale.source.strip(), scale.code
        assert scale.licence.strip(), scale.code
    assert Scale.objects.get(code="WHO5").source == (
        "WHO-5 Well-Being Index, Psychiatric Centre North Zealand"
    )
    assert Scale.objects.get(code="WHO5").licence == "Free to use with the source cited"
    assert (
        "Kristensen et al. 2005, Work & Stress 19(3)" in Scale.objects.get(code="CBI_WORK").source
    )
    assert "CC BY-NC-ND 4.0" in Scale.objects.get(code="COPSOQ_QD").licence
    for code in EXPLORATORY:
        scale = Scale.objects.get(code=code)
        assert (scale.source, scale.licence) == (
            "Pulse (exploratory)",
            "Pulse project, free to use",
        )


def test_every_installed_item_has_anchors_for_its_response_kind():
    for question in Question.objects.all():
        assert question.response_kind != FREE_TEXT
        assert len(ANCHORS[question.response_kind]) >= 5, question.code
        assert not question.created_by_hr


def test_validated_instruments_are_marked_validated_and_ours_exploratory():
    for scale in Scale.objects.all():
        assert scale.is_validated == (scale.code in VALIDATED), scale.code
        assert scale.is_exploratory == (scale.code in EXPLORATORY), scale.code


def test_item_counts_per_scale():
    counts = Counter(Question.objects.values_list("scale__code", flat=True))
    assert counts == {
        "WHO5": 5,
        "CBI_WORK": 7,
        "COPSOQ_QD": 1,
        "COPSOQ_WP": 1,
        "AUP": 3,
        "PAU": 2,
        "AWI": 2,
        "AMD": 2,
        "AAV": 2,
        "REC": 1,
    }


def test_the_instruments_carry_their_published_rules():
    who5 = Scale.objects.get(code="WHO5")
    assert who5.stem == "Over the last two weeks..."
    assert who5.min_interval_weeks == 2
    assert (who5.scoring, who5.risk_threshold, who5.higher_is_better) == ("who5", 50, True)
    cbi = Scale.objects.get(code="CBI_WORK")
    assert (cbi.scoring, cbi.min_answered, cbi.risk_threshold) == ("mean_min_count", 4, 50)
    assert not cbi.higher_is_better
    reversed_items = Question.objects.filter(reverse=True)
    assert list(reversed_items.values_list("code", flat=True)) == ["CBI7"]
    kinds = dict(Question.objects.filter(scale=cbi).values_list("code", "response_kind"))
    assert [kinds[f"CBI{i}"] for i in range(1, 8)] == 3 * ["cbi_intensity"] + 4 * ["cbi_frequency"]
    assert Question.objects.get(code="PAU1").response_kind == "frequency"
    assert Scale.objects.get(code="AAV").higher_is_better
    assert not Scale.objects.filter(code__in=EXPLORATORY - {"AAV"}, higher_is_better=True)


def test_the_recommendation_item_avoids_the_trademarked_name():
    rec = Scale.objects.get(code="REC")
    question = Question.objects.get(scale=rec)
    assert question.response_kind == "zero_ten"
    for text in (rec.name, rec.source, rec.licence, question.text):
        assert "NPS" not in text
        assert "Net Promoter" not in text


def test_default_template_asks_whole_validated_scales_in_one_wave():
    items = TemplateItem.objects.filter(template=default_template()).select_related(
        "question__scale"
    )
    waves_by_scale: dict[str, set[str]] = {}
    for item in items:
        waves_by_scale.setdefault(item.question.scale.code, set()).add(item.wave)
    for code in VALIDATED & set(waves_by_scale):
        asked = items.filter(question__scale__code=code).count()
        assert asked == Question.objects.filter(scale__code=code).count(), code
        assert len(waves_by_scale[code]) == 1, code
    assert waves_by_scale["WHO5"] == {"A"}
    assert waves_by_scale["CBI_WORK"] == {"B"}
    assert waves_by_scale["REC"] == {"quarterly"}
    assert waves_by_scale["AAV"] == {"A", "B"}
    assert "COPSOQ_QD" not in waves_by_scale
    assert "COPSOQ_WP" not in waves_by_scale


def test_default_template_waves_hold_the_planned_scales():
    wave_a = {i.question.code for i in wave_items("A")}
    wave_b = {i.question.code for i in wave_items("B")}
    assert wave_a == {f"WHO5_{i}" for i in range(1, 6)} | {
        "AUP1",
        "AUP2",
        "AUP3",
        "PAU1",
        "PAU2",
        "AAV1",
    }
    assert wave_b == {f"CBI{i}" for i in range(1, 8)} | {"AWI1", "AWI2", "AMD1", "AMD2", "AAV2"}
    assert not wave_items("every")


def test_each_wave_is_a_short_pulse():
    """8-12 items per wave. The quarterly recommendation item keeps wave A at 12, but takes
    wave B to 13 when the first round of a quarter is a wave-B round: which round gets the
    quarterly items is decided by `surveys.services.delivery.round_questions`, not the bank."""
    rec = len(wave_items("quarterly"))
    assert rec == 1
    assert 8 <= len(wave_items("A")) <= 12
    assert 8 <= len(wave_items("B")) <= 12
    assert len(wave_items("A")) + rec == 12
    assert len(wave_items("B")) + rec == 13


def test_running_the_migration_again_changes_nothing():
    before = (
        sorted(Scale.objects.values_list("code", "name", "source", "licence")),
        sorted(Question.objects.values_list("code", "text", "scale__code", "reverse")),
        sorted(TemplateItem.objects.values_list("template__name", "question__code", "wave")),
    )
    run_migration_again()
    run_migration_again()
    after = (
        sorted(Scale.objects.values_list("code", "name", "source", "licence")),
        sorted(Question.objects.values_list("code", "text", "scale__code", "reverse")),
        sorted(TemplateItem.objects.values_list("template__name", "question__code", "wave")),
    )
    assert after == before
    assert SurveyTemplate.objects.filter(name=question_bank.DEFAULT_TEMPLATE.name).count() == 1


def test_running_the_migration_again_restores_bank_wording_but_keeps_hr_template_choices():
    Question.objects.filter(code="WHO5_1").update(text="I have felt fine.")
    Scale.objects.filter(code="CBI_WORK").update(licence="")
    TemplateItem.objects.filter(template=default_template(), question__code="AAV1").update(wave="B")
    TemplateItem.objects.filter(template=default_template(), question__code="REC1").delete()

    run_migration_again()

    assert Question.objects.get(code="WHO5_1").text == "I have felt cheerful and in good spirits."
    assert Scale.objects.get(code="CBI_WORK").licence == "Free to use (NFA)"
    template = default_template()
    assert TemplateItem.objects.get(template=template, question__code="AAV1").wave == "B"
    assert TemplateItem.objects.get(template=template, question__code="REC1").wave == "quarterly"


def test_the_migration_never_touches_hr_questions():
    custom = Scale.objects.create(
        code="custom",
        name="Your own questions",
        construct="-",
        scoring="none",
        source="HR",
        licence="HR",
        order=1000,
    )
    Question.objects.create(
        scale=custom,
        code="custom-1",
        text="Is the coffee good?",
        response_kind="agreement",
        created_by_hr=True,
    )

    run_migration_again()

    assert Question.objects.get(code="custom-1").text == "Is the coffee good?"
    assert Scale.objects.get(code="custom").name == "Your own questions"
