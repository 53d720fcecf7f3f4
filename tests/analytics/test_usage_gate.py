"""Rule 11 at the exit: a team's usage is shown only when >= k people contribute and nobody
contributes more than 85%; over the days of a month, with bounds that can only err towards
hiding; and over whole calendar months only."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics import gate
from analytics.gate import (
    USAGE_HIDDEN_DOMINANT,
    USAGE_HIDDEN_NO_BREAKDOWN,
    month_bounds,
    usage_release_decision,
    usage_release_for_team,
    usage_release_period,
)
from analytics.models import UsageRelease
from analytics.services import usage_files_from_bytes, usage_import
from surveys.models import Team
from surveys.services import roster_import, staff_user_create
from tests.conftest import PASSWORD, client_for

D1 = dt.date(2026, 5, 4)
D2 = dt.date(2026, 5, 5)
MAY = month_bounds(D1)


@pytest.fixture
def big_org(db: None) -> dict[str, Team]:
    """Team A (6 people) and team B (2 people) under Org; Other (1 person) elsewhere."""
    lines = ["email,name,team,manager_email,location,start_date,timezone"]
    lines += [f"a{i}@acme.test,A {i},Org/A,,Berlin,2020-01-01,UTC" for i in range(6)]
    lines += [f"b{i}@acme.test,B {i},Org/B,,Berlin,2020-01-01,UTC" for i in range(2)]
    lines += ["o0@acme.test,O 0,Other,,Berlin,2020-01-01,UTC"]
    roster_import(data=("\n".join(lines) + "\n").encode())
    return {t.path: t for t in Team.objects.all()}


def load(rows: list[tuple[str, dt.date, float]]) -> None:
    text = "email,date,tool,metric,value\n" + "".join(
        f"{email},{day},copilot,lines,{value}\n" for email, day, value in rows
    )
    usage_import(format="generic", files=usage_files_from_bytes([("u.csv", text.encode())]))


def figure(team: Team, month: tuple[dt.date, dt.date] = MAY, metric: str = "lines"):
    [f] = usage_release_for_team(team=team, start=month[0], end=month[1], metric=metric)
    return f


def test_a_team_with_five_balanced_contributors_is_shown(big_org) -> None:
    load([(f"a{i}@acme.test", D1, 10) for i in range(5)])
    f = figure(big_org["Org/A"])
    assert (f.shown, f.value, f.hidden_reason) == (True, 50, "")


def test_fewer_than_k_contributors_are_hidden_without_saying_how_many(big_org) -> None:
    load([(f"a{i}@acme.test", D1, 10) for i in range(4)])
    f = figure(big_org["Org/A"])
    assert (f.shown, f.value) == (False, None)
    assert f.hidden_reason == "hidden: fewer than 5 people contribute"
    assert "4" not in f.hidden_reason


def test_one_dominant_contributor_hides_the_team(big_org) -> None:
    # 5 people, one with 86% of the total.
    load([("a0@acme.test", D1, 860)] + [(f"a{i}@acme.test", D1, 35) for i in range(1, 5)])
    f = figure(big_org["Org/A"])
    assert (f.shown, f.hidden_reason) == (False, USAGE_HIDDEN_DOMINANT)


def test_exactly_85_percent_is_still_shown(big_org) -> None:
    load([("a0@acme.test", D1, 850)] + [(f"a{i}@acme.test", D1, 37.5) for i in range(1, 5)])
    assert figure(big_org["Org/A"]).shown


def test_parent_team_figures_are_exact_distinct_counts_per_day(big_org) -> None:
    # 3 people in A and 2 in B: neither child reaches k, the parent has 5 distinct people.
    load([(f"a{i}@acme.test", D1, 10) for i in range(3)] + [("b0@acme.test", D1, 10)])
    load(
        [("b1@acme.test", D1, 10)]
        + [(f"a{i}@acme.test", D1, 10) for i in range(3)]
        + [("b0@acme.test", D1, 10)]
    )
    assert figure(big_org["Org"]).value == 50
    assert not figure(big_org["Org/A"]).shown
    assert not figure(big_org["Org/B"]).shown


def test_a_month_uses_the_largest_daily_count_not_a_sum_of_days(big_org) -> None:
    # The same 3 people on two days: never 6 people.
    load([(f"a{i}@acme.test", day, 10) for i in range(3) for day in (D1, D2)])
    f = figure(big_org["Org/A"])
    assert not f.shown and "fewer than 5" in f.hidden_reason


def test_a_month_hides_a_person_who_may_dominate_across_days(big_org) -> None:
    # Each day one heavy user (a0 on D1, a1 on D2) holding 80% of that day: the sum of daily
    # maxima (1600 of 2000) is 80% -> shown; a heavier pattern crosses 85% -> hidden.
    load([("a0@acme.test", D1, 800)] + [(f"a{i}@acme.test", D1, 50) for i in range(1, 5)])
    load(
        [("a1@acme.test", D2, 800), ("a0@acme.test", D2, 50)]
        + [(f"a{i}@acme.test", D2, 50) for i in range(2, 5)]
    )
    assert figure(big_org["Org/A"]).shown
    # Two days of June (May is released now, so it stays as it is): a0 holds 800 of the first
    # and 950 of the second: 1750 of 2000 = 87.5%.
    d3, d4 = dt.date(2026, 6, 4), dt.date(2026, 6, 5)
    load([("a0@acme.test", d3, 800)] + [(f"a{i}@acme.test", d3, 50) for i in range(1, 5)])
    load([("a0@acme.test", d4, 950)] + [(f"a{i}@acme.test", d4, 12.5) for i in range(1, 5)])
    assert figure(big_org["Org/A"], month_bounds(d3)).hidden_reason == USAGE_HIDDEN_DOMINANT


def test_people_count_metrics_become_person_days_over_a_month(big_org) -> None:
    load([(f"a{i}@acme.test", day, 10) for i in range(5) for day in (D1, D2)])
    f = figure(big_org["Org/A"], metric="active_users")
    assert (f.shown, f.value, f.unit) == (True, 10, "person-days")


def test_team_level_sources_without_a_breakdown_are_never_shown(big_org) -> None:
    usage_import(
        format="generic",
        files=usage_files_from_bytes(
            [("t.csv", b"team,date,tool,metric,value\nOrg/A,2026-05-04,legacy,suggestions,500\n")]
        ),
    )
    f = figure(big_org["Org/A"], metric="suggestions")
    assert (f.shown, f.hidden_reason) == (False, USAGE_HIDDEN_NO_BREAKDOWN)


def test_the_decision_never_lowers_k_below_the_setting(settings) -> None:
    settings.PULSE_MIN_GROUP_SIZE = 7
    assert usage_release_decision(total=60, contributors_lower_bound=6, max_single_upper_bound=10)
    assert not usage_release_decision(
        total=70, contributors_lower_bound=7, max_single_upper_bound=10
    )


def test_the_api_releases_usage_through_the_gate_and_scopes_teams(big_org) -> None:
    load([(f"a{i}@acme.test", D1, 10) for i in range(5)] + [("o0@acme.test", D1, 99)])
    leader = staff_user_create(
        username="lead", password=PASSWORD, kind="leader", team_paths=["Org"]
    )
    client = client_for(leader)
    response = client.get(
        f"/api/v1/teams/{big_org['Org/A'].pk}/usage/", {"start": "2026-05-01", "end": "2026-05-31"}
    )
    assert response.status_code == 200
    lines = next(f for f in response.json() if f["metric"] == "lines")
    assert (lines["shown"], lines["value"], lines["unit"]) == (True, 50, "lines")
    # The one-person team outside the leader's scope: the same 404 as a missing team.
    assert client.get(f"/api/v1/teams/{big_org['Other'].pk}/usage/").status_code == 404
    assert client.get("/api/v1/teams/999999/usage/").status_code == 404
    hr = staff_user_create(username="hr2", password=PASSWORD, kind="hr")
    other = (
        client_for(hr)
        .get(
            f"/api/v1/teams/{big_org['Other'].pk}/usage/",
            {"start": "2026-05-01", "end": "2026-05-31"},
        )
        .json()
    )
    assert all(f["value"] is None for f in other)
    assert "99" not in str(other)


def test_the_api_serves_whole_months_that_have_ended_only(big_org) -> None:
    """Two free day ranges of one team differ by a day, and a month still being imported moves
    day by day: the API refuses both."""
    hr = staff_user_create(username="hr3", password=PASSWORD, kind="hr")
    client = client_for(hr)
    url = f"/api/v1/teams/{big_org['Org/A'].pk}/usage/"
    for period in (
        {"start": "2026-05-04", "end": "2026-05-04"},
        {"start": "2026-05-01", "end": "2026-05-30"},
        {"start": "2026-05-02", "end": "2026-05-31"},
    ):
        assert client.get(url, period).status_code == 400, period
    this_month = dt.datetime.now(dt.UTC).date().replace(day=1)
    current = {
        "start": this_month.isoformat(),
        "end": (this_month + dt.timedelta(days=40)).replace(day=1) - dt.timedelta(days=1),
    }
    assert client.get(url, current).status_code == 400
    assert client.get(url, {"start": "2025-01-01", "end": "2026-01-31"}).status_code == 400
    assert client.get(url, {"start": "2025-02-01", "end": "2026-01-31"}).status_code == 200


def test_a_range_of_months_minus_one_of_them_does_not_give_a_hidden_month(
    big_org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five people in May, one (a0) in June. May-June passes on its own (five people on a day,
    nobody above 85%), and so does May: their difference would be a0's June usage. The range
    is shown only when each of its months is."""
    june = dt.date(2026, 6, 3)
    load([(f"a{i}@acme.test", D1, 100) for i in range(5)] + [("a0@acme.test", june, 77)])
    hr = staff_user_create(username="hr4", password=PASSWORD, kind="hr")
    client = client_for(hr)
    url = f"/api/v1/teams/{big_org['Org/A'].pk}/usage/"

    def lines(start: str, end: str) -> dict:
        figures = client.get(url, {"start": start, "end": end, "metric": "lines"}).json()
        [figure] = figures
        return figure

    may = lines("2026-05-01", "2026-05-31")
    assert (may["shown"], may["value"]) == (True, 500)
    both = lines("2026-05-01", "2026-06-30")
    assert (both["shown"], both["value"]) == (False, None)
    assert "77" not in str(both) and "577" not in str(both)
    # The gate hides the two-month period even when asked for directly: it is audited month by
    # month (its atoms), and June fails.
    [free] = usage_release_for_team(
        team=big_org["Org/A"], start=dt.date(2026, 5, 1), end=dt.date(2026, 6, 30), metric="lines"
    )
    assert free.value is None
    # Audited as one period, it would have passed: the month-by-month audit is what hides it.
    monkeypatch.setattr(gate, "usage_atoms", lambda start, end: [(start, end)])
    [free] = usage_release_for_team(
        team=big_org["Org/A"], start=dt.date(2026, 5, 1), end=dt.date(2026, 6, 30), metric="lines"
    )
    assert free.shown and free.value == 577


