"""genai_course.checks.denoising (lesson 10, 10.2 and 10.3): correct code passes, typical mistakes are named."""

from __future__ import annotations

import math

import pytest
import torch

from genai_course import checks, diffusion
from genai_course.checks import denoising as denoising_checks
from check_protocol import assert_named_mistake, assert_not_attempted, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def reverse_step(xt, t, eps, betas, alphas, alpha_bars, noise):
    mean = (xt - betas[t] / (1 - alpha_bars[t]).sqrt() * eps) / alphas[t].sqrt()
    if t == 0:
        return mean
    return mean + betas[t].sqrt() * noise


def reverse_step_by_math(xt, t, eps, betas, alphas, alpha_bars, noise):
    beta, alpha, abar = float(betas[t]), float(alphas[t]), float(alpha_bars[t])
    mean = (xt - beta / math.sqrt(1 - abar) * eps) / math.sqrt(alpha)
    return mean + math.sqrt(beta) * noise * (t > 0)


def reverse_step_by_posterior_mean(xt, t, eps, betas, alphas, alpha_bars, noise):
    abar, abar_prev = alpha_bars[t], (alpha_bars[t - 1] if t > 0 else torch.tensor(1.0))
    x0 = (xt - (1 - abar).sqrt() * eps) / abar.sqrt()
    mean = (abar_prev.sqrt() * betas[t] * x0 + alphas[t].sqrt() * (1 - abar_prev) * xt) / (1 - abar)
    return mean + (betas[t].sqrt() * noise if t > 0 else 0)


def reverse_step_by_library(xt, t, eps, betas, alphas, alpha_bars, noise):
    schedule = diffusion.NoiseSchedule(betas.double())
    return diffusion.reverse_step(xt, t, eps, schedule, noise if t > 0 else None, variance="beta")


def guided_eps(net, xt, t, y, w, null_label):
    both = net(torch.cat([xt, xt]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null_label)]))  # (2B, ...)
    eps_cond, eps_uncond = both.chunk(2)
    return (1 + w) * eps_cond - w * eps_uncond


def guided_eps_uncond_first(net, xt, t, y, w, null_label):
    both = net(torch.cat([xt, xt]), t.repeat(2), torch.cat([torch.full_like(y, null_label), y]))
    eps_uncond, eps_cond = both.split(len(xt))
    return eps_cond + w * (eps_cond - eps_uncond)


def guided_eps_interleaved(net, xt, t, y, w, null_label):
    labels = torch.stack([y, torch.full_like(y, null_label)], dim=1).flatten()  # (2B,): y_0, null, y_1, null, ...
    both = net(xt.repeat_interleave(2, dim=0), t.repeat_interleave(2), labels)
    return torch.lerp(both[1::2], both[0::2], 1 + w)


def guided_eps_by_library(net, xt, t, y, w, null_label):
    both = net(torch.cat([xt, xt]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, null_label)]))
    return diffusion.guided_eps(*both.chunk(2), w)


