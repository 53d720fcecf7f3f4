"""REST API of the organisation (`/api/v1/`). Thin views: validate, authorise, call, respond."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from surveys import selectors, services
from surveys.forms import MAX_ROSTER_BYTES
from surveys.models import (
    Cadence,
    Employee,
    Question,
    RosterImport,
    Round,
    SurveyTemplate,
    Team,
    Wave,
)
from surveys.permissions import HasPulseRole, IsHR
from surveys.services import config, delivery

T = TypeVar("T")


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


# --- Question bank, templates, cadences (HR) ----------------------------------------------------


class QuestionOutput(serializers.ModelSerializer):
    scale = serializers.CharField(source="scale.code")
    validated = serializers.BooleanField(source="scale.is_validated")
    source = serializers.CharField(source="scale.source")
    licence = serializers.CharField(source="scale.licence")

    class Meta:
        model = Question
        fields = [
            "id",
            "code",
            "text",
            "scale",
            "response_kind",
            "reverse",
            "validated",
            "source",
            "licence",
            "created_by_hr",
        ]


class QuestionInput(serializers.Serializer):
    text = serializers.CharField(max_length=500)
    response_kind = serializers.ChoiceField(
        choices=["agreement", "frequency", "zero_ten", "free_text"]
    )


class QuestionListApi(APIView):
    """The question bank; HR adds their own questions (validated items are never edited)."""

    permission_classes = [IsHR]

    @extend_schema(responses=QuestionOutput(many=True))
    def get(self, request: Request) -> Response:
        questions = Question.objects.select_related("scale").order_by("scale__order", "order")
        return Response(QuestionOutput(questions, many=True).data)

    @extend_schema(request=QuestionInput, responses={201: QuestionOutput})
    def post(self, request: Request) -> Response:
        data = QuestionInput(data=request.data)
        data.is_valid(raise_exception=True)
        question = _validated(lambda: config.question_create(**data.validated_data))
        return Response(QuestionOutput(question).data, status=status.HTTP_201_CREATED)


def _validated(call: Callable[[], T]) -> T:
    """Run a service call, turning Django's ValidationError into a 400 naming the fields."""
    try:
        return call()
    except DjangoValidationError as exc:
        detail = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        raise serializers.ValidationError(detail) from exc


class TemplateItemData(serializers.Serializer):
    question = serializers.IntegerField()
    wave = serializers.ChoiceField(choices=Wave.values)


class TemplateOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    include_comment = serializers.BooleanField()
    items = TemplateItemData(many=True)


class TemplateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False, default="")
    include_comment = serializers.BooleanField(default=True)
    items = TemplateItemData(many=True)


def _template_data(template: SurveyTemplate) -> dict[str, object]:
    return {
        "id": template.pk,
        "name": template.name,
        "description": template.description,
        "include_comment": template.include_comment,
        "items": [
            {"question": q, "wave": w} for q, w in template.items.values_list("question_id", "wave")
        ],
    }


