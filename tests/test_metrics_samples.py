"""genai_course.metrics.samples, lesson 11's tests of generative models, validated on known cases.

Real against real must score near the ideal, noise near the worst, a collapsed generator low on
recall, exact training copies must be flagged; and each test must see the difference it claims
to see (a shifted Gaussian, grey levels, blurred digits), in the right direction.
"""

from __future__ import annotations

import math
import time

import pytest
import torch
from torch.nn import functional as F

from genai_course import data, metrics
from shared import digits, judge  # noqa: F401 (fixtures)


def _noise(n: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- k-NN radii


def test_knn_radii_by_hand():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert metrics.knn_radii(x, 1).tolist() == [1.0, 1.0, 2.0, 4.0]  # a point is not its own neighbour
    assert metrics.knn_radii(x, 2).tolist() == [3.0, 2.0, 3.0, 6.0]
    assert metrics.knn_radii(x, 3).tolist() == [7.0, 6.0, 4.0, 7.0]


def test_knn_radii_of_an_exact_duplicate_is_zero_and_images_are_flattened():
    x = torch.tensor([[[0.0, 0.0]], [[0.0, 0.0]], [[3.0, 4.0]]])  # (3, 1, 2)
    assert metrics.knn_radii(x, 1).tolist() == [0.0, 0.0, 5.0]


@pytest.mark.parametrize("k", [0, 4, 2.0])
def test_knn_radii_refuses_a_k_the_set_cannot_have(k):
    with pytest.raises(ValueError, match="k must be a whole number from 1 to 3 for 4 examples"):
        metrics.knn_radii(torch.zeros(4, 2), k)


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.zeros(5), "one row per example"),
        (torch.zeros(1, 3), "at least 2 examples"),
        (torch.tensor([[0.0], [float("nan")]]), "NaN or infinite"),
    ],
)
def test_knn_radii_explains_bad_sets(x, message):
    with pytest.raises(ValueError, match=message):
        metrics.knn_radii(x)


# ------------------------------------------------------------------- precision / recall


def test_precision_recall_by_hand():
    real = torch.tensor([[0.0], [1.0], [2.0], [10.0]])  # k = 1 radii: 1, 1, 1, 8
    fake = torch.tensor([[0.5], [20.0], [21.0]])  # radii among fakes: 19.5, 1, 1
    pr = metrics.precision_recall(real, fake, k=1)
    assert pr.precision == pytest.approx(1 / 3)  # 0.5 is inside real balls; 20 and 21 are not (10's ball reaches 18)
    assert pr.recall == pytest.approx(1.0)  # 0.5's ball (19.5) covers every real point
    assert (pr.k, pr.n_real, pr.n_fake) == (1, 4, 3)


def test_precision_of_one_side_is_recall_of_the_other(digits, judge):
    a, b = judge.conv_features(digits.x_test), judge.conv_features(_noise(300).clamp(0, 1) * 0.5 + digits.x_train[:300] * 0.5)
    ab, ba = metrics.precision_recall(a, b), metrics.precision_recall(b, a)
    assert (ab.precision, ab.recall) == (ba.recall, ba.precision)
    assert ab.precision != ab.recall  # so the line above would catch precision and recall swapped


def test_real_against_real_digits_is_near_ideal(digits, judge):
    pr = metrics.precision_recall(judge.conv_features(digits.x_test), judge.conv_features(digits.x_train[:300]))
    assert pr.precision > 0.85 and pr.recall > 0.85, pr  # measured: 0.91 and 0.91


def test_noise_is_near_worst(digits, judge):
    pr = metrics.precision_recall(judge.conv_features(digits.x_test), judge.conv_features(_noise(300)))
    assert pr.precision < 0.05 and pr.recall < 0.05, pr  # measured: 0.003 and 0.0


def test_a_collapsed_generator_has_no_recall_but_can_look_real(digits, judge):
    one_digit = digits.x_train[[7] * 300]
    pr = metrics.precision_recall(judge.conv_features(digits.x_test), judge.conv_features(one_digit))
    assert pr.recall < 0.02, pr
    assert pr.precision > 0.9, pr  # every sample is a fine digit: precision alone cannot see the collapse


