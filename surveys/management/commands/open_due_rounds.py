"""`python manage.py open_due_rounds`: the periodic task's twin (backfills, cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from surveys.tasks import open_due_rounds


class Command(BaseCommand):
    help = "Open due rounds, resume lost fan-outs and send invitations now due. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        result = open_due_rounds()
        self.stdout.write(
            f"{result['opened']} round(s) opened, {result['resumed']} fan-out(s) resumed, "
            f"{result['sent']} invitation(s) sent"
        )
