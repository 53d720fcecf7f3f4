"""Roster parsing has two routes: a column-wise check for files without a problem and the
row-by-row validation that names every problem. They must accept exactly the same files and
return exactly the same rows; the problems always come from the row-by-row route."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import surveys.roster as roster
from surveys.roster import ParsedRoster, parse_roster
from tests.conftest import FIXTURES, ORG_CSV

HEADER = "email,name,team,manager_email,location,start_date,timezone"


def _row_by_row(data: bytes, monkeypatch: pytest.MonkeyPatch) -> ParsedRoster:
    with monkeypatch.context() as patch:
        patch.setattr(roster, "_columns_if_all_valid", lambda *args: None)
        return parse_roster(data)


def _assert_same(data: bytes, monkeypatch: pytest.MonkeyPatch) -> ParsedRoster:
    fast = parse_roster(data)
    slow = _row_by_row(data, monkeypatch)
    assert fast.rows == slow.rows
    assert fast.problems == slow.problems
    assert (fast.problem_count, fast.alias_columns, fast.ignored_columns) == (
        slow.problem_count,
        slow.alias_columns,
        slow.ignored_columns,
    )
    return fast


VARIANTS: dict[str, bytes] = {
    "org": ORG_CSV,
    "crlf_bom_quotes": (
        "\ufeffEmail, Name ,team,manager_email,location,start_date,timezone,badge\r\n"
        '"zoe@x.test","Zoë, Jr.",Eng/Data,,"São Paulo",,America/Sao_Paulo,42\r\n'
    ).encode(),
    "quoted_line_break": (
        f'{HEADER}\na@x.test,"A\nB",Eng,,Berlin,2020-01-01,UTC\nb@x.test,B,Eng,a@x.test,,,UTC\n'
    ).encode(),
    "blank_lines": f"{HEADER}\n\na@x.test,A,Eng,,Berlin,,UTC\n   \nb@x.test,B,Eng,,,,UTC\n".encode(),
    "spaces_and_case": (
        f"{HEADER},github_login,upn\n"
        " A@X.test , A , /Eng / Data/ , , Berlin , 2020-01-01 , UTC , OctoCat , A@Corp.test \n"
        "b@x.test,B,Eng,A@X.TEST,,,Europe/Paris,,\n"
    ).encode(),
    "no_trailing_newline": f"{HEADER}\na@x.test,A,Eng,,Berlin,2020-01-01,UTC".encode(),
    "upn_duplicate_by_case": (
        f"{HEADER},upn\na@x.test,A,Eng,,,,UTC,U@x.test\nb@x.test,B,Eng,,,,UTC,u@X.test\n"
    ).encode(),
    "unknown_manager_and_bad_date": (
        f"{HEADER}\na@x.test,A,Eng,z@x.test,,2020-02-30,UTC\nb@x.test,B,Eng,z@x.test,,,UTC\n"
    ).encode(),
    "long_name": f"{HEADER}\na@x.test,{'n' * 201},Eng,,,,UTC\n".encode(),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_both_routes_agree_on_hand_made_files(name: str, monkeypatch) -> None:
    _assert_same(VARIANTS[name], monkeypatch)


@pytest.mark.parametrize("path", sorted((FIXTURES / "rosters").glob("*.csv")), ids=lambda p: p.name)
def test_both_routes_agree_on_the_malformed_corpus(path, monkeypatch) -> None:
    parsed = _assert_same(path.read_bytes(), monkeypatch)
    assert not parsed.ok


def test_the_column_wise_route_is_the_one_taken_for_a_valid_file(monkeypatch) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("the row-by-row route ran")

    monkeypatch.setattr(roster, "_validate_rows", refuse)
    parsed = parse_roster(ORG_CSV)
    assert parsed.ok
    assert len(parsed.rows) == 7


def test_a_long_manager_chain_is_not_a_cycle_and_a_long_cycle_is_named() -> None:
    chain = [f"{HEADER}", "e0@x.test,E0,Eng,,,,UTC"]
    chain += [f"e{i}@x.test,E{i},Eng,e{i - 1}@x.test,,,UTC" for i in range(1, 300)]
    assert parse_roster("\n".join(chain).encode()).ok

    chain[1] = "e0@x.test,E0,Eng,e299@x.test,,,UTC"
    parsed = parse_roster("\n".join(chain).encode())
    assert parsed.problem_count == 1
    assert parsed.problems[0].message.startswith("cycle in managers: e0@x.test -> e299@x.test")


# Cells: usually valid (some needing normalisation or quoting), sometimes almost valid.


def _cell(valid: list[str], tricky: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(valid * 8 + tricky)


EMAILS = _cell([f"{c}@x.test" for c in "abcdefgh"] + [" I@x.test "], ["d@x", "", "a@x.test "])
CELLS = {
    "name": _cell(["A", " B ", "C, Jr.", 'D "the" E', "F\nG"], ["", "n" * 201]),
    "team": _cell(["Eng", "Eng/API", "/Eng/", " Eng / Web "], ["Eng//API", "", "/"]),
    "location": _cell(["", "Berlin", "São Paulo"], ["x" * 201]),
    "start_date": _cell(["", "2020-01-01", " 2021-05-05 "], ["2020-13-01", "20200101", "x"]),
    "timezone": _cell(["UTC", "Europe/Paris", " UTC "], ["", "Mars/Olympus"]),
    "github_login": _cell(["", "", "", "octo", "Octo", "gh-1"], ["-bad"]),
    "upn": _cell(["", "", "", "u@x.test", "U@X.test"], ["nope"]),
    "aws_user_id": _cell(["", "", "", "AIDA1", "AIDA2"], ["bad id"]),
}


@st.composite
def rosters(draw: st.DrawFn) -> bytes:
    aliases = draw(st.lists(st.sampled_from(["github_login", "upn", "aws_user_id"]), unique=True))
    columns = [*HEADER.split(","), *aliases]
    emails = draw(st.lists(EMAILS, min_size=1, max_size=6, unique=draw(_cell(["1"], [""])) == "1"))
    lines = [",".join(columns)]
    for position, email in enumerate(emails):
        # Usually someone above in the file (a tree); sometimes anyone (cycles).
        managers = _cell(["", *emails[:position]], emails)
        cells = {"email": email, "manager_email": draw(managers)}
        cells.update({name: draw(CELLS[name]) for name in columns if name not in cells})
        quoted = [
            f'"{v.replace(chr(34), chr(34) * 2)}"' if set(v) & set(',"\n') else v
            for v in (cells[name] for name in columns)
        ]
        lines.append(",".join(quoted))
        if draw(st.booleans()) and draw(st.booleans()):
            lines.append(draw(st.sampled_from(["", "   ", "x@x.test,too,few"])))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return (newline.join(lines) + draw(st.sampled_from(["", newline]))).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=rosters(), junk=st.text(alphabet=string.printable, max_size=3))
def test_both_routes_agree_on_generated_files(data: bytes, junk: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        _assert_same(data, monkeypatch)
        _assert_same(data + junk.encode(), monkeypatch)
