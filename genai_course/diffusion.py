"""Denoising diffusion (DDPM) for 2D points and 8x8 digits (lesson 10).

A diffusion model learns to undo noise. The *forward process* blurs data x_0 into noise
in T small Gaussian steps; its closed form is

    x_t = sqrt(abar_t) * x_0 + sqrt(1 - abar_t) * eps,   eps ~ N(0, I),

with abar_t = prod_{s <= t} (1 - beta_s). A network eps_theta(x_t, t) learns to predict
the noise eps (a plain mean-squared error), and the *reverse process* walks from pure noise
x_T back to data, one denoising step at a time.

Conventions: time steps are 0-based, t = 0..T-1, and step t turns x_t into x_{t-1}
(x_{-1} is the sample). Networks work in "model units": 2D points divided by their
mixture's spread, digits scaled from [0, 1] to [-1, 1]; ``models.TrainedDDPM`` converts.

Pieces:
- ``NoiseSchedule`` (cosine or linear betas), ``q_sample`` (the forward process),
  ``predict_x0``, ``reverse_step`` (one ancestral step) and ``ddim_step`` (one
  deterministic DDIM step, which can skip steps).
- ``timestep_embedding``, ``MLPDenoiser`` (2D points) and ``ConvDenoiser`` (digits), both
  ``(x, t, y) -> predicted noise``; with ``num_classes`` > 0 they take labels, and the label
  ``num_classes`` means "no label" (classifier-free guidance).
- ``DDPM``: a network with its schedule: ``loss``, ``eps`` (with a guidance scale) and
  ``sample`` (ancestral or DDIM, with ``generator=``, optionally keeping the trajectory).
- ``DDPMTrainConfig`` and ``train_ddpm`` (Adam, cosine learning rate, an EMA copy).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn
from torch.nn import functional as F

from .train import Plan, Stream, eval_mode, minimize

__all__ = [
    "NoiseSchedule", "make_schedule", "q_sample", "predict_x0", "reverse_step", "ddim_step", "guided_eps",
    "timestep_embedding", "MLPDenoiser", "ConvDenoiser", "DDPMConfig", "DDPM", "Trajectory",
    "DDPMTrainConfig", "DDPMHistory", "train_ddpm", "update_ema", "ema_copy", "make_optimizer",
]


# ------------------------------------------------------------------------------ schedule


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


def reverse_step(
    xt: torch.Tensor, t: int, eps: torch.Tensor, schedule: NoiseSchedule, noise: torch.Tensor | None = None,
    *, clip: float | None = None, variance: str = "posterior",
) -> torch.Tensor:
    """One ancestral step of the reverse process, x_t -> x_{t-1}, for all examples at step t.

        mean = (x_t - beta_t / sqrt(1 - abar_t) * eps) / sqrt(alpha_t)
        x_{t-1} = mean + sigma_t * noise        (no noise at t = 0)

    sigma_t^2 is beta~_t (``variance="posterior"``, the variance of q(x_{t-1} | x_t, x_0)) or
    beta_t (``"beta"``); Ho et al. found both work. With ``clip`` the implied x_0 is first
    clamped to [-clip, clip] and the mean is the posterior mean from it (the same mean when
    nothing is clamped). xt, eps, noise: (B, ...). Returns x_{t-1} (B, ...).
    """
    if eps.shape != xt.shape:
        raise ValueError(f"eps must have the shape of x_t {tuple(xt.shape)} (got {tuple(eps.shape)})")
    if not isinstance(t, int) or not 0 <= t < schedule.T:
        raise ValueError(f"t must be one step number in 0..{schedule.T - 1} (got {t!r})")
    beta, alpha, abar, abar_prev = (float(v[t]) for v in (schedule.betas, schedule.alphas, schedule.alpha_bars, schedule.alpha_bars_prev))
    if clip is None:
        mean = (xt - beta / math.sqrt(1 - abar) * eps) / math.sqrt(alpha)
    else:
        x0 = ((xt - math.sqrt(1 - abar) * eps) / math.sqrt(abar)).clamp(-clip, clip)
        mean = (math.sqrt(abar_prev) * beta * x0 + math.sqrt(alpha) * (1 - abar_prev) * xt) / (1 - abar)
    if t == 0:
        return mean
    if variance == "posterior":
        var = float(schedule.posterior_variance[t])
    elif variance == "beta":
        var = beta
    else:
        raise ValueError(f"variance must be 'posterior' or 'beta' (got {variance!r})")
    if noise is None:
        raise ValueError("reverse_step needs noise (like x_t) for every step but the last (t = 0)")
    if noise.shape != xt.shape:
        raise ValueError(f"noise must have the shape of x_t {tuple(xt.shape)} (got {tuple(noise.shape)})")
    return mean + math.sqrt(var) * noise


def ddim_step(
    xt: torch.Tensor, t: int, t_prev: int, eps: torch.Tensor, schedule: NoiseSchedule, *, clip: float | None = None
) -> torch.Tensor:
    """One deterministic DDIM step (Song et al. 2021, eta = 0) from step t to an earlier t_prev.

    x_0 is estimated from eps, then noised again to level t_prev with the *same* eps:
    x_{t_prev} = sqrt(abar_{t_prev}) x_0 + sqrt(1 - abar_{t_prev}) eps. t_prev = -1 means the end
    (abar = 1: the estimate of x_0 itself). Skipping steps is what makes it fast.
    """
    if not isinstance(t, int) or not 0 <= t < schedule.T:
        raise ValueError(f"t must be one step number in 0..{schedule.T - 1} (got {t!r})")
    if not isinstance(t_prev, int) or not -1 <= t_prev < t:
        raise ValueError(f"t_prev must be an earlier step than t={t}, or -1 for the end (got {t_prev!r})")
    abar = float(schedule.alpha_bars[t])
    abar_prev = 1.0 if t_prev < 0 else float(schedule.alpha_bars[t_prev])
    x0 = (xt - math.sqrt(1 - abar) * eps) / math.sqrt(abar)
    if clip is not None:
        x0 = x0.clamp(-clip, clip)
        eps = (xt - math.sqrt(abar) * x0) / math.sqrt(1 - abar)  # the noise consistent with the clamped x_0
    return math.sqrt(abar_prev) * x0 + math.sqrt(1 - abar_prev) * eps


# ------------------------------------------------------------------------------ networks


def timestep_embedding(t: torch.Tensor, dim: int = 64, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of the step numbers, as in transformers' positions: (B,) -> (B, dim).

    Half the features are sin(t * f_i), half cos(t * f_i), with frequencies f_i from 1 down to
    1/max_period, so nearby steps get nearby features and every step a distinct one.
    """
    if dim % 2:
        raise ValueError(f"dim must be even (got {dim})")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=1)


