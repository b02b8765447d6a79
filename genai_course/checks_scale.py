"""Exercise checks for lesson 12 (scaling up).

12.1 the shard of a global batch that one process computes ``shard``, 12.2 what DDP's all-reduce
leaves on every rank ``all_reduce_mean``, 12.3 gradient accumulation ``accumulate_gradients``,
12.4 and 12.5 a checkpoint that resumes training exactly, ``save_state`` and ``restore_state``.
They follow the protocol of ``checks`` (pass / not attempted / one-line ``CheckFailed``), which
re-exports them: lessons call ``checks.shard(fn)``. Import them through ``genai_course.checks``
(this module needs ``checks`` loaded first).

The checks need only torch: ranks are simulated in one process, and the models are two-layer
networks of a few units whose weights come from a seeded generator (the global RNG is left
alone). Every check runs several batch sizes, world sizes, ranks and seeds, chosen so that each
usual slip gives an answer of its own; when the learner's answer is wrong it is compared with
those slips to say which it is.
"""

from __future__ import annotations

import copy
import io
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .checks import CheckFailed, _call, _close, _NotAttempted, _exercise, _tensor, _unchanged, _with_advice

__all__ = ["shard", "all_reduce_mean", "accumulate_gradients", "save_state", "restore_state"]


def _try(fn: Callable[..., Any], *args: Any) -> Any:
    """A slip's answer, or None where that slip would itself fail."""
    try:
        return fn(*args)
    except Exception:
        return None


# --------------------------------------------------------------------------- 12.1 sharding a batch


# (B, world, shape of one example): 1-D to 3-D batches, world 1 to 6, n = B // world from 1 to 10
_SHARD_CASES = [(12, 4, (3,)), (12, 3, ()), (8, 2, (2, 2)), (6, 6, (1,)), (10, 1, (2,)), (15, 5, ())]


def _numbered(b: int, rest: tuple[int, ...]) -> torch.Tensor:
    """(B, *rest) float32 whose row i holds i * size, i * size + 1, ...: every row recognisable."""
    return torch.arange(b * math.prod(rest), dtype=torch.float32).reshape(b, *rest)


def _rows_of(out: torch.Tensor, x: torch.Tensor) -> list[int] | None:
    """Which rows of x the tensor ``out`` holds, in order, or None if some row is not one of x's."""
    if out.dim() == 0 or out.shape[1:] != x.shape[1:]:
        return None
    size = math.prod(x.shape[1:])
    rows = []
    for row in out.reshape(out.shape[0], -1):
        i = int(row[0].item()) // size
        if not (0 <= i < x.shape[0] and torch.equal(row, x[i].reshape(-1))):
            return None
        rows.append(i)
    return rows


def _block(x: torch.Tensor, rank: int, world: int, *, start: int = 0, stop: int = 0) -> torch.Tensor:
    n = x.shape[0] // world
    return x[rank * n + start:(rank + 1) * n + stop]


_OFF_BY_ONE = ("off by one: rank r's rows are r * n, ..., (r + 1) * n - 1, the slice x[r * n:(r + 1) * n] "
               "(a Python slice leaves its end out)")
_SHARD_SLIPS: list[tuple[Callable[[torch.Tensor, int, int], torch.Tensor], str]] = [
    (lambda x, r, w: x[r::w],
     "that is x[rank::world], every world-th row (interleaved, the way torch's DistributedSampler deals indices out): "
     "the contract here is the contiguous block x[rank * n:(rank + 1) * n] with n = B // world"),
    (lambda x, r, w: _block(x, r + 1, w),
     "that is the block of rank + 1: ranks count from 0, so rank r starts at row r * n, and rank world - 1 ends at the last row"),
    (lambda x, r, w: x[r * w:(r + 1) * w],
     "each block has world rows: the number of shards and their size are swapped; every rank gets n = B // world rows, x[r * n:(r + 1) * n]"),
    (lambda x, r, w: _block(x, r, w, stop=1), _OFF_BY_ONE),
    (lambda x, r, w: _block(x, r, w, start=1, stop=1), _OFF_BY_ONE),
    (lambda x, r, w: _block(x, r, w, stop=-1), _OFF_BY_ONE),
    (lambda x, r, w: x, "that is the whole batch: each of the world processes computes only its own 1/world of it"),
    (lambda x, r, w: x.tensor_split(w, dim=-1)[r],
     "you split along the last dimension: the batch is dim 0, the rows of x (x.chunk(world, dim=0)[rank], or slice the rows)"),
]

