"""Writes to the organisation. Callers: management commands, HR views, API, tasks."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from surveys.models import TEAM_PATH_SEPARATOR, Employee, Role, RosterImport, Team
from surveys.roster import MAX_REPORTED_ERRORS, ParsedRoster, RosterProblem, parse_roster

ProgressCallback = Callable[[str, int, int], None]

_EMPLOYEE_FIELDS = ("name", "team_id", "location", "start_date", "timezone", "is_active")
_IS_ACTIVE = _EMPLOYEE_FIELDS.index("is_active")
_BATCH = 2000


class RosterImportError(Exception):
    """The file was refused; nothing was written. `problems` name line, column and cause."""

    def __init__(self, problems: list[RosterProblem], total: int) -> None:
        self.problems = problems
        self.total = total
        shown = "\n".join(str(p) for p in problems)
        more = f"\n... and {total - len(problems)} more" if total > len(problems) else ""
        super().__init__(
            f"{total} problem{'s' if total != 1 else ''} in the roster:\n{shown}{more}"
        )


@dataclass(slots=True)
class RosterImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0
    teams_created: int = 0
    ignored_columns: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.rows} rows: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.deactivated} deactivated; "
            f"{self.teams_created} teams created"
        )
        if self.ignored_columns:
            text += f" (ignored columns: {', '.join(self.ignored_columns)})"
        return text


def _ensure_teams(paths: Iterable[str]) -> dict[str, Team]:
    """Map every path (and all its ancestors) to a Team, creating missing ones level by level."""
    wanted: set[str] = set()
    for path in paths:
        parts = path.split(TEAM_PATH_SEPARATOR)
        for i in range(len(parts)):
            wanted.add(TEAM_PATH_SEPARATOR.join(parts[: i + 1]))
    existing = {t.path: t for t in Team.objects.filter(path__in=wanted)}
    missing = sorted(wanted - existing.keys(), key=lambda p: (p.count(TEAM_PATH_SEPARATOR), p))
    by_depth: dict[int, list[str]] = {}
    for path in missing:
        by_depth.setdefault(path.count(TEAM_PATH_SEPARATOR), []).append(path)
    for depth in sorted(by_depth):
        new = []
        for path in by_depth[depth]:
            parent_path, _, name = path.rpartition(TEAM_PATH_SEPARATOR)
            parent = existing[parent_path] if parent_path else None
            new.append(Team(name=name, parent=parent, path=path, depth=depth))
        Team.objects.bulk_create(new, batch_size=_BATCH)
        if not all(t.pk for t in new):  # backends without RETURNING: read the ids back
            new = list(Team.objects.filter(path__in=[t.path for t in new]))
        existing.update({t.path: t for t in new})
    return existing


def roster_import(
    *,
    data: bytes,
    deactivate_missing: bool = False,
    progress: ProgressCallback | None = None,
) -> RosterImportResult:
    """Validate and apply a roster file (see `surveys.roster` for the columns).

    Guarantees: all or nothing - any problem raises `RosterImportError` listing every problem
    (line, column, cause) and the database is unchanged; upsert by email; an alias column absent
    from the file leaves stored aliases alone; re-importing an unchanged file writes no row;
    with `deactivate_missing`, active employees absent from the file are deactivated (never
    deleted: past participation keeps its meaning). Teams are created, never deleted or renamed.
    Employees may swap aliases, or hand one over to a newcomer, in one file. The counts
    (created, updated, unchanged, deactivated) are exact.

    On PostgreSQL the rows are written with `COPY` (see `_write_postgresql`); elsewhere through
    the ORM. Both write the same rows: the decisions are taken once, by `_plan_roster`.
    """

    def parse_progress(done: int, total: int) -> None:
        if progress is not None:
            progress("Validating", done, total)

    with _collector_paused():
        parsed = parse_roster(data, progress=parse_progress)
        if not parsed.ok:
            raise RosterImportError(parsed.problems, parsed.problem_count)
        if progress is not None:
            progress("Writing", 0, len(parsed.columns))
        with transaction.atomic():
            result = _apply_roster(parsed, deactivate_missing=deactivate_missing)
    result.ignored_columns = parsed.ignored_columns
    if progress is not None:
        progress("Done", len(parsed.columns), len(parsed.columns))
    return result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a roster is read and written.

    A 50,000-row file makes about a million small objects, none of them in a reference cycle;
    on Python 3.11 each few hundred allocations trigger a collection that walks the young ones
    again, which more than doubled the import time. Reference counting still frees everything.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(slots=True)
class _RosterPlan:
    """What applying a roster changes, decided from the file and the stored employees.

    Column by column, like `RosterColumns`: `columns` holds one list per name of `fields` (the
    compared columns: `_EMPLOYEE_FIELDS` plus the alias columns in the file) with a value for
    every row of the file, and `new` and `changed` are positions in them. Managers are named by
    email, because a manager may be a newcomer whose id does not exist yet.
    """

    fields: tuple[str, ...]
    columns: list[list[Any]]
    emails: list[str]
    managers: list[str | None]  # manager emails
    ids: dict[str, int]  # email -> id of every stored employee (writers add the newcomers)
    new: list[int]  # positions of the newcomers
    changed: list[int]  # positions of the stored employees with a change
    # alias -> ids of employees in the file giving up their value for another (or none)
    releasing: dict[str, list[int]]
    gone: list[int]  # active employees absent from the file

    def values(self, position: int) -> tuple[Any, ...]:
        """The compared values of one row, in the order of `fields`."""
        return tuple(column[position] for column in self.columns)

    def take(self, positions: list[int]) -> list[list[Any]]:
        """`columns` cut down to `positions` (the lists themselves when that is every row)."""
        return [_take(column, positions) for column in self.columns]


def _take(column: list[Any], positions: list[int]) -> list[Any]:
    """The values of `column` at `positions` (ascending, distinct), gathered at C speed."""
    if len(positions) == len(column):
        return column
    return list(map(column.__getitem__, positions))


def _apply_roster(parsed: ParsedRoster, *, deactivate_missing: bool) -> RosterImportResult:
    result = RosterImportResult(rows=len(parsed.columns))
    teams_before = Team.objects.count()
    teams = _ensure_teams(set(parsed.columns.team_path))
    result.teams_created = Team.objects.count() - teams_before

    plan = _plan_roster(parsed, {path: team.pk for path, team in teams.items()})
    now = timezone.now()
    if connection.vendor == "postgresql":
        _write_postgresql(plan, now)
    else:
        _write_orm(plan, now)
    result.created = len(plan.new)
    result.updated = len(plan.changed)
    result.unchanged = result.rows - result.created - result.updated
    if deactivate_missing:
        for start in range(0, len(plan.gone), _BATCH):
            result.deactivated += Employee.objects.filter(
                pk__in=plan.gone[start : start + _BATCH], is_active=True
            ).update(is_active=False, updated_at=now)
    return result


def _plan_roster(parsed: ParsedRoster, team_ids: dict[str, int]) -> _RosterPlan:
    """Compare the file with the stored employees; raise `RosterImportError` when an alias in
    the file belongs to an employee who is not in it. Reads only."""
    alias_fields = parsed.alias_columns
    fields = _EMPLOYEE_FIELDS + alias_fields
    stored: dict[str, tuple] = {}
    stored_manager: dict[str, int | None] = {}
    ids: dict[str, int] = {}
    active: dict[str, bool] = {}
    meta = Employee._meta
    columns = ", ".join(
        connection.ops.quote_name(meta.get_field("team" if name == "team_id" else name).column)
        for name in ("id", "email", "manager", *fields)
    )
    with connection.cursor() as cursor:
        # A plain cursor: the ORM's per-row conversions cost more than the comparison itself.
        cursor.execute(f"SELECT {columns} FROM {connection.ops.quote_name(meta.db_table)}")
        stored_rows = cursor.fetchall()
    for pk, email, manager_id, *values in stored_rows:
        ids[email] = pk
        stored[email] = tuple(values)
        stored_manager[email] = manager_id
        active[email] = values[_IS_ACTIVE]
    file = parsed.columns
    emails, managers, rows = file.email, file.manager_email, len(file)
    in_file = set(emails)
    _check_alias_owners(parsed, stored, in_file)

    plan = _RosterPlan(
        fields=fields,
        # In the order of `_EMPLOYEE_FIELDS`: name, team, location, start date, time zone,
        # active (everyone in the file is), then the aliases.
        columns=[
            file.name,
            list(map(team_ids.__getitem__, file.team_path)),
            file.location,
            file.start_date,
            file.timezone,
            [True] * rows,
            *(file.aliases[alias] for alias in alias_fields),
        ],
        emails=emails,
        managers=managers,
        ids=ids,
        new=[],
        changed=[],
        releasing={},
        gone=[],
    )
    if not stored:
        plan.new = list(range(rows))
        return plan
    olds = list(map(stored.get, emails))
    # The manager's id as stored, compared with the file's: None for none, 0 (never an id) for
    # a manager who is not stored yet, a newcomer, which is a change for sure.
    known = {**ids, None: None}  # type: ignore[dict-item]
    was_managed_by = list(map(stored_manager.get, emails))
    managed_by = list(map(known.get, managers, [0] * rows))
    for position, (old, values, was, will) in enumerate(
        zip(olds, zip(*plan.columns, strict=True), was_managed_by, managed_by, strict=True)
    ):
        if old is None:
            plan.new.append(position)
        elif old != values or was != will:
            plan.changed.append(position)
            for offset, alias in enumerate(alias_fields, start=len(_EMPLOYEE_FIELDS)):
                if old[offset] is not None and old[offset] != values[offset]:
                    plan.releasing.setdefault(alias, []).append(ids[emails[position]])
    plan.gone = [pk for email, pk in ids.items() if email not in in_file and active[email]]
    return plan


def _check_alias_owners(parsed: ParsedRoster, stored: dict[str, tuple], in_file: set[str]) -> None:
    """An alias in the file that belongs to a stored employee who is not in the file would
    violate uniqueness: report it with its line instead of crashing."""
    problems: list[RosterProblem] = []
    outside = [(email, values) for email, values in stored.items() if email not in in_file]
    file = parsed.columns
    for position, alias in enumerate(parsed.alias_columns, start=len(_EMPLOYEE_FIELDS)):
        owners = {values[position]: email for email, values in outside if values[position]}
        if not owners:
            continue
        for line, value in zip(file.line, file.aliases[alias], strict=True):
            owner = owners.get(value) if value is not None else None
            if owner is not None:
                problems.append(
                    RosterProblem(
                        line,
                        alias,
                        f"{alias} '{value}' already belongs to {owner}, who is not in this file",
                    )
                )
    if problems:
        raise RosterImportError(problems[:MAX_REPORTED_ERRORS], len(problems))


def _write_orm(plan: _RosterPlan, now: dt.datetime) -> None:
    """Write a plan through the ORM (SQLite, and any backend without a fast path)."""
    # Aliases given up are cleared first, so that two employees swapping aliases, or a
    # newcomer taking over one, never collide on the unique index half-way through.
    for alias, pks in plan.releasing.items():
        for start in range(0, len(pks), _BATCH):
            Employee.objects.filter(pk__in=pks[start : start + _BATCH]).update(**{alias: None})
    fields, ids, emails, managers = plan.fields, plan.ids, plan.emails, plan.managers
    if plan.new:
        created = [
            Employee(
                email=emails[position],
                created_at=now,
                updated_at=now,
                **dict(zip(fields, plan.values(position), strict=True)),
            )
            for position in plan.new
        ]
        for start in range(0, len(created), _BATCH):
            Employee.objects.bulk_create(created[start : start + _BATCH])
        if not all(e.pk for e in created):  # backends without RETURNING: read the ids back
            new_emails = [e.email for e in created]
            for start in range(0, len(new_emails), _BATCH):
                ids.update(
                    Employee.objects.filter(
                        email__in=new_emails[start : start + _BATCH]
                    ).values_list("email", "id")
                )
        else:
            ids.update((e.email, e.pk) for e in created)

    updates: list[Employee] = []
    for position in plan.changed:
        manager = managers[position]
        employee = Employee(
            id=ids[emails[position]], updated_at=now, manager_id=ids[manager] if manager else None
        )
        for name, value in zip(fields, plan.values(position), strict=True):
            setattr(employee, name, value)
        updates.append(employee)
    Employee.objects.bulk_update(updates, [*fields, "manager_id", "updated_at"], batch_size=500)
    managed = [
        Employee(id=ids[emails[position]], manager_id=ids[managers[position]])
        for position in plan.new
        if managers[position] is not None
    ]
    Employee.objects.bulk_update(managed, ["manager_id"], batch_size=500)


BULK_LOAD_MIN_ROWS = 5000

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIALS = ("\\", "\t", "\n", "\r")


def _copy_field(value: object) -> str:
    """One value in COPY's text format (what psycopg's `write_row` does, without its per-row
    overhead): NULL as \\N, booleans as t/f, dates and times in ISO 8601, text escaped."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    return str(value)


