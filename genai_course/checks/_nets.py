"""The small networks lesson 12's checks train, built without touching the global random state."""

from __future__ import annotations

import torch
from torch import nn


def _tiny_net(seed: int, sizes: tuple[int, ...] = (4, 8, 1)) -> nn.Module:
    """A tanh MLP whose weights come from a seeded generator (the global RNG is left alone)."""
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):  # nn.Linear draws its initial weights from the global RNG
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            layers += [nn.Linear(a, b)] + ([nn.Tanh()] if i < len(sizes) - 2 else [])
    net = nn.Sequential(*layers)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.7 * torch.randn(p.shape, generator=g))
    return net
