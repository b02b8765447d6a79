"""Exercise checks for lesson 01: sampling a mixture of Gaussians and computing its log density.

1.1 ``sample_ring8`` (the ring of 8 with unequal weights), 1.2 ``mixture_log_prob``.
Lessons call them through ``genai_course.checks``: ``checks.sample_ring8(fn)``.
Each is a probe (``def name(fn, seen)``: runs the learner's code, records what it saw) and a judge
(``@name.judge``: from those observations to the verdict), see ``_protocol``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch

from .. import data
from ..utils import same
from ._protocol import CheckFailed, Observed, _call, _exercise, _tensor, _with_advice
from .observations import observe

__all__ = ["sample_ring8", "mixture_log_prob"]


# --------------------------------------------------------------------------- lesson 01


_RING_WEIGHTS = (torch.arange(1, 9, dtype=torch.float32) / 36, torch.tensor([0.0, 0.0, 0.5, 0.0, 0.3, 0.0, 0.2, 0.0]))


@_exercise("1.1", "sampling a ring of 8 with unequal weights")
def sample_ring8(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(n, weights (8,), generator) -> (n, 2) points from the ring of 8, mode k picked with probability weights[k]."""
    for key, seed, w in (("x0", 0, _RING_WEIGHTS[0]), ("again", 0, _RING_WEIGHTS[0]), ("x1", 1, _RING_WEIGHTS[1])):
        seen[key] = observe(_call("sample_ring8", fn, 8000, w.clone(), torch.Generator().manual_seed(seed)))


@sample_ring8.judge
def _judge_sample_ring8(seen: Observed) -> str:
    ring = data.ring8()
    try:
        xs = [_tensor("sample_ring8(8000, weights, generator)", seen[key], (8000, 2)) for key in ("x0", "again", "x1")]
    except CheckFailed as e:
        raise _with_advice(e, [(("without replacement",), "each point picks its mode on its own, so one mode can be picked many times")]) from None
    if not torch.equal(xs[0], xs[1]):
        raise CheckFailed("two calls with generators seeded alike gave different points: a random draw does not use the generator you are given")
    for w, x in zip(_RING_WEIGHTS, (xs[0], xs[2])):
        k = torch.cdist(x, ring.means).argmin(1)  # (8000,) nearest mode
        d, share = (x - ring.means[k]), torch.bincount(k, minlength=8).float() / len(k)  # (8000, 2), (8,)
        if (d.norm(dim=1) <= 3 * ring.std).float().mean() < 0.97:
            raise CheckFailed(f"only {(d.norm(dim=1) <= 0.03).float().mean():.0%} of points lie within 3 std (0.03) of a mode of the ring: check where the modes are and the noise's std")
        if not 0.007 < d.std().item() < 0.013:
            raise CheckFailed(f"the noise around each mode has std {d.std().item():.4f}, expected {ring.std}")
        if (share - 1 / 8).abs().max() < 0.03:
            raise CheckFailed("every mode gets about 1/8 of the points whatever the weights: the weights do not change which mode a point picks")
        for j in torch.nonzero((w == 0) & (share > 0.002)).flatten().tolist():
            raise CheckFailed(f"mode {j} has weight 0 but got {share[j]:.1%} of the points: a mode of weight 0 is never picked")
        if (share.sort().values - w.sort().values).abs().max() < 0.03 < (share - w).abs().max():
            raise CheckFailed("the modes' shares are the weights, but on the wrong modes: mode k must be the one at (cos 2πk/8, sin 2πk/8)")
        if (share - w).abs().max() > 0.03:
            j = int((share - w).abs().argmax())
            raise CheckFailed(f"mode {j} got {share[j]:.1%} of the points, but its weight is {w[j]:.1%}")
    return "each mode's share follows its weight, std 0.01, same seed same points"


def _mixture_cases() -> list[tuple[Any, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(mixture, weights (mode k's proportional to k + 1), 64 points near its modes, 4 far from every mode)."""
    cases = []
    for mix, far in ((data.ring8(), [[0.0, 0.0], [0.5, 0.5], [1.4, -1.4], [0.3, -0.2]]), (data.grid25(), [[1.0, 1.0], [3.0, -3.0], [5.5, 5.5], [-1.0, 0.4]])):
        w = torch.arange(1, mix.n_modes + 1, dtype=torch.float32)
        x = mix.sample(64, generator=torch.Generator().manual_seed(1)) + 0.02 * torch.randn(64, 2, generator=torch.Generator().manual_seed(2))
        cases.append((mix, w / w.sum(), x, torch.tensor(far)))
    return cases


def _weighted_log_prob(x: torch.Tensor, mix: Any, weights: torch.Tensor) -> torch.Tensor:
    d2 = (x.double()[:, None, :] - mix.means.double()[None]).pow(2).sum(-1)  # (N, K)
    return torch.logsumexp(weights.double().log() - d2 / (2 * mix.std**2), dim=1) - math.log(2 * math.pi * mix.std**2)


@_exercise("1.2", "the log density of a mixture with unequal weights")
def mixture_log_prob(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(x (N, 2), means (K, 2), std, weights (K,)) -> log p(x) (N,)."""
    for mix, weights, near, far in _mixture_cases():
        seen[mix.name] = observe(_call("mixture_log_prob", fn, near, mix.means, mix.std, weights.clone()))
        seen[mix.name + " far"] = observe(_call("mixture_log_prob", fn, far, mix.means, mix.std, weights.clone()))


@mixture_log_prob.judge
def _judge_mixture_log_prob(seen: Observed) -> str:
    for mix, weights, near, far in _mixture_cases():
        out = _tensor(f"mixture_log_prob(x, means, std, weights) on {mix.name}", seen[mix.name], (64,)).double()
        ref = _weighted_log_prob(near, mix, weights)
        diff, on = out - ref, f"on {mix.name}"
        if same(out.exp(), ref, 1e-3) or same(out, ref.exp(), 1e-3):
            raise CheckFailed("you returned the density itself, expected its logarithm")
        if same(out, mix.log_prob(near), 1e-3):
            raise CheckFailed(f"your values {on} are those of the equal-weight mixture: the weights you are given change nothing")
        if same(diff, torch.full_like(diff, -math.log(mix.n_modes)), 1e-3):
            raise CheckFailed(f"your values {on} are all lower than the true ones by log K (K = {mix.n_modes}): a 1/K of the equal-weight mixture is still there")
        if not same(out, ref, 1e-3):
            if diff.std() < 1e-3:
                raise CheckFailed(f"your values {on} are all off by the same amount ({diff.mean():+.3f}): the Gaussian's normalising constant is missing or wrong")
            raise CheckFailed(f"values differ from the true log density {on} (first point: got {out[0]:.3f}, expected {ref[0]:.3f})")
        try:
            out = _tensor(f"mixture_log_prob(x, means, std, weights) far from {mix.name}'s modes", seen[mix.name + " far"], (4,))
        except CheckFailed as e:
            raise _with_advice(e, [(("NaN or infinite",), "there every exponential underflows to 0 in float32 before the logarithm is taken")]) from None
        if not same(out, ref := _weighted_log_prob(far, mix, weights), 1e-3):
            raise CheckFailed(f"values differ from the true log density far from {mix.name}'s modes (got {out[0]:.1f}, expected {ref[0]:.1f})")
    return "matches the weighted mixture on the ring and the grid, near and far from the modes"
