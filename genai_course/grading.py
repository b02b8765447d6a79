"""Build exercise notebooks from their solutions, and grade submitted notebooks.

``build``: each ``solutions/NN_name.py`` (jupytext py:percent) becomes ``exercises/NN_name.py``
and ``exercises/NN_name.ipynb``: every ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block becomes
a TODO that raises ``NotImplementedError``, and every code cell whose first line is
``# SOLUTION ONLY`` is dropped. Same input, byte-identical output.

``grade``: each submission runs in a fresh kernel, cell by cell, and every check cell
(``checks.<name>(...)``) is judged by what it printed (a line starting with ✅ or ⏳) or raised
(``CheckFailed``: the learner-facing message; anything else: "your code raised ...").
Feedback is never a traceback, and any line of a course solution that a message quotes is
replaced by "[solution hidden]".

One submission cannot stop the others. Each cell may run ``--timeout`` seconds, then it is
interrupted; a kernel that does not answer within GRACE seconds of the interrupt (code that
catches KeyboardInterrupt, ignores SIGINT or is blocked in C) is killed: that check timed out,
the later ones were not run. A kernel that dies (``os._exit``, a crash) leaves its checks not
run. And every submission is graded in a worker process under a hard wall-clock limit
(``--limit``; default: the timeout for each code cell and one more, plus 60 s): past it, the
worker and its kernel's whole process group are killed, and the submission keeps the
verdicts it had. ``--jobs`` submissions are graded at once; reports keep the input order.

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

A ground-floor module: it imports nothing else from ``genai_course``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "GradingError", "ExerciseResult", "SubmissionResult", "Submission", "REPORT_COLUMNS", "exercise_source",
    "exercise_notebook", "find_root", "build_exercises", "grade_notebook", "class_submissions", "report_rows",
    "write_report", "solution_only_lines", "hide_solutions", "default_jobs", "default_limit", "format_result",
    "main_build", "main_grade",
]

SOLUTION_ONLY = "# SOLUTION ONLY"
TODO_LINES = (
    "# TODO: write your solution here (see the exercise above), then run the check below.",
    'raise NotImplementedError("exercise not attempted yet")',
)
# The project's jupytext settings (pyproject.toml), so `jupytext --sync` leaves built files alone.
JUPYTEXT = {"formats": "ipynb,py:percent", "notebook_metadata_filter": "-all", "cell_metadata_filter": "-all"}
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
SYMBOLS = {"passed": "✅", "failed": "❌", "not_attempted": "⏳", "timed_out": "⏰", "not_run": "💥"}

_MARKER = re.compile(r"^([ \t]*)#\s*(BEGIN|END) SOLUTION\s*$")
_CELL = re.compile(r"^#\s*%%(.*)$")
_TEXT_CELL = re.compile(r"\[(markdown|md|raw)\]")
_SOLUTION_NAME = re.compile(r"^\d\d_.+\.py$")
_EXERCISE_NAME = re.compile(r"^\d\d_.+\.(py|ipynb)$")
_CHECK_CALL = re.compile(r"\bchecks\.(\w+)\(")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_TIMED_OUT = "genai_course.grading: cell timed out"  # ename of the reply nbclient fakes on timeout
_QUIET = logging.getLogger("genai_course.grading.kernel")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


class GradingError(ValueError):
    """Unusable input (a malformed solution, a missing folder): reported as one line, exit 2."""


# ----------------------------------------------------------------------------- build
def _solution_blocks_replaced(text: str, source: str) -> str:
    """Replace each marked block (markers included) by the TODO lines, at the marker's indent."""
    out: list[str] = []
    in_code, opened = True, None  # opened: (line number, indent) of the open BEGIN marker
    for n, line in enumerate(text.splitlines(keepends=True), 1):
        bare = line.rstrip("\r\n")
        cell = _CELL.match(bare)
        if cell:
            if opened:
                raise GradingError(f"{source}, line {opened[0]}: '# BEGIN SOLUTION' is not closed by "
                                   f"'# END SOLUTION' before the next cell (line {n})")
            in_code = not _TEXT_CELL.search(cell.group(1))
        marker = _MARKER.match(bare) if in_code and not cell else None
        if marker is None:
            if opened is None:
                out.append(line)
            continue
        indent, kind = marker.groups()
        if kind == "BEGIN":
            if opened:
                raise GradingError(f"{source}, line {n}: '# BEGIN SOLUTION' inside the solution block "
                                   f"opened at line {opened[0]} (blocks cannot nest)")
            opened = (n, indent)
        elif opened is None:
            raise GradingError(f"{source}, line {n}: '# END SOLUTION' without a '# BEGIN SOLUTION' before it")
        elif indent != opened[1]:
            raise GradingError(f"{source}, line {n}: '# END SOLUTION' is indented differently from "
                               f"its '# BEGIN SOLUTION' at line {opened[0]}")
        else:
            out.extend(f"{indent}{todo}\n" for todo in TODO_LINES)
            opened = None
    if opened:
        raise GradingError(f"{source}, line {opened[0]}: '# BEGIN SOLUTION' is never closed by '# END SOLUTION'")
    return "".join(out)


