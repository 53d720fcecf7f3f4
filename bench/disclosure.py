"""Benchmark: disclosure control of a publication of 20,000 respondents and 2,000 teams.

Prints the time of `suppress_cells` (best of two untraced runs) and its peak memory (a third
run under tracemalloc, which slows every allocation and so is never timed), and the time's
ratio to a baseline measured in the same run: a pandas groupby computing the respondent count
of the same cells (what a plain SQL GROUP BY of the publication would do). Runs with no
arguments under `make bench`; `--respondents N` and `--teams N` scale it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analytics.disclosure import Suppression, publication_layout, suppress_cells
from bench._common import traced_peak

LOCATIONS = ["Berlin", "Paris", "London", "Lima", "Oslo", "Austin", "Pune", "Remote"]
LOCATION_SHARE = [0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.06, 0.04]
TENURES = ["<1y", "1-3y", "3-5y", "5y+", ""]
TENURE_SHARE = [0.2, 0.35, 0.2, 0.2, 0.05]


def synthetic_records(respondents: int, teams: int, seed: int = 1) -> list[tuple[str, str, str]]:
    """A 4-level tree (about 0.5%, 4.5%, 20%, 75% of the teams per level), people mostly in
    leaves, team sizes skewed so that many cells fall below k."""
    rng = np.random.default_rng(seed)
    per_level = [max(1, round(teams * f)) for f in (0.005, 0.045, 0.2)]
    per_level.append(teams - sum(per_level))
    levels: list[list[str]] = [[f"d{i}" for i in range(per_level[0])]]
    for depth in range(1, 4):
        parents = levels[-1]
        picks = rng.integers(0, len(parents), size=per_level[depth])
        levels.append([f"{parents[p]}/t{depth}-{i}" for i, p in enumerate(picks)])
    internal = [t for level in levels[:3] for t in level]
    leaves = levels[3]
    weights = rng.lognormal(mean=0.0, sigma=0.8, size=len(leaves))
    leaf_people = rng.choice(len(leaves), size=int(respondents * 0.9), p=weights / weights.sum())
    teams_of = [leaves[i] for i in leaf_people]
    teams_of += [
        internal[i] for i in rng.integers(0, len(internal), size=respondents - len(teams_of))
    ]
    locations = rng.choice(len(LOCATIONS), size=respondents, p=LOCATION_SHARE)
    tenures = rng.choice(len(TENURES), size=respondents, p=TENURE_SHARE)
    return [
        (team, LOCATIONS[loc], TENURES[ten])
        for team, loc, ten in zip(teams_of, locations, tenures, strict=True)
    ]


def baseline_groupby(records: list[tuple[str, str, str]]) -> tuple[float, int]:
    """Counts of every cell (team at every level, x location, x tenure) with pandas."""
    start = time.perf_counter()
    frame = pd.DataFrame(records, columns=["team", "location", "tenure"])
    parts = frame["team"].str.split("/")
    cells = 0
    for depth in range(0, 5):
        level = frame.assign(prefix=parts.str[:depth].str.join("/"))
        if depth:
            level = level[parts.str.len() >= depth]
        for keys in (["prefix"], ["prefix", "location"], ["prefix", "tenure"]):
            cells += len(level.groupby(keys).size())
    return time.perf_counter() - start, cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=20_000)
    parser.add_argument("--teams", type=int, default=2_000)
    args = parser.parse_args()
    records = synthetic_records(args.respondents, args.teams)

    baseline_s, baseline_cells = min(baseline_groupby(records) for _ in range(3))

    start = time.perf_counter()
    layout = publication_layout(records)
    layout_s = time.perf_counter() - start

    def audit() -> Suppression:
        return suppress_cells(group_weights=layout.group_weights, cells=layout.cells, k=5)

    timings = []
    for _ in range(2):
        start = time.perf_counter()
        result = audit()
        timings.append(time.perf_counter() - start)
    suppress_s = min(timings)
    traced, peak = traced_peak(audit)
    assert traced.decisions == result.decisions

    assert len(layout.cells) == baseline_cells, (len(layout.cells), baseline_cells)
    counts = ", ".join(f"{k}={v}" for k, v in sorted(result.counts.items()))
    print(
        f"respondents={len(records)} teams={args.teams} groups={len(layout.group_weights)} "
        f"cells={len(layout.cells)}"
    )
    print(f"decisions: {counts}")
    print(f"baseline pandas groupby of the same cells: {baseline_s * 1000:.1f} ms")
    print(f"publication_layout (cells from records): {layout_s * 1000:.1f} ms")
    print(f"suppress_cells: {suppress_s * 1000:.1f} ms, peak memory {peak / 2**20:.1f} MiB")
    print(f"ratio suppress_cells / baseline: {suppress_s / baseline_s:.1f}x (target <= 10x)")


if __name__ == "__main__":
    main()
