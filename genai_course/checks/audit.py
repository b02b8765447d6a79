"""Exercise checks for lesson 11 (testing generative models): two audits of a generator's samples.

11.3 the classifier two-sample test's exact two-sided p-value ``two_sided_p_value`` (does a
classifier's accuracy differ from a coin's, in either direction?), 11.4 copy flags by a relative
distance ``flag_copies`` (which samples sit much nearer their nearest training example than their
next ones?). Lessons
call them through ``genai_course.checks``: ``checks.two_sided_p_value(fn)``. Each is a probe
(``def name(fn, seen)``: runs the learner's code on the cases below, records what came back) and
a judge (``@name.judge``: from those records to the verdict), see ``_protocol``.

Each judge computes the truth here exactly (Python integers, float64, thresholds that are exact in
float32 where a case sits on one) on cases where every usual slip gives another answer; when the learner's answer differs,
it is compared with those slips to say which it is.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable

import torch

from ._protocol import _NUMBERS, CheckFailed, Observed, _call, _edited, _exercise, _number, _tensor, _unchanged, _with_advice
from .observations import observe

__all__ = ["two_sided_p_value", "flag_copies"]

_EDITS = "-=, sort_ or fill_diagonal_ on it"  # the in-place edits to suspect when an input changed


# --------------------------------------------------------------------------- 11.3 the two-sided p-value


_P_CASES = [(6, 10), (10, 10), (0, 10), (5, 10), (3, 10), (14, 20), (58, 101), (43, 101), (336, 600), (250, 600), (400, 600)]


def _tail(correct: float, n: int) -> float:
    """P(X >= correct) for X ~ Binomial(n, 1/2), exactly (correct may be any real number)."""
    start = max(0, math.ceil(correct))
    return float(sum(math.comb(n, j) for j in range(start, n + 1)) / 2**n)


def _lower(correct: float, n: int) -> float:
    """P(X <= correct), exactly."""
    return float(sum(math.comb(n, j) for j in range(0, min(n, math.floor(correct)) + 1)) / 2**n)


def _two_sided(correct: int, n: int, *, strict: bool = False) -> float:
    """P(|X - n/2| >= |correct - n/2|) (strict: >), exactly."""
    far = abs(2 * correct - n)
    keep = (lambda j: abs(2 * j - n) > far) if strict else (lambda j: abs(2 * j - n) >= far)
    return float(sum(math.comb(n, j) for j in range(n + 1) if keep(j)) / 2**n)


def _normal(correct: int, n: int, half: float) -> float:
    z = (abs(correct - n / 2) - half) / math.sqrt(n / 4)
    return math.erfc(z / math.sqrt(2))


_ONE_SIDED = ("that is a one-sided p-value: the question here is whether the classifier differs from a coin in *either* "
              "direction, so a count as far below n/2 as yours is above it (or above, as yours is below) counts as well")
_P_SLIPS: list[tuple[Callable[[int, int], float], str]] = [
    (lambda c, n: _tail(c, n), _ONE_SIDED),
    (lambda c, n: _lower(c, n), _ONE_SIDED),
    (lambda c, n: 2 * _tail(c, n),
     "you doubled the upper tail whatever the count: that is right only above n/2; below it the tail on the count's own side is "
     "the lower one (and at exactly n/2 the doubled tail counts the middle twice and passes 1)"),
    (lambda c, n: min(1.0, 2 * _tail(c, n)),
     "you doubled the upper tail and capped it at 1: right above n/2, but a count below n/2 (3 of 10, say) is as far out on the "
     "lower side, and your answer calls it a coin's"),
    (lambda c, n: 2 * min(_tail(c, n), _lower(c, n)),
     "at exactly n/2 both tails hold the middle count, so doubling the smaller one counts it twice: the answer passes 1, and a "
     "count of exactly n/2 is as close to a coin as a count can be"),
    (lambda c, n: _two_sided(c, n, strict=True),
     "the p-value counts every result at least as far from n/2 as the observed one, the observed count (and its mirror) included"),
    (lambda c, n: math.comb(n, c) / 2**n, "that is P(X = correct), the chance of exactly that many, not of a result at least as far out"),
    (lambda c, n: _normal(c, n, 0.0),
     "that is the normal approximation, close but not exact (and poor far in the tail): the p-value asked for is exact"),
    (lambda c, n: _normal(c, n, 0.5),
     "that is the normal approximation with a continuity correction, close but not exact: the p-value asked for is exact"),
]

_P_ERRORS = [
    (("OverflowError", "too large"),
     "floats stop at about 1e308, and factorials pass it by n = 171: Python integers never overflow, so stay with them until one "
     "division at the end"),
    (("cannot be interpreted as an integer",), "correct and n are whole numbers, and so is every count j the sum runs over"),
]


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


@_exercise("11.3", "the two-sided p-value")
def two_sided_p_value(fn: Callable[[int, int], float], seen: dict) -> None:
    """fn(correct int, n int) -> float: P(|X - n/2| >= |correct - n/2|) for X ~ Binomial(n, 1/2), to 1e-9 relative."""
    for c, n in _P_CASES:
        what = f"two_sided_p_value({c}, {n})"
        out = _call(what, fn, c, n)
        if type(out) is Fraction:  # exact, and read as a float
            out = _call(f"float() of the Fraction {what} returned", float, out)
        seen[what] = observe(out)


def _p_value(what: str, rec: dict[str, Any]) -> float:
    """The learner's p-value from its record: a Python float (or int), finite."""
    if rec["type"] == "Tensor":
        precision = (" (and float32 keeps only about 7 digits, too few for a p-value exact to 1e-9)"
                     if rec["dtype"] in ("torch.float32", "torch.float16", "torch.bfloat16") else "")
        raise CheckFailed(f"{what} should return a Python float, but returned a torch.Tensor of dtype {rec['dtype']}{precision}")
    value = _number(what, rec)
    if math.isnan(value):
        raise CheckFailed(f"{what} is NaN: a p-value is a share of the 2^n equally likely outcomes")
    return value


