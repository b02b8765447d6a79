"""Exercise checks for lesson 11 (testing generative models).

11.1 the k-NN radii ``knn_radii``, 11.2 k-NN precision and recall ``precision_recall``, 11.3 the
two-sample test's exact p-value ``binomial_p_value``, 11.4 the memorization audit's copy flags
``flag_copies``. They follow the protocol of ``checks`` (pass / not attempted / one-line
``CheckFailed``), which re-exports them: lessons call ``checks.knn_radii(fn)``. Import them
through ``genai_course.checks`` (this module needs ``checks`` loaded first).

Each check computes the truth here in float64 (the formulas of ``metrics``, which the tests hold
it to) on small sets whose distances are all different, so that every usual slip gives another
answer; when the learner's answer differs, it is compared with those slips to say which it is.
Sets stay at most 25 rows, where ``torch.cdist`` computes distances exactly (a copy is at 0).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

import torch

from .checks import CheckFailed, _call, _exercise, _tensor, _unchanged, _with_advice

__all__ = ["knn_radii", "precision_recall", "binomial_p_value", "flag_copies"]

_EDITS = "-=, sort_ or fill_diagonal_ on it"  # the in-place edits to suspect when an input changed

_INF = float("inf")


def _dist(a: torch.Tensor, b: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Exact distances (A, B) in float64 (no matrix-product shortcut: a copy is at 0)."""
    return torch.cdist(a.double(), b.double(), p=p, compute_mode="donot_use_mm_for_euclid_dist")


def _same(a: torch.Tensor, b: torch.Tensor | None, tol: float = 1e-5) -> bool:
    """Equal up to ``tol``, inf where the other has inf."""
    if b is None or a.shape != b.shape:
        return False
    return bool(torch.allclose(a.double(), b.double(), atol=tol, rtol=tol))


def _number(what: str, out: Any) -> float:
    """A Python number or a one-element tensor, as a float."""
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        return float(out.detach())
    if isinstance(out, numbers.Real) and not isinstance(out, bool):
        return float(out)
    if isinstance(out, bool):
        raise CheckFailed(f"{what} should be a number, but is the boolean {out}")
    shape = f" of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else ""
    raise CheckFailed(f"{what} should be a single number, but is a {type(out).__name__}{shape}")


# --------------------------------------------------------------------------- 11.1 the k-NN radii


def _radii_cases() -> list[tuple[torch.Tensor, int]]:
    """(x (N, D) float32, k): random rows (all distances differ), k = 1 and 3, and a set whose rows 1 and 4 are identical."""
    g = torch.Generator().manual_seed(11)
    a, b, c = torch.randn(8, 3, generator=g), torch.randn(10, 5, generator=g), torch.randn(7, 2, generator=g)
    c[4] = c[1]  # an exact duplicate: its radius is 0 when k = 1
    return [(a, 1), (b, 3), (c, 1), (c, 2)]


def _radii(x: torch.Tensor, k: int, *, own: bool = False, shift: int = 0, p: float = 2.0) -> torch.Tensor:
    """(N,) float64: distance to the (k + shift)-th nearest other row; own=True counts the row itself (at 0)."""
    d = _dist(x, x, p)
    if not own:
        d.fill_diagonal_(_INF)
    return d.kthvalue(k + shift, dim=1).values


