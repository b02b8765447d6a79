"""The four ways to adapt a trained network, and what each one trains and stores.

* ``finetune``: every weight trains, on the new examples only;
* ``replay``: every weight trains, on the new examples mixed with the model's own samples of
  the old classes (generative replay: no old data is kept, the model remembers for itself);
* ``lora``: the trained weights are frozen; low-rank adapters on every linear layer and the new
  class's column (or row) train;
* ``embedding``: only the new class's column (or row) trains; everything else is frozen.

``prepare`` sets a grown network up for a method (which parameters get gradients, adapters
added); ``trainable_parameters`` counts what trains and ``adapter_state`` is what a checkpoint of
the adaptation must store: the trained tensors (all of them for finetune and replay).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .lora import add_lora
from .new_class import NewClassInput, NewRowEmbedding

__all__ = ["METHODS", "AdaptConfig", "check_method", "prepare", "trainable_parameters", "adapter_state", "state_bytes"]

METHODS = ("finetune", "replay", "lora", "embedding")


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown adaptation method {method!r}: choose one of {', '.join(METHODS)}")
    return method


@dataclass
class AdaptConfig:
    """How to adapt: the method, the optimiser's settings, the LoRA rank and the replay's size."""

    method: str = "embedding"
    steps: int = 600  # Adam steps on the new examples (and, for replay, the model's own samples)
    lr: float = 3e-3
    batch_size: int = 64
    rank: int = 4  # LoRA's r
    replay: int = 900  # replay: how many of its own samples of the old classes the model mixes in
    seed: int = 0  # the adapters' initial values, the batches' order and the training noise

    def __post_init__(self) -> None:
        check_method(self.method)
        for name in ("steps", "batch_size", "rank", "replay"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive whole number (got {value!r})")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive (got {self.lr!r})")


def prepare(grown: nn.Module, method: str, rank: int = 4, generator: torch.Generator | None = None) -> nn.Module:
    """Set ``grown`` (a network with a ``NewClassInput`` or ``NewRowEmbedding`` inside) up for
    ``method``, in place: which parameters train, and LoRA adapters on every linear layer for
    'lora' (their A drawn from ``generator``). Returns ``grown``."""
    check_method(method)
    if method in ("lora", "embedding"):
        for p in grown.parameters():
            p.requires_grad_(False)
        new = [m.column if isinstance(m, NewClassInput) else m.row
               for m in grown.modules() if isinstance(m, (NewClassInput, NewRowEmbedding))]
        if not new:
            raise ValueError("this network has no new class to train: grow it first (add_class or add_language)")
        for p in new:
            p.requires_grad_(True)
    if method == "lora":
        add_lora(grown, rank, generator=generator)
    return grown


def trainable_parameters(module: nn.Module) -> int:
    """How many numbers get gradients."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def adapter_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """What an adaptation must store: the tensors that trained, by name (every tensor of the
    network if everything trained), detached copies on the CPU."""
    trained = {name: p for name, p in module.named_parameters() if p.requires_grad}
    everything = dict(module.state_dict())
    chosen = everything if len(trained) == len(list(module.parameters())) else trained
    return {name: t.detach().cpu().clone() for name, t in chosen.items()}


def state_bytes(state: dict[str, torch.Tensor]) -> int:
    """Bytes of the tensors' numbers (what a checkpoint of them weighs, before its small overhead)."""
    return sum(t.numel() * t.element_size() for t in state.values())