@two_sided_p_value.judge
def _judge_two_sided_p_value(seen: Observed) -> str:
    outs = []
    for c, n in _P_CASES:
        what = f"two_sided_p_value({c}, {n})"
        try:
            rec = seen[what]
        except CheckFailed as failure:
            raise _with_advice(failure, _P_ERRORS) from None
        outs.append(_p_value(what, rec))
    truths = [_two_sided(c, n) for c, n in _P_CASES]
    if all(_relative(o, t) <= 1e-9 for o, t in zip(outs, truths)):
        return "P(|X - n/2| >= |correct - n/2|) for X ~ Binomial(n, 1/2), exact for n up to 600, on both sides of n/2"
    for slip, advice in _P_SLIPS:
        if all(_relative(o, slip(c, n)) <= 1e-6 or abs(o - slip(c, n)) <= 1e-12 for o, (c, n) in zip(outs, _P_CASES)):
            raise CheckFailed(advice)
    bad = [(o, t, cn) for o, t, cn in zip(outs, truths, _P_CASES) if _relative(o, t) > 1e-9]
    o, t, (c, n) = bad[0]
    if any(not -1e-6 <= o <= 1 + 1e-6 for o, _, _ in bad):
        o, t, (c, n) = next(b for b in bad if not -1e-6 <= b[0] <= 1 + 1e-6)
        raise CheckFailed(f"two_sided_p_value({c}, {n}) returned {o:.4g}, which is no probability: a share of the 2^n equally likely "
                          "outcomes lies between 0 and 1 (is an outcome counted twice, or not divided by the number of outcomes?)")
    if all(abs(o - t) < 1e-13 for o, t, _ in bad):
        raise CheckFailed(
            f"two_sided_p_value({c}, {n}) returned {o:.10g}, but the exact value is {t:.10g}: a float holds about 16 digits of a number "
            "near 1, so 1 minus the rest leaves almost none of a p-value this small; add up the far outcomes themselves"
        )
    central = [_relative(o, t) for o, t, (c_, n_) in zip(outs, truths, _P_CASES) if n_ <= 101 and t > 0.01]  # where approximations are close
    if max(central) < 1e-4 and all(_relative(o, t) < 1e-2 for o, t, _ in bad):
        raise CheckFailed(
            f"two_sided_p_value({c}, {n}) returned {o:.10g}, close to the exact {t:.10g} but not equal (relative error {_relative(o, t):.1g}): "
            "float32 keeps only about 7 digits; exact integers keep every digit until the one division"
        )
    if 1e-4 <= max(central) < 0.2:
        raise CheckFailed(f"two_sided_p_value({c}, {n}) returned {o:.4g}, near the exact {t:.4g} but not equal: that looks like an "
                          "approximation; the p-value asked for is exact")
    raise CheckFailed(f"two_sided_p_value({c}, {n}) returned {o:.4g}, expected {t:.4g}: the chance that a coin flipper's count lies at "
                      f"least as far from {n}/2 as {c} does, on either side")


