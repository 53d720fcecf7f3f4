"""What every adapter shares: opening files, mapping headers, resolving identifiers in bulk,
collecting problems, and the per-record loop used by the JSON (and small CSV) formats."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

import numpy as np
import pandas as pd

from analytics.usage.accumulate import SUM, Accumulator
from analytics.usage.identity import KINDS
from analytics.usage.parsing import (
    MAX_REPORTED_PROBLEMS,
    CountingReader,
    DayError,
    JsonRecord,
    UsageFileError,
    UsageProblem,
    iter_json_records,
    parse_day,
    sniff_first_char,
    text_stream,
)

# Chunks of at most 500k cells: larger ones make the parser's and the allocator's memory grow
# with the file (the peak was no longer flat at 1M cells per chunk).
CSV_CHUNK_ROWS = 50_000
CSV_CHUNK_CELLS = 500_000
IDENTIFIER_FIELDS = ("email", "user")
_RECORD_BATCH = 50_000
EMPTY_IDENTIFIER = "(empty)"

Opener = Callable[[], IO[bytes]]
ProgressCallback = Callable[[int], None]


def normalise(name: str) -> str:
    """Header names compared without case, spaces or punctuation (`User Principal Name`,
    `user_principal_name` and `UserPrincipalName` are the same column)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def guess_unit(metric: str) -> str:
    name = metric.lower()
    for needle, unit in (
        ("token", "tokens"),
        ("cent", "cents"),
        ("cost", "cents"),
        ("spend", "USD"),
        ("line", "lines"),
        ("loc", "lines"),
        ("request", "requests"),
        ("session", "sessions"),
        ("message", "messages"),
        ("active", "people"),
    ):
        if needle in name:
            return unit
    return "count"


@dataclass(slots=True)
class Problems:
    """Problems found in one file, capped for the report, counted in full."""

    items: list[UsageProblem] = field(default_factory=list)
    total: int = 0

    def add(self, file: str, line: int | None, column: str | None, message: str) -> None:
        self.total += 1
        if len(self.items) < MAX_REPORTED_PROBLEMS:
            self.items.append(UsageProblem(file, line, column, message))

    def raise_if_any(self) -> None:
        if self.total:
            raise UsageFileError(self.items, self.total)


@dataclass(frozen=True, slots=True)
class UsageFile:
    """One file of a delivery: its name (for messages) and how to (re)open it."""

    name: str
    open: Opener
    size: int


class Adapter:
    """One export format. Subclasses read a file and add to the accumulator."""

    name: ClassVar[str]
    title: ClassVar[str]
    # The kinds of identifier the format's rows are resolved as (`Roster.load` builds only
    # their alias maps). All of them unless an adapter says otherwise.
    identity_kinds: ClassVar[tuple[str, ...]] = KINDS

    def roster_kinds(self) -> tuple[str, ...]:
        return self.identity_kinds

    def read(self, file: UsageFile, acc: Accumulator, progress: ProgressCallback | None) -> None:
        raise NotImplementedError


# --- CSV (vectorised) -----------------------------------------------------------------------


def read_header(file: UsageFile) -> list[str]:
    with file.open() as raw:
        stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        try:
            header = next(csv.reader(stream), [])
        except UnicodeDecodeError as exc:
            raise UsageFileError(
                [UsageProblem(file.name, 1, None, "the file is not UTF-8 encoded")]
            ) from exc
        except csv.Error as exc:
            raise UsageFileError([UsageProblem(file.name, 1, None, f"bad header: {exc}")]) from exc
    if not header:
        raise UsageFileError([UsageProblem(file.name, 1, None, "the file is empty")])
    return header


