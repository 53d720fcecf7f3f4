"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def team_paths(
    draw: st.DrawFn, *, min_teams: int, max_teams: int, root: str = "", letter: str = "T"
) -> list[str]:
    """A random team tree as paths (`{root}T0`, `{root}T0/T1`, ...; `letter` names the teams):
    team i's parent is any earlier team, so every shape from a chain to a star comes up;
    parents precede children."""
    n_teams = draw(st.integers(min_teams, max_teams))
    parents = [None] + [draw(st.integers(0, i - 1)) for i in range(1, n_teams)]
    paths: list[str] = []
    for i, parent in enumerate(parents):
        paths.append(f"{root}{letter}{i}" if parent is None else f"{paths[parent]}/{letter}{i}")
    return paths
