"""A real Celery worker process runs tasks through the configured broker (Redis in CI)."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from surveys.models import Employee, RosterImport, Team
from surveys.services import roster_import_run
from tests.conftest import ORG_CSV

pytestmark = pytest.mark.worker


def _wait_finished(public_id: object, timeout: float = 60) -> RosterImport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = RosterImport.objects.get(public_id=public_id)
        if record.is_finished:
            return record
        time.sleep(0.2)
    raise AssertionError(f"import still {record.status} after {timeout}s")


def test_an_uploaded_roster_is_imported_by_a_real_worker(celery_worker_process, hr_user) -> None:
    if settings.REDIS_URL:
        assert settings.CELERY_BROKER_URL.startswith("redis://")
    client = APIClient()
    client.force_authenticate(hr_user)
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = client.post(
        "/api/v1/roster-imports/",
        {"file": SimpleUploadedFile("org.csv", ORG_CSV, content_type="text/csv")},
        format="multipart",
    )
    assert response.status_code == 202, response.content
    record = _wait_finished(response.json()["public_id"])

    assert record.status == RosterImport.Status.SUCCEEDED, record.errors
    assert (record.created, record.updated, record.total_rows) == (7, 0, 7)
    assert Employee.objects.count() == 7
    assert Team.objects.filter(path="Engineering/Platform/API").exists()
    with open(celery_worker_process.log.name) as handle:
        log = handle.read()
    assert "surveys.tasks.run_roster_import" in log and "succeeded" in log


def test_a_refused_roster_is_reported_by_the_worker_and_changes_nothing(
    celery_worker_process, hr_user
) -> None:
    client = APIClient()
    client.force_authenticate(hr_user)
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = ORG_CSV.replace(b"Europe/Paris", b"Europe/Atlantis")
    response = client.post(
        "/api/v1/roster-imports/", {"file": SimpleUploadedFile("bad.csv", bad)}, format="multipart"
    )
    record = _wait_finished(response.json()["public_id"])
    assert record.status == RosterImport.Status.FAILED
    assert record.errors[0] == {
        "line": 5,
        "column": "timezone",
        "message": "unknown time zone 'Europe/Atlantis' (expected an IANA name)",
    }
    assert not Employee.objects.exists()


def test_running_an_import_twice_imports_once(db: None) -> None:
    record = RosterImport.objects.create(filename="org.csv", content=ORG_CSV)
    first = roster_import_run(import_id=record.pk)
    second = roster_import_run(import_id=record.pk)
    assert first.status == second.status == RosterImport.Status.SUCCEEDED
    assert (second.created, second.updated) == (7, 0)
    assert Employee.objects.count() == 7


def test_an_import_interrupted_mid_way_runs_again_to_completion(db: None) -> None:
    # A worker that died while running left the row RUNNING and, the write being one
    # transaction, no employee behind: the redelivered task finishes the job.
    record = RosterImport.objects.create(
        filename="org.csv", content=ORG_CSV, status=RosterImport.Status.RUNNING, phase="Writing"
    )
    done = roster_import_run(import_id=record.pk)
    assert done.status == RosterImport.Status.SUCCEEDED
    assert Employee.objects.count() == 7
