"""The exercise-check protocol: a probe that runs the learner's code, a judge that says what it means.

Each check tries the learner's object (a function or a network) on small inputs, and either
prints one line

    ✅ Exercise 2.1 (the generator network): passed

or, if the learner's code still raises ``NotImplementedError``,

    ⏳ Exercise 2.1 (the generator network): not attempted yet

or raises ``CheckFailed`` whose message says what is wrong (expected shape, where the
gradient stopped, which sign is flipped). In Jupyter a ``CheckFailed`` shows as one red
line, never a traceback from inside the library.

Every check is two functions, registered together as one ``Exercise``:

- the **probe** ``probe(fn, seen)`` calls the learner's code (only through ``_call``) on the
  check's own inputs and writes what it saw into ``seen``: records of returned values
  (``observations.observe``), numbers, shapes, which parameters changed. It decides nothing.
- the **judge** ``judge(seen) -> detail`` is a pure function of those observations: it raises
  ``CheckFailed`` with the learner-facing message, or returns the detail of the "passed" line.
  It reads records through ``_tensor``, ``_scalar``, ``_number`` and ``_unchanged``, and adds a
  hint to a learner's error with ``_with_advice``.

In a notebook, ``checks.d_step(d_step)`` runs both in place. The grader (``genai_course.grading``)
runs the probe in the learner's sandboxed process and the judge in its own, which never runs
learner code: what a notebook prints never decides a verdict. This module serves the check
modules only: lessons import ``genai_course.checks``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any, Callable, Iterable, NamedTuple

import torch


class CheckFailed(Exception):
    """The learner's code ran but did something wrong; the message says what."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"\x1b[31m❌ {self}\x1b[0m"]


class _NotAttempted(Exception):
    pass


class _Stop(Exception):
    """A probe cannot go on: what it saw so far already fails (the judge says so)."""


class OutOfTime(BaseException):
    """The learner's code ran past its time (grading raises it from a CPU-time signal): a BaseException,
    so a learner's ``except Exception`` does not swallow it."""


EXERCISES: dict[str, str] = {}  # check name -> "Exercise N.k (title)"
REGISTRY: dict[str, Exercise] = {}  # check name -> its Exercise (probe and judge), in lesson order

# keys the protocol itself writes into observations (a probe's own keys never start with "$")
NOT_ATTEMPTED, RAISED, STOPPED, TIMED_OUT = "$not_attempted", "$raised", "$stopped", "$timed_out"


class Verdict(NamedTuple):
    """A judge's verdict: status is passed, failed, not_attempted or timed_out; message is the
    learner-facing line without its symbol ("Exercise 2.1 (the generator network): passed (...)")."""

    status: str
    message: str


class Observed(Mapping[str, Any]):
    """Observations as a judge reads them. A key the probe never wrote stands for the reason the probe
    stopped before it: the learner's code raised (CheckFailed with its message), still raises
    NotImplementedError (not attempted), or ran out of time; so a judge that checks its observations
    in the order the probe made them fails at the first thing that went wrong, as the check did
    when probe and judge were one function."""

    def __init__(self, seen: Mapping[str, Any]) -> None:
        self._seen = dict(seen)

    def __getitem__(self, key: str) -> Any:
        if key in self._seen:
            return self._seen[key]
        if self._seen.get(NOT_ATTEMPTED):
            raise _NotAttempted()
        if TIMED_OUT in self._seen:
            raise OutOfTime(self._seen[TIMED_OUT])
        raised = self._seen.get(RAISED)
        if isinstance(raised, str):
            raise CheckFailed(raised)
        raise CheckFailed(f"the check could not finish (it stopped before it saw {key!r}"
                          + (f": {self._seen[STOPPED]}" if STOPPED in self._seen else "") + ")")

    def __iter__(self) -> Iterator[str]:
        return iter(self._seen)

    def __len__(self) -> int:
        return len(self._seen)


