"""Tests for genai_course.grading: building exercises from solutions, and grading notebooks.

The notebooks here are tiny and synthetic; each defines its own fake ``checks`` (printing ✅/⏳ or
raising ``CheckFailed``), so these tests do not depend on genai_course.checks. Tests marked
``notebooks`` start Jupyter kernels (about 1-2 s each).
"""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import nbformat
import pytest

from genai_course import grading
from genai_course.cli import main
from genai_course.grading import GradingError, build_exercises, exercise_notebook, exercise_source, grade_notebook

FAKE_CHECKS = '''\
class CheckFailed(Exception):
    pass


def _verdict(title, fn, expected):
    try:
        got = fn()
    except NotImplementedError:
        print(f"⏳ {title}: not attempted yet")
        return
    if got != expected:
        raise CheckFailed(f"{title}: expected {expected!r}, got {got!r}")
    print(f"✅ {title}: passed")


class checks:
    @staticmethod
    def add_one(f):
        _verdict("Exercise 1.1 (add one)", lambda: f(1), 2)

    @staticmethod
    def double(f):
        _verdict("Exercise 1.2 (double)", lambda: f(2), 4)
'''

SOLUTION = f'''\
# %% [markdown]
# # Demo
# Write `add_one`. In the solution it sits between the markers
# BEGIN SOLUTION
# and this markdown line is left alone.

# %%
{FAKE_CHECKS}
# %%
def add_one(x):
    """Return x + 1."""
    # BEGIN SOLUTION
    y = x + 1
    return y
    # END SOLUTION


def double(x):
    if x is None:
        # BEGIN SOLUTION
        return None
        # END SOLUTION
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION

# %%
# SOLUTION ONLY
print("the instructor's walkthrough")

# %%
# BEGIN SOLUTION
answer = 42
# END SOLUTION

# %%
checks.add_one(add_one)
checks.double(double)
'''

TODO = "# TODO: write your solution here (see the exercise above), then run the check below."
RAISE = 'raise NotImplementedError("exercise not attempted yet")'

EXERCISE = f'''\
# %% [markdown]
# Generated from solutions/01_demo.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Demo
# Write `add_one`. In the solution it sits between the markers
# BEGIN SOLUTION
# and this markdown line is left alone.

# %%
{FAKE_CHECKS}
# %%
def add_one(x):
    """Return x + 1."""
    {TODO}
    {RAISE}


def double(x):
    if x is None:
        {TODO}
        {RAISE}
    {TODO}
    {RAISE}

# %%
{TODO}
{RAISE}

# %%
checks.add_one(add_one)
checks.double(double)
'''


def make_course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    (root / "solutions").mkdir(parents=True)
    (root / "solutions" / "01_demo.py").write_text(SOLUTION, encoding="utf-8")
    (root / "solutions" / "helpers.py").write_text("x = 1\n", encoding="utf-8")  # not NN_*.py: ignored
    return root


# --- build ------------------------------------------------------------------------------


def test_exercise_source_replaces_every_block_and_drops_solution_only_cells():
    assert exercise_source(SOLUTION, "solutions/01_demo.py") == EXERCISE


@pytest.mark.parametrize(
    "body, message",
    [
        ("# BEGIN SOLUTION\nx = 1\n", "solutions/09_bad.py, line 2: '# BEGIN SOLUTION' is never closed by '# END SOLUTION'"),
        ("x = 1\n# END SOLUTION\n", "solutions/09_bad.py, line 3: '# END SOLUTION' without a '# BEGIN SOLUTION' before it"),
        ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n# END SOLUTION\n",
         "solutions/09_bad.py, line 3: '# BEGIN SOLUTION' inside the solution block opened at line 2 (blocks cannot nest)"),
        ("# BEGIN SOLUTION\nx = 1\n\n# %%\n# END SOLUTION\n",
         "solutions/09_bad.py, line 2: '# BEGIN SOLUTION' is not closed by '# END SOLUTION' before the next cell (line 5)"),
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n# END SOLUTION\n",
         "solutions/09_bad.py, line 5: '# END SOLUTION' is indented differently from its '# BEGIN SOLUTION' at line 3"),
    ],
    ids=["never-closed", "end-without-begin", "nested", "crosses-a-cell", "indent-mismatch"],
)
def test_unbalanced_markers_name_the_file_and_line(body, message):
    with pytest.raises(GradingError) as info:
        exercise_source("# %%\n" + body, "solutions/09_bad.py")
    assert str(info.value) == message


