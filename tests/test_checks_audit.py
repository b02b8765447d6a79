"""genai_course.checks.audit (lesson 11, 11.3 and 11.4): correct code passes, typical mistakes are named."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from genai_course import metrics
from genai_course.checks import audit as audit_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def binomial_p_value(correct, n):
    return sum(math.comb(n, j) for j in range(correct, n + 1)) / 2**n


def binomial_p_value_by_fraction(correct, n):
    return Fraction(sum(math.comb(n, j) for j in range(correct, n + 1)), 2**n)


def binomial_p_value_by_torch(correct, n):
    j = torch.arange(correct, n + 1, dtype=torch.float64)
    return torch.distributions.Binomial(n, probs=torch.tensor(0.5, dtype=torch.float64)).log_prob(j).exp().sum()


def flag_copies(sample_dist, heldout_dist, quantile):
    return sample_dist < torch.quantile(heldout_dist, quantile)


def flag_copies_in_float64(sample_dist, heldout_dist, quantile):
    threshold = torch.quantile(heldout_dist.double(), torch.tensor(quantile, dtype=torch.float64))
    return sample_dist.double() < threshold


CORRECT = {
    "binomial_p_value": [
        binomial_p_value, binomial_p_value_by_fraction, metrics.binomial_p_value,
        lambda c, n: np.float64(binomial_p_value(c, n)),  # a numpy float is a float
    ],
    "flag_copies": [flag_copies, flag_copies_in_float64],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(audit_checks, {
        "binomial_p_value": "Exercise 11.3 (the exact p-value)",
        "flag_copies": "Exercise 11.4 (flagging possible copies)",
    })
    assert list(CORRECT) == audit_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_the_library_agrees_with_the_references():
    """metrics.binomial_p_value and memorization's flags are what the checks accept."""
    for correct, n in ((6, 10), (336, 600), (0, 5), (5, 5)):
        assert metrics.binomial_p_value(correct, n) == pytest.approx(binomial_p_value(correct, n), rel=1e-12)
    g = torch.Generator().manual_seed(0)
    train, heldout, samples = torch.rand(50, 4, generator=g), torch.rand(40, 4, generator=g), torch.rand(30, 4, generator=g)
    samples[:5] = train[:5] + 0.001
    report = metrics.memorization(samples, train, heldout, quantile=0.05)
    flags = flag_copies(metrics.nearest_neighbours(samples, train)[0], metrics.nearest_neighbours(heldout, train)[0], 0.05)
    assert report.copies == pytest.approx(flags.float().mean().item())


# --------------------------------------------------------------------------- typical mistakes: 11.3


def normal_approximation(correct, n, continuity=0.0):
    z = (correct - continuity - n / 2) / math.sqrt(n / 4)
    return 0.5 * math.erfc(z / math.sqrt(2))


def p_value_by_factorials(correct, n):
    return sum(math.factorial(n) * 0.5**n / (math.factorial(j) * math.factorial(n - j)) for j in range(correct, n + 1))


def p_value_in_float32(correct, n):
    j = torch.arange(correct, n + 1)
    return torch.distributions.Binomial(n, probs=torch.tensor(0.5)).log_prob(j.float()).exp().sum().item()


def p_value_of_accuracy(correct, n):
    accuracy = correct / n
    return binomial_p_value(math.ceil(accuracy), n)  # as if `correct` were... the accuracy