def test_the_gate_releases_usage_over_whole_calendar_months_only(big_org) -> None:
    """A day, a month cut short, a range that starts or ends inside a month: refused, whoever
    asks, and nothing recorded as released (so nothing can be differenced against a month)."""
    load([(f"a{i}@acme.test", D1, 10) for i in range(5)])
    cut = [
        (D1, D1),
        (D1, D2),
        (dt.date(2026, 5, 1), dt.date(2026, 5, 30)),
        (dt.date(2026, 5, 2), dt.date(2026, 5, 31)),
        (dt.date(2026, 4, 1), dt.date(2026, 5, 4)),
        (dt.date(2026, 6, 1), dt.date(2026, 5, 31)),
    ]
    for start, end in cut:
        with pytest.raises(ValueError, match="whole calendar months"):
            usage_release_for_team(team=big_org["Org/A"], start=start, end=end)
        with pytest.raises(ValueError, match="whole calendar months"):
            usage_release_period(start=start, end=end, metric_by_source={"copilot": "lines"})
        with pytest.raises(ValueError, match="whole calendar months"):
            gate.usage_previous_period(start, end)
    assert not UsageRelease.objects.exists()
    # Whole months, one or several, are served; each is a union of months.
    assert figure(big_org["Org/A"]).shown
    assert gate.usage_atoms(dt.date(2026, 4, 1), dt.date(2026, 6, 30)) == [
        month_bounds(dt.date(2026, m, 1)) for m in (4, 5, 6)
    ]
    assert gate.usage_previous_period(dt.date(2026, 1, 1), dt.date(2026, 2, 28)) == (
        dt.date(2025, 11, 1),
        dt.date(2025, 12, 31),
    )
