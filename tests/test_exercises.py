"""Exercises: solutions grade all-passed, generated exercises run and grade 'not attempted'.

Also: exercises/ is what `genai-course build` makes of solutions/, every lesson has at
least two exercises, and each exercise is checked by a check that exists in the library.
"""

from __future__ import annotations

import json
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
def test_solutions_grade_passed_and_exercises_not_attempted(capsys):
    """Every solution notebook passes every check and every generated exercise is 'not attempted' throughout,
    graded as the grader grades (apart, in one run: how long it takes is measured by `make bench`)."""
    paths = [str(p) for p in SOLUTIONS + EXERCISES]
    assert grading.main_grade(paths, as_json=True, timeout=120, jobs=2) == 1
    results = json.loads(capsys.readouterr().out)["submissions"]
    assert [r["path"] for r in results] == paths
    wrong = []
    for result, expected in zip(results, ["passed"] * len(SOLUTIONS) + ["not_attempted"] * len(EXERCISES)):
        assert result["status"] == "graded" and result["exercises"], result
        wrong += [f"{result['path']}: {e['name']} {e['status']} {e['message']}" for e in result["exercises"] if e["status"] != expected]
    assert not wrong, wrong


@pytest.mark.notebooks
@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: f"exercises/{p.name}")
def test_exercise_notebook_runs_top_to_bottom(path):
    """A learner who opens a blank exercise can run every cell: the checks wait, the pictures say what to finish."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "exercises")}}).execute()
    printed = "".join(out.get("text", "") for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", []))
    assert printed.count("⏳ ") == sum(source.count("checks.") for source in (c.source for c in nb.cells if c.cell_type == "code"))
