"""No solution in the feedback: every line of a course solution that a message quotes becomes HIDDEN.

Feedback is built from check messages and the learner's own errors, never from tracebacks; but
some checks' hints quote a line of the solution (e.g. ``logits = logits / temperature``).
"""

from __future__ import annotations

from .build import find_root, solution_files, solution_only_lines
from .results import ExerciseResult, GradingError, SubmissionResult

__all__ = ["HIDDEN", "course_solution_lines", "hide_solutions"]

HIDDEN = "[solution hidden]"


def course_solution_lines() -> list[str]:
    """solution_only_lines of every solutions/NN_*.py of the course found here (none if not found), longest first."""
    try:
        files = solution_files(find_root() / "solutions")
    except (GradingError, OSError):
        return []
    hidden: set[str] = set()
    for p in files:
        try:
            hidden |= solution_only_lines(p.read_text(encoding="utf-8"), f"solutions/{p.name}")
        except (GradingError, OSError, UnicodeDecodeError):
            continue
    return sorted(hidden, key=lambda t: (-len(t), t))


def hide_solutions(result: SubmissionResult, hidden: list[str]) -> SubmissionResult:
    """The result with every line of ``hidden`` (``course_solution_lines``) in its messages replaced by HIDDEN."""
    def clean(text: str | None) -> str | None:
        if not text:
            return text
        for line in hidden:
            if line in text:
                text = text.replace(line, HIDDEN)
        return text

    return SubmissionResult(result.path, result.status, clean(result.reason),
                            [ExerciseResult(e.name, e.status, clean(e.message) or "") for e in result.exercises], result.seconds)
