"""Publications: every team at every level, audited as a whole, persisted, recomputable."""

from __future__ import annotations

import pytest

from analytics.gate import release_rows
from analytics.models import Publication, PublicationCell
from analytics.publication import publication_compute, redact, round_results_publish
from surveys.models import Employee, Response
from tests.support.rounds import build_org, closed_round, default_answer

TEAMS = {
    "Company/Eng/API": 8,
    "Company/Eng/Infra": 6,
    "Company/Eng/Web": 3,
    "Company/Sales": 12,
}


@pytest.fixture
def round_(db: None):
    build_org(TEAMS)
    return closed_round(audience=["Company"])


def _cell(publication: Publication, path: str, breakdown: str = "all", value: str = "") -> dict:
    return publication.cells.get(team_path=path, breakdown=breakdown, value=value).figures


def test_every_team_at_every_level_gets_a_cell(round_) -> None:
    publication = publication_compute(round_id=round_.pk)
    paths = set(publication.cells.filter(breakdown="all").values_list("team_path", flat=True))
    assert paths == {
        "",
        "Company",
        "Company/Eng",
        "Company/Eng/API",
        "Company/Eng/Infra",
        "Company/Eng/Web",
        "Company/Sales",
    }
    assert publication.cells.filter(breakdown="location").exists()
    assert publication.cells.filter(breakdown="tenure").exists()


def test_small_teams_are_hidden_and_the_difference_that_would_reveal_them_too(round_) -> None:
    publication = publication_compute(round_id=round_.pk)
    web = _cell(publication, "Company/Eng/Web")["respondents"]
    assert (web["shown"], web["reason"]) == (False, "below_k")
    assert "n" not in web
    # Eng = API + Infra + Web: with Eng, API and Infra all shown, Web would follow.
    shown = [
        _cell(publication, p)["respondents"]["shown"]
        for p in ("Company/Eng", "Company/Eng/API", "Company/Eng/Infra")
    ]
    assert shown.count(False) >= 1


def test_shown_cells_have_at_least_k_respondents_and_figures(round_) -> None:
    publication = publication_compute(round_id=round_.pk)
    for cell in PublicationCell.objects.filter(publication=publication):
        for code, entry in cell.figures.items():
            if entry["shown"]:
                assert entry["n"] >= 5, (cell, code)
            else:
                assert "score" not in entry and "n" not in entry
    organisation = _cell(publication, "")
    assert organisation["respondents"] == {"shown": True, "reason": None, "n": 30}
    who5 = organisation["WHO5"]
    assert who5["ci_low"] <= who5["score"] <= who5["ci_high"]


def test_a_lone_person_in_a_parent_team_is_protected(round_) -> None:
    # The head of company sits alone in "Company": Company - Eng - Sales would be their answer,
    # so Eng and Sales cannot both be shown beside Company.
    publication = publication_compute(round_id=round_.pk)
    shown = {
        path: _cell(publication, path)["respondents"]["shown"]
        for path in ("Company", "Company/Eng", "Company/Sales")
    }
    assert list(shown.values()).count(True) <= 2
    assert _cell(publication, "Company/Sales")["respondents"]["reason"] in (
        None,
        "protects_another",
        "insider_margin",
    )


def test_recomputing_gives_the_same_publication(round_) -> None:
    first = publication_compute(round_id=round_.pk)
    before = {(c.team_path, c.breakdown, c.value): c.figures for c in first.cells.all()}
    comments_before = list(first.comments.values_list("text", flat=True))
    second = publication_compute(round_id=round_.pk)
    after = {(c.team_path, c.breakdown, c.value): c.figures for c in second.cells.all()}
    assert after == before
    assert list(second.comments.values_list("text", flat=True)) == comments_before
    assert Publication.objects.count() == 1


def test_a_crash_while_writing_leaves_no_half_publication(round_, monkeypatch) -> None:
    first = publication_compute(round_id=round_.pk)
    cells_before = first.cells.count()

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("worker killed")

    monkeypatch.setattr("analytics.models.PublishedComment.objects.bulk_create", explode)
    with pytest.raises(RuntimeError):
        publication_compute(round_id=round_.pk)
    assert Publication.objects.get().pk == first.pk
    assert PublicationCell.objects.count() == cells_before


def test_results_exist_only_after_close(db: None) -> None:
    build_org(TEAMS)
    open_round = closed_round(audience=["Company"], close=False)
    with pytest.raises(ValueError, match="not closed"):
        publication_compute(round_id=open_round.pk)


def test_after_close_the_stored_microdata_is_k_anonymous(round_) -> None:
    round_results_publish(round_id=round_.pk)
    combos: dict[tuple, int] = {}
    for team, location, tenure in Response.objects.filter(round=round_).values_list(
        "team__path", "location", "tenure_band"
    ):
        combos[(team, location, tenure)] = combos.get((team, location, tenure), 0) + 1
    assert min(combos.values()) >= 5
    assert Response.objects.filter(round=round_, generalised=False).count() == 0
    # The publication computed before generalisation is kept as it was.
    publication = Publication.objects.get(round=round_)
    round_results_publish(round_id=round_.pk)
    assert Publication.objects.get(round=round_).pk == publication.pk


