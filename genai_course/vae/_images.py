"""What every room of the VAE reads: images of shape (batch, 1, 8, 8), pixels in [0, 1] for the likelihood."""

from __future__ import annotations

import torch

IMAGE_SHAPE = (1, 8, 8)
PIXELS = 64


def check_images(x: torch.Tensor, who: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        hint = ": reshape with x.reshape(-1, 1, 8, 8)" if isinstance(x, torch.Tensor) and tuple(x.shape[1:]) in ((64,), (8, 8)) else ""
        raise ValueError(f"the {who} expects images of shape (batch, 1, 8, 8) (got {shape}){hint}")


def check_digits(x: torch.Tensor) -> None:
    """Images for the Bernoulli likelihood: (B, 1, 8, 8) with pixels in [0, 1]."""
    check_images(x, "VAE")
    lo, hi = float(x.min()), float(x.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"the Bernoulli likelihood needs pixels in [0, 1] (got values from {lo:.3g} to {hi:.3g}): divide by the largest grey level")