def map_columns(
    file: UsageFile,
    header: list[str],
    wanted: dict[str, tuple[str, ...]],
    required: Iterable[str],
    acc: Accumulator,
) -> dict[str, str]:
    """Map logical fields to the file's header names. `wanted[field]` lists accepted names (the
    first is the documented one). Unknown columns are ignored (and reported); missing required
    ones refuse the file, naming them."""
    by_norm = {normalise(h): h for h in header}
    found: dict[str, str] = {}
    for logical, names in wanted.items():
        for name in names:
            actual = by_norm.get(normalise(name))
            if actual is not None:
                found[logical] = actual
                break
    missing = [wanted[f][0] for f in required if f not in found]
    if missing:
        raise UsageFileError(
            [
                UsageProblem(
                    file.name,
                    1,
                    ", ".join(missing),
                    f"missing required column{'s' if len(missing) > 1 else ''}: "
                    f"{', '.join(missing)} (the header has: {', '.join(header)[:500]})",
                )
            ]
        )
    used = set(found.values())
    acc.ignored_fields.update(h for h in header if h not in used and h.strip())
    return found


def csv_chunks(
    file: UsageFile,
    columns: dict[str, str],
    numeric: Iterable[str],
    progress: ProgressCallback | None,
) -> Iterator[tuple[int, pd.DataFrame]]:
    """(first data line number, chunk) for the mapped columns; numeric ones as int64 or
    float64 (NaN for empty or NA values), people's identifiers (logical fields in
    `IDENTIFIER_FIELDS`) as strings, other text as categories. A numeric column with anything
    else refuses the file, naming the lines. Line numbers assume one physical line per record
    (true of every documented export)."""
    numeric_names = [columns[f] for f in numeric if f in columns]
    # Numeric columns are left to the C parser's own inference (integers first) rather than
    # forced to float64: usage exports are mostly integer counts, and its integer parser is
    # about a third cheaper than its float one. The dtype is checked per chunk below.
    dtypes: dict[str, Any] = {columns[f]: object for f in IDENTIFIER_FIELDS if f in columns}
    # Other text columns (days, tools, metrics: few distinct values) as categories: the C
    # parser hands back codes, so no per-row Python strings are hashed again. Not the
    # identifiers: for thousands of distinct values pandas' inference of category types
    # (numbers? booleans?) costs more than the strings.
    dtypes.update(
        {c: "category" for c in columns.values() if c not in dtypes and c not in numeric_names}
    )
    with file.open() as raw:
        counted = io.BufferedReader(CountingReader(raw, progress), buffer_size=1 << 20)
        try:
            reader = pd.read_csv(
                counted,
                usecols=list(dict.fromkeys(columns.values())),
                dtype=dtypes,
                # Wide files (Amazon Q: 46 columns) get shorter chunks: bounded cells per chunk.
                chunksize=max(5_000, min(CSV_CHUNK_ROWS, CSV_CHUNK_CELLS // len(columns))),
                encoding="utf-8-sig",
                skip_blank_lines=True,
                # Each chunk parsed in one piece (bounded above), not in sub-chunks that are
                # then concatenated again.
                low_memory=False,
            )
            line = 2
            for chunk in reader:
                kinds = chunk.dtypes
                if not all(kinds[c].kind in "iuf" for c in numeric_names):
                    # Booleans and text are not numbers: `_diagnose` names the lines.
                    raise ValueError("a numeric column holds something else than numbers")
                yield line, chunk
                line += len(chunk)
        except UnicodeDecodeError as exc:
            raise UsageFileError(
                [UsageProblem(file.name, None, None, "the file is not UTF-8 encoded")]
            ) from exc
        except (ValueError, pd.errors.ParserError) as exc:
            _diagnose(file, numeric_names)
            raise UsageFileError([UsageProblem(file.name, None, None, str(exc))]) from exc


def _diagnose(file: UsageFile, numeric_names: list[str]) -> None:
    """The slow path after pandas refused a file: find the lines and fields at fault."""
    problems = Problems()
    with file.open() as raw:
        reader = csv.reader(text_stream(raw, None))
        header = next(reader, [])
        positions = [(i, h) for i, h in enumerate(header) if h in numeric_names]
        for record in reader:
            if not record:
                continue
            if len(record) > len(header):
                problems.add(
                    file.name,
                    reader.line_num,
                    None,
                    f"expected {len(header)} fields like the header, found {len(record)}",
                )
                continue
            for i, name in positions:
                value = record[i].strip() if i < len(record) else ""
                if value and value.upper() not in ("NA", "NAN", "NULL", "N/A"):
                    try:
                        float(value)
                    except ValueError:
                        problems.add(
                            file.name, reader.line_num, name, f"'{value[:50]}' is not a number"
                        )
    problems.raise_if_any()


def codes_and_uniques(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Integer codes per row (-1 for empty) and the distinct values, cheaply for categories."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(dtype=np.int64), series.cat.categories.tolist()
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes.astype(np.int64, copy=False), list(uniques)


def resolve_column(acc: Accumulator, kind: str, series: pd.Series) -> np.ndarray:
    """Person index per row (-1 when nobody matches, including empty identifiers). Exact
    matches in one hashed pass; the rest (other spellings, unknown or empty identifiers)
    resolved once per distinct value, and the unmatched ones counted."""
    values = series.to_numpy(dtype=object)
    persons = acc.roster.resolve_exact(kind, values)
    missed = np.flatnonzero(persons < 0)
    if not len(missed):
        return persons
    codes, uniques = codes_and_uniques(pd.Series(values[missed], dtype=object))
    lut = np.append(acc.roster.resolve_many(kind, uniques), -1)  # code -1 (empty) -> -1
    persons[missed] = lut[codes]
    unmatched: Counter[str] = Counter()
    counts = np.bincount(codes + 1, minlength=len(uniques) + 1)
    if counts[0]:
        unmatched[EMPTY_IDENTIFIER] += int(counts[0])
    for j in np.flatnonzero(lut[:-1] < 0).tolist():
        unmatched[str(uniques[j]).strip() or EMPTY_IDENTIFIER] += int(counts[j + 1])
    if unmatched:
        acc.add_unmatched(unmatched)
    return persons


class DayParser:
    """Cached, vectorised day parsing with problems reported at the first offending line."""

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}

    def one(self, value: object) -> int:
        key = value if isinstance(value, str) else repr(value)
        found = self._cache.get(key)
        if found is None:
            found = parse_day(value)
            self._cache[key] = found
        return found

    def column(
        self,
        series: pd.Series,
        file: str,
        first_line: int,
        column: str,
        problems: Problems,
        allow_empty: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(day numbers, valid mask) for every row; empty values are problems unless
        `allow_empty`."""
        codes, uniques = codes_and_uniques(series)
        lut = np.full(len(uniques) + 1, -1, dtype=np.int64)
        for j, value in enumerate(uniques):
            try:
                lut[j] = self.one(value)
            except DayError as exc:
                row = int(np.argmax(codes == j))
                problems.add(file, first_line + row, column, str(exc))
        if not allow_empty and (codes < 0).any():
            row = int(np.argmax(codes < 0))
            problems.add(file, first_line + row, column, "the date is empty")
        days = lut[codes]
        return days, days >= 0


# --- Records (JSON, or CSV read row by row) -------------------------------------------------


class MissingField(Exception):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(name)


def get(record: dict[str, Any], *path: str, default: Any = MissingField) -> Any:
    """`record[path[0]][path[1]]...`; field names are compared like CSV headers when the exact
    name is absent. Raises `MissingField` naming the dotted path unless `default` is given."""
    value: Any = record
    for i, key in enumerate(path):
        if not isinstance(value, dict):
            value = None
        elif key in value:
            value = value[key]
            continue
        else:
            wanted = normalise(key)
            value = next((v for k, v in value.items() if normalise(k) == wanted), MissingField)
            if value is not MissingField:
                continue
        if default is MissingField:
            raise MissingField(".".join(path[: i + 1]))
        return default
    return value


def number(value: Any, name: str) -> float:
    if value is None or value == "":
        return 0.0
    if isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"'{str(value)[:50]}' is not a number ({name})") from exc


Values = list[tuple[str, str, str, float]]  # (metric, unit, SUM/MAX, value)


@dataclass(slots=True)
class Row:
    """What an adapter reads from one record. `identifier` None means not a person (an API key
    or a service account): counted, added to the service totals, never attributed."""

    identifier: str | None
    day: object
    values: Values
    source: str | None = None


class RecordAdapter(Adapter):
    """Formats read one record at a time. Subclasses implement `row`."""

    identity_kind: ClassVar[str] = "email"
    day_field: ClassVar[str] = "date"
    counts_active_users: ClassVar[bool] = True
    container: ClassVar[str] = "json"  # "json", or "auto" (CSV or JSON)

    def roster_kinds(self) -> tuple[str, ...]:
        return (self.identity_kind,)

    def row(self, record: JsonRecord) -> Row:
        raise NotImplementedError

    def records(self, file: UsageFile, progress: ProgressCallback | None) -> Iterator[JsonRecord]:
        with file.open() as raw:
            if self.container == "auto" and sniff_first_char(raw) not in ("[", "{"):
                reader = csv.DictReader(text_stream(raw, progress))
                try:
                    for record in reader:
                        yield JsonRecord(record, reader.line_num)
                except csv.Error as exc:
                    raise UsageFileError(
                        [UsageProblem(file.name, reader.line_num, None, str(exc))]
                    ) from exc
                return
            try:
                yield from iter_json_records(raw, file.name, progress)
            except UnicodeDecodeError as exc:
                raise UsageFileError(
                    [UsageProblem(file.name, None, None, "the file is not UTF-8 encoded")]
                ) from exc

    def read(self, file: UsageFile, acc: Accumulator, progress: ProgressCallback | None) -> None:
        problems = Problems()
        roster = acc.roster
        days = DayParser()
        batch: dict[str, list[int | float]] = {k: [] for k in ("s", "p", "d", "m", "v")}
        unmatched: Counter[str] = Counter()
        for record in self.records(file, progress):
            acc.rows_read += 1
            try:
                row = self.row(record)
                day = days.one(row.day)
            except MissingField as exc:
                problems.add(
                    file.name, record.line, exc.name, f"required field {exc.name} is missing"
                )
                continue
            except DayError as exc:
                problems.add(file.name, record.line, self.day_field, str(exc))
                continue
            except ValueError as exc:
                problems.add(file.name, record.line, None, str(exc))
                continue
            source = acc.source(row.source or self.name)
            if self.counts_active_users:
                acc.count_active_users(source)
            acc.days[source].add(day)
            if row.identifier is None:
                acc.rows_service += 1
                for metric, _, how, value in row.values:
                    if how == SUM:
                        acc.add_service(metric, value)
                continue
            person = roster.resolve(self.identity_kind, row.identifier)
            if person < 0:
                acc.rows_unmatched += 1
                unmatched[row.identifier.strip() or EMPTY_IDENTIFIER] += 1
                continue
            acc.rows_matched += 1
            for metric, unit, how, value in row.values:
                if value:
                    batch["s"].append(source)
                    batch["p"].append(person)
                    batch["d"].append(day)
                    batch["m"].append(acc.metric(metric, unit, how))
                    batch["v"].append(value)
            if len(batch["v"]) >= _RECORD_BATCH:
                _flush(acc, batch)
        _flush(acc, batch)
        acc.add_unmatched(unmatched)
        problems.raise_if_any()


def _flush(acc: Accumulator, batch: dict[str, list[int | float]]) -> None:
    if not batch["v"]:
        return
    acc.add(
        np.array(batch["s"], dtype=np.int64),
        np.array(batch["p"], dtype=np.int64),
        np.array(batch["d"], dtype=np.int64),
        np.array(batch["m"], dtype=np.int64),
        np.array(batch["v"], dtype=np.float64),
    )
    for values in batch.values():
        values.clear()
