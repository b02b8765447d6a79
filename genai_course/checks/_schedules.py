"""What the diffusion checks share: their noise schedules, their tolerance and how they compare.

``diffusion`` (10.1) and ``denoising`` (10.2, 10.3) run the learner's function on a toy schedule
whose alpha_t, alpha_bar_t and beta_t are far apart and on the course's schedules, then compare
every output with the truth, or with a slip, to ``_TOL``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import torch

from ..diffusion import NoiseSchedule, make_schedule
from ..utils import same
from ._protocol import CheckFailed, _tensor

_EDITS = "*= or sqrt_()"  # the in-place edits to suspect when an input changed

_TOL = 1e-4  # outputs are float32 and of order 1 (up to about 60 after a division by sqrt(alpha_{T-1}))


def _agrees(outs: list[torch.Tensor], candidate: Callable[[Any], torch.Tensor | None], cases: list[Any]) -> bool:
    """Does ``candidate(case)`` equal the learner's output on every case?"""
    return all(same(out, candidate(case), _TOL) for out, case in zip(outs, cases))


@functools.lru_cache(maxsize=None)
def _schedule(kind: str, T: int) -> NoiseSchedule:
    """The checks' schedules; "toy": six large betas, so that alpha_t, alpha_bar_t, beta_t and their roots all differ."""
    if kind == "toy":
        return NoiseSchedule(torch.tensor([0.05, 0.15, 0.3, 0.45, 0.6, 0.8], dtype=torch.float64), "toy")
    return make_schedule(T, kind)


def _tensors(s: NoiseSchedule) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fresh float32 copies of (betas, alphas, alpha_bars) to hand to the learner."""
    return s.betas.clone(), s.alphas.clone(), s.alpha_bars.clone()


def _output(what: str, out: Any, like: torch.Tensor, name: str, hint: str = "") -> torch.Tensor:
    if isinstance(out, torch.Tensor) and tuple(out.shape) != tuple(like.shape):
        raise CheckFailed(f"{what} should return {name} of shape {tuple(like.shape)}, like its input, but has shape {tuple(out.shape)}{hint}")
    return _tensor(what, out, tuple(like.shape))


def _first_difference(out: torch.Tensor, truth: torch.Tensor) -> int:
    """The flat index of the first entry where ``out`` differs from ``truth``."""
    return int(((out.double() - truth).abs() > _TOL * (1 + truth.abs())).flatten().nonzero()[0])
