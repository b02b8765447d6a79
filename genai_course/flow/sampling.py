"""Sampling a flow model: integrate dx/dt = v(x, t) from noise at t = 0 to data at t = 1 with
Euler or midpoint steps; ``FlowModel`` is a velocity network with its loss and sampler."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from ..diffusion import MLPDenoiser, as_labels, guided_call
from ..loop import eval_mode
from .paths import interpolate, target_velocity

METHODS = {"euler": 1, "midpoint": 2}  # network calls per step


def euler_step(x: torch.Tensor, v: torch.Tensor, dt: float) -> torch.Tensor:
    """One Euler step: x + dt v(x, t). x, v: (B, ...)."""
    if v.shape != x.shape:
        raise ValueError(f"the velocity must have the shape of x {tuple(x.shape)} (got {tuple(v.shape)})")
    return x + dt * v


@dataclass
class FlowConfig:
    """A flow model's network: an ``MLPDenoiser`` (lesson 10's) of ``width`` x ``depth`` on vectors of
    ``dim`` (2 for points, a VAE's latent size for digits), told a continuous time; ``fourier``
    octaves of sin/cos features of x; ``num_classes`` > 0: conditional (label K = "no label")."""

    dim: int = 2
    width: int = 256
    depth: int = 3
    fourier: int = 6
    num_classes: int = 0


@dataclass
class FlowTrajectory:
    """The ODE as it went: ``x[i]`` (N, D) is the state at time ``t[i]``, from 0 (noise) to 1."""

    t: list[float] = field(default_factory=list)
    x: list[torch.Tensor] = field(default_factory=list)


def check_steps(steps: int, method: str) -> int:
    """The number of network calls ``steps`` steps of ``method`` take (1 a step for Euler, 2 for midpoint)."""
    if method not in METHODS:
        raise ValueError(f"method must be 'euler' or 'midpoint' (got {method!r})")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1 (got {steps!r})")
    return steps * METHODS[method]


class FlowModel(nn.Module):
    """A velocity network v_theta(x_t, t [, y]) trained by flow matching, and its ODE sampler."""

    def __init__(self, config: FlowConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or FlowConfig()
        self.net = MLPDenoiser(config.width, config.depth, config.num_classes, fourier=config.fourier, dim=config.dim, continuous=True)
        self.shape: tuple[int, ...] = (config.dim,)
        self.calls = 0  # network calls made by ``velocity`` so far (a guided call counts once: one batched pass)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The predicted velocity v_theta(x, t[, y]): (B, D), t (B,) in [0, 1]."""
        return self.net(x, t, y)

    def loss(
        self, x1: torch.Tensor, y: torch.Tensor | None = None, *, x0: torch.Tensor | None = None,
        generator: torch.Generator | None = None, p_uncond: float = 0.0,
    ) -> torch.Tensor:
        """Flow matching: mean over the batch of |(x1 - x0) - v_theta(x_t, t)|^2 with t ~ U(0, 1) and
        x_t on the straight line. x1: data (B, D); x0: the noise paired with each (reflow gives it;
        None draws it fresh, independent of x1). Labels are dropped with probability ``p_uncond``
        (the "no label" branch that guidance needs)."""
        if x1.dim() != 2 or tuple(x1.shape[1:]) != self.shape:
            raise ValueError(f"x1 must have shape (B, {self.shape[0]}) (got {tuple(x1.shape)})")
        if not 0.0 <= p_uncond <= 1.0:
            raise ValueError(f"p_uncond must be a probability in [0, 1] (got {p_uncond})")
        B = x1.shape[0]
        y = as_labels(y, B, self.num_classes, "flow model", need=True)
        if x0 is None:
            x0 = torch.randn(x1.shape, generator=generator).to(x1.device)
        t = torch.rand(B, generator=generator).to(x1.device)
        if y is not None and p_uncond > 0:
            drop = torch.rand(B, generator=generator).to(x1.device) < p_uncond
            y = torch.where(drop, torch.full_like(y, self.num_classes), y)
        return F.mse_loss(self(interpolate(x0, x1, t), t, y), target_velocity(x0, x1))

    def velocity(self, x: torch.Tensor, t: float, y: torch.Tensor | None = None, guidance: float = 0.0) -> torch.Tensor:
        """The (guided) velocity at time t for all of x (B, D): one network call (guidance runs the
        labelled and label-free inputs side by side in the same call)."""
        self.calls += 1
        tt = torch.full((x.shape[0],), float(t), device=x.device)
        return guided_call(self, x, tt, y, self.num_classes, guidance)  # (1 + w) v(x, t, y) - w v(x, t, no label)

    @torch.no_grad()
    def sample(
        self, n: int, labels: torch.Tensor | None = None, *, steps: int = 100, method: str = "euler", guidance: float = 0.0,
        generator: torch.Generator | None = None, noise: torch.Tensor | None = None, trajectory: FlowTrajectory | None = None,
    ) -> torch.Tensor:
        """Draw n samples (n, D): start at x_0 ~ N(0, I) (or ``noise``) and take ``steps`` equal steps of
        ``method`` ("euler": x += dt v(x, t); "midpoint": x += dt v(x + dt/2 v(x, t), t + dt/2)) to
        t = 1: exactly ``check_steps(steps, method)`` network calls. ``trajectory`` records every state."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive whole number of samples (got {n!r})")
        check_steps(steps, method)
        if not isinstance(guidance, (int, float)) or guidance < 0:
            raise ValueError(f"guidance must be a number >= 0 (got {guidance!r}); 0 is the plain conditional model")
        y = as_labels(labels, n, self.num_classes, "flow model", need=False)
        if guidance and y is None:
            raise ValueError("guidance needs labels: it pushes samples towards a class, so say which")
        with eval_mode(self) as device:
            if noise is None:
                x = torch.randn((n, *self.shape), generator=generator).to(device)
            else:
                if tuple(noise.shape) != (n, *self.shape):
                    raise ValueError(f"noise must have shape {(n, *self.shape)} (got {tuple(noise.shape)})")
                x = noise.to(device).float()
            y = None if y is None else y.to(device)
            dt = 1.0 / steps
            if trajectory is not None:
                trajectory.t.append(0.0)
                trajectory.x.append(x.cpu())
            for i in range(steps):
                t = i * dt
                v = self.velocity(x, t, y, guidance)
                if method == "midpoint":
                    v = self.velocity(euler_step(x, v, dt / 2), t + dt / 2, y, guidance)
                x = euler_step(x, v, dt)
                if trajectory is not None:
                    trajectory.t.append((i + 1) * dt)
                    trajectory.x.append(x.cpu())
        return x
