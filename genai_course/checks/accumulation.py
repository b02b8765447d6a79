"""Exercise check for lesson 12 (scaling up): 12.3 gradient accumulation ``accumulate_gradients``.

Lessons call it through ``genai_course.checks``: ``checks.accumulate_gradients(fn)``. It is a probe
(runs the learner's function, records what it saw) and a judge (from those observations to the
verdict), see ``_protocol``.

The check needs only torch: the models are two-layer networks of a few units whose weights come
from a seeded generator (the global RNG is left alone). It runs several batch sizes, numbers of
micro-batches, losses and seeds, chosen so that each usual slip gives an answer of its own; when
the learner's gradient is wrong it is compared with those slips to say which it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..utils import same
from ._nets import _tiny_net
from ._protocol import _NUMBERS, CheckFailed, Observed, _call, _exercise, _with_advice
from .observations import observe

__all__ = ["accumulate_gradients"]


class _Counted(nn.Module):
    """The network, recording the number of rows of every input it is run on."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.sizes: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(x.shape[0])
        return self.net(x)


@dataclass
class _AccCase:
    batch: int  # B rows
    k: int  # micro-batches
    loss: str  # "mse" or "cross-entropy"
    seed: int


_ACC_CASES = [_AccCase(12, 3, "mse", 0), _AccCase(8, 4, "cross-entropy", 1), _AccCase(10, 2, "mse", 2), _AccCase(6, 1, "cross-entropy", 3)]


