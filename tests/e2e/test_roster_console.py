"""HR in a real Chromium: log in, upload a roster, watch it imported by a real worker."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from surveys.models import Employee
from tests.conftest import ORG_CSV, PASSWORD

pytestmark = pytest.mark.e2e


def _serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_hr_uploads_a_roster_and_sees_the_summary(
    live_server, page, celery_worker_process, hr_user, tmp_path
) -> None:
    page.goto(f"{live_server.url}/hr/")
    assert "/login/" in page.url
    assert _serious_violations(page) == []
    page.get_by_label("Username").fill("hr")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/hr/$"))
    assert _serious_violations(page) == []

    page.get_by_role("link", name="Import a roster").click()
    assert _serious_violations(page) == []
    roster = tmp_path / "roster.csv"
    roster.write_bytes(ORG_CSV)
    page.get_by_label("Roster file (CSV, UTF-8)").set_input_files(str(roster))
    page.get_by_role("button", name="Upload and import").click()

    # The status page reloads itself (pulse.js; a "Refresh progress" link without JavaScript).
    page.wait_for_url(re.compile(r"/hr/roster/imports/"))
    page.get_by_text("Imported", exact=True).wait_for(timeout=60_000)
    assert _serious_violations(page) == []
    created = page.locator("dt:text-is('Created') + dd").inner_text()
    assert created == "7"
    assert Employee.objects.count() == 7


def test_the_login_page_works_on_a_phone_without_javascript(live_server, browser, hr_user) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("hr")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/hr/$"))
    assert page.get_by_role("heading", name="HR console").is_visible()
    # Nothing overflows the phone's width.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


def test_a_leader_cannot_open_another_subtree_in_the_browser(
    live_server, page, org, leader_user
) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("leader")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/results/$"))
    assert page.get_by_role("link", name="Engineering/Platform/API").is_visible()
    assert page.get_by_text("Sales").count() == 0
    sales = org["Sales/EMEA"].pk
    response = page.goto(f"{live_server.url}/results/teams/{sales}/")
    assert response.status == 404