def _read_percent(text: str, source: str):  # -> nbformat.NotebookNode
    import jupytext

    try:
        return jupytext.reads(text, fmt="py:percent")
    except Exception as e:  # jupytext's own errors have no common base class
        raise GradingError(f"{source}: not a readable py:percent notebook ({type(e).__name__}: {e})") from None


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"


def exercise_source(solution_py_text: str, source: str = "the solution notebook") -> str:
    """The py:percent text of the exercise built from a solution's py:percent text.

    ``source`` names the solution in the header cell and in errors (``solutions/NN_name.py``).
    Raises GradingError, naming ``source`` and the line, for unbalanced or nested markers.
    """
    import jupytext
    import nbformat

    nb = _read_percent(_solution_blocks_replaced(solution_py_text, source), source)
    cells = [c for c in nb.cells
             if not (c.cell_type == "code" and c.source.split("\n", 1)[0].strip() == SOLUTION_ONLY)]
    header = f"Generated from {source} by `genai-course build`: do not edit by hand."
    nb.cells = [nbformat.v4.new_markdown_cell(header)] + cells
    nb.metadata = {"jupytext": dict(JUPYTEXT)}  # no YAML header, no cell metadata in the .py
    return _with_newline(jupytext.writes(nb, fmt="py:percent"))


def exercise_notebook(exercise_py_text: str) -> str:
    """The .ipynb text for an exercise's py:percent text: no outputs, kernelspec python3, stable ids."""
    import jupytext

    nb = _read_percent(exercise_py_text, "exercise")
    nb.metadata = {"jupytext": dict(JUPYTEXT), "kernelspec": dict(KERNELSPEC)}
    seen: set[str] = set()
    for i, cell in enumerate(nb.cells):  # ids from content, not random: same input, same bytes
        cell_id = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
        cell["id"] = cell_id if cell_id not in seen else f"{cell_id}-{i}"
        seen.add(cell["id"])
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return _with_newline(jupytext.writes(nb, fmt="ipynb"))


def find_root(root: str | None = None) -> Path:
    """The course folder: ``root`` if given, else the current folder or the package's parent."""
    if root is not None:
        if not (Path(root) / "solutions").is_dir():
            raise GradingError(f"no solutions/ folder in {root} (is --root the course folder?)")
        return Path(root)
    for candidate in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (candidate / "solutions").is_dir():
            return candidate
    raise GradingError("cannot find the course's solutions/ folder (run this in the course folder, or pass --root)")


