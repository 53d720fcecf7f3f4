"""AI-usage import: adapters for the exports companies have, identity resolution through the
roster, and in-memory per-person accumulation reduced to team x day cells.

Nothing in this package writes to the database; `analytics.services` does.
"""

from analytics.usage.adapters import ADAPTERS, FORMATS, adapter_for
from analytics.usage.parsing import UsageFileError, UsageProblem

__all__ = ["ADAPTERS", "FORMATS", "UsageFileError", "UsageProblem", "adapter_for"]
