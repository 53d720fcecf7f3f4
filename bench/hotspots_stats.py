"""Benchmark: hotspot statistics on 2,000 teams x 12 rounds of synthetic released data.

Prints the time of detection + correlations over all rounds, the time to build the typed
inputs from tables, the baseline (a plain pandas merge of the same per-team survey and usage
tables, measured in the same run), their ratio, and the peak memory of the detection
(tracemalloc). Runs with no arguments: `python bench/hotspots_stats.py` (or `make bench`).
"""

from __future__ import annotations

import math
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.hotspot_stats import (
    Construct,
    ConstructStat,
    HotspotConfig,
    OrgReference,
    ReleasedSurvey,
    ReleasedUsage,
    TeamRound,
    detect_hotspots,
    usage_score_correlations,
)

TEAMS = 2000
ROUNDS = 12
DIVISIONS, DEPARTMENTS = 4, 6
MEANS = {"ai_pressure": 45.0, "who5": 58.0}


def tree() -> list[str]:
    """4 divisions x 6 departments and leaves under them: 2,000 paths in all."""
    parents = [f"Div{d}" for d in range(DIVISIONS)]
    parents += [f"Div{d}/Dep{e}" for d in range(DIVISIONS) for e in range(DEPARTMENTS)]
    departments = parents[DIVISIONS:]
    leaves = [f"{departments[i % len(departments)]}/Team{i}" for i in range(TEAMS - len(parents))]
    return parents + leaves


def tables(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Released survey and usage tables (team x round); about 5% hidden on each side."""
    rng = np.random.default_rng(seed)
    paths = tree()
    size = len(paths) * ROUNDS
    team = np.tile(np.arange(len(paths)), ROUNDS)
    rounds = np.repeat(np.arange(ROUNDS), len(paths))
    depth = np.array([p.count("/") for p in paths])[team]
    n = np.where(depth == 2, rng.integers(5, 41, size), rng.integers(80, 2000, size))
    effect = rng.normal(0, 4, (len(paths), 2))[team]
    hot = rng.random(len(paths))[team] < 0.01
    survey = pd.DataFrame(
        {
            "team_id": team,
            "round": rounds,
            "n": n,
            "ai_pressure": MEANS["ai_pressure"]
            + effect[:, 0]
            + 20 * hot
            + rng.normal(0, 17, size) / np.sqrt(n),
            "who5": MEANS["who5"] + effect[:, 1] - 20 * hot + rng.normal(0, 18, size) / np.sqrt(n),
            "sd": rng.uniform(14, 20, size),
            "hidden": rng.random(size) < 0.05,
        }
    )
    usage = pd.DataFrame(
        {
            "team_id": team,
            "round": rounds,
            "intensity": 40_000 * np.exp(rng.normal(0, 0.3, size) + math.log(2.5) * hot),
            "contributors": np.maximum(5, (n * rng.uniform(0.6, 1.0, size)).astype(int)),
            "log_se": rng.uniform(0.03, 0.15, size),
            "hidden": rng.random(size) < 0.05,
        }
    )
    return survey, usage


def build_rounds(survey: pd.DataFrame, usage: pd.DataFrame) -> list[list[TeamRound]]:
    """Typed inputs per round, as the hotspot service would build them from the tables."""
    paths = tree()
    result: list[list[TeamRound]] = [[] for _ in range(ROUNDS)]
    for s, u in zip(survey.itertuples(index=False), usage.itertuples(index=False), strict=True):
        released_survey = None
        if not s.hidden:
            released_survey = ReleasedSurvey(
                n=int(s.n),
                constructs={
                    Construct.AI_PRESSURE: ConstructStat(float(s.ai_pressure), float(s.sd), s.n),
                    Construct.WHO5: ConstructStat(float(s.who5), float(s.sd), s.n),
                },
            )
        released_usage = None
        if not u.hidden:
            released_usage = ReleasedUsage(
                intensity=float(u.intensity),
                contributors=int(u.contributors),
                log_se=float(u.log_se),
            )
        result[s.round].append(
            TeamRound(s.team_id, paths[s.team_id], released_survey, released_usage)
        )
    return result


def detect_all(rounds: list[list[TeamRound]]) -> int:
    reference = OrgReference(
        means={Construct.AI_PRESSURE: MEANS["ai_pressure"], Construct.WHO5: MEANS["who5"]}
    )
    config = HotspotConfig()
    found = 0
    for index, teams in enumerate(rounds):
        found += len(detect_hotspots(teams, org=reference, config=config).hotspots)
        previous = rounds[index - 1] if index else None
        usage_score_correlations(teams, previous=previous, config=config)
    return found


def best_of(repeats: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    survey, usage = tables()
    baseline = best_of(5, lambda: survey.merge(usage, on=["team_id", "round"], how="inner"))
    build = best_of(3, lambda: build_rounds(survey, usage))
    rounds = build_rounds(survey, usage)
    detection = best_of(3, lambda: detect_all(rounds))
    tracemalloc.start()
    hotspots = detect_all(rounds)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"teams x rounds:               {TEAMS} x {ROUNDS} ({len(survey)} team-rounds)")
    print(f"baseline (pandas merge):      {baseline * 1000:8.1f} ms")
    print(f"build typed inputs:           {build * 1000:8.1f} ms")
    print(
        f"detection + correlations:     {detection * 1000:8.1f} ms "
        f"({detection / ROUNDS * 1000:.1f} ms per round; {hotspots} hotspots in all rounds)"
    )
    print(f"ratio detection / baseline:   {detection / baseline:8.1f}x")
    print(f"ratio build+detect / baseline:{(build + detection) / baseline:8.1f}x")
    print(f"peak memory (tracemalloc):    {peak / 2**20:8.1f} MiB")


if __name__ == "__main__":
    main()
