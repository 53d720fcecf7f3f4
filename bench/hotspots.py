"""Benchmark: the hotspot service and page on 2,000 teams x 12 rounds, in PostgreSQL.

Builds, in a scratch database: a tree of 2,000 teams (4 divisions, 24 departments, 1,972 teams
of 8-14 people: about 21,000 employees), 12 closed fortnightly rounds each with a publication of
2,001 whole-group cells (wave A: WHO-5, wave B: CBI; AI Pressure, autonomy; about 5% of teams
hidden) and a year of AI usage (one team x day row per team at every level: about 440,000 rows),
with 1% of teams planted as hotspots. Then, in the same run, it times:

- the hotspot computation (`analytics.hotspots.hotspots_compute`: the released join through the
  gate, detection, correlations with the lagged round, storing runs, assessments and hotspots)
  for every round in order;
- the hotspot page (`/results/hotspots/?round=`, HR: quadrant of the finest teams, table, list,
  correlations), median of 5 renders of the last round; and the page with every level;
- the baseline: a plain SQL join of the same tables (the round's publication cells with the
  period's usage summed per team), fetched into Python, for every round.

Prints each with its ratio to the baseline. `python bench/hotspots.py` (or `make bench`); needs
a PostgreSQL server (`DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BenchUnavailableError,
    django_setup,
    measure,
    mib,
    scratch_database,
)

TEAMS = 2000
ROUNDS = 12
DIVISIONS, DEPARTMENTS = 4, 6
FIRST_ROUND = dt.date(2026, 1, 5)  # a Monday
SEED = 6


def tree() -> list[str]:
    parents = [f"Div{d}" for d in range(DIVISIONS)]
    parents += [f"Div{d}/Dep{e}" for d in range(DIVISIONS) for e in range(DEPARTMENTS)]
    departments = parents[DIVISIONS:]
    leaves = [f"{departments[i % len(departments)]}/Team{i}" for i in range(TEAMS - len(parents))]
    return parents + leaves


def build(rng: np.random.Generator) -> dict[str, object]:
    """Teams, employees, rounds, publications and usage, written in bulk."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from analytics.demo import usage_span_start
    from analytics.models import Publication, PublicationCell, TeamDayUsage
    from surveys.models import Cadence, Employee, Role, Round, SurveyTemplate, Team

    paths = tree()
    teams: dict[str, Team] = {}
    for path in paths:  # parents first
        parent = teams.get(path.rsplit("/", 1)[0]) if "/" in path else None
        teams[path] = Team(name=path.rsplit("/", 1)[-1], parent=parent, path=path)
        teams[path].depth = path.count("/")
    for depth in range(3):
        level = [t for t in teams.values() if t.depth == depth]
        for t in level:
            if t.parent is not None:
                t.parent_id = t.parent.pk
        Team.objects.bulk_create(level, batch_size=2000)
    leaves = [p for p in paths if p.count("/") == 2]
    size = {p: int(rng.integers(8, 15)) for p in leaves}
    employees = [
        Employee(email=f"p{i}-{j}@bench.example", name=f"P {i} {j}", team=teams[p])
        for i, p in enumerate(leaves)
        for j in range(size[p])
    ]
    Employee.objects.bulk_create(employees, batch_size=5000)
    headcount = {p: 0 for p in paths}
    for p in leaves:
        for ancestor in (p.split("/")[0], "/".join(p.split("/")[:2]), p):
            headcount[ancestor] += size[p]

    hot = {p for p in leaves if rng.random() < 0.01}
    effect = {p: rng.normal(0, 4, 3) for p in paths}
    user = get_user_model().objects.create_user("hr-bench", "hr@bench.example", "x")
    Role.objects.create(user=user, kind=Role.Kind.HR)
    cadence = Cadence.objects.create(
        name="Bench pulse",
        template=SurveyTemplate.objects.get(name="AI pressure & well-being pulse"),
        start_date=FIRST_ROUND,
    )

    def cell(mean: float, n: int, sd: float) -> dict[str, object]:
        half = 2.0 * sd / math.sqrt(n)
        mean = float(np.clip(mean, 0, 100))
        return {"shown": True, "n": n, "score": mean, "ci_low": mean - half, "ci_high": mean + half}

    rounds = []
    for r in range(ROUNDS):
        day = FIRST_ROUND + dt.timedelta(weeks=2 * r)
        opens = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
        wave = "A" if r % 2 == 0 else "B"
        round_ = Round.objects.create(
            cadence=cadence,
            template=cadence.template,
            name=f"Bench · {day} (wave {wave})",
            scheduled_for=day,
            sequence=r,
            wave=wave,
            opens_at=opens,
            closes_at=opens + dt.timedelta(days=5),
            closed_at=opens + dt.timedelta(days=5),
            status=Round.Status.CLOSED,
        )
        publication = Publication.objects.create(
            round=round_, k=5, computed_at=timezone.now(), closed_on=day + dt.timedelta(days=5)
        )
        wellbeing = "WHO5" if wave == "A" else "CBI_WORK"
        rows = []
        for path in ["", *paths]:
            n = int(headcount.get(path, 0) * 0.85) if path else 18_000
            if path and (n < 5 or rng.random() < 0.05):
                figures = {"respondents": {"shown": False, "reason": "protects_another"}}
            else:
                e = effect.get(path, np.zeros(3))
                planted = path in hot
                pressure = 45 + e[0] + (25 if planted else 0) + rng.normal(0, 17 / math.sqrt(n))
                who5 = 58 + e[1] - (22 if planted else 0) + rng.normal(0, 18 / math.sqrt(n))
                figures = {
                    "respondents": {"shown": True, "n": n},
                    "API": cell(pressure, n, 17),
                    "AAV": cell(55 + e[2], n, 20),
                    wellbeing: cell(who5 if wave == "A" else 100 - who5 - 8, n, 18),
                }
            rows.append(
                PublicationCell(
                    publication=publication,
                    team=teams.get(path),
                    team_path=path,
                    depth=path.count("/") + 1 if path else 0,
                    breakdown="all",
                    figures=figures,
                )
            )
        PublicationCell.objects.bulk_create(rows, batch_size=2000)
        rounds.append(round_)

    start = usage_span_start(FIRST_ROUND)  # every round's usage month and the month before
    end = FIRST_ROUND + dt.timedelta(weeks=2 * (ROUNDS - 1), days=6)
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    intensity = {
        p: 40_000 * math.exp(rng.normal(0, 0.3)) * (3.0 if p in hot else 1.0) for p in leaves
    }
    usage = []
    for p in leaves:
        for day in days:
            people = max(1, int(size[p] * rng.uniform(0.6, 0.9)))
            per = intensity[p] * math.exp(rng.normal(0, 0.15))
            usage.append((p, day, per * people, people, per * 1.6))
    # Every level: a parent's row is the sum of its leaves' (distinct people add up).
    rolled: dict[tuple[str, dt.date], list[float]] = {}
    for p, day, total, people, top in usage:
        parts = p.split("/")
        for i in range(1, 4):
            entry = rolled.setdefault(("/".join(parts[:i]), day), [0.0, 0, 0.0])
            entry[0] += total
            entry[1] += people
            entry[2] = max(entry[2], top)
    TeamDayUsage.objects.bulk_create(
        [
            TeamDayUsage(
                source="bench-assistant",
                team=teams[p],
                day=day,
                metric="tokens",
                unit="tokens",
                total=v[0],
                contributors=int(v[1]),
                max_single=v[2],
            )
            for (p, day), v in rolled.items()
        ],
        batch_size=10_000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"rounds": rounds, "user": user, "usage_rows": len(rolled), "hot": hot}


