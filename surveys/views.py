"""HR console pages: parse -> authorise -> call a service or selector -> render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from surveys import selectors, services
from surveys.answer_forms import AnswerForm, form_sections
from surveys.forms import CadenceForm, QuestionForm, RosterUploadForm
from surveys.models import Cadence, Employee, RosterImport, Round, SurveyTemplate, Team, Wave
from surveys.permissions import hr_required
from surveys.services import config, delivery
from surveys.services.responses import (
    LinkState,
    SubmitOutcome,
    invitation_resolve,
    response_submit,
)


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


# --- Answering pages (no login: the personal link is the key) -----------------------------------

_LINK_PAGES = {
    LinkState.UNKNOWN: ("surveys/link_unknown.html", 404),
    LinkState.CLOSED: ("surveys/link_closed.html", 410),
    LinkState.NOT_YET_OPEN: ("surveys/link_not_yet_open.html", 200),
    LinkState.ANSWERED: ("surveys/already_answered.html", 200),
}


def _private(response: HttpResponse) -> HttpResponse:
    """Answering pages are never cached and never leak the link to other sites."""
    response["Cache-Control"] = "no-store, private"
    return response


@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    link = invitation_resolve(token=token)
    if link.state is not LinkState.OPEN:
        template, status = _LINK_PAGES[link.state]
        return _private(render(request, template, {"token": token}, status=status))
    invitation = link.invitation
    assert invitation is not None
    round_ = invitation.round
    questions = selectors.round_questions_for_form(round_)
    form = AnswerForm(
        request.POST or None,
        questions=questions,
        include_comment=round_.template.include_comment,
    )
    if request.method == "POST" and form.is_valid():
        outcome = response_submit(
            token=token,
            answers=form.cleaned_answers(),
            comments=form.cleaned_comments(),
            link=link,
            expected_questions={q.pk for q in questions if q.response_kind != "free_text"},
        )
        if outcome is SubmitOutcome.STORED:
            return redirect("answer_thanks", token=token)
        if outcome is SubmitOutcome.ALREADY_ANSWERED:
            return _private(render(request, "surveys/already_answered.html", status=200))
        return _private(render(request, "surveys/link_closed.html", status=410))
    context = {
        "round": round_,
        "form": form,
        "sections": form_sections(form),
        "question_count": len(questions),
        "team_invitees": selectors.team_invitee_count(invitation),
        "min_group_size": settings.PULSE_MIN_GROUP_SIZE,
        "comment_min_group_size": max(10, settings.PULSE_MIN_GROUP_SIZE),
    }
    status = 400 if form.errors else 200
    return _private(render(request, "surveys/answer.html", context, status=status))


@require_GET
def answer_thanks(request: HttpRequest, token: str) -> HttpResponse:
    """Shown after submitting; the same support resources are shown to everyone."""
    return _private(render(request, "surveys/thanks.html"))


# --- HR: question bank, templates, cadences, rounds ---------------------------------------------


@hr_required
@require_http_methods(["GET", "POST"])
def question_bank(request: HttpRequest) -> HttpResponse:
    form = QuestionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            config.question_create(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Question added to “Your own questions”.")
            return redirect("hr:question_bank")
    return render(
        request,
        "hr/question_bank.html",
        {"scales": selectors.question_bank(), "form": form},
        status=400 if form.errors else 200,
    )


@hr_required
def template_list(request: HttpRequest) -> HttpResponse:
    return render(request, "hr/templates.html", {"templates": selectors.template_list()})


@hr_required
@require_http_methods(["GET", "POST"])
def template_edit(request: HttpRequest, template_id: int | None = None) -> HttpResponse:
    template = get_object_or_404(SurveyTemplate, pk=template_id) if template_id else None
    scales = selectors.question_bank()
    current = selectors.template_waves(template) if template else {}
    errors: list[str] = []
    if request.method == "POST":
        waves = {
            q.pk: request.POST.get(f"wave-{q.pk}", "")
            for scale in scales
            for q in scale.questions.all()
        }
        waves = {pk: w for pk, w in waves.items() if w}
        current = waves
        try:
            saved = config.template_save(
                template=template,
                name=request.POST.get("name", "").strip() or "Untitled template",
                description=request.POST.get("description", ""),
                include_comment=bool(request.POST.get("include_comment")),
                waves=waves,
            )
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, f"Template “{saved.name}” saved.")
            return redirect("hr:templates")
    context = {
        "template": template,
        "scales": scales,
        "current": current,
        "wave_choices": Wave.choices,
        "errors": errors,
        "name": request.POST.get("name", template.name if template else ""),
    }
    return render(request, "hr/template_edit.html", context, status=400 if errors else 200)


@hr_required
def cadence_list(request: HttpRequest) -> HttpResponse:
    return render(request, "hr/cadences.html", {"cadences": selectors.cadence_list()})


@hr_required
@require_http_methods(["GET", "POST"])
def cadence_edit(request: HttpRequest, cadence_id: int | None = None) -> HttpResponse:
    cadence = get_object_or_404(Cadence, pk=cadence_id) if cadence_id else None
    initial = selectors.cadence_initial(cadence) if cadence else {}
    form = CadenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = config.cadence_save(cadence=cadence, **form.cleaned_data)
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
        else:
            messages.success(
                request, f"Cadence “{saved.name}” saved; it applies from the next tick."
            )
            return redirect("hr:cadences")
    return render(
        request,
        "hr/cadence_edit.html",
        {"form": form, "cadence": cadence},
        status=400 if form.errors else 200,
    )


@hr_required
@require_POST
def cadence_send_now(request: HttpRequest, cadence_id: int) -> HttpResponse:
    cadence = get_object_or_404(Cadence, pk=cadence_id)
    round_, created = delivery.round_open(cadence=cadence, day=timezone.localdate(), send_now=True)
    if created:
        messages.success(request, f"Round “{round_.name}” opened; invitations are being sent.")
    else:
        messages.info(
            request, f"Today's round “{round_.name}” already exists; nothing was sent twice."
        )
    return redirect("hr:round", round_id=round_.pk)


@hr_required
def round_list(request: HttpRequest) -> HttpResponse:
    return render(request, "hr/rounds.html", {"rounds": selectors.round_list_with_participation()})


@hr_required
def round_detail(request: HttpRequest, round_id: int) -> HttpResponse:
    round_ = get_object_or_404(Round.objects.select_related("cadence", "template"), pk=round_id)
    context = {
        "round": round_,
        "participation": selectors.round_participation(round_),
        "fanout": selectors.round_fanout_progress(round_),
        "min_group_size": settings.PULSE_MIN_GROUP_SIZE,
    }
    return render(request, "hr/round.html", context)


@hr_required
@require_POST
def round_close_now(request: HttpRequest, round_id: int) -> HttpResponse:
    round_ = get_object_or_404(Round, pk=round_id)
    if delivery.round_close(round_id=round_.pk):
        messages.success(request, "Round closed; results are being computed.")
    else:
        messages.info(request, "This round was already closed.")
    return redirect("hr:round", round_id=round_.pk)
