"""Rounds, invitations, emails and reminders: the write side of survey delivery.

Callers: the periodic tasks in `surveys.tasks` and their management-command twins, the HR
console ("send now", "close now") and the API. Every function here is safe to run twice and
safe to crash in the middle:

- a round is unique per cadence and scheduled date (database constraint), so two beats never
  create two rounds;
- invitations are unique per round and employee, created with ON CONFLICT DO NOTHING;
- invitation emails are leased (a fan-out chunk's new invitations as they are inserted,
  `_invitations_insert`; any others a batch at a time, `invitations_send_due`), then each is
  sent and marked sent by one conditional UPDATE before the next goes out: no two senders
  send the same email, a sender killed at any point leaves at most the one email in flight
  sent but unmarked, and its unsent ones go to the next run once the lease expires;
- a reminder is sent inside the transaction that claims it (`reminders_sent = n`): a crash
  before the commit rolls the claim back and the next run sends it.
Those marks do not wait for the disk (`_commits_without_waiting_for_disk`): only a crash of the
database server itself can lose the last fraction of a second of them, and then resends those
emails (duplicates, never a gap).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import secrets
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape

from surveys.models import (
    Cadence,
    Employee,
    Invitation,
    Question,
    Round,
    SurveyTemplate,
    Team,
    Wave,
)

if TYPE_CHECKING:
    import psycopg

FANOUT_CHUNK: int = getattr(settings, "PULSE_FANOUT_CHUNK", 1000)


# --- Tokens -------------------------------------------------------------------------------------


def invitation_token(nonce: str) -> str:
    """The personal link's token, derived from the invitation's nonce with the secret key, so
    that reminders can repeat the same link while the database stores only its hash."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"pulse-invitation:{nonce}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_url(nonce: str) -> str:
    return f"{settings.BASE_URL}/s/{invitation_token(nonce)}"


# --- Schedules ----------------------------------------------------------------------------------


def cadence_occurrences(cadence: Cadence, *, until: dt.date) -> list[dt.date]:
    """Every scheduled date of `cadence` from its start date up to `until` (inclusive).

    Every N weeks: the first chosen weekday on or after `start_date`, then every N weeks.
    Monthly: the first chosen weekday of each month, from `start_date`'s month on.
    """
    dates: list[dt.date] = []
    if cadence.frequency == Cadence.Frequency.MONTHLY:
        year, month = cadence.start_date.year, cadence.start_date.month
        while True:
            first = dt.date(year, month, 1)
            day = first + dt.timedelta(days=(cadence.weekday - first.weekday()) % 7)
            if day > until:
                break
            if day >= cadence.start_date:
                dates.append(day)
            month += 1
            if month == 13:
                year, month = year + 1, 1
        return dates
    step = dt.timedelta(weeks=max(cadence.interval_weeks, 1))
    day = cadence.start_date + dt.timedelta(
        days=(cadence.weekday - cadence.start_date.weekday()) % 7
    )
    while day <= until:
        dates.append(day)
        day += step
    return dates


