"""`python manage.py open_round CADENCE`: "send now"."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from surveys.models import Cadence
from surveys.services.delivery import round_open


class Command(BaseCommand):
    help = (
        "Open today's round of a cadence now and send its invitations right away ('send now'). "
        "Running it again the same day returns the same round and sends nothing twice."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("cadence", help="Cadence name or id")

    def handle(self, *args: Any, **options: Any) -> None:
        key = options["cadence"]
        cadence = Cadence.objects.filter(name=key).first()
        if cadence is None and key.isdigit():
            cadence = Cadence.objects.filter(pk=int(key)).first()
        if cadence is None:
            names = ", ".join(Cadence.objects.values_list("name", flat=True)) or "none"
            raise CommandError(f"No cadence '{key}'. Cadences: {names}")
        round_, created = round_open(cadence=cadence, day=timezone.localdate(), send_now=True)
        verb = "Opened" if created else "Already open:"
        self.stdout.write(
            f"{verb} round {round_.pk} '{round_.name}', closes {round_.closes_at:%Y-%m-%d %H:%M %Z}"
        )
