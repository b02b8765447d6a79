"""genai_course.checks.diffusion (lesson 10, 10.1): correct code passes, typical mistakes are named."""

from __future__ import annotations

import math

import pytest
import torch

from genai_course import diffusion
from genai_course.checks import diffusion as diffusion_checks
from check_protocol import assert_named_mistake, assert_not_attempted, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def per_example(v, t, like):
    return v[t].view(-1, *[1] * (like.dim() - 1))  # (B, 1, ...)


def q_sample(x0, t, alpha_bars, noise):
    abar = per_example(alpha_bars, t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def q_sample_by_unsqueeze(x0, t, alpha_bars, noise):
    abar = alpha_bars[t]
    while abar.dim() < x0.dim():
        abar = abar.unsqueeze(-1)
    return torch.sqrt(abar) * x0 + torch.sqrt(1 - abar) * noise


def q_sample_by_movedim(x0, t, alpha_bars, noise):
    abar = alpha_bars[t]  # (B,) lines up with the last dim once the batch is moved there
    return (abar.sqrt() * x0.movedim(0, -1) + (1 - abar).sqrt() * noise.movedim(0, -1)).movedim(-1, 0)


def schedule_from(alpha_bars):
    """A library NoiseSchedule with (up to float32 rounding) the given alpha_bars."""
    alpha_bars = alpha_bars.double()
    return diffusion.NoiseSchedule(1 - alpha_bars / torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]]))


def q_sample_by_library(x0, t, alpha_bars, noise):
    return diffusion.q_sample(x0, t, schedule_from(alpha_bars), noise)


CORRECT = {
    "q_sample": [q_sample, q_sample_by_unsqueeze, q_sample_by_movedim, q_sample_by_library],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(diffusion_checks, {
        "q_sample": "Exercise 10.1 (the forward process)",
    })
    assert list(CORRECT) == diffusion_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_the_library_agrees_with_the_reference():
    """The library's q_sample is what the check accepts."""
    schedule = diffusion.make_schedule(200, "cosine")
    g = torch.Generator().manual_seed(0)
    x0, noise = (torch.randn(7, 1, 8, 8, generator=g) for _ in range(2))
    t = torch.tensor([0, 1, 50, 100, 150, 198, 199])
    assert torch.allclose(diffusion.q_sample(x0, t, schedule, noise), q_sample(x0, t, schedule.alpha_bars, noise), atol=1e-6)


# --------------------------------------------------------------------------- typical mistakes: 10.1


def forward(signal=torch.sqrt, spread=lambda a: (1 - a).sqrt(), *, source=lambda alpha_bars: alpha_bars, index=lambda t: t, sign=1.0):
    """x_t written right (the defaults) or one of the usual wrong ways."""

    def q(x0, t, alpha_bars, noise):
        abar = per_example(source(alpha_bars), index(t), x0)
        return signal(abar) * x0 + sign * spread(abar) * noise

    return q


def one_step_alphas(alpha_bars):
    return alpha_bars / torch.cat([alpha_bars.new_ones(1), alpha_bars[:-1]])


def q_sample_without_reshape(x0, t, alpha_bars, noise):
    abar = alpha_bars[t]  # (B,)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def q_sample_with_one_new_axis(x0, t, alpha_bars, noise):
    abar = alpha_bars[t][:, None]  # (B, 1): right for points, wrong for images
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def q_sample_with_two_new_axes(x0, t, alpha_bars, noise):
    abar = alpha_bars[t][:, None, None]  # (B, 1, 1)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def q_sample_by_math(x0, t, alpha_bars, noise):
    return math.sqrt(alpha_bars[t]) * x0 + math.sqrt(1 - alpha_bars[t]) * noise


def q_sample_in_place(x0, t, alpha_bars, noise):
    abar = per_example(alpha_bars, t, x0)
    x0 *= abar.sqrt()
    return x0 + (1 - abar).sqrt() * noise


def previous_alpha_bars(alpha_bars):
    """alpha_bar_{t-1} at every step t, 1 at t = 0."""
    return torch.cat([alpha_bars.new_ones(1), alpha_bars[:-1]])


def q_sample_with_seeded_noise(x0, t, alpha_bars, noise):
    return q_sample(x0, t, alpha_bars, torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)))


