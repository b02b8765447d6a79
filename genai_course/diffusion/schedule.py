"""The forward process: a noise schedule of T betas and its closed form,
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, read forwards (``q_sample``) and backwards
(``predict_x0``)."""

from __future__ import annotations

import math

import torch


class NoiseSchedule:
    """The noise levels of the forward process, from T betas in (0, 1).

    Attributes (all float32 tensors of shape (T,)):
        betas: variance added at step t.
        alphas: 1 - betas.
        alpha_bars: cumulative products of alphas: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
        alpha_bars_prev: abar_{t-1}, with abar_{-1} = 1 (no noise before the first step).
        posterior_variance: beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t), the variance of
            q(x_{t-1} | x_t, x_0); 0 at t = 0.
    """

    def __init__(self, betas: torch.Tensor, kind: str = "custom") -> None:
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.dim() != 1 or betas.numel() < 2:
            raise ValueError(f"betas must be a 1-D tensor of at least 2 steps (got shape {tuple(betas.shape)})")
        if not (betas > 0).all() or not (betas < 1).all():
            raise ValueError("every beta must lie strictly between 0 and 1")
        alphas = 1 - betas
        alpha_bars = torch.cumprod(alphas, 0)
        prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]])
        self.kind = kind
        self.T = int(betas.numel())
        self.betas = betas.float()
        self.alphas = alphas.float()
        self.alpha_bars = alpha_bars.float()
        self.alpha_bars_prev = prev.float()
        self.posterior_variance = (betas * (1 - prev) / (1 - alpha_bars)).float()

    def __repr__(self) -> str:
        return f"NoiseSchedule({self.kind}, T={self.T}, abar from {float(self.alpha_bars[0]):.4f} to {float(self.alpha_bars[-1]):.2e})"

    def check_t(self, t: torch.Tensor | int, n: int | None = None) -> torch.Tensor:
        """t as a long tensor (n,) of steps in 0..T-1, with a clear error otherwise."""
        t = torch.as_tensor(t)
        if t.dtype.is_floating_point or t.dtype == torch.bool:
            raise ValueError(f"t must hold whole step numbers 0..{self.T - 1} (got dtype {t.dtype})")
        if n is not None:
            if t.dim() == 0:
                t = t.expand(n)
            if t.shape != (n,):
                raise ValueError(f"t must have shape ({n},), one step per example (got {tuple(t.shape)})")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.T):
            raise ValueError(f"t must lie in 0..{self.T - 1} for a schedule of T={self.T} steps (got {int(t.min())}..{int(t.max())})")
        return t.long()


def make_schedule(T: int = 200, kind: str = "cosine", max_beta: float = 0.5) -> NoiseSchedule:
    """A schedule of T steps.

    - "cosine" (Nichol & Dhariwal 2021): abar_t = cos^2((t/T + s)/(1 + s) * pi/2), s = 0.008; the
      noise grows gently at both ends. Its last betas approach 1, so they are capped at
      ``max_beta``. The paper's cap of 0.999 leaves alpha = 0.001 for the first reverse step,
      whose mean divides by sqrt(alpha): the network's error there is multiplied by 30 (and a
      DDIM step's by over 100), enough to throw 2D points off their modes. At 0.5 the last
      step still ends in noise: at T = 200, abar = 7e-5, a signal of sqrt(abar) = 0.008.
    - "linear" (Ho et al. 2020): betas from 1e-4 to 0.02, stretched by 1000/T so that T steps
      reach about the same total noise as the paper's 1,000 (capped at ``max_beta`` too).
    """
    if not isinstance(T, int) or isinstance(T, bool) or T < 2:
        raise ValueError(f"T must be a whole number of steps >= 2 (got {T!r})")
    if not 0 < max_beta < 1:
        raise ValueError(f"max_beta must lie between 0 and 1 (got {max_beta})")
    if kind == "cosine":
        s = 0.008
        f = torch.cos((torch.arange(T + 1, dtype=torch.float64) / T + s) / (1 + s) * math.pi / 2) ** 2
        abar = f / f[0]
        betas = (1 - abar[1:] / abar[:-1]).clamp(min=1e-8, max=max_beta)
    elif kind == "linear":
        scale = 1000 / T
        betas = torch.linspace(1e-4 * scale, min(0.02 * scale, max_beta), T, dtype=torch.float64).clamp(max=max_beta)
    else:
        raise ValueError(f"schedule kind must be 'cosine' or 'linear' (got {kind!r})")
    return NoiseSchedule(betas, kind)


def _per_example(v: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """v[t] shaped (B, 1, ...) to broadcast against ``like`` (B, ...)."""
    return v.to(like.device)[t.to(v.device)].reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)


def q_sample(x0: torch.Tensor, t: torch.Tensor, schedule: NoiseSchedule, noise: torch.Tensor) -> torch.Tensor:
    """The forward process in closed form: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise.

    x0: (B, ...) data in model units; t: (B,) steps in 0..T-1; noise: like x0. Returns x_t like x0.
    """
    if noise.shape != x0.shape:
        raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)} (got {tuple(noise.shape)})")
    t = schedule.check_t(t, x0.shape[0])
    abar = _per_example(schedule.alpha_bars, t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def predict_x0(xt: torch.Tensor, t: torch.Tensor, eps: torch.Tensor, schedule: NoiseSchedule) -> torch.Tensor:
    """The clean data implied by a noise prediction: x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)."""
    t = schedule.check_t(t, xt.shape[0])
    abar = _per_example(schedule.alpha_bars, t, xt)
    return (xt - (1 - abar).sqrt() * eps) / abar.sqrt()
