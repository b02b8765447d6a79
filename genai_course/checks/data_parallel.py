"""Exercise checks for lesson 12 (scaling up): data parallelism.

12.1 the shard of a global batch that one process computes ``shard``, 12.2 what DDP's all-reduce
leaves on every rank ``all_reduce_mean``. Lessons call them through ``genai_course.checks``:
``checks.shard(fn)``. (12.3 is in ``accumulation``, 12.4 and 12.5 in ``resume``.)

The checks need only torch: ranks are simulated in one process, and the model is a two-layer
network of a few units whose weights come from a seeded generator (the global RNG is left
alone). Each check runs several batch sizes, world sizes, ranks and seeds, chosen so that each
usual slip gives an answer of its own; when the learner's answer is wrong it is compared with
those slips to say which it is.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ..utils import same
from ._nets import _tiny_net
from ._protocol import CheckFailed, _call, _exercise, _NotAttempted, _tensor, _unchanged, _with_advice

__all__ = ["shard", "all_reduce_mean"]


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
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))


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
        i = next(i for i, (o, m) in enumerate(zip(out, _mean(grads))) if not same(o, m))
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
