"""`python manage.py import_usage --format FORMAT FILE...`."""

from __future__ import annotations

import sys
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from analytics.services import usage_files_from_paths, usage_import
from analytics.usage import FORMATS, UsageFileError

_PROGRESS_FROM_BYTES = 5_000_000


class Command(BaseCommand):
    help = (
        "Import AI-usage exports of one delivery (e.g. every Amazon Q part file) as team x day "
        "aggregates. All or nothing; re-importing is harmless; later exports replace the days "
        "they cover."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--format", required=True, choices=FORMATS, dest="format_name")
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        paths: list[Path] = options["files"]
        last = [0.0]
        shown = [False]

        def progress(phase: str, done: int, total: int) -> None:
            if total < _PROGRESS_FROM_BYTES and not shown[0]:
                return
            now = time.monotonic()
            if now - last[0] > 1 or phase == "Done":
                last[0] = now
                shown[0] = True
                percent = int(100 * done / total) if total else 100
                sys.stderr.write(f"\r{phase}: {percent}%   ")
                if phase == "Done":
                    sys.stderr.write("\n")

        try:
            files = usage_files_from_paths(paths)
            result = usage_import(format=options["format_name"], files=files, progress=progress)
        except UsageFileError as exc:
            if shown[0]:
                sys.stderr.write("\n")
            raise CommandError(f"Nothing was imported.\n{exc}") from exc
        names = ", ".join(str(p) for p in paths)
        self.stdout.write(self.style.SUCCESS(f"{names}: {result.summary()}"))
        if result.unmatched:
            shown_ids = ", ".join(f"{u['identifier']} ({u['rows']})" for u in result.unmatched[:10])
            self.stdout.write(f"Unmatched identifiers (rows): {shown_ids}")
        if result.ignored_fields:
            self.stdout.write(f"Ignored columns: {', '.join(result.ignored_fields[:20])}")
