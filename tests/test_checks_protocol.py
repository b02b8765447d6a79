"""genai_course.checks as a package: the protocol every check keeps (``_protocol``), and the face that
lessons import, with one module per lesson group, each mirrored by a test file here."""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path

import pytest
import torch

from genai_course import checks
from genai_course.checks import CheckFailed, Verdict, _protocol
from genai_course.checks.observations import load, observe, save

from check_protocol import assert_not_attempted
from mutation_table import course_solution

CHECK_MODULES = [name for _, name, _ in pkgutil.iter_modules(checks.__path__) if not name.startswith("_") and name != "observations"]


def test_check_failed_renders_as_one_red_line():
    lines = CheckFailed("Exercise 9.9 (x): wrong")._render_traceback_()  # IPython shows these instead of a traceback
    assert len(lines) == 1
    plain = re.sub(r"\x1b\[[0-9;]*m", "", lines[0])
    assert plain == "❌ Exercise 9.9 (x): wrong"
    assert plain.startswith("❌")


def _doubling(monkeypatch):
    """A check of its own: the probe calls the learner's function twice, the judge decides."""
    monkeypatch.setattr(_protocol, "EXERCISES", {})
    monkeypatch.setattr(_protocol, "REGISTRY", {})

    @_protocol._exercise("0.1", "doubling")
    def double(fn, seen):
        seen["two"] = observe(_protocol._call("double(2)", fn, 2))
        seen["three"] = observe(_protocol._call("double(3)", fn, 3))

    @double.judge
    def _judge(seen):
        for x, key in ((2, "two"), (3, "three")):
            got = _protocol._number(f"double({x})", seen[key])
            if got != 2 * x:
                raise CheckFailed(f"expected {2 * x}, got {got:g}")
        return "2 -> 4"

    return double


def test_the_protocol_on_a_check_of_its_own(monkeypatch, capsys):
    """Passed (with its detail), not attempted, a failure in the learner's terms, and the learner's own error,
    each reported where the judge meets it: a wrong first answer before an error in the second call."""
    double = _doubling(monkeypatch)
    assert _protocol.EXERCISES == {"double": "Exercise 0.1 (doubling)"} and _protocol.REGISTRY == {"double": double}
    double(lambda x: 2 * x)
    assert capsys.readouterr().out == "✅ Exercise 0.1 (doubling): passed (2 -> 4)\n"

    def todo(x):
        raise NotImplementedError

    double(todo)
    assert capsys.readouterr().out.startswith("⏳ Exercise 0.1 (doubling): not attempted yet")
    for fn, message in ((lambda x: 5, "Exercise 0.1 (doubling): expected 4, got 5"),
                        (lambda x: int("two"), "Exercise 0.1 (doubling): double(2) raised ValueError: invalid literal for int() with base 10: 'two'"),
                        (lambda x: 4 if x == 2 else 1 / 0, "Exercise 0.1 (doubling): double(3) raised ZeroDivisionError: division by zero"),
                        (lambda x: 5 if x == 2 else 1 / 0, "Exercise 0.1 (doubling): expected 4, got 5"),
                        (lambda x: sys.exit(0), "Exercise 0.1 (doubling): double(2) raised SystemExit: 0")):
        with pytest.raises(CheckFailed) as info:
            double(fn)
        assert str(info.value) == message
        assert info.value.__cause__ is None and info.value.__suppress_context__
    assert capsys.readouterr().out == ""


def test_probe_and_judge_apart(monkeypatch):
    """The observations are plain data the judge alone turns into a verdict; observations it cannot read
    (forged, cut short) give a failed verdict, never a pass or an exception, when grading."""
    double = _doubling(monkeypatch)
    seen = double.probe(lambda x: 2 * x)
    assert seen == {"two": {"type": "int", "value": 4}, "three": {"type": "int", "value": 6}}
    assert double.verdict(seen) == Verdict("passed", "Exercise 0.1 (doubling): passed (2 -> 4)")

    class Liar(int):
        def __eq__(self, other):
            return True

    assert double.probe(lambda x: Liar(0))["two"] == {"type": "Liar"}
    assert double.verdict(double.probe(lambda x: Liar(0))) == Verdict(
        "failed", "Exercise 0.1 (doubling): double(2) should be a single number, but is a Liar")
    assert double.verdict({"$not_attempted": True}).status == "not_attempted"
    assert double.verdict({"two": {"type": "int", "value": 4}, "$timed_out": "your code used more than 3 s of CPU time"}) == Verdict(
        "timed_out", "Exercise 0.1 (doubling): your code used more than 3 s of CPU time")
    for forged in ({}, {"two": "4"}, {"two": {"value": 4}}, {"two": {"type": "int"}}, {"two": [4]}):
        assert double.verdict(forged).status == "failed", forged
    with pytest.raises(TypeError):
        double.verdict({"two": {"value": 4}}, strict=True)  # a notebook's check (and a test) sees a judge's error


def test_a_probe_leaves_the_global_random_state_alone(monkeypatch):
    double = _doubling(monkeypatch)
    torch.manual_seed(3)
    before = torch.random.get_rng_state()
    double.probe(lambda x: 2 * x + 0 * torch.randn(()).item())
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize("name", list(checks.EXERCISES))
def test_not_attempted_waits(name, capsys):  # every lesson's checks
    assert_not_attempted(name, capsys)


def test_every_check_is_reached_through_checks_in_lesson_order():
    """Each check module's checks are the package's own objects; together they are every exercise, once."""
    names = []
    for module_name in CHECK_MODULES:
        module = importlib.import_module(f"genai_course.checks.{module_name}")
        for name in module.__all__:
            assert getattr(checks, name) is getattr(module, name), name
        names += module.__all__
    assert sorted(names) == sorted(checks.EXERCISES) and len(set(names)) == len(names)
    assert sorted(checks.__all__) == sorted(names + ["CheckFailed", "EXERCISES", "REGISTRY", "Exercise", "OutOfTime", "Verdict"])
    assert list(checks.REGISTRY) == list(checks.EXERCISES) and all(isinstance(e, checks.Exercise) for e in checks.REGISTRY.values())
    numbers = [tuple(int(part) for part in label.split()[1].split(".")) for label in checks.EXERCISES.values()]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_each_check_module_has_a_test_file_and_a_mutation_table_of_its_own():
    here = Path(__file__).parent
    assert [name for name in CHECK_MODULES if not (here / f"test_checks_{name}.py").is_file()] == []
    assert [name for name in CHECK_MODULES if not (here / f"test_mutations_{name}.py").is_file()] == []
    assert (here / "test_checks_observations.py").is_file()


def test_every_exercise_is_tested_in_a_checks_test_file():
    text = "".join(p.read_text() for p in Path(__file__).parent.glob("test_checks*.py"))
    untested = [name for name in checks.EXERCISES if f"checks.{name}" not in text and f'"{name}"' not in text]
    assert not untested, f"no test mentions these checks: {untested}"


@pytest.mark.parametrize("name", list(checks.EXERCISES))
def test_the_course_solution_passes_through_the_observation_files(name, tmp_path):
    """Each check on the course's own solution (solutions/NN_*.py), judged as the grader judges: the probe's
    observations saved, loaded back as plain data and judged apart."""
    exercise = checks.REGISTRY[name]
    save(exercise.probe(course_solution(name)), tmp_path, "x")
    assert exercise.verdict(load(tmp_path, "x"), strict=True).status == "passed"
