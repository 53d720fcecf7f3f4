"""Attacks on the real outputs (anonymity.md attacks 1-8 and 10), through the pages, the API,
the CSV download and the export command, as every role that can see them.

Each test builds a small organisation by hand (real roster import, real invitations, answers
through `response_submit`, real close), shows that the attack works on the raw answers (the
attacker's target computed from them), and that it fails on what the system publishes: the
cells the attack needs are not all published, and the target is not a linear combination of
what is. Linkage (attack 9) is in test_linkage.py; AI usage dominance (11) in
tests/analytics/test_usage_gate.py.

The helpers here (roster, collection of everything published, the attacker over it) are also
used by test_system_random.py.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pytest
from django.core.management import call_command

from analytics.attacker import in_row_space, recover_answers
from analytics.models import Publication, PublicationCell
from analytics.publication import _load, _measures, publication_compute, round_results_publish
from surveys import scoring
from surveys.models import Employee, Role, Round, Team
from surveys.selectors import user_is_hr
from surveys.services import staff_user_create
from surveys.services.organisation import roster_import
from tests.conftest import client_for
from tests.support.rounds import closed_round

K = 5
PASSWORD = "x-long-password-1"
HEADER = "email,name,team,manager_email,location,start_date,timezone\n"
FIRST_NAMES = ["Alma", "Bruno", "Chiara", "Dmitri", "Elif", "Femi", "Greta", "Hugo", "Ines"]
LAST_NAMES = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad"]

Key = tuple[str, str, str]  # (team path, breakdown, value)
Attrs = tuple[str, str, str]  # (team path, location, tenure band)


# --- Building organisations -------------------------------------------------------------------


def roster(people: Iterable[tuple[str, str, int]]) -> list[str]:
    """Import one employee per (team path, location, start year); returns their emails, in
    order. Names come from fixed lists so that comments can name people."""
    rows, emails = [], []
    for i, (team, location, year) in enumerate(people, start=1):
        email = f"p{i:04d}@org.test"
        name = f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[i % len(LAST_NAMES)]}"
        rows.append(f"{email},{name},{team},,{location},{year}-03-01,Europe/Berlin")
        emails.append(email)
    roster_import(data=(HEADER + "\n".join(rows) + "\n").encode())
    return emails


def answering(values: Callable[[Employee, str], float]) -> Callable:
    """An `answer` function for `closed_round` from (employee, question code) -> 0..1, mapped to
    the nearest anchor of the question's kind (0 = lowest anchor value, 1 = highest)."""

    def answer(employee, question, rng):  # type: ignore[no-untyped-def]
        anchors = sorted(v for v, _ in scoring.ANCHORS[question.response_kind])
        share = values(employee, question.code)
        return anchors[round(share * (len(anchors) - 1))]

    return answer


def by_index(emails: list[str], table: dict[int, float], default: float = 0.5) -> Callable:
    """Answers per person (index into `emails`) for every question: 0..1."""
    position = {e: i for i, e in enumerate(emails)}
    return answering(lambda e, code: table.get(position[e.email], default))


def leader(name: str, paths: list[str]):  # type: ignore[no-untyped-def]
    return staff_user_create(
        username=name, password=PASSWORD, kind=Role.Kind.LEADER, team_paths=paths
    )


def hr():  # type: ignore[no-untyped-def]
    return staff_user_create(username="hr-attacks", password=PASSWORD, kind=Role.Kind.HR)


def every_viewer() -> list[object]:
    """HR, a superuser and one leader per team (scoped to that team's subtree)."""
    from django.contrib.auth import get_user_model

    users: list[object] = [hr()]
    users.append(
        get_user_model().objects.filter(username="root-attacks").first()
        or get_user_model().objects.create_superuser("root-attacks", "root@org.test", PASSWORD)
    )
    for team in Team.objects.order_by("path"):
        users.append(leader(f"lead-{team.pk}", [team.path]))
    return users


# --- Everything published ---------------------------------------------------------------------


