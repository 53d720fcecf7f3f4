"""Benchmark: computing a round's publication, and the HR dashboard that reads it.

A generated closed round with 20,000 respondents in 2,000 teams on 4 levels (respondents in
the 1,732 lowest teams, 1 to ~30 each), 3 attributes
(team, location, tenure band) and 12 items (the default template's wave-A items), written with
bulk inserts into a scratch PostgreSQL database (`pulse_bench_publication`). It prints:

- wall time and peak RSS growth of `publication_compute` (every team at every level, by
  location and tenure, every measure audited), and its ratio to a plain SQL GROUP BY that
  computes the same cells' counts and means with no disclosure control, in the same run
  (target: <= 10);
- where `publication_compute` spends its time (cProfile, top functions by own time);
- the HR dashboard `/results/`: p95 latency over 20 requests (Django test client) and the
  number of queries for a publication of 200 teams and one of 2,000 (must be equal).

Run: `.venv/bin/python bench/publication.py` (part of `make bench`); a few minutes on 2 cores.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import io
import os
import pstats
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (
    BenchUnavailableError,
    django_setup,
    measure,
    mib,
    percentile,
    scratch_database,
)

SEED = 20261102
RESPONDENTS = 20_000
TEAMS = 2_000
FANOUT = (4, 6, 10)  # levels 1-3: 4 + 24 + 240 teams; level 4 holds the other 1,732
LOCATIONS = ["Berlin", "Paris", "London", "Lisbon", "Warsaw", "New York"]
TENURES = ["<1y", "1-3y", "3-5y", "5y+"]
ITEMS = [
    "WHO5_1",
    "WHO5_2",
    "WHO5_3",
    "WHO5_4",
    "WHO5_5",
    "AUP1",
    "AUP2",
    "AUP3",
    "PAU1",
    "PAU2",
    "AAV1",
    "REC1",
]
REQUESTS = 20
TARGET_RATIO = 10.0


def build_teams() -> list[int]:
    """The 4-level tree of `TEAMS` teams; returns the ids of the lowest level's teams."""
    from surveys.models import Team

    level: list[Team | None] = [None]
    fanouts = [*FANOUT, 0]
    leaves = TEAMS - sum(len(level) for level in _level_sizes())
    for depth, fanout in enumerate(fanouts):
        teams = []
        for position, parent in enumerate(level):
            count = fanout or leaves // len(level) + (position < leaves % len(level))
            for i in range(count):
                name = f"L{depth}-{i}"
                path = f"{parent.path}/{name}" if parent else name
                teams.append(Team(name=name, parent=parent, path=path, depth=depth))
        Team.objects.bulk_create(teams, batch_size=2000)
        level = list(Team.objects.filter(depth=depth).order_by("path"))
    assert Team.objects.count() == TEAMS
    return [t.pk for t in level]


def _level_sizes() -> list[range]:
    sizes, n = [], 1
    for fanout in FANOUT:
        n *= fanout
        sizes.append(range(n))
    return sizes


def build_round(name: str, team_ids: list[int], respondents: int, rng: random.Random) -> int:
    """A closed round with `respondents` responses spread over `team_ids`, 12 answers each."""
    from django.utils import timezone

    from surveys import scoring
    from surveys.models import Answer, Question, Response, Round, SurveyTemplate

    questions = list(Question.objects.filter(code__in=ITEMS))
    assert len(questions) == len(ITEMS), [q.code for q in questions]
    now = timezone.now()
    round_ = Round.objects.create(
        template=SurveyTemplate.objects.get(name="AI pressure & well-being pulse"),
        name=name,
        scheduled_for=dt.date(2026, 11, 2),
        opens_at=now - dt.timedelta(days=5),
        closes_at=now - dt.timedelta(hours=1),
        closed_at=now - dt.timedelta(hours=1),
        status=Round.Status.CLOSED,
    )
    round_.questions.set(questions)
    # Teams have unequal sizes (1 .. ~25) and a mood each, so answers vary between teams.
    weights = [rng.uniform(0.1, 2.5) for _ in team_ids]
    moods = {pk: rng.uniform(0.2, 0.8) for pk in team_ids}
    anchors = {q.pk: sorted(v for v, _ in scoring.ANCHORS[q.response_kind]) for q in questions}
    responses, answers = [], []
    for team_id in rng.choices(team_ids, weights=weights, k=respondents):
        response = Response(
            round=round_,
            team_id=team_id,
            location=rng.choice(LOCATIONS),
            tenure_band=rng.choice(TENURES),
        )
        responses.append(response)
        for question in questions:
            values = anchors[question.pk]
            if rng.random() < 0.03:
                value = None  # "Prefer not to say"
            else:
                share = min(1.0, max(0.0, rng.gauss(moods[team_id], 0.25)))
                value = values[round(share * (len(values) - 1))]
            answers.append(Answer(response=response, question=question, value=value))
    Response.objects.bulk_create(responses, batch_size=5000)
    Answer.objects.bulk_create(answers, batch_size=10000)
    return round_.pk


