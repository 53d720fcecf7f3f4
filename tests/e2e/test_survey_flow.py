"""End to end in Chromium with a real worker: roster -> cadence -> round opened by the worker ->
invitation email read from the email backend -> answer in the browser -> thank-you -> reminders
to the others only -> close; plus the duplicate-submission and closed-link cases."""

from __future__ import annotations

import collections
import datetime as dt
import re
import time

import pytest
from axe_playwright_python.sync_playwright import Axe

from surveys.models import Answer, Invitation, Response, Round
from surveys.services.organisation import roster_import
from surveys.tasks import send_reminders
from tests.conftest import ORG_CSV, PASSWORD, WorkerProcess
from tests.support.email import read_mailbox

pytestmark = pytest.mark.e2e

AUDIENCE = {
    "boss@acme.test",
    "plat.lead@acme.test",
    "api1@acme.test",
    "api2@acme.test",
    "infra1@acme.test",
}


def _serious(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _wait(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError("timed out")


def _mail_to(mailbox: str) -> collections.Counter:
    return collections.Counter(
        re.search(r"^To: (.+)$", m, re.M).group(1) for m in read_mailbox(mailbox)
    )


def test_the_whole_round_in_a_browser(
    live_server, browser, transactional_db, hr_user, tmp_path
) -> None:
    roster_import(data=ORG_CSV)
    mailbox = tmp_path / "mail"
    mailbox.mkdir()
    worker = WorkerProcess(
        extra_env={
            "EMAIL_BACKEND": "tests.support.email.SlowFileBackend",
            "EMAIL_FILE_PATH": str(mailbox),
            "BASE_URL": live_server.url,
        }
    )
    try:
        worker.wait_ready()
        hr = browser.new_context().new_page()
        hr.set_default_timeout(20_000)
        hr.goto(f"{live_server.url}/login/")
        hr.get_by_label("Username").fill("hr")
        hr.get_by_label("Password").fill(PASSWORD)
        hr.get_by_role("button", name="Log in").click()
        hr.wait_for_url(re.compile(r"/hr/$"))

        # HR creates a cadence over Engineering without Engineering/Product.
        hr.goto(f"{live_server.url}/hr/cadences/new/")
        assert _serious(hr) == []
        hr.get_by_label("Name").fill("Engineering pulse")
        hr.get_by_label("Survey template").select_option(label="AI pressure & well-being pulse")
        hr.locator("fieldset", has_text="Audience").get_by_label("Engineering", exact=True).check()
        hr.locator("fieldset", has_text="Leave out").get_by_label(
            "Engineering/Product", exact=True
        ).check()
        hr.get_by_label("First possible date (YYYY-MM-DD)").fill(dt.date.today().isoformat())
        hr.get_by_role("button", name="Save cadence").click()
        hr.wait_for_url(re.compile(r"/hr/cadences/$"))
        hr.get_by_role("button", name="Send Engineering pulse now").click()
        hr.wait_for_url(re.compile(r"/hr/rounds/\d+/$"))

        # The real worker fans out and sends; read the invitation from the email backend.
        _wait(lambda: set(_mail_to(str(mailbox))) == AUDIENCE)
        message = next(m for m in read_mailbox(str(mailbox)) if "To: api1@acme.test" in m)
        link = re.search(r"(http://\S+/s/[\w-]+)", message).group(1)
        assert link.startswith(live_server.url)

        # The employee answers on a phone.
        phone = browser.new_context(viewport={"width": 375, "height": 740}).new_page()
        phone.set_default_timeout(20_000)
        phone.goto(link)
        assert phone.get_by_text("Your team has 2 invitees").is_visible()
        assert _serious(phone) == []
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375
        # Submitting with one question unanswered keeps the answers and names the gap.
        groups = phone.locator("fieldset.question")
        count = groups.count()
        for i in range(1, count):
            groups.nth(i).locator("input[type=radio]").first.check()
        phone.get_by_role("button", name="Send my answers").click()
        assert phone.get_by_text("1 question still needs an answer").is_visible()
        assert _serious(phone) == []
        assert (
            phone.locator("fieldset.question")
            .nth(1)
            .locator("input[type=radio]")
            .first.is_checked()
        )
        assert Response.objects.count() == 0
        # Start again from the link (a fresh GET in the history), answer everything.
        phone.goto(link)
        groups = phone.locator("fieldset.question")
        groups.nth(0).get_by_label("Prefer not to say").check()
        for i in range(1, count):
            groups.nth(i).locator("input[type=radio]").first.check()
        phone.get_by_role("button", name="Send my answers").click()
        phone.wait_for_url(re.compile(r"/thanks$"))
        assert phone.get_by_role("heading", name="If you are struggling").is_visible()
        assert _serious(phone) == []

        # Back button or the link again: nothing more is stored, and it says so kindly.
        phone.go_back()
        assert phone.get_by_text("You have already answered this pulse").is_visible()
        phone.goto(link)
        assert phone.get_by_text("You have already answered this pulse").is_visible()
        assert Response.objects.count() == 1
        assert Answer.objects.filter(value__isnull=True).count() == 1

        # Reminders (two days later) go to the four others only, through the worker.
        Invitation.objects.update(sent_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=2, hours=1))
        send_reminders.delay()
        _wait(lambda: sum(_mail_to(str(mailbox)).values()) == 9)
        to = _mail_to(str(mailbox))
        assert to["api1@acme.test"] == 1
        assert all(to[email] == 2 for email in AUDIENCE - {"api1@acme.test"})

        # HR closes the round; the link then says the pulse has closed.
        hr.reload()
        hr.get_by_role("button", name="Close now").click()
        assert hr.get_by_text("Round closed").is_visible()
        assert Round.objects.get().status == Round.Status.CLOSED
        other = next(m for m in read_mailbox(str(mailbox)) if "To: api2@acme.test" in m)
        closed = phone.goto(re.search(r"(http://\S+/s/[\w-]+)", other).group(1))
        assert closed.status == 410
        assert phone.get_by_role("heading", name="This pulse has closed").is_visible()
    finally:
        worker.stop()


def test_the_answering_page_works_without_javascript(
    live_server, browser, transactional_db
) -> None:
    from surveys.models import Employee, SurveyTemplate, Team
    from surveys.services.config import cadence_save
    from surveys.services.delivery import invitation_token, invitations_create, round_open

    roster_import(data=ORG_CSV)
    cadence = cadence_save(
        name="No JS",
        template=SurveyTemplate.objects.get(name="AI pressure & well-being pulse"),
        audience=[Team.objects.get(path="Engineering")],
        start_date=dt.date.today(),
    )
    round_, _ = round_open(cadence=cadence, day=dt.date.today(), send_now=True)
    boss = Employee.objects.get(email="boss@acme.test")
    invitations_create(round_=round_, employee_ids=[boss.pk])
    invitation = Invitation.objects.get(employee=boss)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/s/{invitation_token(invitation.nonce)}")
    for group in page.locator("fieldset.question").all():
        group.locator("input[type=radio]").first.check()
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url(re.compile(r"/thanks$"))
    assert page.get_by_role("heading", name="If you are struggling").is_visible()
    assert Response.objects.count() == 1
    context.close()