def test_build_writes_a_deterministic_pair(tmp_path):
    root = make_course(tmp_path)
    assert build_exercises(root) == ["exercises/01_demo.ipynb", "exercises/01_demo.py"]
    py, ipynb = (root / "exercises/01_demo.py").read_bytes(), (root / "exercises/01_demo.ipynb").read_bytes()
    assert py.decode() == EXERCISE
    assert build_exercises(root) == []  # nothing changed, nothing written
    again = make_course(tmp_path / "again")
    build_exercises(again)
    assert (again / "exercises/01_demo.py").read_bytes() == py
    assert (again / "exercises/01_demo.ipynb").read_bytes() == ipynb
    assert exercise_notebook(EXERCISE).encode() == ipynb

    nb = nbformat.reads(ipynb.decode(), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    from_py = jupytext.reads(EXERCISE, fmt="py:percent")
    assert [(c.cell_type, c.source) for c in nb.cells] == [(c.cell_type, c.source) for c in from_py.cells]
    assert not any("the instructor's walkthrough" in c.source or "y = x + 1" in c.source for c in nb.cells)


def test_cli_build_and_check(tmp_path, capsys):
    root = make_course(tmp_path)
    assert main(["build", "--check", "--root", str(root)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "missing: exercises/01_demo.ipynb",
        "missing: exercises/01_demo.py",
        "exercises/ is out of date (2 file(s)): run `genai-course build`",
    ]
    assert main(["build", "--root", str(root)]) == 0
    assert capsys.readouterr().out.splitlines() == ["wrote exercises/01_demo.ipynb", "wrote exercises/01_demo.py"]
    assert main(["build", "--check", "--root", str(root)]) == 0
    assert capsys.readouterr().out == "exercises/ is up to date with solutions/\n"

    solution = root / "solutions/01_demo.py"
    solution.write_text(SOLUTION.replace("return 2 * x", "return x + x"), encoding="utf-8")
    assert main(["build", "--check", "--root", str(root)]) == 0  # only hidden solution code changed
    capsys.readouterr()

    solution.write_text(SOLUTION.replace("# Write `add_one`.", "# Write `add_one` now."), encoding="utf-8")
    (root / "exercises/02_old.py").write_text("# %%\n", encoding="utf-8")
    assert main(["build", "--check", "--root", str(root)]) == 1
    out = capsys.readouterr().out
    assert "stale: exercises/01_demo.ipynb" in out and "stale: exercises/01_demo.py" in out
    assert "extra (no solution for it): exercises/02_old.py" in out
    assert main(["build", "--root", str(root)]) == 0
    assert "removed exercises/02_old.py" in capsys.readouterr().out
    assert not (root / "exercises/02_old.py").exists()


def test_cli_build_finds_the_root_or_says_why_not(tmp_path, capsys, monkeypatch):
    root = make_course(tmp_path)
    monkeypatch.chdir(root)
    assert main(["build"]) == 0 and (root / "exercises/01_demo.py").exists()
    capsys.readouterr()

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(grading, "__file__", str(tmp_path / "pkg" / "genai_course" / "grading.py"))
    assert main(["build", "--check"]) == 2
    err = capsys.readouterr().err
    assert err == "genai-course build: error: cannot find the course's solutions/ folder (run this in the course folder, or pass --root)\n"
    assert main(["build", "--root", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.startswith("genai-course build: error: no solutions/ folder in ")

    (root / "solutions/02_bad.py").write_text("# %%\n# BEGIN SOLUTION\n", encoding="utf-8")
    assert main(["build", "--root", str(root)]) == 2
    assert capsys.readouterr().err == (
        "genai-course build: error: solutions/02_bad.py, line 2: '# BEGIN SOLUTION' is never closed by '# END SOLUTION'\n"
    )


# --- grade ------------------------------------------------------------------------------

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
    assert notes == {"path": paths[0], "status": "unusable", "exercises": [], "seconds": 0.0,
                     "reason": "not a notebook: expected a .ipynb or a py:percent .py file (got .txt)"}
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
