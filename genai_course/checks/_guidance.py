"""What check 10.3 (classifier-free guidance from one forward pass) is made of: its cases, the stand-in
network the learner's function calls, and the judge's reading of that network's calls and of the result.

The learner writes ``guided_eps(net, xt, t, y, w, null_label)``: one call of ``net`` on a batch of 2B
inputs (each example once with its label, once with ``null_label``), split into the conditional and the
unconditional prediction, and combined with the guidance scale ``w``. The stand-in network is linear in
x with a slope per label and an offset per step, so the judge can tell from its recorded calls whether
the batch was built right (which example, which step, which label in each row), and from the result,
by least squares on the two predictions, how they were weighted. ``denoising`` registers the check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ._protocol import _tensor
from ..utils import same
from ._schedules import _TOL, _first_difference
from .observations import observe


@dataclass
class _GuidanceCase:
    xt: torch.Tensor  # (B, ...)
    t: torch.Tensor  # (B,) int64
    y: torch.Tensor  # (B,) int64 labels, all below null_label
    w: float
    null_label: int


def _guidance_cases() -> list[_GuidanceCase]:
    g = torch.Generator().manual_seed(12)
    cases = []
    for shape, t, y, w, null in (
        ((3, 2), [5, 120, 40], [0, 3, 1], 1.0, 10),
        ((4, 1, 8, 8), [199, 0, 50, 7], [9, 2, 2, 5], 3.0, 10),
        ((3, 2), [60, 61, 62], [7, 7, 8], 0.0, 10),
        ((2, 1, 8, 8), [150, 30], [1, 3], 7.5, 4),  # a model with 4 classes: its "no label" is 4, not 10
        ((5, 2), [0, 199, 100, 100, 3], [4, 0, 6, 2, 9], 0.5, 10),
    ):
        cases.append(_GuidanceCase(torch.randn(shape, generator=g), torch.tensor(t), torch.tensor(y), w, null))
    return cases


def _slope(y: torch.Tensor) -> torch.Tensor:
    return 0.3 + 0.17 * y.double()


def _offset(t: torch.Tensor) -> torch.Tensor:
    return torch.sin(0.37 * t.double()) + 0.002 * t.double()


def _net_eps(x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The stand-in network in float64: x (N, ...) times a slope per label plus an offset per step."""
    view = (-1, *[1] * (x.dim() - 1))
    return x.double() * _slope(y).view(view) + _offset(t).view(view)


class _StandInNet:
    """What the learner's guided_eps calls as ``net(x, t, y)``; it records every call, and refuses inputs a
    real denoiser would refuse, with a message that says what is wrong."""

    def __init__(self, case: _GuidanceCase) -> None:
        self.case, self.calls = case, []

    def __call__(self, x: Any, t: Any, y: Any) -> torch.Tensor:
        example = tuple(self.case.xt.shape[1:])
        if not all(isinstance(v, torch.Tensor) for v in (x, t, y)):
            raise TypeError("net(x, t, y) takes three tensors: x (N, ...), the steps t (N,) and the labels y (N,)")
        if x.dim() != len(example) + 1 or tuple(x.shape[1:]) != example:
            raise ValueError(f"net takes x of shape (N, {', '.join(map(str, example))}), a batch of N examples like x_t's, "
                             f"but got x of shape {tuple(x.shape)}")
        n = x.shape[0]
        for name, v in (("steps t", t), ("labels y", y)):
            if v.shape != (n,) or v.is_floating_point():
                raise ValueError(f"net got {n} inputs x but {name} of shape {tuple(v.shape)} and dtype {v.dtype}: "
                                 f"it needs {n} whole numbers, one per input")
        if bool(((y < 0) | (y > self.case.null_label)).any()):
            raise IndexError(f"net knows the labels 0 to {self.case.null_label} (the last one is 'no label'), but got {y.tolist()} "
                             f"(this model's 'no label' index is the null_label it was given, {self.case.null_label})")
        self.calls.append({"x": observe(x), "t": observe(t), "y": observe(y)})
        return _net_eps(x, t, y).float()

    forward = __call__