_SHARD_ERRORS = [
    (("slice indices must be integers",), "n = B // world, integer division: B / world is a float even when it divides evenly"),
    (("tuple index out of range",), "x.chunk(world) may give fewer than world pieces (and splits dim 0 only if told so): slice the rows, "
                                    "x[rank * n:(rank + 1) * n]"),
]


def _same_rows(out: torch.Tensor, truth: torch.Tensor) -> bool:
    return out.dtype == truth.dtype and out.shape == truth.shape and torch.equal(out, truth)


def _shard_uneven(fn: Callable[..., Any]) -> None:
    """B = 10 rows over world = 4 processes must raise a ValueError that names both numbers."""
    what = "shard(x, 1, 4) for x of shape (10, 2)"
    try:
        out = fn(_numbered(10, (2,)), 1, 4)
    except NotImplementedError:
        raise _NotAttempted() from None
    except ValueError as e:
        if "10" in str(e) and "4" in str(e):
            return
        raise CheckFailed(
            f"{what} raised ValueError({str(e)!r}): good, but say what is wrong with the numbers in it, e.g. "
            "f'a batch of {B} rows does not split into {world} equal shards'"
        ) from None
    except Exception as e:
        first_line = str(e).splitlines()[0] if str(e) else ""
        raise CheckFailed(
            f"{what} raised {type(e).__name__}: {first_line}; raise ValueError instead (an assert vanishes under python -O), "
            "naming B and world"
        ) from None
    got = f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
    raise CheckFailed(
        f"{what} returned {got}: 10 rows do not split into 4 equal shards, and unequal shards would weigh rows unequally "
        "in the mean of the gradients; check B % world and raise ValueError naming B and world"
    )


@_exercise("12.1", "one process's shard of the batch")
def shard(fn: Callable[..., torch.Tensor]) -> str:
    """fn(x (B, ...), rank, world) -> x[rank * n:(rank + 1) * n], n = B // world; ValueError if world does not divide B."""
    calls, outs = [], []
    for b, world, rest in _SHARD_CASES:
        x = _numbered(b, rest)
        for rank in range(world):
            what = f"shard(x, {rank}, {world}) for x of shape {tuple(x.shape)}"
            given = x.clone()
            try:
                out = _call(what, fn, given, rank, world)
            except CheckFailed as failure:
                raise _with_advice(failure, _SHARD_ERRORS) from None
            _unchanged(what, [("x", given, x)], "x[...] = ... or x.zero_()")
            calls.append((what, x, rank, world))
            outs.append(_tensor(what, out, dtype=None))
    if not all(_same_rows(o, _block(x, r, w)) for o, (_, x, r, w) in zip(outs, calls)):
        for slip, advice in _SHARD_SLIPS:
            if all(isinstance(s := _try(slip, x, r, w), torch.Tensor) and _same_rows(o, s) for o, (_, x, r, w) in zip(outs, calls)):
                raise CheckFailed(advice)
        i = next(i for i, (o, (_, x, r, w)) in enumerate(zip(outs, calls)) if not _same_rows(o, _block(x, r, w)))
        (what, x, r, w), out = calls[i], outs[i]
        n = x.shape[0] // w
        want = f"rows {r * n} to {(r + 1) * n - 1} of x, x[{r * n}:{(r + 1) * n}]"
        if tuple(out.shape) != (n, *x.shape[1:]):
            raise CheckFailed(f"{what} should have shape {(n, *x.shape[1:])} ({want}, n = B // world = {n}), but has shape {tuple(out.shape)}")
        if out.dtype != x.dtype:
            raise CheckFailed(f"{what} should keep x's dtype {x.dtype}, but has dtype {out.dtype}: return the rows themselves")
        rows = _rows_of(out, x)
        held = f"holds rows {rows}" if rows is not None else "holds values that are not rows of x"
        raise CheckFailed(f"{what} should be {want}, but {held}")
    _shard_uneven(fn)
    return "contiguous blocks for 6 batch shapes and world sizes 1 to 6, ValueError when world does not divide B"


