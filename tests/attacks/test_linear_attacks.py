"""Attacks on a publication's numbers (anonymity.md attacks 1-6 and 8), pure: no database.

Each test builds a small organisation by hand, shows that the attacker recovers something when
only primary suppression (n >= k) is applied - so the attacker works - and that it recovers
nothing once `suppress_cells` decides what is shown.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.attacker import in_row_space, membership_matrix, recover_answers
from analytics.disclosure import (
    REASON_INSIDER_MARGIN,
    REASON_PROTECTS_ANOTHER,
    Cell,
    homogeneity_verdict,
    publication_layout,
    suppress_cells,
)
from tests.support.strategies import team_paths

K = 5


def naive_shown(weights, cells):
    """Primary suppression only: every cell with at least k respondents."""
    return [c for c in cells if sum(weights[g] for g in c.groups) >= K]


def audited_shown(weights, cells, **kwargs):
    result = suppress_cells(group_weights=weights, cells=cells, k=K, **kwargs)
    return [c for c, d in zip(cells, result.decisions, strict=True) if d.shown], result


def vector(weights, groups):
    return membership_matrix([groups], weights)[0]


def attack(weights, shown, answers, known=()):
    """Everything published plus, for an insider, their own answers as extra equations."""
    matrix = membership_matrix([c.groups for c in shown], weights)
    for i in known:
        row = np.zeros(matrix.shape[1])
        row[i] = 1.0
        matrix = np.vstack([matrix, row]) if matrix.size else row[None, :]
    return recover_answers(matrix, matrix @ answers, lower=0, upper=4, step=1, answers=answers)


def answers_for(weights, seed=7):
    rng = np.random.default_rng(seed)
    # Interior answers (1..3) so that only linear algebra, not bounds, can disclose.
    return rng.integers(1, 4, size=sum(weights)).astype(float)


def test_it_refuses_to_show_a_small_cell():
    weights = [1, 9]
    cells = [Cell("org", [0, 1]), Cell("solo", [0]), Cell("team", [1])]
    answers = answers_for(weights)
    everything = attack(weights, cells, answers)
    assert 0 in everything.exact  # shown as-is, the one-person cell is that person's answer

    shown, result = audited_shown(weights, cells)
    assert [d.reason for d in result.decisions][1] == "below_k"
    assert all(d.n >= K for d in result.decisions if d.shown)
    assert attack(weights, shown, answers).disclosed == ()


def test_it_defeats_the_complement_attack():
    weights = [4, 20]  # Sales (4) and everyone else
    cells = [Cell("company", [0, 1], 0), Cell("sales", [0], 1), Cell("not sales", [1], 1)]
    sales = vector(weights, [0])
    naive = membership_matrix([c.groups for c in naive_shown(weights, cells)], weights)
    assert in_row_space(naive, sales)  # company - everyone but Sales = Sales

    shown, result = audited_shown(weights, cells)
    assert result.decisions[2].reason == REASON_PROTECTS_ANOTHER
    assert result.decisions[0].shown
    assert not in_row_space(membership_matrix([c.groups for c in shown], weights), sales)


def test_it_defeats_two_segments_that_differ_by_one_person():
    # Team of 10: 9 in Berlin, 1 in Paris. "Team" and "Team in Berlin" differ by one person.
    weights = [9, 1]
    cells = [Cell("team", [0, 1], 0), Cell("berlin", [0], 1), Cell("paris", [1], 1)]
    answers = answers_for(weights)
    assert attack(weights, naive_shown(weights, cells), answers).exact == (9,)

    shown, result = audited_shown(weights, cells)
    assert result.decisions[1].reason == REASON_PROTECTS_ANOTHER
    assert attack(weights, shown, answers).disclosed == ()


def test_it_defeats_the_three_set_attack_that_pairwise_rules_miss():
    # A-only 6, B-only 6, A-and-B 1, neither 6. Every pairwise difference of the shown cells is
    # >= 6, yet A + B - (A or B) is the one person in A-and-B (not itself a cell).
    weights = [6, 6, 1, 6]
    cells = [
        Cell("org", [0, 1, 2, 3], 0),
        Cell("A", [0, 2], 1),
        Cell("B", [1, 2], 1),
        Cell("A or B", [0, 1, 2], 1),
    ]
    answers = answers_for(weights)
    naive = naive_shown(weights, cells)
    assert len(naive) == 4
    assert attack(weights, naive, answers).exact == (12,)

    shown, result = audited_shown(weights, cells)
    assert not all(d.shown for d in result.decisions)
    assert attack(weights, shown, answers).disclosed == ()


def test_it_defeats_a_general_tracker():
    # Denning's tracker: q(C or T) + q(C or not T) - q(All) = q(C), C being one person.
    weights = [1, 8, 10]  # c, t, u (not T)
    cells = [
        Cell("all", [0, 1, 2], 0),
        Cell("C or T", [0, 1], 1),
        Cell("C or not T", [0, 2], 1),
        Cell("T", [1], 1),
    ]
    answers = answers_for(weights)
    assert attack(weights, naive_shown(weights, cells), answers).exact == (0,)

    shown, _ = audited_shown(weights, cells)
    assert attack(weights, shown, answers).disclosed == ()
    assert not in_row_space(
        membership_matrix([c.groups for c in shown], weights), vector(weights, [0])
    )


def test_it_defeats_the_insider_who_subtracts_their_own_answer():
    # Parent of 10: children A (1), B (1), C (8). Hiding A and B as a "suppressed pair" (Glint)
    # publishes x_a + x_b, so A, knowing x_a, learns x_b.
    weights = [1, 1, 8]
    cells = [
        Cell("parent", [0, 1, 2], 0),
        Cell("A", [0], 1),
        Cell("B", [1], 1),
        Cell("C", [2], 1),
    ]
    answers = answers_for(weights)
    pair_only, _ = audited_shown(weights, cells, insider_margin=False)
    assert [c.key for c in pair_only] == ["parent", "C"]
    assert attack(weights, pair_only, answers).disclosed == ()  # an outsider learns nothing
    assert 1 in attack(weights, pair_only, answers, known=[0]).exact  # ...but the insider does

    shown, result = audited_shown(weights, cells)
    assert result.decisions[3].reason == REASON_INSIDER_MARGIN
    assert set(attack(weights, shown, answers, known=[0]).disclosed) == {0}  # only themselves


def test_a_residual_of_three_people_is_not_published():
    weights = [1, 1, 1, 10]
    cells = [Cell("parent", [0, 1, 2, 3], 0)] + [Cell(n, [g], 1) for g, n in enumerate("ABCD")]
    shown, result = audited_shown(weights, cells)
    residual = vector(weights, [0, 1, 2])
    assert not in_row_space(membership_matrix([c.groups for c in shown], weights), residual)
    assert result.decisions[4].reason == REASON_INSIDER_MARGIN


def banded_cells(weights, cells, answers):
    """Indices of the cells whose exact figure the homogeneity rule replaces by a band."""
    starts = np.concatenate([[0], np.cumsum(weights)])
    banded = []
    for i, cell in enumerate(cells):
        if sum(weights[g] for g in cell.groups) < K:
            continue
        values = np.concatenate([answers[starts[g] : starts[g + 1]] for g in sorted(cell.groups)])
        verdict = homogeneity_verdict(np.bincount(values.astype(int), minlength=5).tolist(), k=K)
        if verdict.status != "exact":
            banded.append(i)
    return banded


def test_a_unanimous_cell_is_banded_so_the_bounds_reveal_nothing():
    weights = [6, 6]
    cells = [Cell("org", [0, 1], 0), Cell("team a", [0], 1), Cell("team b", [1], 1)]
    answers = np.array([4.0] * 6 + [0, 1, 2, 3, 4, 2])
    shown, _ = audited_shown(weights, cells)
    assert len(shown) == 3  # no linear problem here
    assert set(attack(weights, shown, answers).bounded) >= set(range(6))  # mean 4.0 of 0..4

    banded = banded_cells(weights, cells, answers)
    assert banded == [1]
    # Banding team a alone is not enough: org - team b would still give its exact sum.
    assert set(attack(weights, [cells[0], cells[2]], answers).bounded) >= set(range(6))
    shown, result = audited_shown(weights, cells, withheld=banded)
    assert result.decisions[1].reason == "unanimity"
    assert attack(weights, shown, answers).disclosed == ()


@st.composite
def organisations(draw):
    paths = draw(team_paths(min_teams=2, max_teams=6, letter="t"))
    records = []
    for path in paths:
        for _ in range(draw(st.integers(1, 30))):
            records.append(
                (
                    path,
                    draw(st.sampled_from(["Berlin", "Paris", "Lima"])),
                    draw(st.sampled_from(["<1y", "1-3y", "3-5y", "5y+"])),
                )
            )
    seed = draw(st.integers(0, 2**32 - 1))
    return records, seed


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(organisations())
def test_the_lp_attacker_recovers_no_answer_from_a_random_organisation(org):
    records, seed = org
    layout = publication_layout(records)
    weights = list(layout.group_weights)
    answers = np.random.default_rng(seed).integers(0, 5, size=sum(weights)).astype(float)
    result = suppress_cells(
        group_weights=weights,
        cells=layout.cells,
        k=K,
        withheld=banded_cells(weights, layout.cells, answers),
    )
    published = [c for c, d in zip(layout.cells, result.decisions, strict=True) if d.shown]
    assert attack(weights, published, answers).disclosed == ()
