"""Rectified flow's "reflow": pair each noise x0 with the output x1 a trained flow model draws from
it, and train again on those pairs; a measure of how straight a model's paths are."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from ..diffusion import as_labels
from ..utils import weights_sha256
from .sampling import FlowModel, FlowTrajectory, check_steps


@dataclass
class ReflowPairs:
    """Noise x0 (N, D) and what the model named in ``source`` made of it, x1 (N, D) [and the labels
    y (N,) it was asked for]. ``source``: the model's name, the sha256 of its weights, and the
    sampler (steps, method, guidance) that made x1."""

    x0: torch.Tensor
    x1: torch.Tensor
    y: torch.Tensor | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.x0.shape[0]


def make_pairs(
    model: FlowModel, n: int, *, steps: int, method: str = "midpoint", name: str = "", labels: torch.Tensor | None = None,
    guidance: float = 0.0, generator: torch.Generator | None = None, chunk: int = 10_000,
) -> ReflowPairs:
    """n pairs (x0, x1 = the model's sample from x0), drawn ``chunk`` at a time with ``steps`` steps of
    ``method``; ``name``: what to call the model in the record (its weights' sha256 is added)."""
    check_steps(steps, method)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive whole number of pairs (got {n!r})")
    x0 = torch.randn((n, *model.shape), generator=generator)
    y = as_labels(labels, n, model.num_classes, "flow model", need=False)
    parts = []
    for s in range(0, n, chunk):
        ys = None if y is None else y[s : s + chunk]
        parts.append(model.sample(min(chunk, n - s), ys, steps=steps, method=method, guidance=guidance, noise=x0[s : s + chunk]).cpu())
    source = {"model": name, "weights_sha256": weights_sha256(model), "steps": steps, "method": method, "guidance": guidance}
    return ReflowPairs(x0, torch.cat(parts), y, source)


def straightness(trajectory: FlowTrajectory) -> float:
    """How far a sampled path is from a straight line (0 = straight): the mean over steps and samples
    of |step velocity - (x_end - x_start)|^2, where the step velocity is (x_{i+1} - x_i) / dt_i.
    A straight path moves at one constant velocity, the whole displacement per unit time."""
    if len(trajectory.x) < 2:
        raise ValueError("a trajectory needs at least two states (a start and an end)")
    total = trajectory.x[-1] - trajectory.x[0]
    errs = []
    for (t0, x0), (t1, x1) in zip(zip(trajectory.t, trajectory.x), zip(trajectory.t[1:], trajectory.x[1:])):
        errs.append(((x1 - x0) / (t1 - t0) - total).pow(2).sum(1).mean())
    return float(torch.stack(errs).mean())
