"""Leaders' pages. Every team is looked up through `teams_visible_to`: a leader asking for a
team outside their subtrees gets the same 404 as for a team that does not exist. Every number
comes from `analytics.gate`."""

from __future__ import annotations

import csv

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from analytics import gate
from analytics.results_selectors import (
    publication_for,
    publications_latest_first,
    publications_of_same_cadence,
)
from surveys.permissions import staff_required
from surveys.selectors import team_list_with_headcount, team_visible_or_none

HEAT_KINDS = ("scale", "index")


def _round_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("round", "")
    return int(raw) if raw.isdigit() else None


def _heat_class(figure: gate.ReleasedFigure) -> str:
    """A colour bucket for a shown score: 1 (good) .. 5 (poor), in the measure's direction."""
    if figure.score is None:
        return "heat-hidden"
    goodness = figure.score if figure.higher_is_better else 100 - figure.score
    return f"heat-{5 - min(4, int(goodness // 20))}"


@staff_required
def results_home(request: HttpRequest) -> HttpResponse:
    publication = publication_for(_round_param(request))
    rows = []
    columns: list[dict[str, object]] = []
    if publication is not None:
        columns = [m for m in publication.measures if m["kind"] in HEAT_KINDS]
        for row in gate.release_rows(publication=publication, user=request.user, kinds=HEAT_KINDS):
            rows.append((row, [(f, _heat_class(f)) for f in row.figures]))
    context = {
        "publication": publication,
        "publications": publications_latest_first()[:24],
        "columns": columns,
        "rows": rows,
        "teams": team_list_with_headcount(request.user),
    }
    return render(request, "analytics/results_home.html", context)


@staff_required
def team_results(request: HttpRequest, team_id: int) -> HttpResponse:
    team = team_visible_or_none(request.user, team_id)
    if team is None:
        raise Http404("No such team in your part of the organisation.")
    publication = publication_for(_round_param(request))
    context: dict[str, object] = {"team": team, "publication": publication}
    if publication is not None:
        whole = gate.release_rows(publication=publication, user=request.user, team_path=team.path)
        breakdowns = gate.release_rows(
            publication=publication,
            user=request.user,
            breakdown=None,
            team_path=team.path,
            kinds=("count", "scale", "index"),
        )
        trend_rows = []
        history = publications_of_same_cadence(publication)
        for earlier in history:
            cells = gate.release_rows(
                publication=earlier,
                user=request.user,
                team_path=team.path,
                kinds=HEAT_KINDS,
            )
            trend_rows.append((earlier, cells[0].figures if cells else ()))
        trends = []
        previous: dict[str, gate.ReleasedFigure] = {}
        for earlier, figures in trend_rows:
            marks = []
            for figure in figures:
                marks.append((figure, gate.trend_verdict(previous.get(figure.code), figure)))
                if figure.score is not None:
                    previous[figure.code] = figure
            trends.append((earlier, marks))
        context.update(
            {
                "row": whole[0] if whole else None,
                "breakdowns": [r for r in breakdowns if r.breakdown != "all"],
                "comments": gate.release_comments(
                    publication=publication, user=request.user, team_path=team.path
                ),
                "trends": trends,
            }
        )
    return render(request, "analytics/team.html", context)


@staff_required
def export_csv(request: HttpRequest, round_id: int) -> HttpResponse:
    publication = publication_for(round_id)
    if publication is None:
        raise Http404("No published results for this round.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="pulse-round-{round_id}.csv"'
    csv.writer(response).writerows(gate.release_export(publication=publication, user=request.user))
    return response
