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


def released_per_source(start: dt.date, end: dt.date, people: list[str]):
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
    released = [(row, value) for _, row, value in released_per_source(D1, D1, names)]
    assert assert_nothing_singled_out(released, truth, names) >= 1
    shown = {
        path: f.shown
        for path in ("Org", "Org/A", "Org/B")
        for f in usage_release_for_team(team=teams[path], start=D1, end=D1, metric="tokens")
    }
    assert shown == {"Org": True, "Org/A": False, "Org/B": False}
    [hidden] = usage_release_for_team(team=teams["Org/A"], start=D1, end=D1, metric="tokens")
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
    released = [(row, value) for _, row, value in released_per_source(D1, D1, names)]
    assert assert_nothing_singled_out(released, truth, names) >= 1
    [org] = usage_release_for_team(team=teams["Org"], start=D1, end=D1, metric="tokens")
    [a] = usage_release_for_team(team=teams["Org/A"], start=D1, end=D1, metric="tokens")
    assert (org.shown, a.shown, a.hidden_reason) == (True, False, USAGE_HIDDEN_PROTECTS)

    # Cells stored before the direct maximum existed fall back on the team's own maximum: a
    # larger bound, so still hidden.
    TeamDayUsage.objects.update(direct_max_single=None)
    [a] = usage_release_for_team(team=teams["Org/A"], start=D1, end=D1, metric="tokens")
    assert not a.shown


@pytest.mark.django_db
def test_teams_whose_differences_are_safe_are_all_shown() -> None:
    # Nobody directly in Org; A and B six people each: Org - A - B is empty, Org - A is B.
    people = {f"a{i}": "Org/A" for i in range(6)} | {f"b{i}": "Org/B" for i in range(6)}
    teams = roster(people)
    truth = {p: 10.0 + i for i, p in enumerate(people)}
    load([(p, "copilot", day, v) for p, v in truth.items() for day in (D1, D2)])

    for path in ("Org", "Org/A", "Org/B"):
        [f] = usage_release_for_team(team=teams[path], start=D1, end=D2, metric="tokens")
        assert f.shown, path
    period = usage_release_period(start=D1, end=D2, metric_by_source={"copilot": "tokens"})
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
    [org] = usage_release_for_team(team=teams["Org"], start=D1, end=D2, metric="tokens")
    [a] = usage_release_for_team(team=teams["Org/A"], start=D1, end=D2, metric="tokens")
    [b] = usage_release_for_team(team=teams["Org/B"], start=D1, end=D2, metric="tokens")
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
    period = usage_release_period(start=D1, end=D1, metric_by_source=both)

    # The attacker's unknowns are (person, tool) values; the API's figures cover one tool,
    # the hotspot side's figures both.
    labels = [f"{p}/{tool}" for p in people for tool in ("copilot", "claude")]
    truth = {f"{p}/{tool}": v for p, tool, _, v in rows}
    released = []
    for (source, _path), row, value in released_per_source(D1, D1, list(people)):
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
        team=teams["Org/A"], start=D1, end=D1, source="copilot", metric="tokens"
    )
    assert copilot.shown
    assert not period[teams["Org/A"].pk].shown
    assert not period[teams["Org"].pk].shown
    # With copilot alone the team is shown: the sum is only hidden for the tool that fails.
    alone = usage_release_period(start=D1, end=D1, metric_by_source={"copilot": "tokens"})
    assert alone[teams["Org/A"].pk].shown


# --- Across periods: a calendar month (API) against rounds' periods (hotspots) -----------------

MAY = dt.date(2026, 5, 1)
MONTHS = (dt.date(2026, 4, 1), MAY, dt.date(2026, 6, 1))


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


