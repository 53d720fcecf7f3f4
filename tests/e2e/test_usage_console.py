"""HR in a real Chromium: upload an AI-usage export, watch a real worker import it, read the
outcome and the history; accessible (axe-core) and usable on a phone."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe

from analytics.models import TeamDayUsage, UsageImport
from tests.conftest import FIXTURES, PASSWORD, ROOT, WorkerProcess

pytestmark = pytest.mark.e2e

GENERIC = FIXTURES / "usage" / "generic.csv"  # 6 rows: 5 for people on the roster, 1 not


def _serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _stat(page, label: str) -> str:
    return page.locator(f"dt:text-is('{label}') + dd").inner_text()


def _log_in(page, base_url: str) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill("hr")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/hr/$"))


def test_hr_uploads_usage_sees_progress_then_the_outcome_and_the_history(
    live_server, page, org, hr_user
) -> None:
    _log_in(page, live_server.url)
    page.get_by_role("link", name="AI usage").first.click()
    page.wait_for_url(re.compile(r"/hr/usage/$"))
    assert page.get_by_role("heading", name="Import AI usage").is_visible()
    assert _serious_violations(page) == []

    page.get_by_label("Export format").select_option("generic")
    page.get_by_label("Files of one delivery").set_input_files(str(GENERIC))
    page.get_by_role("button", name="Upload and import").click()

    # No worker is running yet: the status page shows the upload waiting, with its progress.
    page.wait_for_url(re.compile(r"/hr/usage/imports/[0-9a-f-]+/$"))
    status_url = page.url
    assert page.get_by_role("status").inner_text().startswith("Waiting for a worker")
    assert page.locator("progress#import-progress").is_visible()
    assert page.get_by_label("Progress").count() == 1
    # Refreshing is a link (and, with JavaScript, a timed reload): no `meta-refresh`.
    assert _serious_violations(page) == []
    assert page.get_by_role("link", name="Refresh progress").is_visible()
    assert not TeamDayUsage.objects.exists()

    (ROOT / "var").mkdir(exist_ok=True)
    worker = WorkerProcess()
    try:
        worker.wait_ready()
        # The page reloads itself (pulse.js) until the worker is done.
        page.get_by_text("Imported", exact=True).wait_for(timeout=60_000)
    finally:
        worker.stop()
    assert page.url == status_url
    assert page.locator("progress").count() == 0
    assert _stat(page, "Rows read") == "6"
    assert _stat(page, "Matched to people") == "5"
    assert _stat(page, "Unmatched") == "1"
    written = UsageImport.objects.get().team_days_written
    assert written > 0 and _stat(page, "Team-days written") == str(written)
    assert page.get_by_role("cell", name="ghost@elsewhere.test").is_visible()
    assert _serious_violations(page) == []

    page.goto(f"{live_server.url}/hr/usage/imports/")
    row = page.get_by_role("row").filter(has_text="generic.csv")
    assert row.count() == 1
    assert "Imported" in row.inner_text()
    assert _serious_violations(page) == []
    row.get_by_role("link").click()
    page.wait_for_url(status_url)


def test_the_usage_upload_page_works_on_a_phone(
    live_server, browser, org, hr_user, celery_worker_process
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        _log_in(page, live_server.url)
        page.goto(f"{live_server.url}/hr/usage/")
        # Nothing overflows the phone's width; every control is on screen and usable.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        for control in (
            page.get_by_label("Export format"),
            page.get_by_label("Files of one delivery"),
            page.get_by_role("button", name="Upload and import"),
        ):
            box = control.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
        assert _serious_violations(page) == []

        page.get_by_label("Export format").select_option("generic")
        page.get_by_label("Files of one delivery").set_input_files(str(GENERIC))
        page.get_by_role("button", name="Upload and import").click()
        page.wait_for_url(re.compile(r"/hr/usage/imports/[0-9a-f-]+/$"))
        page.get_by_text("Imported", exact=True).wait_for(timeout=60_000)
        assert _stat(page, "Rows read") == "6"
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        context.close()
