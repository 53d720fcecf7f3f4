"""Reads for the leaders' dashboard: which publications exist, in order. Numbers come from
`analytics.gate` only; these return models, never figures."""

from __future__ import annotations

from django.db.models import QuerySet

from analytics.models import Publication


def publications_latest_first() -> QuerySet[Publication]:
    """Every publication, newest round first, with its round."""
    return Publication.objects.select_related("round", "round__cadence").order_by(
        "-closed_on", "-round__scheduled_for", "-pk"
    )


def publication_for(round_id: int | None) -> Publication | None:
    """The publication of `round_id`, or the latest one when None."""
    publications = publications_latest_first()
    if round_id is not None:
        return publications.filter(round_id=round_id).first()
    return publications.first()


def publications_of_same_cadence(publication: Publication, *, limit: int = 8) -> list[Publication]:
    """Earlier-to-later publications of the same cadence (for trends), ending with this one."""
    round_ = publication.round
    query = publications_latest_first().filter(closed_on__lte=publication.closed_on)
    if round_.cadence_id is not None:
        query = query.filter(round__cadence_id=round_.cadence_id)
    else:
        query = query.filter(pk=publication.pk)
    return list(reversed(list(query[:limit])))