@dataclass
class Seen:
    """Every figure any viewer could read, merged over the API, the CSV and the command."""

    shown: dict[tuple[Key, str], dict]  # (cell, measure) -> figure as the API gives it
    hidden: set[tuple[Key, str]]
    measures: dict[str, dict]

    def cells(self, code: str, field: str = "score") -> list[Key]:
        return sorted(
            key for (key, c), f in self.shown.items() if c == code and f.get(field) is not None
        )


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def everything_published(round_: Round, users: list[object]) -> Seen:
    """Call the API (`?breakdown=any`), the CSV download and the export command as each user,
    check that they agree with each other, and merge what they show."""
    shown: dict[tuple[Key, str], dict] = {}
    hidden: set[tuple[Key, str]] = set()
    csv_shown: dict[tuple[Key, str], dict] = {}
    for user in users:
        client = client_for(user)
        body = client.get(f"/api/v1/rounds/{round_.pk}/publication/?breakdown=any").json()
        for row in body["rows"]:
            key = (row["team_path"], row["breakdown"], row["value"])
            for figure in row["figures"]:
                slot = (key, figure["code"])
                if figure["shown"]:
                    assert shown.setdefault(slot, figure) == figure, slot
                else:
                    assert figure["score"] is None and figure["n"] is None
                    assert figure["distribution"] == [] and figure["reason"]
                    hidden.add(slot)
        download = client.get(f"/results/rounds/{round_.pk}/export.csv").content.decode()
        for line in _csv_rows(download):
            path = "" if line["team"] == "Organisation" else line["team"]
            csv_shown[((path, line["breakdown"], line["value"]), line["measure"])] = line
    if any(user_is_hr(user) for user in users):  # the command writes what HR downloads
        out = io.StringIO()
        call_command("export_results", str(round_.pk), "--format", "csv", stdout=out)
        for line in _csv_rows(out.getvalue()):
            path = "" if line["team"] == "Organisation" else line["team"]
            slot = ((path, line["breakdown"], line["value"]), line["measure"])
            assert csv_shown[slot] == line, slot
    for slot, line in csv_shown.items():
        figure = shown.get(slot)
        if line["shown"] == "yes":
            assert figure is not None, slot
            assert str(figure["n"]) == line["respondents"]
            assert ("" if figure["score"] is None else str(figure["score"])) == line["score_0_100"]
            assert ("" if figure["top2"] is None else str(figure["top2"])) == line["top2_percent"]
        else:
            assert slot in hidden and line["respondents"] == line["score_0_100"] == ""
    assert set(csv_shown) == set(shown) | hidden
    publication = Publication.objects.get(round=round_)
    return Seen(shown, hidden, {m["code"]: m for m in publication.measures})


# --- The attacker over everything published ---------------------------------------------------


def member(attrs: Attrs, key: Key) -> bool:
    path, breakdown, value = key
    team, location, tenure = attrs
    if path and not (team == path or team.startswith(path + "/")):
        return False
    if breakdown == "location":
        return location == value
    if breakdown == "tenure":
        return tenure == value
    return True


def matrix_over(attrs: list[Attrs], who: list[int], keys: list[Key]) -> np.ndarray:
    """Rows = cells, columns = the respondents `who` (0/1 membership)."""
    return np.array([[1.0 if member(attrs[i], key) else 0.0 for i in who] for key in keys]).reshape(
        len(keys), len(who)
    )


@dataclass
class Raw:
    attrs: list[Attrs]
    measures: dict[str, object]  # code -> analytics.publication.Measure

    def values(self, code: str) -> tuple[list[int], np.ndarray, float, float, float]:
        """Respondents with a value for `code`, their values as published (items 0-100 in the
        construct's direction, scales and the index 0-100, recommendation 0-10), and the
        bounds and step an attacker knows."""
        measure = self.measures[code]
        who = sorted(measure.values)
        if measure.kind == "item":
            kind = measure.item.response_kind
            values = [
                scoring.item_score_0_100(kind, measure.values[i], reverse=measure.item.reverse)
                for i in who
            ]
            return who, np.array(values), 0.0, 100.0, 100.0 / (len(measure.anchors) - 1)
        if measure.kind == "recommendation":
            return who, np.array([measure.values[i] for i in who]), 0.0, 10.0, 1.0
        return who, np.array([measure.values[i] for i in who]), 0.0, 100.0, 1.0


def raw_answers(round_: Round) -> Raw:
    """The per-respondent values the publication aggregates (read from the response tables, as
    snapshotted at submission: call before the microdata is generalised)."""
    attrs, answers, questions = _load(round_)
    return Raw(attrs, {m.code: m for m in _measures(answers, questions)})


def attack(
    raw: Raw,
    seen: Seen,
    *,
    known: Iterable[int] = (),
    percentages: bool = True,
    distributions: bool = True,
) -> dict[str, tuple[int, ...]]:
    """Run the least-squares / LP attacker over every published sum: for each measure, the
    shown cells' sums (score x n; the attacker is even given the exact sums, not the rounded
    scores), the top-2 and risk-band counts (0/1 indicators) and the distributions (one 0/1
    indicator per answer option), with the answer bounds. `known`: respondents whose answers
    the attacker knows (an insider); `percentages=False` leaves the top-2 and risk-band counts
    out, `distributions=False` the per-option counts.
    Returns measure -> respondents disclosed beyond `known`.

    Also checks that the published n and the rounded score agree with the raw answers, so that
    the membership the attacker reconstructs is the real one."""
    leaks: dict[str, tuple[int, ...]] = {}
    known = set(known)
    for code, measure in raw.measures.items():
        if measure.kind == "count":
            continue
        who, values, lower, upper, step = raw.values(code)
        if not who:
            continue
        problems: list[tuple[str, list[Key], np.ndarray, float, float, float]] = []
        keys = seen.cells(code)
        problems.append((code, keys, values, lower, upper, step))
        for field, flag in (("top2", _top2_flags), ("risk_share", _risk_flags)):
            flagged = seen.cells(code, field) if percentages else []
            if flagged:
                problems.append((f"{code}:{field}", flagged, flag(measure, who), 0, 1, 1))
        dist_keys = [k for k in keys if seen.shown[(k, code)]["distribution"] and distributions]
        for option, (anchor, _) in enumerate(measure.anchors):
            if dist_keys:
                indicator = np.array([float(measure.values[i] == anchor) for i in who])
                problems.append((f"{code}:option{option}", dist_keys, indicator, 0, 1, 1))
        for label, cells, truth, lo, hi, st in problems:
            matrix = matrix_over(raw.attrs, who, cells)
            _check_consistent(seen, code, label, cells, matrix, truth, who, values)
            insiders = [who.index(i) for i in known if i in who]
            for column in insiders:
                row = np.zeros(len(who))
                row[column] = 1.0
                matrix = np.vstack([matrix, row])
            if matrix.shape[0] == 0:
                continue
            report = recover_answers(
                matrix, matrix @ truth, lower=lo, upper=hi, step=st, answers=truth
            )
            pinned = set(report.disclosed)
            if ":option" in label:
                # A distribution pins many people to "did not choose this option" whenever an
                # option has no answers; only "chose this option" discloses an answer.
                pinned = set(report.exact) | {
                    c for c in report.bounded if report.ranges[c][0] >= 1 - 1e-7
                }
            disclosed = tuple(sorted(who[c] for c in pinned if who[c] not in known))
            if disclosed:
                leaks[label] = disclosed
    return leaks


