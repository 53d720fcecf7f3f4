"""The answering page: promise, validation, one submission per invitation, closed links."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from surveys.models import Answer, Comment, Invitation, Response, Round
from surveys.scoring import ANCHORS
from surveys.services.delivery import round_close, rounds_open_due


@pytest.fixture
def opened(cadence, inline_tasks, clock) -> dict[str, str]:
    """The round opened; email -> personal link path."""
    rounds_open_due()
    return {m.to[0]: re.search(r"/s/[\w-]+", m.body).group(0) for m in mail.outbox}


def _valid_post(page: str, *, prefer_not: int = 0) -> dict[str, str]:
    """Answer every radio group of the rendered form: the first option, or prefer-not-to-say
    for the first `prefer_not` questions."""
    names = list(dict.fromkeys(re.findall(r'type="radio" name="(q\d+)"', page)))
    data = {}
    for i, name in enumerate(names):
        values = re.findall(rf'name="{name}" id="[^"]+" value="([^"]+)"', page)
        data[name] = "pns" if i < prefer_not else values[0]
    return data


def test_the_page_states_the_promise_with_the_real_audience_and_threshold(opened) -> None:
    page = Client().get(opened["api1@acme.test"]).content.decode()
    # api1's team (Engineering/Platform/API) has two invitees in this round.
    assert "Your team has <strong>2 invitees</strong>" in page
    assert "groups of <strong>5 or more</strong>" in page
    assert "Prefer not to say" in page
    assert page.count("<fieldset") == Round.objects.get().questions.count()


def test_a_valid_submission_is_stored_anonymously_and_shows_support(opened) -> None:
    client = Client()
    link = opened["api1@acme.test"]
    page = client.get(link).content.decode()
    data = _valid_post(page, prefer_not=2)
    data["comment"] = "Too many dashboards."
    response = client.post(link, data)
    assert response.status_code == 302 and response["Location"] == f"{link}/thanks"
    thanks = client.get(response["Location"]).content.decode()
    assert "If you are struggling" in thanks

    stored = Response.objects.get()
    assert stored.team.path == "Engineering/Platform/API"
    assert (stored.location, stored.tenure_band) == ("Berlin", "5y+")
    values = list(Answer.objects.values_list("value", flat=True))
    assert len(values) == len(data) - 1
    assert values.count(None) == 2  # prefer-not-to-say is missing, never a midpoint
    assert list(Comment.objects.values_list("text", flat=True)) == ["Too many dashboards."]
    assert Invitation.objects.get(employee__email="api1@acme.test").responded


def test_a_second_submission_changes_nothing_and_says_so_kindly(opened) -> None:
    client = Client()
    link = opened["api1@acme.test"]
    data = _valid_post(client.get(link).content.decode())
    assert client.post(link, data).status_code == 302
    again = client.post(link, data)
    assert again.status_code == 200
    assert "You have already answered this pulse" in again.content.decode()
    back = client.get(link)
    assert "You have already answered this pulse" in back.content.decode()
    assert Response.objects.count() == 1
    assert Answer.objects.count() == len(data)


def test_missing_answers_are_named_and_what_was_entered_is_kept(opened) -> None:
    client = Client()
    link = opened["api1@acme.test"]
    data = _valid_post(client.get(link).content.decode())
    first, second, *_ = data
    del data[second]
    response = client.post(link, data)
    page = response.content.decode()
    assert response.status_code == 400
    assert "1 question still needs an answer" in page
    assert "Question 2: Choose an answer" in page
    assert re.search(rf'name="{first}" id="[^"]+" value="{re.escape(data[first])}" checked', page)
    assert not Response.objects.exists()
    assert not Invitation.objects.get(employee__email="api1@acme.test").responded


def test_a_forged_value_outside_the_anchors_is_refused(opened) -> None:
    client = Client()
    link = opened["api1@acme.test"]
    data = _valid_post(client.get(link).content.decode())
    name = next(iter(data))
    data[name] = "50.5"
    assert client.post(link, data).status_code == 400
    assert not Response.objects.exists()


def test_closed_and_unknown_links_get_a_clear_page(opened) -> None:
    client = Client()
    unknown = client.get("/s/not-a-real-token-at-all")
    assert unknown.status_code == 404 and "not recognised" in unknown.content.decode()
    round_close(round_id=Round.objects.get().pk)
    closed = client.get(opened["api1@acme.test"])
    assert closed.status_code == 410 and "has closed" in closed.content.decode()
    post = client.post(opened["api2@acme.test"], {})
    assert post.status_code == 410
    assert not Response.objects.exists()


def test_a_round_closed_after_the_link_was_resolved_stores_nothing(opened) -> None:
    """The page was shown while the round was open; it closes before the submit is stored:
    the store's own check (the share-locked round) refuses it, and nothing is claimed."""
    from surveys.services.responses import (
        LinkState,
        SubmitOutcome,
        invitation_resolve,
        response_submit,
    )

    token = opened["api1@acme.test"].rsplit("/", 1)[1]
    link = invitation_resolve(token=token)
    assert link.state is LinkState.OPEN
    round_ = Round.objects.get()
    answers = {
        q.pk: ANCHORS[q.response_kind][0][0]
        for q in round_.questions.exclude(response_kind="free_text")
    }
    round_close(round_id=round_.pk)
    outcome = response_submit(token=token, answers=answers, comments=["late"], link=link)
    assert outcome is SubmitOutcome.CLOSED
    assert not Response.objects.exists() and not Answer.objects.exists()
    assert not Comment.objects.exists()
    assert not Invitation.objects.get(employee__email="api1@acme.test").responded


