"""The one door for writes to responses.

Guarantees of `response_submit`:
- one submission per invitation: the invitation is claimed by a conditional UPDATE
  (`responded = false -> true`) in the same transaction as the response rows, so a second
  submit, the back button or a double click stores nothing and says so;
- nothing links the response to the invitation: the response gets a random UUID, no
  timestamp, and only the reportable attributes of the employee (team, location, tenure band)
  as they are now (a later roster change never moves it);
- no broker involved: answers are stored even when Redis is down;
- all or nothing: an invalid answer raises before anything is written.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from surveys.models import Answer, Comment, Employee, Invitation, Response, Round, SurveyTemplate
from surveys.services.delivery import tenure_band, token_hash

MAX_COMMENT_LENGTH = 2000


class LinkState(enum.Enum):
    UNKNOWN = "unknown"
    NOT_YET_OPEN = "not_yet_open"
    CLOSED = "closed"
    ANSWERED = "answered"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class ResolvedLink:
    state: LinkState
    invitation: Invitation | None = None


def invitation_resolve(*, token: str, now: dt.datetime | None = None) -> ResolvedLink:
    """What a personal link leads to. Unknown and malformed tokens look the same."""
    now = now or timezone.now()
    if not token or len(token) > 100:
        return ResolvedLink(LinkState.UNKNOWN)
    invitation = _invitation_by_token_hash(token_hash(token))
    if invitation is None:
        return ResolvedLink(LinkState.UNKNOWN)
    round_ = invitation.round
    if round_.status == Round.Status.CLOSED or round_.closes_at <= now:
        return ResolvedLink(LinkState.CLOSED, invitation)
    if invitation.responded:
        return ResolvedLink(LinkState.ANSWERED, invitation)
    if invitation.sent_at is None and invitation.send_at > now:
        return ResolvedLink(LinkState.NOT_YET_OPEN, invitation)
    return ResolvedLink(LinkState.OPEN, invitation)


_LINKED = (Invitation, Round, SurveyTemplate, Employee)


@functools.cache
def _invitation_query() -> str:
    """The invitation with its round, the round's template and the employee, in one SELECT."""
    invitation, round_, template, employee = (m._meta.db_table for m in _LINKED)
    columns = ", ".join(
        f"{table}.{field.column}"
        for model, table in zip(_LINKED, (invitation, round_, template, employee), strict=True)
        for field in model._meta.concrete_fields
    )
    return (
        f"SELECT {columns} FROM {invitation}"
        f" JOIN {round_} ON {round_}.id = {invitation}.round_id"
        f" JOIN {template} ON {template}.id = {round_}.template_id"
        f" JOIN {employee} ON {employee}.id = {invitation}.employee_id"
        f" WHERE {invitation}.token_hash = %s"
    )