BASELINE_SQL = """
WITH RECURSIVE closure(team_id, ancestor) AS (
    SELECT id, id FROM surveys_team
    UNION ALL
    SELECT c.team_id, t.parent_id FROM closure c JOIN surveys_team t ON t.id = c.ancestor
    WHERE t.parent_id IS NOT NULL
),
facts AS (
    SELECT r.team_id, r.location, r.tenure_band, a.question_id, a.value
    FROM surveys_answer a JOIN surveys_response r ON r.id = a.response_id
    WHERE r.round_id = %(round)s AND a.value IS NOT NULL
)
SELECT c.ancestor, f.location, f.tenure_band, f.question_id, count(*), avg(f.value)
FROM facts f JOIN closure c ON c.team_id = f.team_id
GROUP BY GROUPING SETS (
    (c.ancestor, f.question_id),
    (c.ancestor, f.location, f.question_id),
    (c.ancestor, f.tenure_band, f.question_id)
)
UNION ALL
SELECT NULL, f.location, f.tenure_band, f.question_id, count(*), avg(f.value)
FROM facts f
GROUP BY GROUPING SETS (
    (f.question_id), (f.location, f.question_id), (f.tenure_band, f.question_id)
)
"""


def baseline(round_id: int) -> int:
    """The same cells' counts and means per item, no disclosure control: one query."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(BASELINE_SQL, {"round": round_id})
        return len(cursor.fetchall())


def dashboard(round_ids: dict[str, int]) -> tuple[float, float, dict[str, int]]:
    """p50 and p95 of `/results/?round=` for the big round, and query counts per round."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from surveys.models import Role
    from surveys.services import staff_user_create

    user = staff_user_create(username="bench-hr", password=os.urandom(16).hex(), kind=Role.Kind.HR)
    client = Client()
    client.force_login(user)
    queries = {}
    for label, round_id in round_ids.items():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/results/?round={round_id}", secure=True)
        assert response.status_code == 200, response.status_code
        queries[label] = len(captured.captured_queries)
    big = round_ids["2,000 teams"]
    timings = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get(f"/results/?round={big}", secure=True)
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200
    return percentile(timings, 50), percentile(timings, 95), queries


def run() -> int:
    from analytics.models import PublicationCell
    from analytics.publication import publication_compute

    rng = random.Random(SEED)
    start = time.perf_counter()
    leaves = build_teams()
    big = build_round("Bench round, 2,000 teams", leaves, RESPONDENTS, rng)
    small = build_round("Bench round, 200 teams", leaves[:170], 2_000, rng)
    print(
        f"data: {RESPONDENTS:,} respondents, {TEAMS:,} teams on 4 levels, "
        f"{len(ITEMS)} items, built in {time.perf_counter() - start:.1f} s"
    )

    base_runs = [measure(lambda: baseline(big)) for _ in range(3)]
    base_rows, base_m = min(base_runs, key=lambda r: r[1].seconds)
    publication, pub_m = measure(lambda: publication_compute(round_id=big))
    cells = PublicationCell.objects.filter(publication=publication).count()
    ratio = pub_m.seconds / base_m.seconds
    print(
        f"plain SQL GROUP BY (no disclosure control): {base_m.seconds:.2f} s, "
        f"{base_rows:,} rows, peak RSS +{mib(base_m.rss_growth)}"
    )
    print(
        f"publication_compute: {pub_m.seconds:.2f} s, {cells:,} cells x "
        f"{len(publication.measures)} measures, peak RSS +{mib(pub_m.rss_growth)}; "
        f"audit {publication.audit}"
    )
    verdict = "OK" if ratio <= TARGET_RATIO else "OVER TARGET"
    print(f"ratio publication / GROUP BY: {ratio:.1f} (target <= {TARGET_RATIO:.0f}): {verdict}")

    profile = cProfile.Profile()
    profile.enable()
    publication_compute(round_id=big)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
    print("where publication_compute spends its time (cProfile, by own time):")
    for line in out.getvalue().splitlines():
        if line.strip() and ("{" in line or "/" in line or "ncalls" in line):
            print("  " + line.strip()[:150])

    publication_compute(round_id=small)
    p50, p95, queries = dashboard({"200 teams": small, "2,000 teams": big})
    print(f"/results/ for HR, 2,000 teams: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    print(f"/results/ queries: {queries}")
    if len(set(queries.values())) != 1:
        print("query count grows with the number of teams: FAIL")
        return 1
    # The ratio is a target, reported above; `make bench` goes on to the other benchmarks.
    return 0


def main() -> int:
    os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost")
    try:
        with scratch_database("pulse_bench_publication") as url:
            django_setup(url)
            return run()
    except BenchUnavailableError as exc:
        print(f"publication: NOT RUN - {exc}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
