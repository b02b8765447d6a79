"""genai_course.checks.evaluation (lesson 11, 11.1 and 11.2): correct code passes, typical mistakes are named."""

from __future__ import annotations

from typing import NamedTuple

import pytest
import torch

from genai_course import metrics
from genai_course.checks import evaluation as evaluation_checks
from genai_course.utils import same
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

INF = float("inf")

# --------------------------------------------------------------------------- reference solutions


def distances(a, b):
    return (a[:, None] - b[None]).norm(dim=-1)  # (A, B), exact: a copy is at 0


def knn_radii(x, labels, k):
    d = torch.cdist(x, x)  # (N, N)
    d[labels[:, None] != labels[None, :]] = INF  # other classes out of reach
    d.fill_diagonal_(INF)  # a row is not its own neighbour
    return d.kthvalue(k, dim=1).values


def knn_radii_by_class_loop(x, labels, k):
    out = torch.empty(len(x))
    for y in labels.unique():
        rows = labels == y
        out[rows] = metrics.knn_radii(x[rows], k).float()  # the lesson's radii, one class at a time
    return out


def knn_radii_by_sort(x, labels, k):
    d = distances(x, x) + torch.where(labels[:, None] == labels[None, :], 0.0, INF)
    return d.sort(dim=1).values[:, k]  # column 0 is the row itself, at 0


def precision_coverage(real, fake, k):
    d = torch.cdist(fake, real)  # (M, N)
    inside = d <= knn_radii(real, torch.zeros(len(real)), k)[None, :]  # (M, N): fake j in real i's ball
    return inside.any(dim=1).float().mean().item(), inside.any(dim=0).float().mean().item()


def precision_coverage_by_library_radii(real, fake, k):
    d = distances(real, fake)  # (N, M), float32, against float64 radii
    inside = d <= metrics.knn_radii(real, k)[:, None]
    return inside.any(dim=0).double().mean(), inside.any(dim=1).double().mean()  # 0-dim tensors


def precision_coverage_by_loops(real, fake, k):
    r = knn_radii_by_sort(real, torch.zeros(len(real)), k)
    precision = [any(float((f - x).norm()) <= float(rx) for x, rx in zip(real, r)) for f in fake]
    coverage = [any(float((f - x).norm()) <= float(rx) for f in fake) for x, rx in zip(real, r)]
    return sum(precision) / len(precision), sum(coverage) / len(coverage)


class PC(NamedTuple):
    precision: float
    coverage: float


