"""The straight path from noise to data, the velocity a flow model learns along it, and the exact
velocity field when both ends are Gaussian (to check a trained network against).

Conventions (lesson 16): time runs from t = 0 (noise x_0 ~ N(0, I)) to t = 1 (data x_1), the
opposite of lesson 10's diffusion steps, which count down to the data.
"""

from __future__ import annotations

import torch


def _check_pair(x0: torch.Tensor, x1: torch.Tensor) -> None:
    if x0.shape != x1.shape:
        raise ValueError(f"noise x0 and data x1 must have the same shape (got {tuple(x0.shape)} and {tuple(x1.shape)})")


def _times(t: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """t as (B, 1, ...) to broadcast over x (B, ...): one time per example, or one for all."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if t.dim() == 0:
        t = t.expand(x.shape[0])
    if t.shape != (x.shape[0],):
        raise ValueError(f"t must be one time, or ({x.shape[0]},) times, one per example (got {tuple(t.shape)})")
    if t.numel() and (float(t.min()) < 0 or float(t.max()) > 1):
        raise ValueError(f"times must lie in [0, 1] (got {float(t.min()):.3g}..{float(t.max()):.3g})")
    return t.reshape(-1, *([1] * (x.dim() - 1)))


def interpolate(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """The point at time t on the straight line from x0 to x1: x_t = (1 - t) x0 + t x1.

    x0, x1: (B, ...); t: (B,) or one number in [0, 1]. Returns (B, ...)."""
    _check_pair(x0, x1)
    tt = _times(t, x0)
    return (1 - tt) * x0 + tt * x1


def target_velocity(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """d x_t / dt along the straight line: x1 - x0, the same at every t. (B, ...) -> (B, ...)."""
    _check_pair(x0, x1)
    return x1 - x0


def gaussian_velocity(x: torch.Tensor, t: torch.Tensor | float, mean: torch.Tensor | float = 0.0, std: float = 1.0) -> torch.Tensor:
    """The exact flow-matching velocity when the data are N(mean, std^2 I) and the noise N(0, I),
    drawn independently: v(x, t) = E[x1 - x0 | x_t = x], which is linear in x because everything
    is Gaussian:

        v(x, t) = mean + (t std^2 - (1 - t)) / ((1 - t)^2 + t^2 std^2) * (x - t mean).

    A network trained on this data should learn this field; x: (B, D); t: (B,) or a number;
    mean: a number or (D,). Returns (B, D)."""
    if not std > 0:
        raise ValueError(f"std must be > 0 (got {std})")
    tt = _times(t, x)
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device)
    var = (1 - tt) ** 2 + tt**2 * std**2  # the variance of x_t, per coordinate
    return m + (tt * std**2 - (1 - tt)) / var * (x - tt * m)
