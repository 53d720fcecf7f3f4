"""The hotspot service on generated organisations, through the real tables: rosters imported,
rounds answered with `response_submit` and closed, publications computed by the after-close
hook, usage imported from generated exports. The statistics themselves are tested at the pure
level (tests/analytics/test_hotspot_stats.py, many seeds); these prove the join feeds them
released values only, that storage is idempotent and keeps HR's work, that each alert goes out
once and that the follow-up pulse reaches the team's audience only."""

from __future__ import annotations

import random

import pytest
from django.conf import settings
from django.core import mail

from analytics import hotspots
from analytics.demo import HOT, TeamProfile
from analytics.models import Hotspot, HotspotAssessment, HotspotNote, HotspotRun
from analytics.tasks import send_hotspot_alert
from surveys.models import Invitation, Role, Round
from surveys.services import staff_user_create
from tests.support.hotspots import DEPARTMENTS, PLANTED, reset_world, some_hotspot, world


def _flagged(round_: Round) -> set[str]:
    return set(
        HotspotAssessment.objects.filter(
            run__round=round_, status=HotspotAssessment.Status.HOTSPOT
        ).values_list("team_path", flat=True)
    )


def test_the_hook_runs_after_the_publication() -> None:
    hooks = settings.PULSE_AFTER_CLOSE_HOOKS
    assert hooks.index("analytics.hotspots.round_hotspots_after_close") > hooks.index(
        "analytics.publication.round_results_publish"
    )


def test_it_finds_planted_hotspots_and_nothing_else(db: None) -> None:
    """Over several generated organisations, each with two planted teams: recall and precision
    >= 0.9 (a flag on a department that contains a planted team counts as correct). Recall is
    over the planted teams released on both sides: a planted team whose well-being cell the
    publication hides (e.g. banded because all but one answer fall in the low band) cannot be
    assessed, by design."""
    found = planted_assessed = correct = flagged_total = 0
    for seed in range(5):
        rng = random.Random(100 + seed)
        hot = tuple(rng.sample([f"{d}/T{i}" for d in DEPARTMENTS for i in range(1, 5)], 2))
        [round_], _ = world(seed=100 + seed, hot=hot)
        assessed = set(
            HotspotAssessment.objects.filter(run__round=round_).values_list("team_path", flat=True)
        )
        flagged = _flagged(round_)
        planted_assessed += len(set(hot) & assessed)
        found += len(set(hot) & flagged)
        flagged_total += len(flagged)
        correct += sum(1 for f in flagged if any(h == f or h.startswith(f + "/") for h in hot))
        # The Hotspot rows are the flagged assessments, with their reasons in words and numbers.
        hotspot_rows = Hotspot.objects.filter(first_round=round_)
        assert {h.team.path for h in hotspot_rows} == flagged
        for h in hotspot_rows:
            assert "x the organisation median; AI Pressure" in h.reason
            assert h.figures["respondents"] >= 5 and h.figures["contributors"] >= 5
        reset_world()
    assert planted_assessed >= 7
    assert found / planted_assessed >= 0.9
    assert correct / flagged_total >= 0.9


def test_an_organisation_without_planted_effect_flags_no_team(db: None) -> None:
    flagged_orgs = 0
    for seed in range(4):
        [round_], _ = world(seed=200 + seed)
        run = HotspotRun.objects.get(round=round_)
        assert run.n_tested >= 8
        flagged_orgs += bool(_flagged(round_))
        reset_world()
    assert flagged_orgs == 0


