"""Shared fixtures: a small organisation, one user per role, a real Celery worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from hypothesis import settings as hypothesis_settings

from surveys.models import Role, Team
from surveys.services import roster_import, staff_user_create

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls made by the
# test itself are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ["tests.support.delivery"]

# CI runs the same Hypothesis examples every time (a red build is then reproducible, never a
# roll of the dice); locally the examples vary from run to run.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PASSWORD = "correct-horse-battery"

ORG_CSV = b"""email,name,team,manager_email,location,start_date,timezone,github_login,aws_user_id,openai_user_id,upn
boss@acme.test,Boss,Engineering,,Berlin,2015-01-01,Europe/Berlin,boss-gh,,,boss@acme.test
plat.lead@acme.test,Plat Lead,Engineering/Platform,boss@acme.test,Berlin,2016-01-01,Europe/Berlin,platlead,,,
api1@acme.test,Api One,Engineering/Platform/API,plat.lead@acme.test,Berlin,2020-05-01,Europe/Berlin,api-one,aws-1,user-api1,api1@acme.test
api2@acme.test,Api Two,Engineering/Platform/API,plat.lead@acme.test,Paris,2021-05-01,Europe/Paris,,,,
infra1@acme.test,Infra One,Engineering/Platform/Infra,plat.lead@acme.test,Berlin,2022-05-01,Europe/Berlin,,,,
web1@acme.test,Web One,Engineering/Product/Web,boss@acme.test,New York,2023-05-01,America/New_York,,,,
sales1@acme.test,Sales One,Sales/EMEA,boss@acme.test,London,2019-05-01,Europe/London,,,,
"""


@pytest.fixture(autouse=True)
def _question_bank_after_flush(request: pytest.FixtureRequest) -> None:
    """Transactional tests flush every table, data migrations included: put the question bank
    (migration 0003) back for them, exactly as the migration installs it."""
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and marker.kwargs.get("transaction", False)
    if not transactional and not {"transactional_db", "live_server"} & set(request.fixturenames):
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps as global_apps
    from django.db import connection

    from surveys.models import SurveyTemplate

    if SurveyTemplate.objects.exists():
        return
    migration = __import__("surveys.migrations.0003_question_bank", fromlist=["install_bank"])
    with connection.schema_editor() as editor:
        migration.install_bank(global_apps, editor)


@pytest.fixture
def org(db: None) -> dict[str, Team]:
    """A small organisation imported through the real roster service."""
    roster_import(data=ORG_CSV)
    return {t.path: t for t in Team.objects.all()}


@pytest.fixture
def hr_user(db: None):  # type: ignore[no-untyped-def]
    return staff_user_create(username="hr", password=PASSWORD, kind=Role.Kind.HR)


@pytest.fixture
def leader_user(org: dict[str, Team]):  # type: ignore[no-untyped-def]
    """A leader scoped to Engineering/Platform (and so API and Infra below it)."""
    return staff_user_create(
        username="leader",
        password=PASSWORD,
        kind=Role.Kind.LEADER,
        team_paths=["Engineering/Platform"],
    )


@pytest.fixture
def superuser(db: None, django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_superuser("root", "root@acme.test", PASSWORD)


@pytest.fixture
def norole_user(db: None, django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user("nobody", "nobody@acme.test", PASSWORD)


def client_for(user: object | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)  # type: ignore[arg-type]
    return client


def _worker_database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class WorkerProcess:
    """A real `celery worker` in its own process, on the test database and the real broker."""

    def __init__(
        self,
        *,
        concurrency: int = 1,
        pool: str = "prefork",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = dict(os.environ)
        env.update(extra_env or {})
        env["DATABASE_URL"] = _worker_database_url()
        env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        env["CONN_MAX_AGE"] = "0"
        self.log = open(ROOT / "var" / f"test-worker-{os.getpid()}.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "pulse",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={concurrency}",
                f"--pool={pool}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-Q",
                settings.CELERY_TASK_DEFAULT_QUEUE,
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        path = Path(self.log.name)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("worker exited:\n" + path.read_text())
            if " ready." in path.read_text():
                return
            time.sleep(0.2)
        raise RuntimeError("worker did not become ready:\n" + path.read_text())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


@pytest.fixture
def celery_worker_process(transactional_db: None) -> Iterator[WorkerProcess]:
    """Start a real worker for one test; the test's data must be committed (transactional)."""
    (ROOT / "var").mkdir(exist_ok=True)
    worker = WorkerProcess()
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Debian Chromium driven by Playwright. Skipped where Chromium is absent,
    except in CI (CI=true), where its absence is a failure."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI: apt-get install -y chromium")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()
