"""The question bank shipped with Pulse, as plain data: scales, their items, and the default
template. Nothing here touches the database.

Migration 0003 installs a frozen copy of this data (a migration must not change when this module
does); a test checks that the migrated database matches this module exactly, so a change here
needs a new data migration.

Item wording of the validated instruments is verbatim from their sources and must not be edited
(COPSOQ's licence requires verbatim use). Pulse's own AI items are exploratory and non-validated.
"""

from __future__ import annotations

from dataclasses import dataclass

from surveys.scoring import (
    AGREEMENT,
    CBI_FREQUENCY,
    CBI_INTENSITY,
    COPSOQ_FREQUENCY,
    FREQUENCY,
    SCORING_MEAN_HALF,
    SCORING_MEAN_MIN_COUNT,
    SCORING_RECOMMENDATION,
    SCORING_WHO5,
    WHO5,
    ZERO_TEN,
    ItemSpec,
    ScaleSpec,
)

# Values of `surveys.models.Wave`.
WAVE_EVERY = "every"
WAVE_A = "A"
WAVE_B = "B"
WAVE_QUARTERLY = "quarterly"


@dataclass(frozen=True, slots=True)
class TemplateSpec:
    """A survey template: which question is asked in which wave."""

    name: str
    description: str
    items: tuple[tuple[str, str], ...]  # (question code, wave)
    include_comment: bool = True


def _items(prefix: str, kind: str, texts: list[str]) -> tuple[ItemSpec, ...]:
    """Items numbered from 1 (`AUP1`, `AUP2`, ...), none reversed."""
    return tuple(
        ItemSpec(code=f"{prefix}{i}", text=text, response_kind=kind, order=i)
        for i, text in enumerate(texts, start=1)
    )


_PULSE_SOURCE = "Pulse (exploratory)"
_PULSE_LICENCE = "Pulse project, free to use"
_AGREE_STEM = "How much do you agree with each statement?"
_COPSOQ_SOURCE = "COPSOQ III, Copenhagen Psychosocial Questionnaire (COPSOQ International Network)"
_COPSOQ_LICENCE = (
    "CC BY-NC-ND 4.0: workplace use allowed with verbatim wording, a preventive purpose and "
    "respondents' anonymity"
)

WHO5_SCALE = ScaleSpec(
    code="WHO5",
    name="WHO-5 Well-Being Index",
    construct="Well-being",
    stem="Over the last two weeks...",
    scoring=SCORING_WHO5,
    min_answered=5,
    higher_is_better=True,
    risk_threshold=50.0,
    risk_label="low well-being",
    top2_label="% most or all of the time",
    is_validated=True,
    min_interval_weeks=2,
    source="WHO-5 Well-Being Index, Psychiatric Centre North Zealand",
    licence="Free to use with the source cited",
    order=10,
    items=_items(
        "WHO5_",
        WHO5,
        [
            "I have felt cheerful and in good spirits.",
            "I have felt calm and relaxed.",
            "I have felt active and vigorous.",
            "I woke up feeling fresh and rested.",
            "My daily life has been filled with things that interest me.",
        ],
    ),
)

CBI_WORK_SCALE = ScaleSpec(
    code="CBI_WORK",
    name="Copenhagen Burnout Inventory: work-related burnout",
    construct="Work-related burnout",
    scoring=SCORING_MEAN_MIN_COUNT,
    min_answered=4,
    higher_is_better=False,
    risk_threshold=50.0,
    risk_label="elevated (convention)",
    top2_label="% reporting burnout symptoms (high degree or often)",
    is_validated=True,
    source=(
        "Copenhagen Burnout Inventory, Kristensen et al. 2005, Work & Stress 19(3); "
        "Danish National Research Centre for the Working Environment (NFA)"
    ),
    licence="Free to use (NFA)",
    order=20,
    items=(
        *_items(
            "CBI",
            CBI_INTENSITY,
            [
                "Is your work emotionally exhausting?",
                "Do you feel burnt out because of your work?",
                "Does your work frustrate you?",
            ],
        ),
        *(
            ItemSpec(
                code=f"CBI{i}", text=text, response_kind=CBI_FREQUENCY, order=i, reverse=i == 7
            )
            for i, text in enumerate(
                [
                    "Do you feel worn out at the end of the working day?",
                    "Are you exhausted in the morning at the thought of another day at work?",
                    "Do you feel that every working hour is tiring for you?",
                    "Do you have enough energy for family and friends during leisure time?",
                ],
                start=4,
            )
        ),
    ),
)

