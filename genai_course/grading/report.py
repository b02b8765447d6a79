"""What the grader reports: a class folder's submissions, the console report and the class CSV.

``grade DIR --report class.csv``: DIR is a class folder. A learner is named by a subfolder,
``DIR/<learner>/NN_name.ipynb``, or by the start of a flat file's name up to ``__``,
``DIR/<learner>__NN_name.ipynb``; a flat file without ``__`` is that learner's one notebook,
``DIR/<learner>.ipynb``. (.ipynb or py:percent .py; of a jupytext pair the .ipynb; names
starting with "." skipped.) The CSV (UTF-8) has a header and one row per learner and
exercise, columns REPORT_COLUMNS: learner, notebook (the file name without extension and
learner prefix), exercise (the check's name, "-" for an unusable notebook), status (passed,
failed, not_attempted, timed_out, not_run or unusable), feedback (the message the learner
sees), seconds (grading the whole notebook took) and path (relative to DIR). Rows are sorted
by learner and notebook, then in the notebook's order of checks; a learner whose notebook
cannot be graded, or whose folder holds none, still gets a row.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from .results import GradingError, SubmissionResult

__all__ = ["REPORT_COLUMNS", "SYMBOLS", "Submission", "class_submissions", "report_rows", "write_report", "format_result"]

REPORT_COLUMNS = ("learner", "notebook", "exercise", "status", "feedback", "seconds", "path")
SYMBOLS = {"passed": "✅", "failed": "❌", "not_attempted": "⏳", "timed_out": "⏰", "not_run": "💥"}


@dataclass
class Submission:
    """One learner's notebook in a class folder (``reason``: why it cannot be graded, else None)."""

    learner: str
    notebook: str
    path: Path
    reason: str | None = None


def _notebooks_in(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.suffix.lower() in (".ipynb", ".py") and not p.name.startswith(".") and p.is_file()]


def class_submissions(folder: str | Path) -> list[Submission]:
    """The submissions in a class folder, sorted by learner, notebook and path.

    ``DIR/<learner>/<notebook>.ipynb``: the learner is the subfolder (only its own files count,
    not deeper folders). ``DIR/<learner>__<notebook>.ipynb``: the learner is the part of a flat
    file's name before the first ``__``; a flat file without ``__`` is the notebook of the
    learner it is named after (``DIR/<learner>.ipynb``). Files may be .ipynb or py:percent .py;
    where a learner has both for one notebook (a jupytext pair), the .ipynb is graded. Names
    starting with "." are skipped, as are files that are neither. A learner folder without a
    notebook still gets an entry (notebook "-", with its reason), so no learner is left out.
    Raises GradingError when the folder is missing or holds no notebook at all.
    """
    root = Path(folder)
    layout = f"expected {root}/<learner>/NN_name.ipynb or {root}/<learner>__NN_name.ipynb"
    if not root.exists():
        raise GradingError(f"no folder {root}: {layout}")
    if not root.is_dir():
        raise GradingError(f"{root} is a file, not a folder of submissions: {layout}")
    chosen: dict[tuple[str, str], Path] = {}
    empty: list[Submission] = []

    def add(learner: str, notebook: str, path: Path) -> None:
        key = (learner, notebook)
        if key not in chosen or (chosen[key].suffix.lower() == ".py" and path.suffix.lower() == ".ipynb"):
            chosen[key] = path

    try:
        for entry in sorted(root.iterdir()):
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue
            if entry.is_dir():
                inside = _notebooks_in(entry)
                for p in inside:
                    add(entry.name, p.stem, p)
                if not inside:
                    empty.append(Submission(entry.name, "-", entry, f"no .ipynb or .py notebook in {entry}"))
            elif entry.suffix.lower() in (".ipynb", ".py") and entry.is_file():
                learner, sep, notebook = entry.stem.partition("__")
                if not (sep and learner and notebook):
                    learner = notebook = entry.stem
                add(learner, notebook, entry)
    except OSError as e:
        raise GradingError(f"cannot read the folder {root}: {e.strerror or e}") from None
    if not chosen:
        raise GradingError(f"no notebooks (.ipynb or .py) in {root}: {layout}")
    found = [Submission(learner, notebook, path) for (learner, notebook), path in chosen.items()] + empty
    return sorted(found, key=lambda s: (s.learner, s.notebook, str(s.path)))


def report_rows(root: str | Path, pairs: list[tuple[Submission, SubmissionResult]]) -> list[dict[str, str]]:
    """One row per learner and exercise (REPORT_COLUMNS), in the order given; an unusable notebook gets one row."""
    rows = []
    for sub, result in pairs:
        try:
            where = sub.path.relative_to(root).as_posix()
        except ValueError:
            where = str(sub.path)
        common = {"learner": sub.learner, "notebook": sub.notebook, "seconds": f"{result.seconds:.1f}", "path": where}
        if result.status != "graded":
            rows.append({**common, "exercise": "-", "status": "unusable", "feedback": result.reason or ""})
        rows += [{**common, "exercise": e.name, "status": e.status, "feedback": e.message} for e in result.exercises]
    return [{c: row[c] for c in REPORT_COLUMNS} for row in rows]


def write_report(path: str | Path, rows: list[dict[str, str]]) -> None:
    """Write the CSV (UTF-8, a header line, then the rows) to a temporary file, then swap it in."""
    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=REPORT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def format_result(result: SubmissionResult) -> str:
    """The human report for one submission: its path, then one line per exercise."""
    if result.status != "graded":
        return f"{result.path}\n  🚫 unusable: {result.reason}"
    width = max((len(e.name) for e in result.exercises), default=0)
    lines = [f"{result.path}  ({result.seconds:.1f} s)"]
    for e in result.exercises:
        message = e.message.replace("\n", "\n" + " " * (width + 6))
        lines.append(f"  {SYMBOLS.get(e.status, '?')} {e.name:<{width}}  {message}")
    return "\n".join(lines)
