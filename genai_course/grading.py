"""Build exercise notebooks from their solutions, and grade submitted notebooks.

``build``: each ``solutions/NN_name.py`` (jupytext py:percent) becomes ``exercises/NN_name.py``
and ``exercises/NN_name.ipynb``: every ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block becomes
a TODO that raises ``NotImplementedError``, and every code cell whose first line is
``# SOLUTION ONLY`` is dropped. Same input, byte-identical output.

``grade``: each submission runs in a fresh kernel, cell by cell, and every check cell
(``checks.<name>(...)``) is judged by what it printed (a line starting with ✅ or ⏳) or raised
(``CheckFailed``: the learner-facing message; anything else: "your code raised ...").

A ground-floor module: it imports nothing else from ``genai_course``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import subprocess
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "GradingError", "ExerciseResult", "SubmissionResult", "exercise_source", "exercise_notebook",
    "find_root", "build_exercises", "grade_notebook", "format_result", "main_build", "main_grade",
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


def _run(nb, folder: Path, timeout: int) -> tuple[dict[int, dict], int | None]:
    """Execute every code cell, continuing after errors: (replies by cell index, cell the kernel died in)."""
    from nbclient import NotebookClient

    replies: dict[int, dict] = {}
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": _TIMED_OUT, "evalue": "", "traceback": []}, shutdown_kernel="immediate",
        resources={"metadata": {"path": str(folder)}}, log=_QUIET,
        on_cell_executed=lambda cell, cell_index, execute_reply: replies.__setitem__(
            cell_index, (execute_reply or {}).get("content", {})),
    )
    started, died_at = False, None
    try:
        with client.setup_kernel(stderr=subprocess.DEVNULL):  # kernel chatter stays off our stderr
            started = True
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, i)
                except Exception:  # DeadKernelError, or the kernel became unreachable
                    died_at = i
                    break
    except Exception as e:
        if not started:
            raise GradingError(f"could not start a Python kernel ({type(e).__name__}: {_one_line(str(e), 150)})") from None
    return replies, died_at


def _judge(nb, replies: dict[int, dict], died_at: int | None, timeout: int) -> list[ExerciseResult]:
    results: list[ExerciseResult] = []
    for i, cell in enumerate(nb.cells):
        names = _check_names(cell.source) if cell.cell_type == "code" else []
        if died_at is not None and i >= died_at:
            where = "while this check ran" if i == died_at else f"in cell {died_at + 1}, before this check"
            results += [ExerciseResult(n, "not_run", f"the Python kernel died {where} (os._exit, a crash "
                                       "or out of memory?)") for n in names]
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


def grade_notebook(path: str | Path, timeout: int = 120) -> SubmissionResult:
    """Run one submission (.ipynb or py:percent .py) in a fresh kernel and judge every check cell.

    Each cell may run ``timeout`` seconds. Never raises for a bad submission: it comes back
    with status "unusable" and a one-line reason.
    """
    start = time.monotonic()
    path = Path(path)
    try:
        nb = _read_submission(path)
        if not any(_check_names(c.source) for c in nb.cells if c.cell_type == "code"):
            raise GradingError("no check cells (`checks.<exercise>(...)`): is this an exercise notebook?")
        replies, died_at = _run(nb, path.resolve().parent, timeout)
    except GradingError as e:
        return SubmissionResult(str(path), "unusable", str(e), seconds=round(time.monotonic() - start, 2))
    exercises = _judge(nb, replies, died_at, timeout)
    return SubmissionResult(str(path), "graded", None, exercises, round(time.monotonic() - start, 2))


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


def main_grade(paths: list[str], as_json: bool, timeout: int) -> int:
    """``genai-course grade PATH... [--json] [--timeout S]``: 0 all passed, 1 some not passed, 2 unusable."""
    results: list[SubmissionResult] = []
    for path, reason in _expand(paths):
        result = SubmissionResult(path, "unusable", reason) if reason else grade_notebook(path, timeout)
        results.append(result)
        if not as_json:
            print(format_result(result), flush=True)
    unusable = sum(r.status != "graded" for r in results)
    passed = sum(r.all_passed for r in results)
    # a submission "with failures" has an exercise that failed, timed out or never ran; the rest
    # of those not all passed only have exercises not attempted yet
    failing = sum(r.status == "graded" and any(e.status not in ("passed", "not_attempted") for e in r.exercises) for r in results)
    if as_json:
        print(json.dumps({"submissions": [asdict(r) for r in results]}, indent=2, ensure_ascii=False))
    else:
        n = len(results)
        print(f"{n} submission{'s' if n != 1 else ''}: {passed} all passed, {failing} with failures, "
              f"{n - passed - failing - unusable} not finished, {unusable} unusable")
    return 2 if unusable else (0 if passed == len(results) else 1)
