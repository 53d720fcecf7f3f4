"""Answer submissions through gunicorn on PostgreSQL with 100 concurrent clients, against a
trivial view on the same server in the same run.

Server: `gunicorn pulse.wsgi` on a free 127.0.0.1 port, production settings (DEBUG off) with
the HTTPS-only flags off, `gthread` workers (see `GUNICORN_*` below for why), persistent
database connections (`CONN_MAX_AGE=60`, the production default), Redis as the broker.
Data: a roster of `EMPLOYEES` people, a cadence over all of them, a round opened with
`round_open(send_now=True)` and its invitations created by `invitations_create` (no email);
the personal tokens are computed from the invitations' nonces.
Clients: `CLIENTS` threads, each with its own keep-alive `http.client` connections and its own
CSRF cookie, each owning `EMPLOYEES / CLIENTS` tokens. Phases, each started by all clients at
once and timed from start to the last reply:
1. trivial: `GET /healthz` x `TRIVIAL_PER_CLIENT` per client. The baseline: the lightest view
   Pulse has that does real work (one `SELECT 1` on PostgreSQL, one connect + close to the
   Redis broker), through the whole middleware stack.
2. forms: `GET /s/<token>` for every token (the answering page; gives the CSRF form token).
3. submissions: `POST /s/<token>` for every token, a complete set of answers (deterministic
   per token, "Prefer not to say" included), expecting 302 to `/s/<token>/thanks`. Every
   `DOUBLE_EVERY`-th token is submitted twice at the same moment on two connections (a double
   click): exactly one must be stored, the other answered "already answered" (200).
"Submission" in the figures is one POST (phase 3), the request that stores an answer; the form
GETs of phase 2 are reported beside it. Ratio = submissions/s / trivial requests/s; target
>= 0.5. Checked in the database afterwards: one response per token accepted (lost = tokens
accepted with no response behind them, or sent and not accepted), no invitation answered
twice, every response holding exactly one answer per question, and the multiset of stored
(question, value) pairs equal to what the accepted submissions sent (duplicated = any excess).

Runs in its own scratch database `pulse_bench_submit` (created, migrated, dropped), on the
server of `DATABASE_URL` or `postgres://postgres@127.0.0.1:5432/test`, and the Redis of
`REDIS_URL` or `redis://127.0.0.1:6379/0` (a queue of this run's own, deleted at the end).
Always exits 0 when it ran; the last line says whether the target is met.
Usage: `.venv/bin/python bench/submit.py`
"""

from __future__ import annotations

import http.client
import os
import re
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from _common import (
    BenchUnavailableError,
    ChildProcess,
    broker_queue_delete,
    django_setup,
    free_port,
    percentile,
    redis_server_url,
    roster_csv,
    scratch_database,
)

EMPLOYEES = 3_000
CLIENTS = 100
TRIVIAL_PER_CLIENT = 30
DOUBLE_EVERY = 10
TARGET_RATIO = 0.5
# gthread: each worker process keeps 100 idle keep-alive connections cheaply in its poller and
# runs requests on a few threads, so that one thread's database round trips overlap another's
# Python work; sync workers would serve one request at a time per process and close every
# connection after each request. 4 processes x 4 threads on this 2-core machine: both cores
# busy despite the GIL, and 16 database connections at most (the server is shared).
GUNICORN_WORKERS = 4
GUNICORN_THREADS = 4
REQUEST_TIMEOUT = 60.0
NULL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CSRF_COOKIE = re.compile(r"csrftoken=([^;]+)")


def main() -> int:
    queue = f"pulse-bench-submit-{uuid.uuid4().hex[:12]}"
    os.environ["PULSE_CELERY_QUEUE"] = queue
    os.environ["EMAIL_BACKEND"] = NULL_BACKEND
    try:
        redis_url = redis_server_url()
        with scratch_database("pulse_bench_submit") as url:
            django_setup(url, redis_url=redis_url)
            try:
                return run(url)
            finally:
                broker_queue_delete(queue)  # round_open enqueued a fan-out nobody runs here
    except BenchUnavailableError as exc:
        print(f"submit: NOT RUN - {exc}")
        return 0


@dataclass(frozen=True, slots=True)
class Token:
    index: int
    token: str
    fields: tuple[tuple[str, str], ...]  # the answers this token submits
    answers: tuple[tuple[int, float | None], ...]  # the same, as they must be stored
    double: bool


