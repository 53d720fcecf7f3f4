"""An AI-usage upload is imported by a real Celery worker process, through the configured
broker (Redis in CI), as the HR upload page and the API do it."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from analytics.models import TeamDayUsage, UsageImport, UsageImportFile
from analytics.usage.identity import md5_hex
from surveys.models import Employee
from tests.analytics.test_usage_import import AMAZON_Q_PARTS, _dump_tables

pytestmark = pytest.mark.worker

API = "Engineering/Platform/API"


def _wait_finished(public_id: str, timeout: float = 90) -> UsageImport:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = UsageImport.objects.get(public_id=public_id)
        if record.is_finished:
            return record
        time.sleep(0.2)
    raise AssertionError(f"usage import still {record.status} after {timeout}s")


def test_amazon_q_parts_uploaded_through_the_api_are_imported_by_a_real_worker(
    celery_worker_process, org, hr_user
) -> None:
    if settings.REDIS_URL:
        assert settings.CELERY_BROKER_URL.startswith("redis://")
    client = APIClient()
    client.force_authenticate(hr_user)
    files = [
        SimpleUploadedFile(p.name, p.read_bytes(), content_type="text/csv") for p in AMAZON_Q_PARTS
    ]
    response = client.post(
        "/api/v1/usage-imports/", {"format": "amazon-q", "files": files}, format="multipart"
    )
    assert response.status_code == 202, response.content
    public_id = response.json()["public_id"]

    record = _wait_finished(public_id)
    assert record.status == UsageImport.Status.SUCCEEDED, record.errors
    assert (record.rows_read, record.rows_matched, record.rows_unmatched) == (3, 2, 1)
    assert record.team_days_written > 0
    with open(celery_worker_process.log.name) as handle:
        log = handle.read()
    assert "analytics.tasks.run_usage_import" in log and "succeeded" in log

    # The history (API) shows the counts.
    [item] = client.get("/api/v1/usage-imports/").json()
    assert item["public_id"] == public_id
    assert item["status"] == "succeeded"
    assert (item["rows_read"], item["rows_matched"], item["rows_unmatched"]) == (3, 2, 1)
    assert item["team_days_written"] == record.team_days_written
    assert item["filenames"] == [p.name for p in AMAZON_Q_PARTS]

    # The team-day rows exist, for the person's team and every ancestor.
    for team in (API, "Engineering/Platform", "Engineering"):
        row = TeamDayUsage.objects.get(
            source="amazon-q",
            team__path=team,
            day=dt.date(2026, 5, 4),
            metric="Inline_AcceptanceCount",
        )
        assert (row.total, row.contributors, row.max_single) == (12, 1, 12)
    assert TeamDayUsage.objects.filter(day=dt.date(2026, 5, 5)).exists()
    assert not TeamDayUsage.objects.filter(team__path__startswith="Sales").exists()

    # Per-person values are absent: the uploaded files are gone, no matched identifier (in
    # clear or as MD5) is stored outside the roster, and usage rows are per team, not person.
    assert not UsageImportFile.objects.exists()
    identifiers: set[str] = set()
    for row in Employee.objects.values_list("email", "aws_user_id", "github_login"):
        for value in filter(None, row):
            identifiers |= {value.lower(), md5_hex(value.lower())}
    dump = _dump_tables(skip={"surveys_employee"}, skip_columns={"unmatched_identifiers"})
    assert sorted(i for i in identifiers if i in dump) == []
    assert TeamDayUsage.objects.values("source", "team", "day", "metric").distinct().count() == (
        TeamDayUsage.objects.count()
    )
    # The one identifier that matched nobody is reported to HR, in the import record only.
    assert record.unmatched_identifiers == [
        {"identifier": "24a80dec-50e1-70f7-3155-4ccb9e69943f", "rows": 1}
    ]
