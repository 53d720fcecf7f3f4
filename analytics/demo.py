"""Generated organisations with answered rounds and AI usage, built through the real services:
invitations + `response_submit` + `round_close` + the after-close hooks (publication, hotspots),
and usage exports of three formats (generic CSV, Claude Code JSON, Cursor JSON) imported by
`analytics.services.usage_import`. Callers: `seed_demo` and the hotspot tests and benchmark.

Each team (a leaf of the tree) has a `TeamProfile`: the construct scores its members answer
around, and its AI usage per active person per day. A planted hotspot is a profile with high
pressure, low well-being and high usage. Everything is seeded: the same arguments give the same
answers and the same files.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from surveys import scoring
from surveys.models import Cadence, Employee, Invitation, Question, Round

PRESSURE_SCALES = frozenset({"AUP", "PAU", "AWI", "AMD"})
TOKEN_TOOL = "chat-assistant"  # noqa: S105 - a tool name, not a secret


@dataclass(frozen=True, slots=True)
class TeamProfile:
    """What a team's members answer around (0-100 construct scores) and how they use AI."""

    pressure: float = 40.0
    wellbeing: float = 62.0
    intensity: float = 20_000.0  # tokens per active person per day
    active: float = 0.85  # chance that a member uses AI on a working day
    users: int | None = None  # only the first n members (by roster id) use AI at all


NORMAL = TeamProfile()
HOT = TeamProfile(pressure=78.0, wellbeing=38.0, intensity=90_000.0, active=0.95)


def _target(profile: TeamProfile, scale_code: str) -> float:
    if scale_code in PRESSURE_SCALES:
        return profile.pressure
    if scale_code == "WHO5":
        return profile.wellbeing
    if scale_code == "CBI_WORK":
        return 105.0 - profile.wellbeing
    if scale_code == "AAV":
        return 100.0 - profile.pressure
    return 50.0


def generated_answer(
    profile: TeamProfile, question: Question, rng: random.Random, person_offset: float = 0.0
) -> float | None:
    """An answer near the profile's score for the question's scale: item noise SD 20 points on
    top of the person's own offset (SD 16 in `round_answered`), so that a team's WHO-5 scores
    spread about as much as real ones do (individual SD about 16-18)."""
    kind = question.response_kind
    values = [v for v, _ in scoring.ANCHORS[kind]]
    # A person under more strain than their team scores worse everywhere: higher pressure and
    # burnout, lower well-being and autonomy.
    better = question.scale.code in ("WHO5", "AAV")
    strain = -person_offset if better else person_offset
    target = _target(profile, question.scale.code) + strain + rng.gauss(0.0, 20.0)
    return min(
        values,
        key=lambda v: abs(
            (scoring.item_score_0_100(kind, v, reverse=question.reverse) or 0.0) - target
        ),
    )


def profile_of(path: str, profiles: Mapping[str, TeamProfile]) -> TeamProfile:
    """The profile of the deepest profiled team containing `path` (NORMAL if none)."""
    parts = path.split("/")
    for i in range(len(parts), 0, -1):
        found = profiles.get("/".join(parts[:i]))
        if found is not None:
            return found
    return NORMAL


def round_answered(
    *,
    cadence: Cadence,
    day: dt.date,
    profiles: Mapping[str, TeamProfile],
    seed: int,
    response_rate: float = 0.9,
    after_close: bool = True,
) -> Round:
    """Open the cadence's round of `day` (sent at once, at 09:00 UTC that day), invite its
    audience, let each invitee answer with probability `response_rate` through
    `response_submit`, close it when its window ends, then run the after-close work
    (publication, hotspots) in-process. A round that exists already is returned as it is, so
    a seed interrupted half-way resumes. The fan-out task `round_open` enqueues finds the round
    closed and does nothing."""
    from surveys.services.delivery import (
        audience,
        invitation_token,
        invitations_create,
        round_after_close,
        round_close,
        round_open,
    )
    from surveys.services.responses import response_submit

    opens = dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)
    round_, created = round_open(cadence=cadence, day=day, now=opens, send_now=True)
    if not created and round_.status == Round.Status.CLOSED:
        return round_
    ids = list(audience(cadence).order_by("pk").values_list("pk", flat=True))
    invitations_create(round_=round_, employee_ids=ids, send_now=True)
    rng = random.Random(f"answers-{seed}-{day.isoformat()}")
    questions = list(round_.questions.exclude(response_kind="free_text").select_related("scale"))
    invitations = (
        Invitation.objects.filter(round=round_, responded=False)
        .select_related("employee__team")
        .order_by("employee__email")
    )
    for invitation in invitations:
        if rng.random() >= response_rate:
            continue
        profile = profile_of(invitation.employee.team.path, profiles)
        offset = rng.gauss(0.0, 16.0)
        answers = {q.pk: generated_answer(profile, q, rng, offset) for q in questions}
        response_submit(
            token=invitation_token(invitation.nonce),
            answers=answers,
            now=round_.opens_at + dt.timedelta(hours=1),
        )
    round_close(round_id=round_.pk, now=round_.closes_at)
    if after_close:
        round_after_close(round_id=round_.pk)
    round_.refresh_from_db()
    return round_


