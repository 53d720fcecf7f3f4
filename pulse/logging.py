"""Logging filters."""

from __future__ import annotations

import logging
import re

_TOKEN_PATH = re.compile(r"/s/[A-Za-z0-9_\-]{8,}")


class RedactTokensFilter(logging.Filter):
    """Replace personal answering links (`/s/<token>`) in every log record, so that tokens
    never reach a log file (anonymity rule 7)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/s/" in message:
            record.msg = _TOKEN_PATH.sub("/s/<redacted>", message)
            record.args = None
        return True
