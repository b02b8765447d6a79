"""The noise predictors eps_theta(x_t, t [, y]): an MLP for 2D points and a tiny U-Net for 8x8
digits, both told the step (sinusoidal features) and, when conditional, the label."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def timestep_embedding(t: torch.Tensor, dim: int = 64, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of the step numbers, as in transformers' positions: (B,) -> (B, dim).

    Half the features are sin(t * f_i), half cos(t * f_i), with frequencies f_i from 1 down to
    1/max_period, so nearby steps get nearby features and every step a distinct one.
    """
    if dim % 2:
        raise ValueError(f"dim must be even (got {dim})")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([args.sin(), args.cos()], dim=1)


def _check_net_inputs(
    x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None, shape: tuple[int, ...], num_classes: int, what: str, continuous: bool = False
) -> None:
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        want = ", ".join(["B", *map(str, shape)])
        raise ValueError(f"{what} takes x of shape ({want}) (got {tuple(x.shape)})")
    if continuous:
        if t.shape != (x.shape[0],) or not t.dtype.is_floating_point:
            raise ValueError(f"{what} takes t as ({x.shape[0]},) times in [0, 1], one per example (got {tuple(t.shape)} {t.dtype})")
    elif t.shape != (x.shape[0],) or t.dtype.is_floating_point:
        raise ValueError(f"{what} takes t as ({x.shape[0]},) whole step numbers, one per example (got {tuple(t.shape)} {t.dtype})")
    if num_classes == 0:
        if y is not None:
            raise ValueError(f"this {what} is unconditional (num_classes=0): it takes no labels")
    elif y is not None:
        if y.shape != (x.shape[0],) or y.dtype.is_floating_point:
            raise ValueError(f"labels must be ({x.shape[0]},) whole numbers (got {tuple(y.shape)} {y.dtype})")
        if y.numel() and (int(y.min()) < 0 or int(y.max()) > num_classes):
            raise ValueError(f"labels must lie in 0..{num_classes - 1}, or {num_classes} for 'no label' (got {int(y.min())}..{int(y.max())})")


class _Conditioning(nn.Module):
    """Step (and label) -> one embedding vector (B, dim): an MLP of the sinusoidal step features,
    plus a learned vector per label (index num_classes = "no label")."""

    def __init__(self, dim: int, num_classes: int, time_dim: int = 64) -> None:
        super().__init__()
        self.time_dim, self.num_classes = time_dim, num_classes
        self.time = nn.Sequential(nn.Linear(time_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.label = nn.Embedding(num_classes + 1, dim) if num_classes else None

    def forward(self, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        e = self.time(timestep_embedding(t, self.time_dim))
        if self.label is not None:
            if y is None:
                y = torch.full_like(t, self.num_classes)  # no label given: the unconditional branch
            e = e + self.label(y)
        return e


# A continuous time t in [0, 1] (flow matching, lesson 16) enters the same sinusoidal features as
# t x TIME_SCALE, so it spans the frequencies that a diffusion model's steps 0..T-1 do.
TIME_SCALE = 1000.0


class MLPDenoiser(nn.Module):
    """Noise predictor for 2D points: (x (B, 2), t (B,), y (B,) or None) -> eps (B, 2).

    Each of ``depth`` hidden layers of ``width`` units gets the step embedding added before its
    SiLU, so every layer knows how noisy its input is. ``dim``: the size of x (2 for points; a
    VAE's latent size in lesson 16). ``continuous``: t is a time in [0, 1] (floats; lesson 16's
    velocity networks) instead of whole step numbers.
    """

    def __init__(
        self, width: int = 256, depth: int = 3, num_classes: int = 0, time_dim: int = 64, fourier: int = 0,
        dim: int = 2, continuous: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes, self.fourier, self.dim, self.continuous = num_classes, fourier, dim, continuous
        self.cond = _Conditioning(width, num_classes, time_dim)
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(fourier, dtype=torch.float32), persistent=False)
        self.inp = nn.Linear(dim + 2 * dim * fourier, width)
        self.hidden = nn.ModuleList(nn.Linear(width, width) for _ in range(depth - 1))
        self.emb = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.out = nn.Linear(width, dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, D) -> (B, D + 2DF): x, then sin and cos of pi 2^k x for k < F (F = ``fourier``).

        An MLP of x alone draws smooth functions; near the end of the reverse process the noise
        to predict changes sharply from one mode to the next, and these features let it."""
        if not self.fourier:
            return x
        a = (x[:, :, None] * self.freqs).flatten(1)  # (B, DF)
        return torch.cat([x, a.sin(), a.cos()], dim=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        _check_net_inputs(x, t, y, (self.dim,), self.num_classes, "MLPDenoiser", self.continuous)
        e = self.cond(t * TIME_SCALE if self.continuous else t, y)
        h = F.silu(self.inp(self.features(x)) + self.emb[0](e))
        for layer, emb in zip(self.hidden, self.emb[1:]):
            h = F.silu(layer(h) + emb(e))
        return self.out(h)


class _ResBlock(nn.Module):
    """GroupNorm, SiLU, conv, + embedding (per channel), GroupNorm, SiLU, conv; plus a skip."""

    def __init__(self, cin: int, cout: int, dim: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(dim, cout)
        self.norm2, self.conv2 = nn.GroupNorm(8, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x))) + self.emb(e)[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class ConvDenoiser(nn.Module):
    """Noise predictor for 8x8 digits: (x (B, 1, 8, 8), t (B,), y (B,) or None) -> eps (B, 1, 8, 8).

    A tiny U-Net: 8x8 at C channels -> 4x4 at 2C (two residual blocks) -> back to 8x8, joined
    with the 8x8 features by a skip connection. Step and label enter every residual block.
    """

    def __init__(self, channels: int = 32, num_classes: int = 0, time_dim: int = 64, emb_dim: int = 128) -> None:
        super().__init__()
        if channels % 8:
            raise ValueError(f"channels must be a multiple of 8 (GroupNorm of 8 groups) (got {channels})")
        c = channels
        self.num_classes = num_classes
        self.cond = _Conditioning(emb_dim, num_classes, time_dim)
        self.inp = nn.Conv2d(1, c, 3, padding=1)
        self.block1 = _ResBlock(c, c, emb_dim)
        self.down = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.mid1, self.mid2 = _ResBlock(2 * c, 2 * c, emb_dim), _ResBlock(2 * c, 2 * c, emb_dim)
        self.up = nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1)
        self.block2 = _ResBlock(2 * c, c, emb_dim)
        self.out = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        _check_net_inputs(x, t, y, (1, 8, 8), self.num_classes, "ConvDenoiser")
        e = self.cond(t, y)
        h1 = self.block1(self.inp(x), e)  # (B, C, 8, 8)
        h = self.mid2(self.mid1(self.down(h1), e), e)  # (B, 2C, 4, 4)
        h = self.block2(torch.cat([self.up(h), h1], dim=1), e)  # (B, C, 8, 8)
        return self.out(h)
