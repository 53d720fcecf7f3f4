"""Fan-out by real worker processes through the real broker: killed mid-way, it finishes."""

from __future__ import annotations

import collections
import re
import signal
import time

import pytest
from django.utils import timezone

from surveys.models import Invitation, Round, SurveyTemplate
from surveys.services.config import cadence_save
from surveys.services.delivery import round_open
from surveys.services.organisation import roster_import
from surveys.tasks import open_due_rounds
from tests.conftest import WorkerProcess
from tests.support.email import read_mailbox

pytestmark = pytest.mark.worker

HEADER = "email,name,team,manager_email,location,start_date,timezone\n"


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_fan_out_is_restarted_and_finishes_with_no_duplicate_and_no_gap(
    transactional_db, tmp_path
) -> None:
    people = 120
    rows = ["lead@big.test,Lead,Big,,Berlin,2020-01-01,Europe/Berlin"]
    rows += [
        f"p{i:03d}@big.test,P {i},Big/Team{i % 4},lead@big.test,Berlin,2021-01-01,Europe/Berlin"
        for i in range(people - 1)
    ]
    roster_import(data=(HEADER + "\n".join(rows) + "\n").encode())
    from surveys.models import Team

    cadence = cadence_save(
        name="Big pulse",
        template=SurveyTemplate.objects.get(name="AI pressure & well-being pulse"),
        audience=[Team.objects.get(path="Big")],
        start_date=timezone.localdate(),
    )
    mailbox = tmp_path / "mail"
    mailbox.mkdir()
    env = {
        "EMAIL_BACKEND": "tests.support.email.SlowFileBackend",
        "EMAIL_FILE_PATH": str(mailbox),
        "PULSE_FANOUT_CHUNK": "10",
        "PULSE_BROKER_VISIBILITY_TIMEOUT": "5",
        "PULSE_SEND_LEASE_SECONDS": "3",
        "PULSE_TEST_EMAIL_STALL_AT": "50",
        "PULSE_TEST_EMAIL_DELAY": "0.005",
    }
    first = WorkerProcess(extra_env=env)
    try:
        first.wait_ready()
        round_, created = round_open(cadence=cadence, day=timezone.localdate(), send_now=True)
        assert created
        # The worker hangs before writing the 50th email; kill it there, mid-fan-out.
        _wait((tmp_path / "stalled").exists, 90, "the worker to reach the 50th email")
    finally:
        first.stop(signal.SIGKILL)
    sent_before = Invitation.objects.filter(sent_at__isnull=False).count()
    assert 0 < sent_before < people
    assert len(read_mailbox(str(mailbox))) == sent_before  # the stalled email was never sent

    env["PULSE_TEST_EMAIL_STALL_AT"] = "0"
    second = WorkerProcess(extra_env=env)
    try:
        second.wait_ready()
        # The beat's next ticks: the dead worker's leases expire after 3 s.
        deadline = time.monotonic() + 120
        while Invitation.objects.filter(round=round_, sent_at__isnull=True).exists():
            assert time.monotonic() < deadline, "timed out waiting for every invitation"
            open_due_rounds.delay()
            time.sleep(4)
        time.sleep(1)  # let any redelivered chunk finish: it must add nothing
    finally:
        second.stop()

    assert Round.objects.count() == 1
    assert Invitation.objects.count() == people
    assert Invitation.objects.values("employee").distinct().count() == people
    recipients = collections.Counter(
        re.search(r"^To: (.+)$", message, re.M).group(1) for message in read_mailbox(str(mailbox))
    )
    assert len(recipients) == people  # no gap
    assert max(recipients.values()) == 1  # no duplicate
