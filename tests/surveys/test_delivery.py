"""Cadences, rounds, invitations, emails, reminders and closing."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.core.management import call_command

from surveys.models import Cadence, Invitation, Round
from surveys.services import delivery
from surveys.services.delivery import (
    cadence_occurrences,
    invitation_token,
    reminders_send_due,
    round_close,
    rounds_close_due,
    rounds_open_due,
    token_hash,
)

UTC = dt.UTC
# Monday 2026-11-16 is the cadence's second occurrence (start 2026-11-02, every 2 weeks).
MONDAY = dt.date(2026, 11, 16)
BERLIN_9AM = dt.datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # 09:00 CET
PARIS_9AM = BERLIN_9AM
AUDIENCE = {
    "boss@acme.test",
    "plat.lead@acme.test",
    "api1@acme.test",
    "api2@acme.test",
    "infra1@acme.test",
}


def _links(messages: list) -> list[str]:
    return [re.search(r"https?://\S+/s/[\w-]+", m.body).group(0) for m in messages]


def test_occurrences_every_two_weeks_from_the_first_chosen_weekday(cadence) -> None:
    assert cadence_occurrences(cadence, until=dt.date(2026, 12, 1)) == [
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 16),
        dt.date(2026, 11, 30),
    ]


def test_monthly_occurrences_take_the_first_weekday_of_each_month(cadence) -> None:
    cadence.frequency = Cadence.Frequency.MONTHLY
    cadence.weekday = 2  # Wednesday
    assert cadence_occurrences(cadence, until=dt.date(2027, 1, 31)) == [
        dt.date(2026, 11, 4),
        dt.date(2026, 12, 2),
        dt.date(2027, 1, 6),
    ]


def test_two_beats_open_one_round_and_send_each_email_once(cadence, inline_tasks, clock) -> None:
    now = clock.advance(minutes=5)
    first = rounds_open_due(now=now)
    delivery.invitations_send_all_due(now=now)
    second = rounds_open_due(now=now)
    delivery.invitations_send_all_due(now=now)

    assert len(first) == 1 and second == []
    assert Round.objects.count() == 1
    round_ = Round.objects.get()
    assert (round_.scheduled_for, round_.wave, round_.sequence) == (MONDAY, "B", 1)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(AUDIENCE)


def test_the_audience_excludes_subtrees_and_inactive_people(cadence, inline_tasks, clock) -> None:
    from surveys.models import Employee

    Employee.objects.filter(email="infra1@acme.test").update(is_active=False)
    rounds_open_due(now=BERLIN_9AM)
    invited = set(Invitation.objects.values_list("employee__email", flat=True))
    assert invited == AUDIENCE - {"infra1@acme.test"}
    assert "web1@acme.test" not in invited and "sales1@acme.test" not in invited


def test_each_employee_is_invited_at_their_own_local_time(cadence, inline_tasks, clock) -> None:
    from surveys.models import Employee

    Employee.objects.filter(email="api2@acme.test").update(timezone="America/New_York")
    rounds_open_due()
    assert "api2@acme.test" not in [m.to[0] for m in mail.outbox]
    assert len(mail.outbox) == 4

    new_york_9am = dt.datetime(2026, 11, 16, 14, 0, tzinfo=UTC)
    assert delivery.invitations_send_all_due(now=new_york_9am - dt.timedelta(minutes=1)) == 0
    assert delivery.invitations_send_all_due(now=new_york_9am) == 1
    assert mail.outbox[-1].to == ["api2@acme.test"]
    round_ = Round.objects.get()
    assert round_.opens_at == BERLIN_9AM
    assert round_.closes_at == new_york_9am + dt.timedelta(days=5)


def test_a_round_whose_window_has_passed_is_not_opened_late(cadence, inline_tasks, clock) -> None:
    assert rounds_open_due(now=clock.advance(days=6)) == []
    assert not Round.objects.exists()


def test_the_invitation_email_carries_a_personal_link_stored_only_as_a_hash(
    cadence, inline_tasks, clock, settings
) -> None:
    settings.BASE_URL = "https://pulse.example.com"
    rounds_open_due(now=BERLIN_9AM)
    message = next(m for m in mail.outbox if m.to == ["api1@acme.test"])
    link = _links([message])[0]
    assert link.startswith("https://pulse.example.com/s/")
    token = link.rsplit("/", 1)[1]
    html = message.alternatives[0][0]
    assert link in html and "5 or more" in message.body
    invitation = Invitation.objects.get(employee__email="api1@acme.test")
    assert invitation.token_hash == token_hash(token) != token
    row = Invitation.objects.filter(pk=invitation.pk).values().get()
    assert all(token not in str(value) for value in row.values())


def test_reminders_go_only_to_those_who_have_not_answered_and_only_once(
    cadence, inline_tasks, clock
) -> None:
    rounds_open_due(now=BERLIN_9AM)
    Invitation.objects.filter(employee__email="api1@acme.test").update(responded=True)
    sent_at = Invitation.objects.first().sent_at
    mail.outbox.clear()

    assert reminders_send_due(now=sent_at + dt.timedelta(days=1)) == 0
    day2 = sent_at + dt.timedelta(days=2, minutes=1)
    assert reminders_send_due(now=day2) == 4
    assert reminders_send_due(now=day2) == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted(AUDIENCE - {"api1@acme.test"})
    assert all("reminder" in m.body.lower() for m in mail.outbox)
    first_links = _links(mail.outbox)

    Invitation.objects.filter(employee__email="api2@acme.test").update(responded=True)
    mail.outbox.clear()
    assert reminders_send_due(now=sent_at + dt.timedelta(days=4, minutes=1)) == 3
    assert "api2@acme.test" not in [m.to[0] for m in mail.outbox]
    assert set(_links(mail.outbox)) <= set(first_links)  # the same personal link again


def test_close_due_rounds_closes_once_and_runs_the_after_close_work_once(
    cadence, inline_tasks, clock, django_capture_on_commit_callbacks
) -> None:
    rounds_open_due(now=BERLIN_9AM)
    round_ = Round.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert rounds_close_due(now=round_.closes_at - dt.timedelta(seconds=1)) == []
        assert rounds_close_due(now=round_.closes_at) == [round_.pk]
        assert rounds_close_due(now=round_.closes_at) == []
        assert round_close(round_id=round_.pk) is False
    round_.refresh_from_db()
    assert round_.status == Round.Status.CLOSED
    assert [name for name, _ in inline_tasks if name == "round_closed"] == ["round_closed"]


def test_nothing_opens_before_the_first_audience_time_zone_reaches_its_local_time(
    cadence, inline_tasks, clock
) -> None:
    clock.now = BERLIN_9AM - dt.timedelta(minutes=1)
    assert rounds_open_due() == []
    assert not Round.objects.exists() and mail.outbox == []


def test_no_email_is_sent_for_a_closed_round(cadence, inline_tasks, clock) -> None:
    from surveys.models import Employee

    Employee.objects.filter(email="api2@acme.test").update(timezone="America/New_York")
    rounds_open_due()
    round_ = Round.objects.get()
    round_close(round_id=round_.pk)
    clock.advance(hours=7)
    assert delivery.invitations_send_all_due() == 0
    assert "api2@acme.test" not in [m.to[0] for m in mail.outbox]


def test_open_round_command_sends_now_and_is_idempotent(
    cadence, inline_tasks, clock, capsys
) -> None:
    call_command("open_round", "Engineering pulse")
    call_command("open_round", "Engineering pulse")
    out = capsys.readouterr().out
    assert "Opened round" in out and "Already open" in out
    assert Round.objects.count() == 1
    assert sorted(m.to[0] for m in mail.outbox) == sorted(AUDIENCE)


def test_open_round_command_names_the_cadences_when_unknown(cadence) -> None:
    from django.core.management import CommandError

    with pytest.raises(CommandError, match=r"No cadence 'nope'\. Cadences: Engineering pulse"):
        call_command("open_round", "nope")


def test_close_round_command(cadence, inline_tasks, clock, capsys) -> None:
    call_command("open_round", "Engineering pulse")
    round_ = Round.objects.get()
    call_command("close_round", str(round_.pk))
    call_command("close_round", str(round_.pk))
    out = capsys.readouterr().out
    assert f"Round {round_.pk} closed" in out and "was already closed" in out


def test_periodic_commands_twice_change_nothing_the_second_time(
    cadence, inline_tasks, clock, capsys
) -> None:
    call_command("open_due_rounds")
    call_command("open_due_rounds")
    clock.advance(days=2, hours=1)
    for _ in range(2):
        call_command("send_reminders")
        call_command("close_due_rounds")
    clock.advance(days=4)
    call_command("close_due_rounds")
    call_command("close_due_rounds")
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        "1 round(s) opened, 0 fan-out(s) resumed, 0 invitation(s) sent",
        "0 round(s) opened, 0 fan-out(s) resumed, 0 invitation(s) sent",
    ]
    assert out[2:6] == [
        "5 reminder(s) sent",
        "0 round(s) closed",
        "0 reminder(s) sent",
        "0 round(s) closed",
    ]
    round_id = Round.objects.get().pk
    assert out[6:] == [f"1 round(s) closed: [{round_id}]", "0 round(s) closed"]
    assert Invitation.objects.count() == 5
    assert len(mail.outbox) == 10  # 5 invitations + 5 first reminders, nothing twice


def test_wave_rotation_alternates_whole_scales(cadence, inline_tasks, clock) -> None:
    first, _ = delivery.round_open(cadence=cadence, day=dt.date(2026, 11, 2))
    second, _ = delivery.round_open(cadence=cadence, day=dt.date(2026, 11, 16))
    a = set(first.questions.values_list("code", flat=True))
    b = set(second.questions.values_list("code", flat=True))
    assert first.wave == "A" and second.wave == "B"
    assert {f"WHO5_{i}" for i in range(1, 6)} <= a and not any(c.startswith("WHO5") for c in b)
    assert {f"CBI{i}" for i in range(1, 8)} <= b and not any(c.startswith("CBI") for c in a)
    # The recommendation score comes with the first round of the quarter only.
    assert "REC1" in a and "REC1" not in b


def test_the_token_is_derived_from_the_secret_key(settings) -> None:
    token = invitation_token("abc")
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789-abcdefghijklmnop"
    assert invitation_token("abc") != token


def test_a_lost_chunk_is_recreated_and_sent_by_the_next_tick(cadence, inline_tasks, clock) -> None:
    delivery.round_open(cadence=cadence, day=clock.now.date(), send_now=True)
    lost = Invitation.objects.filter(employee__email__in=["api1@acme.test", "api2@acme.test"])
    lost.delete()  # as if their chunk's message had died with a worker
    mail.outbox.clear()

    call_command("open_due_rounds")

    assert Invitation.objects.count() == 5
    assert sorted(m.to[0] for m in mail.outbox) == ["api1@acme.test", "api2@acme.test"]


def test_each_email_is_personal_and_the_name_is_escaped_in_html(
    cadence, inline_tasks, clock
) -> None:
    from surveys.models import Employee

    Employee.objects.filter(email="api1@acme.test").update(name="Ana <b>&amp; Co")
    rounds_open_due()
    ana = next(m for m in mail.outbox if m.to == ["api1@acme.test"])
    boss = next(m for m in mail.outbox if m.to == ["boss@acme.test"])
    assert "Hello Ana <b>&amp; Co," in ana.body
    assert "Hello Ana &lt;b&gt;&amp;amp; Co," in ana.alternatives[0][0]
    assert _links([ana]) != _links([boss])
    assert "PULSE-SLOT" not in ana.body + ana.alternatives[0][0]


def test_hr_sees_fan_out_progress_with_local_times_waiting(
    cadence, inline_tasks, clock, hr_user
) -> None:
    from surveys.models import Employee
    from tests.conftest import client_for

    Employee.objects.filter(email="api2@acme.test").update(timezone="America/New_York")
    rounds_open_due()
    page = client_for(hr_user).get(f"/hr/rounds/{Round.objects.get().pk}/").content.decode()
    assert "4 of 5 invitation emails sent; 1 wait for their recipients' local opening time" in page
    assert "data-auto-refresh" not in page  # nothing in progress: only a scheduled wait