def released_over_periods(
    rounds: list[Round], people: list[str], rows: list[tuple[str, str, dt.date, float]]
) -> tuple[list[tuple[np.ndarray, float]], dict[str, float], list[str], dict[tuple, bool]]:
    """Everything released about the usage, as the attacker sees it: for every team, each
    month of `MONTHS` (the API: `usage_release_for_months`) and each round's usage period and
    the period just before it (the hotspots: `usage_release_period`). The unknowns are one
    value per (person, piece of the timeline that no released period splits); returns the
    released rows over them, the true values, their labels and which figure was shown."""
    periods = [gate.month_bounds(m) for m in MONTHS]
    for round_ in rounds:
        period = gate.usage_round_period(round_)
        periods += [period, usage_previous_period(*period)]
    cuts = sorted({a for a, _ in periods} | {b + dt.timedelta(days=1) for _, b in periods})
    pieces = list(itertools.pairwise(cuts))
    labels = [f"{p}@{a}" for p in people for a, _ in pieces]
    truth: dict[str, float] = {}
    for person, _tool, day, value in rows:
        [piece] = [a for a, b in pieces if a <= day < b]
        truth[f"{person}@{piece}"] = truth.get(f"{person}@{piece}", 0.0) + value
    released, shown = [], {}
    for team in Team.objects.all():
        inside = members(team, people)
        for start, end in periods:
            if start.day == 1 and gate.month_bounds(start)[1] == end:
                figures = usage_release_for_months(
                    team=team, first_month=start, last_month=start, metric="tokens"
                )
                value = figures[0].value if figures and figures[0].shown else None
            else:
                figure = usage_release_period(
                    start=start, end=end, metric_by_source={"copilot": "tokens"}
                ).get(team.pk)
                value = figure.total if figure is not None and figure.shown else None
            shown[(team.path, start, end)] = value is not None
            if value is None:
                continue
            row = [
                float(inside[i] and start <= a and b - dt.timedelta(days=1) <= end)
                for i in range(len(people))
                for a, b in pieces
            ]
            released.append((np.array(row), value))
    # The attacker is also told which (person, piece) values are zero (a stronger attacker, and
    # fewer unknowns to enumerate).
    used = [j for j, label in enumerate(labels) if truth.get(label)]
    return (
        [(row[used], value) for row, value in released],
        truth,
        [labels[j] for j in used],
        shown,
    )


def month_minus_round_world() -> tuple[list[Round], list[str], list[tuple]]:
    """Org/A: five people use copilot every day of a round's period (May 4-24: it opens May 18,
    14 days of recall); on May 25-31 only a0 does. May (five people, a0's share 25%) and the
    round's period (five people) each pass on their own; May minus the period is a0 alone."""
    people = [f"a{i}" for i in range(5)]
    roster({p: "Org/A" for p in people})
    rows = [
        (p, "copilot", d, 10.0)
        for d in days(dt.date(2026, 5, 4), dt.date(2026, 5, 24))
        for p in people
    ]
    rows += [("a0", "copilot", d, 10.0) for d in days(dt.date(2026, 5, 25), dt.date(2026, 5, 31))]
    load(rows)
    round_ = cadence_round("Pulse", dt.date(2026, 5, 18), dt.date(2026, 5, 24))
    assert gate.usage_round_period(round_) == (dt.date(2026, 5, 4), dt.date(2026, 5, 24))
    return [round_], people, rows


@pytest.mark.django_db
def test_a_month_minus_a_rounds_period_does_not_single_out_the_days_left() -> None:
    rounds, people, rows = month_minus_round_world()
    released, truth, labels, shown = released_over_periods(rounds, people, rows)
    assert assert_nothing_singled_out(released, truth, labels) >= 1
    may = gate.month_bounds(MAY)
    # The round's period is released to the hotspots; May, which would give away a0's last
    # week, is not.
    assert shown[("Org/A", dt.date(2026, 5, 4), dt.date(2026, 5, 24))]
    assert not shown[("Org/A", *may)]
    assert not shown[("Org", *may)]
    [figure] = usage_release_for_months(
        team=Team.objects.get(path="Org/A"), first_month=MAY, last_month=MAY, metric="tokens"
    )
    assert figure.value is None and "fewer than" in figure.hidden_reason


