"""Attack 11 under differencing: usage figures released for every team at every level, for
each source, are combined by an attacker (adding and subtracting figures: a parent minus its
shown children, a sum over tools minus one tool). Every set of people whose total the
attacker can work out must have >= k contributors and nobody above 85% of it.

The attacker here does not use the gate's reasoning: it takes every figure the gate releases
for every team, writes each as a 0/1 row over the employees, and tries every subset of the
(small) organisation: a subset whose indicator lies in the row space of the released rows is
derivable (least squares gives its total exactly); it then checks that subset against the
rule with the true per-person values, which only the test knows.
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import gate
from analytics.attacker import in_row_space
from analytics.gate import (
    USAGE_HIDDEN_PROTECTS,
    usage_previous_period,
    usage_release_for_months,
    usage_release_for_team,
    usage_release_period,
)
from analytics.models import TeamDayUsage, UsageImport
from analytics.services import usage_files_from_bytes, usage_import
from analytics.usage_disclosure import DayCell, TeamNode, audit_family
from surveys.models import Employee, Round, SurveyTemplate, Team
from surveys.services import roster_import
from surveys.services.config import cadence_save

K = 5
D1 = dt.date(2026, 5, 4)
D2 = dt.date(2026, 5, 5)
MAY = dt.date(2026, 5, 1)
FIRST, LAST = gate.month_bounds(MAY)  # usage leaves over whole months only


def roster(people: dict[str, str]) -> dict[str, Team]:
    """`people`: email local part -> team path."""
    lines = ["email,name,team,manager_email,location,start_date,timezone"]
    lines += [f"{p}@acme.test,{p},{team},,Berlin,2020-01-01,UTC" for p, team in people.items()]
    roster_import(data=("\n".join(lines) + "\n").encode())
    return {t.path: t for t in Team.objects.all()}


def load(rows: list[tuple[str, str, dt.date, float]]) -> None:
    """(person, tool, day, tokens) rows, imported tool by tool (each tool is a source)."""
    for tool in sorted({r[1] for r in rows}):
        text = "email,date,tool,metric,value\n" + "".join(
            f"{p}@acme.test,{day},{tool},tokens,{value}\n" for p, t, day, value in rows if t == tool
        )
        usage_import(format="generic", files=usage_files_from_bytes([("u.csv", text.encode())]))


def members(team: Team, people: list[str]) -> np.ndarray:
    """The 0/1 row of `team`'s figure over `people`: who is in its subtree."""
    where = dict(Employee.objects.select_related("team").values_list("email", "team__path"))
    inside = [where[f"{p}@acme.test"] for p in people]
    return np.array(
        [float(path == team.path or path.startswith(team.path + "/")) for path in inside]
    )


def derivable_sets(
    rows: list[np.ndarray], totals: list[float], people: list[str]
) -> list[tuple[tuple[int, ...], float]]:
    """Every non-empty subset of `people` whose indicator is in the span of `rows`, with the
    total the attacker derives for it."""
    if not rows:
        return []
    matrix = np.vstack(rows)
    found = []
    for size in range(1, len(people) + 1):
        for subset in itertools.combinations(range(len(people)), size):
            target = np.zeros(len(people))
            target[list(subset)] = 1.0
            if in_row_space(matrix, target):
                coefficients, *_ = np.linalg.lstsq(matrix.T, target, rcond=None)
                found.append((subset, float(coefficients @ np.array(totals))))
    return found


def assert_nothing_singled_out(
    released: list[tuple[np.ndarray, float]], truth: dict[str, float], people: list[str]
) -> int:
    """Checks every derivable set against rule 11 with the true values; returns how many
    derivable sets held anyone (so a test can check the attack had material)."""
    sets = derivable_sets([r for r, _ in released], [t for _, t in released], people)
    with_people = 0
    for subset, derived in sets:
        values = [truth.get(people[i], 0.0) for i in subset]
        contributors = sum(1 for v in values if v)
        if not contributors:
            continue
        with_people += 1
        assert derived == pytest.approx(sum(values))  # the attacker's sum is right...
        assert contributors >= K, f"{[people[i] for i in subset]} singled out"
        assert max(values) <= 0.85 * sum(values), f"{[people[i] for i in subset]} dominated"
    return with_people


def released_per_source(people: list[str], start: dt.date = FIRST, end: dt.date = LAST):
    out = []
    for team in Team.objects.all():
        for figure in usage_release_for_team(team=team, start=start, end=end, metric="tokens"):
            if figure.shown:
                out.append(((figure.source, team.path), members(team, people), figure.value))
    return out


