"""Build closed rounds with real responses, through the real services (tests only)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from surveys.models import Cadence, Employee, Invitation, Question, Round, SurveyTemplate, Team
from surveys.scoring import ANCHORS
from surveys.services.config import cadence_save
from surveys.services.delivery import invitation_token, invitations_create, round_close
from surveys.services.organisation import roster_import
from surveys.services.responses import response_submit

HEADER = "email,name,team,manager_email,location,start_date,timezone\n"

Answerer = Callable[[Employee, Question, random.Random], float | None]


def build_org(teams: dict[str, int], *, locations: tuple[str, ...] = ("Berlin", "Paris")) -> None:
    """A roster with `teams[path]` employees in each team (names from a fixed list)."""
    rows = ["head@org.test,Head Person,Company,,Berlin,2015-01-01,Europe/Berlin"]
    n = 0
    for path, size in teams.items():
        for _ in range(size):
            n += 1
            location = locations[n % len(locations)]
            year = 2016 + n % 9
            rows.append(
                f"e{n:04d}@org.test,Person {n:04d},{path},head@org.test,{location},"
                f"{year}-03-01,Europe/Berlin"
            )
    roster_import(data=(HEADER + "\n".join(rows) + "\n").encode())


def default_answer(employee: Employee, question: Question, rng: random.Random) -> float | None:
    values = [v for v, _ in ANCHORS[question.response_kind]]
    return rng.choice(values)


def closed_round(
    *,
    audience: list[str],
    answer: Answerer = default_answer,
    respond: Callable[[Employee], bool] = lambda e: True,
    comments: dict[str, str] | None = None,
    seed: int = 1,
    wave_day: dt.date = dt.date(2026, 11, 2),
    close: bool = True,
) -> Round:
    """Open a round (no fan-out task), invite the audience, let each employee for whom
    `respond` is true answer through `response_submit`, then close it (without the after-close
    hooks: tests call the publication service themselves)."""
    from surveys.services import delivery

    cadence = cadence_save(
        name=f"Pulse {seed}",
        template=SurveyTemplate.objects.get(name="AI pressure & well-being pulse"),
        audience=list(Team.objects.filter(path__in=audience)),
        start_date=wave_day,
    )
    original = delivery._enqueue_fan_out
    delivery._enqueue_fan_out = lambda round_id, send_now: None  # type: ignore[assignment]
    try:
        round_, _ = delivery.round_open(
            cadence=Cadence.objects.get(pk=cadence.pk), day=wave_day, send_now=True
        )
    finally:
        delivery._enqueue_fan_out = original  # type: ignore[assignment]
    employees = list(delivery.audience(cadence).order_by("email"))
    invitations_create(round_=round_, employee_ids=[e.pk for e in employees], send_now=True)
    rng = random.Random(seed)
    questions = list(round_.questions.exclude(response_kind="free_text"))
    for employee in employees:
        if not respond(employee):
            continue
        invitation = Invitation.objects.get(round=round_, employee=employee)
        answers = {q.pk: answer(employee, q, rng) for q in questions}
        text = (comments or {}).get(employee.email, "")
        response_submit(
            token=invitation_token(invitation.nonce),
            answers=answers,
            comments=[text] if text else [],
            now=round_.opens_at + dt.timedelta(minutes=1),
        )
    if close:
        round_close(round_id=round_.pk)
        round_.refresh_from_db()
    return round_
