"""Training a DDPM: Adam on the noise-prediction loss through the course's loop
(``loop.minimize``), with a moving average of the weights (EMA) to sample from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn

from ..loop import Plan, Stream, ema_copy, minimize_averaged, update_ema
from .sampling import DDPM


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
    ends it early; ``plan`` cuts each batch into micro-batches and processes (``loop.Plan``). Callbacks get (step, ema or ddpm, logs) after every step, step counted from 1.
    """
    if x.dim() != len(ddpm.shape) + 1 or tuple(x.shape[1:]) != ddpm.shape:
        raise ValueError(f"training data must have shape (N, {', '.join(map(str, ddpm.shape))}) (got {tuple(x.shape)})")
    if (y is None) != (ddpm.num_classes == 0):
        raise ValueError("labels y are needed for a conditional DDPM and must be None for an unconditional one")
    optimizer = optimizer or make_optimizer(ddpm, config)
    if generator is None:
        generator = torch.Generator().manual_seed(config.seed)
    history = history or DDPMHistory()

    def batch_loss(step: int, stream: Stream) -> tuple[torch.Tensor, dict[str, float]]:
        i = torch.randint(x.shape[0], (stream.batch_size,), generator=stream.generator)
        loss = ddpm.loss(x[i], None if y is None else y[i], generator=stream.generator, p_uncond=config.p_uncond)
        return loss, {"loss": loss.item()}

    minimize_averaged(ddpm, optimizer, batch_loss, config, history=history, ema=ema, callbacks=callbacks, generator=generator,
                      start_step=start_step, stop_at=stop_at, progress=progress, plan=plan)
    return history
