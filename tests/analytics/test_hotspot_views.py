"""Hotspot pages, CSV and API, scoped as the dashboard: HR sees everything; a leader sees their
subtrees only (a hotspot or team outside them is 404, like one that does not exist), may record
steps for hotspots there, and never opens a follow-up pulse; nobody else sees anything."""

from __future__ import annotations

import re

import pytest

from analytics.models import Hotspot, HotspotAssessment, HotspotRun
from surveys.models import Role, Round
from surveys.services import staff_user_create
from tests.conftest import client_for
from tests.support.hotspots import PLANTED, some_hotspot, world


@pytest.fixture
def scene(db: None) -> dict[str, object]:
    world(seed=21, hot=PLANTED)
    hotspot = some_hotspot()
    department = hotspot.team.path.split("/")[0]
    other = next(d for d in ("Eng", "Ops", "Biz") if d != department)
    return {
        "hotspot": hotspot,
        "run": HotspotRun.objects.get(),
        "hr": staff_user_create(username="hr2", password="pw-123456789", kind=Role.Kind.HR),
        "own_leader": staff_user_create(
            username="own", password="pw-123456789", kind=Role.Kind.LEADER, team_paths=[department]
        ),
        "other_leader": staff_user_create(
            username="other", password="pw-123456789", kind=Role.Kind.LEADER, team_paths=[other]
        ),
        "other": other,
    }


def test_hr_sees_the_quadrant_with_its_table_the_list_and_the_correlations(scene) -> None:
    hotspot, run = scene["hotspot"], scene["run"]
    page = client_for(scene["hr"]).get("/results/hotspots/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<svg viewBox="0 0 680 440"' in html and 'role="img"' in html
    # One circle per team of the finest visible level, each with a <title>, and the same teams
    # as rows of the table equivalent.
    circles = re.findall(r"<circle [^>]*><title>([^<]+)</title>", html)
    rows = re.findall(r'<th scope="row"><a href="/results/hotspots/teams/\d+/">([^<]+)</a>', html)
    assert len(circles) == len(rows) >= 5
    assert sorted(c.split(":")[0] for c in circles) == sorted(rows)
    assert hotspot.team.path in html and hotspot.reason.split(";")[0] in html
    assert "previous round (lagged)" in html
    assert " style=" not in html  # the CSP forbids inline styles
    csv_rows = client_for(scene["hr"]).get("/results/hotspots/export.csv").content.decode()
    assert csv_rows.count("\n") == 1 + run.assessments.count()
    api = client_for(scene["hr"]).get(f"/api/v1/hotspots/rounds/{run.round_id}/").json()
    assert len(api["assessments"]) == run.assessments.count()


def test_a_leader_sees_only_their_subtree(scene) -> None:
    hotspot, run, other = scene["hotspot"], scene["run"], scene["other"]
    client = client_for(scene["other_leader"])
    for url in (
        f"/results/hotspots/{hotspot.pk}/",
        f"/results/hotspots/teams/{hotspot.team_id}/",
        f"/api/v1/hotspots/{hotspot.pk}/",
    ):
        assert client.get(url).status_code == 404
    assert client.post(f"/results/hotspots/{hotspot.pk}/", {"state": "resolved"}).status_code == 404
    html = client.get("/results/hotspots/?levels=all").content.decode()
    assert hotspot.team.path not in html
    assert hotspot.team.path not in client.get("/results/hotspots/export.csv").content.decode()
    listed = [h["team_path"] for h in client.get("/api/v1/hotspots/").json()]
    assert all(p.startswith(other + "/") for p in listed)
    paths = [
        a["team_path"]
        for a in client.get(f"/api/v1/hotspots/rounds/{run.round_id}/").json()["assessments"]
    ]
    assert paths and all(p == other or p.startswith(other + "/") for p in paths)
    assert Hotspot.objects.get(pk=hotspot.pk).state == Hotspot.State.NEW
    # No role, no page; no login, the login page.
    nobody = staff_user_create(username="x", password="pw-123456789", kind=Role.Kind.LEADER)
    assert client_for(nobody).get("/api/v1/hotspots/").json() == []
    assert client_for(None).get("/results/hotspots/").status_code == 302


def test_the_teams_leader_records_steps_but_only_hr_opens_a_follow_up(
    scene, django_capture_on_commit_callbacks
) -> None:
    hotspot = scene["hotspot"]
    leader = client_for(scene["own_leader"])
    response = leader.post(
        f"/results/hotspots/{hotspot.pk}/", {"state": "acknowledged", "text": "Met the team"}
    )
    assert response.status_code == 302
    hotspot.refresh_from_db()
    assert hotspot.state == Hotspot.State.ACKNOWLEDGED
    assert hotspot.notes.get().author.username == "own"
    api = leader.post(
        f"/api/v1/hotspots/{hotspot.pk}/notes/",
        {"state": "action_planned", "text": "Usage targets dropped"},
        content_type="application/json",
    )
    assert api.status_code == 201 and api.json()["state"] == "action_planned"
    assert leader.post(f"/results/hotspots/{hotspot.pk}/follow-up/").status_code == 403
    assert leader.post(f"/api/v1/hotspots/{hotspot.pk}/follow-up/").status_code == 403
    assert (
        "Open follow-up pulse"
        not in leader.get(f"/results/hotspots/{hotspot.pk}/").content.decode()
    )
    assert not Round.objects.filter(cadence__isnull=True).exists()

    hr = client_for(scene["hr"])
    assert "Open follow-up pulse" in hr.get(f"/results/hotspots/{hotspot.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=False):
        assert hr.post(f"/results/hotspots/{hotspot.pk}/follow-up/").status_code == 302
    follow_up = Round.objects.get(cadence__isnull=True)
    hotspot.refresh_from_db()
    assert hotspot.follow_up_round == follow_up
    assert hotspot.state == Hotspot.State.FOLLOW_UP_SENT
    timeline = leader.get(f"/results/hotspots/teams/{hotspot.team_id}/").content.decode()
    assert HotspotAssessment.objects.get(team=hotspot.team).run.round.name in timeline
