"""Access rules for views and the API. The scoping itself lives in `surveys.selectors`."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from surveys.selectors import user_is_hr, user_role

View = Callable[..., HttpResponse]


def _role_required(check: Callable[[Any], bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                raise PermissionDenied("Your account has no access to this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


hr_required = _role_required(user_is_hr)
"""HR admins and superusers only; anonymous visitors go to the login page, others get 403."""

staff_required = _role_required(lambda user: user_role(user) is not None)
"""Anybody with a Pulse role (HR, leader, superuser)."""


class IsHR(BasePermission):
    message = "Only HR admins may use this endpoint."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return user_is_hr(request.user)


class HasPulseRole(BasePermission):
    message = "Your account has no Pulse role."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return user_role(request.user) is not None