# --- Usage exports ----------------------------------------------------------------------------


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def usage_exports(
    *,
    employees: Sequence[Employee],
    profiles: Mapping[str, TeamProfile],
    start: dt.date,
    end: dt.date,
    seed: int,
    formats: Sequence[str] = ("generic", "claude-code", "cursor"),
) -> dict[str, list[tuple[str, bytes]]]:
    """Per-person daily usage as export files, by format. Tokens come from two tools: people
    with an even roster id use a chat assistant (generic CSV, metric `tokens`), the others
    Claude Code (`output_tokens`), so nobody is counted twice for one day; everybody active
    also has Cursor requests. Weekends are quieter."""
    rng = random.Random(f"usage-{seed}")
    generic = ["email,date,tool,metric,value,unit"]
    claude: list[dict[str, object]] = []
    cursor: list[dict[str, object]] = []
    seen: dict[str, int] = {}
    for employee in sorted(employees, key=lambda e: e.pk):
        profile = profile_of(employee.team.path, profiles)
        rank = seen[employee.team.path] = seen.get(employee.team.path, 0) + 1
        if profile.users is not None and rank > profile.users:
            continue
        habit = math.exp(rng.gauss(0.0, 0.35))
        for day in _days(start, end):
            chance = profile.active if day.weekday() < 5 else profile.active * 0.2
            if rng.random() >= chance:
                continue
            tokens = round(profile.intensity * habit * math.exp(rng.gauss(0.0, 0.3)))
            if "generic" in formats and (employee.pk % 2 == 0 or "claude-code" not in formats):
                generic.append(f"{employee.email},{day.isoformat()},{TOKEN_TOOL},tokens,{tokens},")
            elif "claude-code" in formats:
                claude.append(
                    {
                        "date": f"{day.isoformat()}T00:00:00Z",
                        "actor": {"type": "user_actor", "email_address": employee.email},
                        "core_metrics": {
                            "num_sessions": 1 + tokens // 20_000,
                            "lines_of_code": {"added": tokens // 300, "removed": tokens // 900},
                        },
                        "model_breakdown": [
                            {"model": "demo", "tokens": {"input": 3 * tokens, "output": tokens}}
                        ],
                    }
                )
            if "cursor" in formats:
                epoch = dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC).timestamp()
                cursor.append(
                    {
                        "date": int(epoch * 1000),
                        "email": employee.email,
                        "isActive": True,
                        "agentRequests": max(1, tokens // 4_000),
                        "chatRequests": max(1, tokens // 9_000),
                        "totalTabsAccepted": tokens // 2_000,
                    }
                )
    out: dict[str, list[tuple[str, bytes]]] = {}
    if "generic" in formats and len(generic) > 1:
        out["generic"] = [("generic-usage.csv", ("\n".join(generic) + "\n").encode())]
    if claude:
        out["claude-code"] = [("claude-code.json", json.dumps({"data": claude}).encode())]
    if cursor:
        out["cursor"] = [("cursor-daily-usage.json", json.dumps({"data": cursor}).encode())]
    return out


def usage_span_start(first_round: dt.date) -> dt.date:
    """The first day of usage that generated worlds need for rounds opening on `first_round`
    or later: the hotspots join a round with the last calendar month that ended before it
    closed (`gate.usage_round_period`: at the earliest, the month before `first_round`'s) and
    compare it with the month before that (`gate.usage_previous_period`)."""
    from analytics import gate

    earliest = gate.month_bounds(first_round.replace(day=1) - dt.timedelta(days=1))
    return gate.usage_previous_period(*earliest)[0]


def usage_import_generated(files: Mapping[str, list[tuple[str, bytes]]]) -> dict[str, str]:
    """Import generated exports through the real import service; format -> its summary."""
    from analytics.services import usage_files_from_bytes, usage_import

    return {
        name: usage_import(format=name, files=usage_files_from_bytes(items)).summary()
        for name, items in files.items()
    }


# --- The demo organisation's rounds ----------------------------------------------------------

DEMO_CADENCE = "Demo pulse"
DEMO_ROUNDS = 4
DEMO_HOTSPOTS: dict[str, TeamProfile] = {
    "Engineering/Platform/API": TeamProfile(
        pressure=90.0, wellbeing=40.0, intensity=120_000.0, active=0.95
    ),
    "Sales/EMEA": TeamProfile(pressure=88.0, wellbeing=42.0, intensity=95_000.0, active=0.9),
}
DEMO_PROFILES: dict[str, TeamProfile] = {
    "Engineering/Platform/Infra": TeamProfile(pressure=42, wellbeing=62, intensity=32_000),
    "Engineering/Platform/Data": TeamProfile(pressure=46, wellbeing=58, intensity=38_000),
    "Engineering/Product/Web": TeamProfile(pressure=38, wellbeing=64, intensity=24_000),
    "Engineering/Product/Mobile": TeamProfile(pressure=34, wellbeing=66, intensity=18_000),
    "Engineering/Product/Growth": TeamProfile(pressure=50, wellbeing=54, intensity=26_000),
    "Sales/Americas": TeamProfile(pressure=36, wellbeing=62, intensity=9_000),
    "Support/Frontline": TeamProfile(pressure=46, wellbeing=56, intensity=14_000),
    "Support/Escalations": TeamProfile(pressure=32, wellbeing=64, intensity=12_000),
    "People": TeamProfile(pressure=28, wellbeing=68, intensity=6_000, active=0.6),
    **DEMO_HOTSPOTS,
}


def seed_hotspot_demo(*, today: dt.date, seed: int = 7) -> str:
    """The demo's survey history: a fortnightly cadence over the whole organisation, usage
    exports of three formats imported for the whole span (from the first day of the months the
    rounds' usage months compare with, `usage_span_start`, to yesterday, so that every round
    has its usage month and the month before), then `DEMO_ROUNDS` rounds answered,
    closed, published and assessed, with planted hotspots. Idempotent: once the cadence exists,
    its dates are kept (a later run neither moves nor duplicates a round) and usage is not
    imported again. Returns a one-line summary."""
    from surveys.models import SurveyTemplate, Team
    from surveys.services.config import cadence_save

    cadence = Cadence.objects.filter(name=DEMO_CADENCE).first()
    lines = []
    if cadence is None:
        # The last round's window (5 days) has ended before today.
        last = today - dt.timedelta(days=7 + today.weekday())
        first = last - dt.timedelta(weeks=2 * (DEMO_ROUNDS - 1))
        employees = list(Employee.objects.active().select_related("team"))
        files = usage_exports(
            employees=employees,
            profiles=DEMO_PROFILES,
            start=usage_span_start(first),
            end=today - dt.timedelta(days=1),
            seed=seed,
        )
        summaries = usage_import_generated(files)
        lines.append(f"usage imported from {', '.join(sorted(summaries))}")
        cadence = cadence_save(
            name=DEMO_CADENCE,
            template=SurveyTemplate.objects.get(name="AI pressure & well-being pulse"),
            audience=list(Team.objects.filter(depth=0)),
            start_date=first,
            reminder_offsets=[2, 4],
        )
    days = [cadence.start_date + dt.timedelta(weeks=2 * i) for i in range(DEMO_ROUNDS)]
    for day in days:
        round_answered(cadence=cadence, day=day, profiles=DEMO_PROFILES, seed=seed)
    from analytics.models import Hotspot

    lines.append(
        f"{len(days)} closed rounds from {days[0]} to {days[-1]}, "
        f"{Hotspot.objects.count()} hotspot(s)"
    )
    return "; ".join(lines)
