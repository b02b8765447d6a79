"""genai_course.metrics.modes: the PacGAN/VEEGAN mode metrics on known cases."""

from __future__ import annotations

import math
import re

import pytest
import torch

from genai_course import data
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
