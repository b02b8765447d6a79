"""Exercise checks for lesson 11 (testing generative models): k-NN precision and recall.

11.1 the k-NN radii ``knn_radii``, 11.2 k-NN precision and recall ``precision_recall``. Lessons
call them through ``genai_course.checks``: ``checks.knn_radii(fn)``. (11.3 and 11.4 are in
``audit``.) Each is a probe (``def name(fn, seen)``: runs the learner's code on the cases below,
records what came back) and a judge (``@name.judge``: from those records to the verdict), see
``_protocol``.

Each judge computes the truth here in float64 (the formulas of ``metrics``, which the tests hold
it to) on small sets whose distances are all different, so that every usual slip gives another
answer; when the learner's answer differs, it is compared with those slips to say which it is.
Sets stay at most 25 rows, where ``torch.cdist`` computes distances exactly (a copy is at 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..utils import same
from ._protocol import CheckFailed, Observed, _call, _edited, _exercise, _number, _tensor, _unchanged, _with_advice
from .observations import observe

__all__ = ["knn_radii", "precision_recall"]

_EDITS = "-=, sort_ or fill_diagonal_ on it"  # the in-place edits to suspect when an input changed

_INF = float("inf")


def _dist(a: torch.Tensor, b: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    """Exact distances (A, B) in float64 (no matrix-product shortcut: a copy is at 0)."""
    return torch.cdist(a.double(), b.double(), p=p, compute_mode="donot_use_mm_for_euclid_dist")


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
         "with k = 1, radii of 0: leave the row itself out (its 0 on the diagonal of the distance matrix must never be picked) "
         "before taking the k-th smallest"),
        (lambda x, k: [_radii(x, k, shift=1)],
         "off by one: that is the distance to the (k+1)-th nearest other row; once the row itself is left out, "
         "the radius is the k-th smallest of each row, not the (k+1)-th (count positions from 1, indices from 0)"),
        (lambda x, k: [_radii(x, k) ** 2],
         "these are squared distances: the radius is the Euclidean distance itself (take the square root, or use torch.cdist)"),
        (lambda x, k: [_dist(x, x).topk(k, dim=1).values[:, -1], masked(x).nan_to_num(posinf=-1.0).topk(k, dim=1).values[:, -1]],
         "that is the distance to the k-th *farthest* row: the radius reaches the k-th nearest one (sort in increasing order, "
         "or torch.topk(..., largest=False))"),
        (rows_sorted,
         "you returned the sorted distances from one row to every row, not one radius per row: take the k-th smallest *in each "
         "row*, sorting along dim=1 once the row itself is left out"),
        (lambda x, k: [masked(x).sort(dim=1).values[:, :k].mean(dim=1)],
         "that is the mean distance to the k nearest rows: the radius is the distance to the k-th nearest alone"),
        (lambda x, k: [_radii(x, k, p=1.0)],
         "these are Manhattan (L1) distances: the radius is the Euclidean distance (the square root of the sum of squared differences)"),
        (lambda x, k: [_radii(x, 1)],
         "that is each row's distance to its *nearest* other row whatever k is (right only for k = 1): the radius reaches the k-th "
         "nearest"),
    ]


def _radii_what(x: torch.Tensor, k: int) -> str:
    return f"knn_radii(x, {k}) for x of shape {tuple(x.shape)}"


def _points_at_kth(x: torch.Tensor, k: int, idx: torch.Tensor) -> bool:
    """Whether the integers ``idx`` (N,) are, row by row, the index of a k-th nearest other row (ties either way)."""
    n = x.shape[0]
    if idx.shape != (n,) or idx.dtype == torch.bool or not bool(((idx >= 0) & (idx < n)).all()):
        return False
    idx = idx.long()
    return bool((idx != torch.arange(n)).all()) and same(_dist(x, x).gather(1, idx[:, None])[:, 0], _radii(x, k))


def _radii_output(what: str, rec: dict[str, Any], x: torch.Tensor, k: int) -> torch.Tensor:
    """The learner's radii (N,) from their record, or the failure that says what else came back."""
    n = x.shape[0]
    if rec["type"] in ("kthvalue", "topk", "sort", "min", "max"):
        raise CheckFailed(f"{what} returned torch's ({rec['type']}) pair of values and indices: return its .values")
    if rec["type"] == "Tensor" and len(rec["shape"]) == 2 and rec["shape"][0] == n:
        also = "; you returned each row's k nearest distances: keep only the k-th, the last" if rec["shape"][1] == k else ""
        raise CheckFailed(f"{what} should return one radius per row, shape ({n},), but has shape {tuple(rec['shape'])}{also}")
    if rec["type"] != "Tensor" or tuple(rec["shape"]) != (n,):
        _tensor(what, rec, (n,), dtype=None)  # raises: not a tensor, or the wrong shape
    out = rec["value"]
    if not isinstance(out, torch.Tensor) or out.shape != (n,):
        raise TypeError(f"{what}: the record's value does not match its shape")
    if not out.is_floating_point():
        if _points_at_kth(x, k, out):
            raise CheckFailed(f"{what} returned the *indices* of the k-th nearest rows (.indices): return the distances "
                              "themselves (the .values part of the result)")
        raise CheckFailed(f"{what} should hold distances as floats, but has dtype {rec['dtype']}")
    return out


_RADII_ERRORS = [
    (("selected index k out of range", "out of range"), "k runs from 1 (the nearest other row) to N - 1"),
]


