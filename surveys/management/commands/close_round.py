"""`python manage.py close_round ROUND`: "close now"."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from surveys.models import Round
from surveys.services.delivery import round_close


class Command(BaseCommand):
    help = "Close a round now ('close now'); its results are then computed. Idempotent."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("round", type=int, help="Round id")

    def handle(self, *args: Any, **options: Any) -> None:
        if not Round.objects.filter(pk=options["round"]).exists():
            raise CommandError(f"No round with id {options['round']}")
        closed = round_close(round_id=options["round"])
        self.stdout.write(
            f"Round {options['round']} " + ("closed" if closed else "was already closed")
        )
