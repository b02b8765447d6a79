"""Exercise checks for lesson 12 (scaling up): data parallelism.

12.1 the shard of a global batch that one process computes ``shard``, 12.2 what DDP's all-reduce
leaves on every rank ``all_reduce_mean``. Lessons call them through ``genai_course.checks``:
``checks.shard(fn)``. (12.3 is in ``accumulation``, 12.4 and 12.5 in ``resume``.) Each is a probe
(``def name(fn, seen)``: runs the learner's code, records what it saw) and a judge (``@name.judge``:
from those observations to the verdict), see ``_protocol``.

The checks need only torch: ranks are simulated in one process, and the model is a two-layer
network of a few units whose weights come from a seeded generator (the global RNG is left
alone). Each check runs several batch sizes, world sizes, ranks and seeds, chosen so that each
usual slip gives an answer of its own; when the learner's answer is wrong it is compared with
those slips to say which it is.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F

from ..utils import same
from ._nets import _tiny_net
from ._protocol import CheckFailed, Observed, _call, _edited, _exercise, _tensor, _text, _unchanged, _with_advice
from .observations import observe

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


def _shard_calls() -> Iterator[tuple[str, str, torch.Tensor, int, int]]:
    """(observation key, what the call is, x, rank, world) for every call the check makes, in order."""
    for b, world, rest in _SHARD_CASES:
        x = _numbered(b, rest)
        for rank in range(world):
            yield f"{b}/{world}/{rank}", f"shard(x, {rank}, {world}) for x of shape {tuple(x.shape)}", x, rank, world


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


_OFF_BY_ONE = ("off by one: each rank's block has n = B // world rows, from the first row after the blocks of the ranks "
               "before it to the row before the next rank's first (a Python slice leaves its end out)")
_SHARD_SLIPS: list[tuple[Callable[[torch.Tensor, int, int], torch.Tensor], str]] = [
    (lambda x, r, w: x[r::w],
     "that is every world-th row starting at row rank (interleaved, the way torch's DistributedSampler deals indices out): "
     "the contract here is one contiguous block of rows per rank, in rank order"),
    (lambda x, r, w: _block(x, r + 1, w),
     "that is the block of rank + 1: ranks count from 0, so rank r starts at row r * n, and rank world - 1 ends at the last row"),
    (lambda x, r, w: x[r * w:(r + 1) * w],
     "each block has world rows: the number of shards and their size are swapped; every rank gets n = B // world rows"),
    (lambda x, r, w: _block(x, r, w, stop=1), _OFF_BY_ONE),
    (lambda x, r, w: _block(x, r, w, start=1, stop=1), _OFF_BY_ONE),
    (lambda x, r, w: _block(x, r, w, stop=-1), _OFF_BY_ONE),
    (lambda x, r, w: x, "that is the whole batch: each of the world processes computes only its own 1/world of it"),
    (lambda x, r, w: x.tensor_split(w, dim=-1)[r],
     "you split along the last dimension: the batch is dim 0, the rows of x: take a block of rows, not of columns"),
]

_SHARD_ERRORS = [
    (("slice indices must be integers",), "a slice needs integers, and dividing B by world with / gives a float even when it divides evenly"),
    (("tuple index out of range",), "splitting into world pieces may give fewer than world of them: take rank's block of n rows directly, "
                                    "after the blocks of the ranks before it"),
]


def _same_rows(out: torch.Tensor, truth: torch.Tensor) -> bool:
    return out.dtype == truth.dtype and out.shape == truth.shape and torch.equal(out, truth)


def _outcome(fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
    """What a call that should raise did: the exception's class and message, or a record of what it returned
    (the learner's NotImplementedError goes on to ``_call``: not attempted)."""
    try:
        out = fn(*args)
    except NotImplementedError:
        raise
    except Exception as e:
        return {"raised": type(e).__name__, "value_error": isinstance(e, ValueError), "message": _text(e)[:500]}
    return {"raised": None, "out": observe(out)}


@_exercise("12.1", "one process's shard of the batch")
def shard(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(x (B, ...), rank, world) -> x[rank * n:(rank + 1) * n], n = B // world; ValueError if world does not divide B."""
    for key, what, x, rank, world in _shard_calls():
        given = x.clone()
        seen[key] = observe(_call(what, fn, given, rank, world))
        seen[f"{key}.edited"] = _edited([("x", given, x)])
    seen["uneven"] = _call("shard(x, 1, 4) for x of shape (10, 2)", _outcome, fn, _numbered(10, (2,)), 1, 4)


def _judge_uneven(seen: Observed) -> None:
    """B = 10 rows over world = 4 processes must raise a ValueError that names both numbers."""
    what, got = "shard(x, 1, 4) for x of shape (10, 2)", seen["uneven"]
    if got["raised"] is None:
        rec = got["out"]
        out = f"a tensor of shape {tuple(rec['shape'])}" if rec["type"] == "Tensor" else f"a {rec['type']}"
        raise CheckFailed(
            f"{what} returned {out}: 10 rows do not split into 4 equal shards, and unequal shards would weigh rows unequally "
            "in the mean of the gradients; refuse such a batch with a ValueError that names B and world"
        )
    message = got["message"]
    if not got["value_error"]:
        first_line = message.splitlines()[0] if message else ""
        raise CheckFailed(
            f"{what} raised {got['raised']}: {first_line}; raise ValueError instead (an assert vanishes under python -O), "
            "naming B and world"
        )
    if not ("10" in message and "4" in message):
        raise CheckFailed(
            f"{what} raised ValueError({message!r}): good, but the message should say what is wrong with the numbers: "
            "name both B (10 here) and world (4 here)"
        )


def _coverage(outs: list[torch.Tensor], x: torch.Tensor, world: int) -> str | None:
    """Where the world ranks' shards (each a tensor of rows of x) overlap or leave rows of x out, in words."""
    rows = [_rows_of(o, x) for o in outs]
    if any(r is None for r in rows):
        return None
    ranks: dict[int, list[int]] = {}
    for rank, held in enumerate(rows):
        for i in held:
            ranks.setdefault(i, []).append(rank)
    twice = [i for i in sorted(ranks) if len(ranks[i]) > 1]
    dropped = [i for i in range(x.shape[0]) if i not in ranks]
    if not twice and not dropped:
        return None
    said = []
    if twice:
        i = twice[0]
        where = sorted(set(ranks[i]))
        said.append(f"row {i} goes to ranks {' and '.join(map(str, where))}" if len(where) > 1 else f"row {i} is in rank {where[0]}'s shard twice")
    if dropped:
        listed = ", ".join(map(str, dropped[:4])) + (", ..." if len(dropped) > 4 else "")
        said.append(f"rows {listed} go to no rank" if len(dropped) > 1 else f"row {listed} goes to no rank")
    head = "overlap and leave rows out" if twice and dropped else "overlap" if twice else "leave rows out"
    return (f"with B = {x.shape[0]} rows over world = {world} ranks the shards {head}: {', and '.join(said)}; every row must go to exactly "
            "one rank, so that together the ranks compute the whole batch once (rank r's block starts after the r blocks before it)")


@shard.judge
def _judge_shard(seen: Observed) -> str:
    calls, outs = [], []
    for key, what, x, rank, world in _shard_calls():
        try:
            rec = seen[key]
        except CheckFailed as failure:
            raise _with_advice(failure, _SHARD_ERRORS) from None
        _unchanged(what, seen[f"{key}.edited"], "x[...] = ... or x.zero_()")
        calls.append((what, x, rank, world))
        outs.append(_tensor(what, rec, dtype=None))
    if not all(_same_rows(o, _block(x, r, w)) for o, (_, x, r, w) in zip(outs, calls)):
        for slip, advice in _SHARD_SLIPS:
            if all(isinstance(s := _try(slip, x, r, w), torch.Tensor) and _same_rows(o, s) for o, (_, x, r, w) in zip(outs, calls)):
                raise CheckFailed(advice)
        i = next(i for i, (o, (_, x, r, w)) in enumerate(zip(outs, calls)) if not _same_rows(o, _block(x, r, w)))
        (what, x, r, w), out = calls[i], outs[i]
        first = i - r  # the case's rank 0
        overlap = _coverage(outs[first:first + w], x, w)
        if overlap:
            raise CheckFailed(overlap)
        n = x.shape[0] // w
        want = f"rows {r * n} to {(r + 1) * n - 1} of x"
        if tuple(out.shape) != (n, *x.shape[1:]):
            raise CheckFailed(f"{what} should have shape {(n, *x.shape[1:])} ({want}, n = B // world = {n}), but has shape {tuple(out.shape)}")
        if out.dtype != x.dtype:
            raise CheckFailed(f"{what} should keep x's dtype {x.dtype}, but has dtype {out.dtype}: return the rows themselves")
        rows = _rows_of(out, x)
        held = f"holds rows {rows}" if rows is not None else "holds values that are not rows of x"
        raise CheckFailed(f"{what} should be {want}, but {held}")
    _judge_uneven(seen)
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
    (_sum, "that is the sum over ranks, world times too big: DDP averages the ranks' gradients"),
    (lambda gs: [t / len(gs[0]) for t in _sum(gs)],
     "you divided by the number of gradient tensors of one rank: the mean is over the ranks, so it is the number of ranks that counts"),
    (lambda gs: [t / (len(gs) * len(gs[0])) for t in _sum(gs)],
     "you divided by the number of tensors in all ranks together: the mean is over the ranks, so it is the number of ranks that counts"),
    (lambda gs: gs[0], "those are rank 0's own gradients: after the all-reduce every rank holds the mean over all ranks"),
    (lambda gs: gs[-1], "those are the last rank's own gradients: after the all-reduce every rank holds the mean over all ranks"),
]

_REDUCE_ERRORS = [
    (("stack expects each tensor to be equal size",),
     "one rank's gradient tensors have different shapes, so they cannot be stacked together: average one parameter at a time, "
     "its gradients from every rank"),
]


def _reduce_output(what: str, rec: dict[str, Any], grads: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    world, shapes = len(grads), [tuple(t.shape) for t in grads[0]]
    if rec["type"] == "Tensor":
        raise CheckFailed(f"{what} should return a list of {len(shapes)} tensors, one per gradient tensor, but returned one tensor of shape {tuple(rec['shape'])}")
    if rec["type"] not in ("list", "tuple"):
        raise CheckFailed(f"{what} should return a list of {len(shapes)} tensors, one per gradient tensor, but returned a {rec['type']}")
    items = rec["items"]
    if rec["length"] == world and items and all(o["type"] in ("list", "tuple") for o in items):
        raise CheckFailed(f"{what} returned one list per rank: return a single list, what every rank holds after the all-reduce (they all hold the same)")
    if rec["length"] != len(shapes):
        per_rank = " (one per rank? each result is one parameter's gradients averaged across the ranks)" if rec["length"] == world else ""
        raise CheckFailed(f"{what} should return {len(shapes)} tensors, one per gradient tensor of a rank, but returned {rec['length']}{per_rank}")
    return [_tensor(f"tensor {i} of {what}", o, s) for i, (o, s) in enumerate(zip(items, shapes))]


def _same_list(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))


def _network_grads() -> Iterator[tuple[str, list[list[torch.Tensor]], list[torch.Tensor]]]:
    """The key fact of data parallelism, on a tiny model: (what, the shards' gradients of a mean loss, the full
    batch's gradient), for 2, 3 and 4 shards of a batch of 24."""
    net = _tiny_net(3)
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(24, 4, generator=g), torch.randn(24, 1, generator=g)
    full = list(torch.autograd.grad(F.mse_loss(net(x), y), list(net.parameters())))
    for world in (2, 3, 4):
        n = 24 // world
        grads = [list(torch.autograd.grad(F.mse_loss(net(x[r * n:(r + 1) * n]), y[r * n:(r + 1) * n]), list(net.parameters()))) for r in range(world)]
        yield f"all_reduce_mean(grads) for the gradients of a network on {world} shards of a batch of 24", grads, full


@_exercise("12.2", "the all-reduce of gradients")
def all_reduce_mean(fn: Callable[..., list[torch.Tensor]], seen: dict) -> None:
    """fn(grads: world lists of the same gradient tensors) -> one list: the element-wise mean over ranks of each tensor."""
    for seed, (world, shapes) in enumerate(_REDUCE_CASES):
        grads = _grads(world, shapes, seed)
        what = f"all_reduce_mean(grads) for {world} ranks of {len(shapes)} tensors with shapes {shapes}"
        given = [[t.clone() for t in rank] for rank in grads]
        seen[f"case{seed}"] = observe(_call(what, fn, given))
        seen[f"case{seed}.edited"] = _edited((f"gradients of rank {r} (tensor {i})", given[r][i], grads[r][i])
                                             for r in range(world) for i in range(len(shapes)))
    for k, (what, grads, _) in enumerate(_network_grads()):
        seen[f"net{k}"] = observe(_call(what, fn, grads))


@all_reduce_mean.judge
def _judge_all_reduce_mean(seen: Observed) -> str:
    for seed, (world, shapes) in enumerate(_REDUCE_CASES):
        grads = _grads(world, shapes, seed)
        what = f"all_reduce_mean(grads) for {world} ranks of {len(shapes)} tensors with shapes {shapes}"
        try:
            rec = seen[f"case{seed}"]
        except CheckFailed as failure:
            raise _with_advice(failure, _REDUCE_ERRORS) from None
        out = _reduce_output(what, rec, grads)
        _unchanged(what, seen[f"case{seed}.edited"], "+=, add_ or div_ on them")
        if _same_list(out, _mean(grads)):
            continue
        for slip, advice in _REDUCE_SLIPS:
            if _same_list(out, slip(grads)):
                raise CheckFailed(advice)
        i = next(i for i, (o, m) in enumerate(zip(out, _mean(grads))) if not same(o, m))
        raise CheckFailed(
            f"{what}: tensor {i} should be the element-wise mean of the {world} ranks' tensor {i}, "
            f"e.g. {_mean(grads)[i].flatten()[0].item():.4f} first, but starts with {out[i].flatten()[0].item():.4f}"
        )
    for k, (what, grads, full) in enumerate(_network_grads()):
        out = _reduce_output(what, seen[f"net{k}"], grads)
        if not _same_list(out, full):
            raise CheckFailed(f"{what} differs from the gradient of the whole batch: every rank must hold the mean of the ranks' gradients")
    return "the mean over ranks, and on a network it equals the full-batch gradient for 2, 3 and 4 shards"
