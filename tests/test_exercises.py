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


@pytest.mark.notebooks
@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_grades_all_passed(path):
    result = grading.grade_notebook(path, timeout=120)
    assert result.status == "graded", result.reason
    assert result.exercises, "no exercises found"
    failed = [f"{e.name}: {e.status} {e.message}" for e in result.exercises if e.status != "passed"]
    assert not failed, failed
    assert result.seconds <= 45, f"{path.name} took {result.seconds:.0f} s (budget 45 s)"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_exercise_runs_and_grades_not_attempted(path):
    result = grading.grade_notebook(path, timeout=120)
    assert result.status == "graded", result.reason
    assert result.exercises, "no exercises found"
    wrong = [f"{e.name}: {e.status} {e.message}" for e in result.exercises if e.status != "not_attempted"]
    assert not wrong, wrong
