"""Exercise checks for lesson 10 (denoising diffusion, DDPM): sampling.

10.2 one step of the reverse process ``reverse_step``, 10.3 classifier-free guidance
``guided_eps``. Lessons call them through ``genai_course.checks``: ``checks.reverse_step(fn)``.

Each check runs the learner's function on 2D points and 8x8 images (10.2 on a toy schedule whose
alpha_t, alpha_bar_t and beta_t are far apart and on the course's cosine schedule, at steps
including 0 and T-1), compares with the truth computed here in float64 and, when it differs, with
the same formula written the usual wrong ways, to say which slip it is. Each probe runs the
function and records what it returned (and a few diagnostic calls); its judge decides from those
records alone, see ``_protocol``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from ..diffusion import NoiseSchedule
from ..utils import same
from ._protocol import CheckFailed, Observed, _call, _edited, _exercise, _unchanged
from ._schedules import _EDITS, _TOL, _agrees, _constant, _diagnostic, _first_difference, _output, _quiet, _read, _schedule, _tensors
from .observations import observe

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
    added; shift: -1 reads the schedule at t - 1 (wrapping to T-1 at t = 0); abar: at which step
    alpha_bar alone is read ("t-1" wraps to T-1 at t = 0, "t-1 clamped" stays at 0).
    """

    mean: str = "right"
    scale: str = "sqrt beta"
    when: str = "t > 0"
    shift: int = 0
    abar: str = "t"

    def __call__(self, case: _ReverseCase) -> torch.Tensor:
        s, t = case.schedule, (case.t + self.shift) % case.schedule.T
        beta, alpha = (float(v.double()[t]) for v in (s.betas, s.alphas))
        abar = float(s.alpha_bars.double()[{"t": t, "t-1": (t - 1) % s.T, "t-1 clamped": max(t - 1, 0)}[self.abar]])
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

_ABAR_ADVICE = {
    "t-1": "alpha_bar is read at t - 1 (at t = 0 that is alpha_bars[-1], the last step's)",
    "t-1 clamped": "alpha_bar is read at t - 1 (kept at alpha_bars[0] for t = 0)",
}
_ABAR_RULE = (
    ": eps's coefficient is beta_t / sqrt(1 - alpha_bar_t), with alpha_bar_t = alpha_bars[t], the same step t as betas[t] and alphas[t] "
    "(steps are 0-based here)"
)


def _step_advice(step: _Step) -> str:
    parts = [_SHIFT_ADVICE] if step.shift else []
    if step.abar != "t":
        parts.append(_ABAR_ADVICE[step.abar] + _ABAR_RULE)
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
    for abar in _ABAR_ADVICE:  # alpha_bar alone at the wrong step, with the noise right or at the wrong steps
        for when in ("t > 0", "always", "t > 1", "never"):
            yield _Step(when=when, abar=abar)


def _reverse_what(case: _ReverseCase) -> str:
    return f"reverse_step(xt, {case.t}, eps, betas, alphas, alpha_bars, noise) for xt of shape {tuple(case.xt.shape)} (T = {case.schedule.T})"


