"""Reading and validating a roster CSV. Pure functions: nothing here touches the database.

`parse_roster` returns either every row, validated and normalised (column by column, see
`RosterColumns`), or every problem found, each naming the line, the column and what is wrong.
The service in `surveys.services` writes the rows only when there is no problem at all, so a
bad file never changes anything.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from surveys.models import TEAM_PATH_SEPARATOR

REQUIRED_COLUMNS: tuple[str, ...] = (
    "email",
    "name",
    "team",
    "manager_email",
    "location",
    "start_date",
    "timezone",
)
ALIAS_COLUMNS: tuple[str, ...] = ("github_login", "aws_user_id", "openai_user_id", "upn")
KNOWN_COLUMNS = frozenset(REQUIRED_COLUMNS + ALIAS_COLUMNS)

MAX_REPORTED_ERRORS = 200

# Deliberately simple: one @, no spaces, a dot in the domain. Django's EmailValidator is ten
# times slower and accepts the same real-world addresses.
_EMAIL_RE = re.compile(
    r"^[^@\s,;<>\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$"
)
_GITHUB_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_ID_RE = re.compile(r"^[A-Za-z0-9._:@-]{1,100}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(raw: str) -> dt.date:
    """A date written exactly YYYY-MM-DD. Raises ValueError otherwise: Python 3.11's
    `date.fromisoformat` also takes `20200101` and ISO week dates, which the roster's
    documented format (and the error message) do not allow."""
    if not _DATE_RE.match(raw):
        raise ValueError(raw)
    return dt.date.fromisoformat(raw)


ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class RosterProblem:
    """One thing wrong with the file. `line` is the 1-based physical line (the header is 1)."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "column": self.column, "message": self.message}


@dataclass(slots=True)
class RosterRow:
    """A validated, normalised roster row."""

    line: int
    email: str
    name: str
    team_path: str
    manager_email: str | None
    location: str
    start_date: dt.date | None
    timezone: str
    github_login: str | None = None
    aws_user_id: str | None = None
    openai_user_id: str | None = None
    upn: str | None = None


@dataclass(slots=True)
class RosterColumns:
    """The validated rows column by column: position i of every list is the file's i-th
    employee, normalised exactly as `RosterRow`. Every alias column is present, all None when
    the file does not carry it. Importers work on columns: a 50,000-row file then costs a few
    C-level passes per column instead of an object and attribute reads per row."""

    line: list[int] = field(default_factory=list)
    email: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    team_path: list[str] = field(default_factory=list)
    manager_email: list[str | None] = field(default_factory=list)
    location: list[str] = field(default_factory=list)
    start_date: list[dt.date | None] = field(default_factory=list)
    timezone: list[str] = field(default_factory=list)
    aliases: dict[str, list[str | None]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.email)

    @classmethod
    def from_rows(cls, rows: list[RosterRow]) -> RosterColumns:
        def of(name: str) -> list[Any]:
            return [getattr(row, name) for row in rows]

        return cls(
            line=of("line"),
            email=of("email"),
            name=of("name"),
            team_path=of("team_path"),
            manager_email=of("manager_email"),
            location=of("location"),
            start_date=of("start_date"),
            timezone=of("timezone"),
            aliases={alias: of(alias) for alias in ALIAS_COLUMNS},
        )

    def as_rows(self) -> list[RosterRow]:
        return list(
            map(
                RosterRow,
                self.line,
                self.email,
                self.name,
                self.team_path,
                self.manager_email,
                self.location,
                self.start_date,
                self.timezone,
                *(self.aliases.get(alias, [None] * len(self)) for alias in ALIAS_COLUMNS),
            )
        )


