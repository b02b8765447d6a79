"""Exercise checks for lesson 11 (testing generative models): k-NN balls, class by class and for coverage.

11.1 the k-NN radii within each class ``knn_radii``, 11.2 k-NN precision and coverage
``precision_coverage``. Lessons call them through ``genai_course.checks``: ``checks.knn_radii(fn)``.
(11.3 and 11.4 are in ``audit``.) Each is a probe (``def name(fn, seen)``: runs the learner's code
on the cases below, records what came back) and a judge (``@name.judge``: from those records to the
verdict), see ``_protocol``.

Each judge computes the truth here in float64 on small sets whose distances are all different, so
that every usual slip gives another answer; when the learner's answer differs, it is compared with
those slips to say which it is. Sets stay at most 25 rows, where ``torch.cdist`` computes distances
exactly (a copy is at 0). The distance helpers are in ``_balls``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from ..utils import same
from ._balls import INF, covered, dist, radii
from ._protocol import CheckFailed, Observed, _call, _edited, _exercise, _number, _tensor, _unchanged, _with_advice
from .observations import observe

__all__ = ["knn_radii", "precision_coverage"]

_EDITS = "-=, sort_ or fill_diagonal_ on it"  # the in-place edits to suspect when an input changed


# --------------------------------------------------------------------------- 11.1 the k-NN radii within each class


def _radii_cases() -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """(x (N, D) float32, labels (N,) int64, k): classes of different sizes and names, exact duplicates within and across classes."""
    g = torch.Generator().manual_seed(11)
    a, b, c = torch.randn(8, 3, generator=g), torch.randn(10, 5, generator=g), torch.randn(9, 2, generator=g)
    c[4] = c[1]  # a duplicate within class 0: its radius is 0 when k = 1
    c[6] = c[2]  # a duplicate across classes: it must not count
    la = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1])
    lb = torch.tensor([7, 3, 3, 7, 5, 7, 5, 3, 7, 5])  # classes named 3, 5, 7 (sizes 3, 3, 4), in no order
    lc = torch.tensor([0, 2, 0, 2, 2, 0, 2, 0, 0])
    return [(a, la, 1), (b, lb, 2), (c, lc, 1), (c, lc, 2)]


def _radii_slips() -> list[tuple[Callable[[torch.Tensor, torch.Tensor, int], list[torch.Tensor]], str]]:
    """The radii written the usual wrong ways (each gives the outputs it might have), and what to say."""

    def farthest(x: torch.Tensor, y: torch.Tensor, k: int) -> list[torch.Tensor]:
        d = dist(x, x)
        d[y[:, None] != y[None, :]] = -1.0
        d.fill_diagonal_(-1.0)
        return [d.topk(k, dim=1).values[:, -1]]

    def mean_k(x: torch.Tensor, y: torch.Tensor, k: int) -> list[torch.Tensor]:
        d = dist(x, x)
        d[y[:, None] != y[None, :]] = INF
        return [d.fill_diagonal_(INF).sort(dim=1).values[:, :k].mean(dim=1)]

    return [
        (lambda x, y, k: [radii(x, k, y, own=True)],
         "each row counted itself as its own nearest neighbour (at distance 0), so with k = 1 a radius of 0: the row itself is "
         "no neighbour, only the other rows of its class are"),
        (lambda x, y, k: [radii(x, k)],
         "these radii reach rows of other classes: each row's neighbours are the rows with the same label only"),
        (lambda x, y, k: [radii(x, k, y, keep="other")],
         "these radii reach only rows of *other* classes: each row's neighbours are the other rows with the same label"),
        (lambda x, y, k: [radii(x, k, y, shift=1)],
         "off by one: that is the distance to the (k+1)-th nearest other row of the class, not the k-th (positions count from 1)"),
        (lambda x, y, k: [radii(x, k, y) ** 2],
         "these are squared distances: the radius is the Euclidean distance itself"),
        (farthest, "that is the distance to the k-th *farthest* row of the class: the radius reaches the k-th nearest one"),
        (mean_k, "that is the mean distance to the k nearest rows of the class: the radius is the distance to the k-th nearest alone"),
        (lambda x, y, k: [radii(x, k, y, p=1.0)],
         "these are Manhattan (L1) distances, sums of absolute differences: the radius is the Euclidean distance"),
        (lambda x, y, k: [radii(x, 1, y)],
         "that is each row's distance to its *nearest* other row of the class whatever k is (right only for k = 1): the "
         "radius reaches the k-th nearest"),
    ]


def _radii_what(x: torch.Tensor, k: int) -> str:
    return f"knn_radii(x, labels, {k}) for x of shape {tuple(x.shape)}"


def _points_at_kth(x: torch.Tensor, y: torch.Tensor, k: int, idx: torch.Tensor) -> bool:
    """Whether the integers ``idx`` (N,) are, row by row, the index of a k-th nearest other row of the class (ties either way)."""
    n = x.shape[0]
    if idx.shape != (n,) or idx.dtype == torch.bool or not bool(((idx >= 0) & (idx < n)).all()):
        return False
    idx = idx.long()
    return bool((idx != torch.arange(n)).all()) and same(dist(x, x).gather(1, idx[:, None])[:, 0], radii(x, k, y))


def _radii_output(what: str, rec: dict[str, Any], x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """The learner's radii (N,) from their record, or the failure that says what else came back."""
    n = x.shape[0]
    if rec["type"] in ("kthvalue", "topk", "sort", "min", "max"):
        raise CheckFailed(f"{what} returned torch's ({rec['type']}) pair of values and indices: the radii are the values alone")
    if rec["type"] == "Tensor" and len(rec["shape"]) == 2 and rec["shape"][0] == n:
        also = "; you returned each row's k nearest distances: the radius is the k-th alone" if rec["shape"][1] == k else ""
        raise CheckFailed(f"{what} should return one radius per row, shape ({n},), but has shape {tuple(rec['shape'])}{also}")
    if rec["type"] != "Tensor" or tuple(rec["shape"]) != (n,):
        _tensor(what, rec, (n,), dtype=None)  # raises: not a tensor, or the wrong shape
    out = rec["value"]
    if not isinstance(out, torch.Tensor) or out.shape != (n,):
        raise TypeError(f"{what}: the record's value does not match its shape")
    if not out.is_floating_point():
        if _points_at_kth(x, y, k, out):
            raise CheckFailed(f"{what} returned the *indices* of the k-th nearest rows: return the distances themselves")
        raise CheckFailed(f"{what} should hold distances as floats, but has dtype {rec['dtype']}")
    return out


