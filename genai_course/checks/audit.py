"""Exercise checks for lesson 11 (testing generative models): two audits of a generator's samples.

11.3 the discriminator two-sample test's exact p-value ``binomial_p_value`` (could a classifier
tell the samples from real data better than chance?), 11.4 the memorization audit's copy flags
``flag_copies`` (which samples sit nearer a training example than held-out data does?). Lessons
call them through ``genai_course.checks``: ``checks.binomial_p_value(fn)``. Each is a probe
(``def name(fn, seen)``: runs the learner's code on the cases below, records what came back) and
a judge (``@name.judge``: from those records to the verdict), see ``_protocol``.

Each judge computes the truth here exactly (Python integers, float64, thresholds that are exact in
float32) on cases where every usual slip gives another answer; when the learner's answer differs,
it is compared with those slips to say which it is.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

import torch

from ._protocol import _NUMBERS, CheckFailed, Observed, _call, _edited, _exercise, _number, _tensor, _unchanged, _with_advice
from .observations import observe

__all__ = ["binomial_p_value", "flag_copies"]

_EDITS = "-=, sort_ or fill_diagonal_ on it"  # the in-place edits to suspect when an input changed


# --------------------------------------------------------------------------- 11.3 the exact p-value


_P_CASES = [(6, 10), (10, 10), (0, 10), (5, 10), (14, 20), (58, 101), (336, 600), (380, 600)]


def _tail(correct: float, n: int) -> float:
    """P(X >= correct) for X ~ Binomial(n, 1/2), exactly (correct may be any real number)."""
    start = max(0, math.ceil(correct))
    return float(sum(math.comb(n, j) for j in range(start, n + 1)) / 2**n)


def _normal(correct: int, n: int, half: float) -> float:
    z = (correct - half - n / 2) / math.sqrt(n / 4)
    return 0.5 * math.erfc(z / math.sqrt(2))


_P_SLIPS: list[tuple[Callable[[int, int], float], str]] = [
    (lambda c, n: _tail(c + 1, n),
     "that is P(X > correct): the p-value counts the observed result too, P(X >= correct) = sum over j = correct, ..., n"),
    (lambda c, n: _tail(c, n) - 1 / 2**n,
     "the sum stops at j = n - 1: it runs over j = correct, ..., n, n itself included (all n right): a Python range leaves out its end"),
    (lambda c, n: 2 * _tail(c, n),
     "you doubled the tail (a two-sided test): the two-sample test asks only whether the discriminator does *better* than chance, "
     "so the p-value is the one-sided P(X >= correct)"),
    (lambda c, n: min(1.0, 2 * _tail(c, n)),
     "you doubled the tail (a two-sided test): the two-sample test asks only whether the discriminator does *better* than chance, "
     "so the p-value is the one-sided P(X >= correct)"),
    (lambda c, n: 1 - _tail(c + 1, n),
     "that is the wrong tail, P(X <= correct): the p-value is the chance of doing at least as well by guessing, P(X >= correct)"),
    (lambda c, n: 1 - _tail(c, n),
     "that is the wrong tail, P(X < correct): the p-value is the chance of doing at least as well by guessing, P(X >= correct)"),
    (lambda c, n: math.comb(n, c) / 2**n,
     "that is P(X = correct), the chance of exactly that many: the p-value adds up P(X = j) = C(n, j) / 2^n for every j >= correct"),
    (lambda c, n: _normal(c, n, 0.0),
     "that is the normal approximation, close but not exact (and poor far in the tail): sum the exact binomial probabilities "
     "C(n, j) / 2^n for j = correct, ..., n (math.comb)"),
    (lambda c, n: _normal(c, n, 0.5),
     "that is the normal approximation with a continuity correction, close but not exact: sum the exact binomial probabilities "
     "C(n, j) / 2^n for j = correct, ..., n (math.comb)"),
    (lambda c, n: _tail(c * n, n),
     "correct is the number of right answers (a count from 0 to n, e.g. 56 out of 100), not the accuracy correct / n"),
    (lambda c, n: _tail(c / n, n),
     "correct is the number of right answers (a count from 0 to n, e.g. 56 out of 100), not the accuracy correct / n"),
]

_P_ERRORS = [
    (("OverflowError", "too large"),
     "floats stop at about 1e308 and factorials pass it by n = 171: use exact binomial coefficients from the math module, Python integers that never overflow, "
     "and divide only once, at the end"),
    (("cannot be interpreted as an integer",), "correct and n are whole numbers: the sum runs over the whole numbers j = correct, ..., n"),
]


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


@_exercise("11.3", "the exact p-value")
def binomial_p_value(fn: Callable[[int, int], float], seen: dict) -> None:
    """fn(correct int, n int) -> float: P(X >= correct) for X ~ Binomial(n, 1/2), to 1e-9 relative."""
    for c, n in _P_CASES:
        what = f"binomial_p_value({c}, {n})"
        out = _call(what, fn, c, n)
        if type(out) is Fraction:  # exact, and read as a float
            out = _call(f"float() of the Fraction {what} returned", float, out)
        seen[what] = observe(out)


def _p_value(what: str, rec: dict[str, Any]) -> float:
    """The learner's p-value from its record: a Python float (or int), finite."""
    if rec["type"] == "Tensor":
        precision = (" (and float32 keeps only about 7 digits, too few for a p-value exact to 1e-9)"
                     if rec["dtype"] in ("torch.float32", "torch.float16", "torch.bfloat16") else "")
        raise CheckFailed(
            f"{what} should return a Python float, but returned a torch.Tensor of dtype {rec['dtype']}{precision}: add exact "
            "Python integers and divide once at the end, which gives a float (or call .item() on a float64 tensor)"
        )
    value = _number(what, rec)
    if math.isnan(value):
        raise CheckFailed(f"{what} is NaN: sum C(n, j) / 2^n over j = correct, ..., n with math.comb and Python integers")
    return value


