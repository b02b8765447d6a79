"""genai_course.checks.evaluation (lesson 11, 11.1 and 11.2): correct code passes, typical mistakes are named."""

from __future__ import annotations

from typing import NamedTuple

import pytest
import torch

from genai_course import metrics
from genai_course.checks import evaluation as evaluation_checks
from genai_course.utils import same
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def distances(a, b):
    return (a[:, None] - b[None]).norm(dim=-1)  # (A, B), exact: a copy is at 0


def knn_radii(x, k):
    d = torch.cdist(x, x)  # (N, N)
    d.fill_diagonal_(float("inf"))  # a row is not its own neighbour
    return d.kthvalue(k, dim=1).values


def knn_radii_by_sort(x, k):
    return distances(x, x).sort(dim=1).values[:, k]  # column 0 is the row itself, at 0


def knn_radii_by_topk(x, k):
    d = distances(x, x) + torch.diag(torch.full((x.shape[0],), float("inf")))
    return d.topk(k, dim=1, largest=False).values[:, -1]


def precision_recall(real, fake, k):
    d = torch.cdist(fake, real)  # (M, N)
    precision = (d <= knn_radii(real, k)[None, :]).any(dim=1).float().mean()
    recall = (d <= knn_radii(fake, k)[:, None]).any(dim=0).float().mean()
    return precision.item(), recall.item()


def precision_recall_by_library_radii(real, fake, k):
    d = distances(real, fake)  # (N, M), float32, against float64 radii
    precision = (d <= metrics.knn_radii(real, k)[:, None]).any(dim=0).double().mean()
    recall = (d <= metrics.knn_radii(fake, k)[None, :]).any(dim=1).double().mean()
    return precision, recall  # 0-dim tensors


def precision_recall_by_loops(real, fake, k):
    r_real, r_fake = knn_radii_by_sort(real, k), knn_radii_by_sort(fake, k)
    inside = [any(float((f - r).norm()) <= float(rr) for r, rr in zip(real, r_real)) for f in fake]
    covered = [any(float((r - f).norm()) <= float(rf) for f, rf in zip(fake, r_fake)) for r in real]
    return sum(inside) / len(inside), sum(covered) / len(covered)


class PR(NamedTuple):
    precision: float
    recall: float


