"""Invitation fan-out: 50,000 invitations created and their emails rendered and sent (to a null
backend) by two real Celery worker processes, against the same work done by one plain loop in
one process, in the same run.

Baseline (plain loop, this process): one round created with the ORM; the audience read once;
50,000 invitations with the same fields as the machinery's (nonce, token hash, send time)
bulk-inserted; then, one by one, both parts of the email (text and HTML templates) rendered and
sent through one null-backend connection; then every invitation marked sent with one UPDATE.
No task, no per-email transaction. Its invitations are then removed (TRUNCATE).
Measured: two `celery worker --concurrency=1` processes on Redis (a queue of this run's own),
already started and ready; the clock starts just before `round_open(send_now=True)` (which
enqueues the fan-out on commit) and stops when the round has 50,000 invitations all marked
sent (the workers' logs are read every 0.05 s; the database is asked when they report
50,000 emails, or every 3 s). Work done: fan-out task, one `invite_chunk` task per
`PULSE_FANOUT_CHUNK` employees (invitations inserted already leased to it), each email marked
sent by its own committed UPDATE before the next one goes out.
Fixed costs inside the measured time, printed from the workers' logs: the fan-out task (on one
worker, while the other starts on the first chunks) and each worker's first chunk over its
median one (a worker's first database session, template compilation and lazy imports, paid
once per worker process, not per fan-out); plus up to 0.05 s of log polling at the end.
Both sides send through the dummy backend, which builds each message but never serialises it.
Target: measured / baseline <= 1.0 (the machinery pays for itself with two processes), and
exactly 50,000 invitation rows, one per employee, afterwards, and exactly 50,000 emails sent
(the sum of what the `invite_chunk` tasks report in the workers' logs).

Runs in its own scratch database `pulse_bench_fanout` (created, migrated, dropped), on the
server of `DATABASE_URL` or `postgres://postgres@127.0.0.1:5432/test`, and the Redis of
`REDIS_URL` or `redis://127.0.0.1:6379/0`; the null backend is Django's dummy email backend.
Always exits 0 when it ran; the last line says whether the target is met.
Usage: `.venv/bin/python bench/fanout.py`
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import (
    BenchUnavailableError,
    ChildProcess,
    broker_queue_delete,
    django_setup,
    redis_server_url,
    roster_csv,
    scratch_database,
)

INVITATIONS = 50_000
WORKERS = 2
TARGET_RATIO = 1.0
DEADLINE_SECONDS = 240.0
POLL_SECONDS = 0.05
DB_POLL_SECONDS = 3.0
NULL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
CHUNK_RESULT = re.compile(r"surveys\.tasks\.invite_chunk\[[^\]]+\] succeeded in [\d.]+s: (\d+)")
CHUNK_SECONDS = re.compile(r"surveys\.tasks\.invite_chunk\[[^\]]+\] succeeded in ([\d.]+)s")
FAN_OUT_SECONDS = re.compile(r"surveys\.tasks\.fan_out_round\[[^\]]+\] succeeded in ([\d.]+)s")


def main() -> int:
    queue = f"pulse-bench-fanout-{uuid.uuid4().hex[:12]}"
    os.environ["PULSE_CELERY_QUEUE"] = queue
    os.environ["EMAIL_BACKEND"] = NULL_BACKEND
    try:
        redis_url = redis_server_url()
        with scratch_database("pulse_bench_fanout") as url:
            django_setup(url, redis_url=redis_url)
            try:
                return run(url, queue)
            finally:
                broker_queue_delete(queue)
    except BenchUnavailableError as exc:
        print(f"fanout: NOT RUN - {exc}")
        return 0


def plain_loop(cadence_id: int, day: dt.date) -> int:
    """The baseline: the same invitations and emails, by one straightforward loop."""
    import secrets

    from django.core.mail import get_connection
    from django.utils import timezone

    from surveys.models import Cadence, Invitation, Round
    from surveys.services.delivery import (
        audience,
        invitation_token,
        round_questions,
        token_hash,
    )

    cadence = Cadence.objects.select_related("template").get(pk=cadence_id)
    now = timezone.now()
    round_ = Round.objects.create(
        cadence=cadence,
        template=cadence.template,
        name=f"{cadence.name} · {day.isoformat()} (plain loop)",
        scheduled_for=day,
        sequence=0,
        wave="A",
        opens_at=now,
        closes_at=now + dt.timedelta(days=cadence.window_days),
    )
    questions = round_questions(cadence.template, wave="A", quarterly=True)
    round_.questions.set(questions)
    people = list(audience(cadence).order_by("pk").values_list("pk", "name", "email"))
    nonces = [secrets.token_hex(16) for _ in people]
    Invitation.objects.bulk_create(
        [
            Invitation(
                round=round_,
                employee_id=pk,
                nonce=nonce,
                token_hash=token_hash(invitation_token(nonce)),
                send_at=now,
            )
            for (pk, _, _), nonce in zip(people, nonces, strict=True)
        ],
        batch_size=1000,
    )
    # The same email builder as production (templates rendered once per round, personal slots
    # filled in), so that the ratio measures the fan-out machinery, not the rendering.
    from surveys.services.delivery import _Mailer, _Recipient

    sent = 0
    with get_connection() as connection:
        mailer = _Mailer(connection)
        for (pk, name, email), nonce in zip(people, nonces, strict=True):
            recipient = _Recipient(pk=pk, round_id=round_.pk, nonce=nonce, name=name, email=email)
            sent += mailer.message(recipient, kind="invitation").send()
    Invitation.objects.filter(round=round_).update(sent_at=timezone.now())
    return sent


def fixed_costs(logs: list[str]) -> str:
    """The fan-out task's time and each worker's first chunk over its median chunk."""
    import statistics

    fan_out = [float(m) for log in logs for m in FAN_OUT_SECONDS.findall(log)]
    warm_ups = []
    for log in logs:
        chunks = [float(m) for m in CHUNK_SECONDS.findall(log)]
        if chunks:
            warm_ups.append(f"{chunks[0] - statistics.median(chunks):+.3f}")
    return (
        f"fan-out task {sum(fan_out):.3f} s; first chunk over median chunk, per worker "
        f"[{', '.join(warm_ups)}] s"
    )


def start_workers(database_url: str, queue: str, logdir: Path) -> list[ChildProcess]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="pulse.settings",
        CONN_MAX_AGE="60",  # the production default: workers keep their connection
        LOG_LEVEL="INFO",
    )
    workers = []
    for n in range(1, WORKERS + 1):
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "pulse",
            "worker",
            "--loglevel=INFO",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"fanout-bench-{n}@%h",
            "-Q",
            queue,
        ]
        workers.append(ChildProcess(args, env=env, log_path=logdir / f"worker-{n}.log"))
    return workers


def run(database_url: str, queue: str) -> int:
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from surveys.models import Invitation, Round, SurveyTemplate, Team
    from surveys.services import roster_import
    from surveys.services.config import cadence_save
    from surveys.services.delivery import round_open

    assert settings.EMAIL_BACKEND == NULL_BACKEND
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    roster_import(data=roster_csv(INVITATIONS))
    template = SurveyTemplate.objects.get(name="AI pressure & well-being pulse")
    today = timezone.localdate()
    cadence = cadence_save(
        name="Fan-out bench",
        template=template,
        audience=[Team.objects.get(path="Org")],
        start_date=today - dt.timedelta(days=today.weekday()),
        reminder_offsets=[],
    )

    started = time.perf_counter()
    plain_sent = plain_loop(cadence.pk, today - dt.timedelta(days=365))
    plain_seconds = time.perf_counter() - started
    plain_rows = Invitation.objects.filter(sent_at__isnull=False).count()
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Invitation._meta.db_table}")
    Round.objects.all().delete()

    logdir = Path(tempfile.mkdtemp(prefix="pulse-bench-fanout-"))
    workers = start_workers(database_url, queue, logdir)
    try:
        for worker in workers:
            worker.wait_for(lambda w=worker: " ready." in w.log_text(), timeout=60, what="worker")
        started = time.perf_counter()
        round_, _ = round_open(cadence=cadence, day=today, send_now=True)
        deadline = started + DEADLINE_SECONDS
        next_count = started + DB_POLL_SECONDS
        done = 0
        while time.perf_counter() < deadline:
            # The workers' logs say when the chunks are done, at no cost to the database; the
            # database is asked too, every few seconds, in case a log line is missed.
            reported = sum(int(m) for w in workers for m in CHUNK_RESULT.findall(w.log_text()))
            if reported >= INVITATIONS or time.perf_counter() >= next_count:
                done = Invitation.objects.filter(round=round_, sent_at__isnull=False).count()
                if done >= INVITATIONS:
                    break
                next_count = time.perf_counter() + DB_POLL_SECONDS
            time.sleep(POLL_SECONDS)
        machinery_seconds = time.perf_counter() - started
        finished = done >= INVITATIONS
        time.sleep(1)  # a redelivered or late chunk would show up in the logs now
    finally:
        for worker in workers:
            worker.stop()
    logs = [worker.log_text() for worker in workers]
    emails_sent = sum(int(m) for log in logs for m in CHUNK_RESULT.findall(log))
    chunks_per_worker = [len(CHUNK_RESULT.findall(log)) for log in logs]
    errors = sum(log.count("ERROR") for log in logs)

    rows = Invitation.objects.count()
    distinct = Invitation.objects.aggregate(n=Count("employee", distinct=True))["n"]
    sent_rows = Invitation.objects.filter(sent_at__isnull=False).count()
    round_.refresh_from_db()
    ratio = machinery_seconds / plain_seconds

    chunk = settings.PULSE_FANOUT_CHUNK
    print(f"invitations: {INVITATIONS:,}; chunk size {chunk}; null email backend; 2-core machine")
    header = f"{'step':<44}{'seconds':>9}{'emails/s':>10}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    print(
        f"{'plain loop, one process (baseline)':<44}{plain_seconds:>9.2f}"
        f"{plain_sent / plain_seconds:>10,.0f}{1:>7.2f}x"
    )
    label = f"round_open -> {WORKERS} worker processes, all sent"
    if not finished:
        label = f"{WORKERS} workers: NOT DONE after {DEADLINE_SECONDS:g}s"
    print(f"{label:<44}{machinery_seconds:>9.2f}{done / machinery_seconds:>10,.0f}{ratio:>7.2f}x")
    print(
        f"baseline: {plain_sent:,} emails sent, {plain_rows:,} invitations marked sent; "
        f"workers: chunks per worker {chunks_per_worker}, emails sent {emails_sent:,}, "
        f"errors logged {errors}"
    )
    print(
        f"invitations table: {rows:,} rows, {distinct:,} distinct employees, {sent_rows:,} sent; "
        f"round fan-out total {round_.fanout_total:,}"
    )
    print(f"fixed costs inside the measured time: {fixed_costs(logs)}")
    counts_ok = (
        plain_sent == plain_rows == INVITATIONS
        and rows == distinct == sent_rows == emails_sent == INVITATIONS
        and errors == 0
    )
    ratio_ok = finished and ratio <= TARGET_RATIO
    print(
        f"target ratio <= {TARGET_RATIO:g}: {'met' if ratio_ok else 'NOT MET'} ({ratio:.2f}x); "
        f"exactly {INVITATIONS:,} invitations and emails, no duplicate: "
        f"{'yes' if counts_ok else 'NO'}"
    )
    if counts_ok and errors == 0:
        for path in logdir.iterdir():
            path.unlink()
        logdir.rmdir()
    else:
        print(f"worker logs kept in {logdir}")
    print(f"fanout: {'TARGET MET' if ratio_ok and counts_ok else 'TARGET NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
