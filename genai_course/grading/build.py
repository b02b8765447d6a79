"""``genai-course build``: exercise notebooks built from their solutions.

Each ``solutions/NN_name.py`` (jupytext py:percent) becomes ``exercises/NN_name.py`` and
``exercises/NN_name.ipynb``: every ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` block becomes a
TODO that raises ``NotImplementedError``, and every code cell whose first line is
``# SOLUTION ONLY`` is dropped. Same input, byte-identical output. ``--check`` changes nothing
on disk and says which files are stale, missing or extra.

``solution_only_lines`` is the other side of the same rule: the lines of a solution that its
exercise does not show, which feedback must never quote (``grading.hide``).
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

from .results import GradingError

__all__ = [
    "SOLUTION_ONLY", "TODO_LINES", "JUPYTEXT", "KERNELSPEC", "exercise_source", "exercise_notebook", "find_root",
    "solution_files", "build_exercises", "main_build", "solution_only_lines",
]

SOLUTION_ONLY = "# SOLUTION ONLY"
TODO_LINES = (
    "# TODO: write your solution here (see the exercise above), then run the check below.",
    'raise NotImplementedError("exercise not attempted yet")',
)
# The project's jupytext settings (pyproject.toml), so `jupytext --sync` leaves built files alone.
JUPYTEXT = {"formats": "ipynb,py:percent", "notebook_metadata_filter": "-all", "cell_metadata_filter": "-all"}
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

_MARKER = re.compile(r"^([ \t]*)#\s*(BEGIN|END) SOLUTION\s*$")
_CELL = re.compile(r"^#\s*%%(.*)$")
_TEXT_CELL = re.compile(r"\[(markdown|md|raw)\]")
_SOLUTION_NAME = re.compile(r"^\d\d_.+\.py$")
_EXERCISE_NAME = re.compile(r"^\d\d_.+\.(py|ipynb)$")


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
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[2]):  # genai_course/grading/build.py -> the course
        if (candidate / "solutions").is_dir():
            return candidate
    raise GradingError("cannot find the course's solutions/ folder (run this in the course folder, or pass --root)")


def solution_files(solutions: Path) -> list[Path]:
    """The solution notebooks in a ``solutions/`` folder (``NN_name.py``), sorted; OSError if it cannot be read."""
    return sorted(p for p in solutions.iterdir() if _SOLUTION_NAME.match(p.name) and p.is_file())


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
    for solution in solution_files(solutions):
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
