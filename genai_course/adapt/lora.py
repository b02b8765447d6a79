"""LoRA (low-rank adaptation, Hu et al. 2021): train a small correction to a frozen linear layer.

A frozen layer computes ``W x + b`` with W (out, in). LoRA adds ``(alpha / r) * B A x`` with
A (r, in) and B (out, r), r much smaller than in and out, and trains only A and B:

    y = W x + b + (alpha / r) * B (A x)

B starts at zero, so the adapted layer starts as the frozen one exactly; A starts small and
random, so B's first gradient (which is proportional to A x) is not zero. The update B A has
rank at most r and r * (in + out) numbers instead of in * out. ``merge_lora`` folds it into W
(``W + (alpha / r) B A``): the merged layer computes the same outputs at the cost of a plain one.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["LoRALinear", "add_lora", "merge_lora", "lora_parameter_count"]


def lora_parameter_count(in_features: int, out_features: int, rank: int) -> int:
    """Trainable numbers of one LoRA adapter on an (out, in) layer: r * (in + out)."""
    return rank * (in_features + out_features)


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank correction: x (..., in) -> (..., out).

    ``A`` (r, in) ~ N(0, 1 / in) from ``generator``; ``B`` (out, r) zeros; ``scale`` = alpha / r
    (alpha defaults to r, so scale 1). The base layer's weight and bias never get gradients.
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float | None = None, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRA wraps an nn.Linear (got {type(base).__name__})")
        if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
            raise ValueError(f"rank must be a positive whole number (got {rank!r})")
        if rank > min(base.in_features, base.out_features):
            raise ValueError(f"rank {rank} is more than this layer's smaller side ({min(base.in_features, base.out_features)}): "
                             "a low-rank update must be smaller than the layer")
        self.base, self.rank = base, rank
        self.scale = (rank if alpha is None else float(alpha)) / rank
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        a = torch.randn(rank, base.in_features, generator=generator) / math.sqrt(base.in_features)
        self.A = nn.Parameter(a.to(w.device, w.dtype))  # (r, in)
        self.B = nn.Parameter(torch.zeros(base.out_features, rank, device=w.device, dtype=w.dtype))  # (out, r)

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def delta(self) -> torch.Tensor:
        """The update to W: (alpha / r) * B A, (out, in), of rank at most r."""
        return self.scale * self.B @ self.A

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T  # (..., out)

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with W + (alpha / r) B A and the base's bias: the same outputs."""
        layer = nn.Linear(self.in_features, self.out_features, bias=self.base.bias is not None)
        layer = layer.to(self.base.weight.device, self.base.weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(self.base.weight + self.delta())
            if self.base.bias is not None:
                layer.bias.copy_(self.base.bias)
        return layer


def add_lora(module: nn.Module, rank: int, alpha: float | None = None, *, generator: torch.Generator | None = None) -> int:
    """Wrap every ``nn.Linear`` inside ``module`` (in place) in a ``LoRALinear``: the number of
    adapter parameters added. Layers already wrapped are left as they are."""
    added = 0
    for name, child in list(module.named_children()):
        if isinstance(child, LoRALinear):
            continue
        if isinstance(child, nn.Linear):
            wrapped = LoRALinear(child, rank, alpha, generator)
            setattr(module, name, wrapped)
            added += lora_parameter_count(child.in_features, child.out_features, rank)
        else:
            added += add_lora(child, rank, alpha, generator=generator)
    return added


def merge_lora(module: nn.Module) -> nn.Module:
    """Replace every ``LoRALinear`` inside ``module`` (in place) by its merged ``nn.Linear``; returns ``module``."""
    for name, child in list(module.named_children()):
        if isinstance(child, LoRALinear):
            setattr(module, name, child.merged())
        else:
            merge_lora(child)
    return module
