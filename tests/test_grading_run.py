"""Grading one submission apart (genai_course.grading's program, probe, sandbox, submission and grade): the
program takes only the learner's function bodies, the learner's process answers in its protocol, every
verdict comes from a judge, a process that dies or hangs costs only its own check, and the exit codes.

The submissions are lesson 04's exercise (three quick checks) written in different ways. A class
folder graded into a CSV: tests/test_grading_class.py; the cheats: tests/test_grading_cheats.py.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from genai_course.cli import main
from genai_course.grading import build_program, find_root, sandbox

ROOT = Path(__file__).resolve().parents[1]
LESSON = "04_loss_functions"
D_LINE = "    return real_term.mean() + F.softplus(fake_logits).mean()\n"
G_LINE = "    return (a.clamp(min=0) + torch.log1p(torch.exp(-a.abs()))).mean()\n"
GP_LINE = "    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (B, 2)\n"


def solution() -> str:
    return (ROOT / "solutions" / f"{LESSON}.py").read_text(encoding="utf-8")


def edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the solution changed: {old!r} is not in it exactly once"
    return text.replace(old, new)


def write(path: Path, py_text: str) -> Path:
    nb = jupytext.reads(py_text, fmt="py:percent")
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, path)
    return path


def test_the_program_takes_only_the_learners_function_bodies(tmp_path):
    text = edit(solution(), "import torch\n", "import torch\nprint('✅ Exercise 4.1 (the discriminator loss): passed')\n")
    text = edit(text, "def nonsaturating_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:",
                "def helper():\n    return 0\n\n\n@print\ndef nonsaturating_g_loss(fake_logits: torch.Tensor = print('default')) -> torch.Tensor:")
    text += "\n# %%\ngradient_penalty = lambda *a: 0\n\n# %%\n%matplotlib inline\nchecks.gradient_penalty = print\n"
    program = build_program(write(tmp_path / "mine.ipynb", text), find_root())
    code = "\n".join(step for kind, step in program.steps if kind == "code")
    assert program.template == ROOT / "exercises" / f"{LESSON}.py"
    assert [(c.index, c.name, c.arg) for c in program.checks] == [
        (0, "discriminator_loss", "discriminator_loss"), (1, "nonsaturating_g_loss", "nonsaturating_g_loss"),
        (2, "gradient_penalty", "gradient_penalty")]
    assert program.regions == {"discriminator_loss": "learner", "nonsaturating_g_loss": "learner", "gradient_penalty": "learner"}
    assert "torch.log1p(torch.exp(-a.abs()))" in code and "create_graph=True" in code  # the learner's bodies
    for theirs in ("✅", "def helper", "@print", "print('default')", "lambda *a: 0", "checks.gradient_penalty = print", "%matplotlib"):
        assert theirs not in code, theirs  # nothing else the learner wrote
    assert "NotImplementedError" not in code


def test_a_cell_that_does_not_parse_is_named_in_the_verdict(tmp_path, capsys):
    text = edit(solution(), G_LINE, "    return (a.clamp(min=0) + torch.log1p(torch.exp(-a.abs()))).mean(\n")
    path = write(tmp_path / "broken.ipynb", text)
    assert build_program(path, find_root()).regions["nonsaturating_g_loss"] == "your code cell 4 that defines it has a syntax error"
    assert main(["grade", "--json", str(path)]) == 1
    exercises = json.loads(capsys.readouterr().out)["submissions"][0]["exercises"]
    assert [e["status"] for e in exercises] == ["passed", "failed", "passed"]
    assert exercises[1]["message"] == ("Exercise 4.2 (a stable non-saturating loss from exp and log): your code cell 4 that defines it has a syntax error, "
                                       "so the grader could not read your nonsaturating_g_loss")


@pytest.mark.notebooks
def test_the_learners_process_writes_observations_and_waits_for_the_grader(tmp_path):
    """The probe process (grading.probe, started as grading.sandbox.command says) in a folder of its own: it says
    the index of each check whose observations it wrote, and goes on only when the grader answers."""
    program = build_program(ROOT / "solutions" / f"{LESSON}.ipynb", find_root())
    names = [secrets.token_hex(4) for _ in program.checks]
    steps = [[kind, step if kind == "code" else {"index": step.index, "name": step.name, "arg": step.arg}] for kind, step in program.steps]
    task = {"steps": steps, "names": names, "start": 1, "cpu": 20, "wall": 60}
    proc = subprocess.Popen(sandbox.command(tmp_path), stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=tmp_path)
    proc.stdin.write((json.dumps(task) + "\n").encode())
    proc.stdin.flush()
    said = []
    for k in (1, 2):
        said.append(proc.stdout.readline().strip())
        assert (tmp_path / f"{names[k]}.json").is_file()
        proc.stdin.write(f"{k}\n".encode())
        proc.stdin.flush()
    proc.stdin.close()
    proc.stdout.close()
    assert proc.wait(timeout=60) == 0 and said == [b"1", b"2"]
    assert not (tmp_path / f"{names[0]}.json").exists()  # before start: not probed


@pytest.mark.notebooks
def test_every_verdict_from_the_judges_and_a_dead_process_costs_one_check(tmp_path, capsys):
    mixed = write(tmp_path / "mixed.ipynb", edit(edit(solution(), G_LINE, "    return -(a.clamp(min=0) + torch.log1p(torch.exp(-a.abs()))).mean()\n"),
                                                 GP_LINE, "    1 / 0\n"))
    crash = write(tmp_path / "crash.ipynb", edit(solution(), G_LINE, "    import os\n    os._exit(1)\n"))
    (tmp_path / "notes.txt").write_text("my answers\n", encoding="utf-8")
    (tmp_path / "broken.ipynb").write_text("{not json", encoding="utf-8")
    paths = [str(p) for p in (mixed, tmp_path / "notes.txt", crash, tmp_path / "broken.ipynb")]
    assert main(["grade", "--json", "--timeout", "20", *paths]) == 2
    captured = capsys.readouterr()
    assert captured.err == ""
    mixed_r, notes, crashed, broken = json.loads(captured.out)["submissions"]
    assert [(e["name"], e["status"], e["message"]) for e in mixed_r["exercises"]] == [
        ("discriminator_loss", "passed", "Exercise 4.1 (the discriminator's loss with a soft real label): passed "
                                         "(matches binary cross-entropy with a soft real label, exact for confident logits)"),
        ("nonsaturating_g_loss", "failed", "Exercise 4.2 (a stable non-saturating loss from exp and log): the sign is flipped: "
                                           "the loss should be large and positive when D rejects the fakes"),
        ("gradient_penalty", "failed", "Exercise 4.3 (a one-sided gradient penalty): gradient_penalty raised ZeroDivisionError: division by zero"),
    ]
    assert {**notes, "seconds": None} == {"path": paths[1], "status": "unusable", "exercises": [], "seconds": None,
                                          "reason": "not a notebook: expected a .ipynb or a py:percent .py file (got .txt)"}
    assert broken["status"] == "unusable" and broken["reason"].startswith("not a readable notebook (")
    assert crashed["status"] == "graded" and [e["status"] for e in crashed["exercises"]] == ["passed", "failed", "passed"]
    assert crashed["exercises"][1]["message"] == ("the Python process running your code ended while this check ran "
                                                  "(os._exit or sys.exit, a crash, or out of memory?)")
    assert isinstance(crashed["seconds"], float) and crashed["seconds"] > 0


@pytest.mark.notebooks
def test_cli_grade_exit_codes_for_a_solution_and_its_exercise(capsys):
    assert main(["grade", str(ROOT / "solutions" / f"{LESSON}.ipynb")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(str(ROOT / "solutions" / f"{LESSON}.ipynb") + "  (")
    assert lines[1:] == [
        "  ✅ discriminator_loss    Exercise 4.1 (the discriminator's loss with a soft real label): passed "
        "(matches binary cross-entropy with a soft real label, exact for confident logits)",
        "  ✅ nonsaturating_g_loss  Exercise 4.2 (a stable non-saturating loss from exp and log): passed "
        "(matches -log σ(D(G(z))), exact at logits of -200 and +200, gradient included)",
        "  ✅ gradient_penalty      Exercise 4.3 (a one-sided gradient penalty): passed (matches the reference and trains D)",
        "1 submission: 1 all passed, 0 with failures, 0 not finished, 0 unusable",
    ]
    assert main(["grade", str(ROOT / "exercises" / f"{LESSON}.ipynb")]) == 1
    lines = capsys.readouterr().out.splitlines()
    waiting = "not attempted yet (replace the `raise NotImplementedError` with your code)"
    assert lines[1:] == [
        f"  ⏳ discriminator_loss    Exercise 4.1 (the discriminator's loss with a soft real label): {waiting}",
        f"  ⏳ nonsaturating_g_loss  Exercise 4.2 (a stable non-saturating loss from exp and log): {waiting}",
        f"  ⏳ gradient_penalty      Exercise 4.3 (a one-sided gradient penalty): {waiting}",
        "1 submission: 0 all passed, 0 with failures, 1 not finished, 0 unusable",
    ]


def test_cli_grade_rejects_what_cannot_be_graded_without_starting_a_process(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "lesson.py").write_text("# %%\nprint('no checks here')\n", encoding="utf-8")
    (tmp_path / "other.py").write_text("# %%\nchecks.add_one(lambda x: x + 1)\n", encoding="utf-8")
    assert main(["grade", str(tmp_path / "empty"), str(tmp_path / "lesson.py"), str(tmp_path / "other.py"), str(tmp_path / "missing.ipynb")]) == 2
    assert capsys.readouterr().out.splitlines() == [
        str(tmp_path / "empty"),
        "  🚫 unusable: this folder holds no .ipynb or .py notebooks",
        str(tmp_path / "lesson.py"),
        "  🚫 unusable: no check cells (`checks.<exercise>(...)`): is this an exercise notebook?",
        str(tmp_path / "other.py"),
        "  🚫 unusable: its checks (add_one) are not the course's: is this one of the course's exercise notebooks?",
        str(tmp_path / "missing.ipynb"),
        "  🚫 unusable: no such file or folder",
        "4 submissions: 0 all passed, 0 with failures, 0 not finished, 4 unusable",
    ]


def test_isolation_is_said_in_one_line_where_bubblewrap_is_missing(monkeypatch):
    sandbox.bwrap.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    try:
        note = sandbox.isolation()
        assert note is not None and "\n" not in note and "bubblewrap (bwrap) is not installed" in note
        assert "verdicts are still computed apart" in note and "apt-get install bubblewrap" in note
        assert sandbox.command(Path("/tmp/x"))[0] != "bwrap" and "bwrap" not in " ".join(sandbox.command(Path("/tmp/x"))[:1])
    finally:
        sandbox.bwrap.cache_clear()


@pytest.mark.notebooks
def test_the_same_submission_gets_the_same_verdicts_on_a_busy_machine(tmp_path, capsys):
    """Time limits are CPU seconds of the learner's own process: two processes spinning beside the grader (on a
    2-core machine, more runnable processes than cores) change how long grading takes, never a verdict."""
    lesson = "05_training_loop"
    right = write(tmp_path / "right.ipynb", (ROOT / "solutions" / f"{lesson}.py").read_text(encoding="utf-8"))
    wrong = write(tmp_path / "wrong.ipynb", edit((ROOT / "solutions" / f"{lesson}.py").read_text(encoding="utf-8"),
                                                 "    opt_d.zero_grad()\n", ""))

    def verdicts() -> list[tuple[str, str, str]]:
        assert main(["grade", "--json", "--timeout", "4", "--jobs", "2", str(right), str(wrong)]) == 1
        return [(e["name"], e["status"], e["message"]) for r in json.loads(capsys.readouterr().out)["submissions"] for e in r["exercises"]]

    idle = verdicts()
    spin = "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 120:\n    pass\n"
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    try:
        busy = verdicts()
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    assert busy == idle
    assert [status for _, status, _ in idle] == ["passed"] * 3 + ["failed", "passed", "failed"]
    assert "D's step followed gradients left over" in idle[3][2] and "[solution hidden]" not in idle[3][2]