def _top2_flags(measure, who: list[int]) -> np.ndarray:  # type: ignore[no-untyped-def]
    top = scoring.top2_values(measure.item.response_kind, reverse=measure.item.reverse)
    return np.array([float(measure.values[i] in top) for i in who])


def _risk_flags(measure, who: list[int]) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array(
        [float(bool(scoring.in_risk_band(measure.scale, measure.values[i]))) for i in who]
    )


def _check_consistent(seen, code, label, cells, matrix, truth, who, values) -> None:  # type: ignore[no-untyped-def]
    for key, row in zip(cells, matrix, strict=True):
        figure = seen.shown[(key, code)]
        n = int(row.sum())
        assert figure["n"] == n >= K, (key, code, figure["n"], n)
        if label == code and seen.measures[code]["kind"] != "recommendation":
            assert abs(figure["score"] - float(row @ values) / n) <= 0.5 + 1e-9, (key, code)
        if label.endswith(":top2"):
            assert abs(figure["top2"] - 100 * float(row @ truth) / n) <= 0.5 + 1e-9
        if ":option" in label:
            option = int(label.rsplit("option", 1)[1])
            assert figure["distribution"][option][1] == int(row @ truth), (key, code)


def vector(raw: Raw, code: str, predicate: Callable[[Attrs], bool]) -> np.ndarray:
    who = sorted(raw.measures[code].values)
    return np.array([1.0 if predicate(raw.attrs[i]) else 0.0 for i in who])


def published_matrix(raw: Raw, seen: Seen, code: str) -> np.ndarray:
    who = sorted(raw.measures[code].values)
    return matrix_over(raw.attrs, who, seen.cells(code))


def cell_sum(raw: Raw, code: str, key: Key) -> float:
    who, values, *_ = raw.values(code)
    return float(matrix_over(raw.attrs, who, [key])[0] @ values)


def only_person(raw: Raw, predicate: Callable[[Attrs], bool]) -> int:
    matches = [i for i, a in enumerate(raw.attrs) if predicate(a)]
    assert len(matches) == 1, matches
    return matches[0]


def publish(round_: Round) -> tuple[Raw, Seen]:
    raw = raw_answers(round_)
    publication_compute(round_id=round_.pk)
    return raw, everything_published(round_, every_viewer())


ITEM = "AUP1"  # an agreement item: 0, 25, .., 100
SCALE = "WHO5"


# --- 1. Small cell ----------------------------------------------------------------------------


def test_a_group_below_k_is_shown_nowhere_to_nobody(db: None) -> None:
    emails = roster([("Company/Big", "Berlin", 2018)] * 9 + [("Company/Solo", "Berlin", 2018)])
    round_ = closed_round(
        audience=["Company"], answer=by_index(emails, {9: 1.0}, default=0.25), seed=11
    )
    raw, seen = publish(round_)
    only_person(raw, lambda a: a[0] == "Company/Solo")
    # Raw: the Solo team's mean is the one person's answer.
    assert cell_sum(raw, ITEM, ("Company/Solo", "all", "")) == 100.0
    for (key, code), _ in seen.shown.items():
        assert key[0] != "Company/Solo", (key, code)
    assert all(figure["n"] >= K for figure in seen.shown.values())
    # Nor derivable: Company minus Big.
    assert not in_row_space(
        published_matrix(raw, seen, ITEM), vector(raw, ITEM, lambda a: a[0] == "Company/Solo")
    )
    assert attack(raw, seen) == {}
    # The pages say why, in words, and carry no number for the team.
    solo_team = Team.objects.get(path="Company/Solo")
    page = client_for(hr()).get(f"/results/teams/{solo_team.pk}/?round={round_.pk}")
    text = page.content.decode()
    assert "The number of respondents is hidden" in text
    assert "fewer than 5 answers" in text
    assert not re.search(r"Score \d", text)


