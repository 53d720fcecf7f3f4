"""Random organisations against the real system: everything every role can see, attacked at once.

Hypothesis draws a team tree (2-4 teams, 1..25 people each, people also sitting in parent
teams), locations, tenures and answers; the round is run through the real services (roster
import, invitations, `response_submit`, close, `publication_compute`). The attacker then takes
everything HR, a superuser and a leader of every team can read - the API with
`?breakdown=any`, the CSV download, the export command - and, per measure, runs the
least-squares / LP attacker of `analytics.attacker` over every published sum (score x n with
the exact sums, top-2 and risk-band counts, distributions) with the answers' bounds (items are
the 0-100 values of their anchors). No answer may be recovered beyond what the bounds allow,
by an outsider or by an insider who knows their own answers (the first and the last person).

These random organisations once found a WHO-5 item's top-2 share pinning a derived residual of
5 people all on one side, and per-option counts of overlapping cells pinning the one person who
chose "Strongly agree" (AAV1): shares and distributions are now published on team cells only,
with every derived set large and mixed (analytics.derived), and are attacked here in full.
"""

from __future__ import annotations

import random

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.derived import small_derived_sets
from analytics.disclosure import publication_layout
from tests.attacks.test_system_attacks import (
    answering,
    attack,
    every_viewer,
    everything_published,
    publish,
    roster,
)
from tests.support.rounds import closed_round
from tests.support.strategies import team_paths

LOCATIONS = ["Berlin", "Paris", "Lima"]


@st.composite
def organisations(draw):  # type: ignore[no-untyped-def]
    paths = draw(team_paths(min_teams=2, max_teams=4, root="Org/"))
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
        assert attack(raw, seen) == {}
        # Every shown figure carries its n: the counts of all the measures everybody answered,
        # taken together, derive no set of 1..k-1 people (exhaustive search over groups).
        everybody = sorted(raw.measures["respondents"].values)
        with_n = {
            key
            for (key, code), figure in seen.shown.items()
            if figure["n"] is not None and sorted(raw.measures[code].values) == everybody
        }
        layout = publication_layout(raw.attrs[i] for i in everybody)
        counted = [cell.groups for cell in layout.cells if cell.key in with_n]
        assert small_derived_sets(layout.group_weights, counted, k=5) == []
        for insider in (0, len(raw.attrs) - 1):
            assert attack(raw, seen, known=[insider]) == {}, insider
        # A leader's view is a part of HR's: same figures, nothing more.
        for viewer in every_viewer()[2:]:
            part = everything_published(round_, [viewer])
            assert all(seen.shown[slot] == figure for slot, figure in part.shown.items())
        transaction.set_rollback(True)
