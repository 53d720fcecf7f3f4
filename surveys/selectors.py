"""Reads of the organisation, and the one place that decides who may see which teams."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet

from surveys.models import (
    TEAM_PATH_SEPARATOR,
    Cadence,
    Employee,
    Invitation,
    Question,
    Role,
    RosterImport,
    Round,
    Scale,
    SurveyTemplate,
    Team,
)

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


# Per process: (round id, round creation time) -> its questions, for the last rounds served.
_ROUND_QUESTIONS: dict[tuple[int, object], tuple[Question, ...]] = {}
_ROUND_QUESTIONS_KEPT = 64


def round_questions_for_form(round_: Round) -> list[Question]:
    """The round's questions in display order (scale, then item), scales prefetched.

    Read once per round and process: a round's questions are set in the transaction that
    creates it (`round_open`, a follow-up round) and questions are never edited, so what a
    first request read stays true for the round's whole life. The key includes the round's
    creation time, so that a round id reused after a deletion never meets an old list. The
    Question objects are shared between requests: read them, never modify them."""
    key = (round_.pk, round_.created_at)
    questions = _ROUND_QUESTIONS.get(key)
    if questions is None:
        questions = tuple(
            round_.questions.select_related("scale").order_by("scale__order", "order", "code")
        )
        if len(_ROUND_QUESTIONS) >= _ROUND_QUESTIONS_KEPT:
            _ROUND_QUESTIONS.clear()
        _ROUND_QUESTIONS[key] = questions
    return list(questions)


def team_invitee_count(invitation: Invitation) -> int:
    """How many people of the invitee's team were invited to the same round (shown to the
    employee before answering, with the threshold)."""
    return Invitation.objects.filter(
        round_id=invitation.round_id, employee__team_id=invitation.employee.team_id
    ).count()


# --- Question bank, templates, cadences, rounds ---------------------------------------------------


def question_bank() -> list[Scale]:
    """Every scale with its questions (prefetched), in display order."""
    return list(Scale.objects.prefetch_related("questions").order_by("order", "code"))


def template_list() -> QuerySet[SurveyTemplate]:
    return SurveyTemplate.objects.annotate(item_count=Count("items")).order_by("name")


def template_waves(template: SurveyTemplate) -> dict[int, str]:
    """Question id -> wave for a template's items."""
    return dict(template.items.values_list("question_id", "wave"))


def cadence_list() -> QuerySet[Cadence]:
    return Cadence.objects.select_related("template").prefetch_related("audience", "excluded")


def cadence_initial(cadence: Cadence) -> dict[str, object]:
    """A cadence as form data."""
    return {
        "name": cadence.name,
        "template": cadence.template_id,
        "audience": list(cadence.audience.values_list("pk", flat=True)),
        "excluded": list(cadence.excluded.values_list("pk", flat=True)),
        "frequency": cadence.frequency,
        "interval_weeks": cadence.interval_weeks,
        "weekday": cadence.weekday,
        "local_time": cadence.local_time,
        "start_date": cadence.start_date,
        "window_days": cadence.window_days,
        "reminder_offsets": ", ".join(str(d) for d in cadence.reminder_offsets or []),
        "is_active": cadence.is_active,
    }


@dataclass(frozen=True, slots=True)
class Participation:
    """Protected participation of one group: invitee counts are roster facts; the response
    rate is shown only for groups of >= k invitees, rounded to 5% (anonymity rule 2); the
    number of respondents itself is never shown."""

    label: str
    invitees: int
    rate_percent: int | None
    hidden_reason: str = ""


def _protected_rate(invitees: int, responded: int) -> tuple[int | None, str]:
    from analytics.gate import release_participation

    return release_participation(invitees=invitees, responded=responded)


def round_participation(round_: Round) -> list[Participation]:
    """Participation for the whole round and for every team at every level of the tree."""
    rows = round_.invitations.values_list("employee__team__path", "responded")
    totals: dict[str, list[int]] = {}
    for path, responded in rows:
        parts = path.split(TEAM_PATH_SEPARATOR)
        for i in range(len(parts)):
            entry = totals.setdefault(TEAM_PATH_SEPARATOR.join(parts[: i + 1]), [0, 0])
            entry[0] += 1
            entry[1] += int(responded)
    invited = sum(1 for _ in rows)
    responded = sum(1 for _, r in rows if r)
    out = [Participation("Whole audience", invited, *_protected_rate(invited, responded))]
    for path in sorted(totals):
        n, r = totals[path]
        out.append(Participation(path, n, *_protected_rate(n, r)))
    return out


def round_list_with_participation() -> list[tuple[Round, Participation, int]]:
    """Rounds, newest first, with their protected overall participation and emails sent."""
    rounds = Round.objects.select_related("cadence").annotate(
        invited=Count("invitations"),
        answered=Count("invitations", filter=Q(invitations__responded=True)),
        sent=Count("invitations", filter=Q(invitations__sent_at__isnull=False)),
    )
    return [
        (
            r,
            Participation("Whole audience", r.invited, *_protected_rate(r.invited, r.answered)),
            r.sent,
        )
        for r in rounds
    ]


@dataclass(frozen=True, slots=True)
class FanoutProgress:
    total: int
    created: int
    sent: int
    waiting: int

    @property
    def in_progress(self) -> bool:
        """Invitations still being created, or due and not yet sent."""
        return self.created < self.total or self.sent + self.waiting < self.created


def round_fanout_progress(round_: Round) -> FanoutProgress:
    """How far the round's invitation fan-out has gone (for HR's progress display)."""
    from django.utils import timezone

    counts = round_.invitations.aggregate(
        created=Count("pk"),
        sent=Count("pk", filter=Q(sent_at__isnull=False)),
        waiting=Count("pk", filter=Q(sent_at__isnull=True, send_at__gt=timezone.now())),
    )
    return FanoutProgress(total=max(round_.fanout_total, counts["created"]), **counts)