CORRECT = {
    "knn_radii": [knn_radii, knn_radii_by_sort, knn_radii_by_topk, metrics.knn_radii],
    "precision_recall": [
        precision_recall,
        precision_recall_by_library_radii,
        precision_recall_by_loops,
        metrics.precision_recall,  # returns a PrecisionRecall: its .precision and .recall are read
        lambda real, fake, k: (metrics.precision_recall(real, fake, k).precision, metrics.precision_recall(real, fake, k).recall),
        lambda real, fake, k: PR(*precision_recall(real, fake, k)),  # a named tuple is a tuple
        lambda real, fake, k: list(precision_recall(real, fake, k)),
    ],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(evaluation_checks, {
        "knn_radii": "Exercise 11.1 (the k-NN radii)",
        "precision_recall": "Exercise 11.2 (k-NN precision and recall)",
    })
    assert list(CORRECT) == evaluation_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_the_library_agrees_with_the_references():
    """metrics.knn_radii and precision_recall are what the checks accept."""
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(40, 6, generator=g), 0.8 * torch.randn(30, 6, generator=g) + 0.2
    fake[3] = real[7]  # a copy
    for k in (1, 3):
        assert torch.allclose(metrics.knn_radii(real, k), knn_radii_by_sort(real, k).double(), atol=1e-6)
        report = metrics.precision_recall(real, fake, k)
        assert (report.precision, report.recall) == pytest.approx(precision_recall_by_loops(real, fake, k), abs=1e-9)


# --------------------------------------------------------------------------- typical mistakes: 11.1


def radii(*, own=False, shift=0, power=1, p=2.0, largest=False):
    """The k-NN radii written right (the defaults) or one of the usual wrong ways."""

    def fn(x, k):
        d = torch.cdist(x, x, p=p)
        if not own:
            d.fill_diagonal_(float("inf") if not largest else 0.0)
        if largest:
            return d.topk(k, dim=1).values[:, -1]
        return d.kthvalue(k + shift, dim=1).values ** power

    return fn


def knn_radii_along_dim_0(x, k):
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    return d.sort(dim=0).values[:, k - 1]  # column k - 1: one row's distances, sorted


def knn_radii_in_place(x, k):
    x -= x.mean(dim=0)  # distances do not change, but the caller's x does
    return knn_radii(x, k)


def knn_radii_by_matrix_product(x, k):
    sq = (x * x).sum(dim=1)
    d = (sq[:, None] - 2 * x @ x.T + sq[None, :]).clamp(min=0).sqrt()
    d.fill_diagonal_(float("inf"))
    return d.kthvalue(k, dim=1).values + 1e-3 * (d.kthvalue(k, dim=1).values == 0)  # what float32 rounding leaves of a 0


RADII_MISTAKES = [
    (radii(own=True), ["counted itself as its own nearest neighbour", "with k = 1, radii of 0", "leave the row itself out"]),
    (radii(shift=1), ["off by one", "(k+1)-th nearest other row"]),
    (radii(power=2), ["squared distances"]),
    (radii(largest=True), ["the k-th *farthest* row"]),
    (radii(own=True, largest=True), ["the k-th *farthest* row"]),
    (knn_radii_along_dim_0, ["the sorted distances from one row to every row", "sorting along dim=1"]),
    (lambda x, k: torch.cdist(x, x).sort(dim=1).values[k], ["the sorted distances from one row to every row"]),
    (lambda x, k: torch.cdist(x, x).fill_diagonal_(float("inf")).sort(dim=1).values[:, :k].mean(dim=1), ["the mean distance to the k nearest rows"]),
    (radii(p=1.0), ["Manhattan (L1) distances"]),
    (knn_radii_in_place, ["changed the x you were given", "in-place"]),
    (lambda x, k: torch.cdist(x, x).fill_diagonal_(float("inf")).kthvalue(k, dim=1), ["pair of values and indices", ".values"]),
    (lambda x, k: torch.cdist(x, x).fill_diagonal_(float("inf")).topk(k, dim=1, largest=False).values,
     ["one radius per row, shape (8,)", "has shape (8, 1)", "keep only the k-th, the last"]),
    (lambda x, k: torch.cdist(x, x), ["one radius per row, shape (8,)", "has shape (8, 8)"]),
    (lambda x, k: knn_radii(x, k).tolist(), ["should return a torch.Tensor, but returned list"]),
    (lambda x, k: knn_radii(x, k).long(), ["distances as floats", "torch.int64"]),
    (lambda x, k: torch.cdist(x, x).fill_diagonal_(float("inf")).kthvalue(k + 7, dim=1).values, ["raised RuntimeError", "k runs from 1"]),
    (lambda x, k: torch.cdist(x, x).fill_diagonal_(float("inf")).sort(dim=1).values[:, -k], ["contains inf or NaN"]),
    (knn_radii_by_matrix_product, ["rows 1 and 4 of x are identical", "exactly 0, but you got 0.001", "loses precision"]),
    (lambda x, k: torch.cdist(x, x).fill_diagonal_(float("inf")).kthvalue(k, dim=1).indices,
     ["returned the *indices* of the k-th nearest rows", ".values"]),
    (lambda x, k: torch.cdist(x, x).min(dim=1).values, ["every radius is 0", "nearest row is itself", "leave the row itself out"]),
    (lambda x, k: torch.cdist(x, x).fill_diagonal_(float("inf")).min(dim=1).values, ["*nearest* other row whatever k is"]),
    (lambda x, k: 1.01 * knn_radii(x, k), ["knn_radii(x, 1) for x of shape (8, 3): row 0's radius is", "nearest other row"]),
]


# --------------------------------------------------------------------------- typical mistakes: 11.2


def pr(*, rule="any", strict=False, radii_fn=knn_radii, swap=False, around="centre", cross=False):
    """Precision and recall written right (the defaults) or one of the usual wrong ways."""

    def side(points, centres, k):
        d = torch.cdist(points, centres)  # (P, C)
        if cross:
            r = d.T.kthvalue(k, dim=1).values  # each centre's k-th nearest *point*
        else:
            r = radii_fn(centres, k) if around == "centre" else radii_fn(points, k)
        reach = r[None, :] if around == "centre" else r[:, None]
        inside = d < reach if strict else d <= reach
        if rule == "nearest":
            return inside.gather(1, d.argmin(dim=1, keepdim=True)).float().mean().item()
        if rule == "mean":
            return inside.float().mean().item()
        if rule == "count":
            return inside.any(dim=1).sum().item()
        if rule == "balls":
            return inside.any(dim=0).float().mean().item()
        return inside.any(dim=1).float().mean().item()

    def fn(real, fake, k):
        precision, recall = side(fake, real, k), side(real, fake, k)
        return (recall, precision) if swap else (precision, recall)

    return fn


def precision_recall_wrong_radii(real, fake, k):
    d = torch.cdist(fake, real)  # (M, N)
    precision = (d <= knn_radii(real, k)[None, :]).any(dim=1).float().mean()
    recall = (d <= knn_radii(real, k)[None, :]).any(dim=0).float().mean()  # the real radii again
    return precision.item(), recall.item()


def precision_recall_mismatched_radii(real, fake, k):
    d = torch.cdist(fake, real)  # (M, N)
    precision = (d <= knn_radii(real, k)[None, :]).any(dim=1).float().mean()
    recall = (d <= knn_radii(real, k)[:, None]).any(dim=0).float().mean()  # (N, 1) against (M, N)
    return precision.item(), recall.item()


def precision_recall_in_place(real, fake, k):
    real -= real.mean(dim=0)
    fake -= real.mean(dim=0)
    return precision_recall(real, fake, k)


PR_MISTAKES = [
    (pr(swap=True), ["precision and recall are swapped"]),
    (pr(strict=True), ["precision: a generated point exactly on the edge of a real ball", "(<=, not <)", "recall: a real point exactly on the edge",
                       "collapsed generator"]),
    (pr(rule="nearest"), ["precision: a generated point counts if it lies inside *any* real example's ball", "recall: a real point counts"]),
    (pr(rule="mean"), ["precision: you averaged the share of real balls", ".any(dim=...)", "recall: you averaged"]),
    (pr(rule="count"), ["that is the number of generated points inside a ball, not their share"]),
    (pr(rule="balls"), ["precision: that is the share of real balls that hold at least one generated point",
                        "recall: that is the share of generated balls that hold at least one real point"]),
    (lambda real, fake, k: (1.0, 1.0), ["precision is 1.000 on every pair of sets", "recall is 1.000 on every pair of sets"]),
    (pr(around="point"), ["precision: you used the radii of the generated set", "recall: you used the radii of the real set"]),
    (pr(cross=True), ["precision: each real example's radius is the distance to its k-th nearest other real example"]),
    (pr(radii_fn=radii(own=True)), ["precision: the real radii counted each example as its own nearest neighbour", "recall: the generated radii"]),
    (pr(radii_fn=radii(shift=1)), ["precision: the real radii are off by one"]),
    (precision_recall_wrong_radii, ["recall: you used the radii of the real set", "the generated set's own k-NN radii"]),
    (precision_recall_mismatched_radii, ["raised RuntimeError", "each ball's radius goes with its own centre"]),
    (lambda real, fake, k: (pr()(real, fake, k)[0], pr(strict=True)(real, fake, k)[1]), ["recall: a real point exactly on the edge"]),
    (lambda real, fake, k: (pr()(real, fake, k)[0], pr(rule="mean")(real, fake, k)[1]), ["recall: you averaged the share of generated balls"]),
    (lambda real, fake, k: (pr()(real, fake, k)[0], 0.5), ["recall on 20 real and 15 generated points, k = 3 is 0.500, expected"]),
    (lambda real, fake, k: (torch.cdist(fake, real) <= knn_radii(real, k)).any(dim=1).mean(), ["raised RuntimeError", "inside.float().mean()"]),
    (lambda real, fake, k: pr()(real, fake, k)[0], ["should return two numbers, (precision, recall), but returned a float"]),
    (lambda real, fake, k: (*pr()(real, fake, k), k), ["returned a tuple of length 3"]),
    (lambda real, fake, k: (torch.ones(2), torch.ones(2)), ["the precision returned by", "should be a single number", "shape (2,)"]),
    (precision_recall_in_place, ["changed the real examples you were given"]),
]


MISTAKES = (
    [("knn_radii", fn, fragments) for fn, fragments in RADII_MISTAKES]
    + [("precision_recall", fn, fragments) for fn, fragments in PR_MISTAKES]
)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


def test_every_named_slip_differs_from_the_truth_and_from_each_other():
    """On the checks' cases each slip gives its own answer, so no slip can pass and none hides another."""
    ce = evaluation_checks
    cases = ce._radii_cases()
    for slip, _ in ce._radii_slips():
        assert not all(any(same(cand, ce._radii(x, k)) for cand in slip(x, k)) for x, k in cases)
    for kind in ("precision", "recall"):
        answers = [tuple(slip(c) for c in ce._pr_cases()) for slip, _ in ce._side_slips(kind)]
        truth = tuple(ce._pr_truth(c)[kind == "recall"] for c in ce._pr_cases())
        assert truth not in answers and len(set(answers)) == len(answers), (kind, truth, answers)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