@pytest.mark.django_db
def test_without_the_atoms_the_month_minus_round_attack_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The attack above has teeth: auditing each period on its own (as before the atoms)
    releases both figures, and the attacker singles a0 out."""
    monkeypatch.setattr(gate, "usage_atoms", lambda start, end: [(start, end)])
    rounds, people, rows = month_minus_round_world()
    released, truth, labels, shown = released_over_periods(rounds, people, rows)
    assert shown[("Org/A", *gate.month_bounds(MAY))]
    with pytest.raises(AssertionError, match="singled out"):
        assert_nothing_singled_out(released, truth, labels)


@pytest.mark.django_db
def test_overlapping_rounds_periods_do_not_single_out_their_difference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two cadences' rounds open on May 18: one closes on May 20 (period May 4-20), the other
    # on May 24 (May 4-24). On May 21-24 only a0 and a1 use copilot, a0 nearly all of it.
    people = [f"a{i}" for i in range(5)]
    roster({p: "Org/A" for p in people})
    rows = [
        (p, "copilot", d, 10.0)
        for d in days(dt.date(2026, 5, 4), dt.date(2026, 5, 20))
        for p in people
    ]
    rows += [("a0", "copilot", d, 50.0) for d in days(dt.date(2026, 5, 21), dt.date(2026, 5, 24))]
    rows += [("a1", "copilot", d, 1.0) for d in days(dt.date(2026, 5, 21), dt.date(2026, 5, 24))]
    rows += [
        (p, "copilot", d, 10.0)
        for d in days(dt.date(2026, 5, 25), dt.date(2026, 5, 31))
        for p in people
    ]
    load(rows)
    short = cadence_round("Short pulse", dt.date(2026, 5, 18), dt.date(2026, 5, 20))
    long = cadence_round("Long pulse", dt.date(2026, 5, 18), dt.date(2026, 5, 24))
    released, truth, labels, shown = released_over_periods([short, long], people, rows)
    assert assert_nothing_singled_out(released, truth, labels) >= 1
    assert shown[("Org/A", dt.date(2026, 5, 4), dt.date(2026, 5, 20))]
    assert not shown[("Org/A", dt.date(2026, 5, 4), dt.date(2026, 5, 24))]

    # Asked for directly, the long period is hidden too (its atoms); the short one is shown.
    for start, end in (
        (dt.date(2026, 5, 4), dt.date(2026, 5, 20)),
        (dt.date(2026, 5, 4), dt.date(2026, 5, 24)),
    ):
        [alone] = usage_release_for_team(
            team=Team.objects.get(path="Org/A"), start=start, end=end, metric="tokens"
        )
        assert alone.shown == (end.day == 20)
    # Without the atoms (each period audited on its own) the long one would be released.
    monkeypatch.setattr(gate, "usage_atoms", lambda start, end: [(start, end)])
    assert usage_release_period(
        start=dt.date(2026, 5, 4),
        end=dt.date(2026, 5, 24),
        metric_by_source={"copilot": "tokens"},
    )[Team.objects.get(path="Org/A").pk].shown


@pytest.mark.django_db
def test_a_safe_organisation_keeps_its_months_and_round_periods() -> None:
    # Two teams of six, everyone using copilot every day of April-June: every month and every
    # round's period (and the one before it) is shown for every team.
    people = [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)]
    roster({p: f"Org/{p[0].upper()}" for p in people})
    rows = [
        (p, "copilot", d, 10.0 + i)
        for d in days(dt.date(2026, 4, 1), dt.date(2026, 6, 30))
        for i, p in enumerate(people)
    ]
    load(rows)
    rounds = [
        cadence_round("Pulse", dt.date(2026, 5, 18), dt.date(2026, 5, 22)),
        cadence_round("Other pulse", dt.date(2026, 5, 27), dt.date(2026, 6, 3)),
    ]
    *_, shown = released_over_periods(rounds, people, rows)
    assert all(shown.values()), [key for key, ok in shown.items() if not ok]
    assert len(shown) == 3 * (len(MONTHS) + 2 * len(rounds))


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


@pytest.mark.django_db
def test_atoms_are_cut_at_every_month_and_cadence_rounds_periods() -> None:
    roster({"a0": "Org/A"})
    closed = cadence_round("Pulse", dt.date(2026, 5, 18), dt.date(2026, 5, 24))  # May 4-24
    still_open = cadence_round("Other pulse", dt.date(2026, 6, 8), dt.date(2026, 6, 12))
    Round.objects.filter(pk=still_open.pk).update(status=Round.Status.OPEN, closed_at=None)
    assert gate.usage_atoms(dt.date(2026, 4, 20), dt.date(2026, 6, 30)) == [
        # The closed round's previous period (April 13 - May 3) and period (May 4-24); the
        # open round's period (May 25 - June 12: it exists, so it is cut already) and the
        # period before it (May 6-24).
        (dt.date(2026, 4, 20), dt.date(2026, 4, 30)),
        (dt.date(2026, 5, 1), dt.date(2026, 5, 3)),
        (dt.date(2026, 5, 4), dt.date(2026, 5, 5)),
        (dt.date(2026, 5, 6), dt.date(2026, 5, 24)),
        (dt.date(2026, 5, 25), dt.date(2026, 5, 31)),
        (dt.date(2026, 6, 1), dt.date(2026, 6, 12)),
        (dt.date(2026, 6, 13), dt.date(2026, 6, 30)),
    ]
    # A one-off round (no cadence) is not assessed by the hotspots: it cuts nothing.
    Round.objects.filter(pk=closed.pk).update(cadence=None)
    assert (dt.date(2026, 5, 1), dt.date(2026, 5, 5)) in gate.usage_atoms(
        dt.date(2026, 4, 20), dt.date(2026, 6, 30)
    )


# --- Re-imports: released data never changes ---------------------------------------------------
#
# A later export replaces the days it covers (latest wins). If those days lie inside a period
# whose usage has been released, the released figure and the same figure afterwards would
# differ by exactly the rows that changed: one late file correcting one person's day would
# give away that person's usage. So the gate records every period it releases usage over
# (`UsageRelease`) and an import keeps those days as they were released.

JUNE = dt.date(2026, 6, 1)
LATE_DAY = dt.date(2026, 5, 25)


def reimport_world() -> tuple[dict[str, Team], Round, list[tuple]]:
    """Org/A and Org/B, six people each, every day of April-June on copilot (10 + i tokens
    for the i-th person), and a cadence round open May 18-22 (period May 4-22, the period
    before it April 15 - May 3)."""
    people = [f"a{i}" for i in range(6)] + [f"b{i}" for i in range(6)]
    teams = roster({p: f"Org/{p[0].upper()}" for p in people})
    rows = [
        (p, "copilot", d, 10.0 + i)
        for d in days(dt.date(2026, 4, 1), dt.date(2026, 6, 30))
        for i, p in enumerate(people)
    ]
    load(rows)
    round_ = cadence_round("Pulse", dt.date(2026, 5, 18), dt.date(2026, 5, 22))
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
    as HR (every team) and as Org/A's leader; the hotspots' round period and the period
    before it (`usage_release_period`, what the hotspot service stores and pages show); and,
    for good measure, the gate over a few free periods of May (no role can ask for those).
    Copilot's only: a source with no usage at all before (claude, below) has no figure to
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
    for start, end in (
        (dt.date(2026, 5, 1), dt.date(2026, 5, 31)),
        (dt.date(2026, 5, 20), dt.date(2026, 5, 31)),
        (LATE_DAY, LATE_DAY),
    ):
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
    period = gate.usage_round_period(round_)
    usage_release_period(start=period[0], end=period[1], metric_by_source={"copilot": "tokens"})
    # A period where nothing is shown (one day with two contributors) is not recorded.
    load([("a0", "copilot", dt.date(2026, 7, 1), 5.0), ("a1", "copilot", dt.date(2026, 7, 1), 5.0)])
    jul = dt.date(2026, 7, 1)
    [hidden] = usage_release_for_team(team=teams["Org/A"], start=jul, end=jul, metric="tokens")
    assert not hidden.shown
    assert set(UsageRelease.objects.values_list("source", "start", "end")) == {
        ("copilot", dt.date(2026, 5, 1), dt.date(2026, 5, 31)),
        ("copilot", *period),
    }
