"""Health check, deployment checks, and security headers."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.test import Client

from tests.conftest import ROOT


def test_healthz_reports_database_and_broker(db: None) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_healthz_fails_with_503_when_the_broker_is_down(db: None, monkeypatch) -> None:
    from pulse import views

    def down() -> str:
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(views, "_check_broker", down)
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "broker": "error: ConnectionRefusedError",
    }


def test_pages_carry_security_headers(db: None) -> None:
    response = Client().get("/login/")
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def _production_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="pulse.settings",
        SECRET_KEY="x" * 20 + "production-grade-secret-key-with-enough-entropy-%$#@!",
        ALLOWED_HOSTS="pulse.example.com",
        BASE_URL="https://pulse.example.com",
    )
    env.update(extra)
    return env


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    env = _production_env()
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    ("value", "words"), [("3", "never lowered below 5"), ("five", "invalid literal")]
)
def test_bad_min_group_size_fails_loudly(value: str, words: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=_production_env(PULSE_MIN_GROUP_SIZE=value),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert words in result.stderr


def test_a_malformed_hotspot_alert_address_fails_loudly() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=_production_env(PULSE_HOTSPOT_ALERT_TO="wellbeing@org.test,not-an-address"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "PULSE_HOTSPOT_ALERT_TO: 'not-an-address' is not an email address" in result.stderr
