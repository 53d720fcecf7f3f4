"""Shared helpers for the benchmarks in `bench/` (not a benchmark itself: `make bench` skips
files whose name starts with an underscore).

- `scratch_database(name)`: a throw-away PostgreSQL database on the server named by
  `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`), created before and dropped
  after, so that a benchmark never touches real data. Only names starting with `pulse_bench_`
  are accepted: those are the only databases this module ever drops.
- `django_setup(database_url)`: point Pulse's settings at that database and run the migrations.
- `measure(fn)`: wall time and peak memory of one call. Memory is the growth of the process's
  peak resident set size (RSS) over the RSS at the start of the call, read from the kernel
  (`/proc/self/clear_refs` + `VmHWM`), or sampled every millisecond where that is unavailable.
  RSS counts everything (Python objects, numpy buffers, libpq buffers); memory freed earlier
  and kept by the allocator can make the growth look smaller than the true working set.
- `traced_peak(fn)`: the `tracemalloc` peak of one call (Python-heap allocations only, which
  includes numpy's; not libpq's). Tracing slows Python code down, so never time the same call.
- `redis_server_url()`, `broker_queue_delete(queue)`: the Redis server benchmarks that need a
  broker use (`REDIS_URL`, default `redis://127.0.0.1:6379/0`), and the removal of a
  benchmark's own queue from it afterwards (pass `redis_url` to `django_setup` to use it).
- `ChildProcess`: a server or worker the benchmark starts (gunicorn, celery worker), in its own
  process group with its output in a log file, always stopped (the whole group) at exit.
- `free_port()`, `percentile(values, q)`: small helpers for the HTTP benchmarks.

Run a benchmark as `.venv/bin/python bench/<name>.py` from the repository root (`make bench`).
"""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test"
SCRATCH_PREFIX = "pulse_bench_"

T = TypeVar("T")


class BenchUnavailableError(Exception):
    """The benchmark cannot run here (e.g. no PostgreSQL server); the message says why."""


def server_url() -> str:
    """The PostgreSQL server to benchmark on: `DATABASE_URL` if it names one, else the default."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if urlsplit(url).scheme not in ("postgres", "postgresql", "pgsql"):
        raise BenchUnavailableError(f"DATABASE_URL is not a PostgreSQL URL: {url.split(':')[0]}:")
    return url


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """Create the empty database `name` beside `DATABASE_URL`'s, yield its URL, drop it at exit.

    A leftover from a crashed run of the same benchmark is dropped first. Refuses any name that
    does not start with `pulse_bench_` or that is the configured database itself.
    """
    import psycopg
    from psycopg import sql

    if not name.startswith(SCRATCH_PREFIX):
        raise ValueError(f"scratch database names must start with {SCRATCH_PREFIX!r}: {name!r}")
    url = server_url()
    if urlsplit(url).path.lstrip("/") == name:
        raise ValueError(f"refusing to use the configured database {name!r} as a scratch one")
    try:
        admin = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        raise BenchUnavailableError(f"cannot connect to PostgreSQL: {exc}".strip()) from exc
    ident = sql.Identifier(name)
    with admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
        try:
            yield _with_database(url, name)
        finally:
            _close_django_connections()
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))


def _close_django_connections() -> None:
    if "django.db" in sys.modules:
        from django.db import connections

        connections.close_all()


def django_setup(database_url: str, *, redis_url: str | None = None) -> None:
    """Configure Pulse's settings for `database_url` (production settings, DEBUG off, so that
    no query is logged in memory) and migrate it. Call once, before importing Pulse models.
    Celery uses the broker of `redis_url` when given, else a filesystem broker in a temporary
    folder. The environment set here is inherited by the processes a benchmark starts."""
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "pulse.settings"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuv")
    os.environ["CONN_MAX_AGE"] = "0"
    # Settings create broker folders under PULSE_VAR_DIR: keep them out of the working tree.
    os.environ["PULSE_VAR_DIR"] = tempfile.mkdtemp(prefix="pulse-bench-var-")
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


@dataclass(frozen=True, slots=True)
class Measurement:
    seconds: float
    rss_growth: int  # bytes: peak RSS during the call minus RSS at its start


def _rss_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"{field} not in /proc/self/status")


def _can_reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        _rss_bytes("VmHWM")
    except OSError:
        return False
    return True


class _PeakSampler:
    """Fallback where the kernel's peak RSS cannot be reset: sample RSS in a thread."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes("VmRSS"))
            time.sleep(0.001)

    def __enter__(self) -> _PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes("VmRSS"))