# --- 2. Complement ----------------------------------------------------------------------------


def test_company_minus_everyone_but_sales_does_not_give_sales(db: None) -> None:
    emails = roster(
        [("Company/Eng", "Berlin", 2018)] * 12
        + [("Company/Eng", "Paris", 2020)] * 8
        + [("Company/Sales", "Paris", 2019)] * 4
    )
    round_ = closed_round(
        audience=["Company/Eng", "Company/Sales"],
        answer=by_index(emails, {20: 1.0, 21: 1.0, 22: 0.0, 23: 0.75}),
        seed=12,
    )
    raw, seen = publish(round_)
    # Raw: the organisation (= Company) minus Eng is Sales' sum.
    sales = cell_sum(raw, ITEM, ("Company/Sales", "all", ""))
    assert (
        cell_sum(raw, ITEM, ("", "all", "")) - cell_sum(raw, ITEM, ("Company/Eng", "all", ""))
        == sales
    )
    # ...and Paris minus Eng-in-Paris too.
    assert (
        cell_sum(raw, ITEM, ("", "location", "Paris"))
        - cell_sum(raw, ITEM, ("Company/Eng", "location", "Paris"))
        == sales
    )
    for code in (ITEM, SCALE, "respondents"):
        assert (("Company/Sales", "all", ""), code) in seen.hidden
    shown = {key for key in seen.cells(ITEM)}
    assert not {("", "all", ""), ("Company/Eng", "all", "")} <= shown
    assert not {("", "location", "Paris"), ("Company/Eng", "location", "Paris")} <= shown
    for code in (ITEM, SCALE):
        assert not in_row_space(
            published_matrix(raw, seen, code), vector(raw, code, lambda a: a[0] == "Company/Sales")
        )
    assert attack(raw, seen) == {}


# --- 3. Overlap -------------------------------------------------------------------------------


def test_two_segments_that_differ_by_one_person_are_not_both_published(db: None) -> None:
    # Team Ops: 9 in Berlin, 1 in Paris. "Ops" and "Ops in Berlin" differ by the Paris person.
    emails = roster(
        [("Company/Ops", "Berlin", 2018)] * 9
        + [("Company/Ops", "Paris", 2018)]
        + [("Company/Dev", "Berlin", 2019)] * 8
    )
    round_ = closed_round(
        audience=["Company/Ops", "Company/Dev"], answer=by_index(emails, {9: 0.0}), seed=13
    )
    raw, seen = publish(round_)
    paris = only_person(raw, lambda a: a[0] == "Company/Ops" and a[1] == "Paris")
    ops, ops_berlin = ("Company/Ops", "all", ""), ("Company/Ops", "location", "Berlin")
    assert cell_sum(raw, ITEM, ops) - cell_sum(raw, ITEM, ops_berlin) == 0.0  # their answer
    assert raw.measures[ITEM].values[paris] == 0.0
    shown = set(seen.cells(ITEM))
    assert not {ops, ops_berlin} <= shown
    # Nor through the organisation's location cells: Berlin(org) - Dev = Ops in Berlin.
    matrix = published_matrix(raw, seen, ITEM)
    assert not in_row_space(
        matrix, vector(raw, ITEM, lambda a: a[0] == "Company/Ops" and a[1] == "Paris")
    )
    assert attack(raw, seen) == {}


# --- 4. Three-set -----------------------------------------------------------------------------


def test_a_plus_b_minus_a_or_b_isolates_nobody(db: None) -> None:
    # A = team X (6 Berlin + 1 Paris), B = everyone in Paris (the 1 + Y's 6 Paris),
    # A or B = everyone but Y-in-Berlin. A + B - (A or B) = the Paris person of X, while every
    # pairwise difference of these cells is >= 6.
    emails = roster(
        [("Company/X", "Berlin", 2018)] * 6
        + [("Company/X", "Paris", 2018)]
        + [("Company/Y", "Paris", 2019)] * 6
        + [("Company/Y", "Berlin", 2019)] * 6
    )
    round_ = closed_round(
        audience=["Company/X", "Company/Y"], answer=by_index(emails, {6: 1.0}), seed=14
    )
    raw, seen = publish(round_)
    a, b = ("Company/X", "all", ""), ("", "location", "Paris")
    org, y_berlin = ("", "all", ""), ("Company/Y", "location", "Berlin")
    target = only_person(raw, lambda at: at[0] == "Company/X" and at[1] == "Paris")
    a_or_b = cell_sum(raw, ITEM, org) - cell_sum(raw, ITEM, y_berlin)
    assert cell_sum(raw, ITEM, a) + cell_sum(raw, ITEM, b) - a_or_b == 100.0
    assert raw.measures[ITEM].values[target] == 100.0
    sizes = {
        key: int(matrix_over(raw.attrs, list(range(len(raw.attrs))), [key]).sum())
        for key in (a, b, org, y_berlin)
    }
    assert min(sizes.values()) >= 6
    assert not {a, b, org, y_berlin} <= set(seen.cells(ITEM))
    assert not in_row_space(
        published_matrix(raw, seen, ITEM),
        vector(raw, ITEM, lambda at: at[0] == "Company/X" and at[1] == "Paris"),
    )
    assert attack(raw, seen) == {}


