"""Exercise check for lesson 09's tiny transformer: 9.3 the causal attention mask ``causal_attention``,
with an optional window (position i sees the last ``window`` positions only, itself included).

Lessons call it through ``genai_course.checks``: ``checks.causal_attention(fn)``. Its probe calls the
learner's attention (and its backward pass) on random q, k, v, then again with the last position's
k and v or the first position's v moved; its judge compares the output with the truth computed here
in float64 and, when it differs, with attention written the usual wrong ways (no mask, the wrong
triangle, a mask off by one, a mask of 0, the mask after the softmax, the wrong scale or softmax
dim; the window ignored, one too wide or narrow, or counted from the start), to say which slip it is
(see ``_protocol``). Outputs are compared to 1e-4 with NaN matching
NaN: some slips make NaN (a softmax over nothing but -inf).
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..utils import same
from ._protocol import CheckFailed, Observed, _call, _exercise, _NotAttempted, _Raised, _tensor
from .observations import observe

__all__ = ["causal_attention"]

_INF = float("inf")


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, keep: str = "causal", scale: str = "sqrt d", dim: int = -1,
            fill: float = -_INF, after: bool = False, swap: bool = False, scale_after: bool = False,
            window: int | None = None, band: str = "last") -> torch.Tensor:
    """Single-head attention in float64, written right (the defaults) or in one of the usual wrong ways."""
    q, k, v = q.double(), k.double(), v.double()
    T, d = q.shape[1], q.shape[2]
    scores = (k @ q.transpose(-2, -1)) if swap else (q @ k.transpose(-2, -1))  # (B, T, T): scores[b, i, j] = q_i . k_j
    scores = scores * {"sqrt d": d**-0.5, "none": 1.0, "d": 1.0 / d, "times sqrt d": d**0.5, "sqrt T": T**-0.5, "sqrt dv": v.shape[2] ** -0.5}[scale]
    i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
    visible = {"causal": j <= i, "none": torch.ones(T, T, dtype=torch.bool), "future": j >= i, "next": j <= i + 1}[keep]
    if window is not None:  # the last `window` positions (right), or one more, one fewer, the first ones (slips)
        visible = visible & {"last": i - j < window, "wide": i - j <= window, "narrow": i - j < window - 1, "first": j < window}[band]
    if after:
        return scores.softmax(dim=dim).masked_fill(~visible, 0.0) @ v
    if scale_after:  # the scores unscaled, the weights divided by sqrt(d) after the softmax
        return (q @ k.transpose(-2, -1)).masked_fill(~visible, fill).softmax(dim=dim) * d**-0.5 @ v
    return scores.masked_fill(~visible, fill).softmax(dim=dim) @ v


_ATTENTION_SLIPS: list[tuple[dict[str, Any], str]] = [
    ({"keep": "none"},
     "there is no mask: each position also attends to the positions after it (the future leaks in); "
     "hide the scores where j > i before the softmax, with a value whose exponential is 0"),
    ({"keep": "future"},
     "the wrong triangle is masked: position i sees positions j >= i (the future) and not the past"),
    ({"keep": "next"},
     "the mask is off by one: position i also sees position i + 1, the character it has to predict (the future leaks in); "
     "only j > i is hidden, the diagonal stays visible"),
    ({"fill": 0.0},
     "the masked scores were set to 0, which still has weight exp(0) after the softmax (the future leaks in): a hidden score must weigh nothing"),
    ({"after": True},
     "the mask was applied after the softmax: each row's weights no longer sum to 1"),
    ({"scale_after": True},
     "the weights were divided by sqrt(d) after the softmax, so they no longer sum to 1"),
    ({"scale": "none"}, "the scores are not scaled by sqrt(d), d the width of q and k"),
    ({"scale": "d"}, "the scores were divided by d, not by sqrt(d)"),
    ({"scale": "times sqrt d"}, "the scores were multiplied by sqrt(d), not divided by it"),
    ({"scale": "sqrt T"}, "the scores were divided by sqrt(T), T the number of positions, not by sqrt(d), d the length of each dot product"),
    ({"scale": "sqrt dv"}, "the scores were divided by the square root of v's width, not by sqrt(d), d the length of the dot products q_i . k_j"),
    ({"dim": -2},
     "the softmax ran over the queries (dim=1): a position's weights over the keys (dim=-1) do not sum to 1"),
    ({"dim": 0}, "the softmax ran over the batch (dim=0): a position's weights over the keys do not sum to 1"),
    ({"swap": True}, "q and k are swapped: scores[i, j] must be q_i . k_j (position i asks with its query, the row)"),
]


def _nonfinite_advice(out: torch.Tensor, T: int) -> str:
    bad = sorted({int(t) for t in (~torch.isfinite(out)).any(dim=2).any(dim=0).nonzero()[:, 0]})
    if bad == [0]:
        return "position 0's output is NaN: it attends to nothing; every position must see itself (j = i)"
    if bad == [T - 1]:
        return "the last position's output is NaN: it attends to nothing; the hidden positions are j > i (the future), the visible ones j <= i"
    if bad == list(range(T - 1)):
        return "NaN or inf at every position but the last: -inf entered after the softmax, where the weights are (the mask belongs on the scores)"
    return "the output contains NaN or infinite values: the mask belongs on the scores (not the weights), and only where j > i"


_CASES = ((2, 6, 4, 4), (3, 5, 8, 3))  # (B, T, d, d_v)
_WINDOW_CASE, _WINDOW = (2, 7, 4, 4), 3  # (B, T, d, d_v) and the window
_WINDOW_SLIPS: list[tuple[dict[str, Any], str]] = [
    ({"window": None}, f"with window = {_WINDOW} position i still sees positions more than {_WINDOW} back: the window was ignored"),
    ({"band": "wide"}, f"with window = {_WINDOW} each position sees the last {_WINDOW + 1} positions, itself included: one too many"),
    ({"band": "narrow"}, f"with window = {_WINDOW} each position sees the last {_WINDOW - 1} positions, itself included: one too few"),
    ({"band": "first"}, f"with window = {_WINDOW} position i sees positions 0 to {_WINDOW - 1}, the start of the sequence, "
                        f"not the last {_WINDOW} up to itself"),
]


def _case(B: int, T: int, d: int, dv: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """q (B, T, d), k (B, T, d), v (B, T, dv) and a random projection w (B, T, dv) of the output for the backward pass."""
    g = torch.Generator().manual_seed(T)
    q, k, v = (torch.randn(B, T, n, generator=g) for n in (d, d, dv))
    return q, k, v, torch.randn(B, T, dv, generator=g)


def _what(B: int, T: int, d: int, dv: int) -> str:
    return f"causal_attention(q, k, v) for q, k of shape {(B, T, d)} and v of shape {(B, T, dv)}"


def _moved(k: torch.Tensor, v: torch.Tensor) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """((k, v) with the last position's moved by 3, v with the first position's moved by 3)."""
    later = k.clone(), v.clone()
    later[0][:, -1] += 3.0
    later[1][:, -1] += 3.0
    earlier = v.clone()
    earlier[:, 0] += 3.0
    return later, earlier


def _quiet(fn: Callable[..., Any], *args: Any) -> dict[str, Any] | None:
    """The record of a diagnostic call, or None where the learner's code raises: the check's main calls
    already ran, so an error here only leaves the diagnosis out."""
    try:
        return observe(_call("a diagnostic call", fn, *args))
    except (_Raised, _NotAttempted):
        return None


@_exercise("9.3", "the causal attention mask")
def causal_attention(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(q (B, T, d), k (B, T, d), v (B, T, d_v), window=None) -> (B, T, d_v) float32: softmax(q k^T / sqrt(d)) @ v over
    the last dim, with the scores of the future positions j > i (and, given a window w, of j <= i - w) set to -inf first."""
    for c, (B, T, d, dv) in enumerate(_CASES):
        q0, k0, v0, w = _case(B, T, d, dv)
        q, k, v = (x.clone().requires_grad_(True) for x in (q0, k0, v0))
        out = _call(_what(B, T, d, dv), fn, q, k, v)
        seen[f"out{c}"] = observe(out)
        if type(out) is torch.Tensor and out.is_floating_point() and out.requires_grad and tuple(out.shape) == (B, T, dv):
            _call("the backward pass through your attention", lambda: (out * w).sum().backward())
            seen[f"stuck{c}"] = [name for name, leaf in (("q", q), ("k", k), ("v", v)) if leaf.grad is None or not leaf.grad.abs().sum() > 0]
        else:
            seen[f"stuck{c}"] = None
    for c, (B, T, d, dv) in enumerate(_CASES):  # diagnostics: does the future leak in, is the past hidden?
        q0, k0, v0, _ = _case(B, T, d, dv)
        later, earlier = _moved(k0, v0)
        seen[f"future{c}"] = _quiet(fn, q0.clone(), *later)
        seen[f"past{c}"] = _quiet(fn, q0.clone(), k0.clone(), earlier)
    q0, k0, v0, _ = _case(*_WINDOW_CASE)
    seen["window"] = observe(_call(_window_what(), fn, q0, k0, v0, _WINDOW))


