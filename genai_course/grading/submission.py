"""One submission graded apart: its probes run in the learner's sandboxed process, its judges here.

``grade_submission``: the submission's program (``grading.program``: the course's exercise
notebook with only the learner's function bodies) runs in a fresh process in a folder of its
own (``grading.sandbox``), which writes each check's observations under a name drawn here at
random (``secrets.token_hex``). This process, which never runs learner code, reads them as
plain data (``checks.observations.load``: JSON and ``.npy`` without pickle) and each check's
judge gives the verdict. What the notebook prints, and any file it writes under another name,
decide nothing.

A process that ends before a check wrote its observations (``os._exit``, a crash, memory) fails
that check, and a fresh process goes on with the next one. Past the submission's hard deadline
the process and everything it started is killed: that check timed out, the later ones did not run.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

from ..checks import REGISTRY
from ..checks.observations import MalformedObservations, load
from . import sandbox
from .program import Check, Program, build_program
from .results import ExerciseResult, GradingError, SubmissionResult, one_line

__all__ = ["hard_limit", "grade_submission", "judge_observations"]

# Judges rebuild their cases from torch's global random state (seeded, inside fork_rng): with --jobs
# submissions graded in threads of this process, two judges at once would draw from each other's seeds.
_JUDGING = threading.Lock()
_NAME_HINT = " (the grader runs only the code inside the exercise's functions: import or define what your function uses inside it)"


def hard_limit(checks: int, limits: sandbox.Limits) -> float:
    """A submission's default hard wall-clock limit: each check's wall time and one more, plus 60 s to start."""
    return limits.wall * (checks + 1) + 60.0


def judge_observations(check: Check, seen: dict | None, program: Program) -> ExerciseResult:
    """The verdict of the check's own judge on what its probe saw (``seen``)."""
    exercise = REGISTRY.get(check.name)
    if exercise is None:
        return ExerciseResult(check.name, "failed", f"this course has no check named {check.name}")
    with _JUDGING:
        status, message = exercise.verdict(seen or {})
    region = program.regions.get(check.arg, "learner")
    if status == "not_attempted" and region not in ("learner", "template"):
        return ExerciseResult(check.name, "failed", f"{exercise.label}: {region}, so the grader could not read your {check.arg}")
    if status == "failed" and "raised NameError" in message:
        message = one_line(message, 400) + _NAME_HINT
    return ExerciseResult(check.name, status, message)


def _take(folder: Path, name: str) -> dict | None:
    """The observations written as ``name`` in ``folder``, removed from there (None if there are none)."""
    try:
        seen = load(folder, name)
    except MalformedObservations as e:
        seen = {"$stopped": f"its observations were malformed ({e})"}
    for path in folder.glob(f"{name}.*"):
        try:
            path.unlink()
        except OSError:
            pass
    try:
        (folder / f".{name}.json.tmp").unlink()
    except OSError:
        pass
    return seen


def grade_submission(path: str | Path, root: Path, limits: sandbox.Limits, limit: float | None = None,
                     on_process=None) -> SubmissionResult:
    """Grade one submission (see the module's docstring). Never raises for a bad submission: it comes back
    "unusable" with a one-line reason. ``on_process(learner)`` gets each learner process
    (``sandbox.Learner``) as it starts (and None when it ended), so a grader that is stopped can kill it."""
    path, began = Path(path), time.monotonic()
    try:
        program = build_program(path, root)
    except GradingError as e:
        return SubmissionResult(str(path), "unusable", str(e), seconds=round(time.monotonic() - began, 2))
    checks = program.checks
    limit = limit or hard_limit(len(checks), limits)
    deadline = began + limit
    steps = [[kind, step if kind == "code" else asdict(step)] for kind, step in program.steps]  # type: ignore[call-overload]
    results: dict[int, ExerciseResult] = {}
    folder = Path(tempfile.mkdtemp(prefix="genai-course-grade-"))
    try:
        shutil.copyfile(path, folder / ("submission" + path.suffix.lower()))  # the learner's notebook, alone in its folder
        names, first = [secrets.token_hex(16) for _ in checks], 0
        while first < len(checks):
            task = {"steps": steps, "names": names, "start": first, "cpu": limits.cpu, "wall": limits.wall}
            learner = sandbox.start(folder, task, limits, len(checks) - first)
            if on_process:
                on_process(learner)
            expected = first
            while expected < len(checks):  # each check's observations, taken as soon as they are written
                line = learner.said(deadline)
                if line is None:
                    break
                if line != str(expected):
                    continue  # not the probe process speaking
                seen = _take(folder, names[expected])
                if seen is None:
                    continue
                results[expected] = judge_observations(checks[expected], seen, program)
                learner.answer(line)
                expected += 1
            code = learner.wait(deadline if expected < len(checks) else time.monotonic() + 30)
            learner.kill()  # and whatever it left in its session (with bwrap, nothing is left)
            if on_process:
                on_process(None)
            if expected >= len(checks):
                break
            missing = expected
            if code is None or time.monotonic() >= deadline:  # the hard deadline
                results[missing] = ExerciseResult(checks[missing].name, "timed_out",
                                                  f"the submission reached its time limit of {limit:g} s while this check ran, so grading stopped")
                for check in checks[missing + 1:]:
                    results[check.index] = ExerciseResult(check.name, "not_run", f"not run: the submission reached its time limit of {limit:g} s "
                                                                                 f"in check {missing + 1}, so grading stopped there")
                break
            results[missing] = ExerciseResult(checks[missing].name, "failed",
                                              "the Python process running your code ended while this check ran "
                                              "(os._exit or sys.exit, a crash, or out of memory?)")
            first = missing + 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    exercises = [results[c.index] for c in checks]
    return SubmissionResult(str(path), "graded", None, exercises, round(time.monotonic() - began, 2))