def test_answering_pages_are_not_cached(opened) -> None:
    response = Client().get(opened["api1@acme.test"])
    assert response["Cache-Control"] == "no-store, private"


def test_submitting_does_not_need_the_broker(opened, monkeypatch) -> None:
    from kombu.exceptions import OperationalError

    def broker_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("celery.app.task.Task.apply_async", broker_down)
    monkeypatch.setattr("kombu.messaging.Producer.publish", broker_down)
    client = Client()
    link = opened["infra1@acme.test"]
    assert client.post(link, _valid_post(client.get(link).content.decode())).status_code == 302
    assert Response.objects.count() == 1


def test_every_anchor_is_offered_for_every_item(opened) -> None:
    page = Client().get(opened["boss@acme.test"]).content.decode()
    round_ = Round.objects.get()
    for question in round_.questions.exclude(response_kind="free_text"):
        labels = re.findall(
            rf'name="q{question.pk}" id="[^"]+" value="[^"]+">\s*<span>([^<]+)</span>', page
        )
        assert labels == [label for _, label in ANCHORS[question.response_kind]] + [
            "Prefer not to say"
        ]


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submissions_store_exactly_one(cadence, inline_tasks, clock) -> None:
    """Two threads submit the same token at once, many times over: one response each time."""
    import threading

    from django.db import connection

    from surveys.services.delivery import invitation_token
    from surveys.services.responses import SubmitOutcome, response_submit

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    rounds_open_due()
    round_ = Round.objects.get()
    questions = list(round_.questions.exclude(response_kind="free_text"))
    outcomes: list[SubmitOutcome] = []
    races = 0
    for invitation in list(Invitation.objects.filter(round=round_)) * 8:
        # Each race starts from an unanswered invitation.
        Answer.objects.all().delete()
        Response.objects.all().delete()
        Invitation.objects.filter(pk=invitation.pk).update(responded=False)
        races += 1
        token = invitation_token(invitation.nonce)
        answers = {q.pk: ANCHORS[q.response_kind][0][0] for q in questions}
        barrier = threading.Barrier(2)

        def submit(barrier: threading.Barrier, token: str, answers: dict) -> None:
            barrier.wait()
            try:
                outcomes.append(response_submit(token=token, answers=answers))
            finally:
                connection.close()

        threads = [
            threading.Thread(target=submit, args=(barrier, token, answers)) for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert Response.objects.count() == 1, f"race {races}: a double submission stored twice"
    assert outcomes.count(SubmitOutcome.STORED) == races
    assert outcomes.count(SubmitOutcome.ALREADY_ANSWERED) == races
