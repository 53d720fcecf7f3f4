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

    email = models.EmailField(max_length=254, unique=True)
    name = models.CharField(max_length=200)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="employees")
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    location = models.CharField(max_length=200, blank=True)
    start_date = models.DateField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    is_active = models.BooleanField(default=True)
    github_login = models.CharField(max_length=100, null=True, blank=True, unique=True)
    aws_user_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    openai_user_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    upn = models.CharField(max_length=254, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = EmployeeQuerySet.as_manager()

    class Meta:
        ordering = ["email"]
        indexes = [models.Index(fields=["team", "is_active"], name="employee_team_active")]

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


class RosterImport(models.Model):
    """One roster upload and its outcome; the HR console shows these as the import history.

    The file's bytes are kept in the row so that any worker host can run the import.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Refused (nothing changed)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    filename = models.CharField(max_length=255)
    content = models.BinaryField()
    deactivate_missing = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    phase = models.CharField(max_length=100, blank=True)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    deactivated = models.PositiveIntegerField(default=0)
    teams_created = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        if not self.total_rows:
            return 0
        return min(99, int(100 * self.processed_rows / self.total_rows))