def local_instant(day: dt.date, at: dt.time, tz_name: str) -> dt.datetime:
    """`day` at local time `at` in `tz_name`, as an aware UTC datetime."""
    try:
        tz = zoneinfo.ZoneInfo(tz_name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("UTC")
    return dt.datetime.combine(day, at, tzinfo=tz).astimezone(dt.UTC)


def round_questions(template: SurveyTemplate, *, wave: str, quarterly: bool) -> list[Question]:
    """The items a round asks: every-round items, the round's wave, and the quarterly items in
    the first round of a quarter."""
    waves = [Wave.EVERY, wave] + ([Wave.QUARTERLY] if quarterly else [])
    return list(
        Question.objects.filter(
            pk__in=template.items.filter(wave__in=waves).values("question")
        ).select_related("scale")
    )


def audience(cadence: Cadence) -> QuerySet[Employee]:
    """Active employees in the cadence's audience subtrees, minus the excluded subtrees."""
    included = Team.objects.subtrees(cadence.audience.values_list("path", flat=True))
    excluded = Team.objects.subtrees(cadence.excluded.values_list("path", flat=True))
    return Employee.objects.active().filter(team__in=included).exclude(team__in=excluded)


@dataclass(frozen=True, slots=True)
class Occurrence:
    cadence: Cadence
    day: dt.date
    index: int
    quarterly: bool


def _opening_span(cadence: Cadence, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """When `day`'s round opens in the audience's earliest and latest time zones (UTC)."""
    zones = set(audience(cadence).values_list("timezone", flat=True).distinct()) or {"UTC"}
    opens = [local_instant(day, cadence.local_time, tz) for tz in zones]
    return min(opens), max(opens)


def _occurrence(cadence: Cadence, day: dt.date) -> Occurrence:
    """Where `day` falls in the cadence: its index (wave A on even, B on odd) and whether it is
    the first wave-A round of its calendar quarter (quarterly items go there, so that no round
    grows past the 12 items of a 3-minute pulse)."""
    dates = cadence_occurrences(cadence, until=day)
    index = dates.index(day) if day in dates else len(dates)
    quarter = (day.year, (day.month - 1) // 3)
    earlier_a = [d for i, d in enumerate(dates) if i % 2 == 0 and d < day]
    quarterly = index % 2 == 0 and not any(
        (d.year, (d.month - 1) // 3) == quarter for d in earlier_a
    )
    return Occurrence(cadence, day, index, quarterly)


# --- Opening rounds -----------------------------------------------------------------------------


def round_open(
    *, cadence: Cadence, day: dt.date, now: dt.datetime | None = None, send_now: bool = False
) -> tuple[Round, bool]:
    """Create the round of `cadence` scheduled for `day` (or return the existing one) and, when
    created, enqueue its invitation fan-out after commit. Returns (round, created).

    Each invitation is sent at the employee's own local opening time (`send_now`: right away).
    Idempotent: the (cadence, scheduled_for) constraint makes a second call return the first
    round; a concurrent call that loses the race gets the winner's round.
    """
    now = now or timezone.now()
    existing = Round.objects.filter(cadence=cadence, scheduled_for=day).first()
    if existing is not None:
        return existing, False
    occurrence = _occurrence(cadence, day)
    wave = "A" if occurrence.index % 2 == 0 else "B"
    opens_at, latest_open = (now, now) if send_now else _opening_span(cadence, day)
    closes_at = latest_open + dt.timedelta(days=cadence.window_days)
    questions = round_questions(cadence.template, wave=wave, quarterly=occurrence.quarterly)
    try:
        with transaction.atomic():
            new_round = Round.objects.create(
                cadence=cadence,
                template=cadence.template,
                name=f"{cadence.name} · {day.isoformat()} (wave {wave})",
                scheduled_for=day,
                sequence=occurrence.index,
                wave=wave,
                sends_immediately=send_now,
                opens_at=opens_at,
                closes_at=closes_at,
            )
            new_round.questions.set(questions)
            transaction.on_commit(lambda: _enqueue_fan_out(new_round.pk, send_now))
    except IntegrityError:
        return Round.objects.get(cadence=cadence, scheduled_for=day), False
    return new_round, True


def _enqueue_fan_out(round_id: int, send_now: bool) -> None:
    from surveys.tasks import fan_out_round

    fan_out_round.delay(round_id, send_now)


def rounds_open_due(*, now: dt.datetime | None = None) -> list[Round]:
    """Open every round that is due: for each active cadence, the latest scheduled date whose
    earliest local opening time has passed and whose window has not ended. Rounds missed while
    the scheduler was down are not opened late once their window is over. Idempotent.
    Callers: the `open_due_rounds` periodic task and command."""
    now = now or timezone.now()
    opened: list[Round] = []
    for cadence in Cadence.objects.filter(is_active=True).select_related("template"):
        # UTC+14 is the earliest zone: a date may already be due up to 14 hours "early".
        candidates = cadence_occurrences(cadence, until=(now + dt.timedelta(hours=14)).date())
        for day in reversed(candidates[-2:]):
            first_open = local_instant(day, cadence.local_time, "Etc/GMT-14")
            if first_open > now:
                continue
            earliest, latest = _opening_span(cadence, day)
            if earliest > now:
                continue
            if latest + dt.timedelta(days=cadence.window_days) <= now:
                break
            new_round, created = round_open(cadence=cadence, day=day, now=now)
            if created:
                opened.append(new_round)
            break
    return opened


def round_audience(round_: Round) -> QuerySet[Employee]:
    """The employees a round invites: its cadence's audience, or for a one-off round the
    active employees of its `audience_team` subtree (none when it has neither)."""
    if round_.cadence is not None:
        return audience(round_.cadence)
    if round_.audience_team is not None:
        return Employee.objects.active().in_subtrees([round_.audience_team.path])
    return Employee.objects.none()


def round_reminder_offsets(round_: Round) -> list[int]:
    """Days after sending at which the n-th reminder is due: the cadence's current offsets
    (HR's edits apply to open rounds), or the one-off round's own."""
    offsets = round_.cadence.reminder_offsets if round_.cadence is not None else None
    return [int(days) for days in (offsets if offsets is not None else round_.reminder_offsets)]


def round_fan_out(*, round_id: int, send_now: bool = False) -> int:
    """Split the round's audience into chunks and enqueue one `invite_chunk` task per chunk.
    Returns the audience size. Safe to run twice: chunks are idempotent."""
    from surveys.tasks import invite_chunk

    round_ = Round.objects.select_related("cadence", "audience_team").get(pk=round_id)
    if round_.status != Round.Status.OPEN:
        return 0
    ids = list(round_audience(round_).order_by("pk").values_list("pk", flat=True))
    Round.objects.filter(pk=round_id).update(fanout_total=len(ids))
    for start in range(0, len(ids), FANOUT_CHUNK):
        invite_chunk.delay(round_id, ids[start : start + FANOUT_CHUNK], send_now)
    return len(ids)


def invitations_create(
    *, round_: Round, employee_ids: Sequence[int], send_now: bool = False
) -> int:
    """Create the invitations of these employees (existing ones are left as they are).
    Returns how many were new. Idempotent (unique round x employee, ignore conflicts)."""
    created, _ = _invitations_insert(round_=round_, employee_ids=employee_ids, send_now=send_now)
    return created


def _invitations_insert(
    *, round_: Round, employee_ids: Sequence[int], send_now: bool, lease: str = ""
) -> tuple[int, list[_Recipient]]:
    """Insert the missing invitations of these employees; return how many were new and, when
    `lease` is given, the recipients of the new ones already due, inserted leased to `lease`.

    Leasing at insert (PostgreSQL): a new invitation that is due is written with the sender's
    lease in the same statement that creates it, so the sender that created it can send it
    without first reading it back and leasing it with a second UPDATE; everyone else sees a
    live lease, exactly as if it had been leased by `invitations_send_due`. Existing rows are
    never touched (ON CONFLICT DO NOTHING), so a re-run leases nothing here and leaves them to
    `invitations_send_due`. The INSERT commits before any email is sent, so a link never goes
    out before its invitation exists."""
    now = timezone.now()
    if db_connection.vendor == "postgresql":
        with _binding_cursor() as cursor:
            cursor.execute(
                f"SELECT id, timezone, name, email FROM {Employee._meta.db_table}"
                " WHERE id = ANY(%s::bigint[])",
                [_array_literal(employee_ids)],
            )
            employees = cursor.fetchall()
    else:
        employees = list(
            Employee.objects.filter(pk__in=employee_ids).values_list(
                "pk", "timezone", "name", "email"
            )
        )
    local_time = None
    if round_.cadence is not None and not (send_now or round_.sends_immediately):
        local_time = round_.cadence.local_time
    people: dict[int, tuple[str, str]] = {}
    send_at: dict[int, dt.datetime] = {}
    for pk, tz, name, email in employees:
        people[pk] = (name, email)
        send_at[pk] = (
            local_instant(round_.scheduled_for, local_time, tz)
            if local_time is not None
            else round_.opens_at
        )
    new = [pk for pk in employee_ids if pk in send_at]
    nonces = [secrets.token_hex(16) for _ in new]
    hashes = [token_hash(invitation_token(nonce)) for nonce in nonces]
    if db_connection.vendor != "postgresql":
        before = Invitation.objects.filter(round=round_, employee_id__in=new).count()
        Invitation.objects.bulk_create(
            [
                Invitation(
                    round=round_,
                    employee_id=pk,
                    nonce=n,
                    token_hash=h,
                    send_at=send_at[pk],
                )
                for pk, n, h in zip(new, nonces, hashes, strict=True)
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        return Invitation.objects.filter(round=round_, employee_id__in=new).count() - before, []
    leased = [bool(lease) and send_at[pk] <= now for pk in new]
    # One statement from arrays (no model instance per row); RETURNING lists only the rows it
    # inserted, so it both counts the new ones and names the ones leased to this sender.
    with _binding_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Invitation._meta.db_table} (round_id, employee_id, nonce, token_hash,"
            " send_at, claim_token, claimed_at, reminders_sent, responded) "
            "SELECT %s, e, n, h, s, CASE WHEN l THEN %s ELSE '' END,"
            " CASE WHEN l THEN %s::timestamptz END, 0, false"
            " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[], %s::boolean[])"
            " AS u(e, n, h, s, l) ON CONFLICT (round_id, employee_id) DO NOTHING"
            " RETURNING id, employee_id, claim_token",
            [
                round_.pk,
                lease,
                now,
                _array_literal(new),
                _array_literal(nonces),
                _array_literal(hashes),
                _array_literal(send_at[pk].isoformat() for pk in new),
                _array_literal("t" if due else "f" for due in leased),
            ],
        )
        inserted = cursor.fetchall()
    nonce_of = dict(zip(new, nonces, strict=True))
    recipients = [
        _Recipient(pk, round_.pk, nonce_of[employee], *people[employee])
        for pk, employee, claim in inserted
        if lease and claim == lease
    ]
    return len(inserted), sorted(recipients, key=lambda r: r.pk)


def _array_literal(values: Iterable[object]) -> str:
    """`{v1,v2,...}`, the PostgreSQL text form of an array, for values whose text needs no
    quoting there: integers, hex digests, ISO-8601 datetimes, t/f. Sent as one text parameter
    and cast in SQL (`%s::bigint[]`), it costs one `join` where psycopg's list adapter examines
    and quotes every element in Python: for a chunk of hundreds of rows, a visible share."""
    return "{" + ",".join(map(str, values)) + "}"


@contextmanager
def _binding_cursor() -> Iterator[psycopg.Cursor]:
    """PostgreSQL: a psycopg cursor on Django's connection (same transaction state) that sends
    parameters apart from the SQL text. An array then travels as one parameter (see
    `_array_literal`), where Django's client-side cursor would quote it into the SQL text."""
    import psycopg

    db_connection.ensure_connection()
    with psycopg.Cursor(db_connection.connection) as cursor:
        yield cursor


def invite_chunk(*, round_id: int, employee_ids: Sequence[int], send_now: bool = False) -> int:
    """Create one chunk's invitations and send those already due. Returns emails sent.
    Caller: the `invite_chunk` task. Safe to run twice and to crash mid-way: the invitations
    it creates are leased to it as they are created (see `_invitations_insert`), sent and
    marked one by one; any others of the chunk that are due and unsent (a re-run after a
    crash, once their lease expired) go through `invitations_send_due`."""
    round_ = Round.objects.select_related("cadence", "template").get(pk=round_id)
    if round_.status != Round.Status.OPEN:
        return 0
    token = secrets.token_hex(16)
    created, leased = _invitations_insert(
        round_=round_, employee_ids=employee_ids, send_now=send_now, lease=token
    )
    sent = 0
    if leased:
        with get_connection() as connection, _commits_without_waiting_for_disk(), _marker() as mark:
            sent = _send_leased(leased, token=token, mailer=_Mailer(connection), mark=mark)
    if created == len(employee_ids) == len(leased):
        # Every invitation of the chunk was created, leased and sent just now: none is left.
        return sent
    return sent + invitations_send_due(
        invitations=Invitation.objects.filter(round=round_, employee_id__in=employee_ids)
    )


# --- Emails -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Recipient:
    """What one email needs from its invitation, read for a whole batch in one query."""

    pk: int
    round_id: int
    nonce: str
    name: str
    email: str


def _recipients(invitations: QuerySet[Invitation]) -> list[_Recipient]:
    rows = invitations.order_by("pk").values_list(
        "pk", "round_id", "nonce", "employee__name", "employee__email"
    )
    return [_Recipient(*row) for row in rows]


_NAME_SLOT = "PULSE-SLOT-NAME-7f3a"
_URL_SLOT = "PULSE-SLOT-URL-7f3a"


class _Mailer:
    """Builds the invitation and reminder emails of a batch. Both templates are rendered once
    per round and kind in each process (`_email_parts`), with slots for the two things that
    differ per person (the name, HTML-escaped in the HTML part, and the personal link), which
    are then filled in: the same bytes as rendering each email, without rendering each email."""

    def __init__(self, connection: BaseEmailBackend) -> None:
        self.connection = connection
        self._parts: dict[tuple[int, str], tuple[str, str, str]] = {}

    def _render(self, round_id: int, kind: str) -> tuple[str, str, str]:
        return _email_parts(
            round_id,
            kind,
            settings.PULSE_MIN_GROUP_SIZE,
            timezone.get_current_timezone_name(),
            translation.get_language(),
        )

    def message(self, recipient: _Recipient, *, kind: str) -> EmailMultiAlternatives:
        key = (recipient.round_id, kind)
        if key not in self._parts:
            self._parts[key] = self._render(recipient.round_id, kind)
        subject, text, html = self._parts[key]
        url = invitation_url(recipient.nonce)
        message = EmailMultiAlternatives(
            subject=subject,
            body=text.replace(_NAME_SLOT, recipient.name).replace(_URL_SLOT, url),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[recipient.email],
            connection=self.connection,
        )
        message.attach_alternative(
            html.replace(_NAME_SLOT, escape(recipient.name)).replace(_URL_SLOT, escape(url)),
            "text/html",
        )
        return message


@functools.lru_cache(maxsize=64)
def _email_parts(
    round_id: int, kind: str, min_group_size: int, tz_name: str, language: str | None
) -> tuple[str, str, str]:
    """Subject, text and HTML of a round's `kind` email with the per-person slots unfilled,
    rendered once per process (a fan-out's chunks run in a few long-lived workers, so without
    this every chunk would read the round and render both templates again).

    Cached by round id: what the templates show of a round (its closing time and number of
    questions) is written in the transaction that creates it (`round_open`, the hotspot
    follow-up) and never changed afterwards; the other inputs are part of the key."""
    round_ = Round.objects.get(pk=round_id)
    context = {
        "employee_name": _NAME_SLOT,
        "url": _URL_SLOT,
        "round": round_,
        "closes_at": round_.closes_at,
        "question_count": round_.questions.count(),
        "min_group_size": min_group_size,
        "kind": kind,
    }
    subject = (
        "A 3-minute anonymous pulse: how are you doing?"
        if kind == "invitation"
        else "Reminder: your anonymous pulse closes soon"
    )
    return (
        subject,
        render_to_string("surveys/email/invitation.txt", context),
        render_to_string("surveys/email/invitation.html", context),
    )


@contextmanager
def _commits_without_waiting_for_disk() -> Iterator[None]:
    """Let every COMMIT inside return before its WAL record reaches the disk (PostgreSQL
    `synchronous_commit = off` for this connection, restored afterwards; elsewhere a no-op).

    Why: one mark per email is what keeps sending crash-safe, but waiting for a disk flush per
    email would make the flush, not the email, the cost of a fan-out. What it changes: nothing
    for atomicity, isolation or a crash of Pulse (a committed mark is seen at once by every
    other transaction). Only if the database server itself crashes may the marks committed in
    its last moments (at most 3 x `wal_writer_delay`, 0.6 s by default) be lost; those emails
    are then sent again: a duplicate, never a gap, like the email that a crash between send
    and mark already leaves unmarked."""
    if db_connection.vendor != "postgresql":
        yield
        return
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with db_connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


SEND_BATCH = 200


def invitations_send_due(
    *, invitations: QuerySet[Invitation], now: dt.datetime | None = None
) -> int:
    """Send the invitation email of every invitation in `invitations` that is due and unsent.

    Claim, send, mark: a batch of due invitations is leased to this sender with one
    conditional UPDATE (`sent_at IS NULL` and no live lease), then each email is sent and
    marked sent by its own single-statement UPDATE. So two senders never send the same email
    (the lease), a sender that dies leaves its unsent invitations to be sent by the next run
    once the lease (`PULSE_SEND_LEASE_SECONDS`) expires - no gap -, and the only duplicate
    possible is the one email a crash interrupts between its send and its mark, as with any
    transactional mark. Returns the number sent. Costs two queries per batch plus one short
    UPDATE per email."""
    now = now or timezone.now()
    lease = dt.timedelta(seconds=settings.PULSE_SEND_LEASE_SECONDS)
    due_ids = list(
        invitations.filter(sent_at__isnull=True, send_at__lte=now, round__status=Round.Status.OPEN)
        .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=timezone.now() - lease))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    sent = 0
    if not due_ids:
        return 0
    with get_connection() as connection, _commits_without_waiting_for_disk(), _marker() as mark:
        mailer = _Mailer(connection)
        for start in range(0, len(due_ids), SEND_BATCH):
            batch = due_ids[start : start + SEND_BATCH]
            token = secrets.token_hex(16)
            claimed_at = timezone.now()
            Invitation.objects.filter(
                Q(claimed_at__isnull=True) | Q(claimed_at__lt=claimed_at - lease),
                pk__in=batch,
                sent_at__isnull=True,
            ).update(claim_token=token, claimed_at=claimed_at)
            recipients = _recipients(Invitation.objects.filter(pk__in=batch, claim_token=token))
            sent += _send_leased(recipients, token=token, mailer=mailer, mark=mark)
    return sent


def _send_leased(
    recipients: Iterable[_Recipient],
    *,
    token: str,
    mailer: _Mailer,
    mark: Callable[[int, str], None],
) -> int:
    """Send each leased invitation email, then mark it sent (one autocommitted statement, only
    while `token` still holds its lease) before the next one goes out: a sender killed at any
    point leaves at most the one email in flight sent but unmarked. Returns the number sent."""
    sent = 0
    for recipient in recipients:
        mailer.message(recipient, kind="invitation").send()
        mark(recipient.pk, token)
        sent += 1
    return sent


_MARK_SENT = (
    f"UPDATE {Invitation._meta.db_table} SET sent_at = %s "
    "WHERE id = %s AND claim_token = %s AND sent_at IS NULL"
)
_MARK_SENT_STATEMENT = b"pulse_invitation_mark_sent"


@contextmanager
def _marker() -> Iterator[Callable[[int, str], None]]:
    """`mark(pk, token)`: the one statement that records an invitation email as sent, committed
    on its own (autocommit) before the next email goes out, and only while `token` still holds
    the invitation's lease.

    On PostgreSQL it is a named prepared statement run through libpq directly
    (`PGconn.exec_prepared`, blocking until the server has answered, like any query): parsed
    and planned once per database connection, and no SQL text, cursor or adaptation per email,
    because at tens of thousands of emails the per-statement overhead is the fan-out's cost."""
    if db_connection.vendor != "postgresql":
        with db_connection.cursor() as cursor:
            yield lambda pk, token: cursor.execute(_MARK_SENT, [timezone.now(), pk, token])
        return
    from django.db import DatabaseError
    from psycopg import pq

    with db_connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_prepared_statements WHERE name = %s",
            [_MARK_SENT_STATEMENT.decode()],
        )
        prepared = cursor.fetchone() is not None
    pgconn = db_connection.connection.pgconn
    if not prepared:
        sql = _MARK_SENT.replace("%s", "$1", 1).replace("%s", "$2", 1).replace("%s", "$3", 1)
        result = pgconn.prepare(_MARK_SENT_STATEMENT, sql.encode())
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise DatabaseError(result.get_error_message())

    def mark(pk: int, token: str) -> None:
        params = [timezone.now().isoformat().encode(), str(pk).encode(), token.encode()]
        result = pgconn.exec_prepared(_MARK_SENT_STATEMENT, params)
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise DatabaseError(result.get_error_message())

    yield mark


def invitations_send_all_due(*, now: dt.datetime | None = None) -> int:
    """Sweep: send every due, unsent invitation of every open round (later time zones, and
    any chunk whose task was lost). Caller: the `open_due_rounds` periodic task."""
    now = now or timezone.now()
    return invitations_send_due(
        invitations=Invitation.objects.filter(round__status=Round.Status.OPEN), now=now
    )


def rounds_resume_fan_out() -> int:
    """Re-enqueue the fan-out of open rounds that have fewer invitations than their audience
    (a fan-out message was lost). Idempotent; returns how many rounds were resumed."""
    resumed = 0
    for round_ in Round.objects.filter(status=Round.Status.OPEN).exclude(fanout_total=0):
        if round_.invitations.count() < round_.fanout_total:
            _enqueue_fan_out(round_.pk, False)
            resumed += 1
    return resumed


def reminders_send_due(*, now: dt.datetime | None = None) -> int:
    """Send each due reminder to invitees who have not answered. The n-th reminder is due
    `reminder_offsets[n]` days after the invitation was sent. Claimed by a conditional UPDATE
    on `reminders_sent = n AND responded = false`, in the sending transaction: never twice,
    never to someone who answered (short of a database-server crash, see
    `_commits_without_waiting_for_disk`). Callers: `send_reminders` task and command."""
    now = now or timezone.now()
    sent = 0
    rounds = Round.objects.filter(status=Round.Status.OPEN, closes_at__gt=now).select_related(
        "cadence"
    )
    with get_connection() as connection, _commits_without_waiting_for_disk():
        mailer = _Mailer(connection)
        for round_ in rounds:
            for n, days in enumerate(round_reminder_offsets(round_)):
                candidates = _recipients(
                    round_.invitations.filter(
                        responded=False,
                        reminders_sent=n,
                        sent_at__isnull=False,
                        sent_at__lte=now - dt.timedelta(days=days),
                    )
                )
                for recipient in candidates:
                    with transaction.atomic():
                        claimed = Invitation.objects.filter(
                            pk=recipient.pk, reminders_sent=n, responded=False
                        ).update(reminders_sent=F("reminders_sent") + 1)
                        if not claimed:
                            continue
                        mailer.message(recipient, kind="reminder").send()
                        sent += 1
    return sent


# --- Closing ------------------------------------------------------------------------------------


def round_close(*, round_id: int, now: dt.datetime | None = None) -> bool:
    """Close a round now: no more answers, then its results are computed. Returns whether this
    call closed it (False when already closed). Idempotent by a conditional UPDATE."""
    now = now or timezone.now()
    with transaction.atomic():
        closed = Round.objects.filter(pk=round_id, status=Round.Status.OPEN).update(
            status=Round.Status.CLOSED, closed_at=now
        )
        if closed:
            transaction.on_commit(lambda: _after_close(round_id))
    return bool(closed)


def _after_close(round_id: int) -> None:
    from surveys.tasks import round_closed

    round_closed.delay(round_id)


def round_after_close(*, round_id: int) -> None:
    """Work that follows a close: the stored rows are shuffled (no arrival order survives),
    then the analytics app computes the round's publication (hooks named in
    `PULSE_AFTER_CLOSE_HOOKS`, looked up lazily so that surveys does not import analytics)."""
    from django.utils.module_loading import import_string

    from surveys.services.responses import round_storage_shuffle

    round_storage_shuffle(round_id=round_id)
    for path in getattr(settings, "PULSE_AFTER_CLOSE_HOOKS", []):
        import_string(path)(round_id=round_id)


def rounds_close_due(*, now: dt.datetime | None = None) -> list[int]:
    """Close every open round whose window has ended. Callers: `close_due_rounds` task/command."""
    now = now or timezone.now()
    due = Round.objects.filter(status=Round.Status.OPEN, closes_at__lte=now).values_list(
        "pk", flat=True
    )
    return [pk for pk in list(due) if round_close(round_id=pk, now=now)]


def cadence_validate_recall(
    *, frequency: str, interval_weeks: int, items: Iterable[tuple[Question, str]]
) -> list[str]:
    """Problems with asking scales more often than their recall period allows (WHO-5 asks about
    the last two weeks: never more often than every two weeks)."""
    if frequency == Cadence.Frequency.MONTHLY:
        spacing = {Wave.EVERY: 4, "A": 8, "B": 8, Wave.QUARTERLY: 13}
    else:
        n = max(interval_weeks, 1)
        spacing = {Wave.EVERY: n, "A": 2 * n, "B": 2 * n, Wave.QUARTERLY: 13}
    problems = []
    seen: set[str] = set()
    for question, wave in items:
        scale = question.scale
        if scale.code in seen or not scale.min_interval_weeks:
            continue
        if spacing.get(wave, 0) < scale.min_interval_weeks:
            seen.add(scale.code)
            problems.append(
                f"{scale.name} asks about the last {scale.min_interval_weeks} weeks: it cannot "
                f"be asked every {spacing.get(wave, 0)} week(s); put it in wave A or B or "
                "space the rounds further apart."
            )
    return problems


def months_between(a: dt.date, b: dt.date) -> int:
    return (b.year - a.year) * 12 + b.month - a.month - (b.day < a.day)


def tenure_band(start: dt.date | None, on: dt.date) -> str:
    """The reportable tenure band: '<1y', '1-3y', '3-5y', '5y+' (empty when unknown)."""
    if start is None:
        return ""
    months = months_between(start, on)
    if months < 12:
        return "<1y"
    if months < 36:
        return "1-3y"
    if months < 60:
        return "3-5y"
    return "5y+"


__all__ = [
    "audience",
    "cadence_occurrences",
    "cadence_validate_recall",
    "invitation_token",
    "invitation_url",
    "invitations_send_all_due",
    "invite_chunk",
    "reminders_send_due",
    "round_audience",
    "round_close",
    "round_fan_out",
    "round_open",
    "round_reminder_offsets",
    "rounds_close_due",
    "rounds_open_due",
    "rounds_resume_fan_out",
    "tenure_band",
    "token_hash",
]