def _invitation_by_token_hash(digest: str) -> Invitation | None:
    """The invitation whose token hashes to `digest`, with `round`, `round.template` and
    `employee` loaded (what `select_related("round__template", "employee")` gives).

    Every answering request starts here, and the ORM's compilation of that four-table
    select_related costs more CPU than the rest of a submission; on PostgreSQL the SQL is built
    once per process and the rows become model instances through `Model.from_db`, as the ORM
    itself does (none of these models' fields needs a conversion from what psycopg returns)."""
    if connection.vendor != "postgresql":
        return (
            Invitation.objects.select_related("round__template", "employee")
            .filter(token_hash=digest)
            .first()
        )
    with connection.cursor() as cursor:
        cursor.execute(_invitation_query(), [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    instances = []
    start = 0
    for model in _LINKED:
        fields = model._meta.concrete_fields
        names = [field.attname for field in fields]
        instances.append(model.from_db(connection.alias, names, row[start : start + len(names)]))
        start += len(names)
    invitation, round_, template, employee = instances
    round_.template = template
    invitation.round = round_
    invitation.employee = employee
    return invitation


def _round_still_open(round_id: int) -> bool:
    """Whether the round is open, share-locking its row until the transaction ends (PostgreSQL;
    SQLite's IMMEDIATE transactions already serialise writers)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {Round._meta.db_table} WHERE id = %s AND status = %s FOR SHARE",
                [round_id, Round.Status.OPEN],
            )
            return cursor.fetchone() is not None
    return Round.objects.filter(pk=round_id, status=Round.Status.OPEN).exists()


class SubmitOutcome(enum.Enum):
    STORED = "stored"
    ALREADY_ANSWERED = "already_answered"
    CLOSED = "closed"
    UNKNOWN = "unknown"


def response_submit(
    *,
    token: str,
    answers: Mapping[int, float | None],
    comments: list[str] | None = None,
    now: dt.datetime | None = None,
    link: ResolvedLink | None = None,
    expected_questions: set[int] | None = None,
) -> SubmitOutcome:
    """Store one anonymous response for the invitation behind `token` (see module docstring).

    `answers` maps every question of the round to a value from its anchors or None ("Prefer
    not to say"); free-text questions are not part of `answers`: their texts, and the optional
    comment box, are `comments`, stored unlinked in the comments table. Raises ValueError
    when a question of the round is missing or unknown. A caller that has just resolved the
    link and loaded the round's scored question ids may pass them (`link`,
    `expected_questions`) to save the queries; the claim below is what decides.

    Concurrency: the claim is a single-row conditional UPDATE (`responded = false`), which
    PostgreSQL re-checks after waiting for a concurrent claim, so of two simultaneous submits
    exactly one stores. The round row is share-locked in the same transaction, so a concurrent
    close waits for in-flight submissions and nothing lands in a closed round.
    """
    now = now or timezone.now()
    if link is None:
        link = invitation_resolve(token=token, now=now)
    if link.state is LinkState.UNKNOWN:
        return SubmitOutcome.UNKNOWN
    if link.state is LinkState.CLOSED:
        return SubmitOutcome.CLOSED
    if link.state is LinkState.ANSWERED:
        return SubmitOutcome.ALREADY_ANSWERED
    invitation = link.invitation
    assert invitation is not None
    round_ = invitation.round
    expected = expected_questions
    if expected is None:
        expected = set(
            round_.questions.exclude(response_kind="free_text").values_list("pk", flat=True)
        )
    if set(answers) != expected:
        missing = expected - set(answers)
        extra = set(answers) - expected
        raise ValueError(f"answers do not match the round: missing {missing}, unknown {extra}")
    texts = [c.strip()[:MAX_COMMENT_LENGTH] for c in comments or [] if c and c.strip()]
    employee = invitation.employee
    band = tenure_band(employee.start_date, round_.scheduled_for)
    if connection.vendor == "postgresql":
        return _submit_in_one_statement(
            invitation_id=invitation.pk,
            round_id=round_.pk,
            team_id=employee.team_id,
            location=employee.location,
            band=band,
            answers=answers,
            texts=texts,
        )
    with transaction.atomic():
        if not _round_still_open(round_.pk):
            return SubmitOutcome.CLOSED
        claimed = Invitation.objects.filter(pk=invitation.pk, responded=False).update(
            responded=True
        )
        if not claimed:
            return SubmitOutcome.ALREADY_ANSWERED
        response = Response.objects.create(
            round=round_, team_id=employee.team_id, location=employee.location, tenure_band=band
        )
        Answer.objects.bulk_create(
            [Answer(response=response, question_id=q, value=v) for q, v in answers.items()]
        )
        Comment.objects.bulk_create(
            [Comment(round=round_, team_id=employee.team_id, text=text) for text in texts]
        )
    return SubmitOutcome.STORED


_SUBMIT = f"""
WITH open_round AS (
    SELECT id FROM {Round._meta.db_table} WHERE id = %(round)s AND status = %(open)s FOR SHARE
), claimed AS (
    UPDATE {Invitation._meta.db_table} SET responded = true
    WHERE id = %(invitation)s AND NOT responded AND EXISTS (SELECT 1 FROM open_round)
    RETURNING id
), response AS (
    INSERT INTO {Response._meta.db_table}
        (id, round_id, team_id, location, tenure_band, generalised)
    SELECT %(response)s, %(round)s, %(team)s, %(location)s, %(band)s, false
    WHERE EXISTS (SELECT 1 FROM claimed)
    RETURNING id
), answers AS (
    INSERT INTO {Answer._meta.db_table} (id, response_id, question_id, value)
    SELECT a.id, response.id, a.question, a.value FROM response,
        unnest(%(answer_ids)s::uuid[], %(questions)s::bigint[], %(values)s::float8[])
        AS a(id, question, value)
), comments AS (
    INSERT INTO {Comment._meta.db_table} (id, round_id, team_id, text)
    SELECT c.id, %(round)s, %(team)s, c.text FROM response,
        unnest(%(comment_ids)s::uuid[], %(texts)s::text[]) AS c(id, text)
)
SELECT EXISTS (SELECT 1 FROM open_round), EXISTS (SELECT 1 FROM claimed)
"""


def _submit_in_one_statement(
    *,
    invitation_id: int,
    round_id: int,
    team_id: int | None,
    location: str,
    band: str,
    answers: Mapping[int, float | None],
    texts: list[str],
) -> SubmitOutcome:
    """PostgreSQL: lock, claim and store in one statement, so one round trip and one commit.

    The same steps as the portable path, in the same order, as data-modifying CTEs of one
    statement (atomic on its own, durable on return: synchronous commit as configured): the
    round row is share-locked while open (a concurrent close waits, and one that committed
    first leaves no row), the invitation is claimed by the conditional UPDATE (re-checked after
    waiting for a concurrent claim, so of two simultaneous submits exactly one claims), and
    the response, its answers and the comments are inserted only when the claim returned a
    row. Random UUIDs as everywhere; no timestamp, no reference to the invitation."""
    question_ids = list(answers)
    with connection.cursor() as cursor:
        cursor.execute(
            _SUBMIT,
            {
                "round": round_id,
                "open": Round.Status.OPEN.value,
                "invitation": invitation_id,
                "response": uuid.uuid4(),
                "team": team_id,
                "location": location,
                "band": band,
                "answer_ids": [uuid.uuid4() for _ in question_ids],
                "questions": question_ids,
                "values": [answers[q] for q in question_ids],
                "comment_ids": [uuid.uuid4() for _ in texts],
                "texts": texts,
            },
        )
        round_open, claimed = cursor.fetchone()
    if not round_open:
        return SubmitOutcome.CLOSED
    if not claimed:
        return SubmitOutcome.ALREADY_ANSWERED
    return SubmitOutcome.STORED


def round_storage_shuffle(*, round_id: int) -> int:
    """Rewrite a closed round's responses, answers, comments and participation rows in a random
    physical order, keeping every id and value.

    While a round is open, rows are stored in arrival order (a database dump lists them so);
    after this step neither table's order says anything about when anyone answered, so the two
    cannot be matched by position. Idempotent (a second run shuffles again); one transaction,
    so a crash leaves the previous order intact. Returns the number of responses rewritten.
    Caller: `surveys.services.delivery.round_after_close`."""
    rng = random.SystemRandom()
    with transaction.atomic():
        responses = list(Response.objects.filter(round_id=round_id))
        answers = list(Answer.objects.filter(response__round_id=round_id))
        comments = list(Comment.objects.filter(round_id=round_id))
        invitations = list(Invitation.objects.filter(round_id=round_id))
        for rows in (responses, answers, comments, invitations):
            rng.shuffle(rows)
        Answer.objects.filter(response__round_id=round_id).delete()
        Response.objects.filter(round_id=round_id).delete()
        Comment.objects.filter(round_id=round_id).delete()
        Invitation.objects.filter(round_id=round_id).delete()
        Response.objects.bulk_create(responses, batch_size=1000)
        Answer.objects.bulk_create(answers, batch_size=2000)
        Comment.objects.bulk_create(comments, batch_size=1000)
        Invitation.objects.bulk_create(invitations, batch_size=1000)
    return len(responses)