@binomial_p_value.judge
def _judge_binomial_p_value(seen: Observed) -> str:
    outs = []
    for c, n in _P_CASES:
        what = f"binomial_p_value({c}, {n})"
        try:
            rec = seen[what]
        except CheckFailed as failure:
            raise _with_advice(failure, _P_ERRORS) from None
        outs.append(_p_value(what, rec))
    truths = [_tail(c, n) for c, n in _P_CASES]
    if all(_relative(o, t) <= 1e-9 for o, t in zip(outs, truths)):
        return "P(X >= correct) for X ~ Binomial(n, 1/2), exact for n up to 600"
    for slip, advice in _P_SLIPS:
        if all(_relative(o, slip(c, n)) <= 1e-6 or abs(o - slip(c, n)) <= 1e-12 for o, (c, n) in zip(outs, _P_CASES)):
            raise CheckFailed(advice)
    bad = [(o, t, cn) for o, t, cn in zip(outs, truths, _P_CASES) if _relative(o, t) > 1e-9]
    o, t, (c, n) = bad[0]
    if any(not -1e-6 <= o <= 1 + 1e-6 for o, _, _ in bad):
        o, t, (c, n) = next(b for b in bad if not -1e-6 <= b[0] <= 1 + 1e-6)
        raise CheckFailed(f"binomial_p_value({c}, {n}) returned {o:.4g}, which is no probability: divide the number of outcomes by 2**n")
    if all(abs(o - t) < 1e-13 for o, t, _ in bad):
        raise CheckFailed(
            f"binomial_p_value({c}, {n}) returned {o:.10g}, but the exact value is {t:.10g}: a float holds about 16 digits of a number "
            "near 1, so 1 - P(X < correct) leaves almost none of a p-value this small; add up the tail j = correct, ..., n itself"
        )
    central = [_relative(o, t) for o, t, (c_, n_) in zip(outs, truths, _P_CASES) if n_ <= 101 and t > 0.01]  # where approximations are close
    if max(central) < 1e-4 and all(_relative(o, t) < 1e-2 for o, t, _ in bad):
        raise CheckFailed(
            f"binomial_p_value({c}, {n}) returned {o:.10g}, close to the exact {t:.10g} but not equal (relative error {_relative(o, t):.1g}): "
            "float32 keeps only about 7 digits; add exact integers, math.comb(n, j), and divide by 2**n at the end"
        )
    if 1e-4 <= max(central) < 0.2:
        raise CheckFailed(
            f"binomial_p_value({c}, {n}) returned {o:.4g}, near the exact {t:.4g} but not equal: that looks like an approximation; "
            "sum the exact binomial probabilities C(n, j) / 2^n for j = correct, ..., n (math.comb)"
        )
    raise CheckFailed(f"binomial_p_value({c}, {n}) returned {o:.4g}, expected P(X >= {c}) = {t:.4g} for X ~ Binomial({n}, 1/2)")