@pytest.mark.django_db
def test_a_parent_minus_its_shown_child_does_not_single_out_the_parents_direct_members() -> None:
    # Org holds boss directly, A five people, B two: Org (8) and A (5) both pass on their own,
    # and Org - A would be boss and B's two people: three.
    people = {"boss": "Org", **{f"a{i}": "Org/A" for i in range(5)}, "b0": "Org/B", "b1": "Org/B"}
    teams = roster(people)
    truth = {p: 10.0 + i for i, p in enumerate(people)}
    load([(p, "copilot", D1, v) for p, v in truth.items()])

    names = list(people)
    released = [(row, value) for _, row, value in released_per_source(names)]
    assert assert_nothing_singled_out(released, truth, names) >= 1
    shown = {
        path: f.shown
        for path in ("Org", "Org/A", "Org/B")
        for f in usage_release_for_team(team=teams[path], start=FIRST, end=LAST, metric="tokens")
    }
    assert shown == {"Org": True, "Org/A": False, "Org/B": False}
    [hidden] = usage_release_for_team(team=teams["Org/A"], start=FIRST, end=LAST, metric="tokens")
    assert hidden.hidden_reason == USAGE_HIDDEN_PROTECTS and hidden.value is None


@pytest.mark.django_db
def test_a_residual_of_five_dominated_by_one_person_is_not_derivable() -> None:
    # Five people sit directly in Org, boss with 1000 of their 1004; A has five people with
    # 1000 each. Org (10 people, top share 17%) and A pass on their own; Org - A would give
    # the five direct members, 99.6% of it boss's.
    people = {"boss": "Org", **{f"d{i}": "Org" for i in range(4)}}
    people |= {f"a{i}": "Org/A" for i in range(5)}
    teams = roster(people)
    truth = {
        "boss": 1000.0,
        **{f"d{i}": 1.0 for i in range(4)},
        **{f"a{i}": 1000.0 for i in range(5)},
    }
    load([(p, "copilot", D1, v) for p, v in truth.items()])

    names = list(people)
    released = [(row, value) for _, row, value in released_per_source(names)]
    assert assert_nothing_singled_out(released, truth, names) >= 1
    [org] = usage_release_for_team(team=teams["Org"], start=FIRST, end=LAST, metric="tokens")
    [a] = usage_release_for_team(team=teams["Org/A"], start=FIRST, end=LAST, metric="tokens")
    assert (org.shown, a.shown, a.hidden_reason) == (True, False, USAGE_HIDDEN_PROTECTS)

    # Cells stored before the direct maximum existed fall back on the team's own maximum: a
    # larger bound, so still hidden.
    TeamDayUsage.objects.update(direct_max_single=None)
    [a] = usage_release_for_team(team=teams["Org/A"], start=FIRST, end=LAST, metric="tokens")
    assert not a.shown


@pytest.mark.django_db
def test_teams_whose_differences_are_safe_are_all_shown() -> None:
    # Nobody directly in Org; A and B six people each: Org - A - B is empty, Org - A is B.
    people = {f"a{i}": "Org/A" for i in range(6)} | {f"b{i}": "Org/B" for i in range(6)}
    teams = roster(people)
    truth = {p: 10.0 + i for i, p in enumerate(people)}
    load([(p, "copilot", day, v) for p, v in truth.items() for day in (D1, D2)])

    for path in ("Org", "Org/A", "Org/B"):
        [f] = usage_release_for_team(team=teams[path], start=FIRST, end=LAST, metric="tokens")
        assert f.shown, path
    period = usage_release_period(start=FIRST, end=LAST, metric_by_source={"copilot": "tokens"})
    assert {teams[p].pk for p in ("Org", "Org/A", "Org/B")} <= {
        t for t, r in period.items() if r.shown
    }


@pytest.mark.django_db
def test_over_several_days_the_residual_bound_uses_each_days_direct_maximum() -> None:
    # Org - A holds boss and b0..b3 (B, hidden: four people). On each day boss holds 90 of the
    # residual's 94, so one person may dominate it: A must be hidden; Org stays shown.
    people = {"boss": "Org", **{f"b{i}": "Org/B" for i in range(4)}}
    people |= {f"a{i}": "Org/A" for i in range(5)}
    teams = roster(people)
    rows = []
    for day in (D1, D2):
        rows += [("boss", "copilot", day, 90.0)] + [
            (f"b{i}", "copilot", day, 1.0) for i in range(4)
        ]
        rows += [(f"a{i}", "copilot", day, 100.0) for i in range(5)]
    load(rows)
    [org] = usage_release_for_team(team=teams["Org"], start=FIRST, end=LAST, metric="tokens")
    [a] = usage_release_for_team(team=teams["Org/A"], start=FIRST, end=LAST, metric="tokens")
    [b] = usage_release_for_team(team=teams["Org/B"], start=FIRST, end=LAST, metric="tokens")
    assert (org.shown, a.shown, b.shown) == (True, False, False)