def _radii_slips() -> list[tuple[Callable[[torch.Tensor, int], list[torch.Tensor]], str]]:
    """The k-NN radii written the usual wrong ways (each gives the outputs it might have), and what to say."""

    def rows_sorted(x: torch.Tensor, k: int) -> list[torch.Tensor]:  # one row's sorted distances, for either way of leaving itself out
        outs = []
        for own in (True, False):
            d = _dist(x, x)
            if not own:
                d.fill_diagonal_(_INF)
            outs += [d.sort(dim=1).values[k - 1], d.sort(dim=1).values[k]]
        return outs

    def masked(x: torch.Tensor) -> torch.Tensor:
        d = _dist(x, x)
        return d.fill_diagonal_(_INF)

    return [
        (lambda x, k: [_radii(x, k, own=True)],
         "each row counted itself as its own nearest neighbour (at distance 0), so you got the (k-1)-th nearest other row and, "
         "with k = 1, radii of 0: leave the row itself out, e.g. set the diagonal of the distance matrix to inf "
         "(d.fill_diagonal_(float('inf'))) before taking the k-th smallest"),
        (lambda x, k: [_radii(x, k, shift=1)],
         "off by one: that is the distance to the (k+1)-th nearest other row; once the row itself is left out, "
         "the k-th smallest of each row is d.kthvalue(k, dim=1).values (or d.sort(dim=1).values[:, k - 1])"),
        (lambda x, k: [_radii(x, k) ** 2],
         "these are squared distances: the radius is the Euclidean distance itself (take the square root, or use torch.cdist)"),
        (lambda x, k: [_dist(x, x).topk(k, dim=1).values[:, -1], masked(x).nan_to_num(posinf=-1.0).topk(k, dim=1).values[:, -1]],
         "that is the distance to the k-th *farthest* row: the radius reaches the k-th nearest one (sort in increasing order, "
         "or torch.topk(..., largest=False))"),
        (rows_sorted,
         "you returned the sorted distances from one row to every row, not one radius per row: take the k-th smallest *in each "
         "row*, sorting along dim=1 (d.kthvalue(k, dim=1).values, or d.sort(dim=1).values[:, k - 1], once the row itself is left out)"),
        (lambda x, k: [masked(x).sort(dim=1).values[:, :k].mean(dim=1)],
         "that is the mean distance to the k nearest rows: the radius is the distance to the k-th nearest alone"),
        (lambda x, k: [_radii(x, k, p=1.0)],
         "these are Manhattan (L1) distances: use Euclidean ones, torch.cdist(x, x) or (x[:, None] - x[None]).norm(dim=-1)"),
    ]


def _radii_output(what: str, out: Any, n: int, k: int) -> torch.Tensor:
    if type(out).__name__ in ("kthvalue", "topk", "sort", "min", "max"):
        raise CheckFailed(f"{what} returned torch's ({type(out).__name__}) pair of values and indices: return its .values")
    if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[0] == n:
        also = "; you returned each row's k nearest distances: keep only the k-th, the last" if out.shape[1] == k else ""
        raise CheckFailed(f"{what} should return one radius per row, shape ({n},), but has shape {tuple(out.shape)}{also}")
    out = _tensor(what, out, (n,), dtype=None) if not isinstance(out, torch.Tensor) or out.shape != (n,) else out
    if not out.is_floating_point():
        raise CheckFailed(f"{what} should hold distances as floats, but has dtype {out.dtype}")
    return out.detach()


_RADII_ERRORS = [
    (("selected index k out of range", "out of range"), "k runs from 1 (the nearest other row) to N - 1"),
]


@_exercise("11.1", "the k-NN radii")
def knn_radii(fn: Callable[..., torch.Tensor]) -> str:
    """fn(x (N, D), k int >= 1) -> (N,) float: each row's Euclidean distance to its k-th nearest *other* row."""
    cases = _radii_cases()
    outs = []
    for x, k in cases:
        what = f"knn_radii(x, {k}) for x of shape {tuple(x.shape)}"
        given = x.clone()
        try:
            out = _call(what, fn, given, k)
        except CheckFailed as failure:
            raise _with_advice(failure, _RADII_ERRORS) from None
        _unchanged(what, [("x", given, x)], _EDITS)
        outs.append(_radii_output(what, out, x.shape[0], k))
    if all(_same(out, _radii(x, k)) for out, (x, k) in zip(outs, cases)):
        return "the distance to the k-th nearest other row, for k = 1 and 3 and with duplicate rows"
    for slip, advice in _radii_slips():
        if all(any(_same(out, cand) for cand in slip(x, k)) for out, (x, k) in zip(outs, cases)):
            raise CheckFailed(advice)
    i = next(i for i, (out, (x, k)) in enumerate(zip(outs, cases)) if not _same(out, _radii(x, k)))
    (x, k), out, truth = cases[i], outs[i], _radii(cases[i][0], cases[i][1])
    if not torch.isfinite(out).all():
        raise CheckFailed(f"knn_radii(x, {k}) contains inf or NaN: with the diagonal set to inf, take the k-th *smallest* of each row (k < N)")
    j = int(((out.double() - truth).abs() > 1e-5 * (1 + truth.abs())).nonzero()[0])
    if truth[j] == 0:
        raise CheckFailed(
            f"rows 1 and 4 of x are identical, so with k = {k} their radius is exactly 0, but you got {out[j].item():.2g}: the "
            "|a|^2 - 2 a.b + |b|^2 shortcut loses precision; use (x[:, None] - x[None]).norm(dim=-1) or "
            "torch.cdist(x, x, compute_mode='donot_use_mm_for_euclid_dist')"
        )
    raise CheckFailed(
        f"knn_radii(x, {k}) for x of shape {tuple(x.shape)}: row {j}'s radius is {out[j].item():.4f}, expected {truth[j].item():.4f} "
        f"(its Euclidean distance to its k-th nearest other row, k = {k})"
    )