def _acc_setup(c: _AccCase) -> tuple[nn.Module, Callable[..., torch.Tensor], torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(100 + c.seed)
    x = torch.randn(c.batch, 3, generator=g)
    if c.loss == "mse":
        return _tiny_net(c.seed, (3, 6, 2)), F.mse_loss, x, torch.randn(c.batch, 2, generator=g)
    return _tiny_net(c.seed, (3, 6, 4)), F.cross_entropy, x, torch.randint(4, (c.batch,), generator=g)


def _flat_grad(net: nn.Module, loss: torch.Tensor) -> torch.Tensor:
    return torch.cat([t.flatten() for t in torch.autograd.grad(loss, list(net.parameters()))])


_ACC_ERRORS = [
    (("must match the size of tensor", "to match target batch_size", "different to the input size"), "split the targets y into the same micro-batches as x, each with its own rows' targets"),
]


def _acc_factor(c: _AccCase) -> list[tuple[float, str]]:
    """Gradients that are the full-batch gradient times a factor: (factor, what went wrong)."""
    b, k, m = c.batch, c.k, c.batch // c.k
    return [
        (k, f"the gradient is k = {k} times the full-batch gradient: divide each micro-batch's loss by k before backward()"),
        (1 / k, f"the gradient is 1/k = 1/{k} of the full-batch gradient: divide each micro-batch's loss by k once, not twice"),
        (k / b, f"the gradient is k/B = {k}/{b} of the full-batch gradient: you divided by the batch size, but each micro-batch's "
                "loss is already a mean over its rows; divide by the number of micro-batches k"),
        (k / m, f"the gradient is k/m = {k}/{m} times the full-batch gradient: you divided by the micro-batch size m, but each "
                "micro-batch's loss is already a mean over its rows; divide by the number of micro-batches k"),
    ]


def _acc_output(what: str, c: _AccCase, seen: Observed, i: int) -> tuple[torch.Tensor, float]:
    """The gradient the learner left (flat) and the loss they returned, after the checks of what they did."""
    try:
        rec = seen[f"{i}.out"]
    except CheckFailed as failure:
        raise _with_advice(failure, _ACC_ERRORS) from None
    if seen[f"{i}.stepped"]:
        raise CheckFailed(f"{what} changed the network's weights: it only fills .grad (the optimizer steps after it, once per full batch)")
    m = c.batch // c.k
    sizes = seen[f"{i}.sizes"]
    if not sizes:
        raise CheckFailed(f"{what} never ran the network: run model on each micro-batch")
    if c.k > 1 and set(sizes) == {c.batch}:
        raise CheckFailed(
            f"{what} ran the network on all {c.batch} rows at once: accumulation exists so that only one micro-batch of "
            f"B // k = {m} rows is in memory at a time; run it on each of the k = {c.k} micro-batches in turn"
        )
    if set(sizes) == {c.k} and len(sizes) == c.batch // c.k and c.k != m:
        raise CheckFailed(
            f"{what} ran the network {len(sizes)} times on {c.k} rows: micro_batches is the number of micro-batches, "
            f"not their size; cut the batch into k micro-batches of B // k = {m} rows"
        )
    if c.k > 1 and c.batch in sizes and m in sizes:
        raise CheckFailed(
            f"{what} ran the network on the whole batch of {c.batch} rows as well as on the micro-batches: for the loss to "
            "return, add up the micro-batch losses (each divided by k, .item()) instead; accumulation exists so that only "
            f"B // k = {m} rows are in memory at a time"
        )
    if set(sizes) != {m} or len(sizes) < c.k:
        raise CheckFailed(f"{what} ran the network on batches of {sizes} rows: expected k = {c.k} micro-batches of B // k = {m} rows each")
    missing = seen[f"{i}.no_grad"]
    if missing:
        raise CheckFailed(f"{what} left no gradient in {', '.join(missing)}.grad: call backward() on each micro-batch's loss")
    grad = seen[f"{i}.grad"]
    if rec["type"] == "Tensor" and math.prod(rec["shape"]) == 1:
        loss = float(rec["value"].reshape(()))
    elif rec["type"] in _NUMBERS:
        loss = float(rec["value"])
    else:
        shape = f" of shape {tuple(rec['shape'])}" if rec["type"] == "Tensor" else ""
        raise CheckFailed(f"{what} should return the batch's mean loss as a float (loss.item()), but returned a {rec['type']}{shape}")
    return grad, loss


def _stale(model: nn.Module, c: _AccCase) -> list[torch.Tensor]:
    """The gradients an earlier batch left in .grad, one per parameter."""
    g = torch.Generator().manual_seed(200 + c.seed)
    return [torch.randn(p.shape, generator=g) for p in model.parameters()]


def _what(c: _AccCase, loss_fn: Callable[..., torch.Tensor]) -> str:
    return f"accumulate_gradients(model, {loss_fn.__name__}, x, y, {c.k}) for a batch of {c.batch} rows"


@_exercise("12.3", "gradient accumulation")
def accumulate_gradients(fn: Callable[..., float], seen: dict) -> None:
    """fn(model, loss_fn, x (B, ...), y (B, ...), k) -> float; leaves in .grad the gradient of loss_fn(model(x), y)."""
    for i, c in enumerate(_ACC_CASES):
        net, loss_fn, x, y = _acc_setup(c)
        model = _Counted(net)
        for p, stale in zip(model.parameters(), _stale(model, c)):  # gradients left over from an earlier batch
            p.grad = stale
        before = [p.detach().clone() for p in model.parameters()]
        seen[f"{i}.out"] = observe(_call(_what(c, loss_fn), fn, model, loss_fn, x.clone(), y.clone(), c.k))
        seen[f"{i}.stepped"] = any(not torch.equal(p, w) for p, w in zip(model.parameters(), before))
        seen[f"{i}.sizes"] = [int(s) for s in model.sizes]
        seen[f"{i}.no_grad"] = [name for name, p in model.named_parameters() if p.grad is None]
        grads = [p.grad for p in model.parameters()]
        seen[f"{i}.grad"] = None if any(g is None for g in grads) else torch.cat([g.detach().flatten() for g in grads]).clone()


@accumulate_gradients.judge
def _judge_accumulate_gradients(seen: Observed) -> str:
    for i, c in enumerate(_ACC_CASES):
        net, loss_fn, x, y = _acc_setup(c)
        m = c.batch // c.k
        full = _flat_grad(net, loss_fn(net(x), y))
        with torch.no_grad():
            full_loss = loss_fn(net(x), y).item()
            last_loss = loss_fn(net(x[-m:]), y[-m:]).item()
        last = _flat_grad(net, loss_fn(net(x[-m:]), y[-m:]))
        stale_flat = torch.cat([t.flatten() for t in _stale(net, c)])
        what = _what(c, loss_fn)
        grad, loss = _acc_output(what, c, seen, i)
        if not same(grad, full):
            if same(grad, stale_flat + full) or same(grad, stale_flat + c.k * full):
                raise CheckFailed(
                    f"{what}: the gradients already in .grad (from an earlier batch) were added to: zero them once before "
                    "the loop, then let backward() add up the micro-batches"
                )
            if same(grad, last / c.k) or same(grad, last):
                raise CheckFailed(
                    f"{what}: only the last micro-batch's gradient is left: backward() adds to .grad, which is the point; "
                    "zero the gradients once before the loop, not inside it"
                )
            for factor, advice in _acc_factor(c):
                if same(grad, factor * full):
                    raise CheckFailed(f"{what}: {advice}")
            scale = float(grad @ full / (full @ full))
            if same(grad, scale * full, 1e-4):
                raise CheckFailed(f"{what}: the gradient is {scale:.3g} times the full-batch gradient: divide each micro-batch's loss by k, and only by k")
            raise CheckFailed(
                f"{what}: the gradient in .grad differs from the gradient of loss_fn(model(x), y) on the whole batch: every row "
                "should be used once, its inputs with its own targets, cut the same way"
            )
        if not math.isclose(loss, full_loss, rel_tol=1e-5, abs_tol=1e-6):
            if math.isclose(loss, c.k * full_loss, rel_tol=1e-5):
                raise CheckFailed(f"{what} returned {loss:.4f}, k times the batch's mean loss {full_loss:.4f}: add up the micro-batch losses divided by k")
            if math.isclose(loss, last_loss, rel_tol=1e-5) or math.isclose(loss, last_loss / c.k, rel_tol=1e-5):
                raise CheckFailed(f"{what} returned the last micro-batch's loss: return the mean over the whole batch, the sum of the micro-batch losses divided by k")
            raise CheckFailed(f"{what} returned {loss:.4f}, but the batch's mean loss is {full_loss:.4f}")
    return "the full-batch gradient from k micro-batches, stale gradients cleared, for k = 1 to 4 and two losses"
