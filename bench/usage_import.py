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
migrated database with the roster for every case; nothing is shared with the app or the
tests). Each measurement runs in a fresh child process:
- rows/s: rows divided by the wall time of the `usage_import` call (Django set-up excluded);
- peak memory: the child's peak resident set size (`resource.getrusage(...).ru_maxrss`), so it
  includes the interpreter, Django, numpy and pandas (the same baseline for every case);
- baseline: `pandas.read_csv(path)` of the same file, timed in its own child process in the
  same run; the ratio is import time / read_csv time (target <= 3);
- flatness: peak memory at 10x rows divided by peak memory at 1x rows.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
import json, os, resource, sys, time
from pathlib import Path
import django
django.setup()
from analytics.services import usage_files_from_paths, usage_import
fmt, path = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()
result = usage_import(format=fmt, files=usage_files_from_paths([path]))
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "rows": result.rows_read, "matched": result.rows_matched,
    "team_days": result.team_days_written,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CHILD_PANDAS = """
import json, resource, sys, time
import pandas
start = time.perf_counter()
frame = pandas.read_csv(sys.argv[1])
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "rows": len(frame),
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


def main() -> None:
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
        )
        env.pop("REDIS_URL", None)
        roster = work / "roster.csv"
        write_roster(roster)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v0"], env=env, cwd=ROOT, check=True)
        subprocess.run([*manage, "import_roster", str(roster)], env=env, cwd=ROOT, check=True)
        print(f"SQLite scratch database in {work}; roster of {PEOPLE} people in {TEAMS} teams")

        cases = [
            ("generic", "generic", 100_000, write_generic),
            ("generic", "generic", 1_000_000, write_generic),
            ("amazon-q", "amazon-q", 20_000, write_amazon_q),
            ("amazon-q", "amazon-q", 200_000, write_amazon_q),
        ]
        peaks: dict[tuple[str, int], float] = {}
        for label, fmt, rows, writer in cases:
            path = work / f"{label}-{rows}.csv"
            writer(path, rows, seed=rows)
            size_mb = path.stat().st_size / 1e6
            # Each case starts from a copy of the freshly migrated database with the roster.
            database = work / f"case-{label}-{rows}.sqlite3"
            shutil.copyfile(work / "bench.sqlite3", database)
            case_env = {**env, "DATABASE_URL": f"sqlite:///{database}"}
            baseline = child(CHILD_PANDAS, [str(path)], case_env)
            measured = child(CHILD_IMPORT, [fmt, str(path)], case_env)
            peaks[(label, rows)] = measured["peak_mb"]
            print(
                f"{label:9} {rows:>9,} rows ({size_mb:6.1f} MB): import "
                f"{measured['seconds']:6.2f} s = {rows / measured['seconds']:>10,.0f} rows/s, "
                f"peak RSS {measured['peak_mb']:6.0f} MB, team-days {measured['team_days']:,}; "
                f"pandas.read_csv {baseline['seconds']:5.2f} s (peak {baseline['peak_mb']:.0f} MB)"
                f"; ratio {measured['seconds'] / baseline['seconds']:.2f} (target <= 3)"
            )
            path.unlink()
        for label, small in (("generic", 100_000), ("amazon-q", 20_000)):
            ratio = peaks[(label, small * 10)] / peaks[(label, small)]
            print(f"{label}: peak memory at 10x rows / at 1x rows = {ratio:.2f}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"total bench time {time.perf_counter() - started:.0f} s")
