"""`analytics.derived.nested_release`: category figures on nested team cells, attacked.

Each test shows that the attack works when every candidate team shows its count (so the
attacker is not blind), and that the least-squares / LP attacker of `analytics.attacker`, with
0 <= x <= 1 per person and per category, recovers nobody's category - nor, for an insider who
knows their own answer, anybody else's - from the teams `nested_release` lets show theirs.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.attacker import recover_answers
from analytics.derived import REASON_DERIVED, atom_passes, nested_release


def members(leaf_of: list[str], path: str) -> list[int]:
    return [
        i for i, leaf in enumerate(leaf_of) if not path or leaf == path or leaf.startswith(path + "/")
    ]


def pinned(
    leaf_of: list[str], paths: list[str], flags: np.ndarray, known: tuple[int, ...] = ()
) -> set[int]:
    """People whose 0/1 flag the attacker recovers from the counts of `paths` (plus the flags
    of the `known` insiders)."""
    n = len(leaf_of)
    rows = []
    for path in paths:
        row = np.zeros(n)
        row[members(leaf_of, path)] = 1.0
        rows.append(row)
    for i in known:
        row = np.zeros(n)
        row[i] = 1.0
        rows.append(row)
    if not rows:
        return set()
    matrix = np.array(rows)
    report = recover_answers(matrix, matrix @ flags, lower=0, upper=1, step=1, answers=flags)
    return set(report.disclosed) - set(known)


def shown(verdicts: dict[str, str | None]) -> list[str]:
    return sorted(path for path, why in verdicts.items() if why is None)


def test_a_parent_minus_its_children_that_is_unanimous_is_not_derivable() -> None:
    # The strict-xfail organisation: Calm (7, all agree), Team/Split (6, all agree),
    # Team/Mixed (6: 3 agree). Org - Mixed = 13 people, all agree.
    leaf_of = ["Calm"] * 7 + ["Team/Split"] * 6 + ["Team/Mixed"] * 6
    agree = [1] * 13 + [1, 1, 1, 0, 0, 0]
    flags = np.array(agree, dtype=float)
    categories = dict(enumerate(agree))
    # Calm and Split are unanimous cells (banded elsewhere); Mixed, Team and the org are not.
    candidates = ["", "Team", "Team/Mixed"]
    assert pinned(leaf_of, candidates, flags) == set(range(13))  # the attack works
    verdicts = nested_release(
        leaf_of=leaf_of, who=range(19), candidates=candidates, categorisations=[categories], minimum=5
    )
    assert pinned(leaf_of, shown(verdicts), flags) == set()
    # The organisation keeps its figure; the smallest published sub-team is withdrawn.
    assert verdicts[""] is None and verdicts["Team/Mixed"] == REASON_DERIVED


def test_an_insider_faces_two_unknowns_on_each_side() -> None:
    # Parent P: child A (8, mixed) and 5 direct members of whom 4 agree. P - A = 5 people with
    # 4 on one side: the one who disagrees learns that the other four agree.
    leaf_of = ["P/A"] * 8 + ["P"] * 5
    agree = [1, 0, 1, 0, 1, 0, 1, 0] + [1, 1, 1, 1, 0]
    flags = np.array(agree, dtype=float)
    assert pinned(leaf_of, ["P", "P/A"], flags, known=(12,)) == {8, 9, 10, 11}
    verdicts = nested_release(
        leaf_of=leaf_of,
        who=range(13),
        candidates=["", "P", "P/A"],
        categorisations=[dict(enumerate(agree))],
        minimum=5,
    )
    for insider in range(13):
        assert pinned(leaf_of, shown(verdicts), flags, known=(insider,)) == set()
    assert verdicts["P"] is None and verdicts["P/A"] == REASON_DERIVED


def test_distributions_need_eight_in_every_derived_set_and_no_lone_rare_option() -> None:
    # Team T: sub-team S (8) and 2 direct members, one of whom alone chose option 4. T - S
    # isolates two people and says one chose 4; with S's and T's counts the two are a set.
    leaf_of = ["T/S"] * 8 + ["T"] * 2 + ["U"] * 9
    option = [0, 1, 2, 3, 0, 1, 2, 3, 0, 4] + [0, 1, 2, 3, 0, 1, 2, 3, 1]
    categories = dict(enumerate(option))
    verdicts = nested_release(
        leaf_of=leaf_of,
        who=range(19),
        candidates=["", "T", "T/S", "U"],
        categorisations=[categories],
        minimum=8,
    )
    for value in range(5):
        flags = np.array([float(o == value) for o in option])
        chose = {i for i in pinned(leaf_of, shown(verdicts), flags) if option[i] == value}
        assert chose == set(), value
    assert atom_passes([], [categories], 8)
    assert not atom_passes(list(range(7)), [categories], 8)
    with pytest.raises(ValueError, match="at least 5"):
        nested_release(leaf_of=leaf_of, who=[], candidates=[], categorisations=[], minimum=4)


def test_a_team_that_is_not_a_candidate_is_never_shown() -> None:
    leaf_of = ["A"] * 6 + ["B"] * 6
    flags = dict(enumerate([1, 0] * 6))
    verdicts = nested_release(
        leaf_of=leaf_of, who=range(12), candidates=["A"], categorisations=[flags], minimum=5
    )
    assert verdicts == {"A": None}


@st.composite
def nested_orgs(draw):  # type: ignore[no-untyped-def]
    n_teams = draw(st.integers(1, 6))
    parents = [None] + [draw(st.integers(0, i - 1)) for i in range(1, n_teams)]
    paths: list[str] = []
    for i, parent in enumerate(parents):
        paths.append(f"T{i}" if parent is None else f"{paths[parent]}/T{i}")
    leaf_of: list[str] = []
    for path in paths:
        leaf_of += [path] * draw(st.integers(0, 12))
    options = draw(st.integers(2, 5))
    skew = draw(st.floats(0.0, 0.95))
    answers = [
        0 if draw(st.floats(0, 1)) < skew else draw(st.integers(0, options - 1)) for _ in leaf_of
    ]
    candidates = [p for p in ["", *paths] if draw(st.booleans()) or p == ""]
    minimum = draw(st.sampled_from([5, 8]))
    return leaf_of, answers, options, candidates, minimum


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested_orgs())
def test_random_nested_orgs_leak_no_category_to_an_outsider_or_an_insider(org) -> None:  # type: ignore[no-untyped-def]
    leaf_of, answers, options, candidates, minimum = org
    if not leaf_of:
        return
    categories = dict(enumerate(answers))
    verdicts = nested_release(
        leaf_of=leaf_of,
        who=range(len(leaf_of)),
        candidates=candidates,
        categorisations=[categories],
        minimum=minimum,
    )
    assert set(verdicts) == {p for p in candidates if members(leaf_of, p)}
    published = shown(verdicts)
    for path in published:
        assert len(members(leaf_of, path)) >= minimum
    insiders = [(), (0,), (len(leaf_of) - 1,)]
    for value in range(options):
        flags = np.array([float(a == value) for a in answers])
        for known in insiders:
            recovered = pinned(leaf_of, published, flags, known)
            # "Did not choose" is what any distribution with a zero says; "chose" is an answer.
            assert {i for i in recovered if answers[i] == value} == set(), (value, known)
        if options == 2:  # a two-way split (top-2, risk band): either side is an answer
            assert pinned(leaf_of, published, flags) == set()
