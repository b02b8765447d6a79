"""What grading produces: one verdict per check, one result per submission, and the error for unusable input.

The ground floor of ``genai_course.grading``: every other module of the package builds on these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GradingError", "ExerciseResult", "SubmissionResult", "one_line", "without_ansi"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class GradingError(ValueError):
    """Unusable input (a malformed solution, a missing folder): reported as one line, exit 2."""


@dataclass
class ExerciseResult:
    """One check's verdict: status is passed, failed, not_attempted, timed_out or not_run."""

    name: str
    status: str
    message: str


@dataclass
class SubmissionResult:
    """One submitted notebook: status "graded" (with exercises) or "unusable" (with a reason)."""

    path: str
    status: str
    reason: str | None = None
    exercises: list[ExerciseResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def all_passed(self) -> bool:
        return self.status == "graded" and all(e.status == "passed" for e in self.exercises)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SubmissionResult:
        return cls(d["path"], d["status"], d.get("reason"), [ExerciseResult(**e) for e in d.get("exercises", [])],
                   float(d.get("seconds", 0.0)))


def without_ansi(text: str) -> str:
    """``text`` without terminal colour codes."""
    return _ANSI.sub("", text)


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, without colour codes, cut to ``limit`` characters (ending in "…" when cut)."""
    text = " ".join(without_ansi(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
