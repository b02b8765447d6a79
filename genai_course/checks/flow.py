"""Exercise checks for lesson 16 (flow matching, rectified flow).

16.1 Heun's method for the flow's ODE ``heun_sample``, 16.2 the exact velocity field of a few data
points ``exact_velocity``, 16.3 the 1D pairing whose straight paths never cross ``uncross_1d``. Lessons
call them through ``genai_course.checks``: ``checks.heun_sample(heun_sample)``. Each is a probe (``def
name(fn, seen)``: runs the learner's code, records what it saw) and a judge (``@name.judge``: from those
observations to the verdict), see ``_protocol``. The references are written in ``_flow_cases`` in
float64, apart from the library (which has no Heun sampler), with the slips learners make beside them,
so that an answer that matches a slip hears that slip's name and never the answer's code.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..utils import same
from ._flow_cases import (FIELD_SLIPS, PAIR_SLIPS, _STEPS_CASES, _explains, _Field, _field, _heun_times, _integrate,
                          _PairCase, _pair_cases, _pairing, _points_cases, _PointsCase, _x0, _crossing)
from ._protocol import CheckFailed, Observed, _call, _edited, _exercise, _record, _tensor, _unchanged, _with_advice
from .observations import observe

__all__ = ["heun_sample", "exact_velocity", "uncross_1d"]

_TOL = 1e-4  # 16.1: float32 states of order 1
_FIELD_TOL = 1e-3  # 16.2: velocities up to about 200 (x far away), and float32 differences divided by 1 - t = 0.001


def _fmt(v: float) -> str:
    return f"{v:.4g}"


# --------------------------------------------------------------------------- 16.1 Heun's method


@_exercise("16.1", "Heun's method for the flow's ODE")
def heun_sample(fn: Callable[..., Any], seen: dict) -> None:
    """fn(velocity, x0 (B, D), steps) -> x at t = 1 (B, D), with exactly 2 * steps calls velocity(x, t)."""
    for k, (steps, B, D) in enumerate(_STEPS_CASES):
        field, x0 = _Field((B, D)), _x0(k)
        given = x0.clone()
        seen[f"times{k}"] = field.times  # filled in by the calls, kept even if the learner's code raises
        seen[f"out{k}"] = observe(_call(f"heun_sample(velocity, x0, {steps})", fn, field, given, steps))
        seen[f"edited{k}"] = _edited([("x0", given, x0)])


_HEUN_ERRORS = [
    (("division by zero",), "steps = 1 is one step that takes the path from t = 0 all the way to t = 1: steps counts the "
                            "steps, not the times at which a state is kept"),
    (("but was given shape",), "velocity takes the whole batch at once, x of shape (B, D), and returns (B, D)"),
]


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6


def _judge_times(steps: int, times: list[float], out: torch.Tensor | None, x0: torch.Tensor) -> None:
    """Fail if the learner's calls to velocity are not Heun's: 2 a step, at 0, dt, dt, 2 dt, ..., 1."""
    n, dt = len(times), 1.0 / steps
    euler = out is not None and same(out, _integrate(x0, steps, "euler"), _TOL)
    if n == steps and euler:
        raise CheckFailed(_EULER + f" (asked for {steps} steps, velocity was called {n} times: Heun makes 2 calls a step)")
    if n != 2 * steps:
        raise CheckFailed(f"asked for {steps} steps, velocity was called {n} times (Heun makes 2 calls a step): take exactly the "
                          "steps you are asked for, each of length 1 / steps")
    want = _heun_times(steps)
    if all(_close(g, w) for g, w in zip(times, want)):
        return
    if not _close(times[0], 0.0):
        raise CheckFailed(f"the first call to velocity was at t = {_fmt(times[0])}: the path starts from x0, the noise, at t = 0")
    starts, seconds = times[0::2], times[1::2]
    if all(_close(s2 - s1, dt / 2) for s1, s2 in zip(starts, seconds)):
        raise CheckFailed("your second slope is taken half way through each step, at t + dt/2: that is the midpoint method; "
                          "Heun's takes it at the end of a trial Euler step, at t + dt, then averages the two slopes")
    if all(_close(s1, s2) for s1, s2 in zip(starts, seconds)):
        raise CheckFailed("your second slope is taken at t, the start of the step: it is the slope at the end of the trial "
                          "Euler step, so velocity must be told that point's time, t + dt")
    if steps > 1 and not _close(times[-1], 1.0) and _close(starts[1] - starts[0], seconds[0] - starts[0]):
        length = starts[1] - starts[0]
        raise CheckFailed(f"your steps are {_fmt(length)} long, so with {steps} steps the last slope is taken at "
                          f"t = {_fmt(times[-1])}: {steps} equal steps must take the path from t = 0 exactly to t = 1")
    j = next(j for j, (g, w) in enumerate(zip(times, want)) if not _close(g, w))
    raise CheckFailed(f"with {steps} steps, call {j + 1} to velocity was at t = {_fmt(times[j])}; Heun's method calls it at "
                      f"t = {', '.join(_fmt(w) for w in want)}")


_EULER = ("your steps use only the slope at the start of each step (that is Euler's method): Heun's step moves by the "
          "average of that slope and the slope at the end of a trial Euler step")
_HEUN_SLIPS = {
    "euler": "the second slope was computed but not used: " + _EULER,
    "no_half": "your step adds the two slopes instead of averaging them: the step moves dt times their mean, so it went twice "
               "as far as it should",
    "before_last": "you returned the state before the last step: return x at t = 1, after all the steps",
}


@heun_sample.judge
def _judge_heun_sample(seen: Observed) -> str:
    for k, (steps, B, D) in enumerate(_STEPS_CASES):
        what, x0 = f"heun_sample(velocity, x0, {steps})", _x0(k)
        try:
            rec = _record(what, seen[f"out{k}"])
        except CheckFailed as failure:
            raise _with_advice(failure, _HEUN_ERRORS) from None
        _unchanged("heun_sample", seen[f"edited{k}"], "x += ... or x.add_(...) on x0 itself")
        hint = ": return only the state at t = 1, not every step's" if rec["type"] == "Tensor" and len(rec["shape"]) == 3 else ""
        try:
            out = _tensor(what, rec, (B, D), dtype=None)
        except CheckFailed as failure:
            _judge_times(steps, list(seen[f"times{k}"]), None, x0)
            raise CheckFailed(f"{failure}{hint}") from None
        _judge_times(steps, list(seen[f"times{k}"]), out, x0)
        want = _integrate(x0, steps)
        if same(out, want, _TOL):
            continue
        for slip, says in _HEUN_SLIPS.items():
            if same(out, _integrate(x0, steps, slip), _TOL):
                raise CheckFailed(says)
        if same(out, x0, _TOL):
            raise CheckFailed(f"with {steps} steps, you returned x0 unchanged: return x at t = 1, after all the steps")
        j = int(((out.double() - want).abs() > _TOL * (1 + want.abs())).flatten().nonzero()[0])
        raise CheckFailed(f"with {steps} steps, your x at t = 1 differs from Heun's method's (an entry is {_fmt(out.flatten()[j].item())}, "
                          f"expected {_fmt(want.flatten()[j].item())}), though velocity was called at the right times")
    return f"2 calls a step at the right times, the trapezoid's average of the slopes, for {', '.join(str(s) for s, _, _ in _STEPS_CASES)} steps"


# --------------------------------------------------------------------------- 16.2 the exact velocity of a few points


def _ask_field(case: _PointsCase) -> str:
    return f"exact_velocity(x, {case.t}, points) for {case.what}"


@_exercise("16.2", "the exact velocity field of a few data points")
def exact_velocity(fn: Callable[..., Any], seen: dict) -> None:
    """fn(x (B, D), t float in [0, 1), points (M, D)) -> v (B, D)."""
    for k, case in enumerate(_points_cases()):
        x, points = case.x.clone(), case.points.clone()
        seen[f"v{k}"] = observe(_call(_ask_field(case), fn, x, case.t, points))
        seen[f"edited{k}"] = _edited([("x", x, case.x), ("points", points, case.points)])


_UNDERFLOW = ("there every exp(-|x - t a_i|^2 / (2 (1 - t)^2)) is so small that it rounds to 0, and 0 / 0 is NaN; the weights do "
              "not change if the same number is subtracted from every exponent, so subtract the largest one first (a softmax does)")
_FIELD_ERRORS = [(("must match the size of tensor", "broadcast"), "x is (B, D) and points (M, D): a distance for every pair of "
                  "an x and a data point is a (B, M) table")]


@exact_velocity.judge
def _judge_exact_velocity(seen: Observed) -> str:
    cases, outs = _points_cases(), []
    for k, case in enumerate(cases):
        try:
            rec = _record(_ask_field(case), seen[f"v{k}"])
        except CheckFailed as failure:
            raise _with_advice(failure, _FIELD_ERRORS) from None
        _unchanged("exact_velocity", seen[f"edited{k}"], "-= or div_()")
        if rec["type"] == "Tensor" and tuple(rec["shape"]) == tuple(case.x.shape) and rec["value"].is_floating_point() \
                and not torch.isfinite(rec["value"]).all():
            where = "x far from every data point" if "far" in case.what else "t near 1" if case.hard else case.what
            raise CheckFailed(f"your velocity is NaN or infinite for {where} (t = {case.t}): " + (_UNDERFLOW if case.hard else
                              "every entry must be a finite number"))
        outs.append(_tensor(_ask_field(case), rec, tuple(case.x.shape), dtype=None))
    agree = lambda a, b: same(a, b, _FIELD_TOL)  # noqa: E731
    wrong = [k for k, case in enumerate(cases) if not agree(outs[k], _field(case))]
    if not wrong:
        return "the posterior-weighted pull of every data point, at t = 0 to 0.999, far away, for M = 1 and D = 1"
    for slip, says in FIELD_SLIPS.items():
        if _explains(outs, _field, lambda c, slip=slip: _field(c, slip), cases, agree):
            more = f" and {len(wrong) - 1} more case{'s' if len(wrong) > 2 else ''}" if len(wrong) > 1 else ""
            raise CheckFailed(f"{says} (wrong for {cases[wrong[0]].what}{more})")
    case, out = cases[wrong[0]], outs[wrong[0]]
    want = _field(case)
    i = int(((out.double() - want).abs() > _FIELD_TOL * (1 + want.abs())).any(1).nonzero()[0])
    raise CheckFailed(f"for {case.what}, at x = {[round(v, 4) for v in case.x[i].tolist()]} your velocity is "
                      f"{[round(v, 4) for v in out[i].tolist()]}, expected {[round(v, 4) for v in want[i].tolist()]}")


# --------------------------------------------------------------------------- 16.3 paths that do not cross


def _ask_pairs(case: _PairCase) -> str:
    return f"uncross_1d(x0, x1) for {case.what}"


@_exercise("16.3", "straight paths that never cross, in 1D")
def uncross_1d(fn: Callable[..., Any], seen: dict) -> None:
    """fn(x0 (N,), x1 (N,)) -> y (N,): x1's values, re-ordered so that the paths x0[i] -> y[i] never cross."""
    for k, case in enumerate(_pair_cases()):
        x0, x1 = case.x0.clone(), case.x1.clone()
        seen[f"y{k}"] = observe(_call(_ask_pairs(case), fn, x0, x1))
        seen[f"edited{k}"] = _edited([("x0", x0, case.x0), ("x1", x1, case.x1)])


