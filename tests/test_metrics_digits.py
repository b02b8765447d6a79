"""genai_course.metrics.digits: the Fréchet distance against scipy, class entropy, the digit metrics on
real digits, noise, a collapse and wrong labels, and train-on-synthetic-test-on-real."""

from __future__ import annotations

import math
import re

import pytest
import torch

from genai_course import data, metrics
from shared import digits  # noqa: F401 (fixtures)


def test_frechet_distance_matches_scipy_sqrtm():
    import numpy as np
    from scipy import linalg

    g = torch.Generator().manual_seed(0)
    a = torch.randn(400, 6, generator=g, dtype=torch.float64)
    b = torch.randn(300, 6, generator=g, dtype=torch.float64) @ torch.randn(6, 6, generator=g, dtype=torch.float64) + 0.5
    s_a, s_b = np.cov(a.numpy().T), np.cov(b.numpy().T)
    root = linalg.sqrtm(s_a @ s_b).real
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum().item() + np.trace(s_a + s_b - 2 * root)
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert metrics.frechet_distance(b, a) == pytest.approx(expected, rel=1e-6)  # symmetric


def test_frechet_distance_zero_for_the_same_set_and_mean_shift_adds_its_square():
    a = torch.randn(200, 5, generator=torch.Generator().manual_seed(1))
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shift = torch.tensor([3.0, 0, 0, 4.0, 0])
    assert metrics.frechet_distance(a, a + shift) == pytest.approx(25.0, rel=1e-5)


@pytest.mark.parametrize(
    "a, b, message",
    [
        (torch.zeros(5, 3), torch.zeros(5, 4), "need two feature sets (N, F) and (M, F) (got (5, 3) and (5, 4))"),
        (torch.zeros(1, 3), torch.zeros(5, 3), "need at least 2 examples in each set to estimate a covariance"),
    ],
)
def test_frechet_distance_bad_input(a, b, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        metrics.frechet_distance(a, b)


def test_class_entropy_extremes():
    assert metrics.class_entropy(torch.arange(1000) % 10) == pytest.approx(1.0)
    assert metrics.class_entropy(torch.full((50,), 3)) == 0.0
    assert metrics.class_entropy(torch.arange(1000) % 5) == pytest.approx(math.log(5) / math.log(10))


def test_digit_metrics_flag_noise_collapse_and_wrong_labels():
    digits = data.load_digits()
    real = metrics.digit_metrics(digits.x_train[:1000])
    noise = metrics.digit_metrics(torch.rand(1000, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    collapsed = metrics.digit_metrics(digits.x_train[:1].repeat(1000, 1, 1, 1))
    assert real.frechet < 2 * real.frechet_real and real.confident > 0.97
    assert noise.frechet > 10 * real.frechet_real and noise.confident < 0.7  # noise: far from digits in feature space
    assert collapsed.class_entropy == 0.0 and collapsed.frechet > 10 * real.frechet_real  # one digit, however sharp
    wrong = metrics.digit_metrics(digits.x_test, (digits.y_test + 1) % 10)
    assert wrong.label_accuracy < 0.05 and real.label_accuracy is None


@pytest.mark.parametrize(
    "x, message",
    [
        (torch.rand(10, 64), "samples must be images of shape (N, 1, 8, 8) (got (10, 64))"),
        (torch.rand(10, 1, 16, 16), "samples must be images of shape (N, 1, 8, 8) (got (10, 1, 16, 16))"),
        (torch.rand(10, 1, 8, 8) * 2 - 1, "pixels must lie in [0, 1] like the data (got values from"),
        (torch.full((10, 1, 8, 8), float("nan")), "samples contain NaN or infinite values"),
        (torch.rand(1, 1, 8, 8), "need at least 2 samples to score"),
    ],
)
def test_digit_metrics_bad_input(x, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        metrics.digit_metrics(x, classifier=metrics.DigitClassifier())


def test_digit_metrics_label_shape_message():
    with pytest.raises(ValueError, match=re.escape("labels must have shape (10,), one per sample (got (5,))")):
        metrics.digit_metrics(torch.rand(10, 1, 8, 8), torch.zeros(5, dtype=torch.long), classifier=metrics.DigitClassifier())


def test_a_collapsed_generator_has_no_class_entropy_and_is_easy_to_tell_apart(digits):
    one_digit = digits.x_train[[7] * 1000]
    assert metrics.digit_metrics(one_digit).class_entropy == 0.0
    assert metrics.two_sample_test(digits.x_train, one_digit).accuracy > 0.95


# ----------------------------------------------------- train on synthetic, test on real


def test_train_on_real_digits_matches_the_reference(digits):
    report = metrics.train_on_synthetic(digits.x_train[:500], digits.y_train[:500])
    assert report.accuracy > 0.9 and abs(report.accuracy - report.reference) < 0.04, report
    assert (report.n_train, report.n_test) == (500, 300)


def test_train_on_shuffled_labels_is_chance(digits):
    shuffled = digits.y_train[:500][torch.randperm(500, generator=torch.Generator().manual_seed(0))]
    report = metrics.train_on_synthetic(digits.x_train[:500], shuffled)
    assert report.accuracy < 0.25 < 0.9 < report.reference, report


def test_train_on_one_example_per_class_falls_short(digits):
    first = torch.stack([torch.nonzero(digits.y_train == k)[0, 0] for k in range(10)])  # (10,)
    idx = first.repeat_interleave(50)  # 50 copies of one example of each class
    report = metrics.train_on_synthetic(digits.x_train[idx], digits.y_train[idx])
    assert report.accuracy < report.reference - 0.1, report


@pytest.mark.parametrize(
    "labels, message",
    [
        (torch.zeros(20), "whole numbers"),
        (torch.zeros(19, dtype=torch.long), "one per sample"),
        (torch.full((20,), 10), r"digits 0\.\.9"),
    ],
)
def test_train_on_synthetic_explains_bad_labels(digits, labels, message):
    with pytest.raises(ValueError, match=message):
        metrics.train_on_synthetic(digits.x_train[:20], labels)
