"""`python manage.py export_results ROUND --format csv`: the publication as HR downloads it."""

from __future__ import annotations

import csv
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from analytics import gate
from analytics.results_selectors import publication_for


class Command(BaseCommand):
    help = "Write a round's published results (organisation-wide, through the release gate)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("round", type=int, help="Round id")
        parser.add_argument("--format", choices=["csv"], default="csv")
        parser.add_argument("--output", "-o", help="File to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        publication = publication_for(options["round"])
        if publication is None:
            raise CommandError(
                f"Round {options['round']} has no published results (is it closed?)."
            )
        rows = gate.release_export(publication=publication, user=gate.ORGANISATION_WIDE)
        if options.get("output"):
            with open(options["output"], "w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows(rows)
        else:
            csv.writer(self.stdout).writerows(rows)
