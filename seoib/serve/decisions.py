"""The decision log: one JSON line per decision, opt-in (``--decision-log FILE``).

Like OPA's decision logs, a record says which question was asked and what was
answered, under which rules, so an audit can replay it:

``{"decision_id", "timestamp", "path", "requested_by", "status", "rules",
"labels": {"version", "pid"}, "input", "result", "metrics": {"timer_server_ns"}}``

- ``input`` is the request body as parsed (a batch line or a list of them); for
  ``/v1/check`` the plan's ``sha256`` and size (plans are large);
- ``result`` is the compact verdict (or a list of them): outcome, severity,
  policy and the deciding rules - what was decided, not the explanation; for a
  check, its summary.

The file is opened with ``O_APPEND`` (mode 0600: inputs may be sensitive), so the
workers' records never interleave; each record is one ``write``. It is opened
again on reload (SIGHUP), for log rotation. A record that cannot be written is
counted (``seoib_decision_log_errors_total``) and the request is answered anyway.
The decision id is also sent back as the ``X-Seoib-Decision-Id`` header.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from typing import Any

__all__ = ["DecisionLog"]


class DecisionLog:
    """Appends decision records to one file; shared by the workers through O_APPEND."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = -1
        self.open()

    def open(self) -> None:
        """(Re)open the file: after a rotation the records go to the new one."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        old, self._fd = self._fd, fd
        if old >= 0:
            with contextlib.suppress(OSError):
                os.close(old)

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def write(self, decision_id: str, record: dict[str, Any]) -> bool:
        """Append one record; False when it could not be written."""
        now = time.time()
        line = json.dumps({"decision_id": decision_id,
                           "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
                           + f".{int(now % 1 * 1e6):06d}Z", **record},
                          separators=(",", ":"), default=str) + "\n"
        try:
            data = line.encode()
            return os.write(self._fd, data) == len(data)
        except OSError:
            return False

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