# --------------------------------------------------------------------------- 12.2 the all-reduce


# (world, the shapes of one rank's gradient tensors): the number of ranks differs from the number of tensors
_REDUCE_CASES = [(4, [(3, 2), (2,), (1,)]), (2, [(5,), (2, 3), (4,), (1, 1)]), (3, [(4,)]), (1, [(2, 2), (3,)])]


def _grads(world: int, shapes: list[tuple[int, ...]], seed: int) -> list[list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(s, generator=g) for s in shapes] for _ in range(world)]


def _sum(grads: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    return [torch.stack(same).sum(0) for same in zip(*grads)]


def _mean(grads: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    return [torch.stack(same).mean(0) for same in zip(*grads)]


_REDUCE_SLIPS: list[tuple[Callable[[list[list[torch.Tensor]]], list[torch.Tensor]], str]] = [
    (_sum, "that is the sum over ranks, world times too big: DDP averages the ranks' gradients, so divide the sum by the number of ranks, len(grads)"),
    (lambda gs: [t / len(gs[0]) for t in _sum(gs)],
     "you divided by the number of gradient tensors of one rank, len(grads[0]): divide by the number of ranks, len(grads)"),
    (lambda gs: [t / (len(gs) * len(gs[0])) for t in _sum(gs)],
     "you divided by the number of tensors in all, len(grads) * len(grads[0]): divide by the number of ranks, len(grads)"),
    (lambda gs: gs[0], "those are rank 0's own gradients: after the all-reduce every rank holds the mean over all ranks"),
    (lambda gs: gs[-1], "those are the last rank's own gradients: after the all-reduce every rank holds the mean over all ranks"),
]


def _reduce_output(what: str, out: Any, grads: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    world, shapes = len(grads), [tuple(t.shape) for t in grads[0]]
    if isinstance(out, torch.Tensor):
        raise CheckFailed(f"{what} should return a list of {len(shapes)} tensors, one per gradient tensor, but returned one tensor of shape {tuple(out.shape)}")
    if not isinstance(out, (list, tuple)):
        raise CheckFailed(f"{what} should return a list of {len(shapes)} tensors, one per gradient tensor, but returned a {type(out).__name__}")
    if len(out) == world and out and all(isinstance(o, (list, tuple)) for o in out):
        raise CheckFailed(f"{what} returned one list per rank: return a single list, what every rank holds after the all-reduce (they all hold the same)")
    if len(out) != len(shapes):
        per_rank = " (one per rank? zip(*grads) groups each tensor's gradients across the ranks)" if len(out) == world else ""
        raise CheckFailed(f"{what} should return {len(shapes)} tensors, one per gradient tensor of a rank, but returned {len(out)}{per_rank}")
    return [_tensor(f"tensor {i} of {what}", o, s) for i, (o, s) in enumerate(zip(out, shapes))]


def _same_list(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and _close(x, y) for x, y in zip(a, b))


def _tiny_net(seed: int, sizes: tuple[int, ...] = (4, 8, 1)) -> nn.Module:
    """A tanh MLP whose weights come from a seeded generator (the global RNG is left alone)."""
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):  # nn.Linear draws its initial weights from the global RNG
        for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
            layers += [nn.Linear(a, b)] + ([nn.Tanh()] if i < len(sizes) - 2 else [])
    net = nn.Sequential(*layers)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.7 * torch.randn(p.shape, generator=g))
    return net


@_exercise("12.2", "the all-reduce of gradients")
def all_reduce_mean(fn: Callable[..., list[torch.Tensor]]) -> str:
    """fn(grads: world lists of the same gradient tensors) -> one list: the element-wise mean over ranks of each tensor."""
    for seed, (world, shapes) in enumerate(_REDUCE_CASES):
        grads = _grads(world, shapes, seed)
        what = f"all_reduce_mean(grads) for {world} ranks of {len(shapes)} tensors with shapes {shapes}"
        given = [[t.clone() for t in rank] for rank in grads]
        out = _reduce_output(what, _call(what, fn, given), grads)
        _unchanged(what, [(f"gradients of rank {r} (tensor {i})", given[r][i], grads[r][i]) for r in range(world) for i in range(len(shapes))],
                   "+=, add_ or div_ on them")
        if _same_list(out, _mean(grads)):
            continue
        for slip, advice in _REDUCE_SLIPS:
            if _same_list(out, slip(grads)):
                raise CheckFailed(advice)
        i = next(i for i, (o, m) in enumerate(zip(out, _mean(grads))) if not _close(o, m))
        raise CheckFailed(
            f"{what}: tensor {i} should be the mean over the {world} ranks, (grads[0][{i}] + ... + grads[{world - 1}][{i}]) / {world}, "
            f"e.g. {_mean(grads)[i].flatten()[0].item():.4f} first, but starts with {out[i].flatten()[0].item():.4f}"
        )
    # the key fact of data parallelism, on a tiny model: averaging the shards' gradients of a mean loss gives the full batch's
    net = _tiny_net(3)
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(24, 4, generator=g), torch.randn(24, 1, generator=g)
    full = list(torch.autograd.grad(F.mse_loss(net(x), y), list(net.parameters())))
    for world in (2, 3, 4):
        n = 24 // world
        grads = [list(torch.autograd.grad(F.mse_loss(net(x[r * n:(r + 1) * n]), y[r * n:(r + 1) * n]), list(net.parameters()))) for r in range(world)]
        what = f"all_reduce_mean(grads) for the gradients of a network on {world} shards of a batch of 24"
        out = _reduce_output(what, _call(what, fn, grads), grads)
        if not _same_list(out, full):
            raise CheckFailed(f"{what} differs from the gradient of the whole batch: every rank must hold the mean of the ranks' gradients")
    return "the mean over ranks, and on a network it equals the full-batch gradient for 2, 3 and 4 shards"


# --------------------------------------------------------------------------- 12.3 gradient accumulation


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
    (("must match the size of tensor", "to match target batch_size", "different to the input size"), "split the targets y into the same micro-batches as x: y.chunk(k)"),
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


def _acc_output(what: str, c: _AccCase, model: _Counted, before: list[torch.Tensor], out: Any) -> tuple[torch.Tensor, float]:
    """The gradient the learner left (flat) and the loss they returned, after the checks of what they did."""
    if any(not torch.equal(p, w) for p, w in zip(model.parameters(), before)):
        raise CheckFailed(f"{what} changed the network's weights: it only fills .grad (the optimizer steps after it, once per full batch)")
    m = c.batch // c.k
    if not model.sizes:
        raise CheckFailed(f"{what} never ran the network: run model on each micro-batch")
    if c.k > 1 and set(model.sizes) == {c.batch}:
        raise CheckFailed(
            f"{what} ran the network on all {c.batch} rows at once: accumulation exists so that only one micro-batch of "
            f"B // k = {m} rows is in memory at a time; run it on each of the k = {c.k} micro-batches in turn"
        )
    if set(model.sizes) == {c.k} and len(model.sizes) == c.batch // c.k and c.k != m:
        raise CheckFailed(
            f"{what} ran the network {len(model.sizes)} times on {c.k} rows: micro_batches is the number of micro-batches, "
            f"not their size; x.chunk(k) makes k micro-batches of B // k = {m} rows"
        )
    if c.k > 1 and c.batch in model.sizes and m in model.sizes:
        raise CheckFailed(
            f"{what} ran the network on the whole batch of {c.batch} rows as well as on the micro-batches: for the loss to "
            "return, add up the micro-batch losses (each divided by k, .item()) instead; accumulation exists so that only "
            f"B // k = {m} rows are in memory at a time"
        )
    if set(model.sizes) != {m} or len(model.sizes) < c.k:
        raise CheckFailed(f"{what} ran the network on batches of {model.sizes} rows: expected k = {c.k} micro-batches of B // k = {m} rows each")
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    if missing:
        raise CheckFailed(f"{what} left no gradient in {', '.join(missing)}.grad: call backward() on each micro-batch's loss")
    grad = torch.cat([p.grad.flatten() for p in model.parameters()])
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        loss = float(out.detach())
    elif isinstance(out, numbers.Real) and not isinstance(out, bool):
        loss = float(out)
    else:
        shape = f" of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else ""
        raise CheckFailed(f"{what} should return the batch's mean loss as a float (loss.item()), but returned a {type(out).__name__}{shape}")
    return grad, loss


@_exercise("12.3", "gradient accumulation")
def accumulate_gradients(fn: Callable[..., float]) -> str:
    """fn(model, loss_fn, x (B, ...), y (B, ...), k) -> float; leaves in .grad the gradient of loss_fn(model(x), y)."""
    for c in _ACC_CASES:
        net, loss_fn, x, y = _acc_setup(c)
        m = c.batch // c.k
        full = _flat_grad(net, loss_fn(net(x), y))
        with torch.no_grad():
            full_loss = loss_fn(net(x), y).item()
            last_loss = loss_fn(net(x[-m:]), y[-m:]).item()
        last = _flat_grad(net, loss_fn(net(x[-m:]), y[-m:]))
        model = _Counted(net)
        g = torch.Generator().manual_seed(200 + c.seed)
        stale = []
        for p in model.parameters():  # gradients left over from an earlier batch
            p.grad = torch.randn(p.shape, generator=g)
            stale.append(p.grad.flatten().clone())
        stale_flat = torch.cat(stale)
        before = [p.detach().clone() for p in model.parameters()]
        what = f"accumulate_gradients(model, {loss_fn.__name__}, x, y, {c.k}) for a batch of {c.batch} rows"
        try:
            out = _call(what, fn, model, loss_fn, x.clone(), y.clone(), c.k)
        except CheckFailed as failure:
            raise _with_advice(failure, _ACC_ERRORS) from None
        grad, loss = _acc_output(what, c, model, before, out)
        if not _close(grad, full):
            if _close(grad, stale_flat + full) or _close(grad, stale_flat + c.k * full):
                raise CheckFailed(
                    f"{what}: the gradients already in .grad (from an earlier batch) were added to: zero them once before "
                    "the loop (model.zero_grad()), then let backward() add up the micro-batches"
                )
            if _close(grad, last / c.k) or _close(grad, last):
                raise CheckFailed(
                    f"{what}: only the last micro-batch's gradient is left: backward() adds to .grad, which is the point; "
                    "zero the gradients once before the loop, not inside it"
                )
            for factor, advice in _acc_factor(c):
                if _close(grad, factor * full):
                    raise CheckFailed(f"{what}: {advice}")
            scale = float(grad @ full / (full @ full))
            if _close(grad, scale * full, 1e-4):
                raise CheckFailed(f"{what}: the gradient is {scale:.3g} times the full-batch gradient: divide each micro-batch's loss by k, and only by k")
            raise CheckFailed(
                f"{what}: the gradient in .grad differs from the gradient of loss_fn(model(x), y) on the whole batch: every row "
                "should be used once, its inputs with its own targets (x.chunk(k) and y.chunk(k) side by side)"
            )
        if not math.isclose(loss, full_loss, rel_tol=1e-5, abs_tol=1e-6):
            if math.isclose(loss, c.k * full_loss, rel_tol=1e-5):
                raise CheckFailed(f"{what} returned {loss:.4f}, k times the batch's mean loss {full_loss:.4f}: add up the micro-batch losses divided by k")
            if math.isclose(loss, last_loss, rel_tol=1e-5) or math.isclose(loss, last_loss / c.k, rel_tol=1e-5):
                raise CheckFailed(f"{what} returned the last micro-batch's loss: return the mean over the whole batch, the sum of the micro-batch losses divided by k")
            raise CheckFailed(f"{what} returned {loss:.4f}, but the batch's mean loss is {full_loss:.4f}")
    return "the full-batch gradient from k micro-batches, stale gradients cleared, for k = 1 to 4 and two losses"


# --------------------------------------------------------------------------- 12.4 and 12.5 resuming exactly


@dataclass
class _ResumeCase:
    optimizer: str  # "Adam" or "SGD with momentum"
    before: int  # steps before the checkpoint
    after: int  # steps after it
    seed: int


_RESUME_CASES = [_ResumeCase("Adam", 3, 3, 0), _ResumeCase("SGD with momentum", 2, 4, 1)]
_STATE_KEYS = ("model", "optimizer", "generator", "step")


def _resume_setup(c: _ResumeCase, seed: int) -> tuple[nn.Module, torch.optim.Optimizer, torch.Generator]:
    net = _tiny_net(seed, (3, 8, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.02) if c.optimizer == "Adam" else torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    return net, opt, torch.Generator().manual_seed(1000 + seed)


def _train(net: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator, steps: int) -> None:
    """Steps of regression on fresh random batches drawn from ``gen`` (so the generator matters too)."""
    for _ in range(steps):
        x = torch.randn(16, 3, generator=gen)
        y = torch.sin(x.sum(dim=1, keepdim=True)) + 0.1 * torch.randn(16, 1, generator=gen)
        opt.zero_grad()
        F.mse_loss(net(x), y).backward()
        opt.step()


def _same_tree(a: Any, b: Any) -> bool:
    """Equal nested dicts / lists of tensors and numbers (tensors bit for bit, dtype included)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(_same_tree(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(_same_tree, a, b))
    return a == b


def _round_trip(what: str, state: dict[str, Any]) -> dict[str, Any]:
    """The state as torch.save then torch.load(weights_only=True) give it back, naming the entry that cannot go."""
    for key, value in state.items():
        buffer = io.BytesIO()
        try:
            torch.save({key: value}, buffer)
            buffer.seek(0)
            torch.load(buffer, weights_only=True)
        except Exception:
            raise CheckFailed(
                f"{what}: state[{key!r}] is an object of class {type(value).__name__}, which torch.load(weights_only=True) refuses to load (it accepts "
                "tensors, numbers, strings and dicts and lists of them, never objects whose loading could run code): store "
                + {"model": "model.state_dict()", "optimizer": "optimizer.state_dict()", "generator": "generator.get_state()"}.get(key, "tensors and numbers")
            ) from None
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def _snapshot(net: nn.Module, opt: torch.optim.Optimizer, gen: torch.Generator, step: int) -> dict[str, Any]:
    return {"model": copy.deepcopy(net.state_dict()), "optimizer": copy.deepcopy(opt.state_dict()), "generator": gen.get_state(), "step": step}


def _moments(c: _ResumeCase) -> str:
    return "Adam's running averages of the gradients" if c.optimizer == "Adam" else "the momentum buffers"


@_exercise("12.4", "saving the training state")
def save_state(fn: Callable[..., dict[str, Any]]) -> str:
    """fn(model, optimizer, generator, step) -> {"model", "optimizer", "generator", "step"}: a snapshot that torch.load(weights_only=True) reads."""
    for c in _RESUME_CASES:
        net, opt, gen = _resume_setup(c, c.seed)
        _train(net, opt, gen, c.before)
        truth = _snapshot(net, opt, gen, c.before)
        what = f"save_state(model, optimizer, generator, {c.before}) after {c.before} steps of {c.optimizer}"
        state = _call(what, fn, net, opt, gen, c.before)
        if not torch.equal(gen.get_state(), truth["generator"]):
            raise CheckFailed(f"{what} moved the generator on (it drew numbers, or was re-seeded): only read it, generator.get_state()")
        if not _same_tree(net.state_dict(), truth["model"]) or not _same_tree(opt.state_dict(), truth["optimizer"]):
            raise CheckFailed(f"{what} changed the model or the optimizer: saving only reads them")
        if not isinstance(state, dict):
            raise CheckFailed(f"{what} should return a dict with the entries {', '.join(map(repr, _STATE_KEYS))}, but returned a {type(state).__name__}")
        missing = [key for key in _STATE_KEYS if key not in state]
        if missing:
            raise CheckFailed(f"{what} returned a dict without {', '.join(map(repr, missing))}: it needs all of {', '.join(map(repr, _STATE_KEYS))}")
        _train(net, opt, gen, c.after)  # training goes on after the checkpoint ...
        live = _snapshot(net, opt, gen, c.before)
        saved = _round_trip(what, state)  # ... and then the file is read back
        for key, how in (("model", "model.state_dict()"), ("optimizer", "optimizer.state_dict()")):
            if _same_tree(saved[key], truth[key]):
                continue
            if _same_tree(saved[key], live[key]):
                raise CheckFailed(
                    f"{what}: state[{key!r}] changed when training went on after the save: {how} holds references to the "
                    "live tensors, which every step updates in place; save a copy, copy.deepcopy(" + how + ")"
                )
            if key == "optimizer" and isinstance(saved[key], dict) and saved[key].get("state") == {}:
                raise CheckFailed(f"{what}: state['optimizer'] holds no per-weight state: take optimizer.state_dict() after the steps, it holds {_moments(c)}")
            raise CheckFailed(f"{what}: state[{key!r}] should be a copy of {how} at the moment of saving")
        if isinstance(saved["generator"], numbers.Integral):
            raise CheckFailed(
                f"{what}: state['generator'] is the number {saved['generator']}: a seed says where the random stream started, not "
                "how far it has got; store generator.get_state()"
            )
        if not _same_tree(saved["generator"], truth["generator"]):
            raise CheckFailed(f"{what}: state['generator'] should be generator.get_state() at the moment of saving, the stream's position")
        step = saved["step"]
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step != c.before:
            raise CheckFailed(f"{what}: state['step'] should be the int {c.before}, the step you were given, but is {step!r}")
    return "a snapshot of weights, optimizer, generator and step that later steps leave alone and weights_only loading accepts"


@_exercise("12.5", "resuming exactly")
def restore_state(fn: Callable[..., int]) -> str:
    """fn(state, model, optimizer, generator) -> int: loads the state into the objects given, returns state["step"]."""
    for c in _RESUME_CASES:
        net, opt, gen = _resume_setup(c, c.seed)
        _train(net, opt, gen, c.before)
        state = _round_trip("the checks' own save", _snapshot(net, opt, gen, c.before))  # as a checkpoint file gives it back
        truth = copy.deepcopy(state)
        _train(net, opt, gen, c.after)  # the uninterrupted run
        fresh_net, fresh_opt, fresh_gen = _resume_setup(c, c.seed + 50)  # a new process: other weights, new optimizer, other seed
        what = f"restore_state(state, model, optimizer, generator) with a checkpoint after {c.before} steps of {c.optimizer}"
        step = _call(what, fn, state, fresh_net, fresh_opt, fresh_gen)
        into = "(load into the objects you were given: a new one made inside your function is lost when it returns)"
        if not _same_tree(fresh_net.state_dict(), truth["model"]):
            raise CheckFailed(f"{what}: the model does not hold the saved weights: model.load_state_dict(state['model']) {into}")
        if not _same_tree(fresh_opt.state_dict(), truth["optimizer"]):
            empty = not fresh_opt.state_dict()["state"]
            raise CheckFailed(
                f"{what}: the optimizer " + ("still has no state" if empty else "does not hold the saved state")
                + f": optimizer.load_state_dict(state['optimizer']) {into}; without {_moments(c)} the next steps differ from the uninterrupted run"
            )
        if not torch.equal(fresh_gen.get_state(), truth["generator"]):
            raise CheckFailed(
                f"{what}: the generator is not where the saved one was: generator.set_state(state['generator']) {into}; "
                "otherwise the resumed run draws other batches"
            )
        if step is None:
            raise CheckFailed(f"{what} returned None: return state['step'], so that the loop knows where to go on from")
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step != c.before:
            raise CheckFailed(f"{what} returned {step!r}: return state['step'], the int {c.before}")
        _train(fresh_net, fresh_opt, fresh_gen, c.after)
        for (name, a), b in zip(net.state_dict().items(), fresh_net.state_dict().values()):
            if not torch.equal(a, b):
                raise CheckFailed(f"{what}: after {c.after} more steps {name} differs from the uninterrupted run by up to {(a - b).abs().max().item():.2g}")
    return "training resumed from the checkpoint equals uninterrupted training bit for bit, with Adam and with SGD with momentum"
