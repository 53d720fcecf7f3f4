"""Writes to the organisation. Callers: management commands, HR views, API, tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from surveys.models import TEAM_PATH_SEPARATOR, Employee, Role, RosterImport, Team
from surveys.roster import ParsedRoster, RosterProblem, RosterRow, parse_roster

ProgressCallback = Callable[[str, int, int], None]

_EMPLOYEE_FIELDS = ("name", "team_id", "location", "start_date", "timezone", "is_active")
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


def team_get_or_create_path(*, path: str) -> Team:
    """Return the team named by `path`, creating it and any missing ancestors. Idempotent."""
    return _ensure_teams([path])[path]


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
    """

    def parse_progress(done: int, total: int) -> None:
        if progress is not None:
            progress("Validating", done, total)

    parsed = parse_roster(data, progress=parse_progress)
    if not parsed.ok:
        raise RosterImportError(parsed.problems, parsed.problem_count)
    if progress is not None:
        progress("Writing", 0, len(parsed.rows))
    with transaction.atomic():
        result = _apply_roster(parsed, deactivate_missing=deactivate_missing)
    result.ignored_columns = parsed.ignored_columns
    if progress is not None:
        progress("Done", len(parsed.rows), len(parsed.rows))
    return result


def _apply_roster(parsed: ParsedRoster, *, deactivate_missing: bool) -> RosterImportResult:
    result = RosterImportResult(rows=len(parsed.rows))
    teams_before = Team.objects.count()
    teams = _ensure_teams({row.team_path for row in parsed.rows})
    result.teams_created = Team.objects.count() - teams_before

    alias_fields = parsed.alias_columns
    compared = _EMPLOYEE_FIELDS + alias_fields
    existing: dict[str, tuple] = {}
    active: dict[str, bool] = {}
    ids: dict[str, int] = {}
    managers: dict[int, int | None] = {}
    for values in Employee.objects.values_list("id", "email", "manager_id", *compared).iterator(
        chunk_size=_BATCH
    ):
        pk, email, manager_id, *rest = values
        ids[email] = pk
        managers[pk] = manager_id
        existing[email] = tuple(rest)
        active[email] = rest[_EMPLOYEE_FIELDS.index("is_active")]

    now = timezone.now()
    to_create: list[Employee] = []
    to_update: list[Employee] = []
    for row in parsed.rows:
        values = _row_values(row, teams[row.team_path].pk, alias_fields)
        old = existing.get(row.email)
        if old is None:
            to_create.append(
                Employee(
                    email=row.email,
                    created_at=now,
                    updated_at=now,
                    **dict(zip(compared, values, strict=True)),
                )
            )
        elif old != values:
            employee = Employee(id=ids[row.email], email=row.email, updated_at=now)
            for name, value in zip(compared, values, strict=True):
                setattr(employee, name, value)
            to_update.append(employee)
    _check_alias_conflicts(parsed, ids)

    if to_create:
        created = _bulk_insert(to_create)
        ids.update(created)
    if to_update:
        # Clear the aliases being changed first, so that two employees swapping aliases
        # never collide on the unique index half-way through the update.
        for alias in alias_fields:
            position = compared.index(alias)
            moving = [e.pk for e in to_update if existing[e.email][position] != getattr(e, alias)]
            for start in range(0, len(moving), _BATCH):
                Employee.objects.filter(pk__in=moving[start : start + _BATCH]).update(
                    **{alias: None}
                )
        Employee.objects.bulk_update(to_update, [*compared, "updated_at"], batch_size=500)
    result.created = len(to_create)

    # Managers: a second pass, now that every employee has an id.
    manager_changes: list[Employee] = []
    touched = {e.email for e in to_update}
    for row in parsed.rows:
        pk = ids[row.email]
        manager_id = ids[row.manager_email] if row.manager_email else None
        if managers.get(pk) != manager_id:
            manager_changes.append(Employee(id=pk, manager_id=manager_id, updated_at=now))
            if row.email in existing:
                touched.add(row.email)
    if manager_changes:
        _bulk_set_managers(manager_changes)
    result.updated = len(touched)
    result.unchanged = result.rows - result.created - result.updated

    if deactivate_missing:
        in_file = {row.email for row in parsed.rows}
        gone = [pk for email, pk in ids.items() if email not in in_file and active.get(email)]
        for start in range(0, len(gone), _BATCH):
            result.deactivated += Employee.objects.filter(
                pk__in=gone[start : start + _BATCH], is_active=True
            ).update(is_active=False, updated_at=now)
    return result


def _row_values(row: RosterRow, team_id: int, alias_fields: tuple[str, ...]) -> tuple:
    base = (row.name, team_id, row.location, row.start_date, row.timezone, True)
    return base + tuple(getattr(row, name) for name in alias_fields)


def _check_alias_conflicts(parsed: ParsedRoster, ids: dict[str, int]) -> None:
    """An alias in the file that already belongs to an employee not in the file (or to another
    row's employee) would violate uniqueness: report it with its line instead of crashing."""
    problems: list[RosterProblem] = []
    for alias in parsed.alias_columns:
        wanted = {getattr(r, alias): r for r in parsed.rows if getattr(r, alias) is not None}
        if not wanted:
            continue
        in_file = {r.email for r in parsed.rows}
        values = list(wanted)
        for start in range(0, len(values), _BATCH):
            owners = Employee.objects.filter(
                **{f"{alias}__in": values[start : start + _BATCH]}
            ).values_list(alias, "email")
            for value, owner in owners:
                row = wanted[value]
                if owner != row.email and owner not in in_file:
                    problems.append(
                        RosterProblem(
                            row.line,
                            alias,
                            f"{alias} '{value}' already belongs to {owner}, "
                            "who is not in this file",
                        )
                    )
    if problems:
        raise RosterImportError(problems[:200], len(problems))


def _bulk_insert(employees: list[Employee]) -> dict[str, int]:
    """Insert new employees and return their ids by email."""
    for start in range(0, len(employees), _BATCH):
        Employee.objects.bulk_create(employees[start : start + _BATCH])
    if all(e.pk for e in employees):
        return {e.email: e.pk for e in employees}
    emails = [e.email for e in employees]
    out: dict[str, int] = {}
    for start in range(0, len(emails), _BATCH):
        out.update(
            Employee.objects.filter(email__in=emails[start : start + _BATCH]).values_list(
                "email", "id"
            )
        )
    return out


def _bulk_set_managers(changes: list[Employee]) -> None:
    if connection.vendor == "postgresql":
        # One UPDATE ... FROM (VALUES ...) per batch: far cheaper than Django's CASE chains.
        table = Employee._meta.db_table
        with connection.cursor() as cursor:
            for start in range(0, len(changes), 5000):
                batch = changes[start : start + 5000]
                placeholders = ", ".join(["(%s::bigint, %s::bigint)"] * len(batch))
                params: list[object] = []
                for e in batch:
                    params.extend((e.pk, e.manager_id))
                cursor.execute(
                    f"UPDATE {table} AS e SET manager_id = v.manager_id, updated_at = %s "
                    f"FROM (VALUES {placeholders}) AS v(id, manager_id) WHERE e.id = v.id",
                    [batch[0].updated_at, *params],
                )
        return
    Employee.objects.bulk_update(changes, ["manager_id", "updated_at"], batch_size=500)


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
    claimed = RosterImport.objects.filter(
        pk=import_id, status__in=[RosterImport.Status.PENDING, RosterImport.Status.RUNNING]
    ).update(status=RosterImport.Status.RUNNING, phase="Starting")
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
