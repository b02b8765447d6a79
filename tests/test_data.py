"""genai_course.data: the two benchmark mixtures, sampling and log density."""

from __future__ import annotations

import math
import re

import pytest
import torch

from genai_course import data

MIXTURES = ["ring8", "grid25"]


def brute_force_log_prob(x: torch.Tensor, means: torch.Tensor, std: float) -> torch.Tensor:
    """log of (1/K) sum_k N(x; mu_k, std^2 I), summed as densities in float64 (no logsumexp)."""
    x, means = x.double(), means.double()
    d2 = (x[:, None, :] - means[None, :, :]).pow(2).sum(-1)  # (N, K)
    density = torch.exp(-d2 / (2 * std**2)).sum(1) / (2 * math.pi * std**2) / means.shape[0]
    return density.log()


def test_ring8_is_the_protocol():
    ring = data.ring8()
    k = torch.arange(8, dtype=torch.float64)
    expected = torch.stack([torch.cos(2 * math.pi * k / 8), torch.sin(2 * math.pi * k / 8)], dim=1)
    assert (ring.name, ring.n_modes, ring.std) == ("ring8", 8, 0.01)
    assert ring.means.shape == (8, 2) and ring.means.dtype == torch.float32
    torch.testing.assert_close(ring.means.double(), expected, rtol=0, atol=1e-7)