def test_a_team_below_k_on_either_side_never_appears(db: None) -> None:
    """Eng/Tiny (3 people) answers like a hotspot; Ops/FewUsers answers like one but only 3 of
    its members use AI; Biz/OneHeavy has one person with nearly all of the usage. None of them
    may be assessed, flagged, alerted or counted; Company (the head alone) neither."""
    [round_], _ = world(
        seed=7,
        hot=("Ops/T1",),
        extra_teams={"Eng/Tiny": 3, "Ops/FewUsers": 10, "Biz/OneHeavy": 10},
        extra_profiles={
            "Eng/Tiny": HOT,
            "Ops/FewUsers": TeamProfile(pressure=80, wellbeing=28, intensity=95_000, users=3),
            "Biz/OneHeavy": TeamProfile(pressure=80, wellbeing=28, intensity=95_000, users=1),
        },
    )
    run = HotspotRun.objects.get(round=round_)
    paths = set(run.assessments.values_list("team_path", flat=True))
    hidden = {"Eng/Tiny", "Ops/FewUsers", "Biz/OneHeavy", "Company"}
    assert not paths & hidden
    assert not Hotspot.objects.filter(team__path__in=hidden).exists()
    assert run.n_excluded >= 3
    # Everything stored names only teams released on both sides.
    for a in run.assessments.all():
        assert a.respondents >= 5 and a.contributors >= 5
    # The join itself gives no number for a hidden side.
    from analytics.models import Publication

    inputs = hotspots.round_inputs(publication=Publication.objects.get(round=round_))
    by_path = {t.path: t for t in inputs.teams}
    assert "Eng/Tiny" not in by_path or by_path["Eng/Tiny"].survey is None
    assert by_path["Ops/FewUsers"].usage is None
    assert by_path["Biz/OneHeavy"].usage is None
    both = sum(1 for t in inputs.teams if t.survey is not None and t.usage is not None)
    for correlation in run.correlations:
        assert correlation["n_teams"] <= both
    # The positive control: a planted team beside them is found (a sibling of Eng/Tiny may be
    # hidden itself, to protect it: secondary suppression).
    assert "Ops/T1" in _flagged(round_)


@pytest.fixture
def alerted_hr(db: None):  # type: ignore[no-untyped-def]
    return staff_user_create(
        username="hr-alerts", password="x-long-password-1", kind=Role.Kind.HR, email="hr@org.test"
    )


def test_recomputing_keeps_states_and_notes(alerted_hr, django_capture_on_commit_callbacks) -> None:
    [round_], _ = world(seed=11, hot=PLANTED)
    hotspot = some_hotspot()
    hotspots.hotspot_update(
        hotspot=hotspot, user=alerted_hr, state=Hotspot.State.ACKNOWLEDGED, text="Talked to lead"
    )
    first_run = HotspotRun.objects.get(round=round_).pk
    with django_capture_on_commit_callbacks(execute=False):
        hotspots.hotspots_compute(round_id=round_.pk)
    again = Hotspot.objects.get(team=hotspot.team)
    assert again.pk == hotspot.pk
    assert again.state == Hotspot.State.ACKNOWLEDGED
    assert list(again.notes.values_list("text", flat=True)) == ["Talked to lead"]
    assert HotspotRun.objects.filter(round=round_).count() == 1
    assert HotspotRun.objects.get(round=round_).pk != first_run
    assert Hotspot.objects.count() == len(_flagged(round_))


def test_the_alert_email_is_sent_once_even_if_the_task_runs_twice(
    alerted_hr, django_capture_on_commit_callbacks
) -> None:
    [round_], _ = world(seed=12, hot=PLANTED)
    Hotspot.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        hotspots.hotspots_compute(round_id=round_.pk)
    hotspot = some_hotspot()
    assert len(callbacks) == Hotspot.objects.count() >= 1
    mail.outbox.clear()
    assert send_hotspot_alert(hotspot.pk) is True
    assert send_hotspot_alert(hotspot.pk) is False
    sent = [m for m in mail.outbox if hotspot.team.path in m.subject]
    assert len(sent) == 1
    assert sent[0].to == ["hr@org.test"]
    assert "AI Pressure" in sent[0].body and f"/results/hotspots/{hotspot.pk}/" in sent[0].body
    # A recomputation does not enqueue an alert that went out already.
    with django_capture_on_commit_callbacks(execute=False) as again:
        hotspots.hotspots_compute(round_id=round_.pk)
    assert Hotspot.objects.get(pk=hotspot.pk).alerted_at is not None
    assert len(again) == Hotspot.objects.filter(alerted_at__isnull=True).count()