# --- 5. Tracker: no free filters --------------------------------------------------------------


def test_no_endpoint_takes_a_filter_so_no_tracker_can_be_built(db: None) -> None:
    emails = roster(
        [("Company/T", "Berlin", 2018)] * 8
        + [("Company/C", "Paris", 2024)]
        + [("Company/U", "Lima", 2017)] * 10
    )
    round_ = closed_round(
        audience=["Company/T", "Company/C", "Company/U"], answer=by_index(emails, {8: 1.0}), seed=15
    )
    raw, seen = publish(round_)
    cells_before = PublicationCell.objects.count()
    client = client_for(hr())
    base = f"/api/v1/rounds/{round_.pk}/publication/"
    reference = client.get(base + "?breakdown=any").json()
    # Padding queries a tracker would need: every extra parameter is ignored...
    for extra in (
        "team=Company/C",
        "location=Paris",
        "tenure=<1y",
        "min_n=1",
        "k=1",
        "team_path=Company/C&location=Paris",
        "filter=location:Paris,tenure:<1y",
        "exclude=Company/T",
    ):
        assert client.get(f"{base}?breakdown=any&{extra}").json() == reference, extra
        csv_plain = client.get(f"/results/rounds/{round_.pk}/export.csv").content
        assert client.get(f"/results/rounds/{round_.pk}/export.csv?{extra}").content == csv_plain
        assert client.get(f"/results/?{extra}").status_code == 200
    # ...and a breakdown outside the fixed set is refused.
    for bad in ("team", "location,tenure", "location tenure", "x"):
        assert client.get(f"{base}?breakdown={bad}").status_code == 400
    assert PublicationCell.objects.count() == cells_before  # nothing computed on request
    # Denning's tracker over the fixed cells: (C or T) + (C or U) - all = C.
    c_only = vector(raw, ITEM, lambda a: a[0] == "Company/C")
    assert not in_row_space(published_matrix(raw, seen, ITEM), c_only)
    assert attack(raw, seen) == {}


# --- 6. Insider -------------------------------------------------------------------------------


def test_a_leader_who_answered_cannot_subtract_their_own_answer(db: None) -> None:
    # Eng: its leader (answers, sits in Eng itself), team A (6) and team B (1). Eng - A would be
    # the leader + B: the leader knows their own answer, so that pair of 2 would give B's.
    emails = roster(
        [("Company/Eng", "Berlin", 2015)]
        + [("Company/Eng/A", "Berlin", 2019)] * 6
        + [("Company/Eng/B", "Berlin", 2019)]
        + [("Company/Sales", "Berlin", 2020)] * 8
    )
    round_ = closed_round(
        audience=["Company/Eng", "Company/Sales"],
        answer=by_index(emails, {0: 0.0, 7: 1.0}),
        seed=16,
    )
    raw = raw_answers(round_)
    publication_compute(round_id=round_.pk)
    eng_leader = leader("eng-lead", ["Company/Eng"])
    seen = everything_published(round_, [eng_leader])
    me = only_person(raw, lambda a: a[0] == "Company/Eng")
    b = only_person(raw, lambda a: a[0] == "Company/Eng/B")
    # Raw: (Eng - A) - my answer = B's answer.
    eng, team_a = ("Company/Eng", "all", ""), ("Company/Eng/A", "all", "")
    mine = raw.measures[ITEM].values[me]
    assert cell_sum(raw, ITEM, eng) - cell_sum(raw, ITEM, team_a) - mine == 100.0
    assert not {eng, team_a} <= set(seen.cells(ITEM))
    # The leader sees only their subtree and the organisation...
    assert {key[0] for key, _ in seen.shown} <= {
        "",
        "Company/Eng",
        "Company/Eng/A",
        "Company/Eng/B",
    }
    # ...and, knowing their own answers, recovers nobody else's.
    assert attack(raw, seen, known=[me]) == {}
    assert b not in sum(
        attack(raw, everything_published(round_, every_viewer()), known=[me]).values(), ()
    )


def test_a_suppressed_pair_of_two_is_not_published(db: None) -> None:
    # Glint's rule would hide A (1) and B (1) together and show Parent and C: each of A and B
    # then learns the other's answer. Pulse hides enough that the hidden total is >= k.
    emails = roster(
        [("Company/P/A", "Berlin", 2019)]
        + [("Company/P/B", "Berlin", 2019)]
        + [("Company/P/C", "Berlin", 2019)] * 8
        + [("Company/Q", "Berlin", 2019)] * 6
    )
    round_ = closed_round(
        audience=["Company/P", "Company/Q"], answer=by_index(emails, {0: 0.0, 1: 1.0}), seed=17
    )
    raw, seen = publish(round_)
    a = only_person(raw, lambda at: at[0] == "Company/P/A")
    parent, c = ("Company/P", "all", ""), ("Company/P/C", "all", "")
    pair = cell_sum(raw, ITEM, parent) - cell_sum(raw, ITEM, c)
    assert pair - raw.measures[ITEM].values[a] == 100.0  # B's answer, for A
    assert not {parent, c} <= set(seen.cells(ITEM))
    assert attack(raw, seen, known=[a]) == {}


