"""Email backends for tests that run real worker processes."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence

from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.message import EmailMessage


class SlowFileBackend(FileBackend):
    """Writes each message to EMAIL_FILE_PATH (one file per message) and takes
    PULSE_TEST_EMAIL_DELAY seconds per message, so a test can kill a worker mid-fan-out."""

    def _get_filename(self) -> str:
        if self._fname is None:
            self._fname = os.path.join(self.file_path, f"{time.time_ns()}-{uuid.uuid4().hex}.eml")
        return self._fname

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        delay = float(os.environ.get("PULSE_TEST_EMAIL_DELAY", "0"))
        stall_at = int(os.environ.get("PULSE_TEST_EMAIL_STALL_AT", "0"))
        sent = 0
        for message in email_messages:
            time.sleep(delay)
            if stall_at:
                # Before writing the stall_at-th message, say so and hang: a test kills the
                # worker here, mid-fan-out, at a known point.
                written = len(os.listdir(self.file_path))
                if written + 1 >= stall_at:
                    marker = os.path.join(os.path.dirname(self.file_path), "stalled")
                    with open(marker, "w") as handle:
                        handle.write(str(written))
                    time.sleep(3600)
            self._fname = None  # one file per message
            self.stream = None
            self.open()
            try:
                sent += super().send_messages([message])
            finally:
                self.close()
        return sent


def read_mailbox(path: str) -> list[str]:
    """Every message written by the file backends under `path`, one string each."""
    messages: list[str] = []
    for name in sorted(os.listdir(path)):
        with open(os.path.join(path, name)) as handle:
            content = handle.read()
        separator = "-" * 79
        messages.extend(part for part in content.split(separator) if part.strip())
    return messages