def _copy_column(values: Sequence[object]) -> list[str]:
    """A whole column in COPY's text format, value for value what `_copy_field` writes.

    Column by column because a roster column holds one type (plus NULLs): text needs no work
    unless the column holds one of the four characters COPY escapes (one fast substring search
    each over the joined column), integers go through one `map(str, ...)`, and other types
    (dates, timestamps, booleans) are converted once per distinct value; no Python-level call
    per value.
    """
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if len(kinds) != 1:  # only NULLs, or mixed types
        return list(map(_copy_field, values))
    (kind,) = kinds
    texts: list[Any]
    if kind is str:
        joined = "".join(filter(None, values))  # type: ignore[arg-type]
        if any(special in joined for special in _COPY_SPECIALS):
            return list(map(_copy_field, values))
        texts = list(values)
    elif kind is int:
        if None not in values:
            return list(map(str, values))
        texts = [value if value is None else str(value) for value in values]
    else:
        converted = {value: _copy_field(value) for value in set(values)}
        return list(map(converted.__getitem__, values))
    if None in texts:
        return ["\\N" if text is None else text for text in texts]
    return texts


def _copy_write(copy: Any, columns: Sequence[Sequence[object]], chunk: int = 10_000) -> None:
    """Stream rows, given column by column, to a COPY ... FROM STDIN in text format, a few
    thousand lines a write. Each chunk is converted just before it is sent, so the server
    parses one chunk while the next is being built, and memory is bounded by the chunk."""
    rows = len(columns[0]) if columns else 0
    for start in range(0, rows, chunk):
        part = [_copy_column(column[start : start + chunk]) for column in columns]
        copy.write("\n".join(map("\t".join, zip(*part, strict=True))) + "\n")


