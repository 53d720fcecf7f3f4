"""Pulse settings: one module, driven by environment variables (django-environ).

Every variable is listed in `.env.example`. Malformed values fail loudly at start-up
(django-environ raises on a bad bool, int or URL) rather than silently falling back.

Defaults give a newcomer a working app with nothing installed: SQLite in `var/`, a Celery
broker on the filesystem (kombu's filesystem transport), email printed to the console.
Production sets `DATABASE_URL` (PostgreSQL), `REDIS_URL`, `EMAIL_URL`, `SECRET_KEY`, and leaves
`DEBUG` false, which turns on secure cookies, HTTPS redirect and HSTS.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("PULSE_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG: bool = env.bool("DEBUG", default=False)

_INSECURE_DEV_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"
SECRET_KEY: str = env.str("SECRET_KEY", default=_INSECURE_DEV_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")

ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else []
)
BASE_URL: str = env.str("BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[BASE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_celery_beat",
    "surveys",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "pulse.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pulse.urls"
WSGI_APPLICATION = "pulse.wsgi.application"
ASGI_APPLICATION = "pulse.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "surveys.context_processors.roles",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'pulse.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The web server and the Celery worker write at the same time: IMMEDIATE transactions, a
    # busy timeout and the WAL journal keep that from failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests that start a real worker process need a database file both processes can open.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-pulse.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE: str = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve files straight from the apps' static folders too, so the app works without collectstatic.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Email ----------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
# An explicit backend class overrides EMAIL_URL's (e.g. a null backend for benchmarks).
if env.str("EMAIL_BACKEND", default=""):
    EMAIL_BACKEND = env.str("EMAIL_BACKEND")
    EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL: str = env.str("DEFAULT_FROM_EMAIL", default="Pulse <pulse@localhost>")

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL: str = env.str("REDIS_URL", default="")
BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # An unacknowledged task (its worker died) is redelivered after this many seconds; every
    # task is idempotent, so an early redelivery costs work, never correctness.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": env.int("PULSE_BROKER_VISIBILITY_TIMEOUT", default=3600)
    }
else:
    # A broker that needs no server: kombu's filesystem transport, results in files.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{BROKER_DIR / 'results'}"
    for _folder in ("queue", "processed", "results", "control"):
        (BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_DEFAULT_QUEUE: str = env.str("PULSE_CELERY_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TRACK_STARTED = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Each worker process reserves only the task it runs (late acknowledgement keeps it reserved
# until done): Pulse's tasks are long (fan-out chunks, imports), and a worker holding several
# in reserve leaves the others idle at the end of a fan-out while it works through them.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection before and after each task unless
# this is set (celery/celery#9824), so a worker would open a new PostgreSQL session per task
# and ignore CONN_MAX_AGE. Set, the fix-up closes them only every this many tasks; between
# tasks `pulse.celery` applies CONN_MAX_AGE and drops broken connections, as Django does
# around each request.
CELERY_DB_REUSE_MAX = 1000

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pulse API",
    "DESCRIPTION": "Anonymous pulse surveys joined with AI-usage aggregates.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Anonymity ------------------------------------------------------------------------------
PULSE_MIN_GROUP_SIZE: int = env.int("PULSE_MIN_GROUP_SIZE", default=5)
if PULSE_MIN_GROUP_SIZE < 5:
    raise ImproperlyConfigured(
        f"PULSE_MIN_GROUP_SIZE={PULSE_MIN_GROUP_SIZE}: the minimum group size can be raised, "
        "never lowered below 5."
    )

# Shown with the support resources at the end of every pulse (e.g. your EAP's phone number).
PULSE_SUPPORT_TEXT: str = env.str("PULSE_SUPPORT_TEXT", default="")
# Work run (by the worker) after a round closes, in order.
PULSE_AFTER_CLOSE_HOOKS: list[str] = [
    "analytics.publication.round_results_publish",
    "analytics.hotspots.round_hotspots_after_close",
]
# A sender's lease on a batch of invitation emails: after this long, a sender that died is
# presumed dead and the next run sends what it left unsent.
PULSE_SEND_LEASE_SECONDS: int = env.int("PULSE_SEND_LEASE_SECONDS", default=600)
# Invitations per fan-out task. Each task pays a fixed cost (broker round trips, a few
# queries, the chunk's INSERT commit); a chunk is also the unit a crash redelivers and the
# batch leased at once, so it must send well within PULSE_SEND_LEASE_SECONDS.
PULSE_FANOUT_CHUNK: int = env.int("PULSE_FANOUT_CHUNK", default=1000)
# Extra recipients of hotspot alerts (every active HR admin with an email address gets them
# anyway), comma-separated. A malformed address stops start-up instead of losing alerts.
PULSE_HOTSPOT_ALERT_TO: list[str] = env.list("PULSE_HOTSPOT_ALERT_TO", default=[])
for _address in PULSE_HOTSPOT_ALERT_TO:
    try:
        validate_email(_address)
    except ValidationError as _error:
        raise ImproperlyConfigured(
            f"PULSE_HOTSPOT_ALERT_TO: {_address!r} is not an email address."
        ) from _error

# --- Security -------------------------------------------------------------------------------
# Secure by default whenever DEBUG is off; each flag can be overridden (e.g. behind a proxy
# that terminates TLS, set SECURE_PROXY_SSL_HEADER_ENABLED=true).
SECURE_SSL_REDIRECT: bool = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE: bool = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE: bool = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS: int = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "pulse.logging.RedactTokensFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Answering URLs carry the personal token: never log request paths for them.
        "django.server": {"handlers": [], "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
