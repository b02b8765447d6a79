"""Exercise check for lesson 12 (scaling up): 12.3 gradient accumulation ``accumulate_gradients``.

Lessons call it through ``genai_course.checks``: ``checks.accumulate_gradients(fn)``. It is a probe
(runs the learner's function, records what it saw) and a judge (from those observations to the
verdict), see ``_protocol``.

The exercise is the lesson's accumulation with a twist: the learner is given the size of a
micro-batch (the rows that fit in memory), not their number, so when it does not divide the batch
the last micro-batch is smaller, and the micro-batches' mean losses must be weighed so that the result is the full
batch's gradient. The check needs only torch: the models are two-layer networks of a few units whose weights
come from a seeded generator (the global RNG is left alone). It runs several batch and micro-batch
sizes, losses and seeds, the uneven ones first, chosen so that each usual slip gives an answer of
its own; when the learner's gradient is wrong it is compared with those slips to say which it is.
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
    m: int  # at most m rows a micro-batch
    loss: str  # "mse" or "cross-entropy"
    seed: int



_ACC_CASES = [_AccCase(12, 5, "mse", 0), _AccCase(7, 3, "cross-entropy", 1), _AccCase(8, 2, "cross-entropy", 2), _AccCase(6, 6, "mse", 3)]


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

_SHARE = ("so the result is not the full batch's gradient, and it would change if the same batch were cut into micro-batches "
          "of other sizes")


def _acc_slips(c: _AccCase, sizes: list[int]) -> list[tuple[list[float], str]]:
    """Weights of the micro-batches' mean-loss gradients (of ``sizes`` rows each) that learners use instead of their
    shares n_j / B, each with what went wrong (the right weights, n_j / B, give the full batch's gradient)."""
    b, k = c.batch, len(sizes)
    return [
        ([1 / k] * k, f"each micro-batch's loss was divided by their number, k = {k}: that is right only when they are all the "
                      f"same size, but here they have {sizes} rows, so the {sizes[-1]} rows of the last one weigh more than the "
                      f"others; {_SHARE}"),
        ([1.0] * k, f"the gradient is the sum of the {k} micro-batches' mean-loss gradients, too big: {_SHARE}"),
        ([1 / b] * k, f"you divided each micro-batch's loss by the batch size, but it is already a mean over its own rows: {_SHARE}"),
        ([1 / c.m] * k, f"you divided each micro-batch's loss by micro_batch_size, but it is already a mean over its own rows: {_SHARE}"),
        ([float(n) for n in sizes], f"the gradient is B = {b} times the full batch's: you weighed each micro-batch's mean loss by its "
                                    "number of rows, which turns it back into a sum over the batch; a mean over the batch is asked"),
    ]


def _acc_output(what: str, c: _AccCase, seen: Observed, i: int) -> tuple[torch.Tensor, float, list[int]]:
    """The gradient the learner left (flat), the loss they returned and the rows of their micro-batches, after the
    checks of what they did."""
    try:
        rec = seen[f"{i}.out"]
    except CheckFailed as failure:
        raise _with_advice(failure, _ACC_ERRORS) from None
    if seen[f"{i}.stepped"]:
        raise CheckFailed(f"{what} changed the network's weights: it only fills .grad (the optimizer steps after it, once per full batch)")
    sizes = seen[f"{i}.sizes"]
    if not sizes:
        raise CheckFailed(f"{what} never ran the network: run model on each micro-batch")
    if c.batch in sizes and c.batch > c.m:
        also = " as well as on the micro-batches" if len(sizes) > 1 else ""
        raise CheckFailed(
            f"{what} ran the network on all {c.batch} rows at once{also}: accumulation exists so that at most micro_batch_size = "
            f"{c.m} rows are in memory at a time; for the loss to return, add up the micro-batches' contributions instead"
        )
    if max(sizes) > c.m and sizes == [len(t) for t in torch.arange(c.batch).chunk(c.m)]:
        raise CheckFailed(f"{what} ran the network on batches of {sizes} rows: micro_batch_size is the rows of one micro-batch, not their number")
    if max(sizes) > c.m:
        raise CheckFailed(f"{what} ran the network on {max(sizes)} rows at once, more than micro_batch_size = {c.m}, the rows that fit in memory")
    if sum(sizes) < c.batch and sizes == [c.m] * (c.batch // c.m):
        raise CheckFailed(
            f"{what} never ran the network on the last {c.batch % c.m} rows: {c.m} does not divide {c.batch}, so after "
            f"{c.batch // c.m} full micro-batches a smaller one is left, and every row must count"
        )
    if sum(sizes) != c.batch:
        raise CheckFailed(f"{what} ran the network on batches of {sizes} rows, {sum(sizes)} in all: every one of the {c.batch} rows should be used once")
    missing = seen[f"{i}.no_grad"]
    if missing:
        raise CheckFailed(f"{what} left no gradient in {', '.join(missing)}.grad: each micro-batch's loss must be backpropagated into .grad")
    grad = seen[f"{i}.grad"]
    if rec["type"] == "Tensor" and math.prod(rec["shape"]) == 1:
        loss = float(rec["value"].reshape(()))
    elif rec["type"] in _NUMBERS:
        loss = float(rec["value"])
    else:
        shape = f" of shape {tuple(rec['shape'])}" if rec["type"] == "Tensor" else ""
        raise CheckFailed(f"{what} should return the batch's mean loss as a Python float (a number, not a tensor), but returned a {rec['type']}{shape}")
    return grad, loss, sizes


def _stale(model: nn.Module, c: _AccCase) -> list[torch.Tensor]:
    """The gradients an earlier batch left in .grad, one per parameter."""
    g = torch.Generator().manual_seed(200 + c.seed)
    return [torch.randn(p.shape, generator=g) for p in model.parameters()]


def _what(c: _AccCase, loss_fn: Callable[..., torch.Tensor]) -> str:
    return f"accumulate_gradients(model, {loss_fn.__name__}, x, y, {c.m}) for a batch of {c.batch} rows"


@_exercise("12.3", "gradient accumulation")
def accumulate_gradients(fn: Callable[..., float], seen: dict) -> None:
    """fn(model, loss_fn, x (B, ...), y (B, ...), m) -> float; leaves in .grad the gradient of loss_fn(model(x), y),
    computed on micro-batches of at most m rows."""
    for i, c in enumerate(_ACC_CASES):
        net, loss_fn, x, y = _acc_setup(c)
        model = _Counted(net)
        for p, stale in zip(model.parameters(), _stale(model, c)):  # gradients left over from an earlier batch
            p.grad = stale
        before = [p.detach().clone() for p in model.parameters()]
        seen[f"{i}.out"] = observe(_call(_what(c, loss_fn), fn, model, loss_fn, x.clone(), y.clone(), c.m))
        seen[f"{i}.stepped"] = any(not torch.equal(p, w) for p, w in zip(model.parameters(), before))
        seen[f"{i}.sizes"] = [int(s) for s in model.sizes]
        seen[f"{i}.no_grad"] = [name for name, p in model.named_parameters() if p.grad is None]
        grads = [p.grad for p in model.parameters()]
        seen[f"{i}.grad"] = None if any(g is None for g in grads) else torch.cat([g.detach().flatten() for g in grads]).clone()


def _judge_grad(what: str, c: _AccCase, sizes: list[int], grad: torch.Tensor, full: torch.Tensor, parts: list[torch.Tensor],
                stale: torch.Tensor) -> None:
    """Which slip the learner's gradient is, if it is not the full batch's (parts: the mean-loss gradient of each of the
    learner's micro-batches, of ``sizes`` rows)."""
    if same(grad, full):
        return
    slips = _acc_slips(c, sizes)
    shares = [n / c.batch for n in sizes]
    if any(same(grad, stale + sum(w * p for w, p in zip(weights, parts))) for weights in [shares] + [w for w, _ in slips]):
        raise CheckFailed(
            f"{what}: the gradients already in .grad (from an earlier batch) were added to: zero them once before "
            "the loop, then let backward() add up the micro-batches"
        )
    if len(parts) > 1 and any(same(grad, w * parts[-1]) for w in (shares[-1], 1 / len(parts), 1.0)):
        raise CheckFailed(
            f"{what}: only the last micro-batch's gradient is left: backward() adds to .grad, which is the point; "
            "zero the gradients once before the loop, not inside it"
        )
    for weights, advice in slips:
        if same(grad, sum(w * p for w, p in zip(weights, parts))):
            raise CheckFailed(f"{what}: {advice}")
    scale = float(grad @ full / (full @ full))
    if same(grad, scale * full, 1e-4):
        raise CheckFailed(f"{what}: the gradient is {scale:.3g} times the full-batch gradient, which it should equal")
    raise CheckFailed(
        f"{what}: the gradient in .grad differs from the gradient of loss_fn(model(x), y) on the whole batch: every row "
        "should be used once, its inputs with its own targets, cut the same way"
    )


@accumulate_gradients.judge
def _judge_accumulate_gradients(seen: Observed) -> str:
    for i, c in enumerate(_ACC_CASES):
        net, loss_fn, x, y = _acc_setup(c)
        what = _what(c, loss_fn)
        grad, loss, sizes = _acc_output(what, c, seen, i)
        full = _flat_grad(net, loss_fn(net(x), y))
        pieces = list(zip(x.split(sizes), y.split(sizes)))  # the learner's micro-batches, in order
        parts = [_flat_grad(net, loss_fn(net(xj), yj)) for xj, yj in pieces]
        with torch.no_grad():
            full_loss = loss_fn(net(x), y).item()
            losses = [loss_fn(net(xj), yj).item() for xj, yj in pieces]
        stale = torch.cat([t.flatten() for t in _stale(net, c)])
        _judge_grad(what, c, sizes, grad, full, parts, stale)
        if not math.isclose(loss, full_loss, rel_tol=1e-5, abs_tol=1e-6):
            k = len(losses)
            if len(set(sizes)) > 1 and math.isclose(loss, sum(losses) / k, rel_tol=1e-5):
                raise CheckFailed(f"{what} returned {loss:.4f}, the plain mean of the micro-batch losses: the smaller last one counts "
                                  f"as much as the others there; the batch's mean loss is {full_loss:.4f}")
            if k > 1 and math.isclose(loss, sum(losses), rel_tol=1e-5):
                raise CheckFailed(f"{what} returned {loss:.4f}, the sum of the micro-batch losses: return the batch's mean loss {full_loss:.4f}")
            if any(math.isclose(loss, v, rel_tol=1e-5) for v in (losses[-1], losses[-1] * sizes[-1] / c.batch, losses[-1] / k)):
                raise CheckFailed(f"{what} returned the last micro-batch's loss: return the mean over the whole batch, to which every micro-batch contributes")
            raise CheckFailed(f"{what} returned {loss:.4f}, but the batch's mean loss is {full_loss:.4f}")
    return "the full-batch gradient from micro-batches of at most m rows, the last one smaller, stale gradients cleared, for two losses"
