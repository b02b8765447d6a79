"""genai_course.checks.mixtures (lesson 01: sampling a mixture and its log density): correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations

import math

import pytest
import torch

from genai_course import checks
from genai_course.checks import mixtures

from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def sample_ring8(n, weights, generator=None, std=0.01, pick=None, turn=1.0):
    """The right answer; ``std``, ``pick`` (how the modes are chosen) and ``turn`` (-1: modes clockwise) bend it into a mistake."""
    k = pick(n, weights, generator) if pick else torch.multinomial(weights, n, replacement=True, generator=generator)
    angles = turn * 2 * math.pi * k / 8
    return torch.stack([angles.cos(), angles.sin()], dim=1) + std * torch.randn(n, 2, generator=generator)


def mixture_log_prob(x, means, std, weights):
    d2 = (x[:, None, :] - means[None]).pow(2).sum(-1)  # (N, K)
    return torch.logsumexp(weights.log() - d2 / (2 * std**2), dim=1) - math.log(2 * math.pi * std**2)


def ring8_by_inverse_cdf(n, weights, generator=None):  # also right: a uniform draw looked up in the cumulative weights
    u = torch.rand(n, generator=generator)
    k = torch.searchsorted(weights.cumsum(0), u, right=True).clamp(max=7)
    return sample_ring8(n, weights, generator, pick=lambda *_: k)


def log_prob_by_hand(x, means, std, weights):  # also right: log-sum-exp written out
    a = weights.log() - (x[:, None, :] - means[None]).pow(2).sum(-1) / (2 * std**2)  # (N, K)
    m = a.max(dim=1, keepdim=True).values
    return (m + (a - m).exp().sum(1, keepdim=True).log()).squeeze(1) - math.log(2 * math.pi * std**2)


@pytest.mark.parametrize("name, fn", [("sample_ring8", ring8_by_inverse_cdf), ("mixture_log_prob", log_prob_by_hand)])
def test_another_right_answer_passes(name, fn, capsys):
    getattr(checks, name)(fn)
    assert capsys.readouterr().out.startswith(f"✅ {checks.EXERCISES[name]}: passed")


CORRECT = {
    "sample_ring8": sample_ring8,
    "mixture_log_prob": mixture_log_prob,
}


# --------------------------------------------------------------------------- typical mistakes


def ring_with(**bend):
    return lambda n, weights, generator=None: sample_ring8(n, weights, generator, **bend)


def naive_log_prob(x, means, std, weights):  # exp, then log: underflows far from the modes
    d2 = (x[:, None, :] - means[None]).pow(2).sum(-1)
    return torch.log((weights * torch.exp(-d2 / (2 * std**2))).sum(1)) - math.log(2 * math.pi * std**2)


MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    ("sample_ring8", lambda n, w, generator=None: sample_ring8(n, w), ["generators seeded alike gave different points", "does not use the generator"]),
    ("sample_ring8", ring_with(pick=lambda n, w, g: torch.randint(8, (n,), generator=g)), ["about 1/8 of the points whatever the weights"]),
    ("sample_ring8", ring_with(pick=lambda n, w, g: torch.multinomial(w, n, generator=g)), ["raised RuntimeError", "one mode can be picked many times"]),
    ("sample_ring8", ring_with(pick=lambda n, w, g: torch.multinomial((w + 0.05) / 1.4, n, True, generator=g)), ["mode 0 has weight 0 but got"]),
    ("sample_ring8", ring_with(pick=lambda n, w, g: torch.multinomial(w**2, n, True, generator=g)), ["mode 7 got", "its weight is 22.2%"]),
    ("sample_ring8", ring_with(turn=-1.0), ["shares are the weights, but on the wrong modes"]),
    ("sample_ring8", ring_with(std=0.1), ["within 3 std (0.03) of a mode"]),
    ("sample_ring8", ring_with(std=0.005), ["the noise around each mode has std 0.005", "expected 0.01"]),
    ("sample_ring8", lambda n, w, generator=None: sample_ring8(n, w, generator).double(), ["should have dtype torch.float32, but has dtype torch.float64"]),
    ("mixture_log_prob", lambda x, m, s, w: mixture_log_prob(x, m, s, w).exp(), ["returned the density itself", "logarithm"]),
    ("mixture_log_prob", lambda x, m, s, w: mixture_log_prob(x, m, s, torch.ones_like(w) / len(w)), ["those of the equal-weight mixture", "change nothing"]),
    ("mixture_log_prob", lambda x, m, s, w: mixture_log_prob(x, m, s, w) - math.log(len(m)), ["lower than the true ones by log K (K = 8)"]),
    ("mixture_log_prob", lambda x, m, s, w: mixture_log_prob(x, m, s, w) + math.log(2 * math.pi * s**2), ["off by the same amount", "normalising constant"]),
    ("mixture_log_prob", lambda x, m, s, w: mixture_log_prob(x, m, 2 * s, w), ["differ from the true log density on ring8"]),
    ("mixture_log_prob", naive_log_prob, ["far from ring8's modes contains NaN or infinite values", "underflows to 0"]),
]


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(mixtures, {
        "sample_ring8": "Exercise 1.1 (sampling a ring of 8 with unequal weights)",
        "mixture_log_prob": "Exercise 1.2 (the log density of a mixture with unequal weights)",
    })
    assert list(CORRECT) == mixtures.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
