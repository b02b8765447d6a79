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


def two_sided_p_value(correct, n):
    far = abs(correct - n / 2)
    return sum(math.comb(n, j) for j in range(n + 1) if abs(j - n / 2) >= far) / 2**n


def two_sided_by_tails(correct, n):
    low, high = min(correct, n - correct), max(correct, n - correct)  # the count and its mirror image
    if low == high:
        return 1.0
    return 2 * sum(math.comb(n, j) for j in range(high, n + 1)) / 2**n


def two_sided_by_fraction(correct, n):
    return Fraction(sum(math.comb(n, j) for j in range(n + 1) if abs(2 * j - n) >= abs(2 * correct - n)), 2**n)


def upper(correct, n):
    return sum(math.comb(n, j) for j in range(correct, n + 1)) / 2**n


def lower(correct, n):
    return sum(math.comb(n, j) for j in range(0, correct + 1)) / 2**n


def flag_copies(dist, n, alpha):
    nearest = dist.sort(dim=1).values[:, :n]  # (N, n): each sample's n nearest training distances
    return nearest[:, 0] < alpha * nearest.mean(dim=1)


def flag_copies_by_topk(dist, n, alpha):
    nearest = dist.double().topk(n, dim=1, largest=False).values
    return nearest.min(dim=1).values / nearest.mean(dim=1) < alpha