# --- 7. Temporal ------------------------------------------------------------------------------


def test_results_do_not_exist_before_close_and_do_not_move_as_answers_arrive(db: None) -> None:
    emails = roster([("Company/Ops", "Berlin", 2018)] * 12)
    round_ = closed_round(audience=["Company/Ops"], close=False, seed=18)
    client = client_for(hr())
    ops = Team.objects.get(path="Company/Ops")

    def everything() -> list[object]:
        return [
            client.get(f"/api/v1/rounds/{round_.pk}/publication/?breakdown=any").status_code,
            client.get("/api/v1/rounds/").json(),
            client.get(f"/results/rounds/{round_.pk}/export.csv").status_code,
            "Results appear here after" in client.get("/results/").content.decode(),
            "No published results" in client.get(f"/results/teams/{ops.pk}/").content.decode(),
        ]

    assert everything() == [404, [], 404, True, True]
    with pytest.raises(ValueError, match="not closed"):
        publication_compute(round_id=round_.pk)
    assert Publication.objects.count() == 0
    assert len(emails) == 12


def test_a_roster_change_after_submission_never_moves_old_answers(db: None) -> None:
    emails = roster([("Company/A", "Berlin", 2018)] * 6 + [("Company/B", "Paris", 2018)] * 6)
    round_ = closed_round(audience=["Company/A", "Company/B"], seed=19)
    # After answering, one person moves from A to B and to another city.
    roster_rows = (
        [("Company/A", "Berlin", 2018)] * 5
        + [("Company/B", "Lima", 2018)]
        + [("Company/B", "Paris", 2018)] * 6
    )
    roster(roster_rows)
    assert Employee.objects.get(email=emails[5]).team.path == "Company/B"
    raw, seen = publish(round_)
    counts = {
        key[0]: f["n"]
        for (key, code), f in seen.shown.items()
        if code == "respondents" and key[1] == "all"
    }
    assert counts.get("Company/A") in (6, None) and counts.get("Company/B") in (6, None)
    assert not any(key[2] == "Lima" for key, _ in seen.shown)
    assert sum(1 for a in raw.attrs if a[0] == "Company/A") == 6


def test_recomputing_or_republishing_never_changes_a_number(db: None) -> None:
    roster(
        [("Company/A", "Berlin", 2018)] * 7
        + [("Company/A", "Paris", 2024)] * 2
        + [("Company/B", "Paris", 2016)] * 6
        + [("Company/B", "Lima", 2021)]
    )
    round_ = closed_round(audience=["Company/A", "Company/B"], seed=20)
    users = every_viewer()
    round_results_publish(round_id=round_.pk)  # computes, then generalises the microdata
    first = everything_published(round_, users)
    round_results_publish(round_id=round_.pk)
    assert everything_published(round_, users).shown == first.shown
    # A direct recompute (a re-run task, a backfill) after the microdata was generalised must
    # not publish a second, different set of numbers for the same round.
    publication_compute(round_id=round_.pk)
    again = everything_published(round_, users)
    assert again.shown == first.shown and again.hidden == first.hidden


# --- 8. Unanimity -----------------------------------------------------------------------------


def test_unanimous_groups_get_bands_never_100_percent(db: None) -> None:
    # Calm (7) all answer the top anchor; Split (6): all 6 in the top-2 box (3 agree, 3 strongly
    # agree: not unanimous on the value), Mixed (6): half in the top-2 box.
    emails = roster(
        [("Company/Calm", "Berlin", 2018)] * 7
        + [("Company/Team/Split", "Berlin", 2018)] * 6
        + [("Company/Team/Mixed", "Berlin", 2018)] * 6
    )
    table = dict.fromkeys(range(7), 1.0)
    table.update({7: 1.0, 8: 1.0, 9: 1.0, 10: 0.75, 11: 0.75, 12: 0.75})
    table.update({13: 1.0, 14: 0.75, 15: 0.75, 16: 0.25, 17: 0.0, 18: 0.5})
    round_ = closed_round(
        audience=["Company/Calm", "Company/Team"], answer=by_index(emails, table), seed=21
    )
    raw, seen = publish(round_)
    calm = ("Company/Calm", "all", "")
    assert (calm, ITEM) in seen.hidden
    for code in (ITEM, SCALE):
        figure = _api_figure(round_, calm, code)
        assert figure["band"].startswith(">= ") and figure["score"] is None
    # Raw: Split's top-2 share is 100% and Team minus Mixed would say so.
    split = vector(raw, ITEM, lambda a: a[0] == "Company/Team/Split")
    flags = _top2_flags(raw.measures[ITEM], sorted(raw.measures[ITEM].values))
    assert float(split @ flags) == split.sum() == 6
    # Published: no share is 0% or 100%, no shown extreme mean, no one-option distribution.
    for (key, code), figure in seen.shown.items():
        for field in ("top2", "risk_share"):
            assert figure[field] not in (0, 100), (key, code, field)
        counts = [c for _, c in figure["distribution"]]
        if counts:
            assert max(counts) < sum(counts) - 1, (key, code)
    matrix = matrix_over(raw.attrs, sorted(raw.measures[ITEM].values), seen.cells(ITEM, "top2"))
    assert not in_row_space(matrix, split)
    # Neither a banded score nor a banded percentage can be derived from the other cells.
    for code in raw.measures:
        for banded in (calm, ("Company/Team/Split", "all", "")):
            if (banded, code) in seen.hidden and raw.measures[code].kind == "item":
                members = vector(raw, code, lambda a, b=banded: member(a, b))
                assert not in_row_space(published_matrix(raw, seen, code), members)


