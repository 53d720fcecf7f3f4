"""`python manage.py import_roster FILE.csv [--deactivate-missing]`."""

from __future__ import annotations

import sys
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from surveys.services import RosterImportError, roster_import


class Command(BaseCommand):
    help = (
        "Import a roster CSV (email,name,team,manager_email,location,start_date,timezone "
        "[,github_login,aws_user_id,openai_user_id,upn]). Upsert by email; all or nothing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--deactivate-missing",
            action="store_true",
            help="Deactivate active employees who are not in the file.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: cannot read the file ({exc.strerror})") from exc

        last = [0.0]
        show_progress = len(data) > 1_000_000

        def progress(phase: str, done: int, total: int) -> None:
            now = time.monotonic()
            if show_progress and (now - last[0] > 1 or done == total):
                last[0] = now
                percent = int(100 * done / total) if total else 100
                sys.stderr.write(f"\r{phase}: {done}/{total} ({percent}%)   ")
                if phase == "Done":
                    sys.stderr.write("\n")

        try:
            result = roster_import(
                data=data, deactivate_missing=options["deactivate_missing"], progress=progress
            )
        except RosterImportError as exc:
            if show_progress:
                sys.stderr.write("\n")
            raise CommandError(f"{path}: nothing was imported.\n{exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"{path}: {result.summary()}"))