def _values(case: _PairCase, rec: dict) -> torch.Tensor:
    """The learner's y as float64 (N,), or a failure that says what it should be."""
    what, n = _ask_pairs(case), len(case.x0)
    if rec["type"] == "Tensor" and not rec["dtype"].startswith("torch.float"):
        whole = rec["value"].flatten().tolist()
        if sorted(whole) == list(range(n)):
            raise CheckFailed(f"{what} returned positions (whole numbers 0 to {n - 1}), not values: return x1's values themselves, "
                              "re-ordered")
        raise CheckFailed(f"{what} returned {rec['dtype']} numbers: return x1's values, re-ordered")
    if rec["type"] in ("tuple", "list"):
        raise CheckFailed(f"{what} returned a {rec['type']} of {rec['length']}: return one torch.Tensor of shape ({n},)")
    if rec["type"] == "Tensor" and len(rec["shape"]) == 1 and rec["shape"][0] != n:
        raise CheckFailed(f"{what} returned {rec['shape'][0]} values for {n} noise points: return one data value per noise "
                          "point, every value of x1 once")
    return _tensor(what, rec, (n,), dtype=None).double()


@uncross_1d.judge
def _judge_uncross_1d(seen: Observed) -> str:
    cases, outs = _pair_cases(), []
    for k, case in enumerate(cases):
        rec = _record(_ask_pairs(case), seen[f"y{k}"])
        _unchanged("uncross_1d", seen[f"edited{k}"], "sort_() or an assignment into it")
        y = _values(case, rec)
        if not torch.equal(y.sort().values, case.x1.double().sort().values):
            if torch.equal(y.sort().values, case.x0.double().sort().values):
                raise CheckFailed(f"{_ask_pairs(case)} returned the noise's values: y holds the data points, x1's values, re-ordered")
            stray = next(v for v in y.tolist() if y.tolist().count(v) != case.x1.double().tolist().count(v))
            raise CheckFailed(f"{_ask_pairs(case)} is not a re-ordering of x1: {_fmt(stray)} appears {y.tolist().count(stray)} "
                              f"times in it and {case.x1.double().tolist().count(stray)} times in x1")
        outs.append(y)
    agree = torch.equal
    wrong = [k for k, case in enumerate(cases) if not agree(outs[k], _pairing(case))]
    if not wrong:
        return f"x1 re-ordered so that no two paths cross, on {len(cases)} batches (sorted, reversed, N = 1, random)"
    case, y = cases[wrong[0]], outs[wrong[0]]
    pair = _crossing(case.x0, y)
    example = ""
    if pair is not None:
        i, j = pair
        example = (f"for {case.what}, the path from x0[{i}] = {_fmt(case.x0[i].item())} to {_fmt(y[i].item())} and the path "
                   f"from x0[{j}] = {_fmt(case.x0[j].item())} to {_fmt(y[j].item())} cross")
    for slip, says in PAIR_SLIPS.items():
        if _explains(outs, _pairing, lambda c, slip=slip: _pairing(c, slip), cases, agree):
            raise CheckFailed(f"{says} ({example})" if example else says)
    if example:
        raise CheckFailed(f"two paths cross: {example} (the one that starts lower must end lower)")
    raise CheckFailed(f"for {case.what} your pairing differs from the one whose paths never cross")
