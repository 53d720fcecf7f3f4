"""Roster writes: the PostgreSQL COPY writer and the ORM writer leave the same organisation
behind, with the same counts, and neither writes a row that did not change."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

import surveys.services.organisation as services
from surveys.models import Employee
from surveys.services import RosterImportResult, roster_import
from tests.conftest import ORG_CSV

HEADER = b"email,name,team,manager_email,location,start_date,timezone"
ALIASES = b",github_login,aws_user_id,openai_user_id,upn"

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the COPY writer exists on PostgreSQL only"
)

# A sequence of files exercising every kind of change, each imported after the previous one.
STEPS: list[tuple[bytes, bool]] = [
    (ORG_CSV, False),
    # Moves, a manager change (to a newcomer), a rename, a swap of GitHub logins, a newcomer
    # taking over the AWS id another employee gives up, aliases removed, sales1 left out.
    (
        HEADER + ALIASES + b"\n"
        b"boss@acme.test,Boss,Engineering,,Berlin,2015-01-01,Europe/Berlin,platlead,,,boss@acme.test\n"
        b"plat.lead@acme.test,Plat Lead,Engineering/Platform,boss@acme.test,Berlin,2016-01-01,Europe/Berlin,boss-gh,,,\n"
        b"api1@acme.test,Api Uno,Engineering/Platform/API,new.lead@acme.test,Berlin,2020-05-01,Europe/Berlin,api-one,aws-9,,api1@acme.test\n"
        b"api2@acme.test,Api Two,Engineering/Product/Web,plat.lead@acme.test,Paris,2021-05-01,Europe/Paris,,,,\n"
        b"infra1@acme.test,Infra One,Engineering/Platform/Infra,plat.lead@acme.test,Berlin,2022-05-01,Europe/Berlin,,,,\n"
        b"web1@acme.test,Web One,Engineering/Product/Web,boss@acme.test,New York,2023-05-01,America/New_York,,,,\n"
        b"new.lead@acme.test,New Lead,Engineering/Platform/API,plat.lead@acme.test,Rome,,Europe/Rome,newbie,aws-1,user-api1,\n",
        True,
    ),
    # The same file again: nothing changes.
    (b"", True),
    # Without alias columns (aliases stay), sales1 back (reactivated), a manager removed.
    (
        HEADER + b"\n"
        b"boss@acme.test,Boss,Engineering,,Berlin,2015-01-01,Europe/Berlin\n"
        b"plat.lead@acme.test,Plat Lead,Engineering/Platform,,Berlin,2016-01-01,Europe/Berlin\n"
        b"sales1@acme.test,Sales One,Sales/EMEA,boss@acme.test,London,2019-05-01,Europe/London\n",
        False,
    ),
]


def _state() -> list[tuple]:
    """The organisation as a reader sees it: everything but ids and timestamps."""
    return list(
        Employee.objects.order_by("email").values_list(
            "email",
            "name",
            "team__path",
            "manager__email",
            "location",
            "start_date",
            "timezone",
            "is_active",
            "github_login",
            "aws_user_id",
            "openai_user_id",
            "upn",
        )
    )


def _counts(result: RosterImportResult) -> tuple[int, ...]:
    return (
        result.rows,
        result.created,
        result.updated,
        result.unchanged,
        result.deactivated,
        result.teams_created,
    )


def _run_steps() -> list[tuple[tuple[int, ...], list[tuple]]]:
    outcomes = []
    previous = b""
    for data, deactivate in STEPS:
        data = data or previous
        result = roster_import(data=data, deactivate_missing=deactivate)
        outcomes.append((_counts(result), _state()))
        previous = data
    return outcomes


def test_every_kind_of_change_is_applied_and_counted(db: None) -> None:
    outcomes = _run_steps()

    assert [counts for counts, _ in outcomes] == [
        (7, 7, 0, 0, 0, 8),
        (7, 1, 4, 2, 1, 0),
        (7, 0, 0, 7, 0, 0),
        (3, 0, 2, 1, 0, 0),
    ]
    state = {row[0]: row for row in outcomes[-1][1]}
    assert state["boss@acme.test"][8] == "platlead"
    assert state["plat.lead@acme.test"][8] == "boss-gh"
    assert state["plat.lead@acme.test"][3] is None
    assert state["new.lead@acme.test"][8:12] == ("newbie", "aws-1", "user-api1", None)
    assert state["api1@acme.test"][1:4] == (
        "Api Uno",
        "Engineering/Platform/API",
        "new.lead@acme.test",
    )
    assert state["api1@acme.test"][8:12] == ("api-one", "aws-9", None, "api1@acme.test")
    assert state["sales1@acme.test"][7] is True


def test_a_newcomer_can_take_over_an_alias_given_up_in_the_same_file(db: None) -> None:
    roster_import(data=HEADER + b",github_login\na@x.test,A,Eng,,,,UTC,octo\n")
    result = roster_import(
        data=HEADER + b",github_login\na@x.test,A,Eng,,,,UTC,cat\nb@x.test,B,Eng,,,,UTC,octo\n"
    )
    assert (result.created, result.updated) == (1, 1)
    assert dict(Employee.objects.values_list("email", "github_login")) == {
        "a@x.test": "cat",
        "b@x.test": "octo",
    }


def test_an_unchanged_reimport_writes_no_row(db: None) -> None:
    roster_import(data=ORG_CSV)
    columns = ["id", "updated_at"]
    if connection.vendor == "postgresql":
        columns.append("ctid")  # where the row version lives: any UPDATE would move it
    table = Employee._meta.db_table
    query = f"SELECT {', '.join(columns)} FROM {table} ORDER BY id"
    with connection.cursor() as cursor:
        cursor.execute(query)
        before = cursor.fetchall()
        result = roster_import(data=ORG_CSV, deactivate_missing=True)
        cursor.execute(query)
        assert cursor.fetchall() == before
    assert (result.updated, result.unchanged, result.deactivated) == (0, 7, 0)


@on_postgresql
def test_the_copy_writer_and_the_orm_writer_leave_the_same_organisation(
    db: None, monkeypatch
) -> None:
    with_copy = _run_steps()
    Employee.objects.update(manager=None)
    Employee.objects.all().delete()
    from surveys.models import Team

    for depth in sorted(set(Team.objects.values_list("depth", flat=True)), reverse=True):
        Team.objects.filter(depth=depth).delete()
    monkeypatch.setattr(services, "_write_postgresql", services._write_orm)

    with_orm = _run_steps()

    assert with_orm == with_copy


@on_postgresql
def test_the_copy_writer_is_the_one_used_on_postgresql(db: None, monkeypatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the ORM writer ran")

    monkeypatch.setattr(services, "_write_orm", refuse)
    roster_import(data=ORG_CSV)
    assert Employee.objects.count() == 7


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL bulk load only")
def test_a_first_bulk_import_rebuilds_every_index_and_constraint(db: None, monkeypatch) -> None:
    from surveys.services import organisation

    def schema() -> tuple[list, list]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'surveys_employee'::regclass ORDER BY conname"
            )
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE tablename = 'surveys_employee' ORDER BY indexname"
            )
            indexes = cursor.fetchall()
            cursor.execute(
                "SELECT column_name, column_default FROM information_schema.columns "
                "WHERE table_name = 'surveys_employee' ORDER BY column_name"
            )
            return constraints, indexes, cursor.fetchall()

    before = schema()
    monkeypatch.setattr(organisation, "BULK_LOAD_MIN_ROWS", 3)
    used = []
    original = organisation._bulk_load

    def spy(cursor, table, *args):  # type: ignore[no-untyped-def]
        used.append(table)
        return original(cursor, table, *args)

    monkeypatch.setattr(organisation, "_bulk_load", spy)
    from tests.conftest import ORG_CSV

    result = roster_import(data=ORG_CSV)
    assert used == ["surveys_employee"] and result.created == 7
    assert schema() == before
    assert Employee.objects.get(email="api1@acme.test").manager.email == "plat.lead@acme.test"
    # The timestamps the server filled in: one instant, the import's, for every row.
    stamps = set(Employee.objects.values_list("created_at", "updated_at"))
    assert len(stamps) == 1
    ((created, updated),) = stamps
    assert created == updated and created is not None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL bulk load only")
def test_a_failing_bulk_import_leaves_schema_and_data_unchanged(db: None, monkeypatch) -> None:
    from surveys.services import organisation

    monkeypatch.setattr(organisation, "BULK_LOAD_MIN_ROWS", 3)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'surveys_employee'")
        (indexes_before,) = cursor.fetchone()

    from django.db import transaction

    from tests.conftest import ORG_CSV

    with pytest.raises(RuntimeError), transaction.atomic():
        roster_import(data=ORG_CSV)
        raise RuntimeError("after the load")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename = 'surveys_employee'")
        assert cursor.fetchone()[0] == indexes_before
    assert not Employee.objects.exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL COPY writer only")
def test_the_copy_writer_keeps_awkward_text_exactly(db: None) -> None:
    data = (
        "email,name,team,manager_email,location,start_date,timezone,upn\n"
        '"a@x.test","Back\\\\slash\tTab ""Quote""",Eng,,"Line,Comma",2020-01-01,UTC,\n'
        "b@x.test,Zoë \\N,Eng,a@x.test,,,Europe/Paris,b@x.test\n"
    ).encode()
    roster_import(data=data)
    a = Employee.objects.get(email="a@x.test")
    b = Employee.objects.get(email="b@x.test")
    assert a.name == 'Back\\\\slash\tTab "Quote"'
    assert (a.location, a.upn, a.manager) == ("Line,Comma", None, None)
    assert (b.name, b.start_date, b.upn, b.manager) == ("Zoë \\N", None, "b@x.test", a)


@pytest.mark.parametrize(
    "values",
    [
        ["plain", "Zoë", None, ""],
        ["tab\there", "back\\slash", "line\nbreak", "cr\r", None],
        [1, None, 22, 0],
        [dt.date(2020, 1, 2), None, dt.date(2020, 1, 2)],
        [dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC)] * 3,
        [True, False, None],
        [True, 1, None, "1"],  # mixed types: each value on its own
        [None, None],
        [],
    ],
    ids=["text", "escapes", "ints", "dates", "timestamps", "booleans", "mixed", "nulls", "empty"],
)
def test_a_column_is_written_exactly_as_value_by_value(values: list[object]) -> None:
    assert services._copy_column(values) == [services._copy_field(v) for v in values]