def _reverse_advice(seen: Observed, outs: list[torch.Tensor], cases: list[_ReverseCase]) -> str:
    """Why the learner's x_{t-1} differ from the DDPM step with sigma_t^2 = beta_t."""
    for step in _reverse_slips():
        if _agrees(outs, step, cases):
            return _step_advice(step)
    k = next(i for i, (out, c) in enumerate(zip(outs, cases)) if not same(out, _Step()(c), _TOL))
    case = cases[k]
    shape = tuple(case.xt.shape)
    again = _diagnostic(seen[f"again{k}"], shape)
    if again is not None and not same(again, outs[k], 1e-6):
        return "two calls with the same x_t, eps and noise gave different x_{t-1}: add the noise you are given, don't draw new noise (torch.randn_like) inside"
    s, t = case.schedule, case.t
    beta, alpha, abar = (float(v.double()[t]) for v in (s.betas, s.alphas, s.alpha_bars))
    expected = (
        ("x_t's", "unit_xt", 1 / alpha**0.5, "1 / sqrt(alpha_t)"),
        ("eps's", "unit_eps", -beta / ((1 - abar) ** 0.5 * alpha**0.5), "-beta_t / (sqrt(1 - alpha_bar_t) sqrt(alpha_t))"),
        ("the noise's", "unit_noise", beta**0.5 if t > 0 else 0.0, "sqrt(beta_t)" if t > 0 else "0 (no noise at t = 0)"),
    )
    for name, key, want, formula in expected:
        got = _diagnostic(seen[f"{key}{k}"], shape)
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
def reverse_step(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(xt (B, ...), t int in 0..T-1, eps like xt, betas (T,), alphas (T,), alpha_bars (T,), noise like xt) -> x_{t-1} like xt:
    (x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sqrt(beta_t) noise, without the noise at t = 0."""
    cases = _reverse_cases()
    for k, case in enumerate(cases):
        given = (case.xt.clone(), case.eps.clone(), *_tensors(case.schedule), case.noise.clone())
        seen[f"x_prev{k}"] = observe(_call(_reverse_what(case), fn, given[0], case.t, *given[1:]))
        originals = (case.xt, case.eps, *_tensors(case.schedule), case.noise)
        seen[f"edited{k}"] = _edited(zip(("x_t", "eps", "betas", "alphas", "alpha_bars", "noise"), given, originals))
    for k, case in enumerate(cases):  # diagnostics: the same inputs again, and each coefficient alone (unit inputs)
        one, zero = torch.ones_like(case.xt), torch.zeros_like(case.xt)
        for key, xt, eps, noise in (("again", case.xt, case.eps, case.noise), ("unit_xt", one, zero, zero),
                                    ("unit_eps", zero, one, zero), ("unit_noise", zero, zero, one)):
            seen[f"{key}{k}"] = _quiet(fn, xt.clone(), case.t, eps.clone(), *_tensors(case.schedule), noise.clone())


@reverse_step.judge
def _judge_reverse_step(seen: Observed) -> str:
    cases = _reverse_cases()
    outs = []
    for k, case in enumerate(cases):
        what = _reverse_what(case)
        rec = _read(seen, f"x_prev{k}", _REVERSE_ERRORS)
        _unchanged(what, seen[f"edited{k}"], _EDITS)
        outs.append(_output(what, rec, tuple(case.xt.shape), "x_{t-1}"))
    if all(same(out, _Step()(c), _TOL) for out, c in zip(outs, cases)):
        return "(x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sqrt(beta_t) noise, no noise at t = 0"
    value = _constant(outs)
    if value is not None:
        raise CheckFailed(f"x_{{t-1}} is {value:.4g} everywhere, whatever x_t, eps and the noise: return "
                          "(x_t - beta_t / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t) + sqrt(beta_t) noise, computed from the tensors you are given")
    raise CheckFailed(_reverse_advice(seen, outs, cases))


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
    (lambda w: 1.0, lambda w: 0.0,
     "the result is eps_cond itself: eps_uncond is not used (is eps_cond written where eps_uncond belongs?); guidance is "
     "(1 + w) eps_cond - w eps_uncond, which moves away from the unconditional prediction"),
    (lambda w: 0.0, lambda w: 1.0,
     "the result is eps_uncond itself: eps_cond is not used (is eps_uncond written where eps_cond belongs?); guidance is "
     "(1 + w) eps_cond - w eps_uncond"),
]


def _mix(a: Callable[[float], float], b: Callable[[float], float]) -> Callable[[tuple[torch.Tensor, torch.Tensor, float]], torch.Tensor]:
    """a(w) eps_cond + b(w) eps_uncond in float64, for a guidance case."""
    return lambda case: a(case[2]) * case[0].double() + b(case[2]) * case[1].double()


_GUIDED = _mix(lambda w: 1 + w, lambda w: -w)


def _guidance_what(ec: torch.Tensor, w: float) -> str:
    return f"guided_eps(eps_cond, eps_uncond, {w}) for eps of shape {tuple(ec.shape)}"


@_exercise("10.3", "classifier-free guidance")
def guided_eps(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(eps_cond (B, ...), eps_uncond like eps_cond, w float >= 0) -> (1 + w) eps_cond - w eps_uncond, like eps_cond."""
    cases = _guidance_cases()
    for k, (ec, eu, w) in enumerate(cases):
        given = (ec.clone(), eu.clone())
        seen[f"guided{k}"] = observe(_call(_guidance_what(ec, w), fn, *given, w))
        seen[f"edited{k}"] = _edited(zip(("eps_cond", "eps_uncond"), given, (ec, eu)))
    for k, (ec, eu, w) in enumerate(cases):  # diagnostics: each coefficient alone (unit inputs)
        seen[f"unit_cond{k}"] = _quiet(fn, torch.ones_like(ec), torch.zeros_like(eu), w)
        seen[f"unit_uncond{k}"] = _quiet(fn, torch.zeros_like(ec), torch.ones_like(eu), w)


@guided_eps.judge
def _judge_guided_eps(seen: Observed) -> str:
    cases = _guidance_cases()
    outs = []
    for k, (ec, _, w) in enumerate(cases):
        what = _guidance_what(ec, w)
        rec = seen[f"guided{k}"]
        _unchanged(what, seen[f"edited{k}"], _EDITS)
        outs.append(_output(what, rec, tuple(ec.shape), "the guided eps"))
    if _agrees(outs, _GUIDED, cases):
        return "(1 + w) eps_cond - w eps_uncond; w = 0 is the plain conditional model"
    value = _constant(outs)
    if value is not None:
        raise CheckFailed(f"the guided eps is {value:.4g} everywhere, whatever eps_cond, eps_uncond and w: "
                          "return (1 + w) eps_cond - w eps_uncond, computed from the tensors you are given")
    for a, b, advice in _GUIDANCE_SLIPS:
        if _agrees(outs, _mix(a, b), cases):
            raise CheckFailed(advice)
    k = next(i for i, (out, case) in enumerate(zip(outs, cases)) if not same(out, _GUIDED(case), _TOL))
    ec, _, w = cases[k]
    for name, key, want in (("eps_cond's", "unit_cond", 1 + w), ("eps_uncond's", "unit_uncond", -w)):
        rec = seen[f"{key}{k}"]
        if rec is None:
            break
        got = _diagnostic(rec, tuple(ec.shape))
        if got is not None and not same(got, torch.full_like(got, want, dtype=torch.float64), _TOL):
            raise CheckFailed(f"with w = {w}, {name} coefficient is {got.flatten()[0].item():.4f}, expected {want:.4f}: (1 + w) eps_cond - w eps_uncond")
    truth = _GUIDED(cases[k])
    j = _first_difference(outs[k], truth)
    raise CheckFailed(
        f"with w = {w} the result differs from (1 + w) eps_cond - w eps_uncond "
        f"(got {outs[k].flatten()[j].item():.4f}, expected {truth.flatten()[j].item():.4f})"
    )
