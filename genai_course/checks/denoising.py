"""Exercise checks for lesson 10 (denoising diffusion, DDPM): sampling.

10.2 one step of the reverse process ``reverse_step``, 10.3 classifier-free guidance from one
forward pass ``guided_eps`` (its stand-in network and its reading of the network's calls are in
``_guidance``). Lessons call them through ``genai_course.checks``: ``checks.reverse_step(fn)``.

Each check runs the learner's function on 2D points and 8x8 images (10.2 on a toy schedule whose
alpha_t, alpha_bar_t and beta_t are far apart and on the course's cosine schedule, at steps
including 0 and T-1), compares with the truth computed here in float64 and, when it differs, says
which slip it is (10.2: the step written the usual wrong ways; 10.3: the batch the network got, and
how the result weights the two predictions). Each probe runs the
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
from ._guidance import _StandInNet, _batch_advice, _constant_message, _guidance_cases, _guided
from ._guidance import _advice as _guidance_advice
from ._guidance import _what as _guidance_what
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
    "/alpha": "the mean is divided by alpha_t, a factor of the variance, where its square root belongs",
    "/sqrt abar": (
        "the mean is divided by sqrt(alpha_bar_t), the shrinking of all the steps up to t: one reverse step undoes one step's "
        "shrinking only"
    ),
    "not divided": "the mean is not divided at all: one reverse step must undo the shrinking that step t applied to x_{t-1}",
    "x_t alone divided": "only x_t was divided: the division applies to the whole bracket, the eps term included",
    "beta/(1-abar)": "eps's coefficient is off: you divided by 1 - alpha_bar_t, without the square root",
    "sqrt beta/sqrt(1-abar)": "eps's coefficient has a square root too many: its numerator beta_t is not square-rooted",
    "sqrt beta": "eps's coefficient is sqrt(beta_t), the size of one step's noise: it must also account for all the noise in x_t (alpha_bar_t)",
    "beta": "eps's coefficient is beta_t alone: the division that accounts for all the noise in x_t (through alpha_bar_t) is missing",
    "(1-abar)/sqrt(1-abar)": (
        "eps's coefficient has 1 - alpha_bar_t in its numerator, where one step's 1 - alpha_t = beta_t belongs: you used "
        "alpha_bar_t where alpha_t belongs"
    ),
    "+eps": "the eps term has the wrong sign: the predicted noise must be taken away from x_t",
    "x0": "this is the estimate of x_0 (all the noise removed at once), not x_{t-1}: one step removes only one step's share of the noise",
}

_SCALE_ADVICE = {
    "beta": "the noise is scaled by beta_t, the variance, where the standard deviation belongs",
    "posterior": (
        "the noise is scaled by the posterior's standard deviation (the lesson's choice, beta~_t): this exercise uses the other "
        "variance, sigma_t^2 = beta_t"
    ),
    "one": "the noise is not scaled: it must be multiplied by the step's standard deviation",
    "sqrt(1-abar)": "the noise is scaled by sqrt(1 - alpha_bar_t), the forward process's noise after all t steps: one reverse step adds one step's",
    "-sqrt beta": "the noise is subtracted: it enters x_{t-1} with the wrong sign (the check compares with this exact noise)",
}

_WHEN_ADVICE = {
    "always": "noise was added at t = 0: the last step returns the mean alone, without noise (x_{-1} is the sample)",
    "t > 1": "no noise was added at t = 1: steps are 0-based here, so only t = 0 goes without noise",
    "never": "no noise was added: every step but the last (t = 0) adds the noise you are given, scaled",
}

_SHIFT_ADVICE = (
    "off by one: you read the schedule at t - 1; steps are 0-based here, and step t (x_t -> x_{t-1}) uses betas[t], alphas[t], alpha_bars[t]"
)

_ABAR_ADVICE = {
    "t-1": "alpha_bar is read at t - 1 (at t = 0 that is alpha_bars[-1], the last step's)",
    "t-1 clamped": "alpha_bar is read at t - 1 (kept at alpha_bars[0] for t = 0)",
}
_ABAR_RULE = ": eps's coefficient reads alpha_bars[t], at the same step t as betas[t] and alphas[t] (steps are 0-based here)"


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
        ("x_t's", "unit_xt", 1 / alpha**0.5, ""),
        ("eps's", "unit_eps", -beta / ((1 - abar) ** 0.5 * alpha**0.5), ""),
        ("the noise's", "unit_noise", beta**0.5 if t > 0 else 0.0, "" if t > 0 else " (no noise at t = 0)"),
    )
    for name, key, want, note in expected:
        got = _diagnostic(seen[f"{key}{k}"], shape)
        if got is not None and not same(got, torch.full_like(got, want, dtype=torch.float64), _TOL):
            return f"at t = {t}, {name} coefficient in x_{{t-1}} is {got.flatten()[0].item():.4f}, expected {want:.4f}{note}"
    truth = _Step()(case)
    j = _first_difference(outs[k], truth)
    return (
        f"x_{{t-1}} differs from the reverse step's result at t = {t} "
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
        raise CheckFailed(f"x_{{t-1}} is {value:.4g} everywhere, whatever x_t, eps and the noise: compute it from the tensors you are given")
    raise CheckFailed(_reverse_advice(seen, outs, cases))


# --------------------------------------------------------------------------- 10.3 classifier-free guidance, one forward pass


@_exercise("10.3", "classifier-free guidance in one forward pass")
def guided_eps(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(net, xt (B, ...), t (B,) int64, y (B,) int64, w float >= 0, null_label int) -> the guided noise prediction like xt,
    from one call of net(x (2B, ...), t (2B,), y (2B,)): each example with its label and with null_label."""
    for k, case in enumerate(_guidance_cases()):
        net = _StandInNet(case)
        given = (case.xt.clone(), case.t.clone(), case.y.clone())
        try:
            seen[f"guided{k}"] = observe(_call(_guidance_what(case), fn, net, *given, case.w, case.null_label))
        finally:
            seen[f"calls{k}"] = net.calls
        seen[f"edited{k}"] = _edited(zip(("xt", "t", "y"), given, (case.xt, case.t, case.y)))


@guided_eps.judge
def _judge_guided_eps(seen: Observed) -> str:
    cases = _guidance_cases()
    outs = []
    for k, case in enumerate(cases):
        what = _guidance_what(case)
        rec = seen[f"guided{k}"]
        _unchanged(what, seen[f"edited{k}"], _EDITS)
        outs.append(_output(what, rec, tuple(case.xt.shape), "the guided prediction"))
    batches = [_batch_advice(case, seen[f"calls{k}"]) for k, case in enumerate(cases) if case.w != 0]
    advice = next((b for b in batches if b is not None), None)
    if advice is None and _agrees(outs, _guided, cases):
        return "one call of net on 2B inputs, split into the two predictions, guided by w; w = 0 is the plain conditional model"
    if advice is not None:
        raise CheckFailed(advice)
    value = _constant(outs)
    if value is not None:
        raise CheckFailed(_constant_message(value))
    raise CheckFailed(_guidance_advice(outs, cases))
