"""Attack 9 (linkage): nothing in the schema or in a dump links a response to an invitation."""

from __future__ import annotations

import json
import re
import uuid
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client

from surveys.models import Answer, Comment, Invitation, Response, Round
from surveys.services.delivery import round_after_close, round_close, rounds_open_due
from tests.conftest import ROOT
from tests.surveys.test_answering import _valid_post

RESPONSE_TABLES = [Response, Answer, Comment]


def test_response_tables_share_nothing_with_participation_but_the_round() -> None:
    invitation_columns = {f.column for f in Invitation._meta.concrete_fields}
    for model in RESPONSE_TABLES:
        columns = {f.column for f in model._meta.concrete_fields}
        assert columns & invitation_columns <= {"id", "round_id"}, model
        for field in model._meta.concrete_fields:
            assert field.get_internal_type() not in (
                "DateTimeField",
                "DateField",
                "TimeField",
            ), f"{model.__name__}.{field.name} is a time"
            if field.is_relation:
                assert field.related_model.__name__ not in ("Invitation", "Employee"), field
        assert model._meta.pk.get_internal_type() == "UUIDField"


def test_the_response_tables_have_no_timestamp_in_the_database(db: None) -> None:
    with connection.cursor() as cursor:
        for model in RESPONSE_TABLES:
            description = connection.introspection.get_table_description(
                cursor, model._meta.db_table
            )
            for column in description:
                assert "time" not in column.name and "created" not in column.name


@pytest.fixture
def answered(cadence, inline_tasks, clock) -> list[str]:
    """Every invitee answers, in a known order; returns the emails in answering order."""
    from surveys.services.organisation import roster_import

    extra = "\n".join(
        f"p{i}@acme.test,P {i},Engineering/Platform/API,plat.lead@acme.test,Berlin,2021-01-01,Europe/Berlin,,,,"
        for i in range(15)
    )
    from tests.conftest import ORG_CSV

    roster_import(data=ORG_CSV + extra.encode() + b"\n")
    rounds_open_due()
    links = {m.to[0]: re.search(r"/s/[\w-]+", m.body).group(0) for m in mail.outbox}
    order = sorted(links)
    for email in order:
        client = Client()
        page = client.get(links[email]).content.decode()
        data = _valid_post(page)
        data["comment"] = f"comment {email.split('@')[0]}"
        assert client.post(links[email], data).status_code == 302
    return order


def test_ids_are_random_uuid4(answered) -> None:
    for pk in Response.objects.values_list("id", flat=True):
        assert uuid.UUID(str(pk)).version == 4


def test_a_database_dump_does_not_link_responses_to_invitations(answered) -> None:
    out = StringIO()
    call_command(
        "dumpdata",
        "surveys.invitation",
        "surveys.response",
        "surveys.answer",
        "surveys.comment",
        stdout=out,
    )
    records = json.loads(out.getvalue())
    invitations = [r for r in records if r["model"] == "surveys.invitation"]
    responses = [r for r in records if r["model"] == "surveys.response"]
    response_ids = {r["pk"] for r in responses}
    for invitation in invitations:
        assert not set(map(str, invitation["fields"].values())) & response_ids
    for response in responses:
        assert set(response["fields"]) == {
            "round",
            "team",
            "location",
            "tenure_band",
            "generalised",
        }
    assert len(responses) == len(invitations) == len(answered)


def test_after_close_the_physical_order_says_nothing_about_arrival(answered) -> None:
    round_ = Round.objects.get()
    # Arrival order, as the comments tell it (each comment names its author, for this test).
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT text FROM {Comment._meta.db_table}")  # no ORDER BY: physical
        before = [row[0] for row in cursor.fetchall()]
    assert before == [f"comment {e.split('@')[0]}" for e in answered]  # stored in arrival order

    by_email = dict(Invitation.objects.values_list("employee__email", "id"))
    arrival_invitations = [by_email[e] for e in answered]
    round_close(round_id=round_.pk)
    round_after_close(round_id=round_.pk)

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT text FROM {Comment._meta.db_table}")
        after = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT id FROM {Invitation._meta.db_table} WHERE responded")
        invitations_after = [row[0] for row in cursor.fetchall()]
    assert sorted(after) == sorted(before)
    assert after != before
    assert invitations_after != arrival_invitations
    assert sorted(invitations_after) == sorted(arrival_invitations)
    assert Answer.objects.count() == len(answered) * round_.questions.count()


def test_tokens_never_reach_the_logs(answered, caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    link = Invitation.objects.first()
    Client().get("/s/this-token-does-not-exist-anywhere")
    logging.getLogger("django.request").warning("Not Found: /s/abcdefghijklmnop")
    handler_filter = __import__("pulse.logging", fromlist=["x"]).RedactTokensFilter()
    for record in caplog.records:
        handler_filter.filter(record)
        assert "abcdefghijklmnop" not in record.getMessage()
    assert link is not None
    assert ROOT.exists()
