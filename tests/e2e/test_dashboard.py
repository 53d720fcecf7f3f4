"""A leader's dashboard in a real Chromium: their subtree only, hidden cells explained in words,
drill-down to a team, accessible (axe-core), usable at 375px, refused elsewhere, CSV download."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from analytics.publication import publication_compute
from surveys.models import Role, Team
from surveys.services import staff_user_create
from tests.conftest import PASSWORD
from tests.support.rounds import build_org, closed_round

pytestmark = pytest.mark.e2e

TEAMS = {"Company/Eng/API": 8, "Company/Eng/Infra": 7, "Company/Eng/Web": 3, "Company/Sales": 12}


def _serious_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _no_horizontal_overflow(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "document.documentElement.scrollWidth <= window.innerWidth"
        " && document.body.scrollWidth <= window.innerWidth"
    )


@pytest.fixture
def published(transactional_db: None):  # type: ignore[no-untyped-def]
    build_org(TEAMS)
    round_ = closed_round(audience=["Company"])
    publication_compute(round_id=round_.pk)
    staff_user_create(
        username="eng-lead", password=PASSWORD, kind=Role.Kind.LEADER, team_paths=["Company/Eng"]
    )
    return round_


def _log_in(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("eng-lead")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/results/$"))


def test_a_leader_reads_their_heatmap_and_drills_down(live_server, page, published) -> None:
    _log_in(page, live_server)
    heatmap = page.locator("table.heatmap")
    assert heatmap.get_by_role("link", name="Company/Eng/API").is_visible()
    assert page.get_by_text("Company/Sales").count() == 0
    # Web has 3 respondents: hidden, and the page says why in words.
    web_row = heatmap.locator("tr", has=page.get_by_role("link", name="Company/Eng/Web"))
    assert "fewer than 5 answers" in web_row.inner_text()
    assert not re.search(r"\bn = \d", web_row.inner_text())
    assert _serious_violations(page) == []

    heatmap.get_by_role("link", name="Company/Eng/API").click()
    page.wait_for_url(re.compile(r"/results/teams/\d+/"))
    assert page.get_by_role("heading", name="Company/Eng/API", level=1).is_visible()
    for section in ("Constructs", "Items", "By location and tenure", "Trend", "Comments"):
        assert page.get_by_role("heading", name=section, level=2).is_visible()
    assert _serious_violations(page) == []


def test_the_dashboard_works_on_a_phone(live_server, browser, published) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    _log_in(page, live_server)
    assert _no_horizontal_overflow(page)
    # The wide heatmap scrolls inside its own wrapper, not the page.
    assert page.locator(".table-wrap").first.evaluate("e => getComputedStyle(e).overflowX") in (
        "auto",
        "scroll",
    )
    api = Team.objects.get(path="Company/Eng/API")
    page.goto(f"{live_server.url}/results/teams/{api.pk}/?round={published.pk}")
    assert page.get_by_role("heading", name="Company/Eng/API", level=1).is_visible()
    assert _no_horizontal_overflow(page)
    context.close()


def test_another_subtree_is_refused_and_the_csv_downloads(live_server, page, published) -> None:
    _log_in(page, live_server)
    sales = Team.objects.get(path="Company/Sales")
    response = page.goto(f"{live_server.url}/results/teams/{sales.pk}/?round={published.pk}")
    assert response.status == 404
    assert "Company/Sales" not in page.content()

    page.goto(f"{live_server.url}/results/")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename == f"pulse-round-{published.pk}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert rows and {r["team"] for r in rows} <= {
        "Organisation",
        "Company/Eng",
        "Company/Eng/API",
        "Company/Eng/Infra",
        "Company/Eng/Web",
    }
    for row in rows:
        if row["shown"] == "no":
            assert row["score_0_100"] == row["respondents"] == "" and row["hidden_reason"]
