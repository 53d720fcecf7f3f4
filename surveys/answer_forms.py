"""The answering form, built from a round's questions. Parsing and validation only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from surveys.models import Question, ResponseKind
from surveys.scoring import ANCHORS, PREFER_NOT_TO_SAY

PREFER_NOT = "pns"
REQUIRED_MESSAGE = "Choose an answer, or “Prefer not to say” if you would rather not answer."


def _encode(value: float) -> str:
    return f"{value:g}"


class AnswerForm(forms.Form):
    """One radio group per scored item ("Prefer not to say" on every one), a text box per
    free-text item, and the optional comment box. `cleaned_answers()` gives question id ->
    value or None; `cleaned_comments()` the texts."""

    def __init__(
        self, *args: Any, questions: list[Question], include_comment: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        for question in questions:
            name = f"q{question.pk}"
            if question.response_kind == ResponseKind.FREE_TEXT:
                self.fields[name] = forms.CharField(
                    label=question.text, required=False, max_length=2000, widget=forms.Textarea
                )
                continue
            choices = [(_encode(v), label) for v, label in ANCHORS[question.response_kind]]
            choices.append((PREFER_NOT, PREFER_NOT_TO_SAY))
            self.fields[name] = forms.ChoiceField(
                label=question.text,
                choices=choices,
                widget=forms.RadioSelect,
                error_messages={"required": REQUIRED_MESSAGE},
            )
        if include_comment:
            self.fields["comment"] = forms.CharField(
                label="Anything else you want to tell us? (optional)",
                required=False,
                max_length=2000,
                widget=forms.Textarea,
                help_text=(
                    "Comments are shown to leaders only for groups of 10 or more, shuffled, "
                    "with names, emails and phone numbers removed. Please don't include "
                    "details that identify you."
                ),
            )

    def cleaned_answers(self) -> dict[int, float | None]:
        answers: dict[int, float | None] = {}
        for question in self.questions:
            if question.response_kind == ResponseKind.FREE_TEXT:
                continue
            raw = self.cleaned_data[f"q{question.pk}"]
            answers[question.pk] = None if raw == PREFER_NOT else float(raw)
        return answers

    def cleaned_comments(self) -> list[str]:
        texts = [
            self.cleaned_data.get(f"q{q.pk}", "")
            for q in self.questions
            if q.response_kind == ResponseKind.FREE_TEXT
        ]
        texts.append(self.cleaned_data.get("comment", ""))
        return [t for t in texts if t and t.strip()]


@dataclass(slots=True)
class Section:
    number: int
    title: str
    stem: str
    items: list[tuple[int, Question, forms.BoundField]]


def form_sections(form: AnswerForm) -> list[Section]:
    """Group the form's fields by scale, numbering questions across the whole form."""
    sections: list[Section] = []
    for number, question in enumerate(form.questions, start=1):
        scale = question.scale
        if not sections or sections[-1].title != scale.name:
            sections.append(Section(len(sections) + 1, scale.name, scale.stem, []))
        sections[-1].items.append((number, question, form[f"q{question.pk}"]))
    return sections