def test_grid25_is_the_protocol():
    grid = data.grid25()
    ticks = [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert (grid.name, grid.n_modes, grid.std) == ("grid25", 25, 0.05)
    assert grid.means.shape == (25, 2) and grid.means.dtype == torch.float32
    assert {tuple(m) for m in grid.means.tolist()} == {(a, b) for a in ticks for b in ticks}


@pytest.mark.parametrize("name", MIXTURES)
def test_get_mixture_returns_the_named_mixture(name):
    mixture = data.get_mixture(name)
    assert mixture.name == name
    assert torch.equal(mixture.means, data.MIXTURES[name]().means)


def test_get_mixture_unknown_name_lists_choices():
    with pytest.raises(ValueError, match=re.escape("unknown mixture 'ring9': choose one of grid25, ring8")):
        data.get_mixture("ring9")


@pytest.mark.parametrize("name", MIXTURES)
@pytest.mark.parametrize("n", [1, 7, 1000])
def test_sample_shape_and_dtype(name, n):
    x = data.get_mixture(name).sample(n, generator=torch.Generator().manual_seed(0))
    assert x.shape == (n, 2)
    assert x.dtype == torch.float32
    assert torch.isfinite(x).all()


@pytest.mark.parametrize("name", MIXTURES)
def test_same_seed_same_samples_different_seed_different(name):
    mixture = data.get_mixture(name)
    a = mixture.sample(500, generator=torch.Generator().manual_seed(3))
    b = mixture.sample(500, generator=torch.Generator().manual_seed(3))
    c = mixture.sample(500, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", MIXTURES)
def test_every_mode_equally_often_with_the_stated_std(name):
    mixture = data.get_mixture(name)
    n = 20_000
    x = mixture.sample(n, generator=torch.Generator().manual_seed(0))
    # modes are far apart (>= 0.76) compared with the std (<= 0.05): the nearest mean is the mode drawn
    k = torch.cdist(x, mixture.means, compute_mode="donot_use_mm_for_euclid_dist").argmin(1)
    share = torch.bincount(k, minlength=mixture.n_modes).double() / n
    assert share.sub(1 / mixture.n_modes).abs().max() < 0.15 / mixture.n_modes, share
    residual = x - mixture.means[k]
    for mode in range(mixture.n_modes):
        per_mode_std = residual[k == mode].std(0)  # (2,): each axis
        assert per_mode_std.sub(mixture.std).abs().max() < 0.12 * mixture.std, (mode, per_mode_std)
    assert residual.mean(0).abs().max() < 0.05 * mixture.std


@pytest.mark.parametrize("name", MIXTURES)
def test_log_prob_matches_brute_force_float64_density(name):
    mixture = data.get_mixture(name)
    g = torch.Generator().manual_seed(1)
    # near the modes (where the density is large and every digit matters) and between them
    x = mixture.sample(2000, generator=g) + 2 * mixture.std * torch.randn(2000, 2, generator=g)
    got = mixture.log_prob(x)
    assert got.shape == (2000,)
    torch.testing.assert_close(got.double(), brute_force_log_prob(x, mixture.means, mixture.std), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", MIXTURES)
def test_log_prob_matches_torch_distributions_far_from_the_modes(name):
    mixture = data.get_mixture(name)
    K = mixture.n_modes
    reference = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=torch.full((K,), 1 / K, dtype=torch.float64)),
        torch.distributions.Independent(torch.distributions.Normal(mixture.means.double(), mixture.std), 1),
    )
    x = 3 * torch.randn(500, 2, generator=torch.Generator().manual_seed(2))  # densities far below float64's range
    torch.testing.assert_close(mixture.log_prob(x).double(), reference.log_prob(x.double()), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", MIXTURES)
def test_log_prob_at_a_mean_is_the_peak(name):
    mixture = data.get_mixture(name)
    peak = -math.log(mixture.n_modes) - math.log(2 * math.pi * mixture.std**2)
    torch.testing.assert_close(mixture.log_prob(mixture.means), torch.full((mixture.n_modes,), peak), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", MIXTURES)
def test_scale_is_the_rms_radius(name):
    mixture = data.get_mixture(name)
    x = mixture.sample(50_000, generator=torch.Generator().manual_seed(0))
    assert mixture.scale == pytest.approx(x.pow(2).sum(1).mean().sqrt().item(), rel=0.01)


@pytest.mark.parametrize("n", [0, -1, 2.5, True, "10", None])
def test_bad_n_message(n):
    with pytest.raises(ValueError, match=re.escape(f"n must be a positive whole number of samples (got {n!r})")):
        data.ring8().sample(n)


# ---------------------------------------------------------------------------------------- digits


def test_digits_split_is_fixed_disjoint_and_complete():
    d = data.load_digits()
    assert d.x_train.shape == (1497, 1, 8, 8) and d.x_test.shape == (300, 1, 8, 8)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert d.y_train.shape == (1497,) and d.y_test.shape == (300,)
    assert float(d.x_train.min()) == 0.0 and float(d.x_train.max()) == 1.0
    # 16 grey levels: every pixel is a multiple of 1/16
    assert torch.equal(d.x_train * 16, (d.x_train * 16).round())
    # every class in both parts
    assert d.y_train.bincount(minlength=10).min() > 100 and d.y_test.bincount(minlength=10).min() > 15
    # train and test hold different images: together they are sklearn's 1,797 exactly once
    from sklearn.datasets import load_digits as sk

    raw = torch.tensor(sk().images, dtype=torch.float32).unsqueeze(1) / 16
    perm = torch.randperm(1797, generator=torch.Generator().manual_seed(data.DIGITS_SPLIT_SEED))
    assert torch.equal(d.x_test, raw[perm[:300]]) and torch.equal(d.x_train, raw[perm[300:]])


def test_digits_sample_is_seeded_and_labelled():
    d = data.load_digits()
    x1, y1 = d.sample(64, generator=torch.Generator().manual_seed(3))
    x2, y2 = d.sample(64, generator=torch.Generator().manual_seed(3))
    assert x1.shape == (64, 1, 8, 8) and y1.shape == (64,)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    # each sampled image is a training image with its own label
    i = [int(((d.x_train - x1[k]).abs().flatten(1).sum(1) == 0).nonzero()[0]) for k in range(5)]
    assert torch.equal(d.y_train[i], y1[:5])


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_digits_sample_bad_n(n):
    with pytest.raises(ValueError, match=r"n must be a positive whole number of digits \(got"):
        data.load_digits().sample(n)


def test_make_grid_rows_are_y_columns_are_x():
    R = 5
    grid = data.make_grid(2.0, R)
    assert grid.shape == (R * R, 2)
    ticks = torch.linspace(-2.0, 2.0, R)
    image = (grid[:, 0] + 10 * grid[:, 1]).reshape(R, R)  # a value that tells x from y
    for iy in range(R):
        for ix in range(R):
            assert image[iy, ix].item() == pytest.approx(ticks[ix].item() + 10 * ticks[iy].item())
    assert grid[0].tolist() == [-2.0, -2.0] and grid[1].tolist() == [-1.0, -2.0] and grid[-1].tolist() == [2.0, 2.0]


def test_first_classes_keeps_the_digits_below_k_in_both_splits():
    d = data.load_digits()
    sub = d.first_classes(9)
    assert int(sub.y_train.max()) == 8 and int(sub.y_test.max()) == 8
    assert len(sub.y_train) == int((d.y_train != 9).sum()) and len(sub.y_test) == int((d.y_test != 9).sum())
    assert torch.equal(sub.x_train, d.x_train[d.y_train < 9])  # same digits, same order, same labels
    assert d.first_classes(10).x_train.shape == d.x_train.shape
    for k in (0, 11, 2.0, True):
        with pytest.raises(ValueError, match=r"k must be a whole number of classes from 1 to 10 \(got "):
            d.first_classes(k)
