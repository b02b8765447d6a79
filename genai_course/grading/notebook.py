"""From a run to verdicts: which checks a notebook calls, and what became of each.

Every check cell (``checks.<name>(...)``) is judged by what it printed (a line starting with ✅ or
⏳, one per check in the cell, in order) or raised (``CheckFailed``: the learner-facing message;
``NotImplementedError``: not attempted; anything else: "your code raised ..."). Feedback is
never a traceback. A run that stopped early (a dead or stuck kernel, the notebook's time limit,
a lost worker) leaves the checks of the cell where it stopped timed out or not run, and every
later one not run, each with a message that says where and why.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from .results import ExerciseResult, GradingError, one_line, without_ansi

__all__ = ["TIMED_OUT", "check_names", "read_submission", "gradable", "verdicts"]

TIMED_OUT = "genai_course.grading: cell timed out"  # ename of the reply nbclient fakes on timeout (grading.run)
_CHECK_CALL = re.compile(r"\bchecks\.(\w+)\(")


def check_names(source: str) -> list[str]:
    """The checks a cell's code calls (``checks.<name>(``), in order; commented-out lines do not count."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    return _CHECK_CALL.findall(code)


def read_submission(path: Path):  # -> nbformat.NotebookNode
    """A submitted .ipynb or py:percent .py, read; GradingError (its one-line reason) if it is not a readable notebook."""
    import jupytext
    import nbformat

    if not path.is_file():
        raise GradingError("no such file" if not path.exists() else "not a file")
    suffix = path.suffix.lower()
    if suffix not in (".ipynb", ".py"):
        raise GradingError(f"not a notebook: expected a .ipynb or a py:percent .py file (got {suffix or 'no extension'})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. nbformat's MissingIDFieldWarning
            nb = nbformat.read(path, as_version=4) if suffix == ".ipynb" else jupytext.read(path, fmt="py:percent")
        cells = nb["cells"]
        if not isinstance(cells, list) or not all(isinstance(c.get("source"), str) for c in cells):
            raise ValueError("its cells are malformed")
    except Exception as e:
        detail = (str(e).strip().splitlines() or [""])[0][:200]
        raise GradingError(f"not a readable notebook ({type(e).__name__}: {detail})") from None
    return nb


def gradable(path: Path):  # -> nbformat.NotebookNode
    """The submission, read; GradingError (its one-line reason) if it cannot be graded."""
    nb = read_submission(path)
    if not any(check_names(c.source) for c in nb.cells if c.cell_type == "code"):
        raise GradingError("no check cells (`checks.<exercise>(...)`): is this an exercise notebook?")
    return nb


def _verdict(name: str, error: dict, timeout: int) -> ExerciseResult:
    ename, evalue = str(error.get("ename", "Error")), without_ansi(str(error.get("evalue", ""))).strip()
    if ename == TIMED_OUT:
        return ExerciseResult(name, "timed_out", f"a cell ran longer than {timeout} s (endless loop?)")
    if ename == "CheckFailed":
        return ExerciseResult(name, "failed", evalue or "the check failed")
    if ename == "NotImplementedError":
        return ExerciseResult(name, "not_attempted", "not attempted yet")
    return ExerciseResult(name, "failed", one_line(f"your code raised {ename}: {evalue}".rstrip(": ")))


def _stop_verdict(kind: str, here: bool, cell: int, timeout: int, limit: float | None) -> tuple[str, str]:
    """(status, message) of a check in the cell where grading stopped (``here``) or after it."""
    if kind == "died":
        where = "while this check ran" if here else f"in cell {cell}, before this check"
        return "not_run", f"the Python kernel died {where} (os._exit, a crash or out of memory?)"
    if kind == "stuck":
        if here:
            return "timed_out", (f"a cell ran longer than {timeout} s and did not stop when interrupted "
                                 "(an endless loop that catches KeyboardInterrupt?)")
        return "not_run", f"not run: cell {cell} ran longer than {timeout} s and did not stop when interrupted, so grading stopped there"
    if kind == "limit":
        if here:
            return "timed_out", f"the notebook reached its time limit of {limit:g} s while this check ran, so grading stopped"
        return "not_run", f"not run: the notebook reached its time limit of {limit:g} s in cell {cell}, so grading stopped there"
    if here:  # "lost": the worker process grading the notebook ended
        return "not_run", "grading stopped while this check ran: the grader's worker process ended (out of memory?)"
    return "not_run", f"not run: the grader's worker process ended in cell {cell} (out of memory?)"


def verdicts(nb, replies: dict[int, dict], timeout: int, stop: tuple[int, str] | None = None,
             start: int = 0, end: int | None = None, limit: float | None = None) -> list[ExerciseResult]:
    """The verdict of every check in cells ``start`` to ``end`` (exclusive), in notebook order.

    ``replies``: the kernel's execute reply of each cell run, by cell index; ``stop``: (cell index,
    "died", "stuck", "limit" or "lost") where the run ended early, or None.
    """
    results: list[ExerciseResult] = []
    for i, cell in enumerate(nb.cells):
        if i < start or (end is not None and i >= end):
            continue
        names = check_names(cell.source) if cell.cell_type == "code" else []
        if stop is not None and i >= stop[0]:
            status, message = _stop_verdict(stop[1], i == stop[0], stop[0] + 1, timeout, limit)
            results += [ExerciseResult(n, status, message) for n in names]
            continue
        lines = [line.strip() for out in cell.get("outputs", [])
                 if out.get("output_type") == "stream" and out.get("name") == "stdout"
                 for line in out.get("text", "").splitlines()]
        said = [line for line in lines if line.startswith(("✅", "⏳"))]
        reply = replies.get(i, {})
        for k, name in enumerate(names):
            if k < len(said):
                status = "passed" if said[k].startswith("✅") else "not_attempted"
                results.append(ExerciseResult(name, status, said[k][1:].strip()))
            elif k == len(said) and reply.get("status") == "error":
                results.append(_verdict(name, reply, timeout))
            elif reply.get("status") == "error":
                results.append(ExerciseResult(name, "not_run", "an earlier check in the same cell stopped the cell"))
            else:
                results.append(ExerciseResult(name, "not_run", "this check printed no verdict (was its call skipped?)"))
    return results