@pytest.mark.django_db
def test_a_sum_over_tools_is_not_shown_when_one_tools_figure_is_hidden() -> None:
    # A: five people use copilot, two of them also claude. A's copilot figure is shown; the
    # hotspot figure (copilot + claude) minus it would give claude's two people.
    people = {f"a{i}": "Org/A" for i in range(5)}
    teams = roster(people)
    rows = [(f"a{i}", "copilot", D1, 10.0 + i) for i in range(5)]
    rows += [("a0", "claude", D1, 7.0), ("a1", "claude", D1, 9.0)]
    load(rows)
    both = {"copilot": "tokens", "claude": "tokens"}
    period = usage_release_period(start=FIRST, end=LAST, metric_by_source=both)

    # The attacker's unknowns are (person, tool) values; the API's figures cover one tool,
    # the hotspot side's figures both.
    labels = [f"{p}/{tool}" for p in people for tool in ("copilot", "claude")]
    truth = {f"{p}/{tool}": v for p, tool, _, v in rows}
    released = []
    for (source, _path), row, value in released_per_source(list(people)):
        per_label = [row[list(people).index(label.split("/")[0])] for label in labels]
        tool = [float(label.endswith("/" + source)) for label in labels]
        released.append((np.array(per_label) * np.array(tool), value))
    for team_id, figure in period.items():
        if figure.shown:
            team = Team.objects.get(pk=team_id)
            row = members(team, list(people))
            released.append(
                (
                    np.array([row[list(people).index(lab.split("/")[0])] for lab in labels]),
                    figure.total,
                )
            )
    assert assert_nothing_singled_out(released, truth, labels) >= 1

    [copilot] = usage_release_for_team(
        team=teams["Org/A"], start=FIRST, end=LAST, source="copilot", metric="tokens"
    )
    assert copilot.shown
    assert not period[teams["Org/A"].pk].shown
    assert not period[teams["Org"].pk].shown
    # With copilot alone the team is shown: the sum is only hidden for the tool that fails.
    alone = usage_release_period(start=FIRST, end=LAST, metric_by_source={"copilot": "tokens"})
    assert alone[teams["Org/A"].pk].shown


# --- Across periods: whole months only ------------------------------------------------------
#
# Usage leaves the system over whole calendar months only: the API's months (and ranges of
# them) and, for the hotspots, each cadence round's usage month and the month before it. Before
# this, a round's usage period ran from 14 days before it opened to its close: a round created
# after a month had been released cut that month, and the month minus the round's period gave a
# few days of usage that no audit had checked (with fortnightly rounds, every new round cut the
# previous round's period the same way).

APRIL = dt.date(2026, 4, 1)
JUNE = dt.date(2026, 6, 1)
MONTHS = (APRIL, MAY, JUNE)


def cadence_round(name: str, opens: dt.date, closes: dt.date) -> Round:
    """A closed round of a cadence of its own, open from `opens` to `closes` (UTC noon)."""
    template = SurveyTemplate.objects.get(name="AI pressure & well-being pulse")
    cadence = cadence_save(
        name=name, template=template, audience=list(Team.objects.filter(depth=0)), start_date=opens
    )
    noon = dt.time(12, tzinfo=dt.UTC)
    return Round.objects.create(
        cadence=cadence,
        template=template,
        name=name,
        scheduled_for=opens,
        opens_at=dt.datetime.combine(opens, noon),
        closes_at=dt.datetime.combine(closes, noon),
        closed_at=dt.datetime.combine(closes, noon),
        status=Round.Status.CLOSED,
    )


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def old_round_periods(round_: Round) -> list[tuple[dt.date, dt.date]]:
    """The periods the hotspots read for `round_` before usage left over whole months only:
    from 14 days before it opened to its close, and the period of the same length before it.
    The attacker cuts its unknowns at their boundaries too, so that a difference of a few days
    would show; the gate now refuses them."""
    start = round_.opens_at.date() - dt.timedelta(days=14)
    end = round_.closes_at.date()
    length = end - start + dt.timedelta(days=1)
    return [(start, end), (start - length, start - dt.timedelta(days=1))]


Released = tuple[str, dt.date, dt.date, float]
"""A shown figure as the attacker holds it: (team path, first day, last day, total)."""


def hotspot_side(rounds: list[Round]) -> list[Released]:
    """What the hotspot service reads for each round, every team (`analytics.hotspots`:
    `round_usage_period`, then `gate.usage_release_period` over it and the month before)."""
    from analytics.hotspots import round_usage_period

    paths = dict(Team.objects.values_list("pk", "path"))
    out = []
    for round_ in rounds:
        period = round_usage_period(round_)
        for start, end in (period, usage_previous_period(*period)):
            released = usage_release_period(
                start=start, end=end, metric_by_source={"copilot": "tokens"}
            )
            out += [(paths[t], start, end, f.total) for t, f in released.items() if f.shown]
    return out