# --------------------------------------------------------------------------- 11.2 precision and recall


@dataclass
class _SetsCase:
    real: torch.Tensor  # (N, D) float32
    fake: torch.Tensor  # (M, D) float32
    k: int
    name: str


def _pr_cases() -> list[_SetsCase]:
    g = torch.Generator().manual_seed(12)
    real_a = torch.randn(20, 2, generator=g)
    fake_a = torch.cat([0.7 * torch.randn(10, 2, generator=g) + 0.5, torch.randn(5, 2, generator=g) + 4.0])  # part of the data, and 5 far off
    real_b, fake_b = torch.randn(16, 4, generator=g), 1.6 * torch.randn(16, 4, generator=g)  # too spread out
    real_c = torch.randn(12, 3, generator=g)
    real_c[5] = real_c[2]  # a real example seen twice (its radius is 0 for k = 1) ...
    fake_c = real_c[2].repeat(4, 1)  # ... and a collapsed generator that copies it: every fake radius is 0
    real_d, fake_d = torch.randn(9, 3, generator=g), 0.8 * torch.randn(13, 3, generator=g) - 0.3
    return [
        _SetsCase(real_a, fake_a, 3, "20 real and 15 generated points, k = 3"),
        _SetsCase(real_b, fake_b, 2, "16 real and 16 generated points, k = 2"),
        _SetsCase(real_c, fake_c, 1, "12 real points and a generator that repeats one of them 4 times, k = 1"),
        _SetsCase(real_d, fake_d, 1, "9 real and 13 generated points, k = 1"),
    ]


def _covered(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, *, rule: str = "any", strict: bool = False,
             around: str = "centre") -> float:
    """Share of ``points`` inside a ball of ``centres`` (radius ``radii``, one per centre; around="point": one per point)."""
    d = _dist(points, centres)  # (P, C)
    reach = radii[None, :] if around == "centre" else radii[:, None]
    inside = d < reach if strict else d <= reach
    if rule == "any":
        return float(inside.any(dim=1).double().mean())
    if rule == "count":
        return float(inside.any(dim=1).double().sum())
    if rule == "nearest":  # only the nearest centre's ball
        return float(inside.gather(1, d.argmin(dim=1, keepdim=True)).double().mean())
    return float(inside.double().mean())  # "mean": the share of balls, averaged


def _pr_truth(c: _SetsCase) -> tuple[float, float]:
    precision = _covered(c.fake, c.real, _radii(c.real, c.k))
    recall = _covered(c.real, c.fake, _radii(c.fake, c.k))
    return precision, recall


def _side_slips(kind: str) -> list[tuple[Callable[[_SetsCase], float], str]]:
    """precision (kind="precision": fake points, real balls) or recall ("recall": real points, fake balls) written the usual wrong ways."""

    def sets(c: _SetsCase) -> tuple[torch.Tensor, torch.Tensor]:
        return (c.fake, c.real) if kind == "precision" else (c.real, c.fake)  # (points, centres)

    def around_point(c: _SetsCase) -> float:
        points, centres = sets(c)
        return _covered(points, centres, _radii(points, c.k), around="point")

    def cross(c: _SetsCase) -> float:
        points, centres = sets(c)
        return _covered(points, centres, _dist(centres, points).kthvalue(c.k, dim=1).values)

    points, balls = ("generated", "real") if kind == "precision" else ("real", "generated")

    def covered(rule: str = "any", strict: bool = False, radii: dict[str, Any] | None = None) -> Callable[[_SetsCase], float]:
        def f(c: _SetsCase) -> float:
            p, centres = sets(c)
            return _covered(p, centres, _radii(centres, c.k, **(radii or {})), rule=rule, strict=strict)
        return f

    return [
        (covered(strict=True),
         f"a {points} point exactly on the edge of a {balls} ball, at distance = radius, counts as inside (<=, not <): with <, a "
         "collapsed generator whose samples are all identical (radius 0) covers nothing, not even the real example it copies"),
        (covered(rule="nearest"),
         f"a {points} point counts if it lies inside *any* {balls} example's ball, not only its nearest {balls} example's "
         "(a large ball farther away may reach it): use .any(dim=...) over all the balls"),
        (covered(rule="mean"),
         f"you averaged the share of {balls} balls each {points} point is in: a point counts (1) if it lies in at least one ball, "
         "so take .any(dim=...) over the balls before the mean over the points"),
        (covered(rule="count"),
         f"that is the number of {points} points inside a ball, not their share: divide by the number of {points} points (.float().mean())"),
        (around_point,
         f"you used the radii of the {points} set: the balls are drawn around the {balls} examples, with the {balls} set's own "
         f"k-NN radii, and a {points} point p counts if |p - c| <= radius(c) for some {balls} example c (not if |p - c| <= p's own radius)"),
        (cross,
         f"each {balls} example's radius is the distance to its k-th nearest other {balls} example (knn_radii of the {balls} set), "
         f"not to its k-th nearest {points} one"),
        (covered(radii={"own": True}),
         f"the {balls} radii counted each example as its own nearest neighbour (at 0): use the k-th nearest *other* example "
         "(your knn_radii from 11.1, or metrics.knn_radii)"),
        (covered(radii={"shift": 1}),
         f"the {balls} radii are off by one: each reaches the (k+1)-th nearest other example, not the k-th"),
    ]