class TemplateListApi(APIView):
    permission_classes = [IsHR]

    @extend_schema(responses=TemplateOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response([_template_data(t) for t in SurveyTemplate.objects.order_by("name")])

    @extend_schema(request=TemplateInput, responses={201: TemplateOutput})
    def post(self, request: Request) -> Response:
        data = TemplateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        template = _validated(
            lambda: config.template_save(
                name=v["name"],
                description=v["description"],
                include_comment=v["include_comment"],
                waves={item["question"]: item["wave"] for item in v["items"]},
            )
        )
        return Response(_template_data(template), status=status.HTTP_201_CREATED)


class CadenceData(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200)
    template = serializers.IntegerField()
    audience = serializers.ListField(child=serializers.CharField(), help_text="Team paths.")
    excluded = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    frequency = serializers.ChoiceField(choices=Cadence.Frequency.values, default="weeks")
    interval_weeks = serializers.IntegerField(default=2)
    weekday = serializers.IntegerField(default=0)
    local_time = serializers.TimeField(default="09:00")
    start_date = serializers.DateField()
    window_days = serializers.IntegerField(default=5)
    reminder_offsets = serializers.ListField(child=serializers.IntegerField(), default=[2, 4])
    is_active = serializers.BooleanField(default=True)


def _cadence_data(cadence: Cadence) -> dict[str, object]:
    """The console's form data, with teams as paths and reminders as a list."""
    data = selectors.cadence_initial(cadence)
    data.update(
        id=cadence.pk,
        audience=list(cadence.audience.values_list("path", flat=True)),
        excluded=list(cadence.excluded.values_list("path", flat=True)),
        reminder_offsets=cadence.reminder_offsets,
    )
    return data


def _cadence_save(data: dict[str, object], cadence: Cadence | None) -> Cadence:
    template = SurveyTemplate.objects.filter(pk=data["template"]).first()
    if template is None:
        raise serializers.ValidationError({"template": f"No template with id {data['template']}."})
    teams: dict[str, list[Team]] = {}
    for field in ("audience", "excluded"):
        paths = list(data[field])  # type: ignore[call-overload]
        found = {t.path: t for t in Team.objects.filter(path__in=paths)}
        missing = [p for p in paths if p not in found]
        if missing:
            raise serializers.ValidationError(
                {field: f"Unknown team path(s): {', '.join(missing)}"}
            )
        teams[field] = list(found.values())
    fields = {k: v for k, v in data.items() if k not in ("template", "audience", "excluded", "id")}
    return _validated(
        lambda: config.cadence_save(
            cadence=cadence,
            template=template,
            audience=teams["audience"],
            excluded=teams["excluded"],
            **fields,
        )
    )


class CadenceListApi(APIView):
    """Cadences: audience (team subtrees, exclusions), schedule in local time, window,
    reminders. Changes apply at the next beat tick."""

    permission_classes = [IsHR]

    @extend_schema(responses=CadenceData(many=True))
    def get(self, request: Request) -> Response:
        return Response([_cadence_data(c) for c in Cadence.objects.order_by("name")])

    @extend_schema(request=CadenceData, responses={201: CadenceData})
    def post(self, request: Request) -> Response:
        data = CadenceData(data=request.data)
        data.is_valid(raise_exception=True)
        cadence = _cadence_save(dict(data.validated_data), None)
        return Response(_cadence_data(cadence), status=status.HTTP_201_CREATED)


class CadenceDetailApi(APIView):
    permission_classes = [IsHR]

    @extend_schema(responses=CadenceData)
    def get(self, request: Request, cadence_id: int) -> Response:
        cadence = Cadence.objects.filter(pk=cadence_id).first()
        if cadence is None:
            raise Http404
        return Response(_cadence_data(cadence))

    @extend_schema(request=CadenceData, responses=CadenceData)
    def put(self, request: Request, cadence_id: int) -> Response:
        cadence = Cadence.objects.filter(pk=cadence_id).first()
        if cadence is None:
            raise Http404
        data = CadenceData(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(_cadence_data(_cadence_save(dict(data.validated_data), cadence)))


class RoundOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()
    scheduled_for = serializers.DateField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    wave = serializers.CharField()


class CadenceSendNowApi(APIView):
    """'Send now': open today's round of the cadence and send every invitation at once.
    Idempotent per day (200 with the existing round the second time)."""

    permission_classes = [IsHR]

    @extend_schema(request=None, responses={201: RoundOutput, 200: RoundOutput})
    def post(self, request: Request, cadence_id: int) -> Response:
        cadence = Cadence.objects.filter(pk=cadence_id).first()
        if cadence is None:
            raise Http404
        round_, created = delivery.round_open(
            cadence=cadence, day=timezone.localdate(), send_now=True
        )
        return Response(
            RoundOutput(round_).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RoundCloseApi(APIView):
    """'Close now' (HR). Idempotent: closing a closed round changes nothing (200)."""

    permission_classes = [IsHR]

    @extend_schema(request=None, responses=RoundOutput)
    def post(self, request: Request, round_id: int) -> Response:
        round_ = Round.objects.filter(pk=round_id).first()
        if round_ is None:
            raise Http404
        delivery.round_close(round_id=round_.pk)
        round_.refresh_from_db()
        return Response(RoundOutput(round_).data)
