"""The publication's shared audits (`analytics.publication._Auditor`) keep their promises on
random organisations: every measure shows a subset of its base audit's cells, no banded cell
can be worked out from what a measure shows, and neither one measure's shown cells nor the
union of those of every measure over the same respondents derives a set of 1..k-1 people."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.derived import _rref, small_derived_sets
from analytics.disclosure import REASON_UNANIMITY
from analytics.publication import _Auditor
from tests.support.strategies import team_paths

K = 5
LOCATIONS = ["Berlin", "Paris", "Lima"]
TENURES = ["<1y", "5y+"]


@st.composite
def organisations(draw: st.DrawFn) -> tuple[list[tuple[str, str, str]], list[dict[int, float]]]:
    """People (team path, location, tenure) and 1-3 measures: per person a value on a 1-5
    scale, or none (skipped); mostly-alike answers make unanimous cells common."""
    # Small, densely crossed organisations: residual sets of a few people across teams and
    # attributes (what the exhaustive small-set search exists for) come up often.
    paths = draw(team_paths(min_teams=1, max_teams=5, root="Org/"))
    people = [
        (path, draw(st.sampled_from(LOCATIONS)), draw(st.sampled_from(TENURES)))
        for path in paths
        for _ in range(draw(st.integers(0, 12)))
    ]
    measures = []
    for _ in range(draw(st.integers(1, 3))):
        skip = draw(st.sampled_from([0.0, 0.0, 0.1]))
        mood = draw(st.floats(0.5, 1.0))
        draws = draw(st.lists(st.floats(0, 1), min_size=2 * len(people), max_size=2 * len(people)))
        values = {}
        for i in range(len(people)):
            if draws[2 * i] < skip:
                continue
            values[i] = 5.0 if draws[2 * i + 1] < mood else float(1 + int(draws[2 * i + 1] * 4))
        measures.append(values)
    return people, measures


def _in_span(cells: list[frozenset[int]], groups: frozenset[int]) -> bool:
    return len(_rref(cells)) == len(_rref([*cells, groups]))


@settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(organisations())
def test_every_measure_shows_a_safe_subset_of_its_base(org) -> None:  # type: ignore[no-untyped-def]
    people, measures = org
    auditor = _Auditor(people, k=K)
    by_set: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for m, values in enumerate(measures):
        by_set[tuple(sorted(values))].append(m)
    for who, members in by_set.items():
        if not who:
            continue
        layout, _people, _groups = auditor.layout(who)
        cells = [cell.groups for cell in layout.cells]
        union: set[int] = set()
        for m in members:
            values = measures[m]
            decisions = auditor.audit(
                who,
                k=K,
                homogeneity_of=[(values, lambda v: f"answered {v}")],
                values=values,
                bounds=(1.0, 5.0),
                alone=len(members) == 1,
            )
            first = auditor.first(who, K)
            base = first if len(members) == 1 else auditor.base(who, K)
            shown = [i for i, cell in enumerate(layout.cells) if decisions[cell.key][0]]
            assert all(base.shown[i] for i in shown)  # a subset of the base
            assert all(first.shown[i] for i in shown)
            kept = [cells[i] for i in shown]
            for i, cell in enumerate(layout.cells):
                if decisions[cell.key][1] == REASON_UNANIMITY:
                    assert not _in_span(kept, cells[i]), cell.key  # a banded cell stays out
            assert small_derived_sets(layout.group_weights, kept, k=K) == []
            union.update(shown)
        # The counts (n) of every measure over these respondents, taken together. (Few draws
        # reach this with small sets in the first audit, which the insider-margin search mostly
        # prevents: about 3 in 1,800 first audits here; bench-sized rounds have them often.)
        together = [cells[i] for i in sorted(union)]
        assert small_derived_sets(layout.group_weights, together, k=K) == []