def _pr_output(what: str, out: Any) -> tuple[float, float]:
    if hasattr(out, "precision") and hasattr(out, "recall"):  # the library's PrecisionRecall
        out = (out.precision, out.recall)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"a {type(out).__name__}" + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else "")
        raise CheckFailed(f"{what} should return two numbers, (precision, recall), but returned {got}")
    p = _number(f"the precision returned by {what}", out[0])
    r = _number(f"the recall returned by {what}", out[1])
    return p, r


_PR_ERRORS = [
    (("must match the size of tensor", "broadcast"),
     "each ball's radius goes with its own centre: the real examples' radii (N,) with the real examples for precision, "
     "the generated examples' radii (M,) with the generated ones for recall"),
    (("could not infer output dtype", "Bool"), "turn the booleans into numbers before averaging: inside.float().mean()"),
]


@_exercise("11.2", "k-NN precision and recall")
def precision_recall(fn: Callable[..., tuple[float, float]]) -> str:
    """fn(real (N, D), fake (M, D), k int) -> (precision, recall), two floats (or 0-dim tensors) in [0, 1]."""
    cases = _pr_cases()
    outs = []
    for c in cases:
        what = f"precision_recall(real, fake, {c.k}) on {c.name}"
        given = (c.real.clone(), c.fake.clone())
        try:
            out = _call(what, fn, *given, c.k)
        except CheckFailed as failure:
            raise _with_advice(failure, _PR_ERRORS) from None
        _unchanged(what, [("real examples", given[0], c.real), ("generated examples", given[1], c.fake)], _EDITS)
        outs.append(_pr_output(what, out))
    truths = [_pr_truth(c) for c in cases]
    close = lambda a, b: abs(a - b) <= 1e-6  # noqa: E731  (shares of at most 20 examples)
    good = [[close(o[i], t[i]) for o, t in zip(outs, truths)] for i in (0, 1)]
    if all(good[0]) and all(good[1]):
        return "precision and recall as Kynkäänniemi et al. (2019), collapsed generator included"
    if all(close(o[0], t[1]) and close(o[1], t[0]) for o, t in zip(outs, truths)):
        raise CheckFailed(
            "precision and recall are swapped: precision is the share of *generated* examples inside some real example's ball "
            "(quality), recall the share of *real* examples inside some generated example's ball (coverage)"
        )
    problems = []
    for i, kind in enumerate(("precision", "recall")):
        if all(good[i]):
            continue
        got = [o[i] for o in outs]
        for slip, advice in _side_slips(kind):
            if all(close(g, slip(c)) for g, c in zip(got, cases)):
                problems.append(f"{kind}: {advice}")
                break
        else:
            j = good[i].index(False)
            points, balls = ("generated", "real") if kind == "precision" else ("real", "generated")
            problems.append(
                f"{kind} on {cases[j].name} is {got[j]:.3f}, expected {truths[j][i]:.3f}: the share of {points} examples p with "
                f"|p - c| <= radius(c) for at least one {balls} example c, radius(c) = c's distance to its k-th nearest other {balls} example"
            )
    raise CheckFailed("; ".join(problems))


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
     "floats stop at about 1e308 and factorials pass it by n = 171: use math.comb(n, j), whose Python integers never overflow, "
     "and divide their sum by 2**n at the end"),
    (("cannot be interpreted as an integer",), "correct and n are whole numbers: range(correct, n + 1) runs over j = correct, ..., n"),
]


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


