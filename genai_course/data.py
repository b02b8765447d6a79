"""Toy data for the GAN lessons: 2D Gaussian mixtures (the PacGAN/VEEGAN protocol).

Two benchmark mixtures, both with equal weights on every mode:

* ``ring8``:  8 Gaussians at (cos 2*pi*k/8, sin 2*pi*k/8), k = 0..7, std 0.01.
* ``grid25``: 25 Gaussians at {-4, -2, 0, 2, 4}^2, std 0.05.

Sampling is seeded by passing a ``torch.Generator`` (``generator=``), so the same
generator state always gives the same points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Mixture", "ring8", "grid25", "MIXTURES", "get_mixture", "set_seed"]


def set_seed(seed: int) -> torch.Generator:
    """Seed PyTorch's global RNG and return a fresh ``torch.Generator`` with the same seed."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


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
