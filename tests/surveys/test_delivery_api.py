"""The API for the bank, templates, cadences, send-now and close-now (HR only)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from surveys.models import Cadence, Question, Round, SurveyTemplate


@pytest.fixture
def api(hr_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(hr_user)
    return client


def test_hr_adds_a_question_without_touching_validated_ones(api) -> None:
    before = list(Question.objects.filter(scale__is_validated=True).values_list("text", flat=True))
    response = api.post(
        "/api/v1/questions/",
        {"text": "Do you have the tools you need?", "response_kind": "agreement"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["validated"] is False
    bad = api.post("/api/v1/questions/", {"text": "x", "response_kind": "who5"}, format="json")
    assert bad.status_code == 400 and "response_kind" in bad.json()
    assert (
        list(Question.objects.filter(scale__is_validated=True).values_list("text", flat=True))
        == before
    )


def test_a_validated_scale_cannot_be_split_across_waves(api) -> None:
    who5 = list(Question.objects.filter(scale__code="WHO5").values_list("pk", flat=True))
    items = [{"question": pk, "wave": "A"} for pk in who5[:3]] + [
        {"question": pk, "wave": "B"} for pk in who5[3:]
    ]
    response = api.post("/api/v1/templates/", {"name": "Split", "items": items}, format="json")
    assert response.status_code == 400
    assert "validated scale" in str(response.json())
    assert not SurveyTemplate.objects.filter(name="Split").exists()


def test_cadences_are_created_validated_and_sent_now_once(
    api, org, django_capture_on_commit_callbacks
) -> None:
    template = SurveyTemplate.objects.get(name="AI pressure & well-being pulse")
    payload = {
        "name": "Weekly WHO",
        "template": template.pk,
        "audience": ["Engineering"],
        "excluded": ["Engineering/Product"],
        "frequency": "weeks",
        "interval_weeks": 1,
        "start_date": "2026-11-02",
    }
    # Wave A/B alternate every round: WHO-5 every 2 weeks is fine even on a weekly cadence.
    created = api.post("/api/v1/cadences/", payload, format="json")
    assert created.status_code == 201, created.json()
    cadence_id = created.json()["id"]
    unknown = api.post(
        "/api/v1/cadences/", {**payload, "name": "x", "audience": ["Nope"]}, format="json"
    )
    assert unknown.status_code == 400 and "Unknown team path" in str(unknown.json())
    late = api.put(
        f"/api/v1/cadences/{cadence_id}/", {**payload, "reminder_offsets": [2, 9]}, format="json"
    )
    assert late.status_code == 400 and "reminder_offsets" in late.json()
    assert Cadence.objects.get(pk=cadence_id).reminder_offsets == [2, 4]

    with django_capture_on_commit_callbacks(execute=False):
        first = api.post(f"/api/v1/cadences/{cadence_id}/send-now/")
        second = api.post(f"/api/v1/cadences/{cadence_id}/send-now/")
    assert (first.status_code, second.status_code) == (201, 200)
    assert Round.objects.count() == 1
    closed = api.post(f"/api/v1/rounds/{first.json()['id']}/close/")
    assert closed.json()["status"] == "closed"


def test_leaders_cannot_configure(leader_user) -> None:
    client = APIClient()
    client.force_authenticate(leader_user)
    for url in ("/api/v1/questions/", "/api/v1/templates/", "/api/v1/cadences/"):
        assert client.get(url).status_code == 403
    assert client.post("/api/v1/rounds/1/close/").status_code == 403
