"""Pulse URLs: the stable interface listed in DESIGN.md."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from pulse import views
from surveys import views as survey_views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("s/<str:token>", survey_views.answer, name="answer"),
    path("s/<str:token>/thanks", survey_views.answer_thanks, name="answer_thanks"),
    path("hr/usage/", include("analytics.usage_urls")),
    path("hr/", include("surveys.urls")),
    path("results/", include("analytics.urls")),
    path("api/v1/", include("pulse.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("admin/", admin.site.urls),
]
