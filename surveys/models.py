"""Organisation: the teams tree, employees with their AI-tool aliases, and who may see what.

The survey models (question bank, cadences, rounds, invitations, responses) build on these.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.db.models import Q

TEAM_PATH_SEPARATOR = "/"


class TeamQuerySet(models.QuerySet["Team"]):
    def subtrees(self, paths: Iterable[str]) -> TeamQuerySet:
        """Teams at or below any of `paths` (each a full path such as `Engineering/Platform`)."""
        condition = Q(pk__in=[])
        for path in paths:
            condition |= Q(path=path) | Q(path__startswith=path + TEAM_PATH_SEPARATOR)
        return self.filter(condition)


class Team(models.Model):
    """A node of the organisation tree. `path` names it uniquely (`Engineering/Platform/API`)
    and makes a subtree one indexed prefix query; `depth` is 0 for a top-level team."""

    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # varchar_pattern_ops-style prefix lookups use this unique index (subtree queries).
    path = models.CharField(max_length=1000, unique=True)
    depth = models.PositiveSmallIntegerField(default=0)

    objects = TeamQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="team_unique_name_in_parent"),
        ]

    def __str__(self) -> str:
        return self.path

    def is_within(self, path: str) -> bool:
        """True when this team is `path` or lies below it."""
        return self.path == path or self.path.startswith(path + TEAM_PATH_SEPARATOR)

    def ancestor_paths(self) -> list[str]:
        """Paths of this team and every ancestor, root first."""
        parts = self.path.split(TEAM_PATH_SEPARATOR)
        return [TEAM_PATH_SEPARATOR.join(parts[: i + 1]) for i in range(len(parts))]


class EmployeeQuerySet(models.QuerySet["Employee"]):
    def active(self) -> EmployeeQuerySet:
        return self.filter(is_active=True)

    def in_subtrees(self, paths: Iterable[str]) -> EmployeeQuerySet:
        return self.filter(team__in=Team.objects.subtrees(paths))


class Employee(models.Model):
    """A person on the roster. Never a login: employees answer from personal links.

    Emails, UPNs and GitHub logins are stored lower-cased so that matching AI-tool exports is
    case-insensitive. Aliases are unique when present (NULL when absent).
    """

    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200)
    # Indexed by `employee_team_active` (team first), so no index of its own.
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="employees", db_index=False
    )
    # Employees are deactivated, never deleted, and nothing lists a manager's reports by index.
    manager = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reports",
        db_index=False,
    )
    location = models.CharField(max_length=200, blank=True)
    start_date = models.DateField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    is_active = models.BooleanField(default=True)
    github_login = models.CharField(max_length=100, null=True, blank=True)
    aws_user_id = models.CharField(max_length=100, null=True, blank=True)
    openai_user_id = models.CharField(max_length=100, null=True, blank=True)
    upn = models.CharField(max_length=254, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EmployeeQuerySet.as_manager()

    class Meta:
        ordering = ["email"]
        indexes = [models.Index(fields=["team", "is_active"], name="employee_team_active")]
        # Uniqueness as constraints rather than `unique=True`: PostgreSQL then builds one
        # index each, without the extra LIKE-pattern copies nobody queries, and the aliases'
        # indexes are partial (most employees have none), which keeps roster imports fast.
        constraints = [
            models.UniqueConstraint(fields=["email"], name="employee_email_unique"),
            *(
                models.UniqueConstraint(
                    fields=[alias],
                    condition=Q(**{f"{alias}__isnull": False}),
                    name=f"employee_{alias}_unique",
                )
                for alias in ("github_login", "aws_user_id", "openai_user_id", "upn")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class Role(models.Model):
    """What a staff login may do. HR admins configure everything and see the whole
    organisation; leaders see only the subtrees rooted at `teams`. Superusers use /admin/."""

    class Kind(models.TextChoices):
        HR = "hr", "HR admin"
        LEADER = "leader", "Leader"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pulse_role"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    teams = models.ManyToManyField(
        Team, blank=True, related_name="leader_roles", help_text="Leaders: subtree roots."
    )

    def __str__(self) -> str:
        return f"{self.user} ({self.get_kind_display()})"


class BackgroundImport(models.Model):
    """What every import run by a worker records: who uploaded it, its status and phase for
    the progress page, every problem when refused, and when it finished. Imports are refused
    whole (status FAILED means nothing changed)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Refused (nothing changed)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    phase = models.CharField(max_length=100, blank=True)
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    def progress(self) -> tuple[int, int]:
        """(done, total) in the import's own unit (rows, bytes)."""
        raise NotImplementedError

    @property
    def percent(self) -> int:
        """0-100 for the progress bar: 100 once finished, never 100 before."""
        if self.is_finished:
            return 100
        done, total = self.progress()
        if not total:
            return 0
        return min(99, int(100 * done / total))

    @classmethod
    def claim_for_run(cls, pk: int) -> bool:
        """Mark a pending (or interrupted, still running) import as running. False when it has
        finished already, so a task delivered twice does nothing the second time."""
        return bool(
            cls.objects.filter(pk=pk, status__in=[cls.Status.PENDING, cls.Status.RUNNING]).update(
                status=cls.Status.RUNNING, phase="Starting"
            )
        )


