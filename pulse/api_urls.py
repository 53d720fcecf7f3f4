"""`/api/v1/`: every app's API views, one URL namespace."""

from django.urls import path

from analytics import api as analytics_api
from analytics import hotspot_api, results_api
from surveys import api as surveys_api

app_name = "api"

urlpatterns = [
    path("rounds/", results_api.PublishedRoundListApi.as_view(), name="rounds"),
    path(
        "rounds/<int:round_id>/publication/",
        results_api.PublicationApi.as_view(),
        name="publication",
    ),
    path("me/", surveys_api.MeApi.as_view(), name="me"),
    path("questions/", surveys_api.QuestionListApi.as_view(), name="questions"),
    path("templates/", surveys_api.TemplateListApi.as_view(), name="templates"),
    path("cadences/", surveys_api.CadenceListApi.as_view(), name="cadences"),
    path("cadences/<int:cadence_id>/", surveys_api.CadenceDetailApi.as_view(), name="cadence"),
    path(
        "cadences/<int:cadence_id>/send-now/",
        surveys_api.CadenceSendNowApi.as_view(),
        name="cadence_send_now",
    ),
    path("rounds/<int:round_id>/close/", surveys_api.RoundCloseApi.as_view(), name="round_close"),
    path("teams/", surveys_api.TeamListApi.as_view(), name="teams"),
    path("teams/<int:team_id>/", surveys_api.TeamDetailApi.as_view(), name="team"),
    path("employees/", surveys_api.EmployeeListApi.as_view(), name="employees"),
    path("roster-imports/", surveys_api.RosterImportListApi.as_view(), name="roster_imports"),
    path(
        "roster-imports/<uuid:public_id>/",
        surveys_api.RosterImportDetailApi.as_view(),
        name="roster_import",
    ),
    path("usage-imports/", analytics_api.UsageImportListApi.as_view(), name="usage_imports"),
    path(
        "usage-imports/<uuid:public_id>/",
        analytics_api.UsageImportDetailApi.as_view(),
        name="usage_import",
    ),
    path("teams/<int:team_id>/usage/", analytics_api.TeamUsageApi.as_view(), name="team_usage"),
    path("hotspots/", hotspot_api.HotspotListApi.as_view(), name="hotspots"),
    path("hotspots/<int:hotspot_id>/", hotspot_api.HotspotDetailApi.as_view(), name="hotspot"),
    path(
        "hotspots/<int:hotspot_id>/notes/",
        hotspot_api.HotspotNoteApi.as_view(),
        name="hotspot_notes",
    ),
    path(
        "hotspots/<int:hotspot_id>/follow-up/",
        hotspot_api.HotspotFollowUpApi.as_view(),
        name="hotspot_follow_up",
    ),
    path(
        "hotspots/rounds/<int:round_id>/",
        hotspot_api.HotspotRunApi.as_view(),
        name="hotspot_run",
    ),
]
