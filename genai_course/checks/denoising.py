"""Exercise checks for lesson 10 (denoising diffusion, DDPM): sampling.

10.2 one step of the reverse process ``reverse_step``, 10.3 classifier-free guidance
``guided_eps``. Lessons call them through ``genai_course.checks``: ``checks.reverse_step(fn)``.

Each check runs the learner's function on 2D points and 8x8 images (10.2 on a toy schedule whose
alpha_t, alpha_bar_t and beta_t are far apart and on the course's cosine schedule, at steps
including 0 and T-1), compares with the truth computed here in float64 and, when it differs, with
the same formula written the usual wrong ways, to say which slip it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch

from ..diffusion import NoiseSchedule
from ..utils import same
from ._protocol import CheckFailed, _call, _exercise, _unchanged, _with_advice
from ._schedules import _EDITS, _TOL, _agrees, _first_difference, _output, _schedule, _tensors

__all__ = ["reverse_step", "guided_eps"]


# --------------------------------------------------------------------------- 10.2 one reverse step


@dataclass
class _ReverseCase:
    schedule: NoiseSchedule
    t: int
    xt: torch.Tensor  # (B, ...)
    eps: torch.Tensor  # like xt
    noise: torch.Tensor  # like xt


def _reverse_cases() -> list[_ReverseCase]:
    g = torch.Generator().manual_seed(11)
    cases = []
    for kind, T, shape, t in (
        ("toy", 6, (5, 2), 3), ("toy", 6, (5, 2), 1), ("toy", 6, (5, 2), 0), ("toy", 6, (5, 2), 5),
        ("cosine", 200, (4, 1, 8, 8), 120), ("cosine", 200, (4, 1, 8, 8), 199), ("cosine", 200, (4, 1, 8, 8), 0),
    ):
        xt, eps, noise = (torch.randn(shape, generator=g) for _ in range(3))
        cases.append(_ReverseCase(_schedule(kind, T), t, xt, eps, noise))
    return cases


@dataclass(frozen=True)
class _Step:
    """One reverse step written right (the defaults) or one of the usual wrong ways.

    mean: how the mean is written; scale: what multiplies the noise; when: at which steps noise is
    added; shift: -1 reads the schedule at t - 1 (wrapping to T-1 at t = 0).
    """

    mean: str = "right"
    scale: str = "sqrt beta"
    when: str = "t > 0"
    shift: int = 0

    def __call__(self, case: _ReverseCase) -> torch.Tensor:
        s, t = case.schedule, (case.t + self.shift) % case.schedule.T
        beta, alpha, abar = (float(v.double()[t]) for v in (s.betas, s.alphas, s.alpha_bars))
        xt, eps, noise = case.xt.double(), case.eps.double(), case.noise.double()
        c = beta / (1 - abar) ** 0.5  # eps's coefficient
        mean = {
            "right": lambda: (xt - c * eps) / alpha**0.5,
            "/alpha": lambda: (xt - c * eps) / alpha,
            "/sqrt abar": lambda: (xt - c * eps) / abar**0.5,
            "not divided": lambda: xt - c * eps,
            "x_t alone divided": lambda: xt / alpha**0.5 - c * eps,
            "beta/(1-abar)": lambda: (xt - beta / (1 - abar) * eps) / alpha**0.5,
            "sqrt beta/sqrt(1-abar)": lambda: (xt - (beta / (1 - abar)) ** 0.5 * eps) / alpha**0.5,
            "sqrt beta": lambda: (xt - beta**0.5 * eps) / alpha**0.5,
            "beta": lambda: (xt - beta * eps) / alpha**0.5,
            "(1-abar)/sqrt(1-abar)": lambda: (xt - (1 - abar) ** 0.5 * eps) / alpha**0.5,
            "+eps": lambda: (xt + c * eps) / alpha**0.5,
            "x0": lambda: (xt - (1 - abar) ** 0.5 * eps) / abar**0.5,
        }[self.mean]()
        noisy = {"t > 0": case.t > 0, "always": True, "t > 1": case.t > 1, "never": False}[self.when]
        if not noisy:
            return mean
        abar_prev = float(s.alpha_bars_prev.double()[t])
        sigma = {
            "sqrt beta": beta**0.5, "beta": beta, "posterior": (beta * (1 - abar_prev) / (1 - abar)) ** 0.5, "one": 1.0,
            "sqrt(1-abar)": (1 - abar) ** 0.5, "-sqrt beta": -(beta**0.5),
        }[self.scale]
        return mean + sigma * noise


_MEAN_ADVICE = {
    "/alpha": "the mean is divided by alpha_t: divide it by the square root, sqrt(alpha_t)",
    "/sqrt abar": (
        "the mean is divided by sqrt(alpha_bar_t): one step undoes one step's scaling, so divide by sqrt(alpha_t) "
        "(alpha_bar_t belongs only in eps's coefficient, beta_t / sqrt(1 - alpha_bar_t))"
    ),
    "not divided": "the mean is not divided by sqrt(alpha_t): mean = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t)",
    "x_t alone divided": (
        "only x_t was divided by sqrt(alpha_t): divide the whole bracket, mean = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t)"
    ),
    "beta/(1-abar)": "eps's coefficient is beta_t / sqrt(1 - alpha_bar_t): you divided by 1 - alpha_bar_t, without the square root",
    "sqrt beta/sqrt(1-abar)": "eps's coefficient is beta_t / sqrt(1 - alpha_bar_t): the numerator is beta_t, not sqrt(beta_t)",
    "sqrt beta": "eps's coefficient is beta_t / sqrt(1 - alpha_bar_t), not sqrt(beta_t)",
    "beta": "eps's coefficient is beta_t / sqrt(1 - alpha_bar_t): the division by sqrt(1 - alpha_bar_t) is missing",
    "(1-abar)/sqrt(1-abar)": (
        "eps's coefficient is (1 - alpha_t) / sqrt(1 - alpha_bar_t) = beta_t / sqrt(1 - alpha_bar_t): you used alpha_bar_t where alpha_t "
        "belongs, (1 - alpha_bar_t) / sqrt(1 - alpha_bar_t) = sqrt(1 - alpha_bar_t)"
    ),
    "+eps": "the eps term has the wrong sign: subtract the predicted noise, x_t - beta_t / sqrt(1 - alpha_bar_t) * eps",
    "x0": (
        "this is the estimate of x_0, (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t), not x_{t-1}: one step removes one step's noise, "
        "mean = (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t)"
    ),
}

_SCALE_ADVICE = {
    "beta": "the noise is scaled by beta_t, the variance: scale it by the standard deviation, sigma_t = sqrt(beta_t)",
    "posterior": (
        "the noise is scaled by the posterior's sqrt(beta~_t) = sqrt(beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)): "
        "this exercise uses the simpler sigma_t^2 = beta_t, so scale it by sqrt(beta_t)"
    ),
    "one": "the noise is not scaled: multiply it by sigma_t = sqrt(beta_t)",
    "sqrt(1-abar)": "the noise is scaled by sqrt(1 - alpha_bar_t), the forward process's: one step adds sigma_t = sqrt(beta_t)",
    "-sqrt beta": "the noise is subtracted: add sqrt(beta_t) * noise (the check compares with this exact noise)",
}

_WHEN_ADVICE = {
    "always": "noise was added at t = 0: the last step returns the mean alone, without noise (x_{-1} is the sample)",
    "t > 1": "no noise was added at t = 1: steps are 0-based here, so add sqrt(beta_t) * noise at every step but t = 0",
    "never": "no noise was added: at every step t > 0 add sqrt(beta_t) * noise, the noise you are given (only t = 0 returns the mean alone)",
}

_SHIFT_ADVICE = (
    "off by one: you read the schedule at t - 1; steps are 0-based here, and step t (x_t -> x_{t-1}) uses betas[t], alphas[t], alpha_bars[t]"
)


def _step_advice(step: _Step) -> str:
    parts = [_SHIFT_ADVICE] if step.shift else []
    if step.mean != "right":
        parts.append(_MEAN_ADVICE[step.mean])
    if step.when != "never" and step.scale != "sqrt beta":
        parts.append(_SCALE_ADVICE[step.scale])
    if step.when != "t > 0":
        parts.append(_WHEN_ADVICE[step.when])
    return "; and ".join(parts)


def _reverse_slips() -> Iterable[_Step]:
    for shift in (0, -1):
        for mean in ("right", *_MEAN_ADVICE):
            for when in ("t > 0", "always", "t > 1", "never"):
                for scale in ("sqrt beta",) if when == "never" else ("sqrt beta", *_SCALE_ADVICE):
                    step = _Step(mean, scale, when, shift)
                    if step != _Step():
                        yield step


def _reverse_advice(fn: Callable[..., Any], outs: list[torch.Tensor], cases: list[_ReverseCase]) -> str:
    """Why the learner's x_{t-1} differ from the DDPM step with sigma_t^2 = beta_t."""
    for step in _reverse_slips():
        if _agrees(outs, step, cases):
            return _step_advice(step)
    k = next(i for i, (out, c) in enumerate(zip(outs, cases)) if not same(out, _Step()(c), _TOL))
    case = cases[k]

    def run(xt: torch.Tensor, eps: torch.Tensor, noise: torch.Tensor) -> torch.Tensor | None:
        try:
            out = fn(xt, case.t, eps, *_tensors(case.schedule), noise)
        except Exception:
            return None
        return out.detach() if isinstance(out, torch.Tensor) and out.shape == xt.shape else None

    again = run(case.xt.clone(), case.eps.clone(), case.noise.clone())
    if again is not None and not same(again, outs[k], 1e-6):
        return "two calls with the same x_t, eps and noise gave different x_{t-1}: add the noise you are given, don't draw new noise (torch.randn_like) inside"
    s, t = case.schedule, case.t
    beta, alpha, abar = (float(v.double()[t]) for v in (s.betas, s.alphas, s.alpha_bars))
    one, zero = torch.ones_like(case.xt), torch.zeros_like(case.xt)
    expected = (
        ("x_t's", run(one, zero, zero), 1 / alpha**0.5, "1 / sqrt(alpha_t)"),
        ("eps's", run(zero, one, zero), -beta / ((1 - abar) ** 0.5 * alpha**0.5), "-beta_t / (sqrt(1 - alpha_bar_t) sqrt(alpha_t))"),
        ("the noise's", run(zero, zero, one), beta**0.5 if t > 0 else 0.0, "sqrt(beta_t)" if t > 0 else "0 (no noise at t = 0)"),
    )
    for name, got, want, formula in expected:
        if got is not None and not same(got, torch.full_like(got, want, dtype=torch.float64), _TOL):
            return f"at t = {t}, {name} coefficient in x_{{t-1}} is {got.flatten()[0].item():.4f}, expected {formula} = {want:.4f}"
    truth = _Step()(case)
    j = _first_difference(outs[k], truth)
    return (
        f"x_{{t-1}} differs from (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sqrt(beta_t) noise at t = {t} "
        f"(got {outs[k].flatten()[j].item():.4f}, expected {truth.flatten()[j].item():.4f})"
    )


