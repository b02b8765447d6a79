"""The mutation table's machinery: each exercise's course solution, mutated the ways learners go wrong,
must be judged not passed, with a specific message in the learner's terms and no traceback.

A row is ``Mutant(check, function, find, replace, fragments)``: in the solution notebook of the
check's lesson (``solutions/NN_*.py``), the cell that defines ``function`` has ``find`` (which must
occur exactly once) replaced by ``replace``; the mutated function is defined beside the unmutated
solution's other functions and setup, and the check's probe and judge are called directly (no
notebook runs): the verdict must be "failed" and its message must hold every fragment. Each test
file ``tests/test_mutations_<module>.py`` holds the rows for one module of ``genai_course.checks``
and takes its tests with ``mutation_tests(ROWS)``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import pytest

from genai_course import checks
from genai_course.checks import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
_CELL = re.compile(r"^# %%(.*)$", re.M)


class Mutant(NamedTuple):
    check: str  # the check's name, e.g. "d_step"
    function: str  # the solution function (or class) the mutation is made in
    find: str  # text of the solution's cell, exactly once
    replace: str  # what a learner wrote instead
    fragments: Sequence[str]  # what the verdict's message must say
    lesson: str | None = None  # the solution file's number, "05"; default: the check's exercise number


def _cells(path: Path) -> list[str]:
    """The code cells of a py:percent file, in order."""
    text = path.read_text(encoding="utf-8")
    starts = [m for m in _CELL.finditer(text)]
    cells = []
    for k, m in enumerate(starts):
        if "[markdown]" in m.group(1) or "[md]" in m.group(1):
            continue
        end = starts[k + 1].start() if k + 1 < len(starts) else len(text)
        cells.append(text[m.end():end])
    return cells


def solution_file(lesson: str) -> Path:
    (path,) = sorted((ROOT / "solutions").glob(f"{lesson}_*.py"))
    return path


@functools.lru_cache(maxsize=None)
def solution_namespace(lesson: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(namespace after the solution's setup cell and every solution cell, the solution cells)."""
    cells = _cells(solution_file(lesson))
    namespace: dict[str, Any] = {"__name__": f"solution_{lesson}"}
    exec(compile(cells[0], f"solutions/{lesson} setup", "exec"), namespace)
    solved = tuple(c for c in cells if "# BEGIN SOLUTION" in c)
    for cell in solved:
        exec(compile(cell, f"solutions/{lesson}", "exec"), namespace)
    return namespace, solved


def _lesson(check: str) -> str:
    return checks.EXERCISES[check].split()[1].split(".")[0].zfill(2)


def course_solution(check: str) -> Any:
    """The course's solution that ``check`` is called on in its solution notebook (``checks.<check>(<name>)``)."""
    lesson = _lesson(check)
    (arg,) = re.findall(rf"^checks\.{check}\((\w+)\)", solution_file(lesson).read_text(encoding="utf-8"), re.M)
    return solution_namespace(lesson)[0][arg]


def mutant_function(row: Mutant) -> Any:
    lesson = row.lesson or _lesson(row.check)
    namespace, solved = solution_namespace(lesson)
    (cell,) = [c for c in solved if re.search(rf"^(def|class) {re.escape(row.function)}\b", c, re.M)]
    assert cell.count(row.find) == 1, f"{row.find!r} occurs {cell.count(row.find)} times in the cell of {row.function}"
    mutated = dict(namespace)
    exec(compile(cell.replace(row.find, row.replace), f"mutant of {row.function}", "exec"), mutated)
    return mutated[row.function]


def assert_caught(row: Mutant) -> None:
    exercise = REGISTRY[row.check]
    verdict = exercise.verdict(exercise.probe(mutant_function(row)))
    assert verdict.status == "failed", verdict
    assert verdict.message.startswith(f"{exercise.label}: ")
    for fragment in row.fragments:
        assert fragment in verdict.message, verdict.message
    assert "\n" not in verdict.message and "Traceback" not in verdict.message


def mutation_tests(rows: Sequence[Mutant]) -> Any:
    """A test module's parametrized test: every row caught (``assert_caught``)."""

    @pytest.mark.parametrize("row", rows, ids=[f"{r.check}-{k}" for k, r in enumerate(rows)])
    def test_mutant_is_caught(row: Mutant) -> None:
        assert_caught(row)

    return test_mutant_is_caught


def solution_lines(lesson: str) -> set[str]:
    """The lines of the solution blocks of solutions/NN (and each without its comment), at least 12 characters."""
    inside, found = False, set()
    for line in solution_file(lesson).read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text in ("# BEGIN SOLUTION", "# END SOLUTION"):
            inside = text == "# BEGIN SOLUTION"
        elif inside:
            found |= {text, text.split("  #", 1)[0].strip()}
    return {text for text in found if len(text) >= 12}


def no_quote_tests(rows: Sequence[Mutant], lesson: str) -> Any:
    """A test module's parametrized test: no mutant's message quotes a line of the lesson's solution
    (the answer the learner is to write); it names the mistake instead."""

    @pytest.mark.parametrize("row", rows, ids=[f"{r.check}-{k}" for k, r in enumerate(rows)])
    def test_no_message_quotes_the_solution(row: Mutant) -> None:
        exercise = REGISTRY[row.check]
        message = exercise.verdict(exercise.probe(mutant_function(row))).message
        lines = solution_lines(lesson)
        assert lines
        assert not [line for line in lines if line in message], message

    return test_no_message_quotes_the_solution
