from django.urls import path

from surveys import views

app_name = "hr"

urlpatterns = [
    path("", views.hr_home, name="home"),
    path("roster/", views.roster_upload, name="roster_upload"),
    path("roster/imports/<uuid:public_id>/", views.roster_import_status, name="roster_import"),
    path("people/", views.people, name="people"),
    path("teams/", views.teams, name="teams"),
]
