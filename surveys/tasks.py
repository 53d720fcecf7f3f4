"""Celery tasks of the surveys app: thin, ids in, one service call each."""

from __future__ import annotations

from celery import shared_task

from surveys import services
from surveys.services import delivery


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_roster_import(import_id: int) -> str:
    """Run an uploaded roster import. Safe to run twice (see `services.roster_import_run`), so
    it is acknowledged late: a worker killed mid-import leaves the message to be redelivered."""
    return services.roster_import_run(import_id=import_id).status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def fan_out_round(round_id: int, send_now: bool = False) -> int:
    """Split a new round's audience into `invite_chunk` tasks. Idempotent."""
    return delivery.round_fan_out(round_id=round_id, send_now=send_now)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def invite_chunk(round_id: int, employee_ids: list[int], send_now: bool = False) -> int:
    """Create one chunk of invitations and send the due emails. Idempotent and crash-safe
    (unique invitations; each email marked sent by its own committed UPDATE before the next
    one goes out). The count it returns is only logged: no result is stored (two fewer broker
    writes per chunk)."""
    return delivery.invite_chunk(round_id=round_id, employee_ids=employee_ids, send_now=send_now)


@shared_task
def open_due_rounds() -> dict[str, int]:
    """Periodic (beat): open due rounds, resume lost fan-outs, send invitations now due in
    later time zones. Twin: `manage.py open_due_rounds`."""
    opened = delivery.rounds_open_due()
    resumed = delivery.rounds_resume_fan_out()
    sent = delivery.invitations_send_all_due()
    return {"opened": len(opened), "resumed": resumed, "sent": sent}


@shared_task
def send_reminders() -> int:
    """Periodic (beat): send due reminders to non-respondents. Twin: `manage.py send_reminders`."""
    return delivery.reminders_send_due()


@shared_task
def close_due_rounds() -> list[int]:
    """Periodic (beat): close rounds whose window ended. Twin: `manage.py close_due_rounds`."""
    return delivery.rounds_close_due()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def round_closed(round_id: int) -> None:
    """After a round closes: its results are computed (publication), then hotspots. Each step
    is recompute-and-replace, so running this twice is harmless."""
    delivery.round_after_close(round_id=round_id)
