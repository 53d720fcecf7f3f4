"""Writes of the surveys app, one module per area; import them from here.

- `organisation`: roster import, teams, staff logins.
"""

from surveys.services.organisation import (
    RosterImportError,
    RosterImportResult,
    roster_import,
    roster_import_create,
    roster_import_run,
    staff_user_create,
)

__all__ = [
    "RosterImportError",
    "RosterImportResult",
    "roster_import",
    "roster_import_create",
    "roster_import_run",
    "staff_user_create",
]

# Survey delivery and configuration live in `surveys.services.delivery`,
# `surveys.services.responses` (the one door for writes to responses) and
# `surveys.services.config`; import them from those modules.
