"""Tests for grading notebooks (genai_course.grading's run, judge, workers and grade): every verdict,
a kernel that dies, unusable files, the exit codes, and the worker process the grader starts.

The notebooks here are tiny and synthetic; each defines its own fake ``checks`` (printing ✅/⏳ or
raising ``CheckFailed``), so these tests do not depend on genai_course.checks. Tests marked
``notebooks`` start Jupyter kernels (about 1-2 s each). A class folder graded into a CSV:
tests/test_grading_class.py.
"""

from __future__ import annotations

import json
import os
import subprocess

import jupytext
import nbformat
import pytest

from genai_course.cli import main
from genai_course.grading import build_exercises, grade_notebook, workers
from test_grading_build import FAKE_CHECKS, make_course

MIXED = f'''\
# %%
{FAKE_CHECKS}
# %%
checks.add_one(lambda x: x + 1)

# %%
checks.double(lambda x: x * 3)

# %%
def not_yet(x):
    raise NotImplementedError("exercise not attempted yet")
checks.add_one(not_yet)

# %%
checks.double(lambda x: 1 / 0)

# %%
x = undefined_name

# %%
checks.add_one(lambda x: x + 1)  # an earlier cell failed, yet this check decides

# %%
def slow(x):
    while True:
        pass
checks.double(slow)

# %%
checks.double(lambda x: 2 * x)  # runs after the interrupted cell
'''


@pytest.mark.notebooks
def test_grade_notebook_reports_each_verdict(tmp_path):
    path = tmp_path / "mixed.py"
    path.write_text(MIXED, encoding="utf-8")
    result = grade_notebook(path, timeout=2)
    assert result.status == "graded" and result.reason is None and not result.all_passed
    got = [(e.name, e.status, e.message) for e in result.exercises]
    assert got == [
        ("add_one", "passed", "Exercise 1.1 (add one): passed"),
        ("double", "failed", "Exercise 1.2 (double): expected 4, got 6"),
        ("add_one", "not_attempted", "Exercise 1.1 (add one): not attempted yet"),
        ("double", "failed", "your code raised ZeroDivisionError: division by zero"),
        ("add_one", "passed", "Exercise 1.1 (add one): passed"),
        ("double", "timed_out", "a cell ran longer than 2 s (endless loop?)"),
        ("double", "passed", "Exercise 1.2 (double): passed"),
    ]
    assert not any("Traceback" in e.message or "\x1b" in e.message or "File " in e.message for e in result.exercises)


@pytest.mark.notebooks
def test_cli_grade_json_with_a_crash_and_unusable_files(tmp_path, capsys):
    crash = jupytext.reads(f"# %%\n{FAKE_CHECKS}\n# %%\nchecks.add_one(lambda x: x + 1)\n\n"
                           "# %%\nimport os\nos._exit(1)\n\n# %%\nchecks.double(lambda x: 2 * x)\n", fmt="py:percent")
    nbformat.write(crash, tmp_path / "crash.ipynb")
    (tmp_path / "notes.txt").write_text("my answers\n", encoding="utf-8")
    (tmp_path / "broken.ipynb").write_text("{not json", encoding="utf-8")
    paths = [str(tmp_path / name) for name in ("notes.txt", "crash.ipynb", "broken.ipynb")]

    assert main(["grade", "--json", "--timeout", "20", *paths]) == 2
    captured = capsys.readouterr()
    assert captured.err == ""
    report = json.loads(captured.out)
    notes, crashed, broken = report["submissions"]
    assert set(crashed) == {"path", "status", "reason", "exercises", "seconds"}
    assert {**notes, "seconds": None} == {"path": paths[0], "status": "unusable", "exercises": [], "seconds": None,
                                          "reason": "not a notebook: expected a .ipynb or a py:percent .py file (got .txt)"}
    assert isinstance(notes["seconds"], float)  # the moment it took to refuse: no clock asserted (a loaded machine takes longer)
    assert broken["status"] == "unusable" and broken["reason"].startswith("not a readable notebook (")
    assert crashed["path"] == paths[1] and crashed["status"] == "graded" and crashed["reason"] is None
    assert crashed["exercises"] == [
        {"name": "add_one", "status": "passed", "message": "Exercise 1.1 (add one): passed"},
        {"name": "double", "status": "not_run",
         "message": "the Python kernel died in cell 3, before this check (os._exit, a crash or out of memory?)"},
    ]
    assert isinstance(crashed["seconds"], float) and crashed["seconds"] > 0


@pytest.mark.notebooks
def test_cli_grade_exit_codes_for_a_solution_and_its_exercise(tmp_path, capsys):
    root = make_course(tmp_path)
    build_exercises(root)
    assert main(["grade", str(root / "solutions/01_demo.py")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(str(root / "solutions/01_demo.py") + "  (")
    assert lines[1:] == [
        "  ✅ add_one  Exercise 1.1 (add one): passed",
        "  ✅ double   Exercise 1.2 (double): passed",
        "1 submission: 1 all passed, 0 with failures, 0 not finished, 0 unusable",
    ]
    assert main(["grade", str(root / "exercises")]) == 1  # a folder: its .ipynb only
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(str(root / "exercises/01_demo.ipynb") + "  (")
    assert lines[1:] == [
        "  ⏳ add_one  Exercise 1.1 (add one): not attempted yet",
        "  ⏳ double   Exercise 1.2 (double): not attempted yet",
        "1 submission: 0 all passed, 0 with failures, 1 not finished, 0 unusable",
    ]


def test_cli_grade_rejects_what_cannot_be_graded_without_starting_a_kernel(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "lesson.py").write_text("# %%\nprint('no checks here')\n", encoding="utf-8")
    assert main(["grade", str(tmp_path / "empty"), str(tmp_path / "lesson.py"), str(tmp_path / "missing.ipynb")]) == 2
    assert capsys.readouterr().out.splitlines() == [
        str(tmp_path / "empty"),
        "  🚫 unusable: this folder holds no .ipynb or .py notebooks",
        str(tmp_path / "lesson.py"),
        "  🚫 unusable: no check cells (`checks.<exercise>(...)`): is this an exercise notebook?",
        str(tmp_path / "missing.ipynb"),
        "  🚫 unusable: no such file or folder",
        "3 submissions: 0 all passed, 0 with failures, 0 not finished, 3 unusable",
    ]


def test_a_worker_process_starts_anywhere_and_answers_in_json_lines(tmp_path):
    """The grader's worker process (grading.workers.worker_command, the code string it runs): a fresh Python,
    started in another folder without PYTHONPATH, imports genai_course.grading.workers and answers each task
    with one JSON line; a notebook it cannot grade starts no kernel."""
    (tmp_path / "lesson.py").write_text("# %%\nprint('no checks here')\n", encoding="utf-8")
    tasks = "".join(json.dumps({"path": str(tmp_path / name), "timeout": 5}) + "\n" for name in ("lesson.py", "missing.ipynb"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(workers.worker_command(), input=tasks, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    answers = [json.loads(line)["result"] for line in done.stdout.splitlines()]
    assert [(a["path"], a["status"], a["reason"], a["exercises"]) for a in answers] == [
        (str(tmp_path / "lesson.py"), "unusable", "no check cells (`checks.<exercise>(...)`): is this an exercise notebook?", []),
        (str(tmp_path / "missing.ipynb"), "unusable", "no such file", []),
    ]
