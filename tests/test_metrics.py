"""genai_course.metrics: the PacGAN/VEEGAN mode metrics on known cases."""

from __future__ import annotations

import math
import re

import pytest
import torch

from genai_course import checkpoints, data, metrics
from genai_course.metrics import ModeReport, mode_metrics, nearest_mode

MIXTURES = ["ring8", "grid25"]


@pytest.mark.parametrize("name", MIXTURES)
def test_perfect_samples(name):
    mixture = data.get_mixture(name)
    report = mode_metrics(mixture.sample(2500, generator=torch.Generator().manual_seed(0)), mixture)
    assert (report.modes, report.n_modes, report.n_samples) == (mixture.n_modes, mixture.n_modes, 2500)
    # a 2D Gaussian puts 1 - exp(-3^2 / 2) = 98.89% within 3 std (not 99.7% as in 1D); 3 binomial sd of slack
    assert report.hq_fraction == pytest.approx(1 - math.exp(-4.5), abs=0.0065)
    assert report.reverse_kl < 0.01


@pytest.mark.parametrize("name", MIXTURES)
def test_collapsed_generator(name):
    mixture = data.get_mixture(name)
    report = mode_metrics(mixture.means[[3] * 1000], mixture)
    assert (report.modes, report.hq_fraction) == (1, 1.0)
    assert report.reverse_kl == pytest.approx(math.log(mixture.n_modes), abs=1e-12)


@pytest.mark.parametrize("name", MIXTURES)
def test_samples_four_std_from_every_mode_are_low_quality(name):
    mixture = data.get_mixture(name)
    offsets = 4 * mixture.std * torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])  # (4, 2)
    x = (mixture.means[:, None, :] + offsets[None]).reshape(-1, 2)  # (4K, 2): still nearest to their own mode
    report = mode_metrics(x, mixture)
    assert (report.modes, report.hq_fraction) == (0, 0.0)
    assert report.reverse_kl == pytest.approx(0.0, abs=1e-12)  # every mode equally often, just not well


@pytest.mark.parametrize("name, used, kl", [("ring8", 4, math.log(2)), ("ring8", 2, math.log(4)), ("grid25", 5, math.log(5)), ("grid25", 25, 0.0)])
def test_reverse_kl_of_equal_use_of_some_modes(name, used, kl):
    mixture = data.get_mixture(name)
    x = mixture.means[torch.arange(used).repeat(40)]
    x = x + 0.5 * mixture.std * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    report = mode_metrics(x, mixture)
    assert (report.modes, report.hq_fraction) == (used, 1.0)
    assert report.reverse_kl == pytest.approx(kl, abs=1e-12)


def test_only_high_quality_samples_capture_modes():
    ring = data.ring8()
    x = torch.cat([ring.means[[0] * 50], ring.means[[1] * 50] + torch.tensor([0.1, 0.0])])  # mode 1: 10 std off
    report = mode_metrics(x, ring)
    assert (report.modes, report.hq_fraction) == (1, 0.5)
    assert report.reverse_kl == pytest.approx(math.log(4), abs=1e-12)  # both modes counted in the histogram


def test_nearest_mode():
    ring = data.ring8()
    x = torch.stack([ring.means[2] * 1.1, ring.means[5] * 0.9]).double().requires_grad_(True)
    k, d = nearest_mode(x, ring)
    assert k.tolist() == [2, 5]
    torch.testing.assert_close(d, torch.tensor([0.1, 0.1]))


def test_report_text_and_dict():
    report = ModeReport(modes=7, n_modes=8, hq_fraction=0.9, reverse_kl=0.05, n_samples=2500)
    assert str(report) == "modes 7/8, high-quality 90.0%, reverse KL 0.050 (2500 samples)"
    assert report.as_dict() == {"modes": 7, "n_modes": 8, "hq_fraction": 0.9, "reverse_kl": 0.05, "n_samples": 2500}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input_message(bad):
    x = torch.zeros(10, 2)
    x[3, 1] = bad
    with pytest.raises(ValueError, match=re.escape("samples contain NaN or infinite values")):
        mode_metrics(x, data.ring8())


@pytest.mark.parametrize("shape", [(10, 3), (10,), (10, 2, 1), ()])
def test_wrong_shape_message(shape):
    with pytest.raises(ValueError, match=re.escape(f"samples must have shape (N, 2) (got {shape})")):
        mode_metrics(torch.zeros(shape), data.ring8())
    with pytest.raises(ValueError, match=re.escape(f"samples must have shape (N, 2) (got {shape})")):
        nearest_mode(torch.zeros(shape), data.ring8())


def test_empty_input_message():
    with pytest.raises(ValueError, match=re.escape("need at least one sample to score")):
        mode_metrics(torch.zeros(0, 2), data.ring8())


# ------------------------------------------------------------------------------ digit metrics



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


def test_the_judge_knows_real_digits():
    digits = data.load_digits()
    clf = metrics.digit_classifier()
    assert clf is metrics.digit_classifier()  # loaded once per session
    with torch.no_grad():
        accuracy = (clf(digits.x_test).argmax(1) == digits.y_test).float().mean()
    assert accuracy >= 0.97
    report = metrics.digit_metrics(digits.x_test, digits.y_test)
    assert report.confident >= 0.93 and report.class_entropy >= 0.98 and report.label_accuracy == float(accuracy)
    assert report.frechet == pytest.approx(0.0, abs=1e-6)  # the held-out digits against themselves
    assert 0 < report.frechet_real < 60
    assert "label accuracy" in str(report) and report.as_dict()["n_samples"] == 300


def test_the_stored_judge_is_what_a_fresh_training_makes():
    """The judge in the package equals ``train_digit_classifier()`` run afresh here, on one thread.

    Bit for bit where the arithmetic is the stored judge's (same CPU instruction set, one thread);
    elsewhere floating-point sums round differently over 720 Adam steps (two threads here move
    weights by up to 0.05), so there it must agree on every one of the 1,797 digits' classes."""
    stored, extra = metrics.load_digit_judge()
    assert extra["recipe"] == metrics.JUDGE_RECIPE and extra["threads"] == 1
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fresh = metrics.train_digit_classifier(**metrics.JUDGE_RECIPE)
    finally:
        torch.set_num_threads(previous)
    digits = data.load_digits()
    x = torch.cat([digits.x_train, digits.x_test])
    with torch.no_grad():
        assert torch.equal(fresh(x).argmax(1), stored(x).argmax(1))
    if extra["cpu_capability"] == torch.backends.cpu.get_cpu_capability():
        for (name, a), b in zip(fresh.state_dict().items(), stored.state_dict().values()):
            assert torch.equal(a, b), f"{name} differs: retrain with scripts/freeze_judge.py if the recipe changed"


def test_the_stored_judge_is_checked_against_its_hash(tmp_path):
    copy = tmp_path / "judge.pt"
    copy.write_bytes(metrics.JUDGE_FILE.read_bytes())
    metrics.load_digit_judge(copy)  # the right bytes load (no sidecar beside the copy: the constant is the reference)
    flipped = bytearray(copy.read_bytes())
    flipped[len(flipped) // 2] ^= 1
    copy.write_bytes(bytes(flipped))
    with pytest.raises(checkpoints.CheckpointError, match="sha256"):
        metrics.load_digit_judge(copy)


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
