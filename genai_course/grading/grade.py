"""``genai-course grade``: from the paths on the command line to the report and the exit code.

Each submission is graded apart (``grading.submission``), ``--jobs`` at once (``grading.workers``);
any line of a course solution that a message quotes is hidden (``grading.hide``). Where the
sandbox cannot be applied (no bubblewrap), it says so once, in one line, on stderr. The report: one block per
submission, or ``--json``, and with ``--report`` the class CSV (``grading.report``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from .hide import course_solution_lines, hide_solutions
from .report import Submission, class_submissions, format_result, report_rows, write_report
from .results import GradingError, SubmissionResult
from .sandbox import isolation
from .workers import grade_all

__all__ = ["main_grade"]


def _expand(paths: list[str]) -> list[tuple[str, str | None]]:
    """Submissions to grade: (path, reason it is unusable or None). Folders: *.ipynb, else *.py."""
    found: list[tuple[str, str | None]] = []
    for text in paths:
        p = Path(text)
        if p.is_dir():
            inside = sorted(p.glob("*.ipynb")) or sorted(p.glob("*.py"))
            found += [(str(q), None) for q in inside if q.is_file()] or [(text, "this folder holds no .ipynb or .py notebooks")]
        else:
            found.append((text, None if p.exists() else "no such file or folder"))
    return found


def main_grade(paths: list[str], as_json: bool, timeout: int, report: str | Path | None = None,
               jobs: int | None = None, limit: float | None = None) -> int:
    """``genai-course grade PATH... [--json] [--timeout S] [--jobs N] [--limit S] [--report CSV]``.

    Exit code 0 all passed, 1 some not passed, 2 unusable (a submission, or with ``report``
    the folder). Each submission is graded apart (``grading.submission``), ``jobs`` at once, each check
    within ``timeout`` CPU seconds and the submission within ``limit`` seconds of wall clock (default:
    ``submission.hard_limit``), and reported in order. With
    ``report``, ``paths`` is one class folder (see ``class_submissions``) and a CSV of
    REPORT_COLUMNS is written, one row per learner and exercise.
    """
    subs: list[Submission] = []
    if report is not None:
        try:
            if len(paths) != 1:
                raise GradingError(f"--report grades one folder of submissions, got {len(paths)} paths")
            subs = class_submissions(paths[0])
        except GradingError as e:
            print(f"genai-course grade: error: {e}", file=sys.stderr)
            return 2
        items = [(str(s.path), s.reason) for s in subs]
    else:
        items = _expand(paths)
    note = isolation() if any(reason is None for _, reason in items) else None
    if note:
        print(f"genai-course grade: {note}", file=sys.stderr)
    hidden = course_solution_lines()
    shown: dict[int, SubmissionResult] = {}

    def show(k: int, result: SubmissionResult) -> None:
        shown[k] = hide_solutions(result, hidden)
        if not as_json:
            print(format_result(shown[k]), flush=True)

    grade_all(items, timeout, jobs, limit, show)
    results = [shown[k] for k in range(len(items))]
    unusable = sum(r.status != "graded" for r in results)
    passed = sum(r.all_passed for r in results)
    # a submission "with failures" has an exercise that failed, timed out or never ran; the rest
    # of those not all passed only have exercises not attempted yet
    failing = sum(r.status == "graded" and any(e.status not in ("passed", "not_attempted") for e in r.exercises) for r in results)
    if report is not None:
        rows = report_rows(paths[0], list(zip(subs, results)))
        write_report(report, rows)
    if as_json:
        print(json.dumps({"submissions": [asdict(r) for r in results]}, indent=2, ensure_ascii=False))
    else:
        n = len(results)
        print(f"{n} submission{'s' if n != 1 else ''}: {passed} all passed, {failing} with failures, "
              f"{n - passed - failing - unusable} not finished, {unusable} unusable")
    if report is not None:
        learners = len({s.learner for s in subs})
        print(f"wrote {report}: {len(rows)} rows, {learners} learner{'s' if learners != 1 else ''}",
              file=sys.stderr if as_json else sys.stdout)
    return 2 if unusable else (0 if passed == len(results) else 1)
