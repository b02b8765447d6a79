"""Tests for ``genai-course grade DIR --report class.csv``: a class folder graded into a CSV.

The naming rule, the user's errors and the unusable rows start no process. The tests marked
``notebooks`` grade real course exercises (lesson 04, whose notebook runs in seconds, and the
hints of lessons 08 and 09 that quote their solutions), a notebook past its hard time limit,
and the issue's number: 30 submissions (correct, wrong, untouched, crashing and hanging ones)
graded with a correct report (in at most 5 minutes on 2 cores: measured by `make bench`).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import jupytext
import nbformat
import pytest

from genai_course import grading
from genai_course.cli import main
from genai_course.grading import HIDDEN, REPORT_COLUMNS, ExerciseResult, SubmissionResult

from shared import running

ROOT = Path(__file__).resolve().parent.parent
LESSON = "04_loss_functions"
EXERCISES = ["discriminator_loss", "nonsaturating_g_loss", "gradient_penalty"]


def solution(name: str) -> str:
    return (ROOT / "solutions" / f"{name}.py").read_text(encoding="utf-8")


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the solution changed: {old!r} is not in it exactly once"
    return text.replace(old, new)


def write_notebook(path: Path, py_text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = jupytext.reads(py_text, fmt="py:percent")
    if path.suffix == ".py":
        jupytext.write(nb, path, fmt="py:percent")
    else:
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nbformat.write(nb, path)


def read_report(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == REPORT_COLUMNS
        return list(reader)


def solution_block_lines(name: str) -> set[str]:
    """Non-trivial lines between # BEGIN SOLUTION and # END SOLUTION of solutions/<name>.py that the
    exercise does not show: stripped, also without a trailing comment, at least 12 characters."""
    template = {line.strip() for line in (ROOT / "exercises" / f"{name}.py").read_text(encoding="utf-8").splitlines()}
    inside, found = False, set()
    for line in solution(name).splitlines():
        text = line.strip()
        if text in ("# BEGIN SOLUTION", "# END SOLUTION"):
            inside = text == "# BEGIN SOLUTION"
            continue
        if inside:
            found |= {text, text.split("  #", 1)[0].strip()}
    return {text for text in found if len(text) >= 12 and text not in template}


def assert_no_solution_code(texts: list[str], names: list[str]) -> None:
    for name in names:
        lines = solution_block_lines(name)
        assert lines, name
        for text in texts:
            for line in lines:
                assert line not in text, f"solution line of {name} in the feedback: {line!r} in {text!r}"


# --- the naming rule, errors, unusable rows: no process ------------------------------------


def test_class_submissions_name_learners_by_subfolder_or_prefix(tmp_path):
    for name in ["ana/04_x.ipynb", "ana/04_x.py", "ana/05_y.py", "ana/deeper/06_z.ipynb", "ana/notes.txt",
                 "bo__04_x.ipynb", "bo__05_y.py", "cy.ipynb", "dee/.hidden.ipynb", ".ipynb_checkpoints/a.ipynb",
                 "readme.md", "ana__07_w.ipynb"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}", encoding="utf-8")
    (tmp_path / "eve").mkdir()
    got = [(s.learner, s.notebook, s.path.relative_to(tmp_path).as_posix(), s.reason) for s in grading.class_submissions(tmp_path)]
    assert got == [
        ("ana", "04_x", "ana/04_x.ipynb", None),  # a jupytext pair: the .ipynb
        ("ana", "05_y", "ana/05_y.py", None),
        ("ana", "07_w", "ana__07_w.ipynb", None),  # flat and subfolder files of one learner together
        ("bo", "04_x", "bo__04_x.ipynb", None),
        ("bo", "05_y", "bo__05_y.py", None),
        ("cy", "cy", "cy.ipynb", None),  # a flat file without '__': the learner's one notebook
        ("dee", "-", "dee", f"no .ipynb or .py notebook in {tmp_path / 'dee'}"),  # still a row
        ("eve", "-", "eve", f"no .ipynb or .py notebook in {tmp_path / 'eve'}"),
    ]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_report_errors_are_one_line_in_the_users_terms(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "ana__04_x.ipynb").write_text("{}", encoding="utf-8")
    (tmp_path / "a_file.txt").write_text("x", encoding="utf-8")
    csv_out = str(tmp_path / "class.csv")
    layout = "expected {0}/<learner>/NN_name.ipynb or {0}/<learner>__NN_name.ipynb"
    cases = [
        ([str(tmp_path / "missing"), "--report", csv_out], f"no folder {tmp_path / 'missing'}: " + layout.format(tmp_path / "missing")),
        ([str(tmp_path / "a_file.txt"), "--report", csv_out],
         f"{tmp_path / 'a_file.txt'} is a file, not a folder of submissions: " + layout.format(tmp_path / "a_file.txt")),
        ([str(tmp_path / "empty"), "--report", csv_out], f"no notebooks (.ipynb or .py) in {tmp_path / 'empty'}: " + layout.format(tmp_path / "empty")),
        ([str(tmp_path / "class"), "--report", str(tmp_path / "nowhere" / "c.csv")],
         f"cannot write report {tmp_path / 'nowhere' / 'c.csv'}: folder {tmp_path / 'nowhere'} does not exist"),
        ([str(tmp_path / "class"), "--report", str(tmp_path)], f"report {tmp_path} is a folder; give a file name"),
        ([str(tmp_path / "class"), str(tmp_path / "empty"), "--report", csv_out],
         "--report grades one folder of submissions (DIR/<learner>/NN_name.ipynb or DIR/<learner>__NN_name.ipynb), got 2 paths"),
    ]
    for argv, message in cases:
        assert run_cli(capsys, "grade", *argv) == (2, "", f"genai-course grade: error: {message}\n"), argv
    assert not Path(csv_out).exists()
    for bad in ("0", "-1", "two"):
        with pytest.raises(SystemExit) as info:
            main(["grade", str(tmp_path / "class"), "--report", csv_out, "--jobs", bad])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("genai-course: error: argument --jobs: ") and err.count("\n") == 1


def test_unusable_submissions_still_get_a_row(tmp_path, capsys):
    klass = tmp_path / "class"
    (klass / "ana").mkdir(parents=True)
    (klass / "ana" / "04_x.ipynb").write_text("{not json", encoding="utf-8")
    (klass / "bo__lesson.py").write_text("# %%\nprint('no checks here')\n", encoding="utf-8")
    (klass / "cy").mkdir()
    (klass / "cy" / "answers.txt").write_text("my answers\n", encoding="utf-8")
    out = tmp_path / "class.csv"
    out.write_text("an old report\n", encoding="utf-8")
    code, stdout, err = run_cli(capsys, "grade", str(klass), "--report", str(out))
    assert (code, err) == (2, "")
    rows = read_report(out)
    assert [(r["learner"], r["notebook"], r["exercise"], r["status"], r["path"]) for r in rows] == [
        ("ana", "04_x", "-", "unusable", "ana/04_x.ipynb"),
        ("bo", "lesson", "-", "unusable", "bo__lesson.py"),
        ("cy", "-", "-", "unusable", "cy"),
    ]
    assert rows[0]["feedback"].startswith("not a readable notebook (")
    assert rows[1]["feedback"] == "no check cells (`checks.<exercise>(...)`): is this an exercise notebook?"
    assert rows[2]["feedback"] == f"no .ipynb or .py notebook in {klass / 'cy'}"
    assert stdout.splitlines()[-2:] == ["3 submissions: 0 all passed, 0 with failures, 0 not finished, 3 unusable",
                                        f"wrote {out}: 3 rows, 3 learners"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class", "class.csv"]  # no temporary file left


def test_hide_solutions_replaces_a_quoted_solution_line():
    hidden = sorted(grading.solution_only_lines(solution("09_text"), "solutions/09_text.py"), key=len, reverse=True)
    assert "logits = logits / temperature" in hidden
    assert not any("# BEGIN SOLUTION" in line or "checks.sample_next(sample_next)" == line for line in hidden)
    message = ("Exercise 9.2 (sampling the next character): sample_next(logits, 0.5, None, generator) changed the logits "
               "you were given (an in-place /= or masked_fill_): work on new tensors, logits = logits / temperature")
    result = grading.hide_solutions(SubmissionResult("x.ipynb", "graded", None, [ExerciseResult("sample_next", "failed", message)]), hidden)
    assert result.exercises[0].message == message.replace("logits = logits / temperature", HIDDEN)

    demo = ('# %%\ndef f(x):\n    """Return twice x."""\n    # BEGIN SOLUTION\n    return x + x  # the sum\n    # END SOLUTION\n\n'
            '# %%\n# SOLUTION ONLY\nprint("the instructor walkthrough")\n\n# %%\nchecks.double_it(f)\n')
    assert grading.solution_only_lines(demo) == {"return x + x  # the sum", "return x + x", 'print("the instructor walkthrough")'}


# --- graded apart: a process for each submission -------------------------------------------


@pytest.mark.notebooks
def test_a_submission_past_its_limit_is_killed_and_the_next_is_graded(tmp_path, capsys):
    """A check that waits without using CPU (and ignores the signals it is sent) runs into the submission's hard
    limit: it timed out, the checks after it did not run, the process and what it started are gone."""
    token = f"{9000 + os.getpid() % 1000}.{os.getpid()}"
    klass = tmp_path / "class"
    stuck = ("    import signal, subprocess, time\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
             f"    subprocess.Popen(['sleep', '{token}'])\n    time.sleep(600)\n")
    write_notebook(klass / "ana" / f"{LESSON}.ipynb", edit(solution(LESSON), G_LINE, stuck + G_LINE))
    write_notebook(klass / "bo" / f"{LESSON}.ipynb", solution(LESSON))
    out = tmp_path / "class.csv"
    code, stdout, err = run_cli(capsys, "grade", str(klass), "--report", str(out), "--timeout", "600", "--limit", "15", "--jobs", "1")
    assert (code, err) == (1, "")
    assert [(r["learner"], r["exercise"], r["status"]) for r in read_report(out)] == [
        ("ana", "discriminator_loss", "passed"), ("ana", "nonsaturating_g_loss", "timed_out"), ("ana", "gradient_penalty", "not_run"),
        ("bo", "discriminator_loss", "passed"), ("bo", "nonsaturating_g_loss", "passed"), ("bo", "gradient_penalty", "passed"),
    ]
    feedback = [r["feedback"] for r in read_report(out)]
    assert feedback[1] == "the submission reached its time limit of 15 s while this check ran, so grading stopped"
    assert feedback[2] == "not run: the submission reached its time limit of 15 s in check 2, so grading stopped there"
    assert running(token) == []


LEAKY_SLIPS = {  # (lesson, learner): (old, new, what its feedback says, whether the check's message quotes a solution line)
    # 8.1's messages say what is wrong without the code since issue 26: no line to hide, and none may appear
    ("08_vae", "mu-only"): ("    return mu + torch.exp(0.5 * logvar) * eps  # mu and sigma (B, L) line up with the last two axes\n",
                            "    return mu.expand(k, -1, -1)\n", "z equals mu", False),
    ("08_vae", "randn-like"): ("    eps = torch.randn((k, *mu.shape), generator=generator)  # (k, B, L): noise of its own for every draw\n",
                               "    eps = torch.randn_like(mu.expand(k, -1, -1))\n", "the same seed gave two different z", False),
    ("09_text", "in-place"): ("    logits = logits / temperature\n", "    logits /= temperature\n", "changed the logits you were given", False),
}


@pytest.mark.notebooks
def test_feedback_never_shows_solution_code(tmp_path, capsys):
    """Wrong submissions of lessons 08 and 09: where a check's message quotes a line of the solution
    (9.2's in-place hint), the report and the console show it hidden; no feedback holds a solution line."""
    klass = tmp_path / "class"
    for (lesson, learner), (old, new, _, _) in LEAKY_SLIPS.items():
        write_notebook(klass / learner / f"{lesson}.ipynb", edit(solution(lesson), old, new))
    out = tmp_path / "class.csv"
    code, stdout, err = run_cli(capsys, "grade", str(klass), "--report", str(out), "--timeout", "120", "--jobs", "2")
    assert (code, err) == (1, "")
    rows = read_report(out)
    failed = {(r["notebook"], r["learner"]): r["feedback"] for r in rows if r["status"] == "failed"}
    assert set(failed) == set(LEAKY_SLIPS), rows
    for key, (_, _, says, quotes) in LEAKY_SLIPS.items():
        assert says in failed[key] and (HIDDEN in failed[key]) == quotes, failed[key]
    assert all(r["status"] == "passed" for r in rows if r["status"] != "failed")
    assert_no_solution_code([r["feedback"] for r in rows] + [stdout], ["08_vae", "09_text"])
    assert "Traceback" not in stdout and "File \"" not in stdout


HANG = "    import time\n    while True:\n        try:\n            time.sleep(1)\n        except KeyboardInterrupt:\n            pass\n"
D_LINE = "    return real_term.mean() + F.softplus(fake_logits).mean()\n"
G_LINE = "    return (a.clamp(min=0) + torch.log1p(torch.exp(-a.abs()))).mean()\n"
GP_LINE = "    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (B, 2)\n"
P, F, A, T, N = "passed", "failed", "not_attempted", "timed_out", "not_run"


def planted_class() -> list[tuple[str, str, list[str], dict[str, str]]]:
    """30 submissions of lesson 04: (learner, notebook text, statuses of its 3 exercises, feedback it must contain)."""
    text = solution(LESSON)
    exercise = (ROOT / "exercises" / f"{LESSON}.py").read_text(encoding="utf-8")
    kinds = (
        [("correct", text, [P, P, P], {})] * 12
        + [("sign", edit(text, G_LINE, "    return -(a.clamp(min=0) + torch.log1p(torch.exp(-a.abs()))).mean()\n"), [P, F, P],
            {"nonsaturating_g_loss": "the sign is flipped"})] * 4
        + [("squared", edit(text, "(grad.norm(dim=1) - 1).pow(2).mean()", "(grad.pow(2).sum(1) - 1).pow(2).mean()"), [P, P, F],
            {"gradient_penalty": "not its squared norm"})] * 4
        + [("untouched", exercise, [A, A, A], {"discriminator_loss": "not attempted yet"})] * 4
        + [("exit", edit(text, G_LINE, "    import os\n    os._exit(1)\n" + G_LINE), [P, F, P],
            {"nonsaturating_g_loss": "process running your code ended while this check ran"})] * 2
        + [("sigkill", edit(text, G_LINE, "    import os\n    os.kill(os.getpid(), 9)\n" + G_LINE), [P, F, P],
            {"nonsaturating_g_loss": "process running your code ended"})]
        + [("hang-last", edit(text, GP_LINE, HANG + GP_LINE), [P, P, T], {"gradient_penalty": "still running after 19 s"})]
        + [("hang-first", edit(text, D_LINE, HANG + D_LINE), [T, P, P], {"discriminator_loss": "still running after 19 s"})]
        + [("endless", edit(text, G_LINE, "    while True:\n        pass\n" + G_LINE), [P, T, P],
            {"nonsaturating_g_loss": "more than 3 s of CPU time"})]
    )
    assert len(kinds) == 30
    return [(f"{kind}-{k:02d}", body, statuses, says) for k, (kind, body, statuses, says) in enumerate(kinds, 1)]


@pytest.mark.notebooks
def test_grading_a_class_of_30_with_crashes_and_hangs(tmp_path, capsys):
    """30 submissions graded, every row right (how long it takes, 5 minutes at most on 2 cores, is measured by `make bench`)."""
    klass = tmp_path / "class"
    planted = planted_class()
    for k, (learner, body, _, _) in enumerate(planted):
        where = [klass / learner / f"{LESSON}.ipynb", klass / f"{learner}__{LESSON}.ipynb", klass / learner / f"{LESSON}.py"][k % 3]
        write_notebook(where, body)
    out = tmp_path / "class.csv"
    code, stdout, err = run_cli(capsys, "grade", str(klass), "--report", str(out), "--timeout", "3", "--jobs", "2")
    assert (code, err) == (1, "")
    rows = read_report(out)
    expected = [(learner, LESSON, name, status) for learner, _, statuses, _ in sorted(planted) for name, status in zip(EXERCISES, statuses)]
    assert [(r["learner"], r["notebook"], r["exercise"], r["status"]) for r in rows] == expected
    feedback = {(r["learner"], r["exercise"]): r["feedback"] for r in rows}
    for learner, _, _, says in planted:
        for name, fragment in says.items():
            assert fragment in feedback[learner, name], (learner, name, feedback[learner, name])
    assert stdout.splitlines()[-2:] == ["30 submissions: 12 all passed, 14 with failures, 4 not finished, 0 unusable",
                                        f"wrote {out}: 90 rows, 30 learners"]
    assert_no_solution_code([r["feedback"] for r in rows] + [stdout], [LESSON])
