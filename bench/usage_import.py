"""AI-usage import benchmark: `python bench/usage_import.py` (run by `make bench`).

Generates, in a temporary directory, a roster of 10,000 employees in 40 teams (45 with their
parents) and:
- generic CSV (`email,date,tool,metric,value`): 100,000 and 1,000,000 rows over 30 days, 3 tools
  x 4 metrics, 0.2% of the rows for people not on the roster;
- Amazon Q user activity CSV (46 columns, one row per user per day, 8 non-zero activity columns
  per row): 20,000 rows (2 days of 10,000 users) and 200,000 rows (20 days).
The output (team x day x metric cells) grows with days, not with rows per day: ~20k cells for
the 1M generic rows, ~41k for the 200k Amazon Q rows.

Each import runs the real service (`analytics.services.usage_import`: parse, resolve,
aggregate, write) against a SQLite database in that temporary directory (a fresh copy of the
migrated database with the roster for every run; nothing is shared with the app or the tests).
With `--postgres`, against PostgreSQL instead (the server of `DATABASE_URL`): a migrated
template database with the roster, `pulse_bench_usage_template`, and for every run a fresh copy
of it, `pulse_bench_usage_case` (CREATE DATABASE ... TEMPLATE), both dropped at the end. There
the server's work (COPY, index and foreign-key checks) runs in another process: it is in the
wall time, not in the import's CPU time.
Every measurement runs in a fresh child process, the import and its baseline alike,
interleaved, `RUNS` times each for the target sizes (once for the 1x sizes, measured for
memory); the machine may be loaded, so the best run of each is compared:
- time: the wall time of the `usage_import` call alone (Django set-up excluded), and of
  `pandas.read_csv(path)` of the same file alone (imports excluded); rows/s from the former;
  also the CPU time of each (`time.process_time`, every thread of the process: on a loaded
  machine it is the figure that other processes do not inflate);
- ratio: best import time / best `read_csv` time, in the same run, wall and CPU (target <= 3);
- the baseline is not single-threaded: with the pandas installed here (3.1), `read_csv` of a
  local file of 5 MB or more parses byte ranges of it on `mode.max_threads` threads (default:
  the CPUs available, at most 6), and the C parser releases the GIL while it tokenises, so on
  two CPUs its wall time is ~60% of its CPU time (0.10 s wall for 0.16 CPU-s on the 200k
  Amazon Q file). The import reads a file in chunks of bounded size (flat memory), a path
  that pandas parses on one thread, and its cells can be written only once every row is read
  (a day's figures are final after the last row), so it cannot overlap like that. For
  reference only, each run also times `read_csv` on one thread (`mode.max_threads` = 1) and
  prints the import's ratio to it; the verdicts below are against the default `read_csv`;
- peak memory, two ways: the child's peak resident set size (`ru_maxrss`: the whole process,
  interpreter, Django, numpy and pandas included; the median of the runs), and the peak of
  the Python and numpy allocations made during the `usage_import` call (`tracemalloc`, in one
  more child, not timed: tracing slows Python down);
- flatness: each peak at 10x rows divided by the same peak at 1x rows (target <= 1.2).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
RATIO_TARGET = 3.0
FLAT_TARGET = 1.2
PEOPLE = 10_000
TEAMS = 40
AMAZON_Q_HEADER = (
    "UserId,Date,Chat_AICodeLines,Chat_MessagesInteracted,Chat_MessagesSent,"
    "CodeFix_AcceptanceEventCount,CodeFix_AcceptedLines,CodeFix_GeneratedLines,"
    "CodeFix_GenerationEventCount,CodeReview_FailedEventCount,CodeReview_FindingsCount,"
    "CodeReview_SucceededEventCount,Dev_AcceptanceEventCount,Dev_AcceptedLines,"
    "Dev_GeneratedLines,Dev_GenerationEventCount,DocGeneration_AcceptedFileUpdates,"
    "DocGeneration_AcceptedFilesCreations,DocGeneration_AcceptedLineAdditions,"
    "DocGeneration_AcceptedLineUpdates,DocGeneration_EventCount,"
    "DocGeneration_RejectedFileCreations,DocGeneration_RejectedFileUpdates,"
    "DocGeneration_RejectedLineAdditions,DocGeneration_RejectedLineUpdates,"
    "InlineChat_AcceptanceEventCount,InlineChat_AcceptedLineAdditions,"
    "InlineChat_AcceptedLineDeletions,InlineChat_DismissalEventCount,"
    "InlineChat_DismissedLineAdditions,InlineChat_DismissedLineDeletions,"
    "InlineChat_RejectedLineAdditions,InlineChat_RejectedLineDeletions,"
    "InlineChat_RejectionEventCount,InlineChat_TotalEventCount,Inline_AICodeLines,"
    "Inline_AcceptanceCount,Inline_SuggestionsCount,TestGeneration_AcceptedLines,"
    "TestGeneration_AcceptedTests,TestGeneration_EventCount,TestGeneration_GeneratedLines,"
    "TestGeneration_GeneratedTests,Transformation_EventCount,Transformation_LinesGenerated,"
    "Transformation_LinesIngested"
)


def aws_id(i: int) -> str:
    return f"24a80dec-50e1-70f7-{i:04d}-4ccb9e69943f"


def write_roster(path: Path) -> None:
    lines = [
        "email,name,team,manager_email,location,start_date,timezone,github_login,aws_user_id,"
        "openai_user_id,upn"
    ]
    for i in range(PEOPLE):
        team = f"Org/Division{i % 4}/Team{i % TEAMS}"
        lines.append(
            f"p{i}@bench.test,Person {i},{team},,Berlin,2020-01-01,UTC,gh{i},{aws_id(i)},,"
        )
    path.write_text("\n".join(lines) + "\n")


def write_generic(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    tools = ("chatgpt", "claude", "copilot")
    metrics = ("tokens", "requests", "lines_accepted", "cost_cents")
    with path.open("w") as out:
        out.write("email,date,tool,metric,value\n")
        batch = []
        for _ in range(rows):
            batch.append(
                f"p{rng.randrange(PEOPLE + 20)}@bench.test,2026-04-{rng.randrange(1, 31):02d},"
                f"{rng.choice(tools)},{rng.choice(metrics)},{rng.randrange(1, 5000)}\n"
            )
            if len(batch) == 10000:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))


def write_amazon_q(path: Path, rows: int, seed: int) -> None:
    rng = random.Random(seed)
    columns = AMAZON_Q_HEADER.count(",") - 1
    with path.open("w") as out:
        out.write(AMAZON_Q_HEADER + "\n")
        day = 0
        batch = []
        for n in range(rows):
            person = n % PEOPLE
            if person == 0 and n:
                day += 1
            date = f"{2025 + day // 365}-{(day % 365) // 28 % 12 + 1:02d}-{day % 28 + 1:02d}"
            values = ["0"] * columns
            for j in rng.sample(range(columns), 8):  # real reports are mostly zeros
                values[j] = str(rng.randrange(1, 200))
            batch.append(f"{aws_id(person)},{date},{','.join(values)}\n")
            if len(batch) == 10000:
                out.write("".join(batch))
                batch.clear()
        out.write("".join(batch))


CHILD_IMPORT = """
import json, resource, sys, time, tracemalloc
from pathlib import Path
import django
django.setup()
from analytics.services import usage_files_from_paths, usage_import
fmt, path, traced = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "traced"
if traced:
    tracemalloc.start()