def _call_rows(what: str, call: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (x, t, y) one recorded call of the stand-in network got."""
    x = _tensor(what, call["x"], dtype=None)
    n = x.shape[0]
    return x, _tensor(what, call["t"], (n,), dtype=None), _tensor(what, call["y"], (n,), dtype=None)


def _batch_advice(case: _GuidanceCase, calls: list[dict[str, Any]]) -> str | None:
    """What is wrong with the network's calls for one case, or None if it was one call on a right batch of 2B."""
    B = case.xt.shape[0]
    if len(calls) != 1:
        return (f"net was called {len(calls)} times for one guided prediction of {B} examples: this exercise asks for one call, "
                f"with the conditional and the unconditional inputs in the same batch")
    x, t, y = _call_rows("the call of net", calls[0])
    if x.shape[0] != 2 * B:
        return (f"net was called once on a batch of {x.shape[0]} inputs, for {B} examples: each example needs two rows in the "
                f"batch, one with its label and one with null_label, {2 * B} in all")
    seen_with = [set() for _ in range(B)]
    for r in range(2 * B):
        match = [i for i in range(B) if torch.equal(x[r].to(case.xt.dtype), case.xt[i])]
        if not match:
            return f"row {r} of the batch you gave net is none of x_t's examples: pass copies of x_t unchanged"
        i = match[0]
        if int(t[r]) != int(case.t[i]):
            return (f"row {r} of the batch is x_t's example {i} but carries the step {int(t[r])} of another example "
                    f"(its own is {int(case.t[i])}): the steps are not in the same order as the inputs")
        label = int(y[r])
        if label not in (int(case.y[i]), case.null_label):
            return (f"row {r} of the batch is x_t's example {i} with label {label}, which is neither its label y = {int(case.y[i])} "
                    f"nor null_label = {case.null_label}: either the labels are not in the same order as the inputs, or the "
                    f"unconditional rows carry a 'no label' index of your own instead of the null_label you are given")
        seen_with[i].add(label)
    for i, labels in enumerate(seen_with):
        if case.null_label not in labels:
            return (f"no row of the batch asks about x_t's example {i} with null_label = {case.null_label}: "
                    "the unconditional prediction needs a copy of each example without its label")
        if int(case.y[i]) not in labels:
            return f"no row of the batch asks about x_t's example {i} with its own label y = {int(case.y[i])}"
    return None


def _predictions(case: _GuidanceCase) -> tuple[torch.Tensor, torch.Tensor]:
    """The conditional and unconditional predictions for a case, in float64."""
    return _net_eps(case.xt, case.t, case.y), _net_eps(case.xt, case.t, torch.full_like(case.y, case.null_label))


def _guided(case: _GuidanceCase) -> torch.Tensor:
    cond, uncond = _predictions(case)
    return cond + case.w * (cond - uncond)


def _weights(out: torch.Tensor, case: _GuidanceCase) -> tuple[float, float] | None:
    """(a, b) with out = a cond + b uncond to the check's tolerance, or None where no such weights fit."""
    cond, uncond = _predictions(case)
    A = torch.stack([cond.flatten(), uncond.flatten()], dim=1)  # (n, 2)
    ab = torch.linalg.lstsq(A, out.double().flatten()[:, None]).solution.flatten()
    fit = (A @ ab[:, None]).flatten()
    if ((fit - out.double().flatten()).abs() > _TOL * (1 + fit.abs())).any():
        return None
    return float(ab[0]), float(ab[1])


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-3)


def _weights_advice(weights: list[tuple[float, float]], cases: list[_GuidanceCase]) -> str:
    """What is wrong with the weights (a, b) the result gives the conditional and unconditional predictions."""
    if all(_close(a, case.w) and _close(b, 1 - case.w) for (a, b), case in zip(weights, cases)):
        return ("with w = 0 the result is the unconditional prediction: the course's w = 0 is the plain conditional model, and w "
                "says how far to go *past* it (you may have used the other convention, which starts the walk at the "
                "unconditional prediction, so that its w = 1 is the plain conditional model)")
    if all(_close(a, -case.w) and _close(b, 1 + case.w) for (a, b), case in zip(weights, cases)):
        return ("the two predictions play each other's part: the result goes past the *unconditional* prediction, away from the "
                "label; the half of net's output you took as the conditional prediction is the one computed with null_label")
    if all(_close(a, 1) and _close(b, 0) for a, b in weights):
        return "the result is the conditional prediction whatever w: w has no effect, guidance never moves away from the unconditional prediction"
    for (a, b), case in zip(weights, cases):
        if not _close(a + b, 1):
            return (f"with w = {case.w:g} the weights of the conditional and unconditional predictions add up to {round(a + b, 4) + 0.0:g}, not 1 "
                    "(where the two predictions agree, guidance must give them back unchanged)")
    for (a, b), case in zip(weights, cases):
        if not _close(a, 1 + case.w):
            direction = "towards the unconditional prediction" if a < 1 else "past the conditional prediction"
            return (f"with w = {case.w:g} the result goes {round(abs(a - 1), 4):g} times the difference between the two predictions "
                    f"{direction}; guidance goes w = {case.w:g} times that difference past the conditional prediction, away from the "
                    "unconditional one")
    return "the result weights the two predictions wrongly"  # not reached: (a, b) is then right


def _advice(outs: list[torch.Tensor], cases: list[_GuidanceCase]) -> str:
    """Why the guided predictions differ, once the network's batch was right."""
    weights = [_weights(out, case) for out, case in zip(outs, cases)]
    if all(ab is not None for ab in weights):
        return _weights_advice(weights, cases)  # type: ignore[arg-type]
    k = next(i for i, (out, case) in enumerate(zip(outs, cases)) if not same(out, _guided(case), _TOL))
    truth = _guided(cases[k])
    j = _first_difference(outs[k], truth)
    example = j // outs[k][0].numel()
    return (f"with w = {cases[k].w:g} the result for example {example} is not a weighting of that example's two predictions "
            f"(got {outs[k].flatten()[j].item():.4f}, expected {truth.flatten()[j].item():.4f}): are the rows of net's output split "
            "back into the same halves, in the same order, that you put into the batch?")


def _what(case: _GuidanceCase) -> str:
    return f"guided_eps(net, xt, t, y, {case.w}, null_label={case.null_label}) for xt of shape {tuple(case.xt.shape)}"


def _constant_message(value: float) -> str:
    return (f"the guided prediction is {value:.4g} everywhere, whatever x_t, t, y and w: compute it from the network's "
            "predictions for the inputs you are given")