def prepare(round_id: int) -> list[Token]:
    """Every invitation's token, with a deterministic complete set of answers."""
    from surveys.answer_forms import PREFER_NOT
    from surveys.models import Invitation, ResponseKind, Round
    from surveys.scoring import ANCHORS
    from surveys.selectors import round_questions_for_form
    from surveys.services.delivery import invitation_token

    round_ = Round.objects.get(pk=round_id)
    questions = [
        q for q in round_questions_for_form(round_) if q.response_kind != ResponseKind.FREE_TEXT
    ]
    nonces = Invitation.objects.filter(round=round_).order_by("pk").values_list("nonce", flat=True)
    tokens = []
    for i, nonce in enumerate(nonces):
        fields, answers = [], []
        for j, question in enumerate(questions):
            choices: list[float | None] = [v for v, _ in ANCHORS[question.response_kind]]
            choices.append(None)
            value = choices[(i + j) % len(choices)]
            fields.append((f"q{question.pk}", PREFER_NOT if value is None else f"{value:g}"))
            answers.append((question.pk, value))
        tokens.append(
            Token(
                index=i,
                token=invitation_token(nonce),
                fields=tuple(fields),
                answers=tuple(answers),
                double=i % DOUBLE_EVERY == DOUBLE_EVERY - 1,
            )
        )
    return tokens


@dataclass(slots=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    seconds: float


@dataclass(slots=True)
class Client:
    """One simulated browser: keep-alive connections and a CSRF cookie."""

    port: int
    tokens: list[Token]
    cookie: str = ""
    form_token: dict[str, str] = field(default_factory=dict)
    conns: list[http.client.HTTPConnection] = field(default_factory=list)

    def connection(self, n: int = 0) -> http.client.HTTPConnection:
        while len(self.conns) <= n:
            self.conns.append(
                http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
            )
        return self.conns[n]

    def reconnect(self, n: int) -> None:
        self.conns[n].close()

    def headers(self, body: bool) -> dict[str, str]:
        headers = {"Connection": "keep-alive"}
        if self.cookie:
            headers["Cookie"] = f"csrftoken={self.cookie}"
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
        return headers

    def send(self, method: str, path: str, body: str | None = None, n: int = 0) -> float:
        """Put one request on the wire. A keep-alive connection the server has closed fails
        while writing, before the server has read anything: then reconnect and write again."""
        started = time.perf_counter()
        headers = self.headers(body is not None)
        try:
            self.connection(n).request(method, path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            self.reconnect(n)
            started = time.perf_counter()
            self.connection(n).request(method, path, body=body, headers=headers)
        return started

    def receive(self, started: float, n: int = 0) -> Reply:
        response = self.connection(n).getresponse()
        body = response.read()
        reply = Reply(response.status, response.headers, body, time.perf_counter() - started)
        if response.will_close:
            self.reconnect(n)
        return reply

    def get(self, path: str) -> Reply:
        for attempt in (1, 2):  # a keep-alive connection the server closed: reconnect once
            try:
                return self.receive(self.send("GET", path))
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.reconnect(0)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


@dataclass(slots=True)
class PhaseResult:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, reply: Reply) -> None:
        with self.lock:
            self.latencies.append(reply.seconds)
            self.statuses[reply.status] += 1

    def error(self, message: str) -> None:
        with self.lock:
            self.errors.append(message)

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def run_phase(clients: list[Client], work: Callable[[Client, PhaseResult], None]) -> PhaseResult:
    """Run `work` for every client in its own thread, all released at once; the phase's time
    runs from the release to the last thread's end."""
    result = PhaseResult()
    start = threading.Barrier(len(clients) + 1)

    def body(client: Client) -> None:
        start.wait()
        try:
            work(client, result)
        except Exception as exc:  # noqa: BLE001 - counted and reported, never hidden
            result.error(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=body, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


@dataclass(slots=True)
class Outcomes:
    """What the server answered to each token's POSTs."""

    accepted: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # "already answered"
    failed: Counter[str] = field(default_factory=Counter)  # anything else
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, token: Token, reply: Reply) -> None:
        location = reply.headers.get("Location", "")
        with self.lock:
            if reply.status == 302 and location.endswith(f"/s/{token.token}/thanks"):
                self.accepted[token.token] += 1
            elif reply.status == 200 and b"already" in reply.body.lower():
                self.refused[token.token] += 1
            else:
                self.failed[token.token] += 1


def start_server(database_url: str, port: int, logdir: Path) -> ChildProcess:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="pulse.settings",
        DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        BASE_URL=f"http://127.0.0.1:{port}",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        CONN_MAX_AGE="60",
        LOG_LEVEL="WARNING",
    )
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "pulse.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        "--worker-class=gthread",
        f"--workers={GUNICORN_WORKERS}",
        f"--threads={GUNICORN_THREADS}",
        "--keep-alive=600",
        "--backlog=2048",
        "--timeout=120",
        "--error-logfile=-",
        "--log-level=warning",
    ]
    server = ChildProcess(args, env=env, log_path=logdir / "gunicorn.log")

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    try:
        server.wait_for(healthy, timeout=60, what="gunicorn")
    except BaseException:
        server.stop()
        raise
    return server


