"""One gate (anonymity rule 12): no module but the publication service reads response rows.

Every module of `surveys/`, `analytics/` and `pulse/` is parsed with `ast` and searched for
the ways Django code can reach the `Response`, `Answer` and `Comment` rows: importing the
models, following the reverse relations (`round.responses`, `response.answers`) or naming them
in a query lookup (`Count("responses")`, `filter(response__round=...)`). Only the modules on
the allow-list may, each for the reason given. Everything else that shows a number reads a
publication through `analytics.gate`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("surveys", "analytics", "pulse")
MODELS = {"Response", "Answer", "Comment"}
RELATIONS = {"responses", "answers"}
LOOKUPS = ("responses__", "answers__", "response__", "answer__")

ALLOWED = {
    # Defines the models.
    "surveys/models.py",
    # The one door that writes responses (and shuffles their storage order at close).
    "surveys/services/responses.py",
    # The only code that reads them to make numbers: computed once per closed round.
    "analytics/publication.py",
}
# Not allowed on purpose: surveys/admin.py must never register these models (the admin would
# list every response with its attributes, a per-person output beside the gate).


def _modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts  # schema and data migrations, not outputs
    )


def _references(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("models"):
            found += [f"imports {a.name}" for a in node.names if a.name in MODELS]
        elif isinstance(node, ast.Attribute):
            if node.attr in MODELS and ast.unparse(node.value).endswith("models"):
                found.append(f"uses {ast.unparse(node)}")
            elif node.attr in RELATIONS:
                found.append(f"follows .{node.attr}")
        elif isinstance(node, ast.keyword) and (node.arg or "").startswith(LOOKUPS):
            found.append(f"looks up {node.arg}=")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (node.value in RELATIONS or node.value.startswith(LOOKUPS))
        ):
            found.append(f"names the lookup {node.value!r}")
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("get_model"):
            names = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if any(str(n).split(".")[-1] in MODELS for n in names):
                found.append(f"loads {names} by name")
    return found


def test_only_the_publication_service_reads_response_rows() -> None:
    offenders = {}
    for path in _modules():
        relative = path.relative_to(ROOT).as_posix()
        refs = _references(ast.parse(path.read_text(encoding="utf-8")))
        if refs and relative not in ALLOWED:
            offenders[relative] = sorted(set(refs))
    assert offenders == {}


def test_the_scan_sees_what_it_looks_for() -> None:
    sample = """
from surveys.models import Response, Team
from surveys import models
x = models.Answer.objects.all()
y = round_.responses.count()
z = Round.objects.annotate(n=Count("responses"))
w = Question.objects.filter(answer__value=3)
"""
    refs = _references(ast.parse(sample))
    assert refs and {
        "imports Response",
        "uses models.Answer",
        "follows .responses",
        "names the lookup 'responses'",
        "looks up answer__value=",
    } <= set(refs)
    assert _references(ast.parse("from surveys.models import Team\nteam.children.all()")) == []


def test_the_allowed_modules_exist_and_the_admin_registers_no_response_model() -> None:
    for relative in ALLOWED:
        assert (ROOT / relative).exists(), relative
    admin = (ROOT / "surveys" / "admin.py").read_text(encoding="utf-8")
    assert not MODELS & {
        name.id
        for node in ast.walk(ast.parse(admin))
        if isinstance(node, ast.Call)
        for name in node.args
        if isinstance(name, ast.Name)
    }
    assert _references(ast.parse(admin)) == []


@pytest.mark.parametrize(
    ("invitees", "responded", "shown"),
    [
        (4, 4, None),  # a group below k
        (12, 3, None),  # fewer than k answered: the rate would give the count away
        (12, 9, None),  # 3 did not answer: likewise
        (12, 12, 100),
        (20, 10, 50),
        (23, 11, 50),  # rounded to 5%
    ],
)
def test_response_rates_never_give_away_a_small_count(invitees, responded, shown) -> None:
    from analytics.gate import release_participation

    rate, reason = release_participation(invitees=invitees, responded=responded)
    assert rate == shown
    assert (reason == "") == (shown is not None)
