"""Hotspot pages under `/results/hotspots/`: the quadrant (inline SVG with its table), the list,
a hotspot's action loop, a team's timeline, and the CSV export. Scoped as the dashboard: every
number comes from `analytics.gate` (a leader sees their subtrees only; a hotspot or team outside
them is the same 404 as one that does not exist). HR and the team's leaders may record notes and
states; only HR opens a follow-up pulse."""

from __future__ import annotations

import csv
import dataclasses
import math
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from analytics import gate, hotspots
from analytics.hotspot_selectors import (
    follow_up_publication,
    hotspot_run_for,
    hotspot_runs_latest_first,
    hotspot_visible_or_none,
    hotspots_visible_to,
    team_timeline,
)
from analytics.models import Hotspot, HotspotAssessment, HotspotRun
from surveys.permissions import staff_required
from surveys.selectors import team_visible_or_none, user_is_hr


def _round_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("round", "")
    return int(raw) if raw.isdigit() else None


# --- The quadrant ----------------------------------------------------------------------------

WIDTH, HEIGHT = 680, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 20, 56


def wellbeing_of(a: HotspotAssessment) -> float | None:
    """WHO-5, or 100 - CBI burnout in rounds that asked CBI instead (both: higher is better)."""
    if a.who5 is not None:
        return a.who5
    return None if a.cbi is None else 100.0 - a.cbi


def _wellbeing_class(value: float | None) -> str:
    if value is None:
        return "wb-none"
    return f"wb-{5 - min(4, int(value // 20))}"


