"""`/api/v1/`: every app's API views, one URL namespace."""

from django.urls import path

from surveys import api as surveys_api

app_name = "api"

urlpatterns = [
    path("me/", surveys_api.MeApi.as_view(), name="me"),
    path("teams/", surveys_api.TeamListApi.as_view(), name="teams"),
    path("teams/<int:team_id>/", surveys_api.TeamDetailApi.as_view(), name="team"),
    path("employees/", surveys_api.EmployeeListApi.as_view(), name="employees"),
    path("roster-imports/", surveys_api.RosterImportListApi.as_view(), name="roster_imports"),
    path(
        "roster-imports/<uuid:public_id>/",
        surveys_api.RosterImportDetailApi.as_view(),
        name="roster_import",
    ),
]