def api_side(client: object, ranges: list[tuple[dt.date, dt.date]]) -> list[Released]:
    """Every team's copilot tokens over each (first month, last month) range, from the API."""
    out = []
    for team in Team.objects.order_by("path"):
        for first, last in ranges:
            start, end = gate.month_bounds(first)[0], gate.month_bounds(last)[1]
            response = client.get(  # type: ignore[attr-defined]
                f"/api/v1/teams/{team.pk}/usage/",
                {"start": start, "end": end, "source": "copilot", "metric": "tokens"},
            )
            assert response.status_code == 200
            out += [(team.path, start, end, f["value"]) for f in response.json() if f["shown"]]
    return out


def attack(
    released: list[Released],
    people: list[str],
    rows: list[tuple[str, str, dt.date, float]],
    cuts: list[tuple[dt.date, dt.date]] = (),
) -> int:
    """The attacker's linear algebra over every released figure. The unknowns are one value per
    (person, piece of the timeline), the pieces cut at every boundary of the released periods
    and of `cuts`; the attacker is also told which of them are zero (a stronger attacker, and
    fewer unknowns to enumerate). Checks every derivable set against rule 11 with the true
    values; returns how many derivable sets held anyone."""
    periods = [(start, end) for _, start, end, _ in released] + list(cuts)
    bounds = {a for a, _ in periods} | {b + dt.timedelta(days=1) for _, b in periods}
    bounds |= {min(r[2] for r in rows), max(r[2] for r in rows) + dt.timedelta(days=1)}
    pieces = list(itertools.pairwise(sorted(bounds)))
    labels = [f"{p}@{a}" for p in people for a, _ in pieces]
    truth: dict[str, float] = {}
    for person, _tool, day, value in rows:
        [piece] = [a for a, b in pieces if a <= day < b]
        truth[f"{person}@{piece}"] = truth.get(f"{person}@{piece}", 0.0) + value
    teams = {t.path: t for t in Team.objects.all()}
    matrix = []
    for path, start, end, value in released:
        inside = members(teams[path], people)
        row = [
            float(inside[i] and start <= a and b - dt.timedelta(days=1) <= end)
            for i in range(len(people))
            for a, b in pieces
        ]
        matrix.append((np.array(row), value))
    used = [j for j, label in enumerate(labels) if truth.get(label)]
    return assert_nothing_singled_out(
        [(row[used], value) for row, value in matrix], truth, [labels[j] for j in used]
    )


def assert_whole_months(periods: list[tuple[dt.date, dt.date]]) -> None:
    for start, end in periods:
        assert start.day == 1 and gate.month_bounds(end)[1] == end, (start, end)


def late_cut_world() -> tuple[list[str], list[tuple[str, str, dt.date, float]]]:
    """Org/A: five people use copilot every day of April and of May 6-24; on May 25-31 only a0
    does, and nobody on May 1-5 (nor in June: fewer unknowns for the attacker to enumerate).
    May passes on its own (five people, a0's share 25%)."""
    people = [f"a{i}" for i in range(5)]
    roster({p: "Org/A" for p in people})
    busy = days(APRIL, dt.date(2026, 4, 30)) + days(dt.date(2026, 5, 6), dt.date(2026, 5, 24))
    rows = [(p, "copilot", d, 10.0) for d in busy for p in people]
    rows += [("a0", "copilot", d, 10.0) for d in days(dt.date(2026, 5, 25), LAST)]
    load(rows)
    return people, rows


@pytest.mark.django_db
def test_a_round_created_after_a_month_was_released_cannot_cut_it(hr_user) -> None:
    """May is released (API) before any round exists; then a round is created that opens on
    June 8 and closes on June 12. Its usage used to be May 25 - June 12, compared with May 6-24:
    May minus that was a0's last week of May, alone. Now the round joins May itself (the last
    month that ended before it closed) and compares it with April: every figure any role can
    get, before and after, is over whole months, and nothing is singled out."""
    from analytics.models import UsageRelease
    from tests.conftest import client_for

    people, rows = late_cut_world()
    client = client_for(hr_user)
    before = api_side(client, [(MAY, MAY)])
    assert ("Org/A", FIRST, LAST, 1020.0) in before  # May is shown: material to attack

    round_ = cadence_round("Pulse", dt.date(2026, 6, 8), dt.date(2026, 6, 12))
    after = hotspot_side([round_])
    after += api_side(client, [(m, m) for m in MONTHS] + [(APRIL, JUNE), (APRIL, MAY)])
    released = before + after

    # The differencing attack (it singled a0 out with the round-shaped periods), with the
    # attacker's unknowns cut at the old periods' boundaries as well.
    assert attack(released, people, rows, cuts=old_round_periods(round_)) >= 1
    # Every figure released, and every period the gate has recorded as released, is over whole
    # calendar months: no two of them differ by less than a month.
    assert_whole_months([(start, end) for _, start, end, _ in released])
    assert_whole_months(list(UsageRelease.objects.values_list("start", "end")))
    assert {(path, start) for path, start, _, _ in after} >= {
        (path, month) for path in ("Org", "Org/A") for month in (APRIL, MAY)
    }


