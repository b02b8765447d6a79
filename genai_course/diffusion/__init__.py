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

The rooms: ``schedule`` (the noise levels and the forward process), ``denoisers`` (the
networks), ``sampling`` (the reverse steps, guidance and ``DDPM``), ``training`` (the loop and
the EMA copy). Every public name is importable from ``genai_course.diffusion``.
"""

from __future__ import annotations

from .denoisers import ConvDenoiser, MLPDenoiser, timestep_embedding
from .sampling import DDPM, DDPMConfig, Trajectory, as_labels, ddim_step, guided_call, guided_eps, reverse_step
from .schedule import NoiseSchedule, make_schedule, predict_x0, q_sample
from .training import DDPMHistory, DDPMTrainConfig, ema_copy, make_optimizer, train_ddpm, update_ema

__all__ = [
    "NoiseSchedule", "make_schedule", "q_sample", "predict_x0", "reverse_step", "ddim_step", "guided_eps", "guided_call", "as_labels",
    "timestep_embedding", "MLPDenoiser", "ConvDenoiser", "DDPMConfig", "DDPM", "Trajectory",
    "DDPMTrainConfig", "DDPMHistory", "train_ddpm", "update_ema", "ema_copy", "make_optimizer",
]
