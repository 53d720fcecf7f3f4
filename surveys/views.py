"""HR console pages: parse -> authorise -> call a service or selector -> render."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from surveys import selectors, services
from surveys.forms import RosterUploadForm
from surveys.models import Employee, RosterImport, Team
from surveys.permissions import hr_required


@hr_required
def hr_home(request: HttpRequest) -> HttpResponse:
    context = {
        "employee_count": Employee.objects.active().count(),
        "team_count": Team.objects.count(),
        "imports": selectors.roster_import_history(limit=5),
    }
    return render(request, "hr/home.html", context)


@hr_required
@require_http_methods(["GET", "POST"])
def roster_upload(request: HttpRequest) -> HttpResponse:
    form = RosterUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        record = services.roster_import_create(
            data=upload.read(),
            filename=upload.name,
            deactivate_missing=form.cleaned_data["deactivate_missing"],
            user=request.user,
        )
        return redirect("hr:roster_import", public_id=record.public_id)
    context = {"form": form, "imports": selectors.roster_import_history()}
    return render(request, "hr/roster_upload.html", context, status=400 if form.errors else 200)


@hr_required
def roster_import_status(request: HttpRequest, public_id: str) -> HttpResponse:
    record = get_object_or_404(RosterImport.objects.defer("content"), public_id=public_id)
    return render(request, "hr/roster_import.html", {"record": record})


@hr_required
def people(request: HttpRequest) -> HttpResponse:
    team_path = request.GET.get("team", "").strip() or None
    query = request.GET.get("q", "").strip()[:100]
    page = Paginator(selectors.employee_list(team_path=team_path, query=query), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "hr/people.html", {"page": page, "team": team_path, "q": query})


@hr_required
def teams(request: HttpRequest) -> HttpResponse:
    return render(
        request, "hr/teams.html", {"teams": selectors.team_list_with_headcount(request.user)}
    )