@pytest.mark.django_db
def test_the_round_shaped_periods_would_have_singled_out_the_days_they_cut() -> None:
    """The attack above has teeth: the period the hotspots used to read before the round's
    (May 6-24) passes rule 11 on its own and in its family (one team under Org), and May minus
    it is a0 alone. The gate now refuses to release it."""
    people, rows = late_cut_world()
    may = usage_release_for_months(
        team=Team.objects.get(path="Org/A"), first_month=MAY, last_month=MAY, metric="tokens"
    )[0].value
    assert may is not None
    round_ = cadence_round("Pulse", dt.date(2026, 6, 8), dt.date(2026, 6, 12))
    _, (start, end) = old_round_periods(round_)
    assert (start, end) == (dt.date(2026, 5, 6), dt.date(2026, 5, 24))
    cells = TeamDayUsage.objects.filter(
        team__path="Org/A", metric="tokens", day__gte=start, day__lte=end
    )
    total = sum(c.total for c in cells)
    assert not gate.usage_release_decision(
        total=total,
        contributors_lower_bound=max(c.contributors for c in cells),
        max_single_upper_bound=sum(c.max_single for c in cells),
    )
    released = [("Org/A", FIRST, LAST, may), ("Org/A", start, end, total)]
    with pytest.raises(AssertionError, match="singled out"):
        attack(released, people, rows)
    with pytest.raises(ValueError, match="whole calendar months"):
        usage_release_period(start=start, end=end, metric_by_source={"copilot": "tokens"})


@pytest.mark.django_db
def test_a_round_joins_the_last_month_that_ended_before_it_closed() -> None:
    roster({"a0": "Org/A"})
    cases = {
        # (opens, closes): its usage month
        (dt.date(2026, 11, 16), dt.date(2026, 11, 20)): dt.date(2026, 10, 1),
        (dt.date(2026, 11, 25), dt.date(2026, 11, 30)): dt.date(2026, 10, 1),
        # November ended at the start of December 1: a round closing that day joins it.
        (dt.date(2026, 11, 26), dt.date(2026, 12, 1)): dt.date(2026, 11, 1),
        (dt.date(2026, 1, 5), dt.date(2026, 1, 10)): dt.date(2025, 12, 1),
        # Two rounds that close in the same month join the same month, however they overlap.
        (dt.date(2026, 5, 18), dt.date(2026, 5, 20)): APRIL,
        (dt.date(2026, 5, 18), dt.date(2026, 5, 24)): APRIL,
    }
    for i, ((opens, closes), month) in enumerate(cases.items()):
        round_ = cadence_round(f"Pulse {i}", opens, closes)
        period = gate.usage_round_period(round_)
        assert period == gate.month_bounds(month), (opens, closes)
        before = gate.month_bounds(month - dt.timedelta(days=1))
        assert usage_previous_period(*period) == before
    # A round closed early joins the month before the day it really closed.
    early = cadence_round("Early", dt.date(2026, 6, 29), dt.date(2026, 7, 3))
    Round.objects.filter(pk=early.pk).update(closed_at=dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC))
    early.refresh_from_db()
    assert gate.usage_round_period(early) == gate.month_bounds(MAY)


@pytest.mark.django_db
def test_a_safe_organisation_keeps_its_months_and_round_months(hr_user) -> None:
    # Two teams of six, everyone using copilot every day of March-June: every month and every
    # round's usage month (and the one before it) is shown for every team.
    from tests.conftest import client_for

    people = [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)]
    roster({p: f"Org/{p[0].upper()}" for p in people})
    rows = [
        (p, "copilot", d, 10.0 + i)
        for d in days(dt.date(2026, 3, 1), dt.date(2026, 6, 30))
        for i, p in enumerate(people)
    ]
    load(rows)
    rounds = [
        cadence_round("Pulse", dt.date(2026, 5, 18), dt.date(2026, 5, 22)),  # April, March
        cadence_round("Other pulse", dt.date(2026, 5, 27), dt.date(2026, 6, 3)),  # May, April
    ]
    hotspots = hotspot_side(rounds)
    assert len(hotspots) == 2 * 2 * 3  # two rounds, two months each, three teams
    months = api_side(client_for(hr_user), [(m, m) for m in MONTHS] + [(APRIL, JUNE)])
    assert len(months) == 4 * 3


