"""Project-level views: the landing redirect and the health check."""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pulse.celery import app as celery_app
from surveys.selectors import user_role


def home(request: HttpRequest) -> HttpResponse:
    """Send each role to its console: HR and superusers to /hr/, leaders to /results/."""
    role = user_role(request.user)
    if role in ("hr", "superuser"):
        return redirect("hr:home")
    if role == "leader":
        return redirect("results:home")
    return redirect("login")


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_broker() -> str:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        # The filesystem transport "connects" without touching disk; make it list its queue.
        conn.default_channel.close()
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 with {"status": "ok"} when the database and the broker both answer; 503 naming the
    failing check otherwise. No secrets or connection strings in the body."""
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("broker", _check_broker)):
        try:
            checks[name] = check()
        except Exception as exc:  # noqa: BLE001 - any failure is a failed check
            checks[name] = f"error: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )
