"""REST API of AI usage (`/api/v1/`). Thin views: validate, authorise, call, respond.

Usage figures leave through `analytics.gate` only; imports (which name unmatched identifiers)
are for HR only.
"""

from __future__ import annotations

import datetime as dt

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import gate, selectors, services
from analytics.models import UsageImport
from analytics.usage import FORMATS
from analytics.usage_forms import MAX_USAGE_FILES
from surveys.permissions import HasPulseRole, IsHR
from surveys.selectors import team_visible_or_none

MAX_PERIOD_MONTHS = 12


class UsageImportOutput(serializers.ModelSerializer):
    class Meta:
        model = UsageImport
        fields = [
            "public_id",
            "format",
            "origin",
            "filenames",
            "status",
            "phase",
            "total_bytes",
            "processed_bytes",
            "rows_read",
            "rows_matched",
            "rows_unmatched",
            "rows_service",
            "team_days_written",
            "team_days_kept",
            "usage_rows_created",
            "usage_rows_updated",
            "usage_rows_deleted",
            "usage_rows_unchanged",
            "sources",
            "first_day",
            "last_day",
            "unmatched_distinct",
            "unmatched_identifiers",
            "service_totals",
            "ignored_fields",
            "error_count",
            "errors",
            "created_at",
            "finished_at",
        ]


class UsageImportListApi(APIView):
    """List AI-usage imports, or upload one delivery (multipart `format` and one or more
    `files`) to import in the background."""

    permission_classes = [IsHR]
    parser_classes = [MultiPartParser]

    class UsageUploadInput(serializers.Serializer):
        format = serializers.ChoiceField(choices=FORMATS)
        files = serializers.ListField(
            child=serializers.FileField(), min_length=1, max_length=MAX_USAGE_FILES
        )

        def validate_files(self, value: list) -> list:
            if sum(f.size for f in value) > services.MAX_USAGE_UPLOAD_BYTES:
                raise serializers.ValidationError("The files are larger than 200 MB together.")
            return value

    @extend_schema(responses=UsageImportOutput(many=True))
    def get(self, request: Request) -> Response:
        records = selectors.usage_import_history(limit=100)
        return Response(UsageImportOutput(records, many=True).data)

    @extend_schema(request=UsageUploadInput, responses={202: UsageImportOutput})
    def post(self, request: Request) -> Response:
        data = {"format": request.data.get("format"), "files": request.FILES.getlist("files")}
        serializer = self.UsageUploadInput(data=data)
        serializer.is_valid(raise_exception=True)
        record = services.usage_import_create(
            format=serializer.validated_data["format"],
            uploads=[(f.name, f.read()) for f in serializer.validated_data["files"]],
            user=request.user,
        )
        return Response(UsageImportOutput(record).data, status=status.HTTP_202_ACCEPTED)


class UsageImportDetailApi(APIView):
    permission_classes = [IsHR]

    @extend_schema(responses=UsageImportOutput)
    def get(self, request: Request, public_id: str) -> Response:
        record = selectors.usage_import_get(public_id=str(public_id))
        if record is None:
            raise Http404
        return Response(UsageImportOutput(record).data)


class UsageFigureOutput(serializers.Serializer):
    source = serializers.CharField()
    metric = serializers.CharField()
    unit = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    shown = serializers.BooleanField()
    value = serializers.FloatField(allow_null=True)
    hidden_reason = serializers.CharField()


class TeamUsageApi(APIView):
    """A team's AI usage (its whole subtree) over whole calendar months (UTC) that have ended,
    through the release gate: each figure is shown only when >= k people contribute, nobody
    more than 85%, and no difference with other released figures (other teams, other ranges
    of months, the hotspots' round months) singles out fewer people
    (`gate.usage_release_for_months`).
    Free day ranges are refused: two of them would differ by a day."""

    permission_classes = [HasPulseRole]

    class TeamUsageQuery(serializers.Serializer):
        start = serializers.DateField(required=False)
        end = serializers.DateField(required=False)
        source = serializers.CharField(required=False, max_length=60)
        metric = serializers.CharField(required=False, max_length=80)

        def validate(self, attrs: dict) -> dict:
            this_month = dt.datetime.now(dt.UTC).date().replace(day=1)
            last_ended = this_month - dt.timedelta(days=1)
            end = attrs.get("end") or last_ended
            start = attrs.get("start") or end.replace(day=1)
            if start.day != 1 or gate.month_bounds(end)[1] != end:
                raise serializers.ValidationError(
                    "Periods are whole calendar months: start on a month's first day and end "
                    "on a month's last day."
                )
            if start > end:
                raise serializers.ValidationError("start is after end.")
            if end >= this_month:
                raise serializers.ValidationError("Only months that have ended are shown.")
            if (end.year - start.year) * 12 + end.month - start.month >= MAX_PERIOD_MONTHS:
                raise serializers.ValidationError("The period is longer than a year.")
            return {**attrs, "start": start, "end": end}

    @extend_schema(
        parameters=[
            OpenApiParameter("start", str, description="First day of the first month (YYYY-MM-01)"),
            OpenApiParameter(
                "end",
                str,
                description="Last day of the last month, a month that has ended (default: "
                "the last month that has ended)",
            ),
            OpenApiParameter("source", str),
            OpenApiParameter("metric", str),
        ],
        responses=UsageFigureOutput(many=True),
    )
    def get(self, request: Request, team_id: int) -> Response:
        team = team_visible_or_none(request.user, team_id)
        if team is None:
            raise Http404
        params = self.TeamUsageQuery(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = dict(params.validated_data)
        figures = gate.usage_release_for_months(
            team=team, first_month=query.pop("start"), last_month=query.pop("end"), **query
        )
        data = [
            {
                "source": f.source,
                "metric": f.metric,
                "unit": f.unit,
                "start": f.start,
                "end": f.end,
                "shown": f.shown,
                "value": f.value,
                "hidden_reason": f.hidden_reason,
            }
            for f in figures
        ]
        return Response(UsageFigureOutput(data, many=True).data)