@pytest.mark.django_db
def test_atoms_are_the_calendar_months_whatever_rounds_exist() -> None:
    roster({"a0": "Org/A"})
    cadence_round("Pulse", dt.date(2026, 5, 18), dt.date(2026, 5, 24))
    still_open = cadence_round("Other pulse", dt.date(2026, 6, 8), dt.date(2026, 6, 12))
    Round.objects.filter(pk=still_open.pk).update(status=Round.Status.OPEN, closed_at=None)
    assert gate.usage_atoms(APRIL, dt.date(2026, 6, 30)) == [
        gate.month_bounds(APRIL),
        gate.month_bounds(MAY),
        gate.month_bounds(JUNE),
    ]
    with pytest.raises(ValueError, match="whole calendar months"):
        gate.usage_atoms(dt.date(2026, 4, 20), dt.date(2026, 6, 30))


@pytest.mark.django_db
def test_every_usage_period_any_role_can_get_is_whole_months(hr_user) -> None:
    """The whole pipeline on a generated organisation: three fortnightly rounds answered,
    closed, published and assessed (the hotspot service), then the API's months, the hotspot
    pages, CSV and API as HR and as a leader. Every period the gate has recorded as released,
    and every hotspot run's usage period, is whole calendar months; the first two rounds
    (closing in March) share February."""
    from analytics.models import HotspotRun, UsageRelease
    from surveys.models import Role
    from surveys.services import staff_user_create
    from tests.conftest import PASSWORD, client_for
    from tests.support.hotspots import PLANTED, world

    rounds, _ = world(seed=41, hot=PLANTED, rounds=3)
    leader = staff_user_create(
        username="lead-eng", password=PASSWORD, kind=Role.Kind.LEADER, team_paths=["Eng"]
    )
    for client in (client_for(hr_user), client_for(leader)):
        for round_ in rounds:
            for url in (
                f"/results/hotspots/?round={round_.pk}",
                f"/results/hotspots/export.csv?round={round_.pk}",
                f"/api/v1/hotspots/rounds/{round_.pk}/",
            ):
                assert client.get(url).status_code == 200, url
        eng = Team.objects.get(path="Eng")
        assert (
            client.get(
                f"/api/v1/teams/{eng.pk}/usage/", {"start": "2026-01-01", "end": "2026-03-31"}
            ).status_code
            == 200
        )
    runs = {r.round_id: (r.period_start, r.period_end) for r in HotspotRun.objects.all()}
    february, march = gate.month_bounds(dt.date(2026, 2, 1)), gate.month_bounds(dt.date(2026, 3, 1))
    assert [runs[r.pk] for r in rounds] == [february, february, march]
    recorded = list(UsageRelease.objects.values_list("start", "end"))
    assert recorded
    assert_whole_months(recorded)
    assert_whole_months(list(runs.values()))


# --- The audit itself on random organisations (pure: no database) ------------------------------


def _random_org(draw: st.DrawFn) -> tuple[list[TeamNode], list[int], list[float]]:
    """A random tree of up to 7 teams and up to 13 people (team of each person, value of each
    person: 0 for people without usage, sometimes one heavy user)."""
    size = draw(st.integers(2, 7))
    teams = [TeamNode(1, None, 0)]
    for team_id in range(2, size + 1):
        parent = draw(st.sampled_from(teams))
        teams.append(TeamNode(team_id, parent.team_id, parent.depth + 1))
    people = draw(st.integers(1, 13))
    team_of = [draw(st.sampled_from(teams)).team_id for _ in range(people)]
    values = [float(draw(st.sampled_from([0, 1, 2, 5, 10, 40, 400]))) for _ in range(people)]
    return teams, team_of, values


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_on_random_organisations_no_derivable_set_breaks_the_rule(data: st.DataObject) -> None:
    teams, team_of, values = _random_org(data.draw)
    parent = {t.team_id: t.parent_id for t in teams}

    def within(team: int, ancestor: int) -> bool:
        while team is not None:
            if team == ancestor:
                return True
            team = parent[team]
        return False

    cells: dict[int, dict[int, DayCell]] = {}
    for t in teams:
        inside = [v for p, v in enumerate(values) if v and within(team_of[p], t.team_id)]
        direct = [v for p, v in enumerate(values) if v and team_of[p] == t.team_id]
        if inside:
            cells[t.team_id] = {
                0: DayCell(sum(inside), len(inside), max(inside), max(direct, default=0.0))
            }

    def decide(total: float, lower: int | None, upper: float | None) -> str:
        if lower is None or upper is None:
            return "unknown"
        if lower < K:
            return "few"
        return "dominant" if total <= 0 or upper > 0.85 * total else ""

    decisions = audit_family(teams=teams, cells=cells, decide=decide, protects_reason="protects")
    names = [str(p) for p in range(len(values))]
    released = [
        (
            np.array([float(within(team_of[p], team)) for p in range(len(values))]),
            cells[team][0].total,
        )
        for team, reason in decisions.items()
        if not reason
    ]
    truth = {str(p): v for p, v in enumerate(values)}
    assert_nothing_singled_out(released, truth, names)
    # Every team that passes on its own and whose only shown relatives leave safe remainders is
    # kept: a top-level team that passes on its own is always shown.
    for team, reason in decisions.items():
        if parent[team] is None:
            own = cells[team][0]
            assert (reason == "") == (decide(own.total, own.contributors, own.max_single) == "")