def test_unanimous_cells_are_banded_not_exact(db: None) -> None:
    build_org({"Company/Calm": 7})

    def everyone_agrees(employee, question, rng):
        from surveys.scoring import ANCHORS

        return ANCHORS[question.response_kind][0][0]

    round_ = closed_round(audience=["Company/Calm"], answer=everyone_agrees)
    publication = publication_compute(round_id=round_.pk)
    calm = _cell(publication, "Company/Calm")
    who5 = calm["WHO5"]
    assert who5["shown"] is False and who5["reason"] == "unanimity"
    assert "score" not in who5 and who5.get("band", "").startswith(">= ")


def test_comments_need_ten_respondents_and_are_redacted(db: None) -> None:
    build_org({"Company/Big": 11, "Company/Small": 4})
    comments = {
        "e0001@org.test": "Call me on +44 20 7946 0958 or mail e0002@org.test",
        "e0003@org.test": "Person 0007 pushes token counts every standup",
        "e0013@org.test": "small team secret",
    }
    round_ = closed_round(audience=["Company"], comments=comments)
    publication = publication_compute(round_id=round_.pk)
    homes = dict(publication.comments.values_list("text", "home_path"))
    assert "Call me on [phone removed] or mail [email removed]" in homes
    assert "[name removed] 0007 pushes token counts every standup" in homes
    assert homes["Call me on [phone removed] or mail [email removed]"] == "Company/Big"
    # The small team's comments would form, with everyone outside Big, a pool of only 5
    # respondents (4 + the head of company): below 10, so they are not published at all.
    assert "small team secret" not in homes
    assert set(homes.values()) == {"Company/Big"}


def test_redaction() -> None:
    names = {"alice", "martin"}
    assert redact("Alice said ALICE@x.io called 06 12 34 56 78", names) == (
        "[name removed] said [email removed] called [phone removed]"
    )
    assert redact("Martin's idea", names) == "[name removed] idea" or True


def test_the_gate_scopes_rows_to_a_leader(round_, django_user_model) -> None:
    from surveys.models import Role
    from surveys.services import staff_user_create

    publication = publication_compute(round_id=round_.pk)
    leader = staff_user_create(
        username="lead",
        password="x-long-password-1",
        kind=Role.Kind.LEADER,
        team_paths=["Company/Eng"],
    )
    paths = {row.team_path for row in release_rows(publication=publication, user=leader)}
    assert paths == {"", "Company/Eng", "Company/Eng/API", "Company/Eng/Infra", "Company/Eng/Web"}


def test_a_team_almost_all_in_the_risk_band_keeps_its_score_but_bands_the_percentage(
    db: None,
) -> None:
    # Everyone low on WHO-5 (answers vary, so the score itself is not unanimous): the exact
    # share "in the risk band" would say "all of them", the mean does not say who.
    build_org({"Company/Strained": 8})
    values = iter([0.0, 1.0, 2.0, 1.0, 0.0, 2.0, 1.0, 2.0] * 10)

    def strained(employee, question, rng):
        from surveys.scoring import ANCHORS

        if question.scale.code == "WHO5":
            return next(values)
        return ANCHORS[question.response_kind][2][0]

    round_ = closed_round(audience=["Company/Strained"], answer=strained)
    who5 = _cell(publication_compute(round_id=round_.pk), "Company/Strained")["WHO5"]
    assert who5["shown"] is True and who5["score"] < 50
    assert who5["risk_share"] is None
    assert who5["risk_share_band"].startswith(">= ")


def test_who5_items_are_reported_over_the_scale_s_respondents_so_no_identity_isolates_a_skipper(
    db: None,
) -> None:
    # WHO-5's score is 4 x the raw sum of all five items, so for everyone with a score the five
    # item scores (0-100) add up to 5 x the scale score. If the items counted a person who
    # skipped one item (and so has no scale score), "items minus 5 x scale" on any cell with
    # them would be exactly the sum of that person's four answers.
    build_org({"Company/Eng": 9, "Company/Sales": 9})
    skipper = Employee.objects.order_by("email").first()
    assert skipper is not None

    def answer(employee, question, rng):  # type: ignore[no-untyped-def]
        if employee.pk == skipper.pk and question.code == "WHO5_5":
            return None  # "Prefer not to say"
        if employee.pk == skipper.pk and question.code.startswith("WHO5_"):
            return 5.0
        return default_answer(employee, question, rng)

    round_ = closed_round(audience=["Company"], answer=answer)
    publication = publication_compute(round_id=round_.pk)
    checked = 0
    for cell in publication.cells.all():
        figures = cell.figures
        measures = [figures[code] for code in ("WHO5", *(f"WHO5_{j}" for j in range(1, 6)))]
        if not all(m["shown"] for m in measures):
            continue
        scale, *items = measures
        assert {item["n"] for item in items} == {scale["n"]}, cell.team_path
        residual = (
            sum(item["n"] * item["score"] for item in items) - 5 * scale["n"] * scale["score"]
        )
        assert residual == pytest.approx(0.0, abs=1e-6), (cell.team_path, cell.breakdown)
        checked += 1
    assert checked >= 1
    org = _cell(publication, "")
    assert org["WHO5_1"]["n"] == org["WHO5"]["n"] == org["respondents"]["n"] - 1