def build_exercises(root: str | Path, check: bool = False) -> list[str]:
    """Regenerate ``exercises/`` from ``solutions/NN_*.py``; return the files that differed.

    Returned paths are relative to ``root`` (posix), sorted: files written (or, with ``check``,
    stale or missing) and extra ``exercises/NN_*.py|ipynb`` without a solution (removed unless
    ``check``). With ``check`` nothing on disk changes.
    """
    root = Path(root)
    solutions, exercises = root / "solutions", root / "exercises"
    if not solutions.is_dir():
        raise GradingError(f"no solutions/ folder in {root}")
    wanted: dict[Path, bytes] = {}
    for solution in sorted(p for p in solutions.iterdir() if _SOLUTION_NAME.match(p.name) and p.is_file()):
        source = f"solutions/{solution.name}"
        try:
            text = solution.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise GradingError(f"cannot read {source}: {e}") from None
        py = exercise_source(text, source)
        wanted[exercises / solution.name] = py.encode("utf-8")
        wanted[exercises / f"{solution.stem}.ipynb"] = exercise_notebook(py).encode("utf-8")
    present = sorted(p for p in exercises.iterdir() if _EXERCISE_NAME.match(p.name)) if exercises.is_dir() else []
    changed = [p for p, data in wanted.items() if not p.is_file() or p.read_bytes() != data]
    extra = [p for p in present if p not in wanted and p.is_file()]
    if not check:
        exercises.mkdir(exist_ok=True)
        for p in changed:
            p.write_bytes(wanted[p])
        for p in extra:
            p.unlink()
    return sorted(p.relative_to(root).as_posix() for p in changed + extra)


def main_build(check: bool, root: str | None) -> int:
    """``genai-course build [--check] [--root DIR]``: 0 done or up to date, 1 stale (check), 2 error."""
    try:
        base = find_root(root)
        changed = build_exercises(base, check=check)
    except (GradingError, OSError) as e:
        print(f"genai-course build: error: {e}", file=sys.stderr)
        return 2
    if not changed:
        print("exercises/ is up to date with solutions/")
        return 0
    for name in changed:
        path = base / name
        if check:
            has_solution = (base / "solutions" / f"{path.stem}.py").is_file()
            kind = ("stale" if path.exists() else "missing") if has_solution else "extra (no solution for it)"
            print(f"{kind}: {name}")
        else:
            print(f"{'wrote' if path.exists() else 'removed'} {name}")
    if check:
        print(f"exercises/ is out of date ({len(changed)} file(s)): run `genai-course build`")
        return 1
    return 0


# ----------------------------------------------------------------------------- grade
GRACE = 5.0  # seconds a kernel gets to answer again after a timed-out cell was interrupted
REPORT_COLUMNS = ("learner", "notebook", "exercise", "status", "feedback", "seconds", "path")
HIDDEN = "[solution hidden]"


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


def _check_names(source: str) -> list[str]:
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    return _CHECK_CALL.findall(code)


def _read_submission(path: Path):  # -> nbformat.NotebookNode
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


