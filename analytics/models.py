"""Publications, the release gate's inputs, and AI usage per team x day.

AI usage (anonymity rule 11): per-person rows exist only in memory while an import runs. What is
stored is `TeamDayUsage`, one row per (source, team, day, metric) holding the team's total, the
number of distinct people contributing and the largest single person's value - never a row per
person, never an identifier. `UsageImport` is the history of imports; it keeps the uploaded files
only until a worker has run the import (then they are deleted in the same transaction that
writes the usage), and it reports to HR the identifiers that matched nobody on the roster.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from surveys.models import BackgroundImport, Team


class UsageImport(BackgroundImport):
    """One import of one delivery (one or more files of one format) and its outcome."""

    class Origin(models.TextChoices):
        UPLOAD = "upload", "HR console or API upload"
        COMMAND = "command", "import_usage command"

    format = models.CharField(max_length=40)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.UPLOAD)
    filenames = models.JSONField(default=list)
    total_bytes = models.BigIntegerField(default=0)
    processed_bytes = models.BigIntegerField(default=0)
    rows_read = models.BigIntegerField(default=0)
    rows_matched = models.BigIntegerField(default=0)
    rows_unmatched = models.BigIntegerField(default=0)
    rows_service = models.BigIntegerField(default=0)
    team_days_written = models.PositiveIntegerField(default=0)
    # Team-days whose stored cells the delivery would have changed but that lie in a period
    # the gate has released usage over (`UsageRelease`): kept as released.
    team_days_kept = models.PositiveIntegerField(default=0)
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

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.format}: {', '.join(self.filenames)} ({self.status})"

    def progress(self) -> tuple[int, int]:
        return self.processed_bytes, self.total_bytes


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
    breakdown; the release gate never shows those. `direct_max_single` is the largest value
    among the people sitting directly in this team (0 when none of them contributes; for a
    team-level source, the given team's `max_single`): the gate bounds one person's share of a
    parent minus some of its children with it. NULL for cells stored before it existed (the
    gate then falls back on `max_single`, a larger bound).
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
    direct_max_single = models.FloatField(null=True)

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


class UsageRelease(models.Model):
    """A period (UTC days, inclusive) over which the release gate has shown usage of `source`.
    Write-once: rows are inserted (idempotently, by the gate) and never changed or deleted.

    Released data never changes: an import keeps the stored cells of every (source, day) that
    lies inside a recorded period of that source (`analytics.services`), because a figure
    released before and the same figure after a re-import would differ by exactly the changed
    rows' usage, which may be one person's. Every recorded period is a whole number of
    calendar months: the gate releases usage over nothing finer (`analytics.gate.usage_atoms`).
    """

    source = models.CharField(max_length=60)
    start = models.DateField()
    end = models.DateField()
    released_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source", "start", "end"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "start", "end"], name="usage_release_period_once"
            ),
            models.CheckConstraint(
                condition=models.Q(start__lte=models.F("end")), name="usage_release_start_le_end"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.start}..{self.end}"


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


# --- Hotspots: where heavy AI usage meets high pressure and low well-being ---------------------


class HotspotRun(models.Model):
    """One closed round's hotspot computation (`analytics.hotspots.hotspots_compute`): the
    usage period it joined, the organisation's reference figures, the organisation-wide
    correlations, and why nothing could be assessed, if so. Replaced as a whole, together with
    its assessments, when the round is computed again."""

    round = models.OneToOneField(
        "surveys.Round", on_delete=models.CASCADE, related_name="hotspot_run"
    )
    computed_at = models.DateTimeField()
    period_start = models.DateField()
    period_end = models.DateField()
    metric = models.CharField(max_length=40, blank=True, help_text="tokens, requests, ...")
    organisation = models.JSONField(
        default=dict, help_text="Released organisation means and the median intensity."
    )
    correlations = models.JSONField(default=list)
    n_tested = models.PositiveIntegerField(default=0)
    n_excluded = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"Hotspot run of round {self.round_id}"


class HotspotAssessment(models.Model):
    """One team (any level) of one run, released on both sides: the figures the quadrant, the
    timeline and the exports show. Teams hidden on either side have no row (rule 1, 11)."""

    class Status(models.TextChoices):
        HOTSPOT = "hotspot", "Hotspot"
        CONTAINS = "contains_hotspot", "Contains a hotspot"
        CLEAR = "clear", "Clear"

    run = models.ForeignKey(HotspotRun, on_delete=models.CASCADE, related_name="assessments")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    team_path = models.CharField(max_length=1000)
    depth = models.PositiveSmallIntegerField(default=0)
    respondents = models.PositiveIntegerField()
    contributors = models.PositiveIntegerField()
    intensity = models.FloatField(help_text="Metric units per contributing person per day.")
    intensity_ratio = models.FloatField()
    active_share = models.FloatField(null=True)
    change = models.FloatField(null=True)
    top_share = models.FloatField(null=True)
    pressure = models.FloatField()
    who5 = models.FloatField(null=True)
    cbi = models.FloatField(null=True)
    autonomy = models.FloatField(null=True)
    q_value = models.FloatField()
    status = models.CharField(max_length=20, choices=Status.choices)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "team"], name="hotspot_assessment_unique"),
        ]
        # The timeline's read: one team across runs.
        indexes = [models.Index(fields=["team", "run"], name="hotspot_assessment_team")]

    def __str__(self) -> str:
        return f"{self.team_path}: {self.status}"


class Hotspot(models.Model):
    """A team found to be a hotspot, and what HR and its leaders did about it.

    One row per episode: a team flagged again in a later round while its hotspot is not
    resolved continues the same row (`last_round` moves on, reason and figures follow the
    latest round); after it is resolved, a new detection opens a new row (and a new alert).
    `alerted_at` is set by the conditional UPDATE that sends the HR email, so it is sent once."""

    class State(models.TextChoices):
        NEW = "new", "New"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        ACTION_PLANNED = "action_planned", "Action planned"
        FOLLOW_UP_SENT = "follow_up_sent", "Follow-up sent"
        RESOLVED = "resolved", "Resolved"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="hotspots")
    first_round = models.ForeignKey(
        "surveys.Round", on_delete=models.CASCADE, related_name="hotspots_found"
    )
    last_round = models.ForeignKey(
        "surveys.Round", on_delete=models.CASCADE, related_name="hotspots_seen"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.NEW)
    reason = models.CharField(max_length=500)
    figures = models.JSONField(default=dict)
    detected_at = models.DateTimeField()
    state_changed_at = models.DateTimeField()
    alerted_at = models.DateTimeField(null=True, blank=True)
    follow_up_round = models.ForeignKey(
        "surveys.Round",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_up_of",
    )

    class Meta:
        ordering = ["-detected_at", "team__path"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "first_round"], name="hotspot_unique_per_team_round"
            ),
        ]

    def __str__(self) -> str:
        return f"Hotspot {self.team.path} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state != self.State.RESOLVED


class HotspotNote(models.Model):
    """A note on a hotspot, optionally recording a change of state (the action loop's log)."""

    hotspot = models.ForeignKey(Hotspot, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    text = models.TextField(blank=True)
    state_from = models.CharField(max_length=20, blank=True)
    state_to = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Note on hotspot {self.hotspot_id}"

    @property
    def state_to_label(self) -> str:
        return str(Hotspot.State(self.state_to).label) if self.state_to else ""
