"""Training a flow model: Adam on the flow-matching loss through the course's loop
(``loop.minimize``), with a moving average of the weights (EMA) to sample from; on fresh noise
(flow matching) or on fixed pairs (reflow)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch

from ..diffusion import DDPMHistory, DDPMTrainConfig
from ..loop import Plan, Stream, minimize_averaged
from .reflow import ReflowPairs
from .sampling import FlowModel


@dataclass
class FlowTrainConfig(DDPMTrainConfig):
    """Lesson 10's training settings (``diffusion.DDPMTrainConfig``: Adam, learning-rate decay, EMA, label
    dropping, seed), with the flow recipes' defaults: 4,000 steps of batch 256."""

    steps: int = 4000
    batch_size: int = 256


FlowHistory = DDPMHistory  # the same record: steps, losses, seconds


def make_optimizer(flow: FlowModel, config: FlowTrainConfig) -> torch.optim.Adam:
    return torch.optim.Adam(flow.parameters(), lr=config.lr, fused=True)


def train_flow(
    flow: FlowModel,
    x: torch.Tensor | ReflowPairs,
    y: torch.Tensor | None,
    config: FlowTrainConfig,
    *,
    ema: FlowModel | None = None,
    callbacks: Iterable[Callable[[int, FlowModel, dict[str, float]], None]] = (),
    progress: bool = True,
    optimizer: torch.optim.Optimizer | None = None,
    generator: torch.Generator | None = None,
    start_step: int = 0,
    stop_at: int | None = None,
    history: FlowHistory | None = None,
    plan: Plan | None = None,
) -> FlowHistory:
    """Minimise ``flow.loss`` with Adam on random batches of x: data (N, D) [with labels y (N,)],
    each paired with fresh noise (flow matching); or ``ReflowPairs``, each x1 with its own x0
    (reflow; y must be None: the pairs carry their labels). ``ema``: a copy of flow that follows
    the weights' moving average (sample from it). Callbacks get (step, ema or flow, logs)."""
    pairs = x if isinstance(x, ReflowPairs) else None
    if pairs is not None:
        if y is not None:
            raise ValueError("reflow pairs carry their own labels: pass y=None")
        x1, x0, y = pairs.x1, pairs.x0, pairs.y
    else:
        x1, x0 = x, None
    if x1.dim() != 2 or tuple(x1.shape[1:]) != flow.shape:
        raise ValueError(f"training data must have shape (N, {flow.shape[0]}) (got {tuple(x1.shape)})")
    if (y is None) != (flow.num_classes == 0):
        raise ValueError("labels y are needed for a conditional flow model and must be None for an unconditional one")
    optimizer = optimizer or make_optimizer(flow, config)
    if generator is None:
        generator = torch.Generator().manual_seed(config.seed)
    history = history or FlowHistory()
    device = next(flow.parameters()).device
    x1 = x1.to(device)
    x0 = None if x0 is None else x0.to(device)
    y = None if y is None else y.to(device)

    def batch_loss(step: int, stream: Stream) -> tuple[torch.Tensor, dict[str, float]]:
        i = torch.randint(x1.shape[0], (stream.batch_size,), generator=stream.generator).to(device)
        loss = flow.loss(x1[i], None if y is None else y[i], x0=None if x0 is None else x0[i], generator=stream.generator, p_uncond=config.p_uncond)
        return loss, {"loss": loss.item()}

    minimize_averaged(flow, optimizer, batch_loss, config, history=history, ema=ema, callbacks=callbacks, generator=generator,
                      start_step=start_step, stop_at=stop_at, progress=progress, plan=plan)
    return history