def plain_join(round_ids: list[int]) -> int:
    """The baseline: each round's whole-group cells joined with its period's usage per team."""
    from django.db import connection

    from analytics.hotspots import round_usage_period
    from surveys.models import Round

    rows = 0
    with connection.cursor() as cursor:
        for round_ in Round.objects.filter(pk__in=round_ids).order_by("scheduled_for"):
            start, end = round_usage_period(round_)
            cursor.execute(
                """
                SELECT c.team_id, c.figures, u.total, u.people, u.person_days
                FROM analytics_publicationcell c
                JOIN analytics_publication p ON p.id = c.publication_id
                JOIN (
                    SELECT team_id, SUM(total) AS total, MAX(contributors) AS people,
                           SUM(contributors) AS person_days
                    FROM analytics_teamdayusage
                    WHERE day BETWEEN %s AND %s AND metric = 'tokens'
                    GROUP BY team_id
                ) u ON u.team_id = c.team_id
                WHERE p.round_id = %s AND c.breakdown = 'all'
                """,
                [start, end, round_.pk],
            )
            rows += len(cursor.fetchall())
    return rows


def run() -> None:
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    data = build(rng)
    print(
        f"hotspots: built {TEAMS} teams x {ROUNDS} rounds, {data['usage_rows']:,} usage rows, "
        f"{len(data['hot'])} planted hotspots in {time.perf_counter() - started:.1f} s"
    )
    from django.test import Client

    from analytics.hotspots import hotspots_compute
    from analytics.models import Hotspot, HotspotAssessment

    round_ids = [r.pk for r in data["rounds"]]  # type: ignore[attr-defined]
    joined, join_m = measure(lambda: plain_join(round_ids))

    def compute_all() -> None:
        for pk in round_ids:
            hotspots_compute(round_id=pk)

    _, compute_m = measure(compute_all)
    found = set(
        HotspotAssessment.objects.filter(
            run__round_id=round_ids[-1], status=HotspotAssessment.Status.HOTSPOT
        ).values_list("team_path", flat=True)
    )
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["localhost"]  # production settings; the test client's host
    client = Client(HTTP_HOST="localhost")
    client.force_login(data["user"])  # type: ignore[arg-type]
    last = round_ids[-1]
    times, size = [], 0
    for _ in range(5):
        t0 = time.perf_counter()
        response = client.get(f"/results/hotspots/?round={last}", secure=True)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.status_code
        size = len(response.content)
    t0 = time.perf_counter()
    everything = client.get(f"/results/hotspots/?round={last}&levels=all", secure=True)
    all_levels = time.perf_counter() - t0
    page = statistics.median(times)
    per_join = join_m.seconds / ROUNDS
    print(
        f"hotspots: plain join of cells and usage (baseline), {joined:,} rows over {ROUNDS} "
        f"rounds: {join_m.seconds:.2f} s ({per_join * 1000:.0f} ms per round)"
    )
    print(
        f"hotspots: computation, {ROUNDS} rounds: {compute_m.seconds:.2f} s "
        f"({compute_m.seconds / ROUNDS * 1000:.0f} ms per round), peak RSS growth "
        f"{mib(compute_m.rss_growth)}; {compute_m.seconds / join_m.seconds:.1f}x the join"
    )
    print(
        f"hotspots: page, median of 5: {page * 1000:.0f} ms ({size / 1024:.0f} KiB HTML); "
        f"{page / per_join:.1f}x one round's join; every level: {all_levels * 1000:.0f} ms "
        f"({len(everything.content) / 1024:.0f} KiB)"
    )
    recall = len(found & data["hot"]) / max(1, len(data["hot"]))  # type: ignore[operator]
    print(
        f"hotspots: last round: {len(found)} hotspots, planted found {recall:.0%}; "
        f"{Hotspot.objects.count()} hotspot rows over all rounds"
    )


def main() -> int:
    try:
        with scratch_database("pulse_bench_hotspots") as url:
            django_setup(url)
            run()
    except BenchUnavailableError as exc:
        print(f"hotspots: NOT RUN - {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
