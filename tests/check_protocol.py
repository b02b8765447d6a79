"""The exercise-check protocol (``genai_course.checks._protocol``), asserted the same way for every
lesson's checks by the test file of each check module (tests/test_checks_<module>.py).

A check prints one "✅ ... passed" line, or one "⏳ ... not attempted yet" line (and does not
raise), or raises ``CheckFailed`` with one line in the learner's terms and no library traceback.
Lessons reach every check through ``genai_course.checks``, under the label it was registered with.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Sequence

import pytest

from genai_course import checks
from genai_course.checks import CheckFailed


def assert_registered(module: ModuleType, labels: dict[str, str]) -> None:
    """``module`` holds exactly the checks ``labels`` names, in that order, each registered under its
    label ("Exercise N.k (title)") and reached through ``genai_course.checks`` as itself."""
    assert module.__all__ == list(labels)
    for name, label in labels.items():
        assert checks.EXERCISES[name] == label
        assert getattr(checks, name) is getattr(module, name)
        assert getattr(module, name).__module__ == module.__name__


def not_attempted(*args: Any, **kwargs: Any) -> Any:
    """A learner's function that still holds the exercise's ``raise NotImplementedError``."""
    raise NotImplementedError


def assert_not_attempted(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    getattr(checks, name)(not_attempted)  # does not raise
    expected = f"⏳ {checks.EXERCISES[name]}: not attempted yet (replace the `raise NotImplementedError` with your code)\n"
    assert capsys.readouterr().out == expected


def assert_named_mistake(name: str, fn: Callable[..., Any], fragments: Sequence[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CheckFailed) as info:
        getattr(checks, name)(fn)
    message = str(info.value)
    assert message.startswith(f"{checks.EXERCISES[name]}: ")
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no library traceback chained on
    assert capsys.readouterr().out == ""  # no "passed" line before the failure


def assert_passes(name: str, fn: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
    """A correct answer prints one "passed" line, the first time and again (how long a check takes is
    measured by `make bench`: under a second each)."""
    for _ in range(2):
        getattr(checks, name)(fn)
        out = capsys.readouterr().out
        assert out.startswith(f"✅ {checks.EXERCISES[name]}: passed"), out
        assert out.count("\n") == 1


def reference_tests(correct: dict[str, Any]) -> tuple[Callable[..., None], Callable[..., None]]:
    """The two tests a check file runs on its reference solutions (``correct``: check name -> a right
    answer or a list of them): every answer passes (``assert_passes``), and a check leaves torch's global
    random state as it found it (it draws from its own generators, so a learner's seeded notebook
    stays reproducible). A test file takes them as its own:
    ``test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)``."""
    import torch

    answers = [(name, fn) for name, fns in correct.items() for fn in (fns if isinstance(fns, (list, tuple)) else [fns])]

    @pytest.mark.parametrize("name, fn", answers, ids=lambda v: v if isinstance(v, str) else "")
    def test_correct_solution_passes(name: str, fn: Callable[..., Any], capsys: pytest.CaptureFixture[str]) -> None:
        assert_passes(name, fn, capsys)

    @pytest.mark.parametrize("name", list(correct))
    def test_checks_leave_the_global_random_state_alone(name: str, capsys: pytest.CaptureFixture[str]) -> None:
        torch.manual_seed(5)
        before = torch.random.get_rng_state()
        getattr(checks, name)(next(fn for n, fn in answers if n == name))
        assert torch.equal(torch.random.get_rng_state(), before)

    return test_correct_solution_passes, test_checks_leave_the_global_random_state_alone


def file_round_trip_tests(correct: dict[str, Any], mistakes: Sequence[Sequence[Any]]) -> Callable[..., None]:
    """The test a check file runs on its reference answers (``correct``: name -> answer or answers) and
    mistakes (rows that start with (name, learner's function, ...)): what the probe saw, saved and loaded as
    the grader carries it (``observations.save``, ``load``), gets the verdict it gets in place, "passed" for
    a reference answer and "failed" for a mistake."""
    import torch

    from genai_course.checks import observations

    cases = [(name, fn, "passed") for name, fns in correct.items() for fn in (fns if isinstance(fns, (list, tuple)) else [fns])]
    cases += [(row[0], row[1], "failed") for row in mistakes]

    @pytest.mark.parametrize("name, fn, status", cases, ids=[f"{c[0]}-{c[2]}-{k}" for k, c in enumerate(cases)])
    def test_the_verdict_survives_the_observation_files(name: str, fn: Callable[..., Any], status: str, tmp_path: Any) -> None:
        exercise = checks.REGISTRY[name]
        torch.manual_seed(0)
        seen = exercise.probe(fn)
        observations.save(seen, tmp_path, "x")
        again = exercise.verdict(observations.load(tmp_path, "x"), strict=True)
        assert again == exercise.verdict(seen, strict=True)
        assert again.status == status, again

    return test_the_verdict_survives_the_observation_files
