"""genai_course.serve.audit: one JSON line per request, appended whole, readable by its owner only."""

from __future__ import annotations

import json
import stat

from genai_course.serve.audit import FIELDS, AuditLog, read_audit


def test_lines_hold_every_field_in_order(tmp_path):
    path = tmp_path / "serve" / "audit.jsonl"
    log = AuditLog(path)
    first = log.write(key="alice", status=200, n=2, batch=8, unknown="dropped")
    log.write(key=None, status=401, time="2026-01-01T00:00:00.000+00:00")
    log.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(tuple(json.loads(line)) == FIELDS for line in lines)
    assert read_audit(path) == [first, {**dict.fromkeys(FIELDS), "key": None, "status": 401, "time": "2026-01-01T00:00:00.000+00:00"}]
    assert first["time"].endswith("+00:00") and "unknown" not in first
    again = AuditLog(path)  # a restarted server appends
    again.write(status=200)
    again.close()
    assert len(read_audit(path)) == 3 and read_audit(tmp_path / "none.jsonl") == []