def _short(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 1_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


@dataclass(frozen=True, slots=True)
class Point:
    assessment: HotspotAssessment
    cx: float
    cy: float
    r: float
    css: str
    wellbeing: float | None
    label: str
    label_dx: float  # labels of points in the right third go to their left
    label_anchor: str
    texts: dict[str, str]  # the figures as shown in the <title> and the table
    label_y: float = 0.0


@dataclass(frozen=True, slots=True)
class Quadrant:
    points: list[Point]
    rows: list[Point]  # the same points in path order: the table equivalent
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    median_x: float | None
    org_y: float | None
    metric: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    bottom_edge: int = HEIGHT - BOTTOM


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{round(100 * value)}%"


def _texts(a: HotspotAssessment, wellbeing: float | None, metric: str) -> dict[str, str]:
    """Formatted once here: a page of 2,000 teams would spend most of its time in template
    filters otherwise."""
    texts = {
        "intensity": f"{a.intensity:,.0f}",
        "ratio": f"{a.intensity_ratio:.1f}",
        "active": _percent(a.active_share),
        "change": "—" if a.change is None else f"{round(100 * a.change):+d}%",
        "pressure": f"{a.pressure:.0f}",
        "wellbeing": "—" if wellbeing is None else f"{wellbeing:.0f}",
        "status": a.get_status_display(),
    }
    texts["title"] = (
        f"{a.team_path}: {texts['intensity']} {metric} per person per day "
        f"({texts['ratio']}\u00d7 the median); AI Pressure {texts['pressure']}; well-being "
        f"{'not released' if wellbeing is None else texts['wellbeing']}; "
        f"{a.respondents} respondents"
        + ("; hotspot" if a.status == HotspotAssessment.Status.HOTSPOT else "")
    )
    return texts


def finest(assessments: list[HotspotAssessment]) -> list[HotspotAssessment]:
    """Assessments with no assessed descendant among them: each respondent counted once."""
    parents = set()
    for a in assessments:
        parts = a.team_path.split("/")
        parents.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return [a for a in assessments if a.team_path not in parents]


def quadrant(points: list[HotspotAssessment], run: HotspotRun) -> Quadrant:
    """Geometry of the chart: x = log usage intensity, y = AI pressure (0-100), area =
    respondents, colour = well-being. Pure layout of figures already released."""
    median = run.organisation.get("intensity_median")
    logs = [math.log10(a.intensity) for a in points] + ([math.log10(median)] if median else [])
    low, high = (min(logs), max(logs)) if logs else (0.0, 1.0)
    middle = (low + high) / 2
    half = max((high - low) / 2 + 0.1, 0.3)
    low, high = middle - half, middle + half
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(value: float) -> float:
        return round(LEFT + (math.log10(value) - low) / (high - low) * plot_w, 1)

    def y_of(score: float) -> float:
        return round(TOP + (100.0 - score) / 100.0 * plot_h, 1)

    x_ticks = []
    for exponent in range(math.floor(low), math.ceil(high) + 1):
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0**exponent
            if low <= math.log10(value) <= high:
                x_ticks.append((x_of(value), _short(value)))
    drawn = []
    for a in sorted(points, key=lambda p: -p.respondents):  # small circles on top
        wellbeing = wellbeing_of(a)
        cx, r = x_of(a.intensity), round(min(40.0, 3.0 * math.sqrt(a.respondents)), 1)
        right = cx > LEFT + plot_w * 2 / 3
        drawn.append(
            Point(
                assessment=a,
                cx=cx,
                cy=y_of(a.pressure),
                r=r,
                css=_wellbeing_class(wellbeing)
                + (" is-hotspot" if a.status == HotspotAssessment.Status.HOTSPOT else ""),
                wellbeing=wellbeing,
                label=a.team_path,
                label_dx=-r - 2 if right else r + 2,
                label_anchor="end" if right else "start",
                texts=_texts(a, wellbeing, run.metric or "usage"),
            )
        )
    # Hotspot labels, top to bottom, at least one line apart.
    placed = -math.inf
    for i in sorted(
        (i for i, p in enumerate(drawn) if p.assessment.status == HotspotAssessment.Status.HOTSPOT),
        key=lambda i: drawn[i].cy,
    ):
        placed = max(drawn[i].cy + 4, placed + 14)
        drawn[i] = dataclasses.replace(drawn[i], label_y=placed)
    org_pressure = run.organisation.get("ai_pressure")
    return Quadrant(
        points=drawn,
        rows=sorted(drawn, key=lambda p: p.assessment.team_path),
        x_ticks=x_ticks,
        y_ticks=[(y_of(v), str(v)) for v in range(0, 101, 20)],
        median_x=x_of(median) if median else None,
        org_y=y_of(org_pressure) if org_pressure is not None else None,
        metric=run.metric or "usage",
    )


# --- Pages -----------------------------------------------------------------------------------


@staff_required
def hotspots_home(request: HttpRequest) -> HttpResponse:
    run = hotspot_run_for(_round_param(request))
    all_levels = request.GET.get("levels") == "all"
    context: dict[str, object] = {
        "run": run,
        "runs": hotspot_runs_latest_first()[:26],
        "all_levels": all_levels,
    }
    if run is not None:
        visible = gate.release_assessments(run=run, user=request.user)
        shown = visible if all_levels else finest(visible)  # type: ignore[arg-type]
        found = hotspots_visible_to(request.user, round_id=run.round_id)
        context.update(
            {
                "quadrant": quadrant(shown, run),  # type: ignore[arg-type]
                "timeline_prefix": reverse("results:hotspot_team", args=[0])[: -len("0/")],
                "found": found,
                "earlier": [
                    h for h in hotspots_visible_to(request.user, open_only=True) if h not in found
                ],
                "correlations": run.correlations,
                "org": run.organisation,
            }
        )
    return render(request, "analytics/hotspots.html", context)


class HotspotUpdateForm(forms.Form):
    state = forms.ChoiceField(
        choices=[("", "Keep the current state"), *Hotspot.State.choices], required=False
    )
    text = forms.CharField(
        label="Note", widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=4000
    )


def _visible_hotspot(request: HttpRequest, hotspot_id: int) -> Hotspot:
    hotspot = hotspot_visible_or_none(request.user, hotspot_id)
    if hotspot is None:
        raise Http404("No such hotspot in your part of the organisation.")
    return hotspot


@staff_required
def hotspot_detail(request: HttpRequest, hotspot_id: int) -> HttpResponse:
    hotspot = _visible_hotspot(request, hotspot_id)
    form = HotspotUpdateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            hotspots.hotspot_update(
                hotspot=hotspot,
                user=request.user,  # type: ignore[arg-type]
                state=form.cleaned_data["state"],
                text=form.cleaned_data["text"],
            )
        except hotspots.HotspotError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Saved.")
            return redirect("results:hotspot", hotspot_id=hotspot.pk)
    publication = follow_up_publication(hotspot)
    follow_up_rows = (
        gate.release_rows(
            publication=publication,
            user=request.user,
            team_path=hotspot.team.path,
            kinds=("scale", "index"),
        )
        if publication is not None
        else []
    )
    context = {
        "hotspot": hotspot,
        "figures": hotspot.figures,
        "notes": hotspot.notes.select_related("author"),
        "form": form,
        "may_follow_up": user_is_hr(request.user) and hotspot.follow_up_round_id is None,
        "follow_up_row": follow_up_rows[0] if follow_up_rows else None,
        "states": Hotspot.State,
    }
    return render(request, "analytics/hotspot.html", context)


@require_POST
@staff_required
def hotspot_follow_up(request: HttpRequest, hotspot_id: int) -> HttpResponse:
    hotspot = _visible_hotspot(request, hotspot_id)
    if not user_is_hr(request.user):
        raise PermissionDenied("Only HR opens follow-up pulses.")
    try:
        round_ = hotspots.hotspot_follow_up_open(hotspot=hotspot, user=request.user)  # type: ignore[arg-type]
    except hotspots.HotspotError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Follow-up pulse opened: {round_.name}.")
    return redirect("results:hotspot", hotspot_id=hotspot.pk)


@staff_required
def hotspot_team_timeline(request: HttpRequest, team_id: int) -> HttpResponse:
    team = team_visible_or_none(request.user, team_id)
    if team is None:
        raise Http404("No such team in your part of the organisation.")
    rows = team_timeline(team)
    return render(
        request,
        "analytics/hotspot_timeline.html",
        {"team": team, "rows": rows, "hotspots": team.hotspots.select_related("first_round")},
    )


EXPORT_COLUMNS = [
    "round",
    "team",
    "level",
    "status",
    "reason",
    "respondents",
    "usage_metric",
    "usage_contributors",
    "usage_per_person_day",
    "usage_vs_org_median",
    "active_share",
    "usage_change",
    "ai_pressure",
    "who5",
    "cbi_burnout",
    "autonomy",
    "q_value",
]


def export_rows(run: HotspotRun, user: object) -> list[list[object]]:
    """The run's assessments the user may see, as CSV rows (header first)."""

    def fmt(value: float | None, digits: int = 1) -> object:
        return "" if value is None else round(value, digits)

    out: list[list[object]] = [EXPORT_COLUMNS]
    for a in gate.release_assessments(run=run, user=user):
        assert isinstance(a, HotspotAssessment)
        out.append(
            [
                run.round.name,
                a.team_path,
                a.depth,
                a.status,
                a.reason,
                a.respondents,
                run.metric,
                a.contributors,
                fmt(a.intensity),
                fmt(a.intensity_ratio, 2),
                fmt(a.active_share, 2),
                fmt(a.change, 3),
                fmt(a.pressure),
                fmt(a.who5),
                fmt(a.cbi),
                fmt(a.autonomy),
                fmt(a.q_value, 4),
            ]
        )
    return out


@staff_required
def hotspots_export(request: HttpRequest) -> HttpResponse:
    run = hotspot_run_for(_round_param(request))
    if run is None:
        raise Http404("No hotspot results yet.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="pulse-hotspots-round-{run.round_id}.csv"'
    )
    csv.writer(response).writerows(export_rows(run, request.user))
    return response