class RosterImport(BackgroundImport):
    """One roster upload and its outcome; the HR console shows these as the import history.

    The file's bytes are kept in the row so that any worker host can run the import.
    """

    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    deactivate_missing = models.BooleanField(default=False)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deactivated = models.PositiveIntegerField(default=0)
    teams_created = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    def progress(self) -> tuple[int, int]:
        return self.processed_rows, self.total_rows or 0


# --- Question bank --------------------------------------------------------------------------


class ResponseKind(models.TextChoices):
    """How an item is answered. The anchors and their stored values live in
    `surveys.scoring.ANCHORS`; "Prefer not to say" is offered on every kind and stored as
    missing (NULL), never as a value."""

    WHO5 = "who5", "WHO-5 frequency (0-5)"
    CBI_INTENSITY = "cbi_intensity", "CBI degree (0-100)"
    CBI_FREQUENCY = "cbi_frequency", "CBI frequency (0-100)"
    COPSOQ_FREQUENCY = "copsoq_frequency", "COPSOQ frequency (0-100)"
    AGREEMENT = "agreement", "Agreement (0-100)"
    FREQUENCY = "frequency", "Frequency (0-100)"
    ZERO_TEN = "zero_ten", "0-10 scale"
    FREE_TEXT = "free_text", "Free text"


class Scale(models.Model):
    """A construct measured by one or more items, with its scoring rule, source and licence.

    Validated scales (WHO-5, CBI, COPSOQ, recommendation score) are installed by a data
    migration and cannot be edited by HR; HR's own questions live in non-validated scales.
    """

    class Scoring(models.TextChoices):
        WHO5 = "who5", "Sum x 4, all five items required"
        MEAN_MIN_COUNT = "mean_min_count", "Mean of answered items, at least `min_answered`"
        MEAN_HALF = "mean_half", "Mean of answered items, at least half answered"
        RECOMMENDATION = "recommendation", "% promoters (9-10) - % detractors (0-6)"
        NONE = "none", "Not scored (free text)"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    construct = models.CharField(max_length=200)
    stem = models.CharField(max_length=300, blank=True, help_text="Shown above the items.")
    scoring = models.CharField(max_length=20, choices=Scoring.choices)
    min_answered = models.PositiveSmallIntegerField(default=1)
    higher_is_better = models.BooleanField(default=True)
    risk_threshold = models.FloatField(
        null=True,
        blank=True,
        help_text="Score at or beyond which a respondent is in the risk band.",
    )
    risk_label = models.CharField(max_length=100, blank=True)
    top2_label = models.CharField(
        max_length=100,
        blank=True,
        help_text='Meaning of the top-2-box, e.g. "% reporting pressure".',
    )
    is_validated = models.BooleanField(default=False)
    is_exploratory = models.BooleanField(default=False)
    min_interval_weeks = models.PositiveSmallIntegerField(
        default=0, help_text="Recall period: never ask more often than this (WHO-5: 2 weeks)."
    )
    source = models.CharField(max_length=300)
    licence = models.CharField(max_length=200)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name


class Question(models.Model):
    scale = models.ForeignKey(Scale, on_delete=models.PROTECT, related_name="questions")
    code = models.SlugField(max_length=40, unique=True)
    text = models.CharField(max_length=500)
    response_kind = models.CharField(max_length=20, choices=ResponseKind.choices)
    reverse = models.BooleanField(default=False, help_text="Reverse-scored item.")
    order = models.PositiveSmallIntegerField(default=0)
    created_by_hr = models.BooleanField(default=False)

    class Meta:
        ordering = ["scale__order", "order", "code"]

    def __str__(self) -> str:
        return f"{self.code}: {self.text}"


# --- Templates, cadences, rounds ----------------------------------------------------------------


class Wave(models.TextChoices):
    EVERY = "every", "Every round"
    A = "A", "Wave A"
    B = "B", "Wave B"
    QUARTERLY = "quarterly", "First round of each quarter"


