"""REST API for published results (`/api/v1/rounds/...`), scoped like the dashboard; every
figure comes from `analytics.gate`."""

from __future__ import annotations

from dataclasses import asdict

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import gate
from analytics.results_selectors import publication_for, publications_latest_first
from surveys.permissions import HasPulseRole


class PublishedRoundOutput(serializers.Serializer):
    round_id = serializers.IntegerField()
    name = serializers.CharField()
    closed_on = serializers.DateField()
    wave = serializers.CharField()
    k = serializers.IntegerField()


class ReleasedFigureOutput(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()
    shown = serializers.BooleanField()
    n = serializers.IntegerField(allow_null=True)
    score = serializers.IntegerField(allow_null=True)
    ci_low = serializers.IntegerField(allow_null=True)
    ci_high = serializers.IntegerField(allow_null=True)
    top2 = serializers.IntegerField(allow_null=True)
    risk_share = serializers.IntegerField(allow_null=True)
    band = serializers.CharField()
    distribution = serializers.ListField(child=serializers.ListField())
    distribution_note = serializers.CharField()
    reason = serializers.CharField(help_text="Why the figure is hidden, in words.")


class ReleasedRowOutput(serializers.Serializer):
    team_id = serializers.IntegerField(allow_null=True)
    team_path = serializers.CharField(help_text='"" is the whole organisation.')
    breakdown = serializers.CharField()
    value = serializers.CharField()
    n = serializers.IntegerField(allow_null=True)
    figures = ReleasedFigureOutput(many=True)


class PublicationOutput(serializers.Serializer):
    round = PublishedRoundOutput()
    rows = ReleasedRowOutput(many=True)


def _round_data(publication: object) -> dict[str, object]:
    round_ = publication.round  # type: ignore[attr-defined]
    return {
        "round_id": round_.pk,
        "name": round_.name,
        "closed_on": publication.closed_on,  # type: ignore[attr-defined]
        "wave": round_.wave,
        "k": publication.k,  # type: ignore[attr-defined]
    }


class PublishedRoundListApi(APIView):
    """Closed rounds that have published results, newest first."""

    permission_classes = [HasPulseRole]

    @extend_schema(responses=PublishedRoundOutput(many=True))
    def get(self, request: Request) -> Response:
        data = [_round_data(p) for p in publications_latest_first()[:200]]
        return Response(PublishedRoundOutput(data, many=True).data)


class PublicationApi(APIView):
    """A round's published cells that the caller may see (HR: all; leaders: their subtrees and
    the organisation benchmark), each figure shown or hidden with its reason."""

    permission_classes = [HasPulseRole]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "breakdown", str, enum=["all", "location", "tenure", "any"], required=False
            )
        ],
        responses=PublicationOutput,
    )
    def get(self, request: Request, round_id: int) -> Response:
        publication = publication_for(round_id)
        if publication is None:
            raise Http404
        breakdown = request.query_params.get("breakdown", "all")
        if breakdown not in ("all", "location", "tenure", "any"):
            raise serializers.ValidationError(
                {"breakdown": "Use one of: all, location, tenure, any."}
            )
        rows = gate.release_rows(
            publication=publication,
            user=request.user,
            breakdown=None if breakdown == "any" else breakdown,
        )
        data = {"round": _round_data(publication), "rows": [asdict(r) for r in rows]}
        return Response(PublicationOutput(data).data)
