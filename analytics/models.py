"""Publications, the release gate's inputs, and AI usage per team x day.

AI usage (anonymity rule 11): per-person rows exist only in memory while an import runs. What is
stored is `TeamDayUsage`, one row per (source, team, day, metric) holding the team's total, the
number of distinct people contributing and the largest single person's value - never a row per
person, never an identifier. `UsageImport` is the history of imports; it keeps the uploaded files
only until a worker has run the import (then they are deleted in the same transaction that
writes the usage), and it reports to HR the identifiers that matched nobody on the roster.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from surveys.models import Team


class UsageImport(models.Model):
    """One import of one delivery (one or more files of one format) and its outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Refused (nothing changed)"

    class Origin(models.TextChoices):
        UPLOAD = "upload", "HR console or API upload"
        COMMAND = "command", "import_usage command"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    format = models.CharField(max_length=40)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.UPLOAD)
    filenames = models.JSONField(default=list)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    phase = models.CharField(max_length=100, blank=True)
    total_bytes = models.BigIntegerField(default=0)
    processed_bytes = models.BigIntegerField(default=0)
    rows_read = models.BigIntegerField(default=0)
    rows_matched = models.BigIntegerField(default=0)
    rows_unmatched = models.BigIntegerField(default=0)
    rows_service = models.BigIntegerField(default=0)
    team_days_written = models.PositiveIntegerField(default=0)
    usage_rows_created = models.PositiveIntegerField(default=0)
    usage_rows_updated = models.PositiveIntegerField(default=0)
    usage_rows_deleted = models.PositiveIntegerField(default=0)
    usage_rows_unchanged = models.PositiveIntegerField(default=0)
    sources = models.JSONField(default=list, blank=True)
    first_day = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    # Identifiers that matched nobody on the roster, for HR to fix the roster's alias columns:
    # [{"identifier": ..., "rows": n}], the most frequent first, capped; the full distinct
    # count is `unmatched_distinct`. They belong to nobody known, so they are no roster
    # person's data; they never reach the usage tables.
    unmatched_identifiers = models.JSONField(default=list, blank=True)
    unmatched_distinct = models.PositiveIntegerField(default=0)
    # Organisation-wide totals of rows that are not people (API keys, service accounts).
    service_totals = models.JSONField(default=dict, blank=True)
    ignored_fields = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.format}: {', '.join(self.filenames)} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        if not self.total_bytes:
            return 0
        return min(99, int(100 * self.processed_bytes / self.total_bytes))


class UsageImportFile(models.Model):
    """An uploaded file waiting for a worker. Deleted when its import finishes (either way):
    raw exports hold per-person rows and must not stay in the database (rule 11)."""

    usage_import = models.ForeignKey(UsageImport, on_delete=models.CASCADE, related_name="files")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=255)
    content = models.BinaryField()

    class Meta:
        ordering = ["usage_import", "position"]

    def __str__(self) -> str:
        return self.name


class TeamDayUsage(models.Model):
    """A team's usage of one source's metric on one UTC day.

    Figures are for the team's whole subtree: an employee's usage counts in their team and in
    every ancestor, so a parent team's figures are exact for that day (distinct people cannot be
    summed over child teams). `contributors` is the number of distinct people with a non-zero
    value; `max_single` is the largest single person's value (the dominance rule needs it).
    For people-count metrics (unit `people`: active flags, last-activity snapshots) each
    contributor counts once, so `total == contributors` and `max_single == 1`.
    `contributors`/`max_single` are NULL only for team-level sources that give no per-person
    breakdown; the release gate never shows those.
    """

    source = models.CharField(max_length=60)
    # No index of its own: the natural key below starts with the team.
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="usage_days", db_index=False
    )
    day = models.DateField()
    metric = models.CharField(max_length=80)
    unit = models.CharField(max_length=20)
    total = models.FloatField()
    contributors = models.PositiveIntegerField(null=True)
    max_single = models.FloatField(null=True)

    class Meta:
        ordering = ["source", "team", "day", "metric"]
        constraints = [
            # Natural key; its column order also serves the release gate's read (one team,
            # one metric, a range of days), so that read needs no index of its own.
            models.UniqueConstraint(
                fields=["team", "metric", "day", "source"], name="team_day_usage_natural_key"
            ),
        ]
        indexes = [
            # The import's "replace these days of this source" read.
            models.Index(fields=["source", "day"], name="team_day_usage_source_day"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.team_id} {self.day} {self.metric}={self.total} {self.unit}"


# --- Publications: the only source of survey numbers ------------------------------------------


class Publication(models.Model):
    """A closed round's results, computed once at close, audited for disclosure as a whole,
    persisted, then only read (anonymity rule 3). Written in one transaction together with all
    its cells, so a crash mid-way leaves no half publication (status is never partial)."""

    round = models.OneToOneField(
        "surveys.Round", on_delete=models.CASCADE, related_name="publication"
    )
    k = models.PositiveSmallIntegerField()
    respondents_shown = models.BooleanField(default=False)
    computed_at = models.DateTimeField()
    closed_on = models.DateField(help_text="The round's close date: the only date comments carry.")
    audit = models.JSONField(default=dict, help_text="Counts of shown / hidden cells by reason.")
    measures = models.JSONField(default=list, help_text="Measure codes with labels, in order.")

    def __str__(self) -> str:
        return f"Publication of round {self.round_id}"


class PublicationCell(models.Model):
    """One fixed cell of a publication: a team (any level; NULL = organisation), optionally
    broken down by location or tenure band, with every measure's figures or hidden reason in
    `figures` ({measure: {"shown": bool, "reason": str|None, "n": int|None, "score": ...}})."""

    class Breakdown(models.TextChoices):
        ALL = "all", "Whole group"
        LOCATION = "location", "Location"
        TENURE = "tenure", "Tenure band"

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="cells")
    team = models.ForeignKey(
        "surveys.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    team_path = models.CharField(max_length=1000, blank=True)
    depth = models.PositiveSmallIntegerField(default=0)
    breakdown = models.CharField(max_length=10, choices=Breakdown.choices)
    value = models.CharField(max_length=200, blank=True)
    figures = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "team_path", "breakdown", "value"],
                name="publication_cell_unique",
            ),
        ]
        indexes = [models.Index(fields=["publication", "breakdown"], name="pubcell_breakdown")]

    def __str__(self) -> str:
        return f"{self.team_path or 'Organisation'} {self.breakdown} {self.value}".strip()


class PublishedComment(models.Model):
    """A comment released with a publication: redacted, in shuffled order (`position`), homed
    at the lowest team whose pool of commenters' respondents reaches the comment threshold, so
    that no difference of two views isolates a smaller group."""

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="comments")
    home_path = models.CharField(max_length=1000, blank=True)
    position = models.PositiveIntegerField()
    text = models.TextField()

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"Comment {self.position} of publication {self.publication_id}"
