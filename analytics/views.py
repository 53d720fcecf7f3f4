"""Leaders' pages. Every team is looked up through `teams_visible_to`: a leader asking for a
team outside their subtrees gets the same 404 as for a team that does not exist."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from surveys.permissions import staff_required
from surveys.selectors import team_list_with_headcount, team_visible_or_none


@staff_required
def results_home(request: HttpRequest) -> HttpResponse:
    return render(
        request, "analytics/results_home.html", {"teams": team_list_with_headcount(request.user)}
    )


@staff_required
def team_results(request: HttpRequest, team_id: int) -> HttpResponse:
    team = team_visible_or_none(request.user, team_id)
    if team is None:
        raise Http404("No such team in your part of the organisation.")
    return render(request, "analytics/team.html", {"team": team})