def test_blurry_averages_lose_recall_and_noisy_digits_lose_precision(digits, judge):
    real = judge.conv_features(digits.x_test)
    blurred = F.avg_pool2d(digits.x_train[:300], 3, 1, 1)
    noisy = (digits.x_train[:300] + 0.3 * torch.randn(300, 1, 8, 8, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    blur, noise = metrics.precision_recall(real, judge.conv_features(blurred)), metrics.precision_recall(real, judge.conv_features(noisy))
    assert blur.recall < 0.05 < blur.precision, blur  # measured: recall 0.0, precision 0.58
    assert noise.precision < 0.6 < 0.9 < noise.recall, noise  # measured: precision 0.44, recall 0.97


def test_points_collapsed_on_one_mode_cover_an_eighth_of_the_ring():
    ring = data.get_mixture("ring8")
    g = torch.Generator().manual_seed(0)
    real = ring.sample(2000, generator=g)
    fair = metrics.precision_recall(real, ring.sample(2000, generator=g))
    one_mode = ring.means[2] + ring.std * torch.randn(2000, 2, generator=g)
    collapsed = metrics.precision_recall(real, one_mode)
    assert fair.precision > 0.9 and fair.recall > 0.9, fair
    assert collapsed.precision > 0.9 and abs(collapsed.recall - 1 / 8) < 0.03, collapsed


def test_precision_recall_needs_the_same_feature_size():
    with pytest.raises(ValueError, match="same size"):
        metrics.precision_recall(torch.zeros(10, 3), torch.zeros(10, 4))


# ---------------------------------------------------------------------- two-sample test


def test_binomial_p_value_by_hand():
    assert metrics.binomial_p_value(2, 3) == pytest.approx(0.5)  # P(X >= 2) = (3 + 1) / 8
    assert metrics.binomial_p_value(3, 3) == pytest.approx(1 / 8)
    assert metrics.binomial_p_value(0, 3) == 1.0
    assert metrics.binomial_p_value(60, 100) == pytest.approx(0.028443966820490392, rel=1e-12)
    with pytest.raises(ValueError, match="0 <= correct <= n"):
        metrics.binomial_p_value(4, 3)


def test_two_sample_test_of_real_against_real_is_chance(digits):
    report = metrics.two_sample_test(digits.x_train[:748], digits.x_train[748:1496])
    assert abs(report.accuracy - 0.5) < 0.06 and report.p_value > 0.01, report
    assert report.n_test == 748


def test_two_sample_test_of_noise_is_certain(digits):
    report = metrics.two_sample_test(digits.x_train[:1000], _noise(1000))
    assert report.accuracy > 0.98 and report.p_value < 1e-100, report


def test_two_sample_test_finds_the_bayes_accuracy_of_a_shifted_gaussian():
    # N(0, 1) against N(1, 1) in 2D (the shift along one axis): no classifier beats Phi(1/2) = 0.691
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4000, 2, generator=g), torch.randn(4000, 2, generator=g) + torch.tensor([1.0, 0.0])
    report = metrics.two_sample_test(a, b)
    bayes = 0.5 * (1 + math.erf(0.5 / math.sqrt(2)))
    assert bayes - 0.04 < report.accuracy < bayes + 0.02, report
    assert report.p_value < 1e-50


def test_two_sample_test_sees_grey_levels(digits, judge):
    # the real digits' pixels are multiples of 1/16: a tiny continuous jitter gives samples away
    jitter = (digits.x_train[748:1496] + 0.02 * torch.rand(748, 1, 8, 8, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert metrics.two_sample_test(digits.x_train[:748], jitter).accuracy > 0.9
    rounded = (jitter * 16).round() / 16
    assert metrics.two_sample_test(digits.x_train[:748], rounded).accuracy < 0.6


# ------------------------------------------------------------------- memorization audit


def test_exact_training_copies_are_flagged(digits):
    report = metrics.memorization(digits.x_train[:300], digits.x_train, digits.x_test)
    assert report.copies == 1.0 and report.sample_distance == 0.0 and report.ratio == 0.0, report


def test_nearly_exact_copies_are_flagged_too(digits):
    near = (digits.x_train[:300] + 0.01 * torch.randn(300, 1, 8, 8, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert metrics.memorization(near, digits.x_train, digits.x_test).copies == 1.0


def test_held_out_digits_are_flagged_at_the_quantile_only(digits):
    report = metrics.memorization(digits.x_test, digits.x_train, digits.x_test, quantile=0.05)
    assert report.ratio == 1.0 and 0.03 <= report.copies <= 0.05, report


def test_noise_is_far_from_every_training_digit(digits):
    report = metrics.memorization(_noise(300), digits.x_train, digits.x_test)
    assert report.copies == 0.0 and report.ratio > 2, report


def test_nearest_neighbours_finds_the_copied_example(digits):
    idx = torch.tensor([5, 900, 17])
    d, i = metrics.nearest_neighbours(digits.x_train[idx], digits.x_train)
    assert i.tolist() == idx.tolist() and d.tolist() == [0.0, 0.0, 0.0]


def test_memorization_explains_a_bad_quantile(digits):
    with pytest.raises(ValueError, match="quantile must lie between 0 and 1"):
        metrics.memorization(digits.x_test, digits.x_train, digits.x_test, quantile=1.0)


# -------------------------------------------------------------------------------- speed


def test_generation_speed_counts_samples_per_second():
    calls = []

    def sample(n):  # 20 ms per call, whatever n
        calls.append(n)
        time.sleep(0.02)
        return torch.zeros(n, 2)

    speed = metrics.generation_speed(sample, 100)
    assert calls == [8, 100]  # a warm-up call, then the timed one
    assert 2000 < speed <= 5000  # 100 samples in 20 ms (sleep may overrun, never underrun)
