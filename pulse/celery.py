"""The Celery application. Tasks live beside the services they call (`<app>/tasks.py`)."""

from __future__ import annotations

import os

from celery import Celery, Task, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pulse.settings")

app = Celery("pulse")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_connections(sender: Task | None = None, **kwargs: object) -> None:
    """Around each task, what Django does around each request: close the database connections
    that are broken or older than CONN_MAX_AGE, keep the others. With CELERY_DB_REUSE_MAX set
    (see settings) this is what decides when a worker reconnects, so a worker keeps one session
    across tasks instead of paying a new PostgreSQL backend per task. Not for eager tasks: they
    run inside the caller's connection and transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections as django_close_old_connections

    django_close_old_connections()
