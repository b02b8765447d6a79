"""What exercise 8.3's check (``checks.vae``, a conditional encoder) records about a learner's network.

``_watch_inputs`` puts forward pre-hooks on a network's submodules to record what each receives;
``_label_as_number`` finds, in those records, a column that is the label itself (the label entered
as one number, not one-hot). ``_push`` trains a fresh encoder for a few steps to raise its means and
lower its log-variances (or the other way round) and reports how far they went: a head squashed by a bounded function (a
sigmoid, a softplus, a tanh, an exponential) cannot follow. Probe side: each runs learner code
only through ``_call``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ._protocol import _call

_MAX_INPUTS, _MAX_WIDTH = 16, 512  # what the probe keeps of the inputs the network's layers receive
_PUSH_STEPS, _PUSH_LR = 30, 0.02  # a few steps that raise the means and lower the log-variances, or the other way


def _watch_inputs(net: nn.Module, batch: int, inputs: list[dict[str, Any]]) -> list[Any]:
    """Forward pre-hooks on the network's submodules: each float tensor (batch, ...) a submodule
    receives is appended to ``inputs`` as {"module": its name, "input": (batch, width) copy}."""

    def hook(name: str) -> Callable[..., None]:
        def record(module: nn.Module, args: tuple[Any, ...]) -> None:
            for a in args:
                if len(inputs) < _MAX_INPUTS and type(a) is torch.Tensor and a.is_floating_point() and a.dim() >= 2 and a.shape[0] == batch:
                    inputs.append({"module": name, "input": a.detach().reshape(batch, -1)[:, :_MAX_WIDTH].float().clone()})
        return record

    handles = []
    for name, m in net.named_modules():
        try:
            if name:  # not the network itself: it receives x and y as they are
                handles.append(m.register_forward_pre_hook(hook(name)))
        except Exception:  # a module that takes no hooks is not watched
            pass
    return handles


def _label_as_number(inputs: list[dict[str, Any]], y: torch.Tensor) -> str | None:
    """The first submodule whose input has a column that is the label itself, a * y + b with a != 0
    (with 3 or more labels a one-hot column never is): where the label entered as one number."""
    for entry in inputs:
        x = entry["input"].double()  # (2K, width); rows 0 and 1 hold labels 0 and 1
        slope, offset = x[1] - x[0], x[0]
        affine = (x - (offset + slope * y.double()[:, None])).abs() <= 1e-5 * (1 + x.abs())
        found = affine.all(0) & (slope.abs() > 1e-6 * (1 + offset.abs()))
        if found.any():
            return str(entry["module"])
    return None


def _push(make: Callable[[], Any], x: torch.Tensor, y: torch.Tensor, sign: float) -> dict[str, float] | None:
    """Train a fresh encoder ``make()`` for a few steps of sign descent to raise mu and lower logvar (sign 1), or the other
    way round (sign -1); the extremes its mu and logvar reached on (x, y) afterwards, or None where its output is not a pair
    of tensors one can train (the judge has already failed it then)."""
    encoder = make()
    params = [p for p in encoder.parameters() if p.requires_grad] if isinstance(encoder, nn.Module) else []
    if not params:
        return None
    for _ in range(_PUSH_STEPS):  # sign descent, Adam's first steps without torch.optim (whose first step takes most of a second)
        out = _call("your encoder, trained for a few steps", encoder, x, y)
        if not (isinstance(out, tuple) and len(out) == 2 and all(type(t) is torch.Tensor and t.requires_grad for t in out)):
            return None
        mu, logvar = out
        loss = sign * (logvar.mean() - mu.mean())  # no target to overshoot: a bounded output stops, an unbounded one goes on
        grads = _call("the backward pass through your encoder", lambda: torch.autograd.grad(loss, params, allow_unused=True))
        with torch.no_grad():
            for p, g in zip(params, grads):
                if g is not None:
                    p.sub_(_PUSH_LR * g.sign())
    with torch.no_grad():
        mu, logvar = _call("your encoder, trained for a few steps", encoder, x, y)
    return {"mu_min": float(mu.min()), "mu_max": float(mu.max()), "logvar_min": float(logvar.min()), "logvar_max": float(logvar.max())}


def _bound_advice(down: dict[str, float], up: dict[str, float]) -> str | None:
    """Judge side of ``_push``: ``down`` pushed mu up and logvar down, ``up`` the other way round. Which
    output could not follow, and what its bound means; None where both went far both ways."""
    lv_lo, lv_hi, mu_lo, mu_hi = down["logvar_min"], up["logvar_max"], up["mu_min"], down["mu_max"]
    if -1 - 1e-4 <= lv_lo < -1e-4 and 1e-4 < lv_hi <= 1 + 1e-4:  # both ways, but no further than 1
        return ("your logvar stays within [-1, 1] even when trained to leave it: a variance between 0.37 and 2.7, so the encoder can "
                "never be much surer than the prior, nor much less sure; a log-variance takes any real value, so leave it unbounded")
    if mu_lo >= -1e-4 and lv_lo >= -1e-4:
        return ("your mu and logvar are never negative, even when trained to be: the network's last step keeps its outputs >= 0; "
                "a mean and a log-variance take any real value, negative ones included")
    if lv_lo > -2:
        bound = "never goes below 0" if lv_lo >= -1e-4 else f"does not go below {lv_lo:.2f}"
        return (f"your logvar {bound} even when trained to: a variance of at least {torch.tensor(lv_lo).clamp(max=0).exp().item():.2f}, "
                "so the encoder can never be much surer about z than the prior is; the log of a variance takes any real value, "
                "negative ones included, so leave logvar unbounded")
    if lv_hi < 2:
        bound = "never goes above 0" if lv_hi <= 1e-4 else f"does not go above {lv_hi:.2f}"
        return (f"your logvar {bound} even when trained to: the encoder can never be less sure than that about z; "
                "the log of a variance takes any real value, so leave logvar unbounded")
    if mu_lo > -2 or mu_hi < 2:
        return (f"your mu stays within [{mu_lo:.2f}, {mu_hi:.2f}] even when trained to leave it: a bounded mean cannot place the codes "
                "where the prior N(0, I) still has mass (beyond 2 in either direction); leave mu unbounded")
    return None
