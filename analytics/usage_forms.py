"""The HR upload form for AI-usage exports: parsing and field validation only."""

from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import UploadedFile

from analytics.services import MAX_USAGE_UPLOAD_BYTES
from analytics.usage.adapters import ADAPTERS

MAX_USAGE_FILES = 50


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Amazon Q delivers one report as several part files)."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def clean(self, data: object, initial: object = None) -> list[UploadedFile]:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class UsageUploadForm(forms.Form):
    format = forms.ChoiceField(
        label="Export format",
        choices=[(name, adapter.title) for name, adapter in ADAPTERS.items()],
    )
    files = MultipleFileField(
        label="Files of one delivery",
        help_text=(
            "Choose every file of one export together (for example all Amazon Q part files). "
            "CSV, JSON or NDJSON, UTF-8; 200 MB in total at most."
        ),
    )

    def clean_files(self) -> list[UploadedFile]:
        files = self.cleaned_data["files"]
        if len(files) > MAX_USAGE_FILES:
            raise forms.ValidationError(f"Upload at most {MAX_USAGE_FILES} files at once.")
        if sum(f.size for f in files) > MAX_USAGE_UPLOAD_BYTES:
            raise forms.ValidationError("The files are larger than 200 MB together.")
        return files