class SurveyTemplate(models.Model):
    """Which items a cadence asks, and in which wave. Waves A and B alternate round by round."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    include_comment = models.BooleanField(default=True, help_text="Offer an optional comment box.")

    def __str__(self) -> str:
        return self.name


class TemplateItem(models.Model):
    template = models.ForeignKey(SurveyTemplate, on_delete=models.CASCADE, related_name="items")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    wave = models.CharField(max_length=10, choices=Wave.choices, default=Wave.EVERY)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["template", "question"], name="template_item_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.question_id} in wave {self.wave}"


class Cadence(models.Model):
    """A recurring pulse: audience, schedule in each employee's local time, window, reminders."""

    class Frequency(models.TextChoices):
        WEEKS = "weeks", "Every N weeks"
        MONTHLY = "monthly", "Monthly (first chosen weekday of the month)"

    name = models.CharField(max_length=200, unique=True)
    template = models.ForeignKey(SurveyTemplate, on_delete=models.PROTECT, related_name="cadences")
    audience = models.ManyToManyField(Team, related_name="cadences", help_text="Subtree roots.")
    excluded = models.ManyToManyField(
        Team, blank=True, related_name="excluded_from_cadences", help_text="Subtrees left out."
    )
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.WEEKS)
    interval_weeks = models.PositiveSmallIntegerField(default=2)
    weekday = models.PositiveSmallIntegerField(default=0, help_text="0 = Monday ... 6 = Sunday")
    local_time = models.TimeField(default="09:00")
    start_date = models.DateField(help_text="First possible round date (anchors the N weeks).")
    window_days = models.PositiveSmallIntegerField(default=5)
    reminder_offsets = models.JSONField(
        default=list, blank=True, help_text="Days after the invitation, e.g. [2, 4]."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Round(models.Model):
    """One occurrence of a cadence (or a one-off follow-up pulse).

    Unique per cadence and scheduled date, so two beat ticks or a re-run never create a second
    round. `opens_at`/`closes_at` span every audience time zone.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    cadence = models.ForeignKey(
        Cadence, null=True, blank=True, on_delete=models.PROTECT, related_name="rounds"
    )
    template = models.ForeignKey(SurveyTemplate, on_delete=models.PROTECT, related_name="rounds")
    name = models.CharField(max_length=200)
    scheduled_for = models.DateField()
    sequence = models.PositiveIntegerField(default=0, help_text="0-based index within the cadence.")
    wave = models.CharField(max_length=10, blank=True)
    sends_immediately = models.BooleanField(
        default=False, help_text="'Send now': every invitation goes out at opening."
    )
    questions = models.ManyToManyField(Question, related_name="rounds")
    opens_at = models.DateTimeField()
    closes_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    # A one-off round (no cadence, e.g. a hotspot follow-up) keeps its audience and reminder
    # schedule on itself; a cadence's rounds follow the cadence, so HR's edits apply at once.
    audience_team = models.ForeignKey(
        "Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="One-off rounds only: the active employees of this team's subtree.",
    )
    reminder_offsets = models.JSONField(
        default=list, blank=True, help_text="One-off rounds only: days after sending."
    )
    fanout_total = models.PositiveIntegerField(default=0)
    fanout_done = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-scheduled_for", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["cadence", "scheduled_for"], name="round_unique_per_cadence_date"
            ),
        ]

    def __str__(self) -> str:
        return self.name


# --- Participation and responses: nothing in common ------------------------------------------


class Invitation(models.Model):
    """Participation: who was invited to a round and whether they answered.

    Holds no link to the response: no key, no token in clear, no answer time. The token is
    derived (HMAC with SECRET_KEY) from `nonce` and only its SHA-256 is stored for look-up.
    """

    # Indexed by `invitation_unique` and `invitation_round_sent` (round first), so no index of
    # its own: every index is written again by each invitation's insert and sent mark.
    round = models.ForeignKey(
        Round, on_delete=models.CASCADE, related_name="invitations", db_index=False
    )
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="invitations")
    nonce = models.CharField(max_length=64)
    # Unique as a constraint (looked up by equality only): `unique=True` would add a second,
    # pattern-matching (LIKE) index that no query uses.
    token_hash = models.CharField(max_length=64)
    send_at = models.DateTimeField(help_text="The employee's local opening time, in UTC.")
    sent_at = models.DateTimeField(null=True, blank=True)
    # A sender's lease on this invitation's email (see `invitations_send_due`).
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    responded = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["round", "employee"], name="invitation_unique"),
            models.UniqueConstraint(fields=["token_hash"], name="invitation_token_hash_unique"),
        ]
        indexes = [models.Index(fields=["round", "sent_at"], name="invitation_round_sent")]

    def __str__(self) -> str:
        return f"Invitation {self.pk} to round {self.round_id}"


def _new_uuid() -> uuid.UUID:
    return uuid.uuid4()


class Response(models.Model):
    """One anonymous submission. Random id, no timestamp finer than the round, no reference to
    the invitation; the reportable attributes are a snapshot taken at submission."""

    id = models.UUIDField(primary_key=True, default=_new_uuid, editable=False)
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="responses")
    # NULL once generalised up to the whole organisation (rule 8).
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    location = models.CharField(max_length=200, blank=True)
    tenure_band = models.CharField(max_length=20, blank=True)
    generalised = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"Response {self.pk}"


class Answer(models.Model):
    """One item of a response. `value` NULL means "Prefer not to say" (missing, never the
    midpoint). Random id, so that id order never reveals submission order."""

    id = models.UUIDField(primary_key=True, default=_new_uuid, editable=False)
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="+")
    value = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "question"], name="answer_unique"),
        ]

    def __str__(self) -> str:
        return f"Answer to {self.question_id}"


class Comment(models.Model):
    """A free-text comment, in its own table, not linked to the scores it came with."""

    id = models.UUIDField(primary_key=True, default=_new_uuid, editable=False)
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="comments")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=2000)

    def __str__(self) -> str:
        return f"Comment {self.pk}"
