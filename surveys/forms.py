"""Forms: parsing and field validation only; the work happens in services."""

from __future__ import annotations

from django import forms

MAX_ROSTER_BYTES = 50 * 1024 * 1024


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        label="Roster file (CSV, UTF-8)",
        help_text=(
            "Columns: email, name, team, manager_email, location, start_date, timezone; "
            "optional github_login, aws_user_id, openai_user_id, upn."
        ),
    )
    deactivate_missing = forms.BooleanField(
        required=False,
        label="Deactivate employees who are not in this file",
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_ROSTER_BYTES:
            raise forms.ValidationError("The file is larger than 50 MB.")
        return upload


class QuestionForm(forms.Form):
    text = forms.CharField(
        label="Question", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    response_kind = forms.ChoiceField(
        label="Answer scale",
        choices=[
            ("agreement", "Agreement (Strongly disagree … Strongly agree)"),
            ("frequency", "Frequency (Never … Always)"),
            ("zero_ten", "0 to 10"),
            ("free_text", "Free text (shown only as comments, for groups of 10 or more)"),
        ],
    )


class CadenceForm(forms.Form):
    """Field parsing for a cadence; the rules across fields live in `cadence_save`."""

    name = forms.CharField(max_length=200)
    template = forms.ModelChoiceField(queryset=None, label="Survey template")  # type: ignore[arg-type]
    audience = forms.ModelMultipleChoiceField(
        queryset=None,  # type: ignore[arg-type]
        label="Audience (each team includes everything below it)",
        widget=forms.CheckboxSelectMultiple,
    )
    excluded = forms.ModelMultipleChoiceField(
        queryset=None,  # type: ignore[arg-type]
        required=False,
        label="Leave out (subtrees)",
        widget=forms.CheckboxSelectMultiple,
    )
    frequency = forms.ChoiceField(
        choices=[("weeks", "Every N weeks"), ("monthly", "Monthly (first chosen weekday)")]
    )
    interval_weeks = forms.IntegerField(
        label="N (weeks between rounds)", min_value=1, max_value=52, initial=2
    )
    weekday = forms.TypedChoiceField(
        coerce=int,
        choices=list(
            enumerate(
                ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
            )
        ),
        initial=0,
    )
    local_time = forms.TimeField(
        label="Local time (in each employee's own time zone)", initial="09:00"
    )
    start_date = forms.DateField(label="First possible date (YYYY-MM-DD)")
    window_days = forms.IntegerField(label="Open for (days)", min_value=1, max_value=28, initial=5)
    reminder_offsets = forms.CharField(
        label="Reminders after (days, comma-separated)", required=False, initial="2, 4"
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args: object, **kwargs: object) -> None:
        from surveys.models import SurveyTemplate, Team

        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["template"].queryset = SurveyTemplate.objects.all()  # type: ignore[attr-defined]
        self.fields["audience"].queryset = Team.objects.all()  # type: ignore[attr-defined]
        self.fields["excluded"].queryset = Team.objects.all()  # type: ignore[attr-defined]

    def clean_reminder_offsets(self) -> list[int]:
        raw = self.cleaned_data["reminder_offsets"].replace(";", ",")
        try:
            return [int(part) for part in raw.split(",") if part.strip()]
        except ValueError as exc:
            raise forms.ValidationError("Write whole numbers of days, e.g. 2, 4.") from exc
