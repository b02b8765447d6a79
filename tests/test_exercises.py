"""Exercises: solutions grade all-passed, generated exercises run and grade 'not attempted'.

Also: exercises/ is what `genai-course build` makes of solutions/, every lesson has at
least two exercises, and each exercise is checked by a check that exists in the library.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genai_course import checks, grading

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))


def test_exercises_are_built_from_solutions():
    assert grading.build_exercises(ROOT, check=True) == [], "exercises/ is stale: run `genai-course build`"


def test_every_lesson_has_exercises_with_at_least_two_checks():
    lessons = sorted(p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    solved = sorted(p.name[:2] for p in SOLUTIONS)
    assert lessons == solved, f"lessons {lessons} but solutions for {solved}"
    for path in SOLUTIONS:
        called = re.findall(r"checks\.(\w+)\(", path.with_suffix(".py").read_text())
        assert len(set(called)) >= 2, f"{path.name} has {len(set(called))} checked exercises"
        unknown = set(called) - set(checks.EXERCISES)
        assert not unknown, f"{path.name} calls checks that do not exist: {unknown}"


GRADED = [pytest.param(p, "passed", id=f"solutions/{p.name}") for p in SOLUTIONS] + [
    pytest.param(p, "not_attempted", id=f"exercises/{p.name}") for p in EXERCISES
]


@pytest.mark.notebooks
@pytest.mark.parametrize(("path", "expected"), GRADED)
def test_notebook_grades_as_expected(path, expected):
    """Solutions pass every check; generated exercises run top to bottom, every check 'not attempted'."""
    result = grading.grade_notebook(path, timeout=120)
    assert result.status == "graded", result.reason
    assert result.exercises, "no exercises found"
    wrong = [f"{e.name}: {e.status} {e.message}" for e in result.exercises if e.status != expected]
    assert not wrong, wrong  # how long a solution notebook takes (45 s at most) is measured by `make bench`
