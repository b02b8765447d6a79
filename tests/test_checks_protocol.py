"""genai_course.checks as a package: the protocol every check keeps (``_protocol``), and the face that
lessons import, with one module per lesson group, each mirrored by a test file here."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from genai_course import checks
from genai_course.checks import CheckFailed, _protocol

from check_protocol import assert_not_attempted

CHECK_MODULES = [name for _, name, _ in pkgutil.iter_modules(checks.__path__) if not name.startswith("_")]


def test_check_failed_renders_as_one_red_line():
    lines = CheckFailed("Exercise 9.9 (x): wrong")._render_traceback_()  # IPython shows these instead of a traceback
    assert len(lines) == 1
    plain = re.sub(r"\x1b\[[0-9;]*m", "", lines[0])
    assert plain == "❌ Exercise 9.9 (x): wrong"
    assert plain.startswith("❌")


def test_the_protocol_on_a_check_of_its_own(monkeypatch, capsys):
    """Passed (with its detail), not attempted, a failure in the learner's terms, and the learner's own error."""
    monkeypatch.setattr(_protocol, "EXERCISES", {})

    @_protocol._exercise("0.1", "doubling")
    def double(fn):
        out = _protocol._call("double(2)", fn, 2)
        if out != 4:
            raise CheckFailed(f"expected 4, got {out!r}")
        return "2 -> 4"

    assert _protocol.EXERCISES == {"double": "Exercise 0.1 (doubling)"}
    double(lambda x: 2 * x)
    assert capsys.readouterr().out == "✅ Exercise 0.1 (doubling): passed (2 -> 4)\n"

    def todo(x):
        raise NotImplementedError

    double(todo)
    assert capsys.readouterr().out.startswith("⏳ Exercise 0.1 (doubling): not attempted yet")
    for fn, message in ((lambda x: 5, "Exercise 0.1 (doubling): expected 4, got 5"),
                        (lambda x: int("two"), "Exercise 0.1 (doubling): double(2) raised ValueError: invalid literal for int() with base 10: 'two'")):
        with pytest.raises(CheckFailed) as info:
            double(fn)
        assert str(info.value) == message
        assert info.value.__cause__ is None and info.value.__suppress_context__
    assert capsys.readouterr().out == ""


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
    assert sorted(checks.__all__) == sorted(names + ["CheckFailed", "EXERCISES"])
    numbers = [tuple(int(part) for part in label.split()[1].split(".")) for label in checks.EXERCISES.values()]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_each_check_module_has_a_test_file_of_its_own():
    here = Path(__file__).parent
    assert [name for name in CHECK_MODULES if not (here / f"test_checks_{name}.py").is_file()] == []


def test_every_exercise_is_tested_in_a_checks_test_file():
    text = "".join(p.read_text() for p in Path(__file__).parent.glob("test_checks*.py"))
    untested = [name for name in checks.EXERCISES if f"checks.{name}" not in text and f'"{name}"' not in text]
    assert not untested, f"no test mentions these checks: {untested}"