def test_a_unanimous_set_that_is_not_a_cell_cannot_be_derived(db: None) -> None:
    # Calm + Split = organisation - Mixed: 13 people, all in the top-2 box, though no cell is
    # (Split's answers differ). Shares are published on team cells only, chosen so that every
    # team minus its published sub-teams is large and mixed (analytics.derived).
    emails = roster(
        [("Company/Calm", "Berlin", 2018)] * 7
        + [("Company/Team/Split", "Berlin", 2018)] * 6
        + [("Company/Team/Mixed", "Berlin", 2018)] * 6
    )
    table = dict.fromkeys(range(7), 1.0)
    table.update({7: 1.0, 8: 1.0, 9: 1.0, 10: 0.75, 11: 0.75, 12: 0.75})
    table.update({13: 1.0, 14: 0.75, 15: 0.75, 16: 0.25, 17: 0.0, 18: 0.5})
    round_ = closed_round(
        audience=["Company/Calm", "Company/Team"], answer=by_index(emails, table), seed=21
    )
    raw, seen = publish(round_)
    who = sorted(raw.measures[ITEM].values)
    flags = _top2_flags(raw.measures[ITEM], who)
    calm_and_split = vector(raw, ITEM, lambda a: a[0] != "Company/Team/Mixed")
    assert float(calm_and_split @ flags) == calm_and_split.sum() == 13  # the raw target
    top2_cells = seen.cells(ITEM, "top2")
    assert top2_cells and all(key[1] == "all" for key in top2_cells)
    assert not in_row_space(matrix_over(raw.attrs, who, top2_cells), calm_and_split)
    assert attack(raw, seen) == {}
    # Nor for an insider who knows their own answers (one per team).
    for insider in (0, 7, 13):
        assert attack(raw, seen, known=[insider]) == {}, insider


def test_a_team_minus_its_sub_team_all_at_the_top_reveals_nobody(db: None) -> None:
    # P has 8 direct members who all answer the top anchor (no cell is exactly them: they share
    # location and tenure with sub-team C) and C has 8 mixed. P - C is then 8 people at the top
    # of the scale: its mean, its top-2 share and its distribution each say all 8 answers.
    emails = roster(
        [("Company/P", "Berlin", 2018)] * 8
        + [("Company/P/C", "Berlin", 2018)] * 8
        + [("Company/Q", "Paris", 2016)] * 8
    )
    table = dict.fromkeys(range(8), 1.0)
    table.update({8 + i: v for i, v in enumerate([0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.25, 0.75])})
    table.update({16 + i: v for i, v in enumerate([0.25, 0.5, 0.75, 0.5, 0.0, 1.0, 0.5, 0.25])})
    round_ = closed_round(
        audience=["Company/P", "Company/Q"], answer=by_index(emails, table), seed=23
    )
    raw, seen = publish(round_)
    p, c = ("Company/P", "all", ""), ("Company/P/C", "all", "")
    assert cell_sum(raw, ITEM, p) - cell_sum(raw, ITEM, c) == 8 * 100.0  # the raw attack
    direct = vector(raw, ITEM, lambda a: a[0] == "Company/P")
    for code in (ITEM, SCALE):
        members = vector(raw, code, lambda a: a[0] == "Company/P")
        assert not in_row_space(published_matrix(raw, seen, code), members), code
    who = sorted(raw.measures[ITEM].values)
    assert not in_row_space(matrix_over(raw.attrs, who, seen.cells(ITEM, "top2")), direct)
    distributed = [key for key in seen.cells(ITEM) if seen.shown[(key, ITEM)]["distribution"]]
    assert not in_row_space(matrix_over(raw.attrs, who, distributed), direct)
    assert not any(
        figure["distribution"] for (key, _), figure in seen.shown.items() if key[1] != "all"
    )
    assert attack(raw, seen) == {}
    assert attack(raw, seen, known=[8]) == {}


