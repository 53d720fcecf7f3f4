from django.urls import path

from analytics import hotspot_views, views

app_name = "results"

urlpatterns = [
    path("", views.results_home, name="home"),
    path("teams/<int:team_id>/", views.team_results, name="team"),
    path("rounds/<int:round_id>/export.csv", views.export_csv, name="export"),
    path("hotspots/", hotspot_views.hotspots_home, name="hotspots"),
    path("hotspots/export.csv", hotspot_views.hotspots_export, name="hotspots_export"),
    path("hotspots/<int:hotspot_id>/", hotspot_views.hotspot_detail, name="hotspot"),
    path(
        "hotspots/<int:hotspot_id>/follow-up/",
        hotspot_views.hotspot_follow_up,
        name="hotspot_follow_up",
    ),
    path(
        "hotspots/teams/<int:team_id>/",
        hotspot_views.hotspot_team_timeline,
        name="hotspot_team",
    ),
]
