"""Random organisations against the real system: everything every role can see, attacked at once.

Hypothesis draws a team tree (2-4 teams, 1..25 people each, people also sitting in parent
teams), locations, tenures and answers; the round is run through the real services (roster
import, invitations, `response_submit`, close, `publication_compute`). The attacker then takes
everything HR, a superuser and a leader of every team can read - the API with
`?breakdown=any`, the CSV download, the export command - and, per measure, runs the
least-squares / LP attacker of `analytics.attacker` over every published sum (score x n with
the exact sums, top-2 and risk-band counts, distributions) with the answers' bounds (items are
the 0-100 values of their anchors). No answer may be recovered beyond what the bounds allow.

Known limit, left out here and pinned by a strict xfail in test_system_attacks.py: the top-2
and risk-band percentages of a set that the cells derive but that is not itself a cell (a
residual "parent minus its children") are not checked for homogeneity, and with two categories
such a set of 5 people all on one side is common; Hypothesis found one (a WHO-5 item's top-2).
Second known limit, also left out: per-option counts of overlapping cells (team x location x
tenure, each with n >= 8) can pin the one person who chose a rare option by LP (a "count of 1"
attribute disclosure); Hypothesis found one (AAV1, "Strongly agree"). Means and counts - the
linear audit's subject - are attacked in full.
"""

from __future__ import annotations

import random

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.attacks.test_system_attacks import (
    answering,
    attack,
    every_viewer,
    everything_published,
    publish,
    roster,
)
from tests.support.rounds import closed_round

LOCATIONS = ["Berlin", "Paris", "Lima"]


@st.composite
def organisations(draw):  # type: ignore[no-untyped-def]
    n_teams = draw(st.integers(2, 4))
    parents = [None] + [draw(st.integers(0, i - 1)) for i in range(1, n_teams)]
    paths: list[str] = []
    for i, parent in enumerate(parents):
        paths.append(f"Org/T{i}" if parent is None else f"{paths[parent]}/T{i}")
    people = []
    for path in paths:
        for _ in range(draw(st.integers(1, 25))):
            people.append(
                (path, draw(st.sampled_from(LOCATIONS)), draw(st.sampled_from([2015, 2022, 2025])))
            )
    return people, draw(st.integers(0, 2**32 - 1))


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(organisations())
def test_no_answer_is_recovered_from_everything_any_role_sees(db: None, org) -> None:
    people, seed = org
    with transaction.atomic():
        emails = roster(people)
        rng = random.Random(seed)
        shares = {(email, n): rng.random() for email in emails for n in range(40)}
        codes: dict[str, int] = {}

        def value(employee, code):  # type: ignore[no-untyped-def]
            return shares[(employee.email, codes.setdefault(code, len(codes)))]

        round_ = closed_round(audience=["Org"], answer=answering(value), seed=seed % 1000)
        raw, seen = publish(round_)
        assert attack(raw, seen, percentages=False, distributions=False) == {}
        # A leader's view is a part of HR's: same figures, nothing more.
        for viewer in every_viewer()[2:]:
            part = everything_published(round_, [viewer])
            assert all(seen.shown[slot] == figure for slot, figure in part.shown.items())
        transaction.set_rollback(True)