class Exercise:
    """One exercise's check: ``probe(fn, seen)`` calls the learner's ``fn`` on the check's own inputs
    and writes what it saw into ``seen`` (plain data and tensors, see ``checks.observations``); the
    judge (set with ``@exercise.judge``) turns observations into the detail of the "passed" line, or
    raises CheckFailed. Calling the exercise, ``checks.d_step(d_step)``, runs both in place: the
    notebook's check."""

    def __init__(self, number: str, title: str, probe: Callable[..., None]) -> None:
        self.name, self.number, self.title = probe.__name__, number, title
        self.label = f"Exercise {number} ({title})"
        self.probe_fn = probe
        self.judge_fn: Callable[[Observed], str | None] | None = None
        self.__doc__, self.__module__, self.__name__, self.__qualname__ = probe.__doc__, probe.__module__, probe.__name__, probe.__qualname__
        self.__wrapped__ = probe

    def judge(self, fn: Callable[[Observed], str | None]) -> Callable[[Observed], str | None]:
        """Decorator: ``fn`` is this exercise's judge."""
        self.judge_fn = fn
        return fn

    def probe(self, fn: Any) -> dict[str, Any]:
        """Run the probe on the learner's ``fn``: the observations, with the protocol's "$" keys where it
        stopped early. Torch's global random state is left as it was."""
        seen: dict[str, Any] = {}
        with torch.random.fork_rng(devices=[]):
            try:
                self.probe_fn(fn, seen)
            except _NotAttempted:
                seen[NOT_ATTEMPTED] = True
            except _Raised as e:
                seen[RAISED] = str(e)
            except _Stop:
                seen.setdefault(STOPPED, "what the check saw already fails")
            except OutOfTime as e:
                seen[TIMED_OUT] = str(e)
            except Exception as e:  # the probe could not go on with what the learner's code returned
                seen[STOPPED] = f"{type(e).__name__}: {e}"[:300]
        return seen

    def verdict(self, seen: Mapping[str, Any], strict: bool = False) -> Verdict:
        """The judge's verdict on observations. ``strict`` (the notebook's check, and tests): an error
        of the judge itself is raised, not reported; otherwise (grading) observations the judge
        cannot read give a failed verdict that says so."""
        assert self.judge_fn is not None, f"{self.name} has no judge"
        try:
            with torch.random.fork_rng(devices=[]):
                detail = self.judge_fn(Observed(seen))
        except _NotAttempted:
            return Verdict("not_attempted", f"{self.label}: not attempted yet (replace the `raise NotImplementedError` with your code)")
        except OutOfTime as e:
            return Verdict("timed_out", f"{self.label}: {e}")
        except CheckFailed as e:
            return Verdict("failed", f"{self.label}: {e}")
        except Exception as e:
            if strict:
                raise
            return Verdict("failed", f"{self.label}: the check's observations are malformed ({type(e).__name__}), so it cannot judge them")
        if detail is not None and not isinstance(detail, str):
            return Verdict("failed", f"{self.label}: the check's observations are malformed, so it cannot judge them")
        return Verdict("passed", f"{self.label}: passed" + (f" ({detail})" if detail else ""))

    def __call__(self, fn: Any) -> None:
        """The notebook's check: prints "✅ ... passed" or "⏳ ... not attempted yet", or raises CheckFailed."""
        status, message = self.verdict(self.probe(fn), strict=True)
        if status == "passed":
            print(f"✅ {message}")
        elif status == "not_attempted":
            print(f"⏳ {message}")
        else:
            raise CheckFailed(message) from None

    def __repr__(self) -> str:
        return f"<check {self.label}>"


def _exercise(number: str, title: str) -> Callable[[Callable[..., None]], Exercise]:
    """Register a check's probe: ``@_exercise("5.1", "a discriminator step") def d_step(fn, seen): ...``,
    then its judge with ``@d_step.judge``."""

    def wrap(probe: Callable[..., None]) -> Exercise:
        ex = Exercise(number, title, probe)
        EXERCISES[ex.name] = ex.label
        REGISTRY[ex.name] = ex
        return ex

    return wrap


class _Raised(Exception):
    """The learner's code raised: the message says so in the learner's terms."""