def run(database_url: str) -> int:
    from django.conf import settings
    from django.db.models import Count
    from django.utils import timezone

    from surveys.models import Answer, Employee, Invitation, Response, SurveyTemplate, Team
    from surveys.services import roster_import
    from surveys.services.config import cadence_save
    from surveys.services.delivery import invitations_create, round_open, token_hash

    roster_import(data=roster_csv(EMPLOYEES))
    today = timezone.localdate()
    cadence = cadence_save(
        name="Submit bench",
        template=SurveyTemplate.objects.get(name="AI pressure & well-being pulse"),
        audience=[Team.objects.get(path="Org")],
        start_date=today,
        reminder_offsets=[],
    )
    round_, _ = round_open(cadence=cadence, day=today, send_now=True)
    ids = list(Employee.objects.order_by("pk").values_list("pk", flat=True))
    invitations_create(round_=round_, employee_ids=ids, send_now=True)
    tokens = prepare(round_.pk)
    question_count = len(tokens[0].answers)

    port = free_port()
    logdir = Path(tempfile.mkdtemp(prefix="pulse-bench-submit-"))
    clients = [Client(port, tokens[n::CLIENTS]) for n in range(CLIENTS)]
    outcomes = Outcomes()

    def warm_up(client: Client, result: PhaseResult) -> None:
        for _ in range(3):
            client.get("/healthz")

    def trivial(client: Client, result: PhaseResult) -> None:
        for _ in range(TRIVIAL_PER_CLIENT):
            reply = client.get("/healthz")
            result.record(reply)
            if reply.status != 200:
                result.error(f"/healthz answered {reply.status}")

    def forms(client: Client, result: PhaseResult) -> None:
        for token in client.tokens:
            reply = client.get(f"/s/{token.token}")
            result.record(reply)
            match = CSRF_FIELD.search(reply.body.decode())
            if reply.status != 200 or match is None:
                result.error(f"form {token.index}: {reply.status}")
                continue
            cookie = CSRF_COOKIE.search(reply.headers.get("Set-Cookie", ""))
            if cookie:
                client.cookie = cookie.group(1)
            client.form_token[token.token] = match.group(1)

    def submissions(client: Client, result: PhaseResult) -> None:
        for token in client.tokens:
            if token.token not in client.form_token:
                continue
            body = urlencode([("csrfmiddlewaretoken", client.form_token[token.token])])
            body += "&" + urlencode(token.fields)
            path = f"/s/{token.token}"
            try:
                if token.double:
                    # Both requests are on the wire before either reply is read.
                    first = client.send("POST", path, body, n=0)
                    second = client.send("POST", path, body, n=1)
                    replies = [client.receive(first, n=0), client.receive(second, n=1)]
                else:
                    replies = [client.receive(client.send("POST", path, body))]
            except (http.client.HTTPException, OSError) as exc:
                result.error(f"POST {token.index}: {type(exc).__name__}: {exc}")
                for n in range(len(client.conns)):
                    client.reconnect(n)
                continue
            for reply in replies:
                result.record(reply)
                outcomes.note(token, reply)

    with start_server(database_url, port, logdir) as server:
        run_phase(clients, warm_up)
        trivial_result = run_phase(clients, trivial)
        form_result = run_phase(clients, forms)
        submit_result = run_phase(clients, submissions)
        for client in clients:
            client.close()
    server_log = server.log_text()
    server_errors = server_log.count("Traceback")

    # --- Verification in the database ---------------------------------------------------------
    by_token = {t.token: t for t in tokens}
    accepted = set(outcomes.accepted)
    accepted_twice = sum(1 for n in outcomes.accepted.values() if n > 1)
    sent = {t.token for t in tokens}
    never_accepted = sent - accepted
    responses = Response.objects.filter(round=round_).count()
    responded_hashes = set(
        Invitation.objects.filter(round=round_, responded=True).values_list("token_hash", flat=True)
    )
    accepted_hashes = {token_hash(t) for t in accepted}
    # Lost: a token sent and never accepted, or accepted with nothing stored behind it.
    lost = len(never_accepted) + max(
        len(accepted_hashes - responded_hashes), len(accepted) - responses, 0
    )
    wrong_size = (
        Response.objects.filter(round=round_)
        .annotate(n=Count("answers"))
        .exclude(n=question_count)
        .count()
    )
    stored = Counter(
        {
            (q, v): n
            for q, v, n in Answer.objects.filter(response__round=round_)
            .values("question_id", "value")
            .annotate(n=Count("id"))
            .values_list("question_id", "value", "n")
        }
    )
    expected = Counter(pair for t in accepted for pair in by_token[t].answers)
    answers_exact = stored == expected
    # Duplicated: a token accepted twice, a response or an answered invitation too many, a
    # response with more or fewer answers than questions, an answer stored beyond those sent.
    duplicated = (
        accepted_twice
        + max(0, responses - len(accepted))
        + len(responded_hashes - accepted_hashes)
        + wrong_size
        + sum((stored - expected).values())
    )

    doubles = sum(1 for t in tokens if t.double)
    double_refused = sum(1 for t in tokens if t.double and outcomes.refused[t.token] == 1)
    posts = submit_result.count
    ratio = submit_result.rate / trivial_result.rate

    print(
        f"gunicorn gthread {GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads on "
        f"127.0.0.1:{port}; {CLIENTS} concurrent keep-alive clients; {len(tokens):,} tokens, "
        f"{question_count} answers each; every {DOUBLE_EVERY}th token POSTed twice at once"
    )
    header = f"{'phase':<38}{'requests':>9}{'seconds':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    print(header)
    print("-" * len(header))
    for label, result in (
        ("trivial: GET /healthz (baseline)", trivial_result),
        ("form: GET /s/<token>", form_result),
        ("submission: POST /s/<token>", submit_result),
    ):
        print(
            f"{label:<38}{result.count:>9,}{result.seconds:>9.2f}{result.rate:>9.1f}"
            f"{percentile(result.latencies, 50) * 1000:>9.1f}"
            f"{percentile(result.latencies, 99) * 1000:>9.1f}"
        )
    print(
        f"POSTs: {posts:,} = {len(tokens):,} tokens + {doubles} doubles; accepted (302) "
        f"{sum(outcomes.accepted.values()):,}, 'already answered' (200) "
        f"{sum(outcomes.refused.values()):,}, other {sum(outcomes.failed.values())}; "
        f"doubles with exactly one refused: {double_refused}/{doubles}"
    )
    statuses = ", ".join(
        f"{name} {dict(r.statuses)}"
        for name, r in (("trivial", trivial_result), ("form", form_result))
    )
    all_errors = trivial_result.errors + form_result.errors + submit_result.errors
    print(
        f"statuses: {statuses}; client errors {len(all_errors)}; server tracebacks {server_errors}"
    )
    for message in all_errors[:5]:
        print(f"  ! {message}")
    print(
        f"database: {responses:,} responses, {len(responded_hashes):,} invitations answered, "
        f"{len(accepted):,} tokens accepted; answers per response exact: "
        f"{'yes' if wrong_size == 0 else f'NO ({wrong_size} responses)'}; stored answers equal "
        f"to those submitted: {'yes' if answers_exact else 'NO'}"
    )
    print(f"lost: {lost}; duplicated: {duplicated}")
    ratio_ok = ratio >= TARGET_RATIO
    clean = lost == 0 and duplicated == 0 and not all_errors and server_errors == 0
    print(
        f"ratio submissions/s / trivial req/s = {submit_result.rate:.1f} / "
        f"{trivial_result.rate:.1f} = {ratio:.2f}; target >= {TARGET_RATIO:g}: "
        f"{'met' if ratio_ok else 'NOT MET'}; lost = duplicated = 0 and no error: "
        f"{'yes' if clean else 'NO'}"
    )
    if clean:
        for path in logdir.iterdir():
            path.unlink()
        logdir.rmdir()
    else:
        print(f"server log kept in {logdir}")
    assert settings.EMAIL_BACKEND == NULL_BACKEND
    print(f"submit: {'TARGET MET' if ratio_ok and clean else 'TARGET NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
