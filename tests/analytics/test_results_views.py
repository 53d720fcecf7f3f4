"""The leaders' dashboard, the API and the CSV export read publications through the gate."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command

from analytics.publication import publication_compute
from surveys.models import Role, Team
from surveys.services import staff_user_create
from tests.conftest import client_for
from tests.support.rounds import build_org, closed_round

TEAMS = {"Company/Eng/API": 8, "Company/Eng/Infra": 7, "Company/Eng/Web": 3, "Company/Sales": 12}


@pytest.fixture
def published(db: None):
    build_org(TEAMS)
    round_ = closed_round(audience=["Company"])
    return publication_compute(round_id=round_.pk)


@pytest.fixture
def eng_leader(published):
    return staff_user_create(
        username="eng",
        password="x-long-password-1",
        kind=Role.Kind.LEADER,
        team_paths=["Company/Eng"],
    )


@pytest.fixture
def hr(db: None):
    return staff_user_create(username="hr2", password="x-long-password-1", kind=Role.Kind.HR)


def test_the_heatmap_shows_the_leaders_subtree_and_explains_hidden_cells(
    published, eng_leader
) -> None:
    page = client_for(eng_leader).get("/results/").content.decode()
    assert "Company/Eng/API" in page and "Company/Eng/Web" in page
    assert "Company/Sales" not in page
    assert "fewer than 5 answers" in page  # Web has 3 respondents
    assert "WHO-5" in page or "Well-Being" in page


def test_the_team_page_is_scoped(published, eng_leader) -> None:
    api = Team.objects.get(path="Company/Eng/API")
    sales = Team.objects.get(path="Company/Sales")
    leader = client_for(eng_leader)
    assert leader.get(f"/results/teams/{api.pk}/").status_code == 200
    assert leader.get(f"/results/teams/{sales.pk}/").status_code == 404


def test_the_csv_download_is_scoped_and_hidden_cells_carry_no_number(
    published, eng_leader, hr
) -> None:
    rows = list(
        csv.DictReader(
            io.StringIO(
                client_for(eng_leader)
                .get(f"/results/rounds/{published.round_id}/export.csv")
                .content.decode()
            )
        )
    )
    teams = {r["team"] for r in rows}
    assert teams <= {
        "Organisation",
        "Company/Eng",
        "Company/Eng/API",
        "Company/Eng/Infra",
        "Company/Eng/Web",
    }
    for row in rows:
        if row["shown"] == "no":
            assert row["respondents"] == row["score_0_100"] == row["ci_low"] == ""
            assert row["hidden_reason"]
        else:
            assert int(row["respondents"]) >= 5
    hr_rows = (
        client_for(hr).get(f"/results/rounds/{published.round_id}/export.csv").content.decode()
    )
    assert "Company/Sales" in hr_rows


def test_the_export_command_writes_what_hr_downloads(published, hr, capsys) -> None:
    call_command("export_results", str(published.round_id), "--format", "csv")
    command = capsys.readouterr().out.replace("\r\n", "\n").strip()
    download = (
        client_for(hr)
        .get(f"/results/rounds/{published.round_id}/export.csv")
        .content.decode()
        .replace("\r\n", "\n")
        .strip()
    )
    assert command == download


def test_the_export_command_refuses_a_round_without_results(db: None) -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="has no published results"):
        call_command("export_results", "999")


def test_the_api_lists_rounds_and_scopes_the_publication(published, eng_leader) -> None:
    client = client_for(eng_leader)
    rounds = client.get("/api/v1/rounds/").json()
    assert [r["round_id"] for r in rounds] == [published.round_id]
    body = client.get(f"/api/v1/rounds/{published.round_id}/publication/").json()
    paths = {row["team_path"] for row in body["rows"]}
    assert paths == {"", "Company/Eng", "Company/Eng/API", "Company/Eng/Infra", "Company/Eng/Web"}
    for row in body["rows"]:
        for figure in row["figures"]:
            if not figure["shown"]:
                assert figure["score"] is None and figure["n"] is None and figure["reason"]
    bad = client.get(f"/api/v1/rounds/{published.round_id}/publication/?breakdown=team")
    assert bad.status_code == 400 and "breakdown" in bad.json()


def test_the_openapi_schema_documents_the_results_endpoints(db: None, hr) -> None:
    schema = client_for(hr).get("/api/schema/").content.decode()
    assert "/api/v1/rounds/{round_id}/publication/" in schema
