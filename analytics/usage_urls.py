from django.urls import path

from analytics import usage_views

app_name = "usage"

urlpatterns = [
    path("", usage_views.usage_upload, name="upload"),
    path("imports/", usage_views.usage_history, name="history"),
    path("imports/<uuid:public_id>/", usage_views.usage_import_status, name="import"),
]
