from django.urls import path

from surveys import views

app_name = "hr"

urlpatterns = [
    path("", views.hr_home, name="home"),
    path("roster/", views.roster_upload, name="roster_upload"),
    path("roster/imports/<uuid:public_id>/", views.roster_import_status, name="roster_import"),
    path("people/", views.people, name="people"),
    path("teams/", views.teams, name="teams"),
    path("bank/", views.question_bank, name="question_bank"),
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_edit, name="template_new"),
    path("templates/<int:template_id>/", views.template_edit, name="template_edit"),
    path("cadences/", views.cadence_list, name="cadences"),
    path("cadences/new/", views.cadence_edit, name="cadence_new"),
    path("cadences/<int:cadence_id>/", views.cadence_edit, name="cadence_edit"),
    path("cadences/<int:cadence_id>/send-now/", views.cadence_send_now, name="cadence_send_now"),
    path("rounds/", views.round_list, name="rounds"),
    path("rounds/<int:round_id>/", views.round_detail, name="round"),
    path("rounds/<int:round_id>/close/", views.round_close_now, name="round_close"),
]