@dataclass(slots=True)
class ParsedRoster:
    columns: RosterColumns = field(default_factory=RosterColumns)
    problems: list[RosterProblem] = field(default_factory=list)
    problem_count: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    # Columns the file carries: an alias column absent from the file leaves stored aliases alone.
    alias_columns: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    @property
    def rows(self) -> list[RosterRow]:
        """The valid rows as objects (built on each call: importers read `columns`)."""
        return self.columns.as_rows()

    def add(self, line: int, column: str | None, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED_ERRORS:
            self.problems.append(RosterProblem(line, column, message))


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def decode_roster(data: bytes, parsed: ParsedRoster) -> str | None:
    """Decode UTF-8 (with or without BOM). On failure, record where the bad byte is."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        column = exc.start - line_start + 1
        # Name the CSV column too, when the header itself is readable (quotes aside).
        field_name: str | None = None
        header_end = data.find(b"\n")
        if line > 1 and header_end > 0:
            try:
                header = data[:header_end].decode("utf-8-sig").strip().lower().split(",")
            except UnicodeDecodeError:
                header = []
            position = data[line_start : exc.start].count(b",")
            if position < len(header):
                field_name = header[position].strip() or None
        parsed.add(
            line,
            field_name,
            f"the file is not UTF-8 encoded (byte 0x{data[exc.start]:02x} at character "
            f"{column}); save it as 'CSV UTF-8' and upload again",
        )
        return None


def parse_roster(data: bytes, *, progress: ProgressCallback | None = None) -> ParsedRoster:
    """Validate a whole roster file and return its rows (`ParsedRoster.columns`), or every
    problem (up to 200 listed).

    Checks: encoding, header (missing, duplicate columns), field count, email syntax, duplicate
    emails, empty names, team paths, dates (YYYY-MM-DD), IANA time zones, alias syntax and
    duplicates, managers that are not in the file, and cycles in the manager chain.
    """
    parsed = ParsedRoster()
    text = decode_roster(data, parsed)
    if text is None:
        return parsed
    if "\x00" in text:
        parsed.add(1, None, "the file contains NUL bytes; it is not a CSV text file")
        return parsed

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        parsed.add(1, None, "the file is empty; expected a header line")
        return parsed
    except csv.Error as exc:
        parsed.add(1, None, f"the header is not valid CSV: {exc}")
        return parsed

    columns = [h.strip().lower() for h in header]
    index: dict[str, int] = {}
    for position, name in enumerate(columns):
        if not name:
            continue
        if name in index:
            parsed.add(1, name, f"column '{name}' appears twice in the header")
        index[name] = position
    missing = [c for c in REQUIRED_COLUMNS if c not in index]
    if missing:
        parsed.add(
            1,
            ", ".join(missing),
            f"missing required column{'s' if len(missing) > 1 else ''}: {', '.join(missing)} "
            f"(expected {','.join(REQUIRED_COLUMNS)})",
        )
    if not parsed.ok:
        return parsed
    parsed.ignored_columns = [c for c in columns if c and c not in KNOWN_COLUMNS]
    parsed.alias_columns = tuple(c for c in ALIAS_COLUMNS if c in index)

    total = max(text.count("\n"), 1)
    zones = _time_zones()
    width = len(columns)
    # The common case, a valid file, is checked column by column at C speed; any doubt and the
    # row-by-row validation runs instead, naming every problem. Both accept exactly the same
    # files and return the same rows (tests/surveys/test_roster_parsing.py holds them to it).
    columns = _columns_if_all_valid(text, width, index, parsed.alias_columns, zones)
    if columns is not None:
        parsed.columns = columns
    else:
        _validate_rows(text, width, index, parsed, zones, progress, total)

    if not parsed.columns and parsed.ok:
        parsed.add(2, None, "the file has a header but no employees")
    if parsed.ok:
        _check_managers(parsed)
    if progress is not None:
        progress(total, total)
    return parsed


def _validate_rows(
    text: str,
    width: int,
    index: dict[str, int],
    parsed: ParsedRoster,
    zones: frozenset[str],
    progress: ProgressCallback | None,
    total: int,
) -> None:
    """Row by row: keep the valid rows, record every problem with its line and column."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    next(reader)  # the header, already checked
    seen_email: dict[str, int] = {}
    seen_alias: dict[tuple[str, str], int] = {}
    rows: list[RosterRow] = []
    get = index.get
    line = 1
    try:
        for record in reader:
            line = reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line
            if len(record) != width:
                parsed.add(
                    line, None, f"expected {width} fields like the header, found {len(record)}"
                )
                continue
            row = _validate_record(record, line, index, get, zones, parsed)
            if row is None:
                continue
            first = seen_email.get(row.email)
            if first is not None:
                parsed.add(line, "email", f"duplicate email '{row.email}' (first on line {first})")
                continue
            seen_email[row.email] = line
            for alias in parsed.alias_columns:
                value = getattr(row, alias)
                if value is None:
                    continue
                first = seen_alias.get((alias, value))
                if first is not None:
                    parsed.add(line, alias, f"duplicate {alias} '{value}' (first on line {first})")
                else:
                    seen_alias[(alias, value)] = line
            rows.append(row)
            if progress is not None and len(rows) % 5000 == 0:
                progress(line, total)
    except csv.Error as exc:
        parsed.add(reader.line_num or line, None, f"malformed CSV: {exc}")
    parsed.columns = RosterColumns.from_rows(rows)


def _columns_if_all_valid(
    text: str,
    width: int,
    index: dict[str, int],
    alias_columns: tuple[str, ...],
    zones: frozenset[str],
) -> RosterColumns | None:
    """Every row, validated and normalised exactly as `_validate_record` does, or None as soon
    as anything would be a problem there (the caller then finds and names the problems).

    Column-wise: each check is one pass of a C-level builtin (`map`, `set`, `all`) over a
    column, and the columns that repeat (teams, managers, dates) are normalised once per
    distinct value.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    next(reader)  # the header, already checked
    header_lines = reader.line_num
    try:
        records = list(reader)
    except csv.Error:
        return None
    if reader.line_num - header_lines == len(records) and set(map(len, records)) == {width}:
        # One physical line per record, and no blank line: line numbers follow.
        lines: list[int] = list(range(header_lines + 1, reader.line_num + 1))
    else:
        records, lines = _records_with_lines(text, width)
        if lines is None:
            return None
    if not records:
        return RosterColumns()
    columns = list(zip(*records, strict=True))
    del records

    def column(name: str) -> list[str]:
        return list(map(str.strip, columns[index[name]]))

    emails = list(map(str.lower, column("email")))
    if not all(map(_EMAIL_RE.match, emails)) or len(set(emails)) != len(emails):
        return None

    names = column("name")
    if not all(names) or max(map(len, names)) > 200:
        return None

    team_paths: dict[str, str] = {}
    for raw in set(columns[index["team"]]):
        team_raw = raw.strip().strip(TEAM_PATH_SEPARATOR)
        segments = [s.strip() for s in team_raw.split(TEAM_PATH_SEPARATOR)]
        if not team_raw or not all(segments) or max(map(len, segments)) > 200:
            return None
        team_paths[raw] = TEAM_PATH_SEPARATOR.join(segments)
    teams = list(map(team_paths.__getitem__, columns[index["team"]]))

    managers = _empty_as_none(list(map(str.lower, column("manager_email"))))
    if not all(map(_EMAIL_RE.match, set(managers) - {None})):
        return None

    locations = column("location")
    if max(map(len, locations)) > 200:
        return None

    raw_dates = column("start_date")
    dates: dict[str, dt.date | None] = {"": None}
    try:
        dates.update((raw, _iso_date(raw)) for raw in set(raw_dates) if raw)
    except ValueError:
        return None
    start_dates = list(map(dates.__getitem__, raw_dates))

    time_zones = column("timezone")
    if not zones.issuperset(time_zones):
        return None

    none = [None] * len(emails)
    aliases: dict[str, list[str | None]] = dict.fromkeys(ALIAS_COLUMNS, none)
    for alias in alias_columns:
        values = column(alias)
        present = list(filter(None, values))
        if alias == "github_login":
            valid = all(map(_GITHUB_RE.match, present))
            values = list(map(str.lower, values))
        elif alias == "upn":
            values = list(map(str.lower, values))
            valid = all(map(_EMAIL_RE.match, filter(None, values)))
        else:
            valid = all(map(_ID_RE.match, present))
        normalised = _empty_as_none(values)
        if not valid or len(set(normalised)) - (None in normalised) != len(present):
            return None
        aliases[alias] = normalised

    return RosterColumns(
        line=lines,
        email=emails,
        name=names,
        team_path=teams,
        manager_email=managers,
        location=locations,
        start_date=start_dates,
        timezone=time_zones,
        aliases=aliases,
    )


_EMPTY: dict[str, None] = {"": None}


def _empty_as_none(values: list[str]) -> list[str | None]:
    """`[value or None for value in values]` at C speed: `get` returns the value itself as the
    default for everything but the empty string."""
    return list(map(_EMPTY.get, values, values))


def _records_with_lines(text: str, width: int) -> tuple[list[list[str]], list[int] | None]:
    """The records of a file with quoted line breaks or blank lines, each with its line number;
    no line numbers when a record has the wrong number of fields."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    next(reader)
    records: list[list[str]] = []
    lines: list[int] = []
    for record in reader:
        if len(record) == width:
            records.append(record)
            lines.append(reader.line_num)
        elif record and (len(record) != 1 or record[0].strip()):
            return records, None
    return records, lines


def _validate_record(
    record: list[str],
    line: int,
    index: dict[str, int],
    get: Callable[[str], int | None],
    zones: frozenset[str],
    parsed: ParsedRoster,
) -> RosterRow | None:
    problems_before = parsed.problem_count
    email = record[index["email"]].strip().lower()
    if not email:
        parsed.add(line, "email", "email is empty")
    elif not _EMAIL_RE.match(email):
        parsed.add(line, "email", f"'{email}' is not a valid email address")

    name = record[index["name"]].strip()
    if not name:
        parsed.add(line, "name", "name is empty")
    elif len(name) > 200:
        parsed.add(line, "name", "name is longer than 200 characters")

    team_raw = record[index["team"]].strip().strip(TEAM_PATH_SEPARATOR)
    segments = [s.strip() for s in team_raw.split(TEAM_PATH_SEPARATOR)]
    if not team_raw:
        parsed.add(line, "team", "team is empty (expected a path like Engineering/Platform/API)")
    elif any(not s for s in segments):
        parsed.add(line, "team", f"team path '{team_raw}' has an empty level")
    elif any(len(s) > 200 for s in segments):
        parsed.add(line, "team", "a team name is longer than 200 characters")
    team_path = TEAM_PATH_SEPARATOR.join(segments)

    manager_email = record[index["manager_email"]].strip().lower() or None
    if manager_email is not None and not _EMAIL_RE.match(manager_email):
        parsed.add(line, "manager_email", f"'{manager_email}' is not a valid email address")

    location = record[index["location"]].strip()
    if len(location) > 200:
        parsed.add(line, "location", "location is longer than 200 characters")

    start_raw = record[index["start_date"]].strip()
    start_date: dt.date | None = None
    if start_raw:
        try:
            start_date = _iso_date(start_raw)
        except ValueError:
            parsed.add(line, "start_date", f"'{start_raw}' is not a date in the form YYYY-MM-DD")

    tz = record[index["timezone"]].strip()
    if not tz:
        parsed.add(line, "timezone", "timezone is empty (expected an IANA name like Europe/Paris)")
    elif tz not in zones:
        parsed.add(line, "timezone", f"unknown time zone '{tz}' (expected an IANA name)")

    aliases: dict[str, str | None] = {}
    for alias in ALIAS_COLUMNS:
        position = get(alias)
        value = record[position].strip() if position is not None else ""
        if not value:
            aliases[alias] = None
            continue
        if alias == "github_login":
            if not _GITHUB_RE.match(value):
                parsed.add(line, alias, f"'{value}' is not a valid GitHub login")
            value = value.lower()
        elif alias == "upn":
            value = value.lower()
            if not _EMAIL_RE.match(value):
                parsed.add(line, alias, f"'{value}' is not a valid user principal name")
        elif not _ID_RE.match(value):
            parsed.add(line, alias, f"'{value}' is not a valid identifier")
        aliases[alias] = value

    if parsed.problem_count != problems_before:
        return None
    return RosterRow(
        line=line,
        email=email,
        name=name,
        team_path=team_path,
        manager_email=manager_email,
        location=location,
        start_date=start_date,
        timezone=tz,
        **aliases,
    )


def _check_managers(parsed: ParsedRoster) -> None:
    """Every manager must be a row of the file, and the manager chain must have no cycle."""
    columns = parsed.columns
    manager_of = dict(zip(columns.email, columns.manager_email, strict=True))
    if not manager_of.keys() >= set(columns.manager_email) - {None}:
        for line, manager in zip(columns.line, columns.manager_email, strict=True):
            if manager is not None and manager not in manager_of:
                parsed.add(
                    line,
                    "manager_email",
                    f"manager '{manager}' is not in the file (every manager must be a row)",
                )
        return
    # Pointer jumping on positions: after k rounds `above[i]` is the position of employee i's
    # manager 2**k levels up, or `top` once the chain has ended (`top` is its own manager).
    # Without a cycle every chain ends within len() levels; each round is one C-level pass.
    top = len(columns)
    position_of: dict[str | None, int] = dict(zip(columns.email, range(top), strict=True))
    position_of[None] = top
    above = list(map(position_of.__getitem__, columns.manager_email))
    above.append(top)
    for _ in range(top.bit_length() + 1):
        if above.count(top) == len(above):
            return
        above = list(map(above.__getitem__, above))
    # There is a cycle. Colour walk to name it: 0 = unvisited, 1 = on the current chain,
    # 2 = known to reach a root or a cycle already reported.
    state: dict[str, int] = {}
    line_of: dict[str, int] | None = None
    for email in manager_of:
        chain: list[str] = []
        current: str | None = email
        while current is not None and state.get(current, 0) == 0:
            state[current] = 1
            chain.append(current)
            current = manager_of[current]
        if current is not None and state[current] == 1:
            if line_of is None:
                line_of = dict(zip(columns.email, columns.line, strict=True))
            start = chain.index(current)
            cycle = [*chain[start:], current]
            parsed.add(
                line_of[current], "manager_email", "cycle in managers: " + " -> ".join(cycle)
            )
        for member in chain:
            state[member] = 2