_REVERSE_ERRORS = [
    (("out of bounds",), "steps run from 0 to T-1: read the schedule at t itself, betas[t], alphas[t], alpha_bars[t]"),
    (("NoneType",), "noise is a tensor like x_t at every step, t = 0 included (where it is not used)"),
]


@_exercise("10.2", "one reverse step")
def reverse_step(fn: Callable[..., torch.Tensor]) -> str:
    """fn(xt (B, ...), t int in 0..T-1, eps like xt, betas (T,), alphas (T,), alpha_bars (T,), noise like xt) -> x_{t-1} like xt:
    (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sqrt(beta_t) noise, without the noise at t = 0."""
    cases = _reverse_cases()
    outs = []
    for case in cases:
        what = f"reverse_step(xt, {case.t}, eps, betas, alphas, alpha_bars, noise) for xt of shape {tuple(case.xt.shape)} (T = {case.schedule.T})"
        betas, alphas, alpha_bars = _tensors(case.schedule)
        given = (case.xt.clone(), case.eps.clone(), betas, alphas, alpha_bars, case.noise.clone())
        try:
            out = _call(what, fn, given[0], case.t, *given[1:])
        except CheckFailed as failure:
            raise _with_advice(failure, _REVERSE_ERRORS) from None
        originals = (case.xt, case.eps, *_tensors(case.schedule), case.noise)
        _unchanged(what, zip(("x_t", "eps", "betas", "alphas", "alpha_bars", "noise"), given, originals), _EDITS)
        outs.append(_output(what, out, case.xt, "x_{t-1}").detach())
    if not all(same(out, _Step()(c), _TOL) for out, c in zip(outs, cases)):
        raise CheckFailed(_reverse_advice(fn, outs, cases))
    return "(x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sqrt(beta_t) noise, no noise at t = 0"


