"""HR's configuration: their own questions, survey templates and cadences.

Validated instruments are never edited here: HR adds questions to non-validated scales only,
and validated scales are placed in waves as whole scales (a WHO-5 score needs all five items).
Changes are read by the periodic tasks at their next tick: no restart needed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from django.core.exceptions import ValidationError
from django.db import transaction

from surveys.models import (
    Cadence,
    Question,
    ResponseKind,
    Scale,
    SurveyTemplate,
    Team,
    TemplateItem,
    Wave,
)
from surveys.services.delivery import cadence_validate_recall

CUSTOM_SCALE_CODE = "custom"
HR_KINDS = (
    ResponseKind.AGREEMENT,
    ResponseKind.FREQUENCY,
    ResponseKind.ZERO_TEN,
    ResponseKind.FREE_TEXT,
)


def question_create(*, text: str, response_kind: str, top2_label: str = "") -> Question:
    """Add one of HR's own questions (agreement, frequency, 0-10 or free text) to the
    non-validated "Your own questions" scale. Validated scales are never touched."""
    text = text.strip()
    if not text:
        raise ValidationError({"text": "Write the question."})
    if response_kind not in HR_KINDS:
        raise ValidationError(
            {"response_kind": f"Choose one of: {', '.join(str(k.label) for k in HR_KINDS)}."}
        )
    scale, _ = Scale.objects.get_or_create(
        code=CUSTOM_SCALE_CODE,
        defaults={
            "name": "Your own questions",
            "construct": "Organisation-specific items (reported item by item)",
            "scoring": Scale.Scoring.NONE,
            "is_validated": False,
            "source": "Written by your HR team",
            "licence": "Your organisation",
            "order": 1000,
            "top2_label": top2_label or "% top-2",
        },
    )
    number = Question.objects.filter(scale=scale).count() + 1
    code = f"custom-{number}"
    while Question.objects.filter(code=code).exists():
        number += 1
        code = f"custom-{number}"
    return Question.objects.create(
        scale=scale,
        code=code,
        text=text[:500],
        response_kind=response_kind,
        order=number,
        created_by_hr=True,
    )


def template_save(
    *,
    name: str,
    waves: Mapping[int, str],
    template: SurveyTemplate | None = None,
    description: str = "",
    include_comment: bool = True,
) -> SurveyTemplate:
    """Create or replace a template's items: `waves` maps question id -> wave (every, A, B,
    quarterly); questions left out are not asked. Validated scales must be whole and in one
    wave. Atomic: an invalid mapping raises ValidationError and changes nothing."""
    questions = {q.pk: q for q in Question.objects.filter(pk__in=waves).select_related("scale")}
    unknown = set(waves) - set(questions)
    if unknown:
        raise ValidationError(f"Unknown question ids: {sorted(unknown)}")
    if not waves:
        raise ValidationError("Choose at least one question.")
    problems = []
    by_scale: dict[int, set[str]] = {}
    for pk, wave in waves.items():
        if wave not in Wave.values:
            problems.append(f"'{wave}' is not a wave (use {', '.join(Wave.values)}).")
        by_scale.setdefault(questions[pk].scale_id, set()).add(wave)
    for scale in Scale.objects.filter(pk__in=by_scale, is_validated=True).prefetch_related(
        "questions"
    ):
        chosen = {pk for pk in waves if questions[pk].scale_id == scale.pk}
        if chosen != {q.pk for q in scale.questions.all()} or len(by_scale[scale.pk]) > 1:
            problems.append(
                f"{scale.name} is a validated scale: ask all its items together, in one wave."
            )
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        if template is None:
            template = SurveyTemplate.objects.create(
                name=name, description=description, include_comment=include_comment
            )
        else:
            template.name, template.description = name, description
            template.include_comment = include_comment
            template.save()
            template.items.all().delete()
        TemplateItem.objects.bulk_create(
            [TemplateItem(template=template, question_id=pk, wave=w) for pk, w in waves.items()]
        )
    return template


def cadence_save(
    *,
    cadence: Cadence | None = None,
    name: str,
    template: SurveyTemplate,
    audience: Iterable[Team],
    excluded: Iterable[Team] = (),
    frequency: str = Cadence.Frequency.WEEKS,
    interval_weeks: int = 2,
    weekday: int = 0,
    local_time: dt.time = dt.time(9, 0),
    start_date: dt.date,
    window_days: int = 5,
    reminder_offsets: Iterable[int] = (2, 4),
    is_active: bool = True,
) -> Cadence:
    """Create or update a cadence. Refuses (ValidationError naming the field) an empty
    audience, reminders outside the window, and schedules that ask a scale more often than its
    recall period (WHO-5: every two weeks at most). Takes effect at the next beat tick."""
    audience = list(audience)
    excluded = list(excluded)
    offsets = sorted({int(d) for d in reminder_offsets})
    errors: dict[str, list[str]] = {}
    if not audience:
        errors.setdefault("audience", []).append("Choose at least one team.")
    if not 0 <= weekday <= 6:
        errors.setdefault("weekday", []).append("Weekday is 0 (Monday) to 6 (Sunday).")
    if not 1 <= window_days <= 28:
        errors.setdefault("window_days", []).append("The window is 1 to 28 days.")
    if frequency == Cadence.Frequency.WEEKS and not 1 <= interval_weeks <= 52:
        errors.setdefault("interval_weeks", []).append("Every 1 to 52 weeks.")
    if any(d < 1 or d >= window_days for d in offsets):
        errors.setdefault("reminder_offsets", []).append(
            f"Reminders must fall inside the {window_days}-day window (1 to {window_days - 1})."
        )
    items = [(i.question, i.wave) for i in template.items.select_related("question__scale")]
    recall = cadence_validate_recall(
        frequency=frequency, interval_weeks=interval_weeks, items=items
    )
    if recall:
        errors.setdefault("interval_weeks", []).extend(recall)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        cadence = cadence or Cadence()
        cadence.name = name
        cadence.template = template
        cadence.frequency = frequency
        cadence.interval_weeks = interval_weeks
        cadence.weekday = weekday
        cadence.local_time = local_time
        cadence.start_date = start_date
        cadence.window_days = window_days
        cadence.reminder_offsets = offsets
        cadence.is_active = is_active
        cadence.save()
        cadence.audience.set(audience)
        cadence.excluded.set(excluded)
    return cadence
