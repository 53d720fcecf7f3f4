from django.urls import path

from analytics import views

app_name = "results"

urlpatterns = [
    path("", views.results_home, name="home"),
    path("teams/<int:team_id>/", views.team_results, name="team"),
    path("rounds/<int:round_id>/export.csv", views.export_csv, name="export"),
]