# --------------------------------------------------------------------------- 11.4 flagging possible copies, relative rule


def _copy_cases() -> list[tuple[torch.Tensor, int, float]]:
    """(dist (N, M), n, alpha): multiples of 1/64 where a threshold must be exact (ties at the threshold included), then random rows."""
    a = torch.tensor([
        [0.0, 2.0, 2.0, 2.0, 3.0, 4.0],  # an exact copy: flagged
        [1.25, 0.5, 1.0, 1.25, 3.0, 3.0],  # nearest 0.5 = 0.5 x the mean of the 4 nearest, 1.0: at the threshold, not flagged
        [1.0, 1.25, 1.5, 1.25, 1.0, 1.5],  # no training example stands out: not flagged
        [3.5, 0.75, 0.5, 0.75, 0.75, 3.5],  # 0.5 against a mean of 0.6875: not flagged (the mean of the 2nd to 5th would flag it)
        [4.0, 0.75, 2.0, 0.75, 4.0, 0.75],  # three at 0.75: not flagged (the 4th nearest alone would flag it)
    ])
    b = torch.tensor([
        [3.0, 0.25, 4.0, 1.0, 3.5, 4.5, 5.0, 3.0],  # 0.25 against a mean of 0.625, alpha 0.75: flagged
        [1.0, 3.0, 0.625, 4.0, 3.5, 4.5, 5.0, 3.0],  # 0.625 against 0.8125 x 0.75 = 0.609375: not flagged
        [3.0, 4.0, 3.5, 1.25, 0.75, 4.5, 5.0, 3.0],  # 0.75 against 1.0 x 0.75: at the threshold, not flagged
        [1.5, 3.0, 4.0, 3.5, 1.5, 4.5, 5.0, 3.0],  # two at 1.5: not flagged
        [3.0, 4.0, 0.5, 3.5, 4.5, 0.0, 5.0, 3.0],  # a copy: flagged
        [3.0, 3.0, 4.0, 3.5, 4.5, 1.0, 5.0, 3.5],  # 1.0 against 2.0 x 0.75: flagged
        [1.0, 4.0, 1.0, 4.5, 5.0, 1.0, 3.0, 3.5],  # three at 1.0: not flagged (the mean of the whole row would flag it)
    ])
    g = torch.Generator().manual_seed(14)
    c = 1.0 + torch.rand(20, 30, generator=g)
    c[torch.arange(0, 20, 3), torch.randint(30, (7,), generator=g)] = 0.4 * torch.rand(7, generator=g) + 0.05  # one much nearer, or not
    return [(a, 4, 0.5), (b, 2, 0.75), (c, 5, 1 / 3)]


def _flags(d: torch.Tensor, n: int, alpha: float, *, op: str = "<", ref: str = "mean", skip: int = 0, extra: int = 0) -> torch.Tensor:
    """(N,) bool: the rule written right (the defaults) or one of the usual wrong ways."""
    s = d.double().sort(dim=1).values
    nearest = s[:, 0]
    group = s if ref == "all" else s[:, skip:n + extra]
    typical = group[:, -1] if ref == "nth" else group.mean(dim=1)
    threshold = alpha * typical
    return {"<": nearest < threshold, "<=": nearest <= threshold, ">": nearest > threshold, ">=": nearest >= threshold}[op]