# --------------------------------------------------------------------------- 11.4 flagging possible copies


def _copy_cases() -> list[tuple[torch.Tensor, torch.Tensor, float]]:
    """(sample_dist (N,), heldout_dist (M,), quantile): quarter-steps, so that every threshold is exact in float32."""
    g = torch.Generator().manual_seed(14)
    held_a = (torch.randperm(11, generator=g) + 4).float() * 0.25  # 1.0, 1.25, ..., 3.5 shuffled: the 0.1 quantile is 1.25 exactly
    sample_a = torch.tensor([1.25, 0.5, 3.0, 1.0, 2.0, 1.125, 0.0])
    held_b = torch.tensor([3.0, 1.0, 2.0, 0.5, 4.0, 1.5, 2.5, 0.75, 3.5, 5.0])  # sorted: 0.5, 0.75, 1, 1.5, ...; 0.25 quantile: 1 + 0.25 * 0.5 = 1.125
    sample_b = torch.tensor([1.0, 1.1, 1.125, 1.2, 0.6, 1.5, 0.8, 2.0, 4.5])  # 4.5: above even the 0.75 quantile, 3.375
    held_c, sample_c = 1.0 + torch.rand(50, generator=g), 1.0 + 0.05 * torch.randn(20, generator=g)
    return [(sample_a, held_a, 0.1), (sample_b, held_b, 0.25), (sample_c, held_c, 0.01)]


def _flags(s: torch.Tensor, h: torch.Tensor, q: float, *, op: str = "<", source: str = "heldout", how: str = "linear") -> torch.Tensor:
    ref = {"heldout": h, "sample": s, "both": torch.cat([s, h])}[source].double()
    if how in ("int", "round"):
        sorted_ = ref.sort().values
        i = min(int(q * ref.numel()) if how == "int" else round(q * (ref.numel() - 1)), ref.numel() - 1)
        threshold = sorted_[i]
    else:
        threshold = torch.quantile(ref, q, interpolation=how)
    s = s.double()
    return {"<": s < threshold, "<=": s <= threshold, ">": s > threshold}[op]


_QUANTILE_HINT = "the `quantile` quantile of the held-out distances as torch.quantile computes it (it interpolates between the two nearest sorted values)"
_COPY_SLIPS: list[tuple[Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor], str]] = [
    (lambda s, h, q: _flags(s, h, q, op="<="),
     "a sample exactly at the threshold is not flagged: flag those strictly nearer, sample_dist < threshold"),
    (lambda s, h, q: _flags(s, h, q, op=">"),
     "you flagged the samples *farther* than the threshold: copies are the ones nearer a training example than almost any "
     "held-out example, sample_dist < threshold"),
    (lambda s, h, q: _flags(s, h, 1 - q, op=">"),
     "you flagged the samples farther than the (1 - quantile) quantile: copies are the ones *nearer* than the quantile, "
     f"sample_dist < {_QUANTILE_HINT}"),
    (lambda s, h, q: _flags(s, h, q, source="sample"),
     "the threshold comes from the held-out distances (what new, unseen data looks like), not from the samples' own: "
     f"{_QUANTILE_HINT}"),
    (lambda s, h, q: _flags(s, h, q, source="both"),
     "the threshold comes from the held-out distances alone (what new, unseen data looks like): mixing in the samples' own "
     f"lets the copies pull it down; use {_QUANTILE_HINT}"),
    (lambda s, h, q: _flags(s, h, 1 - q),
     "you took the (1 - quantile) quantile, which nearly every held-out distance is below: quantile is the share of held-out "
     f"distances *below* the threshold (0.01: the nearest 1%), so use {_QUANTILE_HINT}"),
    *[(lambda s, h, q, how=how: _flags(s, h, q, how=how),
       f"the threshold is not the quantile torch.quantile computes: use {_QUANTILE_HINT}")
      for how in ("int", "round", "lower", "higher", "nearest", "midpoint")],
]

