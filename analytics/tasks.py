"""Celery tasks of the analytics app: thin, ids in, one service call each."""

from __future__ import annotations

from celery import shared_task

from analytics import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_usage_import(import_id: int) -> str:
    """Run an uploaded AI-usage import. Safe to run twice (see `services.usage_import_run`), so
    it is acknowledged late: a worker killed mid-import leaves the message to be redelivered."""
    return services.usage_import_run(import_id=import_id).status


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_hotspot_alert(hotspot_id: int) -> bool:
    """Email HR about a new hotspot. Sent once: claimed by a conditional UPDATE in the sending
    transaction (`hotspots.hotspot_alert_send`), so running it twice sends nothing more;
    retried only when the mail server cannot be reached (OSError)."""
    from analytics.hotspots import hotspot_alert_send

    return hotspot_alert_send(hotspot_id=hotspot_id)
