"""Hotspots in a real Chromium: the quadrant and its table, the list, the action loop and the
follow-up pulse, as HR and as the team's leader; accessible (axe-core: no serious violation)."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail

from analytics.models import Hotspot
from surveys.models import Invitation, Role, Round
from surveys.services import staff_user_create
from tests.support.hotspots import PLANTED, some_hotspot, world

pytestmark = pytest.mark.e2e
PASSWORD = "correct-horse-battery"


def _serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


@pytest.fixture
def hotspot_world(transactional_db, inline_tasks, monkeypatch):  # type: ignore[no-untyped-def]
    """A generated organisation with planted hotspots; delivery and alert tasks run inline."""
    from analytics import tasks

    monkeypatch.setattr(tasks.send_hotspot_alert, "delay", lambda pk: tasks.send_hotspot_alert(pk))
    staff_user_create(username="hr", password=PASSWORD, kind=Role.Kind.HR, email="hr@org.test")
    world(seed=31, hot=PLANTED)
    hotspot = some_hotspot()
    staff_user_create(
        username="lead",
        password=PASSWORD,
        kind=Role.Kind.LEADER,
        team_paths=[hotspot.team.path.split("/")[0]],
    )
    return hotspot


def test_hr_works_a_hotspot_from_the_quadrant_to_a_follow_up_pulse(
    live_server, page, hotspot_world
) -> None:
    hotspot = hotspot_world
    assert any(hotspot.team.path in m.subject for m in mail.outbox)  # the HR alert went out
    _log_in(page, live_server.url, "hr")
    page.goto(f"{live_server.url}/results/hotspots/")
    assert _serious_violations(page) == []

    chart = page.get_by_role("img", name=re.compile("AI Pressure Index"))
    assert chart.is_visible()
    circles = page.locator("svg.quadrant-chart circle")
    table_rows = page.locator("table.quadrant-table tbody tr")
    assert circles.count() == table_rows.count() >= 5
    assert page.locator("svg.quadrant-chart circle.is-hotspot").count() >= 1
    page.locator("svg.quadrant-chart").screenshot(path="var/e2e-hotspots-quadrant.png")

    page.locator("table.hotspot-list").get_by_role("link", name=hotspot.team.path).click()
    page.wait_for_url(re.compile(rf"/results/hotspots/{hotspot.pk}/$"))
    assert page.get_by_role("heading", name=f"Hotspot: {hotspot.team.path}").is_visible()
    assert page.get_by_text("x the organisation median", exact=False).first.is_visible()
    assert _serious_violations(page) == []

    page.get_by_label("State").select_option("acknowledged")
    page.get_by_label("Note").fill("Spoke with the team lead; usage targets under review.")
    page.get_by_role("button", name="Save").click()
    page.locator(".messages").get_by_text("Saved.").wait_for()
    assert page.locator(".notes").get_by_text("usage targets under review").is_visible()
    assert Hotspot.objects.get(pk=hotspot.pk).state == Hotspot.State.ACKNOWLEDGED

    sent_before = len(mail.outbox)
    page.get_by_role("button", name="Open follow-up pulse").click()
    page.locator(".messages").get_by_text("Follow-up pulse opened").wait_for()
    follow_up = Round.objects.get(cadence__isnull=True)
    invited = Invitation.objects.filter(round=follow_up)
    assert set(invited.values_list("employee__team__path", flat=True)) == {hotspot.team.path}
    assert len(mail.outbox) - sent_before == invited.count() >= 5
    assert Hotspot.objects.get(pk=hotspot.pk).state == Hotspot.State.FOLLOW_UP_SENT
    assert page.get_by_role("button", name="Open follow-up pulse").count() == 0
    assert _serious_violations(page) == []

    page.get_by_role("link", name="Team timeline").click()
    assert page.get_by_role(
        "heading", name=re.compile("usage and scores across rounds")
    ).is_visible()
    assert _serious_violations(page) == []


def test_the_teams_leader_sees_the_loop_but_cannot_open_a_follow_up(
    live_server, page, hotspot_world
) -> None:
    hotspot = hotspot_world
    _log_in(page, live_server.url, "lead")
    page.goto(f"{live_server.url}/results/hotspots/{hotspot.pk}/")
    assert page.get_by_role("heading", name=f"Hotspot: {hotspot.team.path}").is_visible()
    assert page.get_by_role("button", name="Open follow-up pulse").count() == 0
    page.get_by_label("State").select_option("action_planned")
    page.get_by_label("Note").fill("Team agreed to drop the usage leaderboard.")
    page.get_by_role("button", name="Save").click()
    page.locator(".messages").get_by_text("Saved.").wait_for()
    assert Hotspot.objects.get(pk=hotspot.pk).state == Hotspot.State.ACTION_PLANNED
    assert _serious_violations(page) == []