def _window_what() -> str:
    B, T, d, dv = _WINDOW_CASE
    return f"causal_attention(q, k, v, {_WINDOW}) for q, k, v of shape {(B, T, d)}"


def _judge_window(seen: Observed) -> None:
    """The windowed call: exactly the last _WINDOW positions, itself included."""
    B, T, d, dv = _WINDOW_CASE
    q0, k0, v0, _ = _case(*_WINDOW_CASE)
    out = _tensor(_window_what(), seen["window"], (B, T, dv))
    truth = _attend(q0, k0, v0, window=_WINDOW)
    if same(out, truth, 1e-4, equal_nan=True):
        return
    for slip, advice in _WINDOW_SLIPS:
        if same(out, _attend(q0, k0, v0, **{"window": _WINDOW, **slip}), 1e-4, equal_nan=True):
            raise CheckFailed(advice)
    b, i, j = (int(x) for x in ((out - truth).abs().nan_to_num(1.0) > 1e-4).nonzero()[0])
    raise CheckFailed(
        f"{_window_what()} differs from attention over the last {_WINDOW} positions (example {b}, position {i}, column {j}: "
        f"got {out[b, i, j].item():.4f}, expected {truth[b, i, j].item():.4f})"
    )


@causal_attention.judge
def _judge_causal_attention(seen: Observed) -> str:
    for c, (B, T, d, dv) in enumerate(_CASES):
        q0, k0, v0, _ = _case(B, T, d, dv)
        what, rec = _what(B, T, d, dv), seen[f"out{c}"]
        shape = tuple(rec["shape"]) if rec["type"] == "Tensor" else None
        if shape == (B, T, T) and T != dv:
            raise CheckFailed(f"{what} has shape {(B, T, T)}, the attention weights: the output is the weighted sum of the values, shape {(B, T, dv)}")
        if shape == (B, T, dv) and rec["value"].is_floating_point() and not torch.isfinite(rec["value"]).all():
            for slip, advice in _ATTENTION_SLIPS:  # some slips make NaN (a softmax over nothing but -inf)
                if same(rec["value"], _attend(q0, k0, v0, **slip), 1e-4, equal_nan=True):
                    raise CheckFailed(advice)
            raise CheckFailed(_nonfinite_advice(rec["value"], T))
        out = _tensor(what, rec, (B, T, dv))
        truth = _attend(q0, k0, v0)
        if not same(out, truth, 1e-4, equal_nan=True):
            for slip, advice in _ATTENTION_SLIPS:
                if same(out, _attend(q0, k0, v0, **slip), 1e-4, equal_nan=True):
                    raise CheckFailed(advice)
            raise CheckFailed(_attention_advice(seen, c, what, out, truth))
        if not rec["requires_grad"]:
            raise CheckFailed("the output carries no gradient: attention is trained, so don't compute it under torch.no_grad() or .detach() it")
        stuck = seen[f"stuck{c}"]
        if stuck:
            raise CheckFailed(f"no gradient reaches {stuck[0]}: compute the output from {stuck[0]} without .detach()")
    _judge_window(seen)
    return "softmax(q k^T / sqrt(d)) @ v with j > i masked, and with a window: no position sees the future"