def test_an_unresolved_hotspot_continues_into_the_next_round_that_flags_it(db: None) -> None:
    """Three rounds (waves A, B, A). A team flagged in the first and the third round keeps one
    hotspot row (one alert), whatever the second round said (its CBI cells may be banded)."""
    rounds, _ = world(seed=13, hot=PLANTED, rounds=3)
    again = _flagged(rounds[0]) & _flagged(rounds[2])
    assert again
    for path in again:
        [hotspot] = Hotspot.objects.filter(team__path=path)
        assert hotspot.first_round == rounds[0]
        assert hotspot.last_round == rounds[2]
    for path in _flagged(rounds[2]) - _flagged(rounds[0]) - _flagged(rounds[1]):
        assert Hotspot.objects.get(team__path=path).first_round == rounds[2]
    lagged = [c for c in HotspotRun.objects.get(round=rounds[2]).correlations if c["lag"] == 1]
    assert any(c["n_teams"] >= 5 and c["r"] is not None for c in lagged)


def test_the_alert_also_goes_to_the_configured_extra_recipients(
    alerted_hr, settings, django_capture_on_commit_callbacks
) -> None:
    settings.PULSE_HOTSPOT_ALERT_TO = ["wellbeing@org.test", "hr@org.test"]
    [round_], _ = world(seed=12, hot=PLANTED)
    Hotspot.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=False):
        hotspots.hotspots_compute(round_id=round_.pk)
    hotspot = some_hotspot()
    mail.outbox.clear()
    assert send_hotspot_alert(hotspot.pk) is True
    [sent] = [m for m in mail.outbox if hotspot.team.path in m.subject]
    # HR's own address once, the extra one added; nobody else.
    assert sent.to == ["hr@org.test", "wellbeing@org.test"]


def test_the_follow_up_pulse_invites_the_team_audience_only(
    alerted_hr, django_capture_on_commit_callbacks, inline_tasks
) -> None:
    world(seed=14, hot=PLANTED)
    hotspot = some_hotspot()
    mail.outbox.clear()
    follow_up = hotspots.hotspot_follow_up_open(hotspot=hotspot, user=alerted_hr)
    assert follow_up.cadence is None and follow_up.status == Round.Status.OPEN
    scales = set(follow_up.questions.values_list("scale__code", flat=True))
    assert scales == {"WHO5", "AUP", "PAU", "AWI"}
    assert follow_up.questions.count() == 12
    invited = set(Invitation.objects.filter(round=follow_up).values_list("employee__team__path"))
    assert invited == {(hotspot.team.path,)}
    assert Invitation.objects.filter(round=follow_up).count() == 14
    assert len(mail.outbox) == 14
    hotspot.refresh_from_db()
    assert hotspot.state == Hotspot.State.FOLLOW_UP_SENT
    assert hotspot.follow_up_round == follow_up
    assert hotspot.notes.filter(state_to=Hotspot.State.FOLLOW_UP_SENT).count() == 1
    # Asking again returns the same round and invites nobody twice.
    assert hotspots.hotspot_follow_up_open(hotspot=hotspot, user=alerted_hr) == follow_up
    assert Round.objects.filter(cadence__isnull=True).count() == 1
    assert len(mail.outbox) == 14
    # A closed follow-up is published but not assessed against the organisation.
    from surveys.services.delivery import round_after_close, round_close

    round_close(round_id=follow_up.pk)
    round_after_close(round_id=follow_up.pk)
    assert not HotspotRun.objects.filter(round=follow_up).exists()


def test_the_follow_up_pulse_reminds_only_those_who_have_not_answered(
    alerted_hr, django_capture_on_commit_callbacks, inline_tasks
) -> None:
    import datetime as dt

    from surveys.services.delivery import invitation_token, reminders_send_due
    from surveys.services.responses import response_submit

    world(seed=16, hot=PLANTED)
    hotspot = some_hotspot()
    follow_up = hotspots.hotspot_follow_up_open(hotspot=hotspot, user=alerted_hr)
    invitations = list(Invitation.objects.filter(round=follow_up).order_by("pk"))
    answered, waiting = invitations[:3], invitations[3:]
    for invitation in answered:
        questions = follow_up.questions.values_list("pk", flat=True)
        response_submit(
            token=invitation_token(invitation.nonce), answers=dict.fromkeys(questions, 3.0)
        )
    mail.outbox.clear()
    sent_at = Invitation.objects.filter(round=follow_up).latest("sent_at").sent_at
    # Before the first offset nothing is due; after it, one reminder to each non-respondent.
    assert reminders_send_due(now=sent_at + dt.timedelta(days=1)) == 0
    day_two = sent_at + dt.timedelta(days=2, minutes=1)
    assert reminders_send_due(now=day_two) == len(waiting)
    assert reminders_send_due(now=day_two) == 0
    reminded = sorted(address for m in mail.outbox for address in m.to)
    assert reminded == sorted(i.employee.email for i in waiting)
    assert not {i.employee.email for i in answered} & set(reminded)
    # The second offset sends the second and last reminder; nothing after the round closes.
    assert reminders_send_due(now=sent_at + dt.timedelta(days=4, minutes=1)) == len(waiting)
    assert reminders_send_due(now=sent_at + dt.timedelta(days=6)) == 0
    assert reminders_send_due(now=follow_up.closes_at + dt.timedelta(minutes=1)) == 0
    assert len(mail.outbox) == 2 * len(waiting)


