"""Tests for genai_course.grading.build: exercises built from their solutions (`genai-course build`).

The course here is tiny and synthetic: one solution whose notebook defines its own fake ``checks``
(printing ✅/⏳ or raising ``CheckFailed``), so these tests do not depend on genai_course.checks.
tests/test_grading_run.py grades the notebooks built from it.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

from genai_course import grading
from genai_course.cli import main
from genai_course.grading import GradingError, build_exercises, exercise_notebook, exercise_source

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
    monkeypatch.setattr(grading.build, "__file__", str(tmp_path / "pkg" / "genai_course" / "grading" / "build.py"))
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
