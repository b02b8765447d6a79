"""The exercise-check protocol: how a check runs the learner's code and what it says back.

Each check takes the learner's object (a function or a network), tries it on small
inputs, and either prints one line

    ✅ Exercise 2.1 (the generator network): passed

or, if the learner's code still raises ``NotImplementedError``,

    ⏳ Exercise 2.1 (the generator network): not attempted yet

or raises ``CheckFailed`` whose message says what is wrong (expected shape, where the
gradient stopped, which sign is flipped). In Jupyter a ``CheckFailed`` shows as one red
line, never a traceback from inside the library.

A check module of this package writes each check as a function that returns a detail for the
"passed" line, registered with ``_exercise``; it runs learner code through ``_call``, holds what
comes back to ``_tensor``, ``_scalar``, ``_number`` and ``_unchanged``, and adds a hint to a
learner's error with ``_with_advice``. This module serves the check modules only: lessons import
``genai_course.checks``.
"""

from __future__ import annotations

import functools
import numbers
from typing import Any, Callable, Iterable

import torch


class CheckFailed(Exception):
    """The learner's code ran but did something wrong; the message says what."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"\x1b[31m❌ {self}\x1b[0m"]


class _NotAttempted(Exception):
    pass


EXERCISES: dict[str, str] = {}  # check name -> "Exercise N.k (title)"


def _exercise(number: str, title: str) -> Callable[[Callable[..., str | None]], Callable[..., None]]:
    """Register a check: wraps it with the pass / not-attempted / failed protocol."""

    def wrap(check: Callable[..., str | None]) -> Callable[..., None]:
        label = f"Exercise {number} ({title})"
        EXERCISES[check.__name__] = label

        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                detail = check(*args, **kwargs)
            except _NotAttempted:
                print(f"⏳ {label}: not attempted yet (replace the `raise NotImplementedError` with your code)")
                return
            except CheckFailed as e:
                raise CheckFailed(f"{label}: {e}") from None
            print(f"✅ {label}: passed" + (f" ({detail})" if detail else ""))

        return run

    return wrap


def _call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call learner code; turn its exceptions into learner-terms failures."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise _NotAttempted() from None
    except CheckFailed:
        raise
    except Exception as e:
        raise CheckFailed(f"{what} raised {type(e).__name__}: {e}") from None


def _tensor(what: str, out: Any, shape: tuple[int, ...] | None = None, dtype: torch.dtype | None = torch.float32) -> torch.Tensor:
    """Check an output is a finite tensor of the expected shape and dtype."""
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"{what} should return a torch.Tensor, but returned {type(out).__name__}")
    if shape is not None and tuple(out.shape) != shape:
        raise CheckFailed(f"{what} should have shape {shape}, but has shape {tuple(out.shape)}")
    if dtype is not None and out.dtype != dtype:
        raise CheckFailed(f"{what} should have dtype {dtype}, but has dtype {out.dtype}")
    if out.is_floating_point() and not torch.isfinite(out).all():
        raise CheckFailed(f"{what} contains NaN or infinite values")
    return out


def _unchanged(what: str, given: Iterable[tuple[str, torch.Tensor, torch.Tensor]], edits: str) -> None:
    """Raise if the learner's function edited a tensor it was given: ``given`` holds (name, the
    tensor passed, a copy taken before); ``edits`` names the in-place operations to suspect."""
    for name, passed, original in given:
        if not torch.equal(passed, original):
            raise CheckFailed(f"{what} changed the {name} you were given (an in-place edit such as {edits}): work on new tensors")


def _with_advice(failure: CheckFailed, advice: list[tuple[tuple[str, ...], str]]) -> CheckFailed:
    """The learner's error, with the advice of the first entry one of whose fragments it contains."""
    for fragments, hint in advice:
        if any(f in str(failure) for f in fragments):
            return CheckFailed(f"{failure} ({hint})")
    return failure


def _scalar(what: str, out: Any) -> torch.Tensor:
    """A finite 0-dim tensor (a loss), or a failure that says to take the mean."""
    if isinstance(out, torch.Tensor) and out.dim() > 0:
        raise CheckFailed(f"{what} should be a single number (a 0-dim tensor: take the .mean()), but has shape {tuple(out.shape)}")
    return _tensor(what, out, shape=(), dtype=None)


def _number(what: str, out: Any) -> float:
    """A Python number or a one-element tensor, as a float."""
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        return float(out.detach())
    if isinstance(out, numbers.Real) and not isinstance(out, bool):
        return float(out)
    if isinstance(out, bool):
        raise CheckFailed(f"{what} should be a number, but is the boolean {out}")
    shape = f" of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else ""
    raise CheckFailed(f"{what} should be a single number, but is a {type(out).__name__}{shape}")
