"""Exercise check for lesson 10 (denoising diffusion, DDPM): 10.1 the forward process ``q_sample``.

Lessons call it through ``genai_course.checks``: ``checks.q_sample(fn)``. It runs the learner's
function on 2D points and 8x8 images, on a toy schedule whose alpha_t, alpha_bar_t and beta_t are
far apart and on the course's cosine and linear schedules, at steps including 0 and T-1, compares
with the truth computed here in float64 and, when it differs, with the formula written the usual
wrong ways, to say which slip it is (in words: a message never quotes the formula or the answer's
code). (10.2 and 10.3 are in ``denoising``.) The probe runs the
function and records what it returned (and a few diagnostic calls); the judge (``_judge_q_sample``)
decides from those records alone, see ``_protocol``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..diffusion import NoiseSchedule
from ..utils import same
from ._protocol import CheckFailed, Observed, _call, _edited, _exercise, _unchanged
from ._schedules import _EDITS, _TOL, _agrees, _constant, _diagnostic, _first_difference, _output, _quiet, _read, _schedule
from .observations import observe

__all__ = ["q_sample"]


@dataclass
class _ForwardCase:
    schedule: NoiseSchedule
    t: torch.Tensor  # (B,) int64
    x0: torch.Tensor  # (B, ...)
    noise: torch.Tensor  # like x0


def _forward_cases() -> list[_ForwardCase]:
    g = torch.Generator().manual_seed(10)
    cases = []
    for kind, T, shape, steps in (
        ("toy", 6, (6, 2), [0, 5, 2, 1, 4, 3]),  # B = 6 != 2: a (B,) alpha_bars[t] cannot multiply (B, 2) points
        ("cosine", 200, (8, 1, 8, 8), [0, 199, 50, 100, 150, 1, 120, 75]),  # B = 8 = the width: a (B, 1) one lines up with the rows
        ("linear", 50, (3, 5), [49, 0, 20]),
    ):
        x0, noise = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
        cases.append(_ForwardCase(_schedule(kind, T), torch.tensor(steps), x0, noise))
    return cases


def _per_example(v: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """v[t] (B,) shaped (B, 1, ...) to multiply ``like`` (B, ...), in float64."""
    return v.double()[t].reshape(-1, *[1] * (like.dim() - 1))


def _forward(case: _ForwardCase, signal: Callable[[torch.Tensor], torch.Tensor], spread: Callable[[torch.Tensor], torch.Tensor],
             abar: torch.Tensor | None = None, layout: int | None = None, sign: float = 1.0) -> torch.Tensor | None:
    """signal(abar_t) x0 + sign spread(abar_t) noise in float64, with abar_t from ``abar`` (default: the schedule's alpha_bars)
    shaped (B, 1, ...), or (B,) followed by ``layout`` ones (None where that does not broadcast to x0's shape)."""
    abar = case.schedule.alpha_bars.double() if abar is None else abar.double()
    x0, noise = case.x0.double(), case.noise.double()
    a = _per_example(abar, case.t, x0) if layout is None else abar[case.t].reshape(-1, *[1] * layout)
    try:
        out = signal(a) * x0 + sign * spread(a) * noise
    except RuntimeError:  # does not broadcast: the learner's version would have raised
        return None
    return out if out.shape == x0.shape else None


def _shifted(v: torch.Tensor, by: int) -> torch.Tensor:
    """v[t + by] (T,) with the step clamped to 0..T-1."""
    return v.double()[(torch.arange(len(v)) + by).clamp(0, len(v) - 1)]


def _sqrt(a: torch.Tensor) -> torch.Tensor:
    return a.sqrt()


def _sqrt_rest(a: torch.Tensor) -> torch.Tensor:
    return (1 - a).sqrt()


_RESHAPE = (
    "each of its B values must scale one whole example of x0, so it needs the batch as its first dim and a 1 for each of x0's "
    "other dims, as many as x0 has (points (B, 2) and images (B, 1, 8, 8) need different numbers of them)"
)
_BROADCAST_HINT = f"alpha_bars[t] has shape (B,), one value per example: {_RESHAPE}"


def _forward_slips() -> list[tuple[Callable[[_ForwardCase], torch.Tensor | None], str]]:
    """x_t written the usual wrong ways, and what to say about each."""
    one, zero = (lambda a: torch.ones_like(a)), (lambda a: torch.zeros_like(a))
    slips: list[tuple[Callable[[_ForwardCase], torch.Tensor | None], str]] = [
        (lambda c: _forward(c, lambda a: a, _sqrt_rest),
         "alpha_bar_t is not square-rooted in x0's coefficient: alpha_bar_t is the share of x0's *variance* that is left, and a "
         "coefficient scales the standard deviation"),
        (lambda c: _forward(c, _sqrt, lambda a: 1 - a),
         "the noise's coefficient is a variance where a standard deviation belongs: it is not square-rooted"),
        (lambda c: _forward(c, lambda a: a, lambda a: 1 - a),
         "neither coefficient is square-rooted: both are variances (shares of x_t's variance) where standard deviations belong"),
        (lambda c: _forward(c, _sqrt_rest, _sqrt),
         "the coefficients are swapped: at t = 0, where almost no noise has been added yet, your x_t is almost all noise"),
        (lambda c: _forward(c, _sqrt, lambda a: 1 - a.sqrt()),
         "the noise's coefficient takes the square root of alpha_bar_t before subtracting it from 1: the subtraction comes first"),
        (lambda c: _forward(c, _sqrt, lambda a: (1 - a.sqrt()).sqrt()),
         "the noise's coefficient has one square root too many: alpha_bar_t is square-rooted inside it as well as outside"),
        (lambda c: _forward(c, one, _sqrt_rest),
         "x0 is not scaled: the data should fade as the noise grows, until almost nothing of it is left at t = T-1"),
        (lambda c: _forward(c, _sqrt, zero),
         "the noise is missing: x_t holds no part of the noise you are given"),
        (lambda c: _forward(c, _sqrt, one),
         "the noise is added at full strength at every step: its coefficient should grow with t, from near 0 at t = 0"),
        (lambda c: _forward(c, _sqrt, _sqrt_rest, sign=-1.0),
         "the noise is subtracted: it enters x_t with the wrong sign (the check compares with this exact noise)"),
        (lambda c: _forward(c, _sqrt, _sqrt_rest, abar=c.schedule.alphas),
         "you used alpha_t = 1 - beta_t, one step's factor: the closed form jumps from x_0 to x_t at once and needs "
         "alpha_bar_t, the product of every step's factor up to t, which is what alpha_bars[t] holds"),
        (lambda c: _forward(c, _sqrt, _sqrt_rest, abar=torch.cumprod(c.schedule.alpha_bars.double(), 0)),
         "alpha_bars already holds the cumulative products alpha_0 alpha_1 ... alpha_t: index it, alpha_bars[t], without another torch.cumprod"),
        (lambda c: _forward(c, _sqrt, _sqrt_rest, abar=torch.roll(c.schedule.alpha_bars.double(), 1)),
         "off by one: you used alpha_bars[t - 1] (at t = 0 that is alpha_bars[-1], the last step's); steps are 0-based here, "
         "and x_t uses alpha_bars[t]"),
        (lambda c: _forward(c, _sqrt, _sqrt_rest, abar=_shifted(c.schedule.alpha_bars, -1)),
         "off by one: you used alpha_bars[t - 1] (kept at alpha_bars[0] for t = 0); steps are 0-based here, and x_t uses alpha_bars[t]"),
        (lambda c: _forward(c, _sqrt, _sqrt_rest, abar=c.schedule.alpha_bars_prev),
         "off by one: you used alpha_bar_{t-1} (1 at t = 0), the step before; steps are 0-based here, and x_t uses alpha_bars[t]"),
        (lambda c: _forward(c, _sqrt, _sqrt_rest, abar=_shifted(c.schedule.alpha_bars, 1)),
         "off by one: you used alpha_bars[t + 1] (kept at alpha_bars[T-1] for the last step); steps are 0-based here, from 0 to T-1, "
         "and x_t uses alpha_bars[t]"),
    ]
    for kind in ("cosine", "linear"):
        slips.append((lambda c, kind=kind: _forward(c, _sqrt, _sqrt_rest, abar=_schedule(kind, 200).alpha_bars),
                      f"x_t was computed from make_schedule(200, {kind!r})'s alpha_bars, not from the alpha_bars you were given: "
                      "use the argument, not a global schedule"))
    for ones in (0, 1):  # (B, 1, 1) and more give x_t a wrong shape, which says so
        shape = ", ".join(["B"] + ["1"] * ones) + ("," if ones == 0 else "")
        slips.append((lambda c, ones=ones: _forward(c, _sqrt, _sqrt_rest, layout=ones),
                      f"alpha_bars[t] of shape ({shape}) lined up with x0's last dims, not with its batch (for images (B, 1, 8, 8) "
                      f"it scaled rows or columns, not examples): {_RESHAPE}"))
    return slips


def _forward_what(case: _ForwardCase) -> str:
    return f"q_sample(x0, t, alpha_bars, noise) for x0 of shape {tuple(case.x0.shape)} and t = {case.t.tolist()}"


def _forward_advice(seen: Observed, outs: list[torch.Tensor], cases: list[_ForwardCase]) -> str:
    """Why the learner's x_t differ from the closed form of the forward process."""
    for candidate, advice in _forward_slips():
        if _agrees(outs, candidate, cases):
            return advice
    k = next(i for i, (out, c) in enumerate(zip(outs, cases)) if not same(out, _forward(c, _sqrt, _sqrt_rest), _TOL))
    case = cases[k]
    shape = tuple(case.x0.shape)
    again = _diagnostic(seen[f"again{k}"], shape)
    if again is not None and not same(again, outs[k], 1e-6):
        return (
            "two calls with the same x0, t and noise gave different x_t: use the noise you are given, "
            "don't draw new noise (torch.randn_like) inside q_sample"
        )
    other = _diagnostic(seen[f"other{k}"], shape)
    if other is not None and same(other, outs[k], 1e-6):
        return "x_t does not change with the noise you pass: the noise in x_t must be the noise argument"
    signal = _diagnostic(seen[f"signal{k}"], shape)  # (B, ...): x0's coefficient per example
    spread = _diagnostic(seen[f"spread{k}"], shape)  # the noise's
    a = _per_example(case.schedule.alpha_bars, case.t, case.x0).expand(case.x0.shape)
    for got, want, name in ((signal, a.sqrt(), "x0's"), (spread, (1 - a).sqrt(), "the noise's")):
        if got is None:
            continue
        wrong = ((got.double() - want).abs() > _TOL * (1 + want.abs())).flatten(1).any(dim=1)  # (B,)
        if wrong.any():
            i = int(wrong.nonzero()[0])
            j = int(((got.double() - want).abs() > _TOL * (1 + want.abs()))[i].flatten().nonzero()[0])
            return (
                f"at t = {int(case.t[i])} {name} coefficient is {got[i].flatten()[j].item():.4f}, expected "
                f"{want[i].flatten()[j].item():.4f} ({'too large' if got[i].flatten()[j] > want[i].flatten()[j] else 'too small'}; each "
                "example's coefficients come from alpha_bars at its own step t)"
            )
    truth = _forward(case, _sqrt, _sqrt_rest)
    assert truth is not None
    j = _first_difference(outs[k], truth)
    i = j // outs[k][0].numel()  # the example
    return (
        f"x_t differs from the forward process's closed form for the example at t = {int(case.t[i])} "
        f"(got {outs[k].flatten()[j].item():.4f}, expected {truth.flatten()[j].item():.4f})"
    )


_FORWARD_ERRORS = [
    (("must match the size of tensor", "broadcast"), _BROADCAST_HINT),
    (("only one element tensors", "cannot be converted to Scalar", "Boolean value of Tensor"),
     "t holds one step per example, shape (B,), so alpha_bars[t] is a tensor of B values: compute with tensor operations, "
     "which take B values at once (math.sqrt and float() take one number)"),
    (("out of bounds",), "steps run from 0 to T-1: index alpha_bars with t itself, alpha_bars[t]"),
]


@_exercise("10.1", "the forward process")
def q_sample(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(x0 (B, ...), t (B,) int64 steps in 0..T-1, alpha_bars (T,), noise like x0) -> x_t like x0, float32:
    x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise, each example at its own step t."""
    cases = _forward_cases()
    for k, case in enumerate(cases):
        given = (case.x0.clone(), case.t.clone(), case.schedule.alpha_bars.clone(), case.noise.clone())
        seen[f"x_t{k}"] = observe(_call(_forward_what(case), fn, *given))
        seen[f"edited{k}"] = _edited(zip(("x0", "t", "alpha_bars", "noise"), given, (case.x0, case.t, case.schedule.alpha_bars, case.noise)))
    for k, case in enumerate(cases):  # diagnostics: the same inputs again, other noise, and each coefficient alone
        t, abar = case.t, case.schedule.alpha_bars
        other = torch.randn(case.noise.shape, generator=torch.Generator().manual_seed(1))
        zero, one = torch.zeros_like(case.x0), torch.ones_like(case.x0)
        for key, x0, noise in (("again", case.x0, case.noise), ("other", case.x0, other), ("signal", one, zero), ("spread", zero, one)):
            seen[f"{key}{k}"] = _quiet(fn, x0.clone(), t.clone(), abar.clone(), noise.clone())


@q_sample.judge
def _judge_q_sample(seen: Observed) -> str:
    cases = _forward_cases()
    outs = []
    for k, case in enumerate(cases):
        what = _forward_what(case)
        rec = _read(seen, f"x_t{k}", _FORWARD_ERRORS)
        _unchanged(what, seen[f"edited{k}"], _EDITS)
        hint = f": {_BROADCAST_HINT}" if rec["type"] == "Tensor" and len(rec["shape"]) > case.x0.dim() else ""
        outs.append(_output(what, rec, tuple(case.x0.shape), "x_t", hint))
    if all(same(out, _forward(c, _sqrt, _sqrt_rest), _TOL) for out, c in zip(outs, cases)):
        return "sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise for points and images, at steps 0 to T-1"
    value = _constant(outs)
    if value is not None:
        raise CheckFailed(f"x_t is {value:.4g} everywhere, whatever x0, t and the noise: compute it from the tensors you are given")
    raise CheckFailed(_forward_advice(seen, outs, cases))