P_MISTAKES = [
    (lambda c, n: binomial_p_value(c + 1, n) if c < n else 0.0, ["P(X > correct)", "counts the observed result too"]),
    (lambda c, n: 2 * binomial_p_value(c, n), ["two-sided", "one-sided P(X >= correct)"]),
    (lambda c, n: min(1.0, 2 * binomial_p_value(c, n)), ["two-sided"]),
    (lambda c, n: sum(math.comb(n, j) for j in range(c + 1)) / 2**n, ["the wrong tail, P(X <= correct)"]),
    (lambda c, n: 1 - binomial_p_value(c, n), ["the wrong tail, P(X < correct)"]),
    (lambda c, n: math.comb(n, c) / 2**n, ["P(X = correct), the chance of exactly that many"]),
    (normal_approximation, ["the normal approximation, close but not exact"]),
    (lambda c, n: normal_approximation(c, n, 0.5), ["the normal approximation with a continuity correction"]),
    (lambda c, n: 0.98 * normal_approximation(c, n, 0.5), ["that looks like an approximation"]),
    (lambda c, n: binomial_p_value(c * n, n) if c * n <= n else 0.0, ["correct is the number of right answers", "not the accuracy"]),
    (p_value_of_accuracy, ["correct is the number of right answers"]),
    (p_value_by_factorials, ["raised OverflowError", "exact binomial coefficients from the math module"]),
    (lambda c, n: 1 - sum(math.comb(n, j) * 0.5**n for j in range(c)), ["1 - P(X < correct) leaves almost none", "add up the tail"]),
    (p_value_in_float32, ["close to the exact", "relative error", "float32"]),
    (lambda c, n: sum(math.comb(n, j) for j in range(c, n + 1)), ["which is no probability", "divide the number of outcomes by 2**n"]),
    (lambda c, n: sum(math.comb(n, j) for j in range(c, n)) / 2**n, ["the sum stops at j = n - 1", "a Python range leaves out its end"]),
    # a tensor where a float is asked: exact in float64 but still not a float (a specific message since the probe/judge split;
    # before, a float64 tensor passed)
    (binomial_p_value_by_torch, ["binomial_p_value(6, 10) should return a Python float, but returned a torch.Tensor of dtype torch.float64",
                                 ".item()"]),
    (lambda c, n: torch.tensor(binomial_p_value(c, n)), ["should return a Python float", "torch.float32", "float32 keeps only about 7 digits"]),
    (lambda c, n: sum(math.comb(n, j) for j in range(c / n, n + 1)) / 2**n, ["raised TypeError", "j = correct, ..., n"]),
    (lambda c, n: [binomial_p_value(c, n)], ["should be a single number, but is a list"]),
    (lambda c, n: c / n > 0.5, ["should be a number, but is the boolean"]),
    (lambda c, n: float("nan"), ["is NaN"]),
    (lambda c, n: 1.01 * binomial_p_value(c, n) if n > 101 else binomial_p_value(c, n), ["binomial_p_value(336, 600) returned", "expected P(X >= 336)"]),
]


# --------------------------------------------------------------------------- typical mistakes: 11.4


def flags_by_index(sample_dist, heldout_dist, quantile):
    threshold = heldout_dist.sort().values[int(quantile * len(heldout_dist))]
    return sample_dist < threshold


COPY_MISTAKES = [
    (lambda s, h, q: s <= torch.quantile(h, q), ["a sample exactly at the threshold is not flagged", "sample_dist < threshold"]),
    (lambda s, h, q: s > torch.quantile(h, q), ["you flagged the samples *farther* than the threshold"]),
    (lambda s, h, q: s > torch.quantile(h, 1 - q), ["farther than the (1 - quantile) quantile"]),
    (lambda s, h, q: s < torch.quantile(s, q), ["the threshold comes from the held-out distances"]),
    (lambda s, h, q: s < torch.quantile(torch.cat([s, h]), q), ["the threshold comes from the held-out distances alone", "mixing in the samples"]),
    (lambda s, h, q: s < torch.quantile(h, 1 - q), ["you took the (1 - quantile) quantile", "*below* the threshold"]),
    (lambda s, h, q: torch.zeros(len(s), dtype=torch.bool), ["you flagged no sample in every case"]),
    (lambda s, h, q: torch.ones(len(s), dtype=torch.bool), ["you flagged every sample in every case"]),
    (lambda s, h, q: (s < torch.quantile(h, q)).tolist(), ["should return a torch.Tensor, but returned list"]),
    (flags_by_index, ["not the quantile torch.quantile computes", "interpolates"]),
    (lambda s, h, q: s < torch.quantile(h, q, interpolation="nearest"), ["not the quantile torch.quantile computes"]),
    (lambda s, h, q: s < torch.quantile(h, 100 * q), ["raised RuntimeError", "quantile is a share, 0.01 for 1%"]),
    (lambda s, h, q: (s < torch.quantile(h, q)).float().mean(), ["one flag per sample", "not the share of flagged samples"]),
    (lambda s, h, q: (s < torch.quantile(h, q)).float(), ["should be a boolean tensor", "torch.float32"]),
    (lambda s, h, q: h < torch.quantile(h, q), ["should have shape (7,)", "has shape (11,)"]),
    (lambda s, h, q: s < torch.quantile(h, q) + 0.1, ["the threshold is 1.25 and the sample at distance 1.25 should not be flagged"]),
]

MISTAKES = (
    [("binomial_p_value", fn, fragments) for fn, fragments in P_MISTAKES]
    + [("flag_copies", fn, fragments) for fn, fragments in COPY_MISTAKES]
)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


def test_every_named_slip_differs_from_the_truth():
    """On the checks' cases no slip gives the right answer everywhere, so none can pass and none hides the truth."""
    ce = audit_checks
    truths = [ce._tail(c, n) for c, n in ce._P_CASES]
    for slip, _ in ce._P_SLIPS:
        assert any(ce._relative(slip(c, n), t) > 1e-6 for (c, n), t in zip(ce._P_CASES, truths))
    for slip, _ in ce._COPY_SLIPS:
        assert not all(torch.equal(slip(s, h, q), ce._flags(s, h, q)) for s, h, q in ce._copy_cases())


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
