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
