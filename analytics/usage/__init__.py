"""AI-usage import: adapters for the exports companies have, identity resolution through the
roster, and per-person accumulation (in memory, and past a few MiB in an anonymous temporary
file deleted when the import ends) reduced one day at a time to team x day cells.

Nothing in this package writes to the database; `analytics.services` does.
"""

from analytics.usage.adapters import ADAPTERS, FORMATS, adapter_for
from analytics.usage.parsing import UsageFileError, UsageProblem

__all__ = ["ADAPTERS", "FORMATS", "UsageFileError", "UsageProblem", "adapter_for"]