FORWARD_MISTAKES = [
    (forward(signal=lambda a: a), ["alpha_bar_t is not square-rooted in x0's coefficient"]),
    (forward(spread=lambda a: 1 - a), ["the noise's coefficient is a variance where a standard deviation belongs"]),
    (forward(signal=lambda a: a, spread=lambda a: 1 - a), ["neither coefficient is square-rooted"]),
    (forward(signal=lambda a: (1 - a).sqrt(), spread=torch.sqrt), ["the coefficients are swapped"]),
    (forward(spread=lambda a: 1 - a.sqrt()), ["takes the square root of alpha_bar_t before subtracting it from 1"]),
    (forward(signal=torch.ones_like), ["x0 is not scaled"]),
    (forward(spread=torch.zeros_like), ["the noise is missing"]),
    (forward(spread=torch.ones_like), ["the noise is added at full strength at every step"]),
    (forward(sign=-1.0), ["the noise is subtracted"]),
    (forward(source=one_step_alphas), ["you used alpha_t = 1 - beta_t, one step's factor", "alpha_bars[t]"]),
    (forward(source=lambda ab: torch.cumprod(ab, 0)), ["alpha_bars already holds the cumulative products", "without another torch.cumprod"]),
    (forward(index=lambda t: t - 1), ["off by one: you used alpha_bars[t - 1]", "0-based"]),
    (forward(index=lambda t: t + 1), ["raised IndexError", "index alpha_bars with t itself"]),
    (forward(index=lambda t: (t - 1).clamp(min=0)), ["off by one: you used alpha_bars[t - 1] (kept at alpha_bars[0] for t = 0)"]),
    (forward(source=previous_alpha_bars), ["off by one: you used alpha_bar_{t-1} (1 at t = 0)", "alpha_bars[t]"]),
    (lambda x0, t, ab, noise: forward(index=lambda t: (t + 1).clamp(max=len(ab) - 1))(x0, t, ab, noise),
     ["off by one: you used alpha_bars[t + 1]", "from 0 to T-1"]),
    (forward(spread=lambda a: (1 - a.sqrt()).sqrt()), ["the noise's coefficient has one square root too many"]),
    (lambda x0, t, ab, noise: torch.zeros_like(x0), ["x_t is 0 everywhere, whatever x0, t and the noise"]),
    (forward(source=lambda ab: diffusion.make_schedule(200, "cosine").alpha_bars), ["make_schedule(200, 'cosine')'s alpha_bars", "not a global"]),
    (q_sample_without_reshape, ["raised RuntimeError", "must match the size of tensor", "a 1 for each of x0's other dims"]),
    (q_sample_with_one_new_axis, ["alpha_bars[t] of shape (B, 1) lined up with x0's last dims", "scaled rows or columns", "each of its B values must scale one whole example"]),
    (q_sample_with_two_new_axes, ["should return x_t of shape (6, 2)", "has shape (6, 6, 2)", "one value per example"]),
    (q_sample_by_math, ["only one element tensors", "tensor operations, which take B values at once"]),
    (lambda x0, t, ab, noise: q_sample(x0, t, ab, torch.randn_like(x0)), ["two calls with the same x0, t and noise gave different x_t", "torch.randn_like"]),
    (q_sample_with_seeded_noise, ["x_t does not change with the noise you pass"]),
    (lambda x0, t, ab, noise: q_sample(x0, t, ab.double(), noise), ["should have dtype torch.float32", "torch.float64"]),
    (q_sample_in_place, ["changed the x0 you were given", "in-place"]),
    (lambda x0, t, ab, noise: (q_sample(x0, t, ab, noise), noise), ["should return a torch.Tensor, but returned tuple"]),
    (forward(signal=lambda a: 1.01 * a.sqrt()), ["at t = 0 x0's coefficient is 0.9844, expected 0.9747 (too large"]),
    (forward(spread=lambda a: (1.01 - a).sqrt()), ["at t = 0 the noise's coefficient is 0.2449, expected 0.2236 (too large"]),
    (lambda x0, t, ab, noise: q_sample(x0, t, ab, noise).clamp(-1, 1), ["x_t differs from the forward process's closed form", "(got 1.0000, expected 1.3204)"]),
]


MISTAKES = [("q_sample", fn, fragments) for fn, fragments in FORWARD_MISTAKES]


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


def test_not_attempted_waits(capsys):
    assert_not_attempted("q_sample", capsys)


REFERENCES = [(name, fn) for name, fns in CORRECT.items() for fn in fns] + [(name, fn) for name, fn, _ in MISTAKES]


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
