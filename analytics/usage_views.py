"""HR console pages for AI-usage imports (`/hr/usage/`): parse -> authorise -> call -> render."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from analytics import selectors, services
from analytics.usage_forms import UsageUploadForm
from surveys.permissions import hr_required


@hr_required
@require_http_methods(["GET", "POST"])
def usage_upload(request: HttpRequest) -> HttpResponse:
    form = UsageUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        record = services.usage_import_create(
            format=form.cleaned_data["format"],
            uploads=[(f.name, f.read()) for f in form.cleaned_data["files"]],
            user=request.user,
        )
        return redirect("usage:import", public_id=record.public_id)
    context = {"form": form, "imports": selectors.usage_import_history(limit=5)}
    return render(
        request, "analytics/usage_upload.html", context, status=400 if form.errors else 200
    )


@hr_required
def usage_import_status(request: HttpRequest, public_id: str) -> HttpResponse:
    record = selectors.usage_import_get(public_id=public_id)
    if record is None:
        raise Http404("No such import.")
    return render(request, "analytics/usage_import.html", {"record": record})


@hr_required
def usage_history(request: HttpRequest) -> HttpResponse:
    return render(
        request, "analytics/usage_history.html", {"imports": selectors.usage_import_history()}
    )
