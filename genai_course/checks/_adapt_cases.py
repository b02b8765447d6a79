"""The inputs of lesson 14's checks (``adaptation``), rebuilt from seeds by probe and judge alike.

14.1: an embedding table, the indices looked up, a projection of the lookups (for a backward
pass) and the random B the probe sets. 14.2: a two-layer network whose first layer trains one
column, the optimizers tried, the short training run, and the judge's own run of it with
everything but the column frozen. 14.3: new and replayed examples whose images are all
different, so that each row of a batch can be traced back to where it came from.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

# --------------------------------------------------------------------------- 14.1

_EMBED_CASES = ((10, 6, 3, 0), (7, 12, 2, 1))  # (rows K, width E, rank r, seed)


def _embed_inputs(rows: int, dim: int, rank: int, seed: int) -> tuple[nn.Embedding, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A trainable table (K, E), indices (N,) (every row, shuffled, and a few again), a projection (N, E) of the
    lookups, and a random B (E, r)."""
    g = torch.Generator().manual_seed(500 + seed)
    table = nn.Embedding.from_pretrained(torch.randn(rows, dim, generator=g), freeze=False)
    idx = torch.cat([torch.randperm(rows, generator=g), torch.tensor([0, rows - 1, 1])])
    return table, idx, torch.randn(len(idx), dim, generator=g), torch.randn(dim, rank, generator=g)


# --------------------------------------------------------------------------- 14.2

_COLUMN_CASES = (((6, 6, 2), 2, 0), ((7, 5, 3), 6, 1))  # ((inputs, hidden, outputs), the column that trains, seed)
_OPTIMIZERS = ("Adam", "fused Adam", "SGD with momentum")
_STEPS = 5


def _column_net(sizes: tuple[int, int, int], seed: int) -> nn.Sequential:
    """Linear(in, hidden), tanh, Linear(hidden, out), its weights drawn from ``seed`` (the global RNG is left alone)."""
    d_in, hidden, d_out = sizes
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(), nn.Linear(hidden, d_out))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=g))
    return net


def _column_run(net: nn.Module) -> dict[str, torch.Tensor]:
    """The network's weights as the checks name them to the learner (copies)."""
    first, second = net[0], net[2]
    return {"first layer's weight": first.weight.detach().clone(), "first layer's bias": first.bias.detach().clone(),
            "second layer's weight": second.weight.detach().clone(), "second layer's bias": second.bias.detach().clone()}


def _train_steps(net: nn.Module, opt_name: str, sizes: tuple[int, int, int], column: int, seed: int) -> None:
    """A few steps of regression with an optimizer over ``net.parameters()``; every input, the column's too, is busy."""
    params = list(net.parameters())
    if opt_name == "SGD with momentum":
        opt: torch.optim.Optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    else:
        opt = torch.optim.Adam(params, lr=0.01, fused=opt_name == "fused Adam")
    g = torch.Generator().manual_seed(1000 + seed)
    for _ in range(_STEPS):
        x, y = torch.randn(16, sizes[0], generator=g), torch.randn(16, sizes[2], generator=g)
        opt.zero_grad()
        F.mse_loss(net(x), y).backward()
        opt.step()


def _reference_column(sizes: tuple[int, int, int], column: int, seed: int, opt_name: str) -> torch.Tensor:
    """The column (hidden,) after the same run with everything else frozen: the judge's own."""
    net = _column_net(sizes, seed)
    for p in net.parameters():
        p.requires_grad_(False)
    weight = net[0].weight
    weight.requires_grad_(True)
    keep = torch.zeros_like(weight)
    keep[:, column] = 1.0
    weight.register_hook(lambda grad: grad * keep)
    _train_steps(net, opt_name, sizes, column, seed)
    return weight.detach()[:, column].clone()


# --------------------------------------------------------------------------- 14.3


class _MixCase(NamedTuple):
    new: int  # new examples given
    old: int  # replayed examples given
    batch: int
    fraction: float
    seed: int
    new_labels: tuple[int, ...]


_MIX_CASES = (_MixCase(20, 150, 32, 0.3, 0, (9,)), _MixCase(6, 40, 24, 0.5, 1, (9, 10)), _MixCase(20, 150, 14, 0.3, 2, (9,)))


def _mix_inputs(case: _MixCase) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """new_x (n, 1, 8, 8), new_y (n,) of the new labels, old_x (m, 1, 8, 8), old_y (m,) in 0..8: images all different."""
    g = torch.Generator().manual_seed(700 + case.seed)
    new_x, old_x = torch.rand(case.new, 1, 8, 8, generator=g), torch.rand(case.old, 1, 8, 8, generator=g)
    new_y = torch.tensor(case.new_labels)[torch.randint(len(case.new_labels), (case.new,), generator=g)]
    return new_x, new_y, old_x, torch.randint(0, 9, (case.old,), generator=g)