# --------------------------------------------------------------------------- 10.3 classifier-free guidance


def _guidance_cases() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    g = torch.Generator().manual_seed(12)
    return [
        (torch.randn(shape, generator=g), torch.randn(shape, generator=g), w)
        for shape, w in (((5, 2), 0.0), ((5, 2), 1.0), ((3, 1, 8, 8), 3.0), ((5, 2), 0.5), ((2, 1, 8, 8), 7.5))
    ]


_CONVENTION = (
    "you wrote eps_u + w (eps_c - eps_u) = w eps_c + (1 - w) eps_u: that is the other convention, in which w = 1 is the plain "
    "conditional model (and w < 1 only interpolates towards the unconditional one); the course uses w = 0 for the plain conditional "
    "model: (1 + w) eps_c - w eps_u = eps_c + w (eps_c - eps_u)"
)

# guidance written the usual wrong ways: (coefficient of eps_cond, of eps_uncond) as functions of w, and what to say
_GUIDANCE_SLIPS: list[tuple[Callable[[float], float], Callable[[float], float], str]] = [
    (lambda w: w, lambda w: 1 - w, _CONVENTION),
    (lambda w: -w, lambda w: 1 + w,
     "eps_cond and eps_uncond are swapped: guidance starts from the conditional prediction and moves further away from the "
     "unconditional one, (1 + w) eps_cond - w eps_uncond"),
    (lambda w: 1 + w, lambda w: w,
     "the unconditional term has the wrong sign: subtract it, (1 + w) eps_cond - w eps_uncond"),
    (lambda w: 1 - w, lambda w: w,
     "the signs are flipped: (1 - w) eps_cond + w eps_uncond moves towards the unconditional prediction (away from the label); "
     "guidance is (1 + w) eps_cond - w eps_uncond"),
    (lambda w: -(1 + w), lambda w: w, "the whole result has the wrong sign: (1 + w) eps_cond - w eps_uncond"),
    (lambda w: 1 + w, lambda w: -1.0, "eps_uncond's coefficient is -w, not -1: (1 + w) eps_cond - w eps_uncond"),
    (lambda w: 1.0, lambda w: -w, "eps_cond's coefficient is 1 + w, not 1: (1 + w) eps_cond - w eps_uncond = eps_cond + w (eps_cond - eps_uncond)"),
    (lambda w: w, lambda w: -w,
     "the conditional prediction itself is missing: eps_cond + w (eps_cond - eps_uncond), not only w (eps_cond - eps_uncond)"),
]