@contextmanager
def _bulk_load(
    cursor: Any, table: str, stamped: list[str], timestamp: dt.datetime
) -> Iterator[None]:
    """Load a (nearly) empty employee table the way pg_restore does: drop its secondary
    indexes and its unique and foreign-key constraints, let the caller COPY, then rebuild each
    index in one pass and re-add each constraint, which validates every row at once. The
    `stamped` columns default to `timestamp` meanwhile, so the COPY leaves them
    out: the server then parses that timestamp once instead of twice per row; their own
    defaults (if any) come back afterwards. All of it inside the import's transaction, so a
    failure (a duplicate, a dangling manager) rolls the whole import back and leaves the
    schema as it was. Holds an exclusive lock on the table until commit: used only for first
    imports, when there is nothing to read yet."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending trigger events may remain
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid), contype FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC, conname",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = %s AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
        [table, table],
    )
    indexes = cursor.fetchall()
    quote = connection.ops.quote_name
    defaults: list[tuple[str, str | None]] = []
    for name in stamped:
        cursor.execute(
            "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute AS a "
            "LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = %s::regclass AND a.attname = %s",
            [table, name],
        )
        defaults.append((name, cursor.fetchone()[0]))
    for name, _, _ in constraints:
        cursor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(name)}")
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {quote(name)}")
    # An ISO 8601 timestamp has no quote in it: safe as a literal.
    literal = f"'{timestamp.isoformat()}'::timestamptz"
    for name, _ in defaults:
        cursor.execute(
            f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(name)} SET DEFAULT {literal}"
        )
    yield
    for name, default in defaults:
        restore = "DROP DEFAULT" if default is None else f"SET DEFAULT {default}"
        cursor.execute(f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(name)} {restore}")
    for _, definition in indexes:
        cursor.execute(definition)
    for name, definition, _ in constraints:  # unique first, then foreign keys
        cursor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} {definition}")


def _write_postgresql(plan: _RosterPlan, now: dt.datetime) -> None:
    """Write a plan with PostgreSQL's COPY: newcomers straight into the table, with ids taken
    from its sequence beforehand so that every manager is known in one pass; changed employees
    into a temporary table, then one UPDATE. Employees not in the plan are not touched."""
    meta = Employee._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    ids = plan.ids
    written = [column(name) for name in ("manager", *plan.fields)]

    def manager_ids(positions: list[int]) -> list[int | None]:
        return [ids[manager] if manager else None for manager in _take(plan.managers, positions)]

    with connection.cursor() as cursor:
        if plan.new:
            new_emails = _take(plan.emails, plan.new)
            # The sequence is looked up once: as an argument of nextval, the lookup (a scan of
            # pg_depend) would run once per id and cost more than the ids themselves.
            cursor.execute(
                "SELECT pg_get_serial_sequence(%s, 'id')::regclass::oid", [meta.db_table]
            )
            (sequence,) = cursor.fetchone()
            cursor.execute(
                "SELECT nextval(%s::oid) FROM generate_series(1, %s)", [sequence, len(plan.new)]
            )
            new_ids = [pk for (pk,) in cursor.fetchall()]
            ids.update(zip(new_emails, new_ids, strict=True))
        if plan.changed:
            cursor.execute("DROP TABLE IF EXISTS pg_temp.roster_changes")
            cursor.execute(
                f"CREATE TEMPORARY TABLE roster_changes ON COMMIT DROP AS "
                f"SELECT id, {', '.join(written)} FROM {table} WITH NO DATA"
            )
            with cursor.copy(
                f"COPY pg_temp.roster_changes (id, {', '.join(written)}) FROM STDIN"
            ) as copy:
                _copy_write(
                    copy,
                    [
                        [ids[email] for email in _take(plan.emails, plan.changed)],
                        manager_ids(plan.changed),
                        *plan.take(plan.changed),
                    ],
                )
            for alias in plan.releasing:
                # Cleared first, as in `_write_orm`.
                cursor.execute(
                    f"UPDATE {table} AS e SET {column(alias)} = NULL "
                    f"FROM pg_temp.roster_changes AS c "
                    f"WHERE e.id = c.id AND e.{column(alias)} IS NOT NULL "
                    f"AND e.{column(alias)} IS DISTINCT FROM c.{column(alias)}"
                )
        if plan.new:
            bulk = (
                len(plan.new) >= BULK_LOAD_MIN_ROWS
                and not plan.changed
                and not Employee.objects.exists()
            )
            stamps = [meta.get_field(name).column for name in ("created_at", "updated_at")]
            columns = [new_ids, new_emails, manager_ids(plan.new), *plan.take(plan.new)]
            if not bulk:  # a bulk load has the server fill them in (see `_bulk_load`)
                columns += [[now] * len(plan.new)] * len(stamps)
            # The manager foreign key is checked at commit: a newcomer may name a later one.
            copy_sql = (
                f"COPY {table} (id, {column('email')}, {', '.join(written)}"
                f"{'' if bulk else ', ' + ', '.join(map(quote, stamps))}) FROM STDIN"
            )
            with (
                _bulk_load(cursor, meta.db_table, stamps, now) if bulk else nullcontext(),
                cursor.copy(copy_sql) as copy,
            ):
                _copy_write(copy, columns)
        if plan.changed:
            assignments = ", ".join(f"{name} = c.{name}" for name in written)
            cursor.execute(
                f"UPDATE {table} AS e SET {assignments}, {column('updated_at')} = %s "
                f"FROM pg_temp.roster_changes AS c WHERE e.id = c.id",
                [now],
            )
            cursor.execute("DROP TABLE pg_temp.roster_changes")


# --- Roster imports run by a worker (HR upload page) --------------------------------------------


def roster_import_create(
    *, data: bytes, filename: str, deactivate_missing: bool, user: AbstractBaseUser | None
) -> RosterImport:
    """Record an uploaded roster and enqueue its import after commit. Caller: HR upload view."""
    from surveys.tasks import run_roster_import

    record = RosterImport.objects.create(
        content=data,
        filename=filename[:255],
        deactivate_missing=deactivate_missing,
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )
    transaction.on_commit(lambda: run_roster_import.delay(record.pk))
    return record


def roster_import_run(*, import_id: int) -> RosterImport:
    """Run a recorded roster import. Idempotent and crash-safe: a finished import is left as it
    is; an import interrupted mid-way (the worker died) wrote nothing, because the write is one
    transaction, and simply runs again. Caller: the `run_roster_import` task."""
    claimed = RosterImport.claim_for_run(import_id)
    record = RosterImport.objects.get(pk=import_id)
    if not claimed:
        return record

    def report(phase: str, done: int, total: int) -> None:
        RosterImport.objects.filter(pk=import_id).update(
            phase=phase, processed_rows=done, total_rows=total
        )

    try:
        result = roster_import(
            data=bytes(record.content),
            deactivate_missing=record.deactivate_missing,
            progress=report,
        )
    except RosterImportError as exc:
        RosterImport.objects.filter(pk=import_id).update(
            status=RosterImport.Status.FAILED,
            phase="",
            errors=[p.as_dict() for p in exc.problems],
            error_count=exc.total,
            finished_at=timezone.now(),
        )
    else:
        RosterImport.objects.filter(pk=import_id).update(
            status=RosterImport.Status.SUCCEEDED,
            phase="",
            processed_rows=result.rows,
            total_rows=result.rows,
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
            deactivated=result.deactivated,
            teams_created=result.teams_created,
            finished_at=timezone.now(),
        )
    record.refresh_from_db()
    return record


# --- Staff accounts -------------------------------------------------------------------------------


def staff_user_create(
    *, username: str, password: str, kind: str, team_paths: Iterable[str] = (), email: str = ""
) -> AbstractBaseUser:
    """Create (or update) a staff login with its role. Idempotent by username. Leaders are
    scoped to the subtrees `team_paths`, which must exist."""
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults={"email": email})
    user.set_password(password)
    user.email = email or user.email
    user.save()
    role, _ = Role.objects.update_or_create(user=user, defaults={"kind": kind})
    if kind == Role.Kind.LEADER:
        role.teams.set(Team.objects.filter(path__in=list(team_paths)))
    else:
        role.teams.clear()
    return user
