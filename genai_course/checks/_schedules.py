"""What the diffusion checks share: their noise schedules, their tolerance and how they compare.

``diffusion`` (10.1) and ``denoising`` (10.2, 10.3) run the learner's function on a toy schedule
whose alpha_t, alpha_bar_t and beta_t are far apart and on the course's schedules, then compare
every output with the truth, or with a slip, to ``_TOL``. Their probes also record *diagnostic*
calls (the same inputs again, unit inputs that read off each coefficient) through ``_quiet``, whose
errors only mean "no diagnosis", never the learner's failure.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

import torch

from ..diffusion import NoiseSchedule, make_schedule
from ..utils import same
from ._protocol import CheckFailed, _call, _NotAttempted, _Raised, _tensor, _with_advice
from .observations import observe

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


def _quiet(fn: Callable[..., Any], *args: Any) -> dict[str, Any] | None:
    """Probe side of a diagnostic call: the record of ``fn(*args)``, or None where the learner's code raises
    (the check's main calls already ran: an error here only leaves the diagnosis out)."""
    try:
        return observe(_call("a diagnostic call", fn, *args))
    except (_Raised, _NotAttempted):
        return None


def _diagnostic(rec: Any, shape: tuple[int, ...]) -> torch.Tensor | None:
    """Judge side of ``_quiet``: the finite tensor of ``shape`` a diagnostic call returned, else None."""
    if rec is None or rec["type"] != "Tensor" or tuple(rec["shape"]) != shape:
        return None
    try:
        return _tensor("a diagnostic call", rec, shape, dtype=None)
    except CheckFailed:
        return None


def _read(seen: Mapping[str, Any], key: str, advice: list[tuple[tuple[str, ...], str]]) -> Any:
    """``seen[key]``, with ``advice`` added to the learner's error if the call behind it raised."""
    try:
        return seen[key]
    except CheckFailed as failure:
        raise _with_advice(failure, advice) from None


def _output(what: str, rec: Any, shape: tuple[int, ...], name: str, hint: str = "") -> torch.Tensor:
    """The float32 tensor of ``shape`` a record holds (``name``: what it is, "x_t"), or the failure that says why not."""
    if rec["type"] == "Tensor" and tuple(rec["shape"]) != shape:
        raise CheckFailed(f"{what} should return {name} of shape {shape}, like its input, but has shape {tuple(rec['shape'])}{hint}")
    return _tensor(what, rec, shape)


def _constant(outs: list[torch.Tensor]) -> float | None:
    """The one value every output holds everywhere (a learner's placeholder, 0.0), else None."""
    values = torch.cat([out.flatten() for out in outs])
    return float(values[0]) if bool((values == values[0]).all()) else None


def _first_difference(out: torch.Tensor, truth: torch.Tensor) -> int:
    """The flat index of the first entry where ``out`` differs from ``truth``."""
    return int(((out.double() - truth).abs() > _TOL * (1 + truth.abs())).flatten().nonzero()[0])
