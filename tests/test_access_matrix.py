"""Every page and endpoint, for every role. A leader sees their subtrees and nothing else."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from surveys.models import RosterImport
from tests.conftest import ORG_CSV, client_for

ROLES = ["anonymous", "norole", "leader", "hr", "superuser"]

# (name, url factory over the org fixture, expected status per role)
LOGIN = 302  # redirect to the login page
PAGES: list[tuple[str, str, dict[str, int]]] = [
    ("home", "/", {"anonymous": 302, "norole": 302, "leader": 302, "hr": 302, "superuser": 302}),
    (
        "login",
        "/login/",
        {"anonymous": 200, "norole": 302, "leader": 302, "hr": 302, "superuser": 302},
    ),
    ("healthz", "/healthz", {r: 200 for r in ROLES}),
    (
        "hr home",
        "/hr/",
        {"anonymous": LOGIN, "norole": 403, "leader": 403, "hr": 200, "superuser": 200},
    ),
    (
        "roster upload",
        "/hr/roster/",
        {"anonymous": LOGIN, "norole": 403, "leader": 403, "hr": 200, "superuser": 200},
    ),
    (
        "roster import",
        "/hr/roster/imports/{import}/",
        {"anonymous": LOGIN, "norole": 403, "leader": 403, "hr": 200, "superuser": 200},
    ),
    (
        "people",
        "/hr/people/",
        {"anonymous": LOGIN, "norole": 403, "leader": 403, "hr": 200, "superuser": 200},
    ),
    (
        "teams",
        "/hr/teams/",
        {"anonymous": LOGIN, "norole": 403, "leader": 403, "hr": 200, "superuser": 200},
    ),
    (
        "results",
        "/results/",
        {"anonymous": LOGIN, "norole": 403, "leader": 200, "hr": 200, "superuser": 200},
    ),
    (
        "results own team",
        "/results/teams/{api}/",
        {"anonymous": LOGIN, "norole": 403, "leader": 200, "hr": 200, "superuser": 200},
    ),
    (
        "results subtree root",
        "/results/teams/{platform}/",
        {"anonymous": LOGIN, "norole": 403, "leader": 200, "hr": 200, "superuser": 200},
    ),
    (
        "results other subtree",
        "/results/teams/{sales}/",
        {"anonymous": LOGIN, "norole": 403, "leader": 404, "hr": 200, "superuser": 200},
    ),
    (
        "results parent team",
        "/results/teams/{engineering}/",
        {"anonymous": LOGIN, "norole": 403, "leader": 404, "hr": 200, "superuser": 200},
    ),
    (
        "results missing team",
        "/results/teams/999999/",
        {"anonymous": LOGIN, "norole": 403, "leader": 404, "hr": 404, "superuser": 404},
    ),
    (
        "admin",
        "/admin/",
        {"anonymous": 302, "norole": 302, "leader": 302, "hr": 302, "superuser": 200},
    ),
    (
        "api me",
        "/api/v1/me/",
        {"anonymous": 403, "norole": 200, "leader": 200, "hr": 200, "superuser": 200},
    ),
    (
        "api teams",
        "/api/v1/teams/",
        {"anonymous": 403, "norole": 403, "leader": 200, "hr": 200, "superuser": 200},
    ),
    (
        "api own team",
        "/api/v1/teams/{infra}/",
        {"anonymous": 403, "norole": 403, "leader": 200, "hr": 200, "superuser": 200},
    ),
    (
        "api other team",
        "/api/v1/teams/{web}/",
        {"anonymous": 403, "norole": 403, "leader": 404, "hr": 200, "superuser": 200},
    ),
    (
        "api employees",
        "/api/v1/employees/",
        {"anonymous": 403, "norole": 403, "leader": 403, "hr": 200, "superuser": 200},
    ),
    (
        "api roster imports",
        "/api/v1/roster-imports/",
        {"anonymous": 403, "norole": 403, "leader": 403, "hr": 200, "superuser": 200},
    ),
    (
        "api roster import",
        "/api/v1/roster-imports/{import}/",
        {"anonymous": 403, "norole": 403, "leader": 403, "hr": 200, "superuser": 200},
    ),
    (
        "api schema",
        "/api/schema/",
        {"anonymous": 200, "norole": 200, "leader": 200, "hr": 200, "superuser": 200},
    ),
]


HR_ONLY = {"anonymous": LOGIN, "norole": 403, "leader": 403, "hr": 200, "superuser": 200}
STAFF_404 = {"anonymous": LOGIN, "norole": 403, "leader": 404, "hr": 404, "superuser": 404}
API_STAFF = {"anonymous": 403, "norole": 403, "leader": 200, "hr": 200, "superuser": 200}
API_404 = {"anonymous": 403, "norole": 403, "leader": 404, "hr": 404, "superuser": 404}
PAGES += [
    ("question bank", "/hr/bank/", HR_ONLY),
    ("templates", "/hr/templates/", HR_ONLY),
    ("template new", "/hr/templates/new/", HR_ONLY),
    ("cadences", "/hr/cadences/", HR_ONLY),
    ("cadence new", "/hr/cadences/new/", HR_ONLY),
    ("rounds", "/hr/rounds/", HR_ONLY),
    ("round missing", "/hr/rounds/999999/", {**HR_ONLY, "hr": 404, "superuser": 404}),
    ("usage upload", "/hr/usage/", HR_ONLY),
    ("usage history", "/hr/usage/imports/", HR_ONLY),
    ("results export missing", "/results/rounds/999999/export.csv", STAFF_404),
    ("api rounds", "/api/v1/rounds/", API_STAFF),
    ("api publication missing", "/api/v1/rounds/999999/publication/", API_404),
    ("api usage imports", "/api/v1/usage-imports/", {**API_STAFF, "leader": 403}),
]


@pytest.fixture
def users(org, hr_user, leader_user, superuser, norole_user) -> dict[str, object | None]:
    return {
        "anonymous": None,
        "norole": norole_user,
        "leader": leader_user,
        "hr": hr_user,
        "superuser": superuser,
    }


@pytest.fixture
def url_values(org) -> dict[str, object]:
    record = RosterImport.objects.create(filename="r.csv", content=ORG_CSV)
    return {
        "import": record.public_id,
        "api": org["Engineering/Platform/API"].pk,
        "infra": org["Engineering/Platform/Infra"].pk,
        "platform": org["Engineering/Platform"].pk,
        "sales": org["Sales/EMEA"].pk,
        "web": org["Engineering/Product/Web"].pk,
        "engineering": org["Engineering"].pk,
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "template", "expected"), PAGES, ids=[p[0] for p in PAGES])
def test_role_matrix(users, url_values, role, name, template, expected) -> None:
    response = client_for(users[role]).get(template.format(**url_values))
    assert response.status_code == expected[role], f"{name} as {role}"
    if (
        response.status_code == LOGIN
        and role == "anonymous"
        and template.startswith(("/hr", "/results"))
    ):
        assert response["Location"].startswith(reverse("login"))


def test_writes_are_refused_to_non_hr(users, url_values) -> None:
    for role in ["anonymous", "norole", "leader"]:
        response = client_for(users[role]).post("/hr/roster/", {})
        assert response.status_code in (302, 403)
        api = client_for(users[role]).post("/api/v1/roster-imports/", {})
        assert api.status_code == 403
    assert RosterImport.objects.count() == 1


def test_a_leader_lists_only_their_subtrees(users) -> None:
    teams = client_for(users["leader"]).get("/api/v1/teams/").json()["results"]
    assert [t["path"] for t in teams] == [
        "Engineering/Platform",
        "Engineering/Platform/API",
        "Engineering/Platform/Infra",
    ]
    page = client_for(users["leader"]).get("/results/").content.decode()
    assert "Engineering/Platform/API" in page
    assert "Sales" not in page and "Engineering/Product" not in page


def test_hr_lists_every_team(users, org) -> None:
    teams = client_for(users["hr"]).get("/api/v1/teams/").json()["results"]
    assert len(teams) == len(org)


def test_a_leader_with_several_subtrees_sees_their_union(org, django_user_model) -> None:
    from surveys.models import Role
    from surveys.services import staff_user_create

    user = staff_user_create(
        username="two",
        password="x-very-long-pass",
        kind=Role.Kind.LEADER,
        team_paths=["Sales", "Engineering/Product"],
    )
    paths = [t["path"] for t in client_for(user).get("/api/v1/teams/").json()["results"]]
    assert paths == ["Engineering/Product", "Engineering/Product/Web", "Sales", "Sales/EMEA"]


def test_token_authentication_applies_the_same_scope(users, url_values) -> None:
    token = Token.objects.create(user=users["leader"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(f"/api/v1/teams/{url_values['api']}/").status_code == 200
    assert client.get(f"/api/v1/teams/{url_values['sales']}/").status_code == 404
    assert client.get("/api/v1/employees/").status_code == 403
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert (
        client.get("/api/v1/teams/").status_code == 401
        or client.get("/api/v1/teams/").status_code == 403
    )


def test_the_refusal_does_not_reveal_whether_a_team_exists(users, url_values) -> None:
    leader = client_for(users["leader"])
    outside = leader.get(f"/api/v1/teams/{url_values['sales']}/")
    missing = leader.get("/api/v1/teams/999999/")
    assert (outside.status_code, outside.json()) == (missing.status_code, missing.json())