def test_a_lost_follow_up_fan_out_is_resumed_by_the_sweep(
    alerted_hr, django_capture_on_commit_callbacks, inline_tasks
) -> None:
    from surveys.services.delivery import rounds_resume_fan_out

    world(seed=17, hot=PLANTED)
    hotspot = some_hotspot()
    follow_up = hotspots.hotspot_follow_up_open(hotspot=hotspot, user=alerted_hr)
    # Lose half of the fan-out, as if a chunk message had been dropped by the broker.
    invited = Invitation.objects.filter(round=follow_up).order_by("pk")
    total = invited.count()
    Invitation.objects.filter(
        pk__in=list(invited.values_list("pk", flat=True)[: total // 2])
    ).delete()
    mail.outbox.clear()
    assert rounds_resume_fan_out() == 1
    assert Invitation.objects.filter(round=follow_up).count() == total
    assert set(
        Invitation.objects.filter(round=follow_up).values_list("employee__team__path", flat=True)
    ) == {hotspot.team.path}
    assert len(mail.outbox) == total // 2
    # Complete again: the sweep has nothing left to resume and sends nothing.
    assert rounds_resume_fan_out() == 0
    assert len(mail.outbox) == total // 2


def test_a_state_change_needs_a_known_state_and_a_fresh_view(alerted_hr) -> None:
    world(seed=15, hot=PLANTED)
    hotspot = some_hotspot()
    with pytest.raises(hotspots.HotspotError):
        hotspots.hotspot_update(hotspot=hotspot, user=alerted_hr, state="forgotten")
    with pytest.raises(hotspots.HotspotError):
        hotspots.hotspot_update(hotspot=hotspot, user=alerted_hr)
    stale = Hotspot.objects.get(pk=hotspot.pk)
    hotspots.hotspot_update(hotspot=hotspot, user=alerted_hr, state=Hotspot.State.RESOLVED)
    with pytest.raises(hotspots.HotspotError):
        hotspots.hotspot_update(hotspot=stale, user=alerted_hr, state=Hotspot.State.ACKNOWLEDGED)
    assert Hotspot.objects.get(pk=hotspot.pk).state == Hotspot.State.RESOLVED
    assert HotspotNote.objects.filter(hotspot=hotspot).count() == 1


def test_the_demo_shows_its_planted_hotspots_on_first_start(db: None) -> None:
    """`make run` seeds the demo once (`seed_demo`); its planted teams are hotspots at once, on
    usage months that each round's usage month and the month before are complete for."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from analytics import gate
    from analytics.demo import DEMO_HOTSPOTS
    from analytics.models import UsageRelease
    from surveys.demo import DEMO_HR, DEMO_PASSWORD
    from tests.conftest import client_for

    call_command("seed_demo")
    assert set(Hotspot.objects.values_list("team__path", flat=True)) == set(DEMO_HOTSPOTS)
    runs = list(HotspotRun.objects.order_by("round__scheduled_for"))
    assert len(runs) == 4
    for run in runs:
        assert (run.period_start, run.period_end) == gate.usage_round_period(run.round)
        assert run.n_tested >= 10
    assert "Engineering/Platform/API" in _flagged(runs[-1].round)
    for start, end in UsageRelease.objects.values_list("start", "end"):
        assert start.day == 1 and gate.month_bounds(end)[1] == end
    hr = get_user_model().objects.get(username=DEMO_HR)
    assert hr.check_password(DEMO_PASSWORD)
    page = client_for(hr).get("/results/hotspots/").content.decode()
    assert "Engineering/Platform/API" in page