def _check_net_inputs(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None, shape: tuple[int, ...], num_classes: int, what: str) -> None:
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        want = ", ".join(["B", *map(str, shape)])
        raise ValueError(f"{what} takes x of shape ({want}) (got {tuple(x.shape)})")
    if t.shape != (x.shape[0],) or t.dtype.is_floating_point:
        raise ValueError(f"{what} takes t as ({x.shape[0]},) whole step numbers, one per example (got {tuple(t.shape)} {t.dtype})")
    if num_classes == 0:
        if y is not None:
            raise ValueError(f"this {what} is unconditional (num_classes=0): it takes no labels")
    elif y is not None:
        if y.shape != (x.shape[0],) or y.dtype.is_floating_point:
            raise ValueError(f"labels must be ({x.shape[0]},) whole numbers (got {tuple(y.shape)} {y.dtype})")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) > num_classes):
            raise ValueError(f"labels must lie in 0..{num_classes - 1}, or {num_classes} for 'no label' (got {int(y.min())}..{int(y.max())})")


class _Conditioning(nn.Module):
    """Step (and label) -> one embedding vector (B, dim): an MLP of the sinusoidal step features,
    plus a learned vector per label (index num_classes = "no label")."""

    def __init__(self, dim: int, num_classes: int, time_dim: int = 64) -> None:
        super().__init__()
        self.time_dim, self.num_classes = time_dim, num_classes
        self.time = nn.Sequential(nn.Linear(time_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.label = nn.Embedding(num_classes + 1, dim) if num_classes else None

    def forward(self, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        e = self.time(timestep_embedding(t, self.time_dim))
        if self.label is not None:
            if y is None:
                y = torch.full_like(t, self.num_classes)  # no label given: the unconditional branch
            e = e + self.label(y)
        return e


class MLPDenoiser(nn.Module):
    """Noise predictor for 2D points: (x (B, 2), t (B,), y (B,) or None) -> eps (B, 2).

    Each of ``depth`` hidden layers of ``width`` units gets the step embedding added before its
    SiLU, so every layer knows how noisy its input is.
    """

    def __init__(self, width: int = 256, depth: int = 3, num_classes: int = 0, time_dim: int = 64, fourier: int = 0) -> None:
        super().__init__()
        self.num_classes, self.fourier = num_classes, fourier
        self.cond = _Conditioning(width, num_classes, time_dim)
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(fourier, dtype=torch.float32), persistent=False)
        self.inp = nn.Linear(2 + 4 * fourier, width)
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
        self.emb = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.out = nn.Linear(width, 2)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 2) -> (B, 2 + 4F): x, then sin and cos of pi 2^k x for k < F (F = ``fourier``).

        An MLP of x alone draws smooth functions; near the end of the reverse process the noise
        to predict changes sharply from one mode to the next, and these features let it."""
        if not self.fourier:
            return x
        a = (x[:, :, None] * self.freqs).flatten(1)  # (B, 2F)
        return torch.cat([x, a.sin(), a.cos()], dim=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        _check_net_inputs(x, t, y, (2,), self.num_classes, "MLPDenoiser")
        e = self.cond(t, y)
        h = F.silu(self.inp(self.features(x)) + self.emb[0](e))
        for layer, emb in zip(self.hidden, self.emb[1:]):
            h = F.silu(layer(h) + emb(e))
        return self.out(h)


class _ResBlock(nn.Module):
    """GroupNorm, SiLU, conv, + embedding (per channel), GroupNorm, SiLU, conv; plus a skip."""

    def __init__(self, cin: int, cout: int, dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(dim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(8, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.emb(e)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class ConvDenoiser(nn.Module):
    """Noise predictor for 8x8 digits: (x (B, 1, 8, 8), t (B,), y (B,) or None) -> eps (B, 1, 8, 8).

    A tiny U-Net: 8x8 at C channels -> 4x4 at 2C (two residual blocks) -> back to 8x8, joined
    with the 8x8 features by a skip connection. Step and label enter every residual block.
    """

    def __init__(self, channels: int = 32, num_classes: int = 0, time_dim: int = 64, emb_dim: int = 128) -> None:
        super().__init__()
        if channels % 8:
            raise ValueError(f"channels must be a multiple of 8 (GroupNorm of 8 groups) (got {channels})")
        c = channels
        self.num_classes = num_classes
        self.cond = _Conditioning(emb_dim, num_classes, time_dim)
        self.inp = nn.Conv2d(1, c, 3, padding=1)
        self.block1 = _ResBlock(c, c, emb_dim)
        self.down = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.mid1, self.mid2 = _ResBlock(2 * c, 2 * c, emb_dim), _ResBlock(2 * c, 2 * c, emb_dim)
        self.up = nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1)
        self.block2 = _ResBlock(2 * c, c, emb_dim)
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        _check_net_inputs(x, t, y, (1, 8, 8), self.num_classes, "ConvDenoiser")
        e = self.cond(t, y)
        h1 = self.block1(self.inp(x), e)  # (B, C, 8, 8)
        h = self.mid2(self.mid1(self.down(h1), e), e)  # (B, 2C, 4, 4)
        h = self.block2(torch.cat([self.up(h), h1], dim=1), e)  # (B, C, 8, 8)
        return self.out(h)


# ------------------------------------------------------------------------------ the model


@dataclass
class DDPMConfig:
    """A diffusion model: its data, network and schedule.

    data: "points" (2D, an ``MLPDenoiser`` of ``width`` x ``depth``) or "digits" (8x8, a
    ``ConvDenoiser`` of ``channels``). num_classes > 0 makes it class-conditional (labels 0..K-1,
    K = "no label"). clip: the sampler clamps its estimate of x_0 to [-clip, clip] (digits: 1.0,
    the data's range in model units; None for points).
    """

    data: str = "points"
    T: int = 200
    schedule: str = "cosine"
    width: int = 256
    depth: int = 3
    fourier: int = 0  # points: sin/cos features of x at F octaves (see MLPDenoiser.features)
    channels: int = 32
    num_classes: int = 0
    clip: float | None = None


@dataclass
class Trajectory:
    """The reverse process as it went: ``x[i]`` (N, ...) in model units is the state at noise
    level ``steps[i]``: T-1 for the starting noise, then the level each step reached, down to -1
    for the final sample (no noise left). Ancestral sampling records T-1, T-2, ..., 0, -1."""

    steps: list[int] = field(default_factory=list)
    x: list[torch.Tensor] = field(default_factory=list)


def guided_eps(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, guidance: float) -> torch.Tensor:
    """Classifier-free guidance: (1 + w) eps(x, t, y) - w eps(x, t, no label).

    w = 0 is the plain conditional model; larger w pushes samples towards what makes the label
    likely (more recognisable, less varied).
    """
    return (1 + guidance) * eps_cond - guidance * eps_uncond


class DDPM(nn.Module):
    """A noise-prediction network with its noise schedule."""

    def __init__(self, config: DDPMConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DDPMConfig()
        self.schedule = make_schedule(config.T, config.schedule)
        if config.data == "points":
            self.net: nn.Module = MLPDenoiser(config.width, config.depth, config.num_classes, fourier=config.fourier)
            self.shape: tuple[int, ...] = (2,)
        elif config.data == "digits":
            self.net = ConvDenoiser(config.channels, config.num_classes)
            self.shape = (1, 8, 8)
        else:
            raise ValueError(f"data must be 'points' or 'digits' (got {config.data!r})")

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The predicted noise eps_theta(x_t, t[, y]): like x."""
        return self.net(x, t, y)

    def _labels(self, y: torch.Tensor | None, n: int, *, need: bool) -> torch.Tensor | None:
        if self.num_classes == 0:
            if y is not None:
                raise ValueError("this DDPM is unconditional (num_classes=0): it takes no labels")
            return None
        if y is None:
            if need:
                raise ValueError(f"this DDPM is class-conditional: give labels (n,) in 0..{self.num_classes - 1}")
            return None
        y = torch.as_tensor(y)
        if y.dim() == 0:
            y = y.expand(n)
        if y.shape != (n,) or y.dtype.is_floating_point:
            raise ValueError(f"labels must be ({n},) whole numbers (got {tuple(y.shape)})")
        if n and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1} (got {int(y.min())}..{int(y.max())})")
        return y.long()

    def loss(
        self, x0: torch.Tensor, y: torch.Tensor | None = None, *, generator: torch.Generator | None = None, p_uncond: float = 0.0
    ) -> torch.Tensor:
        """The simple DDPM loss: mean over the batch of |eps - eps_theta(x_t, t)|^2, with t drawn
        uniformly and x_t = q_sample(x0, t, eps). x0: (B, ...) in model units.

        For a conditional model each label is replaced by "no label" with probability
        ``p_uncond``, so the same network also learns the unconditional model (needed for guidance).
        """
        if x0.dim() != len(self.shape) + 1 or tuple(x0.shape[1:]) != self.shape:
            raise ValueError(f"x0 must have shape (B, {', '.join(map(str, self.shape))}) (got {tuple(x0.shape)})")
        if not 0.0 <= p_uncond <= 1.0:
            raise ValueError(f"p_uncond must be a probability in [0, 1] (got {p_uncond})")
        B = x0.shape[0]
        y = self._labels(y, B, need=True)
        t = torch.randint(self.schedule.T, (B,), generator=generator).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        if y is not None and p_uncond > 0:
            drop = torch.rand(B, generator=generator).to(x0.device) < p_uncond
            y = torch.where(drop, torch.full_like(y, self.num_classes), y)
        xt = q_sample(x0, t, self.schedule, noise)
        return F.mse_loss(self(xt, t, y), noise)

    def eps(self, x: torch.Tensor, t: int, y: torch.Tensor | None = None, guidance: float = 0.0) -> torch.Tensor:
        """The (guided) noise prediction for all of x (B, ...) at one step t."""
        tt = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        if y is None or guidance == 0:
            return self(x, tt, y)
        both = self(torch.cat([x, x]), torch.cat([tt, tt]), torch.cat([y, torch.full_like(y, self.num_classes)]))
        cond, uncond = both.chunk(2)
        return guided_eps(cond, uncond, guidance)

    def timesteps(self, sampler: str, steps: int | None) -> list[int]:
        """The steps a sampler visits, from T-1 down to 0: all T for "ancestral" (steps must be None
        or T); ``steps`` evenly spaced ones for "ddim" (default 50)."""
        T = self.schedule.T
        if sampler == "ancestral":
            if steps not in (None, T):
                raise ValueError(f"the ancestral sampler takes every one of the T={T} steps; use sampler='ddim' to take fewer (got steps={steps})")
            return list(range(T - 1, -1, -1))
        if sampler == "ddim":
            steps = 50 if steps is None else steps
            if not isinstance(steps, int) or not 1 <= steps <= T:
                raise ValueError(f"steps must be a whole number from 1 to T={T} (got {steps!r})")
            return sorted({int(round(v)) for v in torch.linspace(T - 1, 0, steps).tolist()}, reverse=True)
        raise ValueError(f"sampler must be 'ancestral' or 'ddim' (got {sampler!r})")

    @torch.no_grad()
    def sample(
        self,
        n: int,
        labels: torch.Tensor | None = None,
        *,
        guidance: float = 0.0,
        sampler: str = "ancestral",
        steps: int | None = None,
        generator: torch.Generator | None = None,
        noise: torch.Tensor | None = None,
        trajectory: Trajectory | None = None,
        variance: str = "posterior",
    ) -> torch.Tensor:
        """Draw n samples (n, ...) in model units by running the reverse process from x_T ~ N(0, I).

        labels: (n,) classes, or one for all, for a conditional model (None: the unconditional
        branch). guidance: the classifier-free guidance scale w (needs labels). sampler: "ancestral"
        (all T steps, fresh noise at each) or "ddim" (``steps`` steps, deterministic given x_T).
        noise: a given x_T (n, ...) instead of drawing it. trajectory: if given, x after every step
        is appended to it (for the scrubber widget).
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive whole number of samples (got {n!r})")
        if not isinstance(guidance, (int, float)) or guidance < 0:
            raise ValueError(f"guidance must be a number >= 0 (got {guidance!r}); 0 is the plain conditional model")
        y = self._labels(labels, n, need=False)
        if guidance and y is None:
            raise ValueError("guidance needs labels: it pushes samples towards a class, so say which")
        ts = self.timesteps(sampler, steps)
        with eval_mode(self) as device:
            if noise is None:
                x = torch.randn((n, *self.shape), generator=generator).to(device)
            else:
                if tuple(noise.shape) != (n, *self.shape):
                    raise ValueError(f"noise must have shape {(n, *self.shape)} (got {tuple(noise.shape)})")
                x = noise.to(device).float()
            y = None if y is None else y.to(device)
            if trajectory is not None:
                trajectory.steps.append(ts[0])
                trajectory.x.append(x.cpu())
            for i, t in enumerate(ts):
                eps = self.eps(x, t, y, guidance)
                if sampler == "ancestral":
                    z = torch.randn(x.shape, generator=generator).to(device) if t > 0 else None
                    x = reverse_step(x, t, eps, self.schedule, z, clip=self.config.clip, variance=variance)
                else:
                    t_prev = ts[i + 1] if i + 1 < len(ts) else -1
                    x = ddim_step(x, t, t_prev, eps, self.schedule, clip=self.config.clip)
                if trajectory is not None:
                    trajectory.steps.append(ts[i + 1] if i + 1 < len(ts) else -1)
                    trajectory.x.append(x.cpu())
        if self.config.clip is not None:
            x = x.clamp(-self.config.clip, self.config.clip)
        return x


# ------------------------------------------------------------------------------ training


@dataclass
class DDPMTrainConfig:
    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-3
    lr_decay: str = "cosine"  # 'none', 'linear' or 'cosine' (to lr_final x lr at the end)
    lr_final: float = 0.0
    ema: float = 0.995  # decay of the weights' moving average, which is what samples (0 = off)
    p_uncond: float = 0.1  # conditional models: chance a label is dropped (classifier-free guidance)
    seed: int = 0  # seeds the batches and the noise of every step


@dataclass
class DDPMHistory:
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, parameter by parameter."""
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.lerp_(p, 1 - decay)


def make_optimizer(ddpm: DDPM, config: DDPMTrainConfig) -> torch.optim.Adam:
    return torch.optim.Adam(ddpm.parameters(), lr=config.lr, fused=True)


def train_ddpm(
    ddpm: DDPM,
    x: torch.Tensor,
    y: torch.Tensor | None,
    config: DDPMTrainConfig,
    *,
    ema: DDPM | None = None,
    callbacks: Iterable[Callable[[int, DDPM, dict[str, float]], None]] = (),
    progress: bool = True,
    optimizer: torch.optim.Optimizer | None = None,
    generator: torch.Generator | None = None,
    start_step: int = 0,
    stop_at: int | None = None,
    history: DDPMHistory | None = None,
    plan: Plan | None = None,
) -> DDPMHistory:
    """Minimise ``ddpm.loss`` with Adam on batches drawn at random from x (N, ...) [, y (N,)].

    ``ema`` (a copy of ddpm, e.g. ``copy.deepcopy(ddpm)``) follows the weights' moving average;
    sample from it. ``optimizer``, ``generator`` and ``start_step`` continue a run; ``stop_at``
    ends it early; ``plan`` cuts each batch into micro-batches and processes (``train.Plan``). Callbacks get (step, ema or ddpm, logs) after every step, step counted from 1.
    """
    if x.dim() != len(ddpm.shape) + 1 or tuple(x.shape[1:]) != ddpm.shape:
        raise ValueError(f"training data must have shape (N, {', '.join(map(str, ddpm.shape))}) (got {tuple(x.shape)})")
    if (y is None) != (ddpm.num_classes == 0):
        raise ValueError("labels y are needed for a conditional DDPM and must be None for an unconditional one")
    optimizer = optimizer or make_optimizer(ddpm, config)
    if generator is None:
        generator = torch.Generator().manual_seed(config.seed)
    history = history or DDPMHistory()
    callbacks = list(callbacks)

    def batch_loss(step: int, stream: Stream) -> tuple[torch.Tensor, dict[str, float]]:
        i = torch.randint(x.shape[0], (stream.batch_size,), generator=stream.generator)
        loss = ddpm.loss(x[i], None if y is None else y[i], generator=stream.generator, p_uncond=config.p_uncond)
        return loss, {"loss": loss.item()}

    def after_step(step: int, logs: dict[str, float]) -> None:
        if ema is not None:
            update_ema(ema, ddpm, config.ema)
        history.step.append(step)
        history.loss.append(logs["loss"])
        for callback in callbacks:
            callback(step, ema if ema is not None else ddpm, logs)

    history.seconds += minimize(
        ddpm, optimizer, batch_loss, config, after_step=after_step, generator=generator,
        start_step=start_step, stop_at=stop_at, progress=progress, plan=plan,
    )
    return history


def ema_copy(ddpm: DDPM) -> DDPM:
    """A frozen copy of ddpm to hold the moving average of its weights."""
    ema = copy.deepcopy(ddpm)
    ema.requires_grad_(False)
    return ema