def _gradable(path: Path):  # -> nbformat.NotebookNode
    """The submission, read; GradingError (its one-line reason) if it cannot be graded."""
    nb = _read_submission(path)
    if not any(_check_names(c.source) for c in nb.cells if c.cell_type == "code"):
        raise GradingError("no check cells (`checks.<exercise>(...)`): is this an exercise notebook?")
    return nb


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(_ANSI.sub("", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _verdict(name: str, error: dict, timeout: int) -> ExerciseResult:
    ename, evalue = str(error.get("ename", "Error")), _ANSI.sub("", str(error.get("evalue", ""))).strip()
    if ename == _TIMED_OUT:
        return ExerciseResult(name, "timed_out", f"a cell ran longer than {timeout} s (endless loop?)")
    if ename == "CheckFailed":
        return ExerciseResult(name, "failed", evalue or "the check failed")
    if ename == "NotImplementedError":
        return ExerciseResult(name, "not_attempted", "not attempted yet")
    return ExerciseResult(name, "failed", _one_line(f"your code raised {ename}: {evalue}".rstrip(": ")))


def _answers(client: Any, seconds: float) -> bool:
    """Whether the kernel answers a no-op request within ``seconds`` (after an interrupted cell)."""
    from queue import Empty

    from jupyter_core.utils import ensure_async, run_sync

    async def probe() -> bool:
        kc = client.kc
        msg_id = await ensure_async(kc.execute("", silent=True, store_history=False, stop_on_error=False))
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ensure_async(kc.get_shell_msg(timeout=left))
            except Empty:
                return False
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return True
        return False

    try:
        return bool(run_sync(probe)())
    except Exception:  # the kernel died meanwhile, or its channels closed
        return False


def _run(nb, folder: Path, timeout: int, on_kernel: Callable[[Any], None] | None = None,
         before_cell: Callable[[int, dict[int, dict]], None] | None = None) -> tuple[dict[int, dict], tuple[int, str] | None]:
    """Execute every code cell, continuing after errors: (replies by cell index, where and why it stopped).

    It stops at cell i with (i, "died") when the kernel died there, and with (i, "stuck") when
    cell i ran past ``timeout`` and the kernel did not answer within GRACE seconds of being
    interrupted (code that catches KeyboardInterrupt, ignores SIGINT, or is blocked in C):
    nbclient would interrupt again at every later cell, so the kernel is killed instead.
    """
    from nbclient import NotebookClient

    replies: dict[int, dict] = {}
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": _TIMED_OUT, "evalue": "", "traceback": []}, shutdown_kernel="immediate",
        resources={"metadata": {"path": str(folder)}}, log=_QUIET,
        on_cell_executed=lambda cell, cell_index, execute_reply: replies.__setitem__(
            cell_index, (execute_reply or {}).get("content", {})),
    )
    started, stop = False, None
    try:
        # kernel chatter stays off our streams; leaving the block kills the kernel (SIGKILL to its process group)
        with client.setup_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            started = True
            if on_kernel is not None:
                on_kernel(client.km)
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if before_cell is not None:
                    before_cell(i, replies)
                try:
                    client.execute_cell(cell, i)
                except Exception:  # DeadKernelError, or the kernel became unreachable
                    stop = (i, "died")
                    break
                if replies.get(i, {}).get("ename") == _TIMED_OUT and not _answers(client, GRACE):
                    stop = (i, "stuck")
                    break
    except Exception as e:
        if not started:
            raise GradingError(f"could not start a Python kernel ({type(e).__name__}: {_one_line(str(e), 150)})") from None
    return replies, stop


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


def _judge(nb, replies: dict[int, dict], timeout: int, stop: tuple[int, str] | None = None,
           start: int = 0, end: int | None = None, limit: float | None = None) -> list[ExerciseResult]:
    """The verdict of every check in cells ``start`` to ``end`` (exclusive), in notebook order."""
    results: list[ExerciseResult] = []
    for i, cell in enumerate(nb.cells):
        if i < start or (end is not None and i >= end):
            continue
        names = _check_names(cell.source) if cell.cell_type == "code" else []
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


def _grade(path: Path, timeout: int, on_kernel: Callable[[Any], None] | None = None,
           on_progress: Callable[[int, list[ExerciseResult]], None] | None = None) -> SubmissionResult:
    start = time.monotonic()
    try:
        nb = _gradable(path)
        before = None if on_progress is None else (lambda i, replies: on_progress(i, _judge(nb, replies, timeout, end=i)))
        replies, stop = _run(nb, path.resolve().parent, timeout, on_kernel, before)
    except GradingError as e:
        return SubmissionResult(str(path), "unusable", str(e), seconds=round(time.monotonic() - start, 2))
    return SubmissionResult(str(path), "graded", None, _judge(nb, replies, timeout, stop), round(time.monotonic() - start, 2))


def grade_notebook(path: str | Path, timeout: int = 120) -> SubmissionResult:
    """Run one submission (.ipynb or py:percent .py) in a fresh kernel, in this process, and judge every check cell.

    Each cell may run ``timeout`` seconds; a cell that will not stop when interrupted has its
    kernel killed (its checks timed out, later ones not run). Never raises for a bad submission:
    it comes back with status "unusable" and a one-line reason. ``main_grade`` runs each
    submission through this in a worker process, under a hard wall-clock limit.
    """
    return _grade(Path(path), timeout)


# ----------------------------------------------------------------------------- workers
def default_jobs() -> int:
    """Submissions graded at once by default: the CPU cores this process may use, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def default_limit(nb, timeout: int) -> float:
    """A submission's hard wall-clock limit: ``timeout`` per code cell, plus one more, plus 60 s to start."""
    return float(timeout * (sum(c.cell_type == "code" for c in nb.cells) + 1) + 60)


def _kill_kernel(kernel: dict[str, Any]) -> None:
    """SIGKILL a kernel (its whole process group where it has one), if it still exists."""
    pid, pgid = kernel.get("pid"), kernel.get("pgid")
    try:
        if pgid and hasattr(os, "killpg"):
            os.killpg(int(pgid), signal.SIGKILL)
        elif pid:
            os.kill(int(pid), signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
    except (OSError, ValueError):  # gone already
        pass


def _worker() -> None:
    """A grading worker (``main_grade`` starts it): one task a line on stdin, JSON lines on stdout.

    Task: ``{"path": ..., "timeout": ...}``. Answers: ``{"kernel": {"pid", "pgid"}}`` once the
    kernel runs, ``{"running": i, "exercises": [...]}`` before each code cell (the verdicts so far),
    then ``{"result": {...}}``. ASCII JSON, so no locale can garble a path.
    """
    answers = os.fdopen(os.dup(1), "w", encoding="ascii", buffering=1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)  # the kernel and anything that prints write nowhere near the answers
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (for the process's life)
    lock = threading.Lock()
    kernel: dict[str, Any] = {}

    def say(message: dict[str, Any]) -> None:
        with lock:
            answers.write(json.dumps(message) + "\n")
            answers.flush()

    parent = os.getppid()

    def orphaned() -> None:  # the grader went away (killed): take the kernel down too
        while True:
            time.sleep(1)
            if os.getppid() != parent:
                _kill_kernel(kernel)
                os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()

    def on_kernel(km: Any) -> None:
        provisioner = getattr(km, "provisioner", None)
        kernel.update(pid=getattr(provisioner, "pid", None), pgid=getattr(provisioner, "pgid", None))
        say({"kernel": dict(kernel)})

    def on_progress(i: int, done: list[ExerciseResult]) -> None:
        say({"running": i, "exercises": [asdict(e) for e in done]})

    for line in iter(sys.stdin.buffer.readline, b""):
        task = json.loads(line)
        try:
            result = _grade(Path(task["path"]), int(task["timeout"]), on_kernel, on_progress)
        except Exception as e:  # a bug of ours: still one row, still the next submission
            result = SubmissionResult(task["path"], "unusable", f"the grader failed on this notebook ({type(e).__name__}: {_one_line(str(e), 150)})")
        kernel.clear()
        say({"result": asdict(result)})


class _Worker:
    """One worker process, grading one submission at a time."""

    def __init__(self) -> None:
        package_parent = str(Path(__file__).resolve().parent.parent)
        code = f"import sys; sys.path.insert(0, {package_parent!r}); from genai_course import grading; grading._worker()"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=os.name == "posix",  # a Ctrl-C in the terminal reaches the grader only
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.kernel: dict[str, Any] = {}
        self.killing, self.killed = threading.Lock(), False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in iter(self.proc.stdout.readline, b""):
                try:
                    self.messages.put(json.loads(line))
                except ValueError:
                    continue
        except (OSError, ValueError):  # the pipe was closed under us
            pass
        self.messages.put(None)

    def grade(self, path: str, nb, timeout: int, limit: float) -> tuple[SubmissionResult, bool]:
        """(result, whether this worker can grade another): within ``limit`` seconds, whatever the notebook does."""
        start = time.monotonic()
        running, done, kind = None, [], "lost"
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps({"path": path, "timeout": timeout}) + "\n").encode("ascii"))
            self.proc.stdin.flush()
        except OSError:
            self.messages.put(None)
        while True:
            left = start + limit - time.monotonic()
            try:
                if left <= 0:
                    raise queue.Empty
                message = self.messages.get(timeout=left)
            except queue.Empty:
                kind = "limit"
                break
            if message is None:
                break
            if "kernel" in message:
                self.kernel = message["kernel"]
            elif "running" in message:
                running, done = message["running"], message["exercises"]
            elif "result" in message:
                self.kernel = {}
                return SubmissionResult.from_dict(message["result"]), True
        self.kill()
        seconds = round(time.monotonic() - start, 2)
        if running is None:
            reason = (f"grading stopped at its time limit of {limit:g} s, before the first cell ran (the Python kernel did not start?)"
                      if kind == "limit" else "the grader's worker process ended before the first cell ran")
            return SubmissionResult(path, "unusable", reason, seconds=seconds), False
        exercises = [ExerciseResult(**e) for e in done] + _judge(nb, {}, timeout, (running, kind), start=running, limit=limit)
        return SubmissionResult(path, "graded", None, exercises, seconds), False

    def kill(self) -> None:
        with self.killing:  # once: the worker's pid may be reused after it was waited for
            if not self.killed:
                self.killed = True
                self._kill()

    def _kill(self) -> None:
        _kill_kernel(self.kernel)
        try:
            if os.name == "posix":
                os.killpg(self.proc.pid, signal.SIGKILL)  # the worker and anything it started in its session
            else:
                self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        self.reader.join(timeout=5)  # it reads to the end of the pipe, which a dead worker closed
        while True:  # a kernel the worker started after its last message was read
            try:
                message = self.messages.get_nowait()
            except queue.Empty:
                break
            if message and "kernel" in message:
                _kill_kernel(message["kernel"])
        self.kernel = {}
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass


class _Pool:
    """Worker processes for up to ``jobs`` submissions at once; a worker that had to be killed is replaced."""

    def __init__(self) -> None:
        self.idle: list[_Worker] = []
        self.busy: set[_Worker] = set()
        self.closed = False
        self.lock = threading.Lock()

    def grade(self, path: str, nb, timeout: int, limit: float | None) -> SubmissionResult:
        with self.lock:
            if self.closed:
                raise RuntimeError("grading was stopped")
            worker = self.idle.pop() if self.idle else _Worker()
            self.busy.add(worker)
        reusable = False
        try:
            result, reusable = worker.grade(path, nb, timeout, limit or default_limit(nb, timeout))
            return result
        finally:
            with self.lock:
                self.busy.discard(worker)
                if reusable and not self.closed:
                    self.idle.append(worker)
                else:
                    reusable = False
            if not reusable:
                worker.kill()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            workers, self.idle = list(self.idle) + list(self.busy), []
        for worker in workers:
            worker.kill()


def _grade_all(items: list[tuple[str, str | None]], timeout: int, jobs: int | None, limit: float | None,
               on_result: Callable[[int, SubmissionResult], None]) -> list[SubmissionResult]:
    """Grade (path, reason it is unusable or None) items, ``jobs`` at a time; results in the items' order."""
    results: list[SubmissionResult | None] = [None] * len(items)
    todo: list[tuple[int, str, Any]] = []
    for k, (path, reason) in enumerate(items):
        if reason is None:
            start, path = time.monotonic(), str(Path(path))
            try:
                todo.append((k, path, _gradable(Path(path))))  # unusable ones never start a worker
                continue
            except GradingError as e:
                results[k] = SubmissionResult(path, "unusable", str(e), seconds=round(time.monotonic() - start, 2))
        else:
            results[k] = SubmissionResult(path, "unusable", reason)
    pool = _Pool()
    workers = max(1, min(jobs or default_jobs(), len(todo) or 1))
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade")
    try:
        futures = {k: executor.submit(pool.grade, path, nb, timeout, limit) for k, path, nb in todo}
        for k in range(len(items)):  # in order, each as soon as it and those before it are done
            if results[k] is None:
                results[k] = futures[k].result()
            on_result(k, results[k])
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        pool.close()  # on Ctrl-C too: no worker or kernel outlives the grader
        executor.shutdown(wait=True)
    return [r for r in results if r is not None]


# ----------------------------------------------------------------------------- class folders
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


# ----------------------------------------------------------------------------- no solution in the feedback
def solution_only_lines(solution_text: str, source: str = "the solution notebook") -> set[str]:
    """Lines of a solution that its exercise does not show (stripped, at least 12 characters), with and
    without a trailing ``# comment``: what feedback must never quote. Marker lines are left out.

    What the exercise shows: the solution with its marked blocks replaced and its ``# SOLUTION ONLY``
    cells dropped (as ``exercise_source`` does, without a round trip through jupytext).
    """
    given: set[str] = set()
    cell: list[str] = []
    for line in _solution_blocks_replaced(solution_text, source).splitlines() + ["# %%"]:
        if _CELL.match(line):
            body = [text for text in (c.strip() for c in cell[1:]) if text]
            if not (body and body[0] == SOLUTION_ONLY and cell and not _TEXT_CELL.search(cell[0])):
                given |= {c.strip() for c in cell}
            cell = []
        cell.append(line)
    hidden: set[str] = set()
    for line in solution_text.splitlines():
        text = line.strip()
        if text in given or _MARKER.match(text) or text == SOLUTION_ONLY:
            continue
        hidden |= {t for t in (text, text.split("  #", 1)[0].strip()) if len(t) >= 12 and t not in given}
    return hidden


def _course_solution_lines() -> list[str]:
    """solution_only_lines of every solutions/NN_*.py of the course found here (none if not found), longest first."""
    try:
        solutions = find_root() / "solutions"
        files = sorted(p for p in solutions.iterdir() if _SOLUTION_NAME.match(p.name) and p.is_file())
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
    """The result with every quoted solution line in its messages replaced by HIDDEN.

    Feedback is built from check messages and the learner's own errors, never from tracebacks;
    but some checks' hints quote a line of the solution (e.g. ``logits = logits / temperature``).
    """
    def clean(text: str | None) -> str | None:
        if not text:
            return text
        for line in hidden:
            if line in text:
                text = text.replace(line, HIDDEN)
        return text

    return SubmissionResult(result.path, result.status, clean(result.reason),
                            [ExerciseResult(e.name, e.status, clean(e.message) or "") for e in result.exercises], result.seconds)


# ----------------------------------------------------------------------------- the command
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


def main_grade(paths: list[str], as_json: bool, timeout: int, report: str | Path | None = None,
               jobs: int | None = None, limit: float | None = None) -> int:
    """``genai-course grade PATH... [--json] [--timeout S] [--jobs N] [--limit S] [--report CSV]``.

    Exit code 0 all passed, 1 some not passed, 2 unusable (a submission, or with ``report``
    the folder). Each submission is graded in a worker process of its own kernel, ``jobs`` at
    once, within ``limit`` seconds (default: ``default_limit``), and reported in order. With
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
    hidden = _course_solution_lines()
    shown: dict[int, SubmissionResult] = {}

    def show(k: int, result: SubmissionResult) -> None:
        shown[k] = hide_solutions(result, hidden)
        if not as_json:
            print(format_result(shown[k]), flush=True)

    _grade_all(items, timeout, jobs, limit, show)
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
