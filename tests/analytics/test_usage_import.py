"""The import service and its interfaces: idempotent, latest wins, atomic, nothing per person
stored, the command, the HR pages and the API."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection

from analytics.models import TeamDayUsage, UsageImport, UsageImportFile, UsageRelease
from analytics.services import (
    usage_files_from_bytes,
    usage_files_from_paths,
    usage_import,
    usage_import_create,
    usage_import_run,
)
from analytics.usage import UsageFileError
from analytics.usage.identity import md5_hex
from surveys.models import Employee
from tests.conftest import FIXTURES, client_for

USAGE = FIXTURES / "usage"
AMAZON_Q_PARTS = [
    USAGE / "amazon_q_by_user_analytic_20260506_part1.csv",
    USAGE / "amazon_q_by_user_analytic_20260506_part2.csv",
]


def snapshot() -> list[tuple]:
    return list(
        TeamDayUsage.objects.order_by("pk").values_list(
            "pk",
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
    )


def generic(text: str, name: str = "usage.csv"):
    return usage_files_from_bytes([(name, text.encode())])


def test_importing_the_same_files_again_changes_nothing(org) -> None:
    first = usage_import(format="amazon-q", files=usage_files_from_paths(AMAZON_Q_PARTS))
    before = snapshot()
    assert first.team_days_written > 0
    again = usage_import(format="amazon-q", files=usage_files_from_paths(AMAZON_Q_PARTS))
    assert snapshot() == before  # same rows, same ids: nothing was rewritten
    assert (again.team_days_written, again.created, again.updated, again.deleted) == (0, 0, 0, 0)
    assert again.unchanged == len(before)


def test_a_later_export_replaces_the_days_it_covers_and_keeps_the_others(org) -> None:
    usage_import(
        format="generic",
        files=generic(
            "email,date,tool,metric,value\n"
            "api1@acme.test,2026-05-04,t,tokens,10\n"
            "api2@acme.test,2026-05-04,t,tokens,20\n"
            "api1@acme.test,2026-05-05,t,tokens,30\n"
        ),
    )
    result = usage_import(
        format="generic",
        files=generic(
            "email,date,tool,metric,value\n"
            "api1@acme.test,2026-05-05,t,tokens,7\n"
            "api1@acme.test,2026-05-06,t,tokens,8\n"
        ),
    )
    api = TeamDayUsage.objects.filter(team__path="Engineering/Platform/API", metric="tokens")
    assert dict(api.values_list("day", "total")) == {
        dt.date(2026, 5, 4): 30,
        dt.date(2026, 5, 5): 7,  # latest wins, not 37
        dt.date(2026, 5, 6): 8,
    }
    assert result.updated > 0 and result.created > 0


def test_a_later_export_without_a_team_on_a_covered_day_removes_that_team_day(org) -> None:
    usage_import(
        format="generic",
        files=generic(
            "email,date,tool,metric,value\n"
            "sales1@acme.test,2026-05-04,t,tokens,10\n"
            "api1@acme.test,2026-05-04,t,tokens,10\n"
        ),
    )
    usage_import(
        format="generic",
        files=generic("email,date,tool,metric,value\napi1@acme.test,2026-05-04,t,tokens,12\n"),
    )
    assert not TeamDayUsage.objects.filter(team__path__startswith="Sales").exists()


def test_other_sources_are_untouched_by_an_import(org) -> None:
    usage_import(format="cursor", files=usage_files_from_paths([USAGE / "cursor_daily_usage.json"]))
    cursor_rows = snapshot()
    usage_import(format="generic", files=usage_files_from_paths([USAGE / "generic.csv"]))
    assert [r for r in snapshot() if r[1] == "cursor"] == cursor_rows


def test_a_problem_in_any_file_of_a_delivery_changes_nothing(org) -> None:
    usage_import(format="generic", files=usage_files_from_paths([USAGE / "generic.csv"]))
    before = snapshot()
    history = UsageImport.objects.count()
    with pytest.raises(UsageFileError):
        usage_import(
            format="generic",
            files=usage_files_from_paths([USAGE / "generic.csv", USAGE / "generic_bad_value.csv"]),
        )
    assert snapshot() == before
    assert UsageImport.objects.count() == history


def test_the_database_holds_no_per_person_value_and_no_identifier_after_imports(org) -> None:
    """Rule 11. Searches every table except the roster's own (`surveys_employee`, which holds
    the aliases by design) and the import history's report of identifiers that matched nobody
    (`analytics_usageimport.unmatched_identifiers`, for HR): no matched identifier, in clear or
    as MD5, appears anywhere; and no analytics table has a column that points at a person."""
    for fmt, names in [
        ("generic", ["generic.csv"]),
        ("claude-code", ["claude_code.json"]),
        ("copilot-users", ["copilot_users.ndjson"]),
        ("amazon-q", [p.name for p in AMAZON_Q_PARTS]),
        ("m365-copilot", ["m365_copilot_user_detail.csv"]),
        ("cursor", ["cursor_daily_usage.json"]),
        ("openai-usage", ["openai_usage_completions.json"]),
        ("litellm", ["litellm_spend_logs.csv"]),
    ]:
        usage_import(format=fmt, files=usage_files_from_paths([USAGE / n for n in names]))
    record = usage_import_create(
        format="generic", uploads=[("u.csv", (USAGE / "generic.csv").read_bytes())], user=None
    )
    usage_import_run(import_id=record.pk)

    identifiers: set[str] = set()
    for row in Employee.objects.values_list(
        "email", "upn", "github_login", "aws_user_id", "openai_user_id"
    ):
        for value in filter(None, row):
            identifiers |= {value.lower(), md5_hex(value.lower())}
    dump = _dump_tables(skip={"surveys_employee"}, skip_columns={"unmatched_identifiers"})
    found = sorted(i for i in identifiers if i in dump)
    assert found == []

    for model in (TeamDayUsage, UsageImport, UsageImportFile):
        related = {f.related_model for f in model._meta.get_fields() if f.is_relation}
        assert Employee not in related
    # One row per (source, team, day, metric): never per person.
    assert TeamDayUsage.objects.values("source", "team", "day", "metric").distinct().count() == (
        TeamDayUsage.objects.count()
    )
    # The uploaded raw file is gone once the import has run.
    assert not UsageImportFile.objects.exists()


def test_no_stored_figure_is_a_single_persons_value_where_several_people_contribute(org) -> None:
    """Distinctive per-person values (1009, 2017, 3041) for three people in teams that always
    have two or more contributors: none of them is stored on its own anywhere."""
    usage_import(
        format="generic",
        files=generic(
            "email,date,tool,metric,value\n"
            "api1@acme.test,2026-05-04,t,tokens,1009\n"
            "api2@acme.test,2026-05-04,t,tokens,2017\n"
        ),
    )
    stored = set(TeamDayUsage.objects.filter(metric="tokens").values_list("total", flat=True))
    assert stored == {3026}
    assert 1009 not in stored and 2017 not in stored


def _dump_tables(*, skip: set[str], skip_columns: set[str]) -> str:
    out = io.StringIO()
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table in skip:
                continue
            columns = [
                c.name
                for c in connection.introspection.get_table_description(cursor, table)
                if c.name not in skip_columns
            ]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, (bytes, memoryview)):
                        value = bytes(value).decode("utf-8", "replace")
                    out.write(f"{value}\n".lower())
    return out.getvalue()


def test_unmatched_identifiers_are_reported_to_hr_in_the_import_record_only(org) -> None:
    usage_import(format="generic", files=usage_files_from_paths([USAGE / "generic.csv"]))
    record = UsageImport.objects.get()
    assert record.unmatched_identifiers == [{"identifier": "ghost@elsewhere.test", "rows": 1}]
    assert record.unmatched_distinct == 1
    assert not TeamDayUsage.objects.filter(total=9999).exists()


def test_the_command_prints_counts_and_imports_part_files_together(org, capsys) -> None:
    call_command("import_usage", "--format", "amazon-q", *map(str, AMAZON_Q_PARTS))
    out = capsys.readouterr().out
    assert re.search(
        r"rows read 3, matched 2, unmatched 1 .*service rows 0; team-days written \d+", out
    )
    assert "24a80dec-50e1-70f7-3155-4ccb9e69943f (1)" in out
    assert UsageImport.objects.get().filenames == [str(p) for p in AMAZON_Q_PARTS]


def test_the_command_refuses_a_bad_file_naming_file_line_and_field(org) -> None:
    with pytest.raises(CommandError) as exc:
        call_command("import_usage", "--format", "generic", str(USAGE / "generic_bad_value.csv"))
    assert "Nothing was imported" in str(exc.value)
    assert "generic_bad_value.csv, line 3, field value" in str(exc.value)
    assert not TeamDayUsage.objects.exists()


def test_an_upload_runs_once_and_deletes_its_files(org, hr_user) -> None:
    record = usage_import_create(
        format="amazon-q",
        uploads=[(p.name, p.read_bytes()) for p in AMAZON_Q_PARTS],
        user=hr_user,
    )
    assert UsageImportFile.objects.filter(usage_import=record).count() == 2
    done = usage_import_run(import_id=record.pk)
    assert done.status == UsageImport.Status.SUCCEEDED
    assert (done.rows_read, done.rows_matched, done.rows_unmatched) == (3, 2, 1)
    assert not UsageImportFile.objects.exists()
    before = snapshot()
    assert usage_import_run(import_id=record.pk).status == UsageImport.Status.SUCCEEDED
    assert snapshot() == before


def test_a_refused_upload_records_the_problems_and_changes_nothing(org, hr_user) -> None:
    record = usage_import_create(
        format="generic",
        uploads=[("bad.csv", (USAGE / "generic_missing_column.csv").read_bytes())],
        user=hr_user,
    )
    done = usage_import_run(import_id=record.pk)
    assert done.status == UsageImport.Status.FAILED
    assert done.errors[0]["field"] == "metric"
    assert "missing required column: metric" in done.errors[0]["message"]
    assert not TeamDayUsage.objects.exists()
    assert not UsageImportFile.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_hr_uploads_several_files_and_sees_the_outcome(
    org, hr_user, django_capture_on_commit_callbacks
) -> None:
    client = client_for(hr_user)
    page = client.get("/hr/usage/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="files"' in html and "multiple" in html
    assert "style=" not in html and "<script" not in html
    assert '<label for="id_format">' in html and '<label for="id_files">' in html
    files = [
        SimpleUploadedFile(p.name, p.read_bytes(), content_type="text/csv") for p in AMAZON_Q_PARTS
    ]
    response = client.post("/hr/usage/", {"format": "amazon-q", "files": files})
    assert response.status_code == 302
    record = UsageImport.objects.get()
    assert record.filenames == [p.name for p in AMAZON_Q_PARTS]
    pending = client.get(response["Location"]).content.decode()
    assert (
        "data-auto-refresh" in pending and "Refresh progress" in pending and "<progress" in pending
    )
    usage_import_run(import_id=record.pk)
    done = client.get(response["Location"]).content.decode()
    assert "Rows read" in done and "Team-days written" in done
    assert "24a80dec-50e1-70f7-3155-4ccb9e69943f" in done
    assert 'http-equiv="refresh"' not in done
    history = client.get("/hr/usage/imports/").content.decode()
    assert "amazon_q_by_user_analytic_20260506_part1.csv" in history


def test_usage_pages_are_for_hr_only(org, leader_user, norole_user) -> None:
    record = usage_import_create(format="generic", uploads=[("a.csv", b"x")], user=None)
    for user in (leader_user, norole_user):
        client = client_for(user)
        for url in ("/hr/usage/", "/hr/usage/imports/", f"/hr/usage/imports/{record.public_id}/"):
            assert client.get(url).status_code == 403
    assert client_for(None).get("/hr/usage/").status_code == 302


def test_the_api_lists_imports_for_hr_only(org, hr_user, leader_user) -> None:
    usage_import(format="generic", files=usage_files_from_paths([USAGE / "generic.csv"]))
    response = client_for(hr_user).get("/api/v1/usage-imports/")
    assert response.status_code == 200
    [item] = response.json()
    assert item["format"] == "generic"
    assert (item["rows_read"], item["rows_matched"], item["rows_unmatched"]) == (6, 5, 1)
    detail = client_for(hr_user).get(f"/api/v1/usage-imports/{item['public_id']}/")
    assert detail.status_code == 200
    assert client_for(leader_user).get("/api/v1/usage-imports/").status_code == 403


def test_the_api_accepts_an_upload_of_several_files(org, hr_user) -> None:
    files = [SimpleUploadedFile(p.name, p.read_bytes()) for p in AMAZON_Q_PARTS]
    response = client_for(hr_user).post(
        "/api/v1/usage-imports/", {"format": "amazon-q", "files": files}
    )
    assert response.status_code == 202, response.content
    assert response.json()["filenames"] == [p.name for p in AMAZON_Q_PARTS]
    bad = client_for(hr_user).post("/api/v1/usage-imports/", {"format": "nope", "files": files[:1]})
    assert bad.status_code == 400


def _cells() -> list[tuple]:
    return sorted(r[1:] for r in snapshot())


def test_an_import_that_spills_to_a_temporary_file_stores_the_same_cells_and_deletes_it(
    org, monkeypatch
) -> None:
    """Past `SPILL_AT` per-person values an import partitions them by day into a temporary
    file: same cells as in memory, and the file is closed (deleted) when the import ends,
    whether it succeeds or is refused."""
    from analytics.usage import accumulate

    text = (
        "email,date,tool,metric,value\n"
        "api1@acme.test,2026-05-05,t,tokens,1\n"
        "api2@acme.test,2026-05-04,t,tokens,2\n"
        "api1@acme.test,2026-05-04,t,tokens,3\n"
        "web1@acme.test,2026-05-06,t,requests,4\n"
        "api1@acme.test,2026-05-05,t,tokens,5\n"
        "api2@acme.test,2026-05-04,u,tokens,6\n"
    )
    usage_import(format="generic", files=generic(text))
    in_memory = _cells()
    TeamDayUsage.objects.all().delete()

    opened = []
    real = accumulate.tempfile.TemporaryFile

    def spy(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        handle = real(*args, **kwargs)
        opened.append(handle)
        return handle

    monkeypatch.setattr(accumulate, "SPILL_AT", 2)
    monkeypatch.setattr(accumulate.tempfile, "TemporaryFile", spy)
    usage_import(format="generic", files=generic(text))
    assert _cells() == in_memory
    assert opened and all(handle.closed for handle in opened)

    opened.clear()
    with pytest.raises(UsageFileError):
        usage_import(
            format="generic",
            files=generic(text) + usage_files_from_paths([USAGE / "generic_bad_value.csv"]),
        )
    assert opened and all(handle.closed for handle in opened)
    assert _cells() == in_memory


def test_each_cell_stores_the_largest_value_of_the_people_sitting_directly_in_its_team(
    org,
) -> None:
    """`direct_max_single` (for the gate's "parent minus children" bound): plat.lead sits in
    Platform itself, api1/api2 in its child API. Platform's direct largest value is the lead's
    (40), not api2's larger 70; API's is api2's; Engineering has nobody contributing directly."""
    usage_import(
        format="generic",
        files=generic(
            "email,date,tool,metric,value\n"
            "plat.lead@acme.test,2026-05-04,t,tokens,40\n"
            "api1@acme.test,2026-05-04,t,tokens,10\n"
            "api2@acme.test,2026-05-04,t,tokens,70\n"
        ),
    )
    rows = dict(
        TeamDayUsage.objects.filter(metric="tokens").values_list("team__path", "direct_max_single")
    )
    assert rows == {
        "Engineering": 0.0,
        "Engineering/Platform": 40.0,
        "Engineering/Platform/API": 70.0,
    }
    assert (
        TeamDayUsage.objects.get(team__path="Engineering/Platform", metric="tokens").max_single
        == 70
    )


def test_units_with_tabs_backslashes_and_newline_escapes_are_stored_exactly(org) -> None:
    """Cells go to PostgreSQL through COPY's text format: awkward text must round-trip."""
    unit = 'a\tb\\c\\nd"e'
    usage_import(
        format="generic",
        files=generic(
            "email,date,tool,metric,value,unit\n"
            f'api1@acme.test,2026-05-04,t,tokens,10,"{unit.replace(chr(34), chr(34) * 2)}"\n'
        ),
    )
    stored = TeamDayUsage.objects.filter(metric="tokens").values_list("unit", flat=True)
    assert set(stored) == {unit}


def test_a_failure_after_the_cells_are_written_rolls_them_back(org, monkeypatch) -> None:
    """Atomic through the bulk paths too (COPY on PostgreSQL, raw multi-row INSERTs on
    SQLite): the cells written before the failure are gone with it."""

    def fail(**fields: object) -> None:
        assert TeamDayUsage.objects.exists()  # the cells were written in this transaction
        raise RuntimeError("disk full")

    monkeypatch.setattr(UsageImport.objects, "create", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        usage_import(format="amazon-q", files=usage_files_from_paths(AMAZON_Q_PARTS))
    assert not TeamDayUsage.objects.exists()


def test_a_value_column_of_booleans_is_refused_naming_the_line(org) -> None:
    """Numeric columns are parsed as the C parser infers them: a column it reads as booleans
    (or text) is refused like any other non-number, and nothing is written."""
    with pytest.raises(UsageFileError) as exc:
        usage_import(
            format="generic",
            files=generic(
                "email,date,tool,metric,value\n"
                "api1@acme.test,2026-05-04,t,tokens,True\n"
                "api2@acme.test,2026-05-04,t,tokens,False\n"
            ),
        )
    assert "usage.csv, line 2, field value: 'True' is not a number" in str(exc.value)
    assert not TeamDayUsage.objects.exists()


def test_days_inside_a_released_period_are_kept_and_every_interface_reports_them(
    org, hr_user, capsys, tmp_path
) -> None:
    """A (source, day) inside a period the gate has released (`UsageRelease`) keeps its cells;
    the other days of the delivery follow latest wins. The command prints how many team-days
    were kept, the history records it, and the HR pages and the API show it."""
    usage_import(
        format="generic",
        files=generic(
            "email,date,tool,metric,value\n"
            "api1@acme.test,2026-05-04,t,tokens,10\n"
            "api2@acme.test,2026-05-04,t,tokens,20\n"
            "api1@acme.test,2026-05-05,t,tokens,30\n"
        ),
    )
    UsageRelease.objects.create(source="t", start=dt.date(2026, 5, 1), end=dt.date(2026, 5, 4))
    late = tmp_path / "late.csv"
    late.write_text(
        "email,date,tool,metric,value\n"
        "api1@acme.test,2026-05-04,t,tokens,11\n"  # released day: kept at 30
        "api2@acme.test,2026-05-04,t,tokens,20\n"
        "api1@acme.test,2026-05-05,t,tokens,7\n"  # not released: latest wins
        "api1@acme.test,2026-05-04,u,tokens,5\n"  # another source, never released: written
    )
    call_command("import_usage", "--format", "generic", str(late))
    out = capsys.readouterr().out
    # API, Platform and Engineering on May 4 (tokens and active users of source t).
    assert "kept as released: 3 team-days" in out
    api = TeamDayUsage.objects.filter(team__path="Engineering/Platform/API", metric="tokens")
    assert dict(api.filter(source="t").values_list("day", "total")) == {
        dt.date(2026, 5, 4): 30,
        dt.date(2026, 5, 5): 7,
    }
    assert api.get(source="u").total == 5
    record = UsageImport.objects.latest("id")
    assert record.team_days_kept == 3

    # The same delivery uploaded: the worker records the same count; nothing changes.
    before = snapshot()
    upload = usage_import_create(
        format="generic", uploads=[("late.csv", late.read_bytes())], user=hr_user
    )
    done = usage_import_run(import_id=upload.pk)
    assert (done.team_days_kept, done.team_days_written) == (3, 0)
    assert snapshot() == before
    client = client_for(hr_user)
    page = client.get(f"/hr/usage/imports/{done.public_id}/").content.decode()
    assert "Kept as released" in page and "3 team-days of this delivery" in page
    history = client.get("/hr/usage/imports/").content.decode()
    assert "Kept as released" in history
    [item] = [
        i
        for i in client.get("/api/v1/usage-imports/").json()
        if i["public_id"] == str(done.public_id)
    ]
    assert item["team_days_kept"] == 3


def test_the_garbage_collector_is_running_again_after_an_import_however_it_ends(
    org, monkeypatch
) -> None:
    """Cells are written with Python's cyclic collector paused (it cost ~10% of an import);
    it runs again afterwards, after a success as after a failure while writing."""
    import gc

    assert gc.isenabled()
    usage_import(format="amazon-q", files=usage_files_from_paths(AMAZON_Q_PARTS))
    assert gc.isenabled()

    def fail(**fields: object) -> None:
        assert not gc.isenabled()  # paused while the cells were written...
        raise RuntimeError("disk full")

    from analytics import services

    real = services._write_blocks

    def write_then_check(*args: object) -> None:
        real(*args)  # type: ignore[arg-type]
        fail()

    monkeypatch.setattr(services, "_write_blocks", write_then_check)
    with pytest.raises(RuntimeError, match="disk full"):
        usage_import(format="generic", files=usage_files_from_paths([USAGE / "generic.csv"]))
    assert gc.isenabled()  # ...and running again once the import failed


@pytest.mark.django_db(transaction=True)
def test_a_gate_read_and_an_import_write_exclude_each_other_on_postgresql(org, monkeypatch) -> None:
    """A figure must not leave computed from cells that an import running at the same time
    then changes: a gate read holds a lock on the release table that an import's write
    cannot take until the read's release is recorded and committed, and the other way round.
    Checked with NOWAIT from a second connection (no timing)."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises every transaction by its database lock")
    import psycopg
    from psycopg import errors

    from analytics import gate, services

    db = connection.settings_dict
    other = psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        password=db["PASSWORD"] or None,
        host=db["HOST"],
        port=db["PORT"] or None,
    )
    table = UsageRelease._meta.db_table
    try:
        with gate.usage_releasing():
            with pytest.raises(errors.LockNotAvailable):
                other.execute(f"LOCK TABLE {table} IN SHARE MODE NOWAIT")  # an import's
            other.rollback()
        other.execute(f"LOCK TABLE {table} IN SHARE MODE NOWAIT")  # free again
        other.rollback()

        real = services._released_periods
        seen = []

        def while_importing(result: services.UsageImportResult) -> dict:
            periods = real(result)
            with pytest.raises(errors.LockNotAvailable):
                other.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE NOWAIT")  # a read's
            other.rollback()
            seen.append(True)
            return periods

        monkeypatch.setattr(services, "_released_periods", while_importing)
        usage_import(format="generic", files=usage_files_from_paths([USAGE / "generic.csv"]))
        assert seen
        other.execute(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE NOWAIT")  # free again
        other.rollback()
    finally:
        other.close()