def test_four_people_left_over_by_three_published_cells_are_protected(db: None) -> None:
    # Org (20) minus T0 (16, its sub-team T3 included) is T1 (3) and T2 (1): four people in
    # three small groups. The linear audit searches such residual sets only locally and let
    # both counts through; the exhaustive search of analytics.derived withdraws one.
    people = (
        [("Org/T0", "Berlin", 2025)]
        + [("Org/T0", "Berlin", 2015)] * 3
        + [("Org/T0", "Berlin", 2026), ("Org/T0", "Paris", 2015), ("Org/T0", "Paris", 2026)]
        + [("Org/T0/T3", "Lima", 2025)] * 2
        + [("Org/T0/T3", "Lima", 2015), ("Org/T0/T3", "Lima", 2026)]
        + [("Org/T0/T3", "Paris", 2025)] * 2
        + [("Org/T0/T3", "Paris", 2015)]
        + [("Org/T0/T3", "Paris", 2026)] * 2
        + [("Org/T1", "Berlin", 2026)] * 2
        + [("Org/T1", "Lima", 2025), ("Org/T2", "Berlin", 2015)]
    )
    emails = roster(people)
    spread = {i: [0.25, 0.5, 0.75, 0.5][i % 4] for i in range(len(people))}
    round_ = closed_round(audience=["Org"], answer=by_index(emails, spread), seed=24)
    raw, seen = publish(round_)
    left_over = lambda a: a[0] in ("Org/T1", "Org/T2")  # noqa: E731
    four = [i for i, a in enumerate(raw.attrs) if left_over(a)]
    assert len(four) == 4
    org, t0 = ("Org", "all", ""), ("Org/T0", "all", "")
    assert cell_sum(raw, ITEM, org) - cell_sum(raw, ITEM, t0) == cell_sum(
        raw, ITEM, ("Org/T1", "all", "")
    ) + cell_sum(raw, ITEM, ("Org/T2", "all", ""))
    counted = seen.cells("respondents", "n")
    assert counted  # the organisation's count is published...
    assert not {org, t0} <= set(counted)  # ...but not with T0's next to it
    respondents = vector(raw, "respondents", left_over)
    assert not in_row_space(
        matrix_over(raw.attrs, sorted(raw.measures["respondents"].values), counted), respondents
    )
    for code, measure in raw.measures.items():
        if measure.values and measure.kind != "count":
            members = vector(raw, code, left_over)
            assert not in_row_space(published_matrix(raw, seen, code), members), code
    # Every shown figure carries its n: the counts of all measures answered by everybody,
    # taken together, do not derive the four either.
    everybody = sorted(raw.measures["respondents"].values)
    with_n = sorted(
        {
            key
            for (key, code), figure in seen.shown.items()
            if figure["n"] is not None and sorted(raw.measures[code].values) == everybody
        }
    )
    assert not in_row_space(matrix_over(raw.attrs, everybody, with_n), respondents)
    for insider in four:
        assert attack(raw, seen, known=[insider]) == {}, insider


def _api_figure(round_: Round, key: Key, code: str) -> dict:
    body = client_for(hr()).get(f"/api/v1/rounds/{round_.pk}/publication/?breakdown=any").json()
    for row in body["rows"]:
        if (row["team_path"], row["breakdown"], row["value"]) == key:
            return next(f for f in row["figures"] if f["code"] == code)
    raise AssertionError(key)


# --- 10. Comments -----------------------------------------------------------------------------


def test_comments_of_small_groups_stay_unpublished_shuffled_and_redacted(db: None) -> None:
    emails = roster([("Company/Big", "Berlin", 2018)] * 12 + [("Company/Small", "Paris", 2018)] * 4)
    texts = {email: f"comment number {i:02d} from the team" for i, email in enumerate(emails[:12])}
    texts[emails[0]] = f"Ask Bruno Lindqvist or write to {emails[3]} or call +49 30 1234 5678"
    texts[emails[12]] = "only four of us in Small and the tooling pressure is awful"
    round_ = closed_round(audience=["Company/Big", "Company/Small"], comments=texts, seed=22)
    publication_compute(round_id=round_.pk)
    client = client_for(hr())
    big = Team.objects.get(path="Company/Big")
    small = Team.objects.get(path="Company/Small")
    page = client.get(f"/results/teams/{big.pk}/?round={round_.pk}").content.decode()
    shown = re.findall(r"<li>(comment number \d\d from the team)</li>", page)
    assert len(shown) == 11
    # Not in submission order (the test submitted them in order 01, 02, ...).
    assert shown != sorted(shown)
    assert (
        "Ask [name removed] [name removed] or write to [email removed] or call [phone removed]"
        in page
    )
    assert emails[3] not in page and "Lindqvist" not in page and "1234 5678" not in page
    small_page = client.get(f"/results/teams/{small.pk}/?round={round_.pk}").content.decode()
    assert "only four of us" not in small_page
    assert "comments need a group of 10 or more" in small_page
    everywhere = [
        client.get(f"/api/v1/rounds/{round_.pk}/publication/?breakdown=any").content.decode(),
        client.get(f"/results/rounds/{round_.pk}/export.csv").content.decode(),
        client.get(f"/results/?round={round_.pk}").content.decode(),
    ]
    assert not any("only four of us" in text for text in everywhere)
    # Dated with the round's close, never per comment.
    assert Publication.objects.get(round=round_).closed_on == round_.closed_at.date()
