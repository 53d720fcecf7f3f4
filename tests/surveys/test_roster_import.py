"""Roster import: upsert by email, aliases, managers, deactivation, idempotence."""

from __future__ import annotations

import datetime as dt

from django.core.management import call_command

from surveys.models import Employee, Team
from surveys.services import roster_import
from tests.conftest import ORG_CSV

HEADER = b"email,name,team,manager_email,location,start_date,timezone"


def test_it_creates_the_team_tree_and_employees(db: None) -> None:
    result = roster_import(data=ORG_CSV)

    assert (result.rows, result.created, result.updated, result.unchanged) == (7, 7, 0, 0)
    assert sorted(Team.objects.values_list("path", flat=True)) == [
        "Engineering",
        "Engineering/Platform",
        "Engineering/Platform/API",
        "Engineering/Platform/Infra",
        "Engineering/Product",
        "Engineering/Product/Web",
        "Sales",
        "Sales/EMEA",
    ]
    api = Team.objects.get(path="Engineering/Platform/API")
    assert (api.name, api.depth, api.parent.path) == ("API", 2, "Engineering/Platform")
    api1 = Employee.objects.get(email="api1@acme.test")
    assert api1.manager.email == "plat.lead@acme.test"
    assert api1.team == api
    assert api1.start_date == dt.date(2020, 5, 1)
    assert (api1.github_login, api1.aws_user_id, api1.openai_user_id, api1.upn) == (
        "api-one",
        "aws-1",
        "user-api1",
        "api1@acme.test",
    )
    assert Employee.objects.get(email="api2@acme.test").github_login is None


def test_reimporting_the_same_file_changes_nothing(db: None) -> None:
    roster_import(data=ORG_CSV)
    before = list(Employee.objects.order_by("pk").values_list())

    result = roster_import(data=ORG_CSV)

    assert (result.created, result.updated, result.unchanged, result.teams_created) == (0, 0, 7, 0)
    assert list(Employee.objects.order_by("pk").values_list()) == before


def test_it_upserts_by_email_case_insensitively(db: None) -> None:
    roster_import(data=ORG_CSV)
    changed = ORG_CSV.replace(
        b"API2@acme.test".lower() + b",Api Two,Engineering/Platform/API",
        b"API2@ACME.TEST,Api Two,Engineering/Product/Web",
    )
    result = roster_import(data=changed)

    assert (result.created, result.updated) == (0, 1)
    assert Employee.objects.count() == 7
    assert Employee.objects.get(email="api2@acme.test").team.path == "Engineering/Product/Web"


def test_manager_changes_are_applied(db: None) -> None:
    roster_import(data=ORG_CSV)
    changed = ORG_CSV.replace(
        b"web1@acme.test,Web One,Engineering/Product/Web,boss@acme.test",
        b"web1@acme.test,Web One,Engineering/Product/Web,plat.lead@acme.test",
    )
    result = roster_import(data=changed)
    assert result.updated == 1
    assert Employee.objects.get(email="web1@acme.test").manager.email == "plat.lead@acme.test"


def test_deactivate_missing_deactivates_only_those_absent(db: None) -> None:
    roster_import(data=ORG_CSV)
    without_sales = b"\n".join(
        line for line in ORG_CSV.split(b"\n") if not line.startswith(b"sales1@")
    )
    result = roster_import(data=without_sales, deactivate_missing=True)

    assert result.deactivated == 1
    assert list(Employee.objects.filter(is_active=False).values_list("email", flat=True)) == [
        "sales1@acme.test"
    ]
    # Nobody is deleted, and coming back in a later file reactivates.
    assert Employee.objects.count() == 7
    again = roster_import(data=ORG_CSV)
    assert again.updated == 1
    assert not Employee.objects.filter(is_active=False).exists()


def test_without_the_flag_absent_employees_stay_active(db: None) -> None:
    roster_import(data=ORG_CSV)
    only_boss = HEADER + b"\nboss@acme.test,Boss,Engineering,,Berlin,2015-01-01,Europe/Berlin\n"
    result = roster_import(data=only_boss)
    assert result.deactivated == 0
    assert Employee.objects.filter(is_active=True).count() == 7


def test_an_alias_column_absent_from_the_file_leaves_aliases_alone(db: None) -> None:
    roster_import(data=ORG_CSV)
    only_boss = HEADER + b"\nboss@acme.test,Boss,Engineering,,Berlin,2015-01-01,Europe/Berlin\n"
    roster_import(data=only_boss)
    assert Employee.objects.get(email="boss@acme.test").github_login == "boss-gh"


def test_two_employees_can_swap_aliases(db: None) -> None:
    data = (
        HEADER + b",github_login\n"
        b"a@x.test,A,Eng,,Berlin,2020-01-01,UTC,first\n"
        b"b@x.test,B,Eng,,Berlin,2020-01-01,UTC,second\n"
    )
    roster_import(data=data)
    roster_import(
        data=data.replace(b"first", b"tmp").replace(b"second", b"first").replace(b"tmp", b"second")
    )
    assert Employee.objects.get(email="a@x.test").github_login == "second"
    assert Employee.objects.get(email="b@x.test").github_login == "first"


def test_bom_quotes_crlf_and_extra_columns_are_accepted(db: None) -> None:
    data = (
        "\ufeffEmail, Name ,team,manager_email,location,start_date,timezone,badge\r\n"
        '"zoe@x.test","Zoë, Jr.",Eng/Data,,"São Paulo",,America/Sao_Paulo,42\r\n'
    ).encode()
    result = roster_import(data=data)
    assert result.created == 1
    assert result.ignored_columns == ["badge"]
    zoe = Employee.objects.get(email="zoe@x.test")
    assert (zoe.name, zoe.location, zoe.start_date, zoe.team.path) == (
        "Zoë, Jr.",
        "São Paulo",
        None,
        "Eng/Data",
    )


def test_the_command_prints_a_summary(db: None, tmp_path, capsys) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(ORG_CSV)
    call_command("import_roster", str(path))
    out = capsys.readouterr().out
    assert "7 rows: 7 created, 0 updated, 0 unchanged, 0 deactivated; 8 teams created" in out


def test_seed_demo_is_idempotent(db: None, django_user_model) -> None:
    call_command("seed_demo")
    counts = (Employee.objects.count(), Team.objects.count(), django_user_model.objects.count())
    call_command("seed_demo")
    assert (
        Employee.objects.count(),
        Team.objects.count(),
        django_user_model.objects.count(),
    ) == counts
    assert counts[0] > 50
