"""Test settings: Pulse's settings with HTTPS-only flags off (the test client and the live
server speak plain HTTP) and a fast password hasher. Everything else is production's."""

import os
import uuid

# A queue of this test run's own, inherited by the worker processes the tests start, so that
# messages left on a shared Redis by another run are never picked up.
os.environ.setdefault("PULSE_CELERY_QUEUE", f"pulse-test-{uuid.uuid4().hex[:12]}")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdefghij")

from pulse.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