cpu, start = time.process_time(), time.perf_counter()
result = usage_import(format=fmt, files=usage_files_from_paths([path]))
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"seconds": elapsed, "cpu": cpu, "rows": result.rows_read,
    "matched": result.rows_matched,
    "team_days": result.team_days_written, "cells": result.created,
    "traced_mb": tracemalloc.get_traced_memory()[1] / 2**20 if traced else None,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CHILD_PANDAS = """
import json, resource, sys, time
import pandas
if sys.argv[2:] == ["one-thread"]:
    pandas.set_option("mode.max_threads", 1)
cpu, start = time.process_time(), time.perf_counter()
frame = pandas.read_csv(sys.argv[1])
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({"seconds": elapsed, "cpu": cpu, "rows": len(frame),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(code: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"child failed: {args}")
    return json.loads(out.stdout.strip().splitlines()[-1])


TEMPLATE = "pulse_bench_usage_template"
CASE = "pulse_bench_usage_case"


class Postgres:
    """The scratch databases of `--postgres` on the server of `DATABASE_URL`."""

    def __init__(self) -> None:
        sys.path.insert(0, str(ROOT / "bench"))
        import psycopg
        from _common import server_url

        self.url = server_url()
        # The server's maintenance database: DATABASE_URL's own may not exist.
        self.admin = psycopg.connect(
            self.database_url("postgres"), autocommit=True, connect_timeout=5
        )

    def database_url(self, name: str) -> str:
        from _common import _with_database

        return _with_database(self.url, name)

    def recreate(self, name: str, template: str | None = None) -> None:
        from psycopg import sql

        self.drop(name)
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self.admin.execute(query)

    def drop(self, name: str) -> None:
        from psycopg import sql

        assert name.startswith("pulse_bench_")  # the only databases this bench drops
        self.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def import_child(
    fmt: str,
    path: Path,
    work: Path,
    env: dict[str, str],
    *,
    traced: bool = False,
    postgres: Postgres | None = None,
) -> dict[str, float]:
    """One import in a fresh child, on a fresh copy of the migrated database with the roster."""
    args = [fmt, str(path), "traced" if traced else "timed"]
    if postgres is not None:
        postgres.recreate(CASE, template=TEMPLATE)
        try:
            return child(CHILD_IMPORT, args, {**env, "DATABASE_URL": postgres.database_url(CASE)})
        finally:
            postgres.drop(CASE)
    database = work / "case.sqlite3"
    shutil.copyfile(work / "bench.sqlite3", database)
    try:
        return child(CHILD_IMPORT, args, {**env, "DATABASE_URL": f"sqlite:///{database}"})
    finally:
        database.unlink()


def seconds(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--postgres", action="store_true", help="import into PostgreSQL (DATABASE_URL's server)"
    )
    options = parser.parse_args()
    postgres = Postgres() if options.postgres else None
    try:
        run(postgres)
    finally:
        if postgres is not None:
            postgres.drop(CASE)
            postgres.drop(TEMPLATE)


def run(postgres: Postgres | None) -> None:
    with tempfile.TemporaryDirectory(prefix="pulse-bench-usage-") as tmp:
        work = Path(tmp)
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="pulse.settings",
            SECRET_KEY="bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",  # noqa: S106
            PULSE_VAR_DIR=str(work / "var"),
            DATABASE_URL=f"sqlite:///{work / 'bench.sqlite3'}",
            PYTHONPATH=str(ROOT),
            LOG_LEVEL="WARNING",
            DEBUG="false",
        )
        env.pop("REDIS_URL", None)
        if postgres is not None:
            postgres.recreate(TEMPLATE)
            env["DATABASE_URL"] = postgres.database_url(TEMPLATE)
        roster = work / "roster.csv"
        write_roster(roster)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=ROOT, check=True)
        subprocess.run(
            [*manage, "import_roster", str(roster)],
            env=env,
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        where = (
            f"PostgreSQL scratch database {CASE}"
            if postgres
            else f"SQLite scratch database in {work}"
        )
        print(
            f"{where}; roster of {PEOPLE} people in {TEAMS} teams; "
            f"best of {RUNS} runs, each in a fresh child process, import and read_csv "
            f"interleaved; load average at start {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs; pandas {version('pandas')} (read_csv of a file of 5 MB or "
            "more runs on up to that many threads)"
        )

        cases = [
            ("generic", 100_000, write_generic),
            ("generic", 1_000_000, write_generic),
            ("amazon-q", 20_000, write_amazon_q),
            ("amazon-q", 200_000, write_amazon_q),
        ]
        rss: dict[tuple[str, int], float] = {}
        traced: dict[tuple[str, int], float] = {}
        ratios: dict[tuple[str, int], tuple[float, float]] = {}
        for fmt, rows, writer in cases:
            path = work / f"{fmt}-{rows}.csv"
            writer(path, rows, seed=rows)
            size_mb = path.stat().st_size / 1e6
            imports, baselines, single = [], [], []
            for _ in range(RUNS if rows in (1_000_000, 200_000) else 1):
                baselines.append(child(CHILD_PANDAS, [str(path)], env))
                single.append(child(CHILD_PANDAS, [str(path), "one-thread"], env))
                imports.append(import_child(fmt, path, work, env, postgres=postgres))
            tracing = import_child(fmt, path, work, env, traced=True, postgres=postgres)
            best = min(m["seconds"] for m in imports)
            base = min(m["seconds"] for m in baselines)
            best_cpu = min(m["cpu"] for m in imports)
            base_cpu = min(m["cpu"] for m in baselines)
            one = min(m["seconds"] for m in single)
            one_cpu = min(m["cpu"] for m in single)
            ratios[(fmt, rows)] = (best / base, best_cpu / base_cpu)
            rss[(fmt, rows)] = statistics.median(m["peak_mb"] for m in imports)
            traced[(fmt, rows)] = tracing["traced_mb"]
            last = imports[-1]
            print(
                f"{fmt:9} {rows:>9,} rows ({size_mb:5.1f} MB; {last['matched']:,} matched, "
                f"{last['cells']:,} cells, {last['team_days']:,} team-days):\n"
                f"    import {best:5.2f} s best (runs {seconds([m['seconds'] for m in imports])}; "
                f"CPU {best_cpu:.2f} s) = {rows / best:>9,.0f} rows/s\n"
                f"    pandas.read_csv {base:5.2f} s best "
                f"(runs {seconds([m['seconds'] for m in baselines])}; CPU {base_cpu:.2f} s)\n"
                f"    ratio {best / base:.2f} wall, {best_cpu / base_cpu:.2f} CPU\n"
                f"    (reference: read_csv on one thread {one:5.2f} s best, CPU {one_cpu:.2f} s; "
                f"ratio {best / one:.2f} wall, {best_cpu / one_cpu:.2f} CPU)\n"
                f"    peak RSS of the import child {rss[(fmt, rows)]:.0f} MB (read_csv child "
                f"{statistics.median(m['peak_mb'] for m in baselines):.0f} MB); traced peak of "
                f"the import call {traced[(fmt, rows)]:.1f} MB"
            )
            path.unlink()
        print("Targets:")
        for fmt, rows in (("generic", 1_000_000), ("amazon-q", 200_000)):
            wall, cpu = ratios[(fmt, rows)]
            print(
                f"  {fmt} {rows:,} rows: import / read_csv = {wall:.2f} wall "
                f"({verdict(wall <= RATIO_TARGET)}), {cpu:.2f} CPU ({verdict(cpu <= RATIO_TARGET)})"
                f"; target <= {RATIO_TARGET:g}"
            )
        for fmt, small in (("generic", 100_000), ("amazon-q", 20_000)):
            by_rss = rss[(fmt, small * 10)] / rss[(fmt, small)]
            by_trace = traced[(fmt, small * 10)] / traced[(fmt, small)]
            print(
                f"  {fmt} peak memory at 10x rows / at 1x rows: RSS {by_rss:.2f}, traced "
                f"{by_trace:.2f} (target <= {FLAT_TARGET:g}: "
                f"{verdict(max(by_rss, by_trace) <= FLAT_TARGET)})"
            )


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total bench time {time.perf_counter() - started:.0f} s")