_COPY_SLIPS: list[tuple[Callable[[torch.Tensor, int, float], torch.Tensor], str]] = [
    (lambda d, n, a: _flags(d, n, a, op="<="), "a sample whose nearest distance equals the threshold exactly is not flagged: only "
     "strictly nearer ones are"),
    (lambda d, n, a: _flags(d, n, a, op=">="), "you flagged the samples whose nearest training example does *not* stand out: copies "
     "are the ones whose nearest is much nearer than the others"),
    (lambda d, n, a: _flags(d, n, a, op=">"), "you flagged the samples whose nearest training example does *not* stand out: copies "
     "are the ones whose nearest is much nearer than the others"),
    (lambda d, n, a: _flags(d, n, a, skip=1, extra=1), "the mean runs over the n nearest training examples, the nearest one "
     "included, not over the n after it"),
    (lambda d, n, a: _flags(d, n, a, ref="all"), "the mean runs over each sample's n nearest training examples only, not over "
     "the whole training set"),
    (lambda d, n, a: _flags(d, n, a, ref="nth"), "you compared with the n-th nearest training example alone: the yardstick is "
     "the mean distance to the n nearest"),
    (lambda d, n, a: _flags(d, n, a, extra=1), "off by one: that is the mean of the n + 1 nearest training examples, not of the n nearest"),
    (lambda d, n, a: _flags(d, n, a, extra=-1), "off by one: that is the mean of the n - 1 nearest training examples, not of the n nearest"),
]

_COPY_ERRORS = [
    (("selected index k out of range", "out of range"), "each row of dist is one sample's distances to the training examples, and n is "
     "at most their number"),
]


def _copy_what(d: torch.Tensor, n: int, alpha: float) -> str:
    return f"flag_copies(dist, {n}, {alpha:.3g}) for dist of shape {tuple(d.shape)}"


@_exercise("11.4", "flagging copies by a relative distance")
def flag_copies(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(dist (N, M), n int, alpha float) -> (N,) bool: nearest distance < alpha x the mean of the n nearest, row by row."""
    for i, (d, n, a) in enumerate(_copy_cases()):
        given = d.clone()
        seen[f"flags{i}"] = observe(_call(_copy_what(d, n, a), fn, given, n, a))
        seen[f"edited{i}"] = _edited([("dist", given, d)])


@flag_copies.judge
def _judge_flag_copies(seen: Observed) -> str:
    cases = _copy_cases()
    outs = []
    for i, (d, n, a) in enumerate(cases):
        what, rows = _copy_what(d, n, a), d.shape[0]
        try:
            rec = seen[f"flags{i}"]
        except CheckFailed as failure:
            raise _with_advice(failure, _COPY_ERRORS) from None
        _unchanged(what, seen[f"edited{i}"], _EDITS)
        if rec["type"] == "Tensor" and rec["shape"] == [] or rec["type"] in (*_NUMBERS, "bool"):
            raise CheckFailed(f"{what} should return one flag per sample, a boolean tensor of shape ({rows},), not the share of flagged samples")
        if rec["type"] == "Tensor" and tuple(rec["shape"]) == (d.shape[1],):
            raise CheckFailed(f"{what} should return one flag per sample, shape ({rows},), but has shape ({d.shape[1]},), one per training "
                              "example: each *row* of dist is one sample")
        out = _tensor(what, rec, (rows,), dtype=None)
        if rec["dtype"] != "torch.bool":
            raise CheckFailed(f"{what} should be a boolean tensor (True = possible copy), but has dtype {rec['dtype']}: a flag, not a "
                              "ratio or a count")
        outs.append(out)
    if all(torch.equal(o, _flags(d, n, a)) for o, (d, n, a) in zip(outs, cases)):
        return "samples whose nearest training example is much nearer than their n nearest on average, ties at the threshold included"
    for slip, advice in _COPY_SLIPS:
        if all(torch.equal(o, slip(d, n, a)) for o, (d, n, a) in zip(outs, cases)):
            raise CheckFailed(advice)
    if all(bool(o.all()) for o in outs) or not any(bool(o.any()) for o in outs):
        raise CheckFailed(f"you flagged {'every' if outs[0].all() else 'no'} sample in every case, but some samples' nearest training "
                          "example stands out and some do not")
    i = next(i for i, (o, (d, n, a)) in enumerate(zip(outs, cases)) if not torch.equal(o, _flags(d, n, a)))
    d, n, a = cases[i]
    truth = _flags(d, n, a)
    j = int((outs[i] != truth).nonzero()[0])
    s = d.double().sort(dim=1).values[j]
    raise CheckFailed(
        f"{_copy_what(d, n, a)}: sample {j}, whose nearest training example is at {s[0].item():.4g} and whose {n} nearest are at "
        f"{s[:n].mean().item():.4g} on average, should {'' if truth[j] else 'not '}be flagged"
    )