COPSOQ_QD_SCALE = ScaleSpec(
    code="COPSOQ_QD",
    name="COPSOQ III: quantitative demands (single item)",
    construct="Quantitative demands",
    scoring=SCORING_MEAN_HALF,
    higher_is_better=False,
    top2_label="% getting behind with their work often or always",
    is_validated=True,
    source=_COPSOQ_SOURCE,
    licence=_COPSOQ_LICENCE,
    order=30,
    items=_items("COPSOQ_QD", COPSOQ_FREQUENCY, ["Do you get behind with your work?"]),
)

COPSOQ_WP_SCALE = ScaleSpec(
    code="COPSOQ_WP",
    name="COPSOQ III: work pace (single item)",
    construct="Work pace",
    scoring=SCORING_MEAN_HALF,
    higher_is_better=False,
    top2_label="% having to work very fast often or always",
    is_validated=True,
    source=_COPSOQ_SOURCE,
    licence=_COPSOQ_LICENCE,
    order=31,
    items=_items("COPSOQ_WP", COPSOQ_FREQUENCY, ["Do you have to work very fast?"]),
)

AUP_SCALE = ScaleSpec(
    code="AUP",
    name="AI usage pressure",
    construct="AI usage pressure",
    stem=_AGREE_STEM,
    scoring=SCORING_MEAN_HALF,
    higher_is_better=False,
    top2_label="% reporting pressure",
    is_exploratory=True,
    source=_PULSE_SOURCE,
    licence=_PULSE_LICENCE,
    order=40,
    items=_items(
        "AUP",
        AGREEMENT,
        [
            "I feel pressure to use AI tools more than my work actually requires.",
            "How much I use AI tools affects how my performance is judged.",
            "I worry about being seen negatively if I use AI tools less than my colleagues.",
        ],
    ),
)

PAU_SCALE = ScaleSpec(
    code="PAU",
    name="Performative AI use",
    construct='Performative AI use ("tokenmaxxing")',
    scoring=SCORING_MEAN_HALF,
    higher_is_better=False,
    top2_label="% reporting performative use",
    is_exploratory=True,
    source=_PULSE_SOURCE,
    licence=_PULSE_LICENCE,
    order=50,
    items=(
        ItemSpec(
            code="PAU1",
            text=(
                "In the last two weeks, how often did you use AI tools mainly so that your usage "
                "would show up in metrics, rather than because it helped the task?"
            ),
            response_kind=FREQUENCY,
            order=1,
        ),
        ItemSpec(
            code="PAU2",
            text="In my team, some AI use happens mainly to make usage numbers look good.",
            response_kind=AGREEMENT,
            order=2,
        ),
    ),
)

AWI_SCALE = ScaleSpec(
    code="AWI",
    name="AI work intensification",
    construct="AI work intensification",
    stem=_AGREE_STEM,
    scoring=SCORING_MEAN_HALF,
    higher_is_better=False,
    top2_label="% reporting intensification",
    is_exploratory=True,
    source=_PULSE_SOURCE,
    licence=_PULSE_LICENCE,
    order=60,
    items=_items(
        "AWI",
        AGREEMENT,
        [
            "Because of AI tools, I am expected to do more work in the same amount of time.",
            "Checking or fixing AI-generated output adds significantly to my workload.",
        ],
    ),
)

