"""Writes of the analytics app: AI-usage imports. Callers: `import_usage` command, HR upload
page, API, the `run_usage_import` task.

An import reads every file of one delivery (streaming: CSV in chunks, JSON one record at a
time) into an `Accumulator`, which keeps per-person values in memory and, past a few MiB, in an
anonymous temporary file on local disk that is deleted when the import ends, however it ends
(`_read_delivery`'s `with` block); per-person values never reach the database. Then, in one
transaction, a few days at a time, it reduces them to (source, team, day, metric) cells and
makes the stored cells of the days the delivery covers equal to the new ones: rows of those
days that the delivery no longer has are deleted, changed ones updated, new ones created, equal
ones left untouched. Memory stays bounded whatever the size of the files. So:
- idempotent: importing the same files again writes nothing;
- latest wins: a later export overlapping earlier days replaces those days of that source,
  except the days the release gate has already released usage over: released data never
  changes. A (source, day) inside a period recorded in `UsageRelease` for that source keeps
  its stored cells, whatever the delivery says (a released figure and the same figure after
  the change would differ by exactly the changed rows' usage: one late file could isolate one
  person). The result counts the team-days kept so (`team_days_kept`), for HR;
- atomic: any problem in any file raises before the transaction, and a problem found while
  reducing (team-level rows for a team and its parent) rolls it back: nothing changes.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import math
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from pathlib import Path

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from analytics.models import TeamDayUsage, UsageImport, UsageImportFile, UsageRelease
from analytics.usage import UsageFileError, UsageProblem, adapter_for
from analytics.usage.accumulate import Accumulator, UsageCell
from analytics.usage.base import UsageFile
from analytics.usage.identity import Roster
from analytics.usage.parsing import day_from_number

ProgressCallback = Callable[[str, int, int], None]

MAX_USAGE_UPLOAD_BYTES = 200 * 1024 * 1024
UNMATCHED_REPORTED = 200
_BATCH = 2000
# Cells reduced before they are written: at least this many (plus one day's), ~220 bytes each
# in memory (~11 MB; below the parsing phase's peak). Blocks are inserted in natural-key
# order: the larger the block, the longer the runs of the unique index it extends in place
# (SQLite's insert CPU fell by about a third from 5,000 to 50,000 cells per block for a
# 40k-cell delivery); memory stays bounded whatever the delivery's size.
_BLOCK = 50_000
_TABLE = TeamDayUsage._meta.db_table


@dataclass(slots=True)
class UsageImportResult:
    format: str
    filenames: list[str]
    rows_read: int = 0
    rows_matched: int = 0
    rows_unmatched: int = 0
    rows_service: int = 0
    team_days_written: int = 0
    team_days_kept: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    sources: list[str] = field(default_factory=list)
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    unmatched: list[dict[str, object]] = field(default_factory=list)
    unmatched_distinct: int = 0
    service_totals: dict[str, float] = field(default_factory=dict)
    ignored_fields: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"rows read {self.rows_read}, matched {self.rows_matched}, "
            f"unmatched {self.rows_unmatched} ({self.unmatched_distinct} distinct identifiers), "
            f"service rows {self.rows_service}; team-days written {self.team_days_written}, "
            f"kept as released: {self.team_days_kept} team-days "
            f"(usage rows: {self.created} created, {self.updated} updated, "
            f"{self.deleted} deleted, {self.unchanged} unchanged)"
        )
        if self.first_day:
            text += f"; days {self.first_day} to {self.last_day}"
        return text

    def record_fields(self) -> dict[str, object]:
        return {
            "rows_read": self.rows_read,
            "rows_matched": self.rows_matched,
            "rows_unmatched": self.rows_unmatched,
            "rows_service": self.rows_service,
            "team_days_written": self.team_days_written,
            "team_days_kept": self.team_days_kept,
            "usage_rows_created": self.created,
            "usage_rows_updated": self.updated,
            "usage_rows_deleted": self.deleted,
            "usage_rows_unchanged": self.unchanged,
            "sources": self.sources,
            "first_day": self.first_day,
            "last_day": self.last_day,
            "unmatched_identifiers": self.unmatched,
            "unmatched_distinct": self.unmatched_distinct,
            "service_totals": self.service_totals,
            "ignored_fields": self.ignored_fields,
        }


def usage_files_from_paths(paths: Iterable[Path]) -> list[UsageFile]:
    """Files on disk, opened lazily (and more than once: adapters read the header first)."""
    files = []
    for path in paths:
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise UsageFileError(
                [UsageProblem(str(path), None, None, f"cannot read the file ({exc.strerror})")]
            ) from exc
        files.append(UsageFile(str(path), lambda p=path: p.open("rb"), size))
    return files


def usage_files_from_bytes(items: Iterable[tuple[str, bytes]]) -> list[UsageFile]:
    return [UsageFile(name, lambda d=data: io.BytesIO(d), len(data)) for name, data in items]


def usage_import(
    *,
    format: str,
    files: list[UsageFile],
    progress: ProgressCallback | None = None,
    user: AbstractBaseUser | None = None,
) -> UsageImportResult:
    """Import one delivery (e.g. every Amazon Q part file) and record it in the history.
    Raises `UsageFileError` (file, line, field, cause) and changes nothing when any file has a
    problem. Caller: the `import_usage` command."""
    size = sum(f.size for f in files)
    with (
        _read_delivery(format_name=format, files=files, progress=progress) as (result, acc),
        transaction.atomic(),
    ):
        _write_cells(acc, result, progress, size)
        UsageImport.objects.create(
            format=format,
            origin=UsageImport.Origin.COMMAND,
            filenames=[f.name for f in files],
            uploaded_by=user if user is not None and user.is_authenticated else None,
            status=UsageImport.Status.SUCCEEDED,
            total_bytes=size,
            processed_bytes=size,
            finished_at=timezone.now(),
            **result.record_fields(),
        )
    if progress is not None:
        progress("Done", 1, 1)
    return result


@contextmanager
def _read_delivery(
    *, format_name: str, files: list[UsageFile], progress: ProgressCallback | None
) -> Iterator[tuple[UsageImportResult, Accumulator]]:
    """Read every file into an accumulator (which may hold per-person values in a temporary
    file: it is closed, and the file deleted, when the block exits, whatever happens)."""
    adapter = adapter_for(format_name)
    if not files:
        raise UsageFileError([UsageProblem("", None, None, "no file given")])
    with Accumulator(Roster.load(adapter.roster_kinds())) as acc:
        total = sum(f.size for f in files)
        offset = 0
        for position, file in enumerate(files, start=1):
            phase = f"Reading file {position} of {len(files)}"

            def report(done: int, base: int = offset, phase: str = phase) -> None:
                if progress is not None:
                    progress(phase, min(base + done, total), total)

            adapter.read(file, acc, report)
            offset += file.size
        days = [d for numbers in acc.days.values() for d in numbers]
        sources = sorted(acc.source_names[code] for code, numbers in acc.days.items() if numbers)
        result = UsageImportResult(
            format=format_name,
            filenames=[f.name for f in files],
            rows_read=acc.rows_read,
            rows_matched=acc.rows_matched,
            rows_unmatched=acc.rows_unmatched,
            rows_service=acc.rows_service,
            sources=sources,
            first_day=day_from_number(min(days)) if days else None,
            last_day=day_from_number(max(days)) if days else None,
            unmatched=[
                {"identifier": identifier, "rows": rows}
                for identifier, rows in acc.unmatched.most_common(UNMATCHED_REPORTED)
            ],
            unmatched_distinct=len(acc.unmatched) + acc.unmatched_dropped,
            service_totals={k: round(v, 6) for k, v in sorted(acc.service_totals.items())},
            ignored_fields=sorted(acc.ignored_fields)[:100],
        )
        yield result, acc


def _write_cells(
    acc: Accumulator, result: UsageImportResult, progress: ProgressCallback | None, size: int
) -> None:
    """Make the stored cells of every covered (source, day) equal to the delivery's, except
    the released ones (`_released_periods`), reducing and writing a few days at a time (at
    least `_BLOCK` cells), so that neither per-person values nor the whole delivery's cells
    are in memory at once. Run inside a transaction."""
    with _cyclic_gc_paused():
        _write_blocks(acc, result, progress, size)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while cells are written: the tens of thousands
    of cell tuples a block holds trigger a full collection, which walks every object of the
    process (Django, pandas, numpy) and cost ~10% of an import. Nothing made while writing
    forms reference cycles that would need it (numpy arrays, tuples, lists, a few queries),
    so memory is freed by reference counting as before and stays bounded by the block;
    the collector is re-enabled (if it was) however the block exits."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write_blocks(
    acc: Accumulator, result: UsageImportResult, progress: ProgressCallback | None, size: int
) -> None:
    days = len({d for numbers in acc.days.values() for d in numbers})
    released = _released_periods(result)
    block: list[UsageCell] = []
    covered: set[tuple[str, dt.date]] = set()
    kept: set[tuple[str, dt.date]] = set()
    for done, (day, sources, cells) in enumerate(acc.day_cells(), start=1):
        block.extend(cells)
        for source in sources:
            covered.add((source, day))
            if any(start <= day <= end for start, end in released.get(source, ())):
                kept.add((source, day))
        if len(block) >= _BLOCK:
            _write_block(block, covered, kept, result)
            block, covered, kept = [], set(), set()
            if progress is not None:
                progress(f"Aggregating and writing day {done} of {days}", size, size)
    if covered:
        _write_block(block, covered, kept, result)


def _released_periods(result: UsageImportResult) -> dict[str, list[tuple[dt.date, dt.date]]]:
    """The periods over which usage of the delivery's sources has been released, that overlap
    its days: source -> [(start, end)]. On PostgreSQL it first takes a SHARE lock on the
    release table, held until the import commits, so that no gate function records a release
    (and reads the cells for it) in between: see `analytics.gate.usage_releasing`."""
    if not result.sources or result.first_day is None:
        return {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {UsageRelease._meta.db_table} IN SHARE MODE")
    periods: dict[str, list[tuple[dt.date, dt.date]]] = {}
    rows = UsageRelease.objects.filter(
        source__in=result.sources, start__lte=result.last_day, end__gte=result.first_day
    ).values_list("source", "start", "end")
    for source, start, end in rows.order_by():
        periods.setdefault(source, []).append((start, end))
    return periods


def _write_block(
    cells: list[UsageCell],
    covered: set[tuple[str, dt.date]],
    kept: set[tuple[str, dt.date]],
    result: UsageImportResult,
) -> None:
    """Make the stored cells of the `covered` (source, day) pairs equal to `cells`, except
    those of the `kept` (released) pairs, which stay as they are."""
    natural_key = itemgetter(0, 1, 2, 3)  # source, team, day, metric
    new = dict(zip(map(natural_key, cells), cells, strict=True))
    existing: dict[tuple[str, int, dt.date, str], tuple] = {}
    first = min(day for _, day in covered)
    last = max(day for _, day in covered)
    rows = TeamDayUsage.objects.filter(
        source__in={source for source, _ in covered}, day__gte=first, day__lte=last
    ).values_list(
        "id",
        "source",
        "team_id",
        "day",
        "metric",
        "unit",
        "total",
        "contributors",
        "max_single",
        "direct_max_single",
    )
    for row in rows.iterator(chunk_size=_BATCH):
        if (row[1], row[3]) in covered:
            existing[row[1:5]] = row
    if kept:
        _keep_released(new, existing, kept, result)
    to_update: list[tuple[object, ...]] = []
    if existing:
        to_delete = [row[0] for key, row in existing.items() if key not in new]
        to_create = [cell for key, cell in new.items() if key not in existing]
        changed = {key[:3] for key in existing if key not in new}
        changed.update(cell[:3] for cell in to_create)
        for key, row in existing.items():
            cell = new.get(key)
            if cell is not None and not _same(row, cell):
                to_update.append((*cell[4:], row[0]))
                changed.add(key[:3])
    else:
        to_delete, to_create = [], list(new.values())
        changed = {cell[:3] for cell in to_create}
    _execute_many(
        f"DELETE FROM {_TABLE} WHERE id = %s",
        [(pk,) for pk in to_delete],
    )
    _execute_many(
        f"UPDATE {_TABLE} SET unit = %s, total = %s, contributors = %s, max_single = %s, "
        "direct_max_single = %s WHERE id = %s",
        to_update,
    )
    _insert_many(to_create)
    result.created += len(to_create)
    result.updated += len(to_update)
    result.deleted += len(to_delete)
    result.unchanged += len(new) - len(to_create) - len(to_update)
    result.team_days_written += len(changed)


def _keep_released(
    new: dict[tuple, UsageCell],
    existing: dict[tuple, tuple],
    kept: set[tuple[str, dt.date]],
    result: UsageImportResult,
) -> None:
    """Take the cells of the `kept` (source, day) pairs out of `new` and `existing` (in
    place), so that nothing is written for them, and count the team-days whose stored cells
    the delivery would have changed (created, updated or deleted) as kept."""
    differing: set[tuple] = set()
    for key in [key for key in new if (key[0], key[2]) in kept]:
        cell = new.pop(key)
        row = existing.pop(key, None)
        if row is not None and _same(row, cell):
            result.unchanged += 1
        else:
            differing.add(key[:3])
    for key in [key for key in existing if (key[0], key[2]) in kept]:
        del existing[key]
        differing.add(key[:3])
    result.team_days_kept += len(differing)


def _execute_many(sql: str, params: list[tuple[object, ...]]) -> None:
    """Plain executemany: Django's bulk_create/bulk_update cost ~0.3 ms per row here, which
    dominated imports; the cells are already validated values of our own table."""
    if not params:
        return
    with connection.cursor() as cursor:
        for start in range(0, len(params), 5000):
            cursor.executemany(sql, params[start : start + 5000])


_COLUMNS = "source, team_id, day, metric, unit, total, contributors, max_single, direct_max_single"


def _insert_many(cells: list[UsageCell]) -> None:
    """Insert new cells in natural-key order (the unique index then grows by appends):
    PostgreSQL through COPY (text lines, a few thousand a write; no per-row statement or
    parameter binding), other databases through multi-row INSERTs of up to 2000 rows. On
    SQLite those go straight to the sqlite3 connection with `?` placeholders: Django's cursor
    would rewrite every `%s` of an 18,000-parameter statement with a regular expression, and
    one multi-row statement costs about 60% of `executemany`'s row-by-row statements (which
    also bump the AUTOINCREMENT sequence once per row)."""
    if not cells:
        return
    cells.sort(key=itemgetter(1, 3, 2, 0))  # team, metric, day, source
    if connection.vendor == "postgresql":
        _copy_cells(cells)
        return
    # Days adapted once each (a delivery has a few), not once per row.
    days = {day: connection.ops.adapt_datefield_value(day) for day in {c.day for c in cells}}
    width = len(cells[0])
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        mark = "?"
    else:
        limit = connection.features.max_query_params or 65535
        mark = "%s"
    per_statement = max(1, min(2000, limit // width))
    row = "(" + ", ".join([mark] * width) + ")"
    head = f"INSERT INTO {_TABLE} ({_COLUMNS}) VALUES "
    with connection.cursor() as cursor:
        run = connection.connection.execute if sqlite else cursor.execute
        for start in range(0, len(cells), per_statement):
            batch = cells[start : start + per_statement]
            # A cell is its row, in column order: flattened in C, then its day column (every
            # `width`-th value from the third) replaced by the adapted day.
            params = list(chain.from_iterable(batch))
            params[2::width] = [days[day] for day in params[2::width]]
            run(head + ", ".join([row] * len(batch)), params)


def _copy_cells(cells: list[UsageCell], lines_per_write: int = 5000) -> None:
    """COPY ... FROM STDIN in text format. Texts (source, metric, unit: a few distinct values)
    are escaped once each; numbers are written with `repr`, which round-trips a float."""
    escaped: dict[str, str] = {}

    def text(value: str) -> str:
        out = escaped.get(value)
        if out is None:
            out = (
                value.replace("\\", "\\\\")
                .replace("\t", "\\t")
                .replace("\n", "\\n")
                .replace("\r", "\\r")
            )
            escaped[value] = out
        return out

    def number(value: float | int | None) -> str:
        return "\\N" if value is None else repr(value)

    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {_TABLE} ({_COLUMNS}) FROM STDIN") as copy,
    ):
        for start in range(0, len(cells), lines_per_write):
            copy.write(
                "".join(
                    f"{text(source)}\t{team}\t{day.isoformat()}\t{text(metric)}\t"
                    f"{text(unit)}\t{total!r}\t{number(people)}\t{number(top)}\t"
                    f"{number(direct)}\n"
                    for source, team, day, metric, unit, total, people, top, direct in cells[
                        start : start + lines_per_write
                    ]
                )
            )


def _same(row: tuple, cell: UsageCell) -> bool:
    unit, total, contributors, max_single, direct_max_single = row[5:]

    def close(a: float | None, b: float | None) -> bool:
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)

    return (
        unit == cell.unit
        and contributors == cell.contributors
        and close(total, cell.total)
        and close(max_single, cell.max_single)
        and close(direct_max_single, cell.direct_max_single)
    )


# --- Imports run by a worker (HR upload page, API) -----------------------------------------------


def usage_import_create(
    *, format: str, uploads: list[tuple[str, bytes]], user: AbstractBaseUser | None
) -> UsageImport:
    """Record an uploaded delivery (one or more files of one format) and enqueue its import
    after commit. The files stay in the database only until the import finishes. Caller: HR
    upload view, API."""
    from analytics.tasks import run_usage_import

    adapter_for(format)  # an unknown format is refused before anything is stored
    record = UsageImport.objects.create(
        format=format,
        origin=UsageImport.Origin.UPLOAD,
        filenames=[name[:255] for name, _ in uploads],
        uploaded_by=user if user is not None and user.is_authenticated else None,
        total_bytes=sum(len(data) for _, data in uploads),
    )
    UsageImportFile.objects.bulk_create(
        UsageImportFile(usage_import=record, position=i, name=name[:255], content=data)
        for i, (name, data) in enumerate(uploads)
    )
    transaction.on_commit(lambda: run_usage_import.delay(record.pk))
    return record


def usage_import_run(*, import_id: int) -> UsageImport:
    """Run a recorded upload. Idempotent and crash-safe: a finished import is left as it is
    (its files are gone); one interrupted mid-way wrote nothing, since the write, the outcome
    and the deletion of the uploaded files are one transaction, and simply runs again.
    Caller: the `run_usage_import` task."""
    claimed = UsageImport.claim_for_run(import_id)
    record = UsageImport.objects.get(pk=import_id)
    if not claimed:
        return record
    stored = list(record.files.order_by("position").values_list("name", "content"))
    files = usage_files_from_bytes((name, bytes(content)) for name, content in stored)
    last = [0.0]

    def report(phase: str, done: int, total: int) -> None:
        now = timezone.now().timestamp()
        if now - last[0] >= 0.5 or done >= total:
            last[0] = now
            UsageImport.objects.filter(pk=import_id).update(
                phase=phase, processed_bytes=done, total_bytes=total
            )

    try:
        with (
            _read_delivery(format_name=record.format, files=files, progress=report) as (
                result,
                acc,
            ),
            transaction.atomic(),
        ):
            _write_cells(acc, result, report, record.total_bytes)
            UsageImport.objects.filter(pk=import_id).update(
                status=UsageImport.Status.SUCCEEDED,
                phase="",
                processed_bytes=record.total_bytes,
                finished_at=timezone.now(),
                **result.record_fields(),
            )
            UsageImportFile.objects.filter(usage_import_id=import_id).delete()
    except UsageFileError as exc:
        with transaction.atomic():
            UsageImport.objects.filter(pk=import_id).update(
                status=UsageImport.Status.FAILED,
                phase="",
                errors=[p.as_dict() for p in exc.problems],
                error_count=exc.total,
                finished_at=timezone.now(),
            )
            UsageImportFile.objects.filter(usage_import_id=import_id).delete()
    record.refresh_from_db()
    return record