def _diagnostic(rec: Any, shape: torch.Size) -> torch.Tensor | None:
    """The tensor of ``shape`` a diagnostic call returned (NaN allowed), else None."""
    if rec is None or rec["type"] != "Tensor" or tuple(rec["shape"]) != tuple(shape) or not rec["value"].is_floating_point():
        return None
    return rec["value"]


def _attention_advice(seen: Observed, c: int, what: str, out: torch.Tensor, truth: torch.Tensor) -> str:
    """From the diagnostic calls with moved keys and values: does the future leak in, is the past hidden?"""
    T = out.shape[1]
    moved = _diagnostic(seen[f"future{c}"], out.shape)
    if moved is not None and not same(moved[:, : T - 1], out[:, : T - 1], 1e-4, equal_nan=True):
        return (
            f"the outputs at positions 0 to {T - 2} changed when k and v at the last position {T - 1} changed: the future leaks in; "
            "a score where j > i must get weight 0"
        )
    moved = _diagnostic(seen[f"past{c}"], out.shape)
    if moved is not None and same(moved[:, -1], out[:, -1], 1e-4, equal_nan=True):
        return f"the output at the last position {T - 1} ignores v at position 0: every position sees itself and the past, j <= i"
    b, i, j = (int(x) for x in ((out - truth).abs() > 1e-4).nonzero()[0])
    return (
        f"{what} differs from softmax(q k^T / sqrt(d) masked) @ v (example {b}, position {i}, column {j}: "
        f"got {out[b, i, j].item():.4f}, expected {truth[b, i, j].item():.4f})"
    )