CORRECT = {
    "knn_radii": [knn_radii, knn_radii_by_class_loop, knn_radii_by_sort],
    "precision_coverage": [
        precision_coverage,
        precision_coverage_by_library_radii,
        precision_coverage_by_loops,
        lambda real, fake, k: PC(*precision_coverage(real, fake, k)),  # a named tuple is a tuple
        lambda real, fake, k: list(precision_coverage(real, fake, k)),
    ],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(evaluation_checks, {
        "knn_radii": "Exercise 11.1 (the k-NN radii within each class)",
        "precision_coverage": "Exercise 11.2 (k-NN precision and coverage)",
    })
    assert list(CORRECT) == evaluation_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_the_library_agrees_with_the_references():
    """metrics.knn_radii and precision_recall's precision are what the references compute, class by class for the radii."""
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(40, 6, generator=g), 0.8 * torch.randn(30, 6, generator=g) + 0.2
    fake[3] = real[7]  # a copy
    for k in (1, 3):
        assert torch.allclose(metrics.knn_radii(real, k), knn_radii_by_sort(real, torch.zeros(40), k).double(), atol=1e-6)
        assert metrics.precision_recall(real, fake, k).precision == pytest.approx(precision_coverage_by_loops(real, fake, k)[0], abs=1e-9)


# --------------------------------------------------------------------------- typical mistakes: 11.1


def radii(*, own=False, classes="same", shift=0, power=1, p=2.0, largest=False):
    """The radii within each class written right (the defaults) or one of the usual wrong ways."""

    def fn(x, labels, k):
        d = torch.cdist(x, x, p=p)
        if classes == "same":
            d[labels[:, None] != labels[None, :]] = -1.0 if largest else INF
        elif classes == "other":
            d[(labels[:, None] == labels[None, :]) & ~torch.eye(len(x), dtype=torch.bool)] = INF
        if not own:
            d.fill_diagonal_(-1.0 if largest else INF)
        if largest:
            return d.topk(k, dim=1).values[:, -1]
        return d.kthvalue(k + shift, dim=1).values ** power

    return fn


def knn_radii_in_place(x, labels, k):
    x -= x.mean(dim=0)  # distances do not change, but the caller's x does
    return knn_radii(x, labels, k)


def knn_radii_by_matrix_product(x, labels, k):
    sq = (x * x).sum(dim=1)
    d = (sq[:, None] - 2 * x @ x.T + sq[None, :]).clamp(min=0).sqrt()
    d[labels[:, None] != labels[None, :]] = INF
    d.fill_diagonal_(INF)
    r = d.kthvalue(k, dim=1).values
    return r + 1e-3 * (r == 0)  # what float32 rounding leaves of a 0


def masked(x, labels):
    d = torch.cdist(x, x)
    d[labels[:, None] != labels[None, :]] = INF
    return d.fill_diagonal_(INF)


RADII_MISTAKES = [
    (radii(own=True), ["counted itself as its own nearest neighbour", "the row itself is no neighbour"]),
    (radii(classes="all"), ["these radii reach rows of other classes", "same label only"]),
    (radii(classes="other"), ["reach only rows of *other* classes"]),
    (radii(shift=1), ["off by one", "(k+1)-th nearest other row of the class"]),
    (radii(power=2), ["squared distances"]),
    (radii(largest=True), ["the k-th *farthest* row of the class"]),
    (lambda x, labels, k: masked(x, labels).sort(dim=1).values[:, :k].mean(dim=1), ["the mean distance to the k nearest rows"]),
    (radii(p=1.0), ["Manhattan (L1) distances"]),
    (lambda x, labels, k: masked(x, labels).min(dim=1).values, ["*nearest* other row of the class whatever k is"]),
    (knn_radii_in_place, ["changed the x you were given", "in-place"]),
    (lambda x, labels, k: masked(x, labels).kthvalue(k, dim=1), ["pair of values and indices"]),
    (lambda x, labels, k: masked(x, labels).kthvalue(k, dim=1).indices, ["returned the *indices* of the k-th nearest rows"]),
    (lambda x, labels, k: masked(x, labels).topk(k, dim=1, largest=False).values,
     ["one radius per row, shape (8,)", "has shape (8, 1)", "the radius is the k-th alone"]),
    (lambda x, labels, k: knn_radii(x, labels, k).tolist(), ["should return a torch.Tensor, but returned list"]),
    (lambda x, labels, k: knn_radii(x, labels, k).long(), ["distances as floats", "torch.int64"]),
    (lambda x, labels, k: masked(x, labels).kthvalue(k + 20, dim=1).values, ["raised RuntimeError", "size of the smallest class minus 1"]),
    (lambda x, labels, k: masked(x, labels).sort(dim=1).values[:, -k], ["contains inf or NaN"]),
    (knn_radii_by_matrix_product, ["rows 1 and 4 of x are identical", "exactly 0, but you got 0.001", "loses precision"]),
    (lambda x, labels, k: torch.zeros(len(x)), ["every radius is 0"]),
    (lambda x, labels, k: 1.01 * knn_radii(x, labels, k), ["knn_radii(x, labels, 1) for x of shape (8, 3): row 0's radius is", "label 0"]),
]


# --------------------------------------------------------------------------- typical mistakes: 11.2


def real_radii(real, k, shift=0, own=False):
    d = torch.cdist(real, real)
    if not own:
        d.fill_diagonal_(INF)
    return d.kthvalue(k + shift, dim=1).values


def pc(*, p_rule="any", c_rule="any", strict=False, swap=False, radii_kw=None, recall=False, coverage_dim=0, p_radii="real"):
    """Precision and coverage written right (the defaults) or one of the usual wrong ways."""

    def fn(real, fake, k):
        d = torch.cdist(fake, real)  # (M, N)
        r = real_radii(real, k, **(radii_kw or {}))
        inside = d <= r[None, :] if not strict else d < r[None, :]
        if p_radii == "fake":
            inside_p = d <= real_radii(fake, k)[:, None]
        else:
            inside_p = inside
        precision = {"any": inside_p.any(dim=1).float().mean(), "mean": inside_p.float().mean(), "count": inside_p.any(dim=1).float().sum(),
                     "balls": inside_p.any(dim=0).float().mean()}[p_rule]
        if recall:  # the lesson's recall: balls around the generated points
            coverage = (d <= real_radii(fake, k)[:, None]).any(dim=0).float().mean()
        else:
            coverage = {"any": inside.any(dim=coverage_dim).float().mean(), "mean": inside.float().mean(dim=0).mean(),
                        "count": inside.any(dim=0).float().sum()}[c_rule]
        out = (precision.item(), coverage.item())
        return out[::-1] if swap else out

    return fn


def pc_in_place(real, fake, k):
    real -= real.mean(dim=0)
    fake -= real.mean(dim=0)
    return precision_coverage(real, fake, k)


PR_MISTAKES = [
    (pc(swap=True), ["precision and coverage are swapped"]),
    (pc(strict=True), ["precision: a generated point exactly on the edge of a real ball", "coverage: a generated point exactly on the edge"]),
    (pc(recall=True), ["coverage: that is the lesson's recall", "only the real examples' balls"]),
    (pc(coverage_dim=1), ["coverage: that is the precision again", "a share of the *real* examples"]),
    (pc(c_rule="mean"), ["coverage: you averaged, for each real example, the share of generated points"]),
    (pc(c_rule="count"), ["coverage: that is the number of real examples covered, not their share"]),
    (pc(p_rule="mean"), ["precision: you averaged, for each generated point, the share of real balls"]),
    (pc(p_rule="count"), ["precision: that is the number of generated points inside a ball, not their share"]),
    (pc(p_rule="balls"), ["precision: that is the share of real balls that hold at least one generated point"]),
    (pc(p_radii="fake"), ["precision: you used the radii of the generated set"]),
    (pc(radii_kw={"own": True}), ["precision: the real radii counted each example as its own nearest neighbour", "coverage: the real radii"]),
    (pc(radii_kw={"shift": 1}), ["precision: the real radii are off by one", "coverage: the real radii are off by one"]),
    (lambda real, fake, k: (1.0, 1.0), ["precision is 1.000 on every pair of sets", "coverage is 1.000 on every pair of sets"]),
    (lambda real, fake, k: (pc()(real, fake, k)[0], 0.5), ["coverage is 0.500 on every pair of sets", "should be 0.600"]),
    (lambda real, fake, k: (pc()(real, fake, k)[0], 0.5 if k == 3 else pc()(real, fake, k)[1]), ["coverage on 20 real and 15 generated points, k = 3 is 0.500, expected 0.600"]),
    (lambda real, fake, k: (torch.cdist(fake, real) <= real_radii(real, k)[:, None]).any(dim=1).float().mean(),
     ["raised RuntimeError", "each ball's radius goes with its own real example"]),
    (lambda real, fake, k: (torch.cdist(fake, real) <= real_radii(real, k)).any(dim=1).mean(), ["raised RuntimeError", "a mean needs numbers"]),
    (lambda real, fake, k: pc()(real, fake, k)[0], ["should return two numbers, (precision, coverage), but returned a float"]),
    (lambda real, fake, k: (*pc()(real, fake, k), k), ["returned a tuple of length 3"]),
    (lambda real, fake, k: (torch.ones(2), torch.ones(2)), ["the precision returned by", "should be a single number", "shape (2,)"]),
    (pc_in_place, ["changed the real examples you were given"]),
]


MISTAKES = (
    [("knn_radii", fn, fragments) for fn, fragments in RADII_MISTAKES]
    + [("precision_coverage", fn, fragments) for fn, fragments in PR_MISTAKES]
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
        assert not all(any(same(cand, ce.radii(x, k, y)) for cand in slip(x, y, k)) for x, y, k in cases)
    for kind in ("precision", "coverage"):
        answers = [tuple(slip(c) for c in ce._pr_cases()) for slip, _ in ce._side_slips(kind)]
        truth = tuple(ce._pr_truth(c)[kind == "coverage"] for c in ce._pr_cases())
        assert truth not in answers and len(set(answers)) == len(answers), (kind, truth, answers)


def test_no_message_names_the_call_to_write():
    """The slips' advice says what is wrong, never the line to write (rule 5 of the course's exercises)."""
    ce = evaluation_checks
    advice = [a for _, a in ce._radii_slips()] + [a for kind in ("precision", "coverage") for _, a in ce._side_slips(kind)]
    for text in advice:
        for call in (".any(", ".mean(", "cdist", "kthvalue", "topk", "sort(", "fill_diagonal", "dim="):
            assert call not in text, (call, text)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
