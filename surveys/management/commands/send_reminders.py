"""`python manage.py send_reminders`: the periodic task's twin."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from surveys.tasks import send_reminders


class Command(BaseCommand):
    help = "Send due reminders to invitees who have not answered. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{send_reminders()} reminder(s) sent")