_RADII_ERRORS = [
    (("selected index k out of range", "out of range"), "k runs from 1 (the nearest other row of the class) to the size of the smallest class minus 1"),
]


@_exercise("11.1", "the k-NN radii within each class")
def knn_radii(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(x (N, D), labels (N,) int, k int >= 1) -> (N,) float: each row's distance to its k-th nearest other row of the same label."""
    for i, (x, y, k) in enumerate(_radii_cases()):
        given = (x.clone(), y.clone())
        seen[f"radii{i}"] = observe(_call(_radii_what(x, k), fn, *given, k))
        seen[f"edited{i}"] = _edited([("x", given[0], x), ("labels", given[1], y)])


@knn_radii.judge
def _judge_knn_radii(seen: Observed) -> str:
    cases = _radii_cases()
    outs = []
    for i, (x, y, k) in enumerate(cases):
        what = _radii_what(x, k)
        try:
            rec = seen[f"radii{i}"]
        except CheckFailed as failure:
            raise _with_advice(failure, _RADII_ERRORS) from None
        _unchanged(what, seen[f"edited{i}"], _EDITS)
        outs.append(_radii_output(what, rec, x, y, k))
    truths = [radii(x, k, y) for x, y, k in cases]
    if all(same(out, t) for out, t in zip(outs, truths)):
        return "the distance to the k-th nearest other row of the same class, for k = 1 and 2, duplicates included"
    for slip, advice in _radii_slips():
        if all(any(same(out, cand) for cand in slip(x, y, k)) for out, (x, y, k) in zip(outs, cases)):
            raise CheckFailed(advice)
    if all(bool((out == 0).all()) for out in outs):
        raise CheckFailed("every radius is 0: each row's nearest row is itself, at distance 0; the row itself is no neighbour")
    i = next(i for i, (out, t) in enumerate(zip(outs, truths)) if not same(out, t))
    (x, y, k), out, truth = cases[i], outs[i], truths[i]
    if not torch.isfinite(out).all():
        raise CheckFailed(f"{_radii_what(x, k)} contains inf or NaN: every class here has more than k rows, so every radius is a "
                          "finite distance to a row of the same class")
    j = int(((out.double() - truth).abs() > 1e-5 * (1 + truth.abs())).nonzero()[0])
    if truth[j] == 0:
        raise CheckFailed(
            f"rows 1 and 4 of x are identical and of one class, so with k = {k} their radius is exactly 0, but you got "
            f"{out[j].item():.2g}: the |a|^2 - 2 a.b + |b|^2 shortcut loses precision; compute the differences themselves"
        )
    raise CheckFailed(
        f"{_radii_what(x, k)}: row {j}'s radius is {out[j].item():.4f}, expected {truth[j].item():.4f} (its Euclidean distance "
        f"to its k-th nearest other row with label {int(y[j])}, k = {k})"
    )


# --------------------------------------------------------------------------- 11.2 precision and coverage


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
    fake_c = real_c[2].repeat(4, 1)  # ... and a collapsed generator that copies it
    real_d, fake_d = torch.randn(9, 3, generator=g), 0.8 * torch.randn(13, 3, generator=g) - 0.3
    return [
        _SetsCase(real_a, fake_a, 3, "20 real and 15 generated points, k = 3"),
        _SetsCase(real_b, fake_b, 2, "16 real and 16 generated points, k = 2"),
        _SetsCase(real_c, fake_c, 1, "12 real points and a generator that repeats one of them 4 times, k = 1"),
        _SetsCase(real_d, fake_d, 1, "9 real and 13 generated points, k = 1"),
    ]


def _pr_truth(c: _SetsCase) -> tuple[float, float]:
    r = radii(c.real, c.k)
    return covered(c.fake, c.real, r), covered(c.real, c.fake, r, around="point")


def _side_slips(kind: str) -> list[tuple[Callable[[_SetsCase], float], str]]:
    """precision (generated points, real balls) or coverage (real examples whose own ball holds a generated point) gone wrong."""
    if kind == "precision":
        def prec(radii_kw: dict[str, Any] | None = None, **kw: Any) -> Callable[[_SetsCase], float]:
            return lambda c: covered(c.fake, c.real, radii(c.real, c.k, **(radii_kw or {})), **kw)
        return [
            (prec(strict=True), "a generated point exactly on the edge of a real ball, at distance = radius, counts as inside: with a "
             "strict comparison a generator that copies a real example seen twice covers nothing"),
            (prec(rule="mean"), "you averaged, for each generated point, the share of real balls it is in: a point counts (1) as soon "
             "as it lies in at least one ball"),
            (prec(rule="count"), "that is the number of generated points inside a ball, not their share"),
            (prec(rule="balls"), "that is the share of real balls that hold at least one generated point (that is coverage): precision "
             "is the share of *generated points* that lie in at least one real ball"),
            (lambda c: covered(c.fake, c.real, radii(c.fake, c.k), around="point"),
             "you used the radii of the generated set: precision's balls are the real examples', with the real set's own k-NN radii"),
            (prec({"own": True}), "the real radii counted each example as its own nearest neighbour (at 0): each ball reaches the "
             "k-th nearest *other* real example"),
            (prec({"shift": 1}), "the real radii are off by one: each reaches the (k+1)-th nearest other real example, not the k-th"),
        ]

    def cov(radii_kw: dict[str, Any] | None = None, **kw: Any) -> Callable[[_SetsCase], float]:
        return lambda c: covered(c.real, c.fake, radii(c.real, c.k, **(radii_kw or {})), around="point", **kw)

    return [
        (lambda c: covered(c.real, c.fake, radii(c.fake, c.k)),
         "that is the lesson's recall, with a ball around every generated point (a few far-off samples draw huge balls that "
         "cover much): coverage uses only the real examples' balls, and asks whether a generated point lies inside each"),
        (lambda c: covered(c.fake, c.real, radii(c.real, c.k)),
         "that is the precision again, the share of generated points inside some real ball: coverage is a share of the *real* "
         "examples, those whose own ball holds at least one generated point"),
        (cov(strict=True), "a generated point exactly on the edge of a real ball, at distance = radius, counts as inside: with a "
         "strict comparison the real example the collapsed generator copies is not covered"),
        (cov(rule="mean"), "you averaged, for each real example, the share of generated points inside its ball: a real example "
         "counts (1) as soon as its ball holds at least one"),
        (cov(rule="count"), "that is the number of real examples covered, not their share"),
        (cov({"own": True}), "the real radii counted each example as its own nearest neighbour (at 0): each ball reaches the "
         "k-th nearest *other* real example"),
        (cov({"shift": 1}), "the real radii are off by one: each reaches the (k+1)-th nearest other real example, not the k-th"),
    ]


def _pr_output(what: str, rec: dict[str, Any]) -> tuple[float, float]:
    """(precision, coverage) from the record of what the learner returned, or the failure that says what else came back."""
    if rec["type"] not in ("tuple", "list") or rec["length"] != 2:
        got = f"a {rec['type']}" + (f" of length {rec['length']}" if rec["type"] in ("tuple", "list") else "")
        raise CheckFailed(f"{what} should return two numbers, (precision, coverage), but returned {got}")
    return _number(f"the precision returned by {what}", rec["items"][0]), _number(f"the coverage returned by {what}", rec["items"][1])


_PR_ERRORS = [
    (("must match the size of tensor", "broadcast"),
     "each ball's radius goes with its own real example: N radii, lined up with the real examples' side of the distance matrix"),
    (("could not infer output dtype", "Bool"), "a mean needs numbers, not booleans"),
]


def _pr_what(c: _SetsCase) -> str:
    return f"precision_coverage(real, fake, {c.k}) on {c.name}"


@_exercise("11.2", "k-NN precision and coverage")
def precision_coverage(fn: Callable[..., tuple[float, float]], seen: dict) -> None:
    """fn(real (N, D), fake (M, D), k int) -> (precision, coverage), two floats (or 0-dim tensors) in [0, 1]."""
    for i, c in enumerate(_pr_cases()):
        given = (c.real.clone(), c.fake.clone())
        out = _call(_pr_what(c), fn, *given, c.k)
        if type(out) is not tuple and isinstance(out, tuple):  # a named tuple: its items, read as a plain tuple's
            out = tuple.__getitem__(out, slice(None))
        seen[f"pr{i}"] = observe(out)
        seen[f"edited{i}"] = _edited([("real examples", given[0], c.real), ("generated examples", given[1], c.fake)])


@precision_coverage.judge
def _judge_precision_coverage(seen: Observed) -> str:
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
        return "precision, and coverage (Naeem et al., 2020), collapsed generator included"
    if all(close(o[0], t[1]) and close(o[1], t[0]) for o, t in zip(outs, truths)):
        raise CheckFailed("precision and coverage are swapped: the first number is the share of generated points, the second of real examples")
    problems = []
    for i, kind in enumerate(("precision", "coverage")):
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
                problems.append(f"{kind} is {got[0]:.3f} on every pair of sets, whatever the points ({kind} on {cases[j].name} "
                                f"should be {truths[j][i]:.3f})")
                continue
            share = "generated points inside at least one real ball" if kind == "precision" else "real examples whose own ball holds a generated point"
            problems.append(f"{kind} on {cases[j].name} is {got[j]:.3f}, expected {truths[j][i]:.3f} (the share of {share})")
    raise CheckFailed("; ".join(problems))
