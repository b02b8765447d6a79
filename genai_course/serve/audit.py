"""The audit trail: one JSON line per request, whatever its answer.

Each line: ``time`` (UTC, ISO 8601), ``key`` (the key's name, never the key; null when none
matched), ``client``, ``method``, ``path``, what was asked (``model``, ``label``, ``n``,
``format``), ``status``, ``bytes`` and ``sha256`` of the body returned (so a file met later can
be traced to the request that made it), ``batch`` (samples in the forward pass that served it)
and ``ms`` (time to answer). Lines are appended whole (one ``write`` of one line to a file opened
for appending) and flushed, so a crash loses at most the request under way.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["AuditLog", "read_audit", "FIELDS"]

FIELDS = ("time", "key", "client", "method", "path", "model", "label", "n", "format", "status", "bytes", "sha256", "batch", "ms")


class AuditLog:
    """Appends audit lines to ``path`` (made readable by its owner only)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.file = os.fdopen(fd, "a", encoding="utf-8")
        self.lock = threading.Lock()

    def write(self, **fields: Any) -> dict[str, Any]:
        record = {k: fields.get(k) for k in FIELDS}
        record["time"] = record["time"] or datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        line = json.dumps(record, sort_keys=False, ensure_ascii=True) + "\n"
        with self.lock:
            self.file.write(line)
            self.file.flush()
        return record

    def close(self) -> None:
        self.file.close()


def read_audit(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every line of an audit log, parsed (for tests, the lesson and instructors)."""
    text = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
