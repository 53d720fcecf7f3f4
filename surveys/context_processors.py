"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from surveys.selectors import user_role


def roles(request: HttpRequest) -> dict[str, object]:
    """`support_text` for the support block; `pulse_role` ('superuser', 'hr', 'leader' or
    None) for the navigation."""
    user = getattr(request, "user", None)
    role = user_role(user) if user is not None else None
    return {
        "pulse_role": role,
        "pulse_is_hr": role in ("hr", "superuser"),
        "support_text": settings.PULSE_SUPPORT_TEXT,
    }