AMD_SCALE = ScaleSpec(
    code="AMD",
    name="AI monitoring strain",
    construct="AI monitoring strain",
    stem=_AGREE_STEM,
    scoring=SCORING_MEAN_HALF,
    higher_is_better=False,
    top2_label="% reporting monitoring strain",
    is_exploratory=True,
    source=_PULSE_SOURCE,
    licence=_PULSE_LICENCE,
    order=70,
    items=_items(
        "AMD",
        AGREEMENT,
        [
            "The tracking of my AI tool usage makes me uncomfortable.",
            "I worry that data about my AI tool usage could be used against me.",
        ],
    ),
)

AAV_SCALE = ScaleSpec(
    code="AAV",
    name="AI autonomy and voice",
    construct="AI autonomy and voice",
    stem=_AGREE_STEM,
    scoring=SCORING_MEAN_HALF,
    higher_is_better=True,
    top2_label="% reporting autonomy and voice",
    is_exploratory=True,
    source=_PULSE_SOURCE,
    licence=_PULSE_LICENCE,
    order=80,
    items=_items(
        "AAV",
        AGREEMENT,
        [
            "I can decide for myself when and how to use AI tools in my work.",
            "I could say openly that an AI tool doesn't help with a task without negative "
            "consequences.",
        ],
    ),
)

REC_SCALE = ScaleSpec(
    code="REC",
    name="Recommendation score",
    construct="Recommendation as a place to work",
    scoring=SCORING_RECOMMENDATION,
    higher_is_better=True,
    top2_label="% promoters (9-10)",
    is_validated=True,
    source=(
        "Employee recommendation question: 0-10, promoters 9-10, detractors 0-6, "
        "score = % promoters - % detractors"
    ),
    licence="Free to use (the method; its trademarked name is not used)",
    order=90,
    items=_items(
        "REC",
        ZERO_TEN,
        ["How likely are you to recommend this organisation as a place to work to a friend?"],
    ),
)

SCALES: tuple[ScaleSpec, ...] = (
    WHO5_SCALE,
    CBI_WORK_SCALE,
    COPSOQ_QD_SCALE,
    COPSOQ_WP_SCALE,
    AUP_SCALE,
    PAU_SCALE,
    AWI_SCALE,
    AMD_SCALE,
    AAV_SCALE,
    REC_SCALE,
)


def _wave(scale: ScaleSpec, wave: str) -> tuple[tuple[str, str], ...]:
    return tuple((item.code, wave) for item in scale.items)


DEFAULT_TEMPLATE = TemplateSpec(
    name="AI pressure & well-being pulse",
    description=(
        "Waves A and B alternate every two weeks; each takes about three minutes. "
        "Wave A: WHO-5 well-being, AI usage pressure, performative AI use, autonomy. "
        "Wave B: work-related burnout (CBI), AI work intensification, AI monitoring strain, "
        "voice. The recommendation question is asked in the first round of each quarter."
    ),
    items=(
        *_wave(WHO5_SCALE, WAVE_A),
        *_wave(AUP_SCALE, WAVE_A),
        *_wave(PAU_SCALE, WAVE_A),
        ("AAV1", WAVE_A),
        *_wave(CBI_WORK_SCALE, WAVE_B),
        *_wave(AWI_SCALE, WAVE_B),
        *_wave(AMD_SCALE, WAVE_B),
        ("AAV2", WAVE_B),
        *_wave(REC_SCALE, WAVE_QUARTERLY),
    ),
)

TEMPLATES: tuple[TemplateSpec, ...] = (DEFAULT_TEMPLATE,)


def scale_by_code(code: str) -> ScaleSpec:
    """The bank's scale with this code (KeyError if none)."""
    for scale in SCALES:
        if scale.code == code:
            return scale
    raise KeyError(code)
