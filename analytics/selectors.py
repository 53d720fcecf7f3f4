"""Reads of the analytics app. Usage figures for output are read only through `analytics.gate`;
these selectors serve the HR import pages and API."""

from __future__ import annotations

from django.db.models import QuerySet

from analytics.models import UsageImport


def usage_import_history(*, limit: int = 50) -> QuerySet[UsageImport]:
    """The latest imports, newest first (HR only: the records name unmatched identifiers)."""
    return UsageImport.objects.select_related("uploaded_by")[:limit]


def usage_import_get(*, public_id: str) -> UsageImport | None:
    return UsageImport.objects.filter(public_id=public_id).first()