_COPY_ERRORS = [
    (("q must be in the range", "quantile() q"), "quantile is a share, 0.01 for 1%, not a percentage"),
    (("must be either float or double", "input tensor must be"), "torch.quantile needs float distances"),
]


def _copy_what(s: torch.Tensor, h: torch.Tensor, q: float) -> str:
    return f"flag_copies(sample_dist, heldout_dist, {q}) for {s.numel()} samples and {h.numel()} held-out distances"


@_exercise("11.4", "flagging possible copies")
def flag_copies(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(sample_dist (N,), heldout_dist (M,), quantile float in (0, 1)) -> (N,) bool: sample_dist < torch.quantile(heldout_dist, quantile)."""
    for i, (s, h, q) in enumerate(_copy_cases()):
        given = (s.clone(), h.clone())
        seen[f"flags{i}"] = observe(_call(_copy_what(s, h, q), fn, *given, q))
        seen[f"edited{i}"] = _edited([("sample_dist", given[0], s), ("heldout_dist", given[1], h)])


@flag_copies.judge
def _judge_flag_copies(seen: Observed) -> str:
    cases = _copy_cases()
    outs = []
    for i, (s, h, q) in enumerate(cases):
        what = _copy_what(s, h, q)
        try:
            rec = seen[f"flags{i}"]
        except CheckFailed as failure:
            raise _with_advice(failure, _COPY_ERRORS) from None
        _unchanged(what, seen[f"edited{i}"], _EDITS)
        if rec["type"] == "Tensor" and rec["shape"] == [] or rec["type"] in (*_NUMBERS, "bool"):
            raise CheckFailed(f"{what} should return one flag per sample, a boolean tensor of shape ({s.numel()},), not the share of flagged samples")
        out = _tensor(what, rec, (s.numel(),), dtype=None)
        if rec["dtype"] != "torch.bool":
            raise CheckFailed(f"{what} should be a boolean tensor (True = possible copy), but has dtype {rec['dtype']}: return the comparison itself")
        outs.append(out)
    if all(torch.equal(o, _flags(s, h, q)) for o, (s, h, q) in zip(outs, cases)):
        return "samples nearer than the held-out distances' quantile, exact thresholds included"
    for slip, advice in _COPY_SLIPS:
        if all(torch.equal(o, slip(s, h, q)) for o, (s, h, q) in zip(outs, cases)):
            raise CheckFailed(advice)
    if all(bool(o.all()) for o in outs) or not any(bool(o.any()) for o in outs):
        raise CheckFailed(
            f"you flagged {'every' if outs[0].all() else 'no'} sample in every case, but some samples are nearer than the threshold "
            f"and some are not: flag each sample with sample_dist < {_QUANTILE_HINT}"
        )
    i = next(i for i, (o, (s, h, q)) in enumerate(zip(outs, cases)) if not torch.equal(o, _flags(s, h, q)))
    s, h, q = cases[i]
    truth = _flags(s, h, q)
    j = int((outs[i] != truth).nonzero()[0])
    threshold = float(torch.quantile(h.double(), q))
    raise CheckFailed(
        f"with quantile = {q}, the threshold is {threshold:.4g} and the sample at distance {s[j].item():.4g} should "
        f"{'' if truth[j] else 'not '}be flagged (sample_dist < {_QUANTILE_HINT})"
    )