@_exercise("10.3", "classifier-free guidance")
def guided_eps(fn: Callable[..., torch.Tensor]) -> str:
    """fn(eps_cond (B, ...), eps_uncond like eps_cond, w float >= 0) -> (1 + w) eps_cond - w eps_uncond, like eps_cond."""
    cases = _guidance_cases()
    outs = []
    for ec, eu, w in cases:
        what = f"guided_eps(eps_cond, eps_uncond, {w}) for eps of shape {tuple(ec.shape)}"
        given = (ec.clone(), eu.clone())
        out = _call(what, fn, *given, w)
        _unchanged(what, zip(("eps_cond", "eps_uncond"), given, (ec, eu)), _EDITS)
        outs.append(_output(what, out, ec, "the guided eps").detach())

    def mix(a: Callable[[float], float], b: Callable[[float], float]) -> Callable[[tuple[torch.Tensor, torch.Tensor, float]], torch.Tensor]:
        return lambda case: a(case[2]) * case[0].double() + b(case[2]) * case[1].double()

    if _agrees(outs, mix(lambda w: 1 + w, lambda w: -w), cases):
        return "(1 + w) eps_cond - w eps_uncond; w = 0 is the plain conditional model"
    for a, b, advice in _GUIDANCE_SLIPS:
        if _agrees(outs, mix(a, b), cases):
            raise CheckFailed(advice)
    k = next(i for i, (out, case) in enumerate(zip(outs, cases)) if not same(out, mix(lambda w: 1 + w, lambda w: -w)(case), _TOL))
    ec, eu, w = cases[k]
    for name, args, want in (("eps_cond's", (torch.ones_like(ec), torch.zeros_like(eu)), 1 + w),
                             ("eps_uncond's", (torch.zeros_like(ec), torch.ones_like(eu)), -w)):
        try:
            got = fn(*args, w)
        except Exception:
            break
        if isinstance(got, torch.Tensor) and got.shape == ec.shape and not same(got.detach(), torch.full_like(got, want, dtype=torch.float64), _TOL):
            raise CheckFailed(f"with w = {w}, {name} coefficient is {got.flatten()[0].item():.4f}, expected {want:.4f}: (1 + w) eps_cond - w eps_uncond")
    truth = mix(lambda w: 1 + w, lambda w: -w)(cases[k])
    j = _first_difference(outs[k], truth)
    raise CheckFailed(
        f"with w = {w} the result differs from (1 + w) eps_cond - w eps_uncond "
        f"(got {outs[k].flatten()[j].item():.4f}, expected {truth.flatten()[j].item():.4f})"
    )
