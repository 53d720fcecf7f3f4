"""Reads of the organisation, and the one place that decides who may see which teams."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet

from surveys.models import Employee, Role, RosterImport, Team

User = AbstractBaseUser | AnonymousUser


def user_role(user: User) -> str | None:
    """'superuser', 'hr', 'leader' or None (no Pulse role: sees nothing)."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return "superuser"
    try:
        role = user.pulse_role  # type: ignore[union-attr]
    except Role.DoesNotExist:
        return None
    return role.kind


def user_is_hr(user: User) -> bool:
    """HR admins and superusers configure everything and see the whole organisation."""
    return user_role(user) in ("hr", "superuser")


def user_is_leader(user: User) -> bool:
    return user_role(user) == "leader"


def leader_root_paths(user: User) -> list[str]:
    """The subtree roots a leader is scoped to (empty for anybody else)."""
    if not user_is_leader(user):
        return []
    return list(user.pulse_role.teams.values_list("path", flat=True))  # type: ignore[union-attr]


def teams_visible_to(user: User) -> QuerySet[Team]:
    """Every team `user` may see results for: all of them for HR, the leader's subtrees for a
    leader, none for anybody else. Every page and endpoint that takes a team goes through this."""
    role = user_role(user)
    if role in ("hr", "superuser"):
        return Team.objects.all()
    if role == "leader":
        return Team.objects.subtrees(leader_root_paths(user))
    return Team.objects.none()


def team_visible_or_none(user: User, team_id: int) -> Team | None:
    """The team with `team_id` if `user` may see it; None both when it does not exist and when
    it is outside the user's scope, so that callers cannot tell the two apart."""
    return teams_visible_to(user).filter(pk=team_id).first()


def team_list_with_headcount(user: User) -> QuerySet[Team]:
    """Visible teams with the number of active employees directly in each."""
    return teams_visible_to(user).annotate(
        headcount=Count("employees", filter=Q(employees__is_active=True))
    )


def employee_list(*, team_path: str | None = None, query: str = "") -> QuerySet[Employee]:
    """The roster for HR, optionally limited to a subtree and a name/email search."""
    employees = Employee.objects.select_related("team", "manager")
    if team_path:
        employees = employees.in_subtrees([team_path])
    if query:
        employees = employees.filter(Q(email__icontains=query) | Q(name__icontains=query))
    return employees.order_by("email")


def roster_import_history(*, limit: int = 20) -> QuerySet[RosterImport]:
    return RosterImport.objects.defer("content").select_related("uploaded_by")[:limit]