# --- Re-imports: released data never changes ---------------------------------------------------
#
# A later export replaces the days it covers (latest wins). If those days lie inside a period
# whose usage has been released, the released figure and the same figure afterwards would
# differ by exactly the rows that changed: one late file correcting one person's day would
# give away that person's usage. So the gate records every period it releases usage over
# (`UsageRelease`) and an import keeps those days as they were released.

LATE_DAY = dt.date(2026, 5, 25)


def reimport_world() -> tuple[dict[str, Team], Round, list[tuple]]:
    """Org/A and Org/B, six people each, every day of April-June on copilot (10 + i tokens
    for the i-th person), and a cadence round open June 1-5 (its usage month May, the month
    before it April)."""
    people = [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)]
    teams = roster({p: f"Org/{p[0].upper()}" for p in people})
    rows = [
        (p, "copilot", d, 10.0 + i)
        for d in days(dt.date(2026, 4, 1), dt.date(2026, 6, 30))
        for i, p in enumerate(people)
    ]
    load(rows)
    round_ = cadence_round("Pulse", JUNE, dt.date(2026, 6, 5))
    return teams, round_, rows


def late_export(rows: list[tuple]) -> tuple[str, dict[str, float]]:
    """A later export of May 20 - June 10 (copilot) plus a second tool's May 25: identical to
    the first except that a0's May 25 is 500 instead of 10 (a correction to one person's day)
    and every June day is doubled. Returns the file and the changes it makes, by day."""
    lines = ["email,date,tool,metric,value"]
    for person, tool, day, value in rows:
        if dt.date(2026, 5, 20) <= day <= dt.date(2026, 6, 10):
            if person == "a0" and day == LATE_DAY:
                value = 500.0
            elif day >= JUNE:
                value *= 2
            lines.append(f"{person}@acme.test,{day},{tool},tokens,{value}")
    lines += [f"a{i}@acme.test,{LATE_DAY},claude,tokens,7" for i in range(6)]
    return "\n".join(lines) + "\n", {"a0": 490.0}


def everything_overlapping_may(
    teams: dict[str, Team], round_: Round, clients: dict[str, object]
) -> dict[tuple, object]:
    """Every usage figure any role can get over a period that overlaps May: May from the API
    as HR (every team) and as Org/A's leader; the hotspots' round month and the month
    before it (`usage_release_period`, what the hotspot service stores and pages show); and,
    for good measure, the gate over May and over April-May (the only other periods it
    releases are other whole months). Copilot's only: a source with no usage at all before (claude, below) has no figure to
    differ from; its new figures are audited like any other."""
    out: dict[tuple, object] = {}
    may = {"start": "2026-05-01", "end": "2026-05-31", "metric": "tokens"}
    for who, client in clients.items():
        for path in ("Org", "Org/A", "Org/B") if who == "hr" else ("Org/A",):
            response = client.get(f"/api/v1/teams/{teams[path].pk}/usage/", may)  # type: ignore[attr-defined]
            assert response.status_code == 200
            out[(who, path, "May")] = [f for f in response.json() if f["source"] == "copilot"]
    period = gate.usage_round_period(round_)
    for start, end in (period, usage_previous_period(*period)):
        released = usage_release_period(
            start=start, end=end, metric_by_source={"copilot": "tokens"}
        )
        for team_id, figure in released.items():
            out[("hotspots", team_id, start, end)] = figure
    for start, end in ((FIRST, LAST), (APRIL, LAST)):
        for path, team in teams.items():
            for figure in usage_release_for_team(team=team, start=start, end=end, source="copilot"):
                out[("gate", path, start, end, figure.source, figure.metric)] = figure
    return out