CORRECT = {
    "two_sided_p_value": [
        two_sided_p_value, two_sided_by_tails, two_sided_by_fraction,
        lambda c, n: np.float64(two_sided_p_value(c, n)),  # a numpy float is a float
    ],
    "flag_copies": [flag_copies, flag_copies_by_topk],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(audit_checks, {
        "two_sided_p_value": "Exercise 11.3 (the two-sided p-value)",
        "flag_copies": "Exercise 11.4 (flagging copies by a relative distance)",
    })
    assert list(CORRECT) == audit_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_the_library_agrees_with_the_references():
    """Above n/2 the two-sided p-value is twice the library's one-sided one; the flags read the distances nearest_neighbours gives."""
    for correct, n in ((6, 10), (336, 600), (4, 5)):
        assert two_sided_p_value(correct, n) == pytest.approx(2 * metrics.binomial_p_value(correct, n), rel=1e-12)
    g = torch.Generator().manual_seed(0)
    train, samples = torch.rand(50, 4, generator=g), torch.rand(30, 4, generator=g)
    samples[:5] = train[:5] + 0.001
    d = torch.cdist(samples.double(), train.double(), compute_mode="donot_use_mm_for_euclid_dist")
    assert torch.allclose(d.min(dim=1).values.float(), metrics.nearest_neighbours(samples, train)[0])
    assert flag_copies(d, 5, 1 / 3)[:5].all()


# --------------------------------------------------------------------------- typical mistakes: 11.3


def normal_approximation(correct, n, continuity=0.0):
    z = (abs(correct - n / 2) - continuity) / math.sqrt(n / 4)
    return math.erfc(z / math.sqrt(2))


def p_value_by_factorials(correct, n):
    far = abs(correct - n / 2)
    return sum(math.factorial(n) * 0.5**n / (math.factorial(j) * math.factorial(n - j)) for j in range(n + 1) if abs(j - n / 2) >= far)


def p_value_in_float32(correct, n):
    j = torch.arange(n + 1)
    keep = (j - n / 2).abs() >= abs(correct - n / 2)
    return torch.distributions.Binomial(n, probs=torch.tensor(0.5)).log_prob(j.float()).exp()[keep].sum().item()


P_MISTAKES = [
    (upper, ["that is a one-sided p-value", "*either* direction"]),
    (lower, ["that is a one-sided p-value"]),
    (lambda c, n: 2 * upper(c, n), ["you doubled the upper tail whatever the count", "passes 1"]),
    (lambda c, n: min(1.0, 2 * upper(c, n)), ["doubled the upper tail and capped it at 1", "3 of 10"]),
    (lambda c, n: 2 * min(upper(c, n), lower(c, n)), ["at exactly n/2 both tails hold the middle count"]),
    (lambda c, n: sum(math.comb(n, j) for j in range(n + 1) if abs(2 * j - n) > abs(2 * c - n)) / 2**n,
     ["the observed count (and its mirror) included"]),
    (lambda c, n: math.comb(n, c) / 2**n, ["P(X = correct), the chance of exactly that many"]),
    (normal_approximation, ["the normal approximation, close but not exact"]),
    (lambda c, n: normal_approximation(c, n, 0.5), ["the normal approximation with a continuity correction"]),
    (lambda c, n: min(1.0, 0.98 * normal_approximation(c, n, 0.5)), ["that looks like an approximation"]),
    (p_value_by_factorials, ["raised OverflowError", "Python integers never overflow"]),
    (lambda c, n: 1 - sum(math.comb(n, j) * 0.5**n for j in range(n + 1) if abs(2 * j - n) < abs(2 * c - n)),
     ["1 minus the rest leaves almost none", "add up the far outcomes"]),
    (p_value_in_float32, ["close to the exact", "relative error", "float32"]),
    (lambda c, n: sum(math.comb(n, j) for j in range(n + 1) if abs(2 * j - n) >= abs(2 * c - n)), ["which is no probability"]),
    (lambda c, n: torch.tensor(two_sided_p_value(c, n), dtype=torch.float64),
     ["two_sided_p_value(6, 10) should return a Python float, but returned a torch.Tensor of dtype torch.float64"]),
    (lambda c, n: torch.tensor(two_sided_p_value(c, n)), ["should return a Python float", "float32 keeps only about 7 digits"]),
    (lambda c, n: sum(math.comb(n, j) for j in range(c / n, n + 1)) / 2**n, ["raised TypeError", "whole numbers"]),
    (lambda c, n: [two_sided_p_value(c, n)], ["should be a single number, but is a list"]),
    (lambda c, n: c / n > 0.5, ["should be a number, but is the boolean"]),
    (lambda c, n: float("nan"), ["is NaN"]),
    (lambda c, n: 1.01 * two_sided_p_value(c, n) if n > 101 else two_sided_p_value(c, n),
     ["two_sided_p_value(336, 600) returned", "at least as far from 600/2 as 336"]),
]


# --------------------------------------------------------------------------- typical mistakes: 11.4


def rule(*, op="<", start=0, stop=0, typical="mean"):
    """The relative rule written right (the defaults) or one of the usual wrong ways."""

    def fn(dist, n, alpha):
        s = dist.sort(dim=1).values
        group = s if typical == "all" else s[:, start:n + stop]
        ref = group[:, -1] if typical == "nth" else group.mean(dim=1)
        return {"<": s[:, 0] < alpha * ref, "<=": s[:, 0] <= alpha * ref, ">": s[:, 0] > alpha * ref}[op]

    return fn


def flag_copies_in_place(dist, n, alpha):
    dist[:] = dist.sort(dim=1).values
    return dist[:, 0] < alpha * dist[:, :n].mean(dim=1)


COPY_MISTAKES = [
    (rule(op="<="), ["equals the threshold exactly is not flagged"]),
    (rule(op=">"), ["you flagged the samples whose nearest training example does *not* stand out"]),
    (rule(start=1, stop=1), ["the nearest one included, not over the n after it"]),
    (rule(typical="all"), ["not over the whole training set"]),
    (rule(typical="nth"), ["the n-th nearest training example alone"]),
    (rule(stop=1), ["off by one", "n + 1 nearest"]),
    (rule(stop=-1), ["off by one", "n - 1 nearest"]),
    (flag_copies_in_place, ["changed the dist you were given", "in-place"]),
    (lambda d, n, a: torch.zeros(len(d), dtype=torch.bool), ["you flagged no sample in every case"]),
    (lambda d, n, a: torch.ones(len(d), dtype=torch.bool), ["you flagged every sample in every case"]),
    (lambda d, n, a: flag_copies(d, n, a).tolist(), ["should return a torch.Tensor, but returned list"]),
    (lambda d, n, a: flag_copies(d, n, a).float().mean(), ["one flag per sample", "not the share of flagged samples"]),
    (lambda d, n, a: flag_copies(d, n, a).float(), ["should be a boolean tensor", "torch.float32"]),
    (lambda d, n, a: d.sort(dim=0).values[0] < a * d.sort(dim=0).values[:n].mean(dim=0),
     ["has shape (6,), one per training example", "each *row* of dist is one sample"]),
    (lambda d, n, a: d.topk(n + 10, dim=1, largest=False), ["raised RuntimeError", "n is at most their number"]),
    (lambda d, n, a: flag_copies(d, n, 0.9 * a), ["flag_copies(dist, 5, 0.333) for dist of shape (20, 30): sample", "should be flagged"]),
]

MISTAKES = (
    [("two_sided_p_value", fn, fragments) for fn, fragments in P_MISTAKES]
    + [("flag_copies", fn, fragments) for fn, fragments in COPY_MISTAKES]
)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


def test_every_named_slip_differs_from_the_truth():
    """On the checks' cases no slip gives the right answer everywhere, so none can pass and none hides the truth."""
    ce = audit_checks
    truths = [ce._two_sided(c, n) for c, n in ce._P_CASES]
    for slip, _ in ce._P_SLIPS:
        assert any(ce._relative(slip(c, n), t) > 1e-6 for (c, n), t in zip(ce._P_CASES, truths))
    for slip, _ in ce._COPY_SLIPS:
        assert not all(torch.equal(slip(d, n, a), ce._flags(d, n, a)) for d, n, a in ce._copy_cases())


def test_no_message_names_the_call_to_write():
    """The slips' advice says what is wrong, never the line to write (rule 5 of the course's exercises)."""
    advice = [a for _, a in audit_checks._P_SLIPS] + [a for _, a in audit_checks._COPY_SLIPS]
    for text in advice:
        for call in ("math.comb", "2**n", "sort(", "quantile(", ".mean(", "dim=", "range("):
            assert call not in text, (call, text)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