@_exercise("11.1", "the k-NN radii")
def knn_radii(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(x (N, D), k int >= 1) -> (N,) float: each row's Euclidean distance to its k-th nearest *other* row."""
    for i, (x, k) in enumerate(_radii_cases()):
        given = x.clone()
        seen[f"radii{i}"] = observe(_call(_radii_what(x, k), fn, given, k))
        seen[f"edited{i}"] = _edited([("x", given, x)])


@knn_radii.judge
def _judge_knn_radii(seen: Observed) -> str:
    cases = _radii_cases()
    outs = []
    for i, (x, k) in enumerate(cases):
        what = _radii_what(x, k)
        try:
            rec = seen[f"radii{i}"]
        except CheckFailed as failure:
            raise _with_advice(failure, _RADII_ERRORS) from None
        _unchanged(what, seen[f"edited{i}"], _EDITS)
        outs.append(_radii_output(what, rec, x, k))
    if all(same(out, _radii(x, k)) for out, (x, k) in zip(outs, cases)):
        return "the distance to the k-th nearest other row, for k = 1 and 3 and with duplicate rows"
    for slip, advice in _radii_slips():
        if all(any(same(out, cand) for cand in slip(x, k)) for out, (x, k) in zip(outs, cases)):
            raise CheckFailed(advice)
    if all(bool((out == 0).all()) for out in outs):
        raise CheckFailed(
            "every radius is 0: each row's nearest row is itself, at distance 0 on the diagonal of the distance matrix; leave the row "
            "itself out, then take the k-th smallest of each row"
        )
    i = next(i for i, (out, (x, k)) in enumerate(zip(outs, cases)) if not same(out, _radii(x, k)))
    (x, k), out, truth = cases[i], outs[i], _radii(cases[i][0], cases[i][1])
    if not torch.isfinite(out).all():
        raise CheckFailed(f"knn_radii(x, {k}) contains inf or NaN: with the diagonal set to inf, take the k-th *smallest* of each row (k < N)")
    j = int(((out.double() - truth).abs() > 1e-5 * (1 + truth.abs())).nonzero()[0])
    if truth[j] == 0:
        raise CheckFailed(
            f"rows 1 and 4 of x are identical, so with k = {k} their radius is exactly 0, but you got {out[j].item():.2g}: the "
            "|a|^2 - 2 a.b + |b|^2 shortcut loses precision; compute the differences themselves, or read torch.cdist's "
            "compute_mode argument"
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
    if rule == "balls":  # the share of balls that hold at least one point
        return float(inside.any(dim=0).double().mean())
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
        (covered(rule="balls"),
         f"that is the share of {balls} balls that hold at least one {points} point: {kind} is the share of *{points} points* that "
         f"lie in at least one {balls} ball, so .any(dim=...) runs over the {balls} examples (the other dim of the distance matrix)"),
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


def _pr_output(what: str, rec: dict[str, Any]) -> tuple[float, float]:
    """(precision, recall) from the record of what the learner returned, or the failure that says what else came back."""
    if rec["type"] not in ("tuple", "list") or rec["length"] != 2:
        got = f"a {rec['type']}" + (f" of length {rec['length']}" if rec["type"] in ("tuple", "list") else "")
        raise CheckFailed(f"{what} should return two numbers, (precision, recall), but returned {got}")
    p = _number(f"the precision returned by {what}", rec["items"][0])
    r = _number(f"the recall returned by {what}", rec["items"][1])
    return p, r


_PR_ERRORS = [
    (("must match the size of tensor", "broadcast"),
     "each ball's radius goes with its own centre: the real examples' radii (N,) with the real examples for precision, "
     "the generated examples' radii (M,) with the generated ones for recall"),
    (("could not infer output dtype", "Bool"), "turn the booleans into numbers before averaging: inside.float().mean()"),
]


def _pr_what(c: _SetsCase) -> str:
    return f"precision_recall(real, fake, {c.k}) on {c.name}"


@_exercise("11.2", "k-NN precision and recall")
def precision_recall(fn: Callable[..., tuple[float, float]], seen: dict) -> None:
    """fn(real (N, D), fake (M, D), k int) -> (precision, recall), two floats (or 0-dim tensors) in [0, 1]."""
    from ..metrics.samples import PrecisionRecall

    for i, c in enumerate(_pr_cases()):
        given = (c.real.clone(), c.fake.clone())
        out = _call(_pr_what(c), fn, *given, c.k)
        if type(out) is PrecisionRecall:  # the library's report: its two numbers
            out = (out.precision, out.recall)
        elif type(out) is not tuple and issubclass(type(out), tuple):  # a named tuple: its items, read as a plain tuple's
            out = tuple.__getitem__(out, slice(None))
        seen[f"pr{i}"] = observe(out)
        seen[f"edited{i}"] = _edited([("real examples", given[0], c.real), ("generated examples", given[1], c.fake)])


@precision_recall.judge
def _judge_precision_recall(seen: Observed) -> str:
    cases = _pr_cases()
    outs = []
    for i, c in enumerate(cases):
        what = _pr_what(c)
        try:
            rec = seen[f"pr{i}"]
        except CheckFailed as failure:
            raise _with_advice(failure, _PR_ERRORS) from None
        _unchanged(what, seen[f"edited{i}"], _EDITS)
        outs.append(_pr_output(what, rec))
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
            if len(set(got)) == 1 and len({t[i] for t in truths}) > 1:
                problems.append(f"{kind} is {got[0]:.3f} on every pair of sets, whatever the points: it should be the share of examples "
                                f"inside the balls ({kind} on {cases[j].name} is {got[j]:.3f}, expected {truths[j][i]:.3f})")
                continue
            points, balls = ("generated", "real") if kind == "precision" else ("real", "generated")
            problems.append(
                f"{kind} on {cases[j].name} is {got[j]:.3f}, expected {truths[j][i]:.3f}: the share of {points} examples p with "
                f"|p - c| <= radius(c) for at least one {balls} example c, radius(c) = c's distance to its k-th nearest other {balls} example"
            )
    raise CheckFailed("; ".join(problems))
