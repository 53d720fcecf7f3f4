"""Reading the containers AI tools export, and their dates. Pure: no database here.

Containers: CSV (UTF-8 with or without BOM), a JSON array, `{"data": [...]}` pages (with or
without `has_more`), OpenAI/Anthropic bucket objects with `results`, NDJSON, or several pages
one after another. JSON is read one top-level value (or one top-level array item) at a time, so
an NDJSON or JSON-array file is never held in memory whole.

Dates: `YYYY-MM-DD`, `YYYY/MM/DD`, `YYYYMMDD`, ISO timestamps (`Z` or an offset, converted to
UTC; naive ones are taken as UTC), epoch seconds or epoch milliseconds (numbers above 1e11 are
milliseconds). Ambiguous forms such as `03/04/2025` are refused rather than guessed.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

EPOCH = dt.date(1970, 1, 1)
MAX_DAY = 65535  # days since 1970 that fit the accumulator's 16-bit day field (year 2149)
MAX_REPORTED_PROBLEMS = 50

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SLASH_DAY = re.compile(r"^\d{4}/\d{2}/\d{2}$")
_COMPACT_DAY = re.compile(r"^(19|20)\d{6}$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class UsageProblem:
    """One thing wrong with an export: file, line (or record number for JSON), field, cause."""

    file: str
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", line {self.line}"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "field": self.field, "message": self.message}


class UsageFileError(Exception):
    """The delivery was refused; nothing was written. `problems` are the first ones found."""

    def __init__(self, problems: list[UsageProblem], total: int | None = None) -> None:
        self.problems = problems[:MAX_REPORTED_PROBLEMS]
        self.total = total if total is not None else len(problems)
        shown = "\n".join(str(p) for p in self.problems)
        more = (
            f"\n... and {self.total - len(self.problems)} more"
            if self.total > len(self.problems)
            else ""
        )
        super().__init__(f"{shown}{more}")


class DayError(ValueError):
    pass


def parse_day(value: object) -> int:
    """The UTC day of `value` as days since 1970-01-01. Raises `DayError` when unreadable."""
    if isinstance(value, bool) or value is None:
        raise DayError(f"'{value}' is not a date")
    if isinstance(value, (int, float)):
        return _epoch_day(float(value))
    text = str(value).strip()
    if not text:
        raise DayError("the date is empty")
    try:
        if _ISO_DAY.match(text):
            return _day_number(dt.date.fromisoformat(text))
        if _SLASH_DAY.match(text):
            return _day_number(dt.date.fromisoformat(text.replace("/", "-")))
        if _COMPACT_DAY.match(text):
            return _day_number(dt.date(int(text[:4]), int(text[4:6]), int(text[6:])))
        if _NUMBER.match(text):
            return _epoch_day(float(text))
        moment = dt.datetime.fromisoformat(text.replace(" UTC", "Z"))
    except ValueError as exc:
        raise DayError(
            f"'{text}' is not a date (use YYYY-MM-DD, an ISO timestamp or epoch seconds/ms)"
        ) from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return _day_number(moment.date())


def day_from_number(day: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(day))


def _epoch_day(number: float) -> int:
    seconds = number / 1000 if abs(number) > 1e11 else number
    try:
        moment = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise DayError(f"'{number}' is not an epoch time") from exc
    return _day_number(moment.date())


def _day_number(day: dt.date) -> int:
    number = (day - EPOCH).days
    if not 0 <= number <= MAX_DAY:
        raise DayError(f"{day.isoformat()} is outside 1970-2149")
    return number


# --- Byte counting (progress) -------------------------------------------------------------------


class CountingReader(io.RawIOBase):
    """A binary file wrapper that reports how many bytes were read (for progress)."""

    def __init__(self, raw: IO[bytes], progress: ProgressCallback | None) -> None:
        self._raw = raw
        self._progress = progress
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        readinto = getattr(self._raw, "readinto", None)
        if readinto is not None:
            n = readinto(buffer) or 0  # straight into the caller's buffer: no copy
        else:
            data = self._raw.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self.count += n
        if self._progress is not None and n:
            self._progress(self.count)
        return n


def text_stream(raw: IO[bytes], progress: ProgressCallback | None) -> io.TextIOWrapper:
    """UTF-8 text (a BOM is dropped) over `raw`, counting bytes read."""
    counted = io.BufferedReader(CountingReader(raw, progress), buffer_size=1 << 20)
    return io.TextIOWrapper(counted, encoding="utf-8-sig", newline="")


def sniff_first_char(raw: IO[bytes]) -> str:
    """The first non-blank character of a seekable binary file (BOM skipped); '' if empty."""
    start = raw.tell()
    head = raw.read(4096)
    raw.seek(start)
    text = head.decode("utf-8-sig", errors="ignore").lstrip()
    return text[:1]


# --- JSON containers ----------------------------------------------------------------------------


@dataclass(slots=True)
class JsonRecord:
    """A record and where it came from: NDJSON line, or 1-based position in the file."""

    value: dict[str, Any]
    line: int
    bucket: dict[str, Any] | None = None


class _JsonValues:
    """Top-level JSON values of a text stream, decoded one at a time; a top-level array yields
    its items instead. Tracks the line each value starts on."""

    def __init__(self, stream: IO[str], filename: str) -> None:
        self._stream = stream
        self._filename = filename
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._line = 1
        self._decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._stream.read(1 << 20)
        if not chunk:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + chunk
        self._pos = 0
        return True

    def _skip(self, chars: str) -> str:
        """Skip whitespace and any of `chars`; return the next character ('' at the end)."""
        while True:
            while self._pos < len(self._buf):
                c = self._buf[self._pos]
                if c == "\n":
                    self._line += 1
                elif not (c.isspace() or c in chars):
                    return c
                self._pos += 1
            if not self._fill():
                return ""

    def _decode(self) -> tuple[Any, int]:
        line = self._line
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._fill():
                    continue
                where = line + self._buf.count("\n", self._pos, exc.pos)
                raise UsageFileError(
                    [UsageProblem(self._filename, where, None, f"invalid JSON: {exc.msg}")]
                ) from exc
            self._line += self._buf.count("\n", self._pos, end)
            self._pos = end
            return value, line

    def __iter__(self) -> Iterator[tuple[Any, int]]:
        first = self._skip("")
        if first == "[":
            self._pos += 1
            position = 0
            while True:
                c = self._skip(",")
                if c == "]" or c == "":
                    if c == "":
                        raise UsageFileError(
                            [UsageProblem(self._filename, self._line, None, "unterminated array")]
                        )
                    return
                value, line = self._decode()
                position += 1
                yield value, line
        while first:
            yield self._decode()
            first = self._skip("")


def iter_json_records(
    raw: IO[bytes], filename: str, progress: ProgressCallback | None
) -> Iterator[JsonRecord]:
    """Every record of a JSON export, whatever the container. Records inside `{"data": [...]}`
    pages and inside buckets with `results` come out one by one, with their bucket attached
    (the bucket carries the day for OpenAI and Anthropic reports)."""
    stream = text_stream(raw, progress)
    for value, line in _JsonValues(stream, filename):
        yield from _unwrap(value, line, None, filename)


def _unwrap(
    value: Any, line: int, bucket: dict[str, Any] | None, filename: str
) -> Iterator[JsonRecord]:
    if isinstance(value, list):
        for item in value:
            yield from _unwrap(item, line, bucket, filename)
        return
    if not isinstance(value, dict):
        raise UsageFileError([UsageProblem(filename, line, None, "expected a JSON object")])
    if isinstance(value.get("data"), list):
        for item in value["data"]:
            yield from _unwrap(item, line, bucket, filename)
        return
    if isinstance(value.get("results"), list):
        for item in value["results"]:
            yield from _unwrap(item, line, value, filename)
        return
    yield JsonRecord(value, line, bucket)