def measure(fn: Callable[[], T]) -> tuple[T, Measurement]:
    """Call `fn` once; return its result, its wall time and its peak RSS growth."""
    gc.collect()
    start_rss = _rss_bytes("VmRSS")
    if _can_reset_peak():
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        peak = _rss_bytes("VmHWM")
    else:
        with _PeakSampler() as sampler:
            started = time.perf_counter()
            result = fn()
            seconds = time.perf_counter() - started
        peak = sampler.peak
    return result, Measurement(seconds=seconds, rss_growth=max(0, peak - start_rss))


def traced_peak(fn: Callable[[], T]) -> tuple[T, int]:
    """Call `fn` once under tracemalloc; return its result and the traced peak in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_server_url() -> str:
    """The Redis server to use as the broker: `REDIS_URL` if set, else the default; raises
    `BenchUnavailableError` when it does not answer a PING."""
    import redis

    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    try:
        redis.Redis.from_url(url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        raise BenchUnavailableError(f"cannot reach Redis at {url}: {exc}") from exc
    return url


def broker_queue_delete(queue: str, *, redis_url: str | None = None) -> None:
    """Delete from Redis every key of the Celery queue `queue`: its messages (one list per
    priority) and kombu's bindings of the exchange Celery names after it. Only for a queue
    named for one benchmark run: the name must be unique, since every key containing it goes.
    """
    import redis

    client = redis.Redis.from_url(redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL)
    keys = [queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"]
    keys += [k.decode() for k in client.scan_iter(match=f"{queue}\x06\x16*")]
    client.delete(*keys)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """The `q`-th percentile (0-100) of `values`, nearest-rank method."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


class ChildProcess:
    """A process started by a benchmark, in a new session (its own process group, so that the
    children it forks are stopped with it), output to `log_path`. Use it as a context manager:
    the group is stopped at exit, with SIGTERM then SIGKILL after `grace` seconds."""

    def __init__(
        self, args: list[str], *, env: dict[str, str], log_path: Path, grace: float = 15
    ) -> None:
        import subprocess

        self.log_path = log_path
        self.grace = grace
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __enter__(self) -> ChildProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Poll `ready` until true; raise (with the log's tail) if the process exits first or
        `timeout` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{what} exited early:\n{self.log_text()[-3000:]}")
            if ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{what} not ready after {timeout}s:\n{self.log_text()[-3000:]}")

    def stop(self) -> None:
        import signal
        import subprocess

        if self.process.poll() is None:
            try:
                # The leader alone: it shuts its children down gracefully (a Celery worker
                # finishes its task, gunicorn's arbiter stops its workers).
                self.process.terminate()
                self.process.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        # Children that outlived their parent (the group id is the leader's pid).
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


def roster_csv(rows: int, *, teams: int = 50, domain: str = "pulse-bench.example") -> bytes:
    """A valid roster file of `rows` employees spread over `teams` teams under one root team
    ("Org/Unit u/Team t"), in a few time zones, no managers: input for `roster_import` when a
    benchmark needs many employees fast and the roster's shape does not matter."""
    zones = ("Europe/Berlin", "Europe/London", "America/New_York", "Asia/Tokyo", "UTC")
    lines = ["email,name,team,manager_email,location,start_date,timezone"]
    for i in range(rows):
        team = i % teams
        lines.append(
            f"person.{i}@{domain},Person {i},Org/Unit {team % 5}/Team {team},,"
            f"Site {team % 7},20{10 + i % 15}-0{1 + i % 9}-1{i % 10},{zones[i % len(zones)]}"
        )
    return ("\n".join(lines) + "\n").encode()