@_exercise("11.3", "the exact p-value")
def binomial_p_value(fn: Callable[[int, int], float]) -> str:
    """fn(correct int, n int) -> float: P(X >= correct) for X ~ Binomial(n, 1/2), to 1e-9 relative."""
    outs = []
    for c, n in _P_CASES:
        what = f"binomial_p_value({c}, {n})"
        try:
            out = _call(what, fn, c, n)
        except CheckFailed as failure:
            raise _with_advice(failure, _P_ERRORS) from None
        value = _number(what, out)
        if math.isnan(value):
            raise CheckFailed(f"{what} is NaN: sum C(n, j) / 2^n over j = correct, ..., n with math.comb and Python integers")
        outs.append(value)
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
    sample_b = torch.tensor([1.0, 1.1, 1.125, 1.2, 0.6, 1.5, 0.8, 2.0])
    held_c, sample_c = 1.0 + torch.rand(50, generator=g), 1.0 + 0.05 * torch.randn(20, generator=g)
    return [(sample_a, held_a, 0.1), (sample_b, held_b, 0.25), (sample_c, held_c, 0.01)]


def _flags(s: torch.Tensor, h: torch.Tensor, q: float, *, op: str = "<", source: str = "heldout", how: str = "linear") -> torch.Tensor:
    ref = (h if source == "heldout" else s).double()
    if how in ("int", "round"):
        sorted_ = ref.sort().values
        i = min(int(q * ref.numel()) if how == "int" else round(q * (ref.numel() - 1)), ref.numel() - 1)
        threshold = sorted_[i]
    else:
        threshold = torch.quantile(ref, q, interpolation=how)
    s = s.double()
    return {"<": s < threshold, "<=": s <= threshold, ">": s > threshold}[op]


_QUANTILE_HINT = "torch.quantile(heldout_dist, quantile) (it interpolates between the two nearest sorted values)"
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
    *[(lambda s, h, q, how=how: _flags(s, h, q, how=how),
       f"the threshold is not the quantile torch.quantile computes: use {_QUANTILE_HINT}")
      for how in ("int", "round", "lower", "higher", "nearest", "midpoint")],
]

_COPY_ERRORS = [
    (("q must be in the range", "quantile() q"), "quantile is a share, 0.01 for 1%, not a percentage"),
    (("must be either float or double", "input tensor must be"), "torch.quantile needs float distances"),
]


@_exercise("11.4", "flagging possible copies")
def flag_copies(fn: Callable[..., torch.Tensor]) -> str:
    """fn(sample_dist (N,), heldout_dist (M,), quantile float in (0, 1)) -> (N,) bool: sample_dist < torch.quantile(heldout_dist, quantile)."""
    cases = _copy_cases()
    outs = []
    for s, h, q in cases:
        what = f"flag_copies(sample_dist, heldout_dist, {q}) for {s.numel()} samples and {h.numel()} held-out distances"
        given = (s.clone(), h.clone())
        try:
            out = _call(what, fn, *given, q)
        except CheckFailed as failure:
            raise _with_advice(failure, _COPY_ERRORS) from None
        _unchanged(what, [("sample_dist", given[0], s), ("heldout_dist", given[1], h)], _EDITS)
        if isinstance(out, torch.Tensor) and out.dim() == 0 or isinstance(out, numbers.Real):
            raise CheckFailed(f"{what} should return one flag per sample, a boolean tensor of shape ({s.numel()},), not the share of flagged samples")
        out = _tensor(what, out, (s.numel(),), dtype=None)
        if out.dtype != torch.bool:
            raise CheckFailed(f"{what} should be a boolean tensor (True = possible copy), but has dtype {out.dtype}: return the comparison itself")
        outs.append(out)
    if all(torch.equal(o, _flags(s, h, q)) for o, (s, h, q) in zip(outs, cases)):
        return "samples nearer than the held-out distances' quantile, exact thresholds included"
    for slip, advice in _COPY_SLIPS:
        if all(torch.equal(o, slip(s, h, q)) for o, (s, h, q) in zip(outs, cases)):
            raise CheckFailed(advice)
    i = next(i for i, (o, (s, h, q)) in enumerate(zip(outs, cases)) if not torch.equal(o, _flags(s, h, q)))
    s, h, q = cases[i]
    truth = _flags(s, h, q)
    j = int((outs[i] != truth).nonzero()[0])
    threshold = float(torch.quantile(h.double(), q))
    raise CheckFailed(
        f"with quantile = {q}, the threshold is {threshold:.4g} and the sample at distance {s[j].item():.4g} should "
        f"{'' if truth[j] else 'not '}be flagged (sample_dist < {_QUANTILE_HINT})"
    )