def may_figure(teams: dict[str, Team], path: str = "Org/A") -> float | None:
    [figure] = usage_release_for_months(
        team=teams[path], first_month=MAY, last_month=MAY, source="copilot", metric="tokens"
    )
    return figure.value


@pytest.mark.django_db
def test_a_late_export_cannot_change_a_released_month(hr_user) -> None:
    from surveys.models import Role
    from surveys.services import staff_user_create
    from tests.conftest import PASSWORD, client_for

    teams, round_, rows = reimport_world()
    leader = staff_user_create(
        username="lead-a", password=PASSWORD, kind=Role.Kind.LEADER, team_paths=["Org/A"]
    )
    clients = {"hr": client_for(hr_user), "leader": client_for(leader)}
    before = everything_overlapping_may(teams, round_, clients)
    released_may = may_figure(teams)
    assert released_may is not None  # May was released: the attack has material
    assert before[("leader", "Org/A", "May")][0]["value"] == released_may
    june_before = dict(
        TeamDayUsage.objects.filter(source="copilot", day=dt.date(2026, 6, 5)).values_list(
            "team__path", "total"
        )
    )

    text, _ = late_export(rows)
    result = usage_import(
        format="generic", files=usage_files_from_bytes([("late.csv", text.encode())])
    )

    # (1) The released figure is unchanged: a0's correction is not in it.
    assert may_figure(teams) == released_may
    # (2) Nothing any role can get over a period overlapping May differs.
    after = everything_overlapping_may(teams, round_, clients)
    assert after == before
    # (3) Days outside every released period still follow latest wins: June is doubled, and
    # the second tool (never released) is written on May 25 too.
    june_after = dict(
        TeamDayUsage.objects.filter(source="copilot", day=dt.date(2026, 6, 5)).values_list(
            "team__path", "total"
        )
    )
    assert june_after == {path: 2 * total for path, total in june_before.items()}
    assert (
        TeamDayUsage.objects.get(
            source="claude", team__path="Org/A", day=LATE_DAY, metric="tokens"
        ).total
        == 42
    )
    # (4) The kept team-days are reported: copilot on May 25 for Org/A and Org.
    assert result.team_days_kept == 2
    assert "kept as released: 2 team-days" in result.summary()
    record = UsageImport.objects.latest("id")
    assert record.team_days_kept == 2
    # Importing the same late file again changes nothing and keeps the same team-days.
    cells = list(TeamDayUsage.objects.order_by("pk").values_list())
    again = usage_import(
        format="generic", files=usage_files_from_bytes([("late.csv", text.encode())])
    )
    assert (again.created, again.updated, again.deleted, again.team_days_written) == (0, 0, 0, 0)
    assert again.team_days_kept == 2
    assert list(TeamDayUsage.objects.order_by("pk").values_list()) == cells


@pytest.mark.django_db
def test_without_keeping_released_days_a_late_export_singles_one_person_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attack above has teeth: if the import replaced released days (as before the
    releases were recorded), May after minus May before is exactly a0's correction."""
    from analytics import services

    monkeypatch.setattr(services, "_released_periods", lambda result: {})
    teams, _round, rows = reimport_world()
    released_may = may_figure(teams)
    assert released_may is not None
    text, changes = late_export(rows)
    usage_import(format="generic", files=usage_files_from_bytes([("late.csv", text.encode())]))
    now = may_figure(teams)
    assert now is not None  # still shown: on its own the new figure passes every rule
    # Two released figures of the same team and month; their difference is one person's.
    assert now - released_may == changes["a0"]


@pytest.mark.django_db
def test_the_gate_records_each_period_it_releases_once_and_only_when_something_is_shown() -> None:
    teams, round_, _rows = reimport_world()
    from analytics.models import UsageRelease

    assert not UsageRelease.objects.exists()
    for _ in range(2):
        may_figure(teams)
    # The round's usage month is May: the API and the hotspots release the same period, once.
    period = gate.usage_round_period(round_)
    assert period == (FIRST, LAST)
    for start, end in (period, usage_previous_period(*period)):
        usage_release_period(start=start, end=end, metric_by_source={"copilot": "tokens"})
    # A month where nothing is shown (two contributors) is not recorded.
    load([("a0", "copilot", dt.date(2026, 7, 1), 5.0), ("a1", "copilot", dt.date(2026, 7, 1), 5.0)])
    july = gate.month_bounds(dt.date(2026, 7, 1))
    [hidden] = usage_release_for_team(
        team=teams["Org/A"], start=july[0], end=july[1], metric="tokens"
    )
    assert not hidden.shown
    assert set(UsageRelease.objects.values_list("source", "start", "end")) == {
        ("copilot", APRIL, dt.date(2026, 4, 30)),
        ("copilot", FIRST, LAST),
    }