CORRECT = {
    "reverse_step": [reverse_step, reverse_step_by_math, reverse_step_by_posterior_mean, reverse_step_by_library],
    "guided_eps": [guided_eps, guided_eps_uncond_first, guided_eps_interleaved, guided_eps_by_library],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(denoising_checks, {
        "reverse_step": "Exercise 10.2 (one reverse step)",
        "guided_eps": "Exercise 10.3 (classifier-free guidance in one forward pass)",
    })
    assert list(CORRECT) == denoising_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_the_library_agrees_with_the_references():
    """The library's reverse_step (variance="beta") and its batched guidance (DDPM.eps) are what the checks accept."""
    schedule = diffusion.make_schedule(200, "cosine")
    g = torch.Generator().manual_seed(0)
    x0, noise, eps = (torch.randn(7, 1, 8, 8, generator=g) for _ in range(3))
    for step in (0, 1, 120, 199):
        mine = reverse_step(x0, step, eps, schedule.betas, schedule.alphas, schedule.alpha_bars, noise)
        library = diffusion.reverse_step(x0, step, eps, schedule, noise, variance="beta")
        assert torch.allclose(library, mine, atol=1e-4, rtol=1e-5), step
    torch.manual_seed(0)
    model = diffusion.DDPM(diffusion.DDPMConfig(data="digits", T=200, channels=8, num_classes=10))
    y = torch.arange(7)
    with torch.no_grad():
        assert torch.allclose(model.eps(x0, 120, y, guidance=2.5), guided_eps(model, x0, torch.full((7,), 120), y, 2.5, 10), atol=1e-5)


# --------------------------------------------------------------------------- typical mistakes: 10.2


def step(mean="right", scale="sqrt beta", when="t > 0", shift=0, abar_at=lambda t: t):
    """One reverse step written right (the defaults) or one of the usual wrong ways (``abar_at``: the
    step alpha_bar alone is read at)."""

    def reverse(xt, t, eps, betas, alphas, alpha_bars, noise):
        i = t + shift
        beta, alpha, abar = betas[i], alphas[i], alpha_bars[abar_at(i)]
        c = beta / (1 - abar).sqrt()
        out = {
            "right": lambda: (xt - c * eps) / alpha.sqrt(),
            "/alpha": lambda: (xt - c * eps) / alpha,
            "/sqrt abar": lambda: (xt - c * eps) / abar.sqrt(),
            "not divided": lambda: xt - c * eps,
            "x_t alone divided": lambda: xt / alpha.sqrt() - c * eps,
            "beta/(1-abar)": lambda: (xt - beta / (1 - abar) * eps) / alpha.sqrt(),
            "sqrt beta/sqrt(1-abar)": lambda: (xt - beta.sqrt() / (1 - abar).sqrt() * eps) / alpha.sqrt(),
            "sqrt beta": lambda: (xt - beta.sqrt() * eps) / alpha.sqrt(),
            "beta": lambda: (xt - beta * eps) / alpha.sqrt(),
            "1-abar": lambda: (xt - (1 - abar) / (1 - abar).sqrt() * eps) / alpha.sqrt(),
            "+eps": lambda: (xt + c * eps) / alpha.sqrt(),
            "x0": lambda: (xt - (1 - abar).sqrt() * eps) / abar.sqrt(),
        }[mean]()
        if {"t > 0": t > 0, "always": True, "t > 1": t > 1, "never": False}[when]:
            abar_prev = alpha_bars[i - 1] if i > 0 else torch.tensor(1.0)
            sigma = {
                "sqrt beta": beta.sqrt(), "beta": beta, "posterior": (beta * (1 - abar_prev) / (1 - abar)).sqrt(),
                "one": 1.0, "sqrt(1-abar)": (1 - abar).sqrt(), "-sqrt beta": -beta.sqrt(),
            }[scale]
            out = out + sigma * noise
        return out

    return reverse


def reverse_step_in_place(xt, t, eps, betas, alphas, alpha_bars, noise):
    xt -= betas[t] / (1 - alpha_bars[t]).sqrt() * eps
    return reverse_step(xt, t, torch.zeros_like(eps), betas, alphas, alpha_bars, noise)


REVERSE_MISTAKES = [
    (step(mean="/alpha"), ["the mean is divided by alpha_t, a factor of the variance, where its square root belongs"]),
    (step(mean="/sqrt abar"), ["the mean is divided by sqrt(alpha_bar_t)", "one step's shrinking only"]),
    (step(mean="not divided"), ["the mean is not divided at all"]),
    (step(mean="x_t alone divided"), ["only x_t was divided", "the eps term included"]),
    (step(mean="beta/(1-abar)"), ["you divided by 1 - alpha_bar_t, without the square root"]),
    (step(mean="sqrt beta/sqrt(1-abar)"), ["eps's coefficient has a square root too many"]),
    (step(mean="sqrt beta"), ["eps's coefficient is sqrt(beta_t), the size of one step's noise"]),
    (step(mean="beta"), ["eps's coefficient is beta_t alone", "is missing"]),
    (step(mean="1-abar"), ["you used alpha_bar_t where alpha_t belongs"]),
    (step(mean="+eps"), ["the eps term has the wrong sign"]),
    (step(mean="x0"), ["this is the estimate of x_0", "not x_{t-1}"]),
    (step(when="always"), ["noise was added at t = 0", "the mean alone"]),
    (step(when="t > 1"), ["no noise was added at t = 1", "0-based"]),
    (step(when="never"), ["no noise was added: every step but the last (t = 0) adds the noise"]),
    (step(scale="beta"), ["the noise is scaled by beta_t, the variance, where the standard deviation belongs"]),
    (step(scale="posterior"), ["the posterior's standard deviation", "sigma_t^2 = beta_t"]),
    (step(scale="one"), ["the noise is not scaled: it must be multiplied by the step's standard deviation"]),
    (step(scale="sqrt(1-abar)"), ["the noise is scaled by sqrt(1 - alpha_bar_t)"]),
    (step(scale="-sqrt beta"), ["the noise is subtracted"]),
    (step(shift=-1), ["off by one: you read the schedule at t - 1"]),
    (step(shift=1), ["raised IndexError", "read the schedule at t itself"]),
    (step(abar_at=lambda t: t - 1), ["alpha_bar is read at t - 1 (at t = 0 that is alpha_bars[-1]", "reads alpha_bars[t], at the same step t"]),
    (step(abar_at=lambda t: max(t - 1, 0)), ["alpha_bar is read at t - 1 (kept at alpha_bars[0] for t = 0)"]),
    (step(abar_at=lambda t: t - 1, when="always"), ["alpha_bar is read at t - 1", "; and noise was added at t = 0"]),
    (step(abar_at=lambda t: t + 1), ["raised IndexError", "read the schedule at t itself"]),
    (lambda xt, t, eps, b, a, ab, noise: torch.zeros_like(xt), ["x_{t-1} is 0 everywhere, whatever x_t, eps and the noise"]),
    (step(mean="/alpha", when="always"),
     ["the mean is divided by alpha_t, a factor of the variance, where its square root belongs; and noise was added at t = 0"]),
    (step(mean="+eps", scale="beta"), ["the eps term has the wrong sign", "; and the noise is scaled by beta_t"]),
    (lambda xt, t, eps, b, a, ab, noise: reverse_step(xt, t, eps, b, a, ab, torch.randn_like(xt)),
     ["two calls with the same x_t, eps and noise gave different x_{t-1}", "the noise you are given"]),
    (lambda xt, t, eps, b, a, ab, noise: reverse_step(xt, t, eps, b, a, ab, noise * 1.02),
     ["at t = 3, the noise's coefficient in x_{t-1} is 0.6842, expected 0.6708"]),
    (lambda xt, t, eps, b, a, ab, noise: 1.01 * reverse_step(xt, t, eps, b, a, ab, noise), ["at t = 3, x_t's coefficient in x_{t-1} is 1.3619, expected 1.3484"]),
    (lambda xt, t, eps, b, a, ab, noise: reverse_step(xt, t, eps, b, a, ab, noise).clamp(-2, 2), ["x_{t-1} differs from the reverse step's result at t = 3 (got 2.0000, expected"]),
    (lambda xt, t, eps, b, a, ab, noise: None if t == 0 else reverse_step(xt, t, eps, b, a, ab, noise),
     ["reverse_step(xt, 0, eps, betas, alphas, alpha_bars, noise)", "should return a torch.Tensor, but returned NoneType"]),
    (reverse_step_in_place, ["changed the x_t you were given"]),
    (lambda xt, t, eps, b, a, ab, noise: reverse_step(xt.double(), t, eps, b, a, ab, noise), ["should have dtype torch.float32"]),
    (lambda xt, t, eps, b, a, ab, noise: reverse_step(xt, t, eps, b, a, ab, noise)[:, None], ["should return x_{t-1} of shape (5, 2)", "(5, 1, 2)"]),
]


# --------------------------------------------------------------------------- typical mistakes: 10.3


def batched(labels_of=lambda y, null: torch.cat([y, torch.full_like(y, null)]), steps_of=lambda t: torch.cat([t, t]),
            inputs_of=lambda xt: torch.cat([xt, xt]), split=lambda out: out.chunk(2), combine=lambda c, u, w: (1 + w) * c - w * u):
    """guided_eps written right (the defaults) or with one part wrong."""

    def guided(net, xt, t, y, w, null_label):
        return combine(*split(net(inputs_of(xt), steps_of(t), labels_of(y, null_label))), w)

    return guided


def two_calls(net, xt, t, y, w, null_label):
    eps_cond, eps_uncond = net(xt, t, y), net(xt, t, torch.full_like(y, null_label))
    return (1 + w) * eps_cond - w * eps_uncond


def guided_in_place(net, xt, t, y, w, null_label):
    xt *= 1.0
    t += 0
    y[0] = null_label
    return guided_eps(net, xt, t, y, w, null_label)


GUIDANCE_MISTAKES = [
    # the batch the network gets
    (two_calls, ["net was called 2 times for one guided prediction", "one call"]),
    (lambda net, xt, t, y, w, null: net(xt, t, y), ["net was called once on a batch of 3 inputs, for 3 examples", "6 in all"]),
    (batched(steps_of=lambda t: t), ["raised ValueError: net got 6 inputs x but steps t of shape (3,)", "one per input"]),
    (batched(steps_of=lambda t: t.repeat_interleave(2)), ["row 1 of the batch is x_t's example 1 but carries the step 5", "not in the same order"]),
    (batched(inputs_of=lambda xt: torch.stack([xt, xt])), ["net takes x of shape (N, 2)", "got x of shape (2, 3, 2)"]),
    (batched(inputs_of=lambda xt: torch.cat([xt, xt], dim=1)), ["net takes x of shape (N, 2)", "got x of shape (3, 4)"]),
    (batched(labels_of=lambda y, null: torch.cat([y, torch.full_like(y, 10)])),
     ["net knows the labels 0 to 4", "'no label' index is the null_label it was given, 4"]),
    (batched(labels_of=lambda y, null: torch.cat([y, torch.zeros_like(y)])),
     ["row 4 of the batch is x_t's example 1 with label 0, which is neither its label y = 3 nor null_label = 10"]),
    (batched(labels_of=lambda y, null: torch.cat([y, y])), ["no row of the batch asks about x_t's example 0 with null_label = 10"]),
    (batched(labels_of=lambda y, null: torch.full((2 * len(y),), null)), ["no row of the batch asks about x_t's example 0 with its own label y = 0"]),
    (batched(inputs_of=lambda xt: torch.cat([xt, 2 * xt])), ["row 3 of the batch you gave net is none of x_t's examples"]),
    # splitting the output and combining the two predictions
    (batched(labels_of=lambda y, null: torch.cat([torch.full_like(y, null), y])), ["the two predictions play each other's part", "computed with null_label"]),
    (batched(combine=lambda c, u, w: u + w * (c - u)), ["with w = 0 the result is the unconditional prediction", "the other convention"]),
    (batched(combine=lambda c, u, w: torch.lerp(u, c, w)), ["the other convention"]),
    (batched(combine=lambda c, u, w: c + w * (u - c)), ["with w = 1 the result goes 1 times the difference between the two predictions towards the unconditional"]),
    (batched(combine=lambda c, u, w: (1 + w) * c + w * u), ["with w = 1 the weights of the conditional and unconditional predictions add up to 3, not 1"]),
    (batched(combine=lambda c, u, w: c - w * u), ["with w = 1 the weights", "add up to 0, not 1"]),
    (batched(combine=lambda c, u, w: -((1 + w) * c - w * u)), ["with w = 1 the weights", "add up to -1, not 1"]),
    (batched(combine=lambda c, u, w: c + 2 * w * (c - u)), ["with w = 1 the result goes 2 times the difference", "past the conditional prediction"]),
    (batched(combine=lambda c, u, w: c), ["the result is the conditional prediction whatever w"]),
    (batched(split=lambda out: (out[0::2], out[1::2])), ["with w = 1 the result for example 0 is not a weighting of that example's two predictions",
                                                          "split back into the same halves"]),
    (batched(combine=lambda c, u, w: ((1 + w) * c - w * u).clamp(-1, 1)), ["is not a weighting of that example's two predictions"]),
    (batched(combine=lambda c, u, w: torch.full_like(c, 0.5)), ["the guided prediction is 0.5 everywhere"]),
    (guided_in_place, ["changed the y you were given"]),
    (batched(combine=lambda c, u, w: torch.stack([c, u])), ["should return the guided prediction of shape (3, 2)", "has shape (2, 3, 2)"]),
    (batched(combine=lambda c, u, w: ((1 + w) * c - w * u).tolist()), ["should return a torch.Tensor, but returned list"]),
    (batched(combine=lambda c, u, w: ((1 + w) * c - w * u).double()), ["should have dtype torch.float32"]),
]

MISTAKES = (
    [("reverse_step", fn, fragments) for fn, fragments in REVERSE_MISTAKES]
    + [("guided_eps", fn, fragments) for fn, fragments in GUIDANCE_MISTAKES]
)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


def test_not_attempted_waits(capsys):
    for name in CORRECT:
        assert_not_attempted(name, capsys)


def test_a_diagnostic_call_that_raises_only_leaves_the_diagnosis_out():
    """The check calls the step again on unit inputs to read off each coefficient; an error there is
    not the learner's failure: the message falls back to the first difference."""

    def fussy(xt, t, eps, betas, alphas, alpha_bars, noise):
        if bool((xt == 1).all()) or bool((eps == 1).all()) or bool((noise == 1).all()):
            raise ValueError("unit input")
        return 1.01 * reverse_step(xt, t, eps, betas, alphas, alpha_bars, noise)

    with pytest.raises(checks.CheckFailed, match=r"x_\{t-1\} differs from the reverse step's result at t = 3 \(got"):
        checks.reverse_step(fussy)


REFERENCES = [(name, fn) for name, fns in CORRECT.items() for fn in fns] + [(name, fn) for name, fn, _ in MISTAKES]


def test_a_step_that_raises_keeps_its_error():
    def broken(xt, t, eps, betas, alphas, alpha_bars, noise):
        raise KeyError("oops")

    with pytest.raises(checks.CheckFailed, match=r"raised KeyError: 'oops'$"):
        checks.reverse_step(broken)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
