"""`python manage.py close_due_rounds`: the periodic task's twin."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from surveys.tasks import close_due_rounds


class Command(BaseCommand):
    help = "Close every open round whose window has ended. Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        closed = close_due_rounds()
        self.stdout.write(f"{len(closed)} round(s) closed" + (f": {closed}" if closed else ""))
