"""The reverse process: one ancestral step, one DDIM step, classifier-free guidance, and ``DDPM``,
a denoiser with its schedule that computes the training loss and samples from noise."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from ..loop import eval_mode
from .denoisers import ConvDenoiser, MLPDenoiser
from .schedule import NoiseSchedule, make_schedule, q_sample


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


def guided_call(net: nn.Module, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None, num_classes: int, guidance: float) -> torch.Tensor:
    """net(x, t, y), guided at scale ``guidance`` when labels are given: the labelled and the label-free
    ("no label" = ``num_classes``) inputs run side by side in ONE forward pass over 2B examples,
    then ``guided_eps`` mixes the two halves. x (B, ...), t (B,), y (B,) or None -> like x."""
    if y is None or guidance == 0:
        return net(x, t, y)
    both = net(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, num_classes)]))
    cond, uncond = both.chunk(2)
    return guided_eps(cond, uncond, guidance)


def as_labels(y: Any, n: int, num_classes: int, who: str, *, need: bool) -> torch.Tensor | None:
    """Labels asked of a conditional model (lesson 10's DDPM, lesson 16's flow), as (n,) int64: one label
    for all, or n of them, each in 0..K-1. None stays None unless ``need`` (training needs labels);
    an unconditional model (K = 0) takes none. ``who`` names the model in the errors."""
    if num_classes == 0:
        if y is not None:
            raise ValueError(f"this {who} is unconditional (num_classes=0): it takes no labels")
        return None
    if y is None:
        if need:
            raise ValueError(f"this {who} is class-conditional: give labels ({n},) in 0..{num_classes - 1}")
        return None
    y = torch.as_tensor(y)
    if y.dim() == 0:
        y = y.expand(n)
    if y.shape != (n,) or y.dtype.is_floating_point:
        raise ValueError(f"labels must be ({n},) whole numbers (got {tuple(y.shape)})")
    if n and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1} (got {int(y.min())}..{int(y.max())})")
    return y.long()


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
        y = as_labels(y, B, self.num_classes, "DDPM", need=True)
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
        return guided_call(self, x, tt, y, self.num_classes, guidance)

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
        y = as_labels(labels, n, self.num_classes, "DDPM", need=False)
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