def _call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call learner code (a probe's only way to): its NotImplementedError means not attempted, any
    other exception (SystemExit included) ends the probe with "<what> raised <Type>: <message>"."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise _NotAttempted() from None
    except (Exception, SystemExit) as e:
        raise _Raised(f"{what} raised {type(e).__name__}: {_text(e)}") from None


def _text(e: BaseException) -> str:
    """An exception's message, without trusting its __str__ (learner code may define it)."""
    try:
        text = str(e)
    except Exception:
        text = ""
    return text if type(text) is str else ""


def _stop() -> None:
    """End the probe here: what it saw so far already fails."""
    raise _Stop()


def _module_or_stop(seen: dict[str, Any], key: str, obj: Any) -> None:
    """Record at ``key`` whether the learner returned an ``nn.Module`` (None) or what else (its class name); in
    the second case stop the probe, since nothing can be run through it (the judge reads ``key`` first)."""
    is_module = isinstance(obj, torch.nn.Module)
    seen[key] = None if is_module else type(obj).__name__
    if not is_module:
        _stop()


def _edited(given: Iterable[tuple[str, torch.Tensor, torch.Tensor]]) -> list[str]:
    """Probe side of ``_unchanged``: the names of the tensors in ``given`` (name, the tensor passed,
    a copy taken before) that the learner's code changed."""
    return [name for name, passed, original in given if not torch.equal(passed, original)]


def _record(what: str, rec: Any) -> dict[str, Any]:
    if not isinstance(rec, dict) or not isinstance(rec.get("type"), str):
        raise TypeError(f"{what}: not a record")
    return rec


def _tensor(what: str, rec: Any, shape: tuple[int, ...] | None = None, dtype: torch.dtype | None = torch.float32) -> torch.Tensor:
    """The tensor a record (``observe``) holds, if it is a finite tensor of the expected shape and dtype."""
    rec = _record(what, rec)
    if rec["type"] != "Tensor":
        raise CheckFailed(f"{what} should return a torch.Tensor, but returned {rec['type']}")
    if shape is not None and tuple(rec["shape"]) != shape:
        raise CheckFailed(f"{what} should have shape {shape}, but has shape {tuple(rec['shape'])}")
    if dtype is not None and rec["dtype"] != str(dtype):
        raise CheckFailed(f"{what} should have dtype {dtype}, but has dtype {rec['dtype']}")
    out = rec["value"]
    if not isinstance(out, torch.Tensor) or list(out.shape) != list(rec["shape"]):
        raise TypeError(f"{what}: the record's value does not match its shape")
    if out.is_floating_point() and not torch.isfinite(out).all():
        raise CheckFailed(f"{what} contains NaN or infinite values")
    return out


def _unchanged(what: str, edited: list[str], edits: str) -> None:
    """Raise if the learner's function edited a tensor it was given (``edited``: ``_edited``'s names);
    ``edits`` names the in-place operations to suspect."""
    if edited:
        raise CheckFailed(f"{what} changed the {edited[0]} you were given (an in-place edit such as {edits}): work on new tensors")


def _with_advice(failure: CheckFailed, advice: list[tuple[tuple[str, ...], str]]) -> CheckFailed:
    """The learner's error, with the advice of the first entry one of whose fragments it contains."""
    for fragments, hint in advice:
        if any(f in str(failure) for f in fragments):
            return CheckFailed(f"{failure} ({hint})")
    return failure


def _scalar(what: str, rec: Any) -> torch.Tensor:
    """A finite 0-dim tensor (a loss), or a failure that says to take the mean."""
    rec = _record(what, rec)
    if rec["type"] == "Tensor" and len(rec["shape"]) > 0:
        raise CheckFailed(f"{what} should be a single number (a 0-dim tensor: take the .mean()), but has shape {tuple(rec['shape'])}")
    return _tensor(what, rec, shape=(), dtype=None)


_NUMBERS = ("int", "float", "float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8")


def _number(what: str, rec: Any) -> float:
    """A Python (or numpy) number or a one-element tensor, as a float."""
    rec = _record(what, rec)
    if rec["type"] == "Tensor" and math.prod(rec["shape"]) == 1:
        return float(rec["value"].reshape(()))
    if rec["type"] in _NUMBERS:
        return float(rec["value"])
    if rec["type"] == "bool":
        raise CheckFailed(f"{what} should be a number, but is the boolean {rec['value']}")
    shape = f" of shape {tuple(rec['shape'])}" if rec["type"] == "Tensor" else ""
    raise CheckFailed(f"{what} should be a single number, but is a {rec['type']}{shape}")
