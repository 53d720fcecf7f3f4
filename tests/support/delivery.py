"""Fixtures for survey delivery (registered in tests/conftest.py): a cadence over the small
organisation, delivery tasks run inline, a settable clock."""

from __future__ import annotations

import datetime as dt

import pytest

from surveys.models import Cadence, SurveyTemplate, Team
from surveys.services.config import cadence_save

DEFAULT_TEMPLATE = "AI pressure & well-being pulse"


@pytest.fixture
def template(db: None) -> SurveyTemplate:
    return SurveyTemplate.objects.get(name=DEFAULT_TEMPLATE)


@pytest.fixture
def cadence(org: dict[str, Team], template: SurveyTemplate) -> Cadence:
    """Every 2 weeks, Monday 09:00 local, 5 days, reminders after 2 and 4 days; Engineering
    without Engineering/Product."""
    return cadence_save(
        name="Engineering pulse",
        template=template,
        audience=[org["Engineering"]],
        excluded=[org["Engineering/Product"]],
        start_date=dt.date(2026, 11, 2),
        reminder_offsets=[2, 4],
    )


@pytest.fixture
def inline_tasks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple]]:
    """Run the delivery tasks in-process when enqueued (explicitly, for these tasks only),
    recording each call; real-worker behaviour is tested in tests/test_delivery_worker.py."""
    from django.db import transaction

    from surveys import tasks

    # The test's transaction never commits: run on-commit work at once.
    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())
    calls: list[tuple[str, tuple]] = []
    for name in ("fan_out_round", "invite_chunk", "round_closed"):
        task = getattr(tasks, name)

        def delay(*args: object, _task: object = task, _name: str = name) -> None:
            calls.append((_name, args))
            _task(*args)  # type: ignore[operator]

        monkeypatch.setattr(task, "delay", delay)
    return calls


class Clock:
    """A settable `django.utils.timezone.now` for the code under test."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from django.utils import timezone

    fake = Clock(dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC))  # Monday 09:00 in Berlin
    monkeypatch.setattr(timezone, "now", fake)
    return fake
