"""The course's data, all offline.

2D Gaussian mixtures (the PacGAN/VEEGAN protocol), both with equal weights on every mode:

* ``ring8``:  8 Gaussians at (cos 2*pi*k/8, sin 2*pi*k/8), k = 0..7, std 0.01.
* ``grid25``: 25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05.

Real handwriting: scikit-learn's 8x8 digits (1,797 images from 43 writers, 16 grey
levels, shipped inside scikit-learn, so nothing is downloaded), see ``load_digits``.

Sampling is seeded by passing a ``torch.Generator`` (``generator=``), so the same
generator state always gives the same points. ``make_grid`` lays a square grid of 2D points, where
the lessons draw what a discriminator thinks of every point of the plane.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

__all__ = [
    "Mixture", "ring8", "grid25", "MIXTURES", "get_mixture", "make_grid",
    "Digits", "load_digits", "validation_digits", "DIGITS_TEST_SIZE", "DIGITS_SPLIT_SEED", "DIGITS_VALIDATION_SIZE",
]


@dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic 2D Gaussians.

    Attributes:
        name: short name used by the CLI and the model registry.
        means: (K, 2) centres of the modes.
        std: standard deviation of every mode (the same along both axes).
    """

    name: str
    means: torch.Tensor  # (K, 2)
    std: float

    @property
    def n_modes(self) -> int:
        return self.means.shape[0]

    @property
    def scale(self) -> float:
        """Root-mean-square distance of the points from the origin (used to normalise data to unit spread)."""
        return float(self.means.pow(2).sum(1).mean().add(2 * self.std**2).sqrt())

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` points: returns (n, 2) float32.

        Every point picks a mode uniformly at random, then adds N(0, std^2) noise.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive whole number of samples (got {n!r})")
        k = torch.randint(self.n_modes, (n,), generator=generator)  # (n,)
        noise = torch.randn(n, 2, generator=generator)  # (n, 2)
        return self.means[k] + self.std * noise

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log density of the mixture at points x: (N, 2) -> (N,)."""
        # log p(x) = logsumexp_k [ -|x - mu_k|^2 / (2 std^2) ] - log K - log(2 pi std^2)
        # exact differences, not cdist's |x|^2 + |mu|^2 - 2 x.mu shortcut (off by ~1e-3 in log p at std 0.01)
        d2 = torch.cdist(x.float(), self.means, compute_mode="donot_use_mm_for_euclid_dist").pow(2)  # (N, K)
        return (
            torch.logsumexp(-d2 / (2 * self.std**2), dim=1)
            - math.log(self.n_modes)
            - math.log(2 * math.pi * self.std**2)
        )


def ring8() -> Mixture:
    """8 Gaussians on the unit circle, std 0.01."""
    angles = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
    means = torch.stack([angles.cos(), angles.sin()], dim=1).float()  # (8, 2)
    return Mixture("ring8", means, 0.01)


def grid25() -> Mixture:
    """25 Gaussians on the grid {-4, -2, 0, 2, 4}^2, std 0.05."""
    ticks = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    means = torch.cartesian_prod(ticks, ticks)  # (25, 2)
    return Mixture("grid25", means, 0.05)


MIXTURES = {"ring8": ring8, "grid25": grid25}


def get_mixture(name: str) -> Mixture:
    """Look a mixture up by name ('ring8' or 'grid25')."""
    if name not in MIXTURES:
        raise ValueError(f"unknown mixture {name!r}: choose one of {', '.join(sorted(MIXTURES))}")
    return MIXTURES[name]()


def make_grid(extent: float, resolution: int = 64) -> torch.Tensor:
    """A square grid of points covering [-extent, extent]^2: (resolution**2, 2).

    Point ``iy * resolution + ix`` is (xs[ix], ys[iy]), so ``values.reshape(resolution,
    resolution)`` has rows = y and columns = x, ready for ``imshow(origin="lower")``.
    """
    ticks = torch.linspace(-extent, extent, resolution)
    yy, xx = torch.meshgrid(ticks, ticks, indexing="ij")  # (R, R) each: rows = y
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)  # (R*R, 2)


# The digits split, fixed for the whole course: a random permutation of the 1,797 images
# drawn with this seed; the first DIGITS_TEST_SIZE are held out, the rest are for training.
DIGITS_TEST_SIZE = 300
DIGITS_SPLIT_SEED = 0


@dataclass(frozen=True)
class Digits:
    """scikit-learn's 8x8 handwritten digits, split once for the whole course.

    Images are float32 in [0, 1] (the 16 grey levels 0..16 divided by 16), shaped
    (N, 1, 8, 8) as convolutional networks expect: batch, channel, height, width.
    Labels are int64 in 0..9. Models are trained on ``train`` only; ``test`` is held out
    for judging them (and for the digit classifier's accuracy).
    """

    x_train: torch.Tensor  # (1497, 1, 8, 8) float32 in [0, 1]
    y_train: torch.Tensor  # (1497,) int64
    x_test: torch.Tensor  # (300, 1, 8, 8)
    y_test: torch.Tensor  # (300,)

    num_classes = 10
    image_shape = (1, 8, 8)

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw n training digits with replacement: images (n, 1, 8, 8) and labels (n,)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive whole number of digits (got {n!r})")
        i = torch.randint(self.x_train.shape[0], (n,), generator=generator)  # (n,)
        return self.x_train[i], self.y_train[i]

    def first_classes(self, k: int) -> "Digits":
        """The digits of classes 0..k-1 only, both splits (lesson 14's base has never seen a 9).

        Labels keep their values, so a class is the same digit in the subset and in the whole."""
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= self.num_classes:
            raise ValueError(f"k must be a whole number of classes from 1 to {self.num_classes} (got {k!r})")
        train, test = self.y_train < k, self.y_test < k
        return Digits(self.x_train[train], self.y_train[train], self.x_test[test], self.y_test[test])


@functools.lru_cache(maxsize=1)
def load_digits() -> Digits:
    """The 1,797 digits, split into 1,497 for training and 300 held out (fixed, see above).

    The data ships inside scikit-learn (``sklearn.datasets.load_digits``): no download.
    The split is the same on every machine: ``torch.randperm(1797)`` with a generator
    seeded ``DIGITS_SPLIT_SEED``; the first ``DIGITS_TEST_SIZE`` indices are the test set.
    """
    from sklearn.datasets import load_digits as _sklearn_digits

    raw = _sklearn_digits()
    x = torch.tensor(raw.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (1797, 1, 8, 8) in [0, 1]
    y = torch.tensor(raw.target, dtype=torch.int64)  # (1797,)
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(DIGITS_SPLIT_SEED))
    test, train = perm[:DIGITS_TEST_SIZE], perm[DIGITS_TEST_SIZE:]
    return Digits(x[train], y[train], x[test], y[test])


# Tuning never looks at the held-out digits: it cuts a validation set out of the training split.
DIGITS_VALIDATION_SIZE = 300


@functools.lru_cache(maxsize=1)
def validation_digits() -> Digits:
    """The training split cut in two, for tuning (``genai-course tune``): its first
    ``DIGITS_VALIDATION_SIZE`` digits become ``test`` (the validation set) and the other 1,197
    ``train``. The 300 held-out digits of ``load_digits`` are not in it at all, so a search that
    picks settings by their validation score has never seen the digits the models are judged on."""
    d = load_digits()
    v = DIGITS_VALIDATION_SIZE
    return Digits(d.x_train[v:], d.y_train[v:], d.x_train[:v], d.y_train[:v])
