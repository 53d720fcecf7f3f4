"""REST API of the organisation (`/api/v1/`). Thin views: validate, authorise, call, respond."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from surveys import selectors, services
from surveys.forms import MAX_ROSTER_BYTES
from surveys.models import Employee, RosterImport, Team
from surveys.permissions import HasPulseRole, IsHR


class TeamOutput(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "path", "depth", "parent"]


class MeOutput(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    scope = serializers.ListField(child=serializers.CharField())


class MeApi(APIView):
    """The caller's role and scope."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeOutput)
    def get(self, request: Request) -> Response:
        role = selectors.user_role(request.user)
        scope = ["*"] if role in ("hr", "superuser") else selectors.leader_root_paths(request.user)
        data = {"username": request.user.get_username(), "role": role, "scope": scope}
        return Response(MeOutput(data).data)


class TeamListApi(generics.ListAPIView):
    """Teams the caller may see: all for HR, the leader's subtrees for a leader."""

    permission_classes = [HasPulseRole]
    serializer_class = TeamOutput

    def get_queryset(self) -> QuerySet[Team]:
        return selectors.teams_visible_to(self.request.user).order_by("path")


class TeamDetailApi(APIView):
    permission_classes = [HasPulseRole]

    @extend_schema(responses=TeamOutput)
    def get(self, request: Request, team_id: int) -> Response:
        team = selectors.team_visible_or_none(request.user, team_id)
        if team is None:
            raise Http404
        return Response(TeamOutput(team).data)


class EmployeeOutput(serializers.ModelSerializer):
    team = serializers.CharField(source="team.path")
    manager_email = serializers.CharField(source="manager.email", allow_null=True)

    class Meta:
        model = Employee
        fields = [
            "id",
            "email",
            "name",
            "team",
            "manager_email",
            "location",
            "start_date",
            "timezone",
            "is_active",
            "github_login",
            "aws_user_id",
            "openai_user_id",
            "upn",
        ]


class EmployeeListApi(generics.ListAPIView):
    """The roster (HR only): personal data is never shown to leaders."""

    permission_classes = [IsHR]
    serializer_class = EmployeeOutput

    def get_queryset(self) -> QuerySet[Employee]:
        return selectors.employee_list(
            team_path=self.request.query_params.get("team") or None,
            query=self.request.query_params.get("q", ""),
        )


class RosterImportOutput(serializers.ModelSerializer):
    class Meta:
        model = RosterImport
        fields = [
            "public_id",
            "filename",
            "status",
            "phase",
            "total_rows",
            "processed_rows",
            "created",
            "updated",
            "unchanged",
            "deactivated",
            "teams_created",
            "error_count",
            "errors",
            "created_at",
            "finished_at",
        ]


class RosterImportInput(serializers.Serializer):
    """A roster CSV upload."""

    file = serializers.FileField()
    deactivate_missing = serializers.BooleanField(default=False)

    def validate_file(self, value: UploadedFile) -> UploadedFile:
        if value.size > MAX_ROSTER_BYTES:
            raise serializers.ValidationError("The file is larger than 50 MB.")
        return value


class RosterImportListApi(APIView):
    """List roster imports, or upload a roster (multipart `file`) to import in the background."""

    permission_classes = [IsHR]
    parser_classes = [MultiPartParser]

    @extend_schema(responses=RosterImportOutput(many=True))
    def get(self, request: Request) -> Response:
        records = selectors.roster_import_history(limit=100)
        return Response(RosterImportOutput(records, many=True).data)

    @extend_schema(request=RosterImportInput, responses={202: RosterImportOutput})
    def post(self, request: Request) -> Response:
        serializer = RosterImportInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        record = services.roster_import_create(
            data=upload.read(),
            filename=upload.name,
            deactivate_missing=serializer.validated_data["deactivate_missing"],
            user=request.user,
        )
        return Response(RosterImportOutput(record).data, status=status.HTTP_202_ACCEPTED)


class RosterImportDetailApi(APIView):
    permission_classes = [IsHR]

    @extend_schema(responses=RosterImportOutput)
    def get(self, request: Request, public_id: str) -> Response:
        record = RosterImport.objects.defer("content").filter(public_id=public_id).first()
        if record is None:
            raise Http404
        return Response(RosterImportOutput(record).data)
