"""REST API for hotspots (`/api/v1/hotspots/...`), scoped like the dashboard: a leader sees and
updates the hotspots of their subtrees only (others are 404), only HR opens a follow-up pulse.
Figures come from `analytics.gate`."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import gate, hotspots
from analytics.hotspot_selectors import (
    hotspot_run_for,
    hotspot_visible_or_none,
    hotspots_visible_to,
)
from analytics.models import Hotspot
from surveys.permissions import HasPulseRole, IsHR


class HotspotOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    team_id = serializers.IntegerField()
    team_path = serializers.CharField(source="team.path")
    state = serializers.CharField()
    reason = serializers.CharField()
    figures = serializers.JSONField()
    first_round_id = serializers.IntegerField()
    last_round_id = serializers.IntegerField()
    detected_at = serializers.DateTimeField()
    state_changed_at = serializers.DateTimeField()
    follow_up_round_id = serializers.IntegerField(allow_null=True)


class HotspotNoteOutput(serializers.Serializer):
    author = serializers.CharField(source="author.username", allow_null=True, default=None)
    text = serializers.CharField()
    state_from = serializers.CharField()
    state_to = serializers.CharField()
    created_at = serializers.DateTimeField()


class HotspotDetailOutput(HotspotOutput):
    notes = HotspotNoteOutput(many=True, source="notes.all")


def _round_param(request: Request) -> int | None:
    raw = request.query_params.get("round", "")
    return int(raw) if raw.isdigit() else None


class HotspotListApi(APIView):
    """Hotspots of the caller's part of the organisation, newest first (`?round=`: found in that
    round; `?open=1`: not resolved)."""

    permission_classes = [HasPulseRole]

    @extend_schema(
        parameters=[
            OpenApiParameter("round", int, required=False),
            OpenApiParameter("open", bool, required=False),
        ],
        responses=HotspotOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        found = hotspots_visible_to(
            request.user,
            open_only=request.query_params.get("open") in ("1", "true"),
            round_id=_round_param(request),
        )
        return Response(HotspotOutput(found, many=True).data)


def _hotspot(request: Request, hotspot_id: int) -> Hotspot:
    hotspot = hotspot_visible_or_none(request.user, hotspot_id)
    if hotspot is None:
        raise Http404
    return hotspot


class HotspotDetailApi(APIView):
    """One hotspot with its action log."""

    permission_classes = [HasPulseRole]

    @extend_schema(responses=HotspotDetailOutput)
    def get(self, request: Request, hotspot_id: int) -> Response:
        return Response(HotspotDetailOutput(_hotspot(request, hotspot_id)).data)


class HotspotNoteApi(APIView):
    """Record a note and/or a change of state (HR and the team's leaders)."""

    permission_classes = [HasPulseRole]

    class HotspotNoteInput(serializers.Serializer):
        state = serializers.ChoiceField(choices=Hotspot.State.choices, required=False)
        text = serializers.CharField(required=False, allow_blank=True, max_length=4000)

    @extend_schema(request=HotspotNoteInput, responses={201: HotspotDetailOutput})
    def post(self, request: Request, hotspot_id: int) -> Response:
        hotspot = _hotspot(request, hotspot_id)
        data = self.HotspotNoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            hotspots.hotspot_update(
                hotspot=hotspot,
                user=request.user,
                state=data.validated_data.get("state", ""),
                text=data.validated_data.get("text", ""),
            )
        except hotspots.HotspotError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        hotspot.refresh_from_db()
        return Response(HotspotDetailOutput(hotspot).data, status=status.HTTP_201_CREATED)


class HotspotFollowUpApi(APIView):
    """Open the hotspot team's one-off follow-up pulse (HR only; idempotent)."""

    permission_classes = [IsHR]

    @extend_schema(request=None, responses={201: HotspotDetailOutput})
    def post(self, request: Request, hotspot_id: int) -> Response:
        hotspot = _hotspot(request, hotspot_id)
        try:
            hotspots.hotspot_follow_up_open(hotspot=hotspot, user=request.user)
        except hotspots.HotspotError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        hotspot.refresh_from_db()
        return Response(HotspotDetailOutput(hotspot).data, status=status.HTTP_201_CREATED)


class AssessmentOutput(serializers.Serializer):
    team_id = serializers.IntegerField()
    team_path = serializers.CharField()
    depth = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.CharField()
    respondents = serializers.IntegerField()
    contributors = serializers.IntegerField()
    intensity = serializers.FloatField(help_text="Metric units per contributing person per day.")
    intensity_ratio = serializers.FloatField()
    active_share = serializers.FloatField(allow_null=True)
    change = serializers.FloatField(allow_null=True)
    pressure = serializers.FloatField()
    who5 = serializers.FloatField(allow_null=True)
    cbi = serializers.FloatField(allow_null=True)
    autonomy = serializers.FloatField(allow_null=True)
    q_value = serializers.FloatField()


class HotspotRunOutput(serializers.Serializer):
    round_id = serializers.IntegerField()
    round_name = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    metric = serializers.CharField()
    organisation = serializers.JSONField()
    correlations = serializers.JSONField()
    n_tested = serializers.IntegerField()
    note = serializers.CharField()
    assessments = AssessmentOutput(many=True)


class HotspotRunApi(APIView):
    """A round's assessments (teams released on both sides that the caller may see) with the
    organisation reference and the correlations across teams."""

    permission_classes = [HasPulseRole]

    @extend_schema(responses=HotspotRunOutput)
    def get(self, request: Request, round_id: int) -> Response:
        run = hotspot_run_for(round_id)
        if run is None:
            raise Http404
        data = {
            "round_id": run.round_id,
            "round_name": run.round.name,
            "period_start": run.period_start,
            "period_end": run.period_end,
            "metric": run.metric,
            "organisation": run.organisation,
            "correlations": run.correlations,
            "n_tested": run.n_tested,
            "note": run.note,
            "assessments": gate.release_assessments(run=run, user=request.user),
        }
        return Response(HotspotRunOutput(data).data)
