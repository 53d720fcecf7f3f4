"""A corpus of malformed rosters: each is refused with its precise error and changes nothing."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from surveys.models import Employee, Team
from surveys.services import RosterImportError, roster_import
from tests.conftest import FIXTURES, ORG_CSV

CORPUS = FIXTURES / "rosters"

# file -> (line, column, words the message must contain)
EXPECTED: dict[str, tuple[int, str | None, str]] = {
    "bad_email.csv": (3, "email", "'bob@' is not a valid email address"),
    "unknown_timezone.csv": (3, "timezone", "unknown time zone 'Mars/Olympus'"),
    "duplicate_email.csv": (4, "email", "duplicate email 'a@x.test' (first on line 2)"),
    "manager_not_in_file.csv": (3, "manager_email", "manager 'ghost@x.test' is not in the file"),
    "manager_cycle.csv": (
        2,
        "manager_email",
        "cycle in managers: a@x.test -> c@x.test -> b@x.test -> a@x.test",
    ),
    "missing_column.csv": (1, "start_date", "missing required column: start_date"),
    "latin1_encoding.csv": (2, "name", "not UTF-8 encoded (byte 0xe9 at character 13)"),
    "bad_date.csv": (2, "start_date", "'2020-13-45' is not a date in the form YYYY-MM-DD"),
    # ISO week dates and compact dates parse with date.fromisoformat but are not the format.
    "compact_date.csv": (3, "start_date", "'2020-W01-1' is not a date in the form YYYY-MM-DD"),
    "empty_team_level.csv": (2, "team", "team path 'Eng//API' has an empty level"),
    "wrong_field_count.csv": (3, None, "expected 7 fields like the header, found 5"),
    "empty_name.csv": (2, "name", "name is empty"),
    "header_only.csv": (2, None, "has a header but no employees"),
    "empty.csv": (1, None, "the file is empty"),
    "duplicate_column.csv": (1, "email", "column 'email' appears twice"),
    "duplicate_alias.csv": (3, "github_login", "duplicate github_login 'octo' (first on line 2)"),
    "self_manager.csv": (2, "manager_email", "cycle in managers: a@x.test -> a@x.test"),
    "unterminated_quote.csv": (2, None, "malformed CSV"),
}


def _snapshot() -> tuple[list[tuple], list[tuple]]:
    return (
        list(Employee.objects.order_by("pk").values_list()),
        list(Team.objects.order_by("pk").values_list()),
    )


def test_the_corpus_is_complete() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.csv")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_malformed_file_names_its_error_and_changes_nothing(db: None, name: str) -> None:
    roster_import(data=ORG_CSV)
    before = _snapshot()
    line, column, words = EXPECTED[name]

    with pytest.raises(RosterImportError) as caught:
        roster_import(data=(CORPUS / name).read_bytes(), deactivate_missing=True)

    problem = caught.value.problems[0]
    assert (problem.line, problem.column) == (line, column), str(problem)
    assert words in problem.message
    assert _snapshot() == before


def test_the_command_reports_file_line_and_column_and_imports_nothing(db: None) -> None:
    path = CORPUS / "unknown_timezone.csv"
    with pytest.raises(CommandError) as caught:
        call_command("import_roster", str(path))
    message = str(caught.value)
    assert str(path) in message
    assert "line 3, column timezone: unknown time zone 'Mars/Olympus'" in message
    assert "nothing was imported" in message
    assert not Employee.objects.exists()


def test_every_problem_is_listed_not_only_the_first(db: None) -> None:
    data = (
        b"email,name,team,manager_email,location,start_date,timezone\n"
        b"bad,A,Eng,,Berlin,2020-01-01,UTC\n"
        b"b@x.test,,Eng,,Berlin,2020-01-01,Nowhere/City\n"
    )
    with pytest.raises(RosterImportError) as caught:
        roster_import(data=data)
    assert [str(p) for p in caught.value.problems] == [
        "line 2, column email: 'bad' is not a valid email address",
        "line 3, column name: name is empty",
        "line 3, column timezone: unknown time zone 'Nowhere/City' (expected an IANA name)",
    ]
    assert caught.value.total == 3


def test_an_alias_owned_by_someone_outside_the_file_is_refused(db: None) -> None:
    roster_import(data=ORG_CSV)
    before = _snapshot()
    data = (
        b"email,name,team,manager_email,location,start_date,timezone,github_login\n"
        b"new@acme.test,New,Eng,,Berlin,2020-01-01,UTC,api-one\n"
    )
    with pytest.raises(RosterImportError) as caught:
        roster_import(data=data)
    assert str(caught.value.problems[0]) == (
        "line 2, column github_login: github_login 'api-one' already belongs to "
        "api1@acme.test, who is not in this file"
    )
    assert _snapshot() == before


def test_a_failure_while_writing_rolls_everything_back(db: None, monkeypatch) -> None:
    roster_import(data=ORG_CSV)
    before = _snapshot()
    changed = ORG_CSV.replace(b"Api Two", b"Api Deux") + (
        b"late@acme.test,Late,Engineering/New/Team,boss@acme.test,Rome,2024-01-01,Europe/Rome,,,,\n"
    )

    import surveys.services.organisation as services

    # Whichever writer the backend uses fails after it has written everything.
    for name in ("_write_orm", "_write_postgresql"):
        write = getattr(services, name)

        def write_then_explode(*args, write=write) -> None:
            write(*args)
            raise RuntimeError("disk full")

        monkeypatch.setattr(services, name, write_then_explode)
    with pytest.raises(RuntimeError, match="disk full"):
        roster_import(data=changed)
    assert _snapshot() == before
    assert not Team.objects.filter(path__startswith="Engineering/New").exists()
