"""Exercise checks for lesson 14 (keep learning): variations on what the lesson builds.

14.1 a LoRA adapter for an embedding table ``lora_embedding`` (the lesson's adapter wraps a linear
layer), 14.2 training one column of a layer in place ``freeze_except_column`` (the lesson trains a
new column as a separate parameter), 14.3 a batch of new examples mixed with replayed ones
``mixed_batch`` (the lesson mixes its replay set in by repeating the new examples). Lessons call
them through ``genai_course.checks``: ``checks.mixed_batch(fn)``. Each is a probe (runs the
learner's code on the check's own small inputs, records what it saw) and a judge (from those
observations to the verdict), see ``_protocol``. The judges rebuild every input from its seed
(``_adapt_cases``), so what they compare with never comes from the learner's process.
"""

from __future__ import annotations

import math

from typing import Any, Callable

import torch
from torch import nn

from ..utils import same
from ._adapt_cases import (_COLUMN_CASES, _EMBED_CASES, _MIX_CASES, _OPTIMIZERS, _column_net, _column_run, _embed_inputs,
                           _mix_inputs, _reference_column, _train_steps)
from ._protocol import CheckFailed, Observed, _call, _edited, _exercise, _module_or_stop, _stop, _tensor, _unchanged, _with_advice
from .observations import observe

__all__ = ["lora_embedding", "freeze_except_column", "mixed_batch"]

# --------------------------------------------------------------------------- 14.1 LoRA for an embedding


def _grad(t: Any) -> Any:
    return None if not isinstance(t, torch.Tensor) or t.grad is None else t.grad.detach().clone()


@_exercise("14.1", "a LoRA adapter for an embedding")
def lora_embedding(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn(table: nn.Embedding (K rows of E), rank r, generator) -> nn.Module with parameters A (r, K) and B (E, r):
    indices (N,) -> (N, E), the table's row i plus column i of B A; the table frozen."""
    for k, (rows, dim, rank, seed) in enumerate(_EMBED_CASES):
        table, idx, weights, b_random = _embed_inputs(rows, dim, rank, seed)
        made = f"make_lora_embedding(table of {rows} rows of {dim}, rank={rank}, generator)"
        before = table.weight.detach().clone()
        module = _call(made, fn, table, rank, torch.Generator().manual_seed(seed))
        _module_or_stop(seen, f"{k}.module", module)
        seen[f"{k}.edited"] = _edited([("table's weights", table.weight.detach(), before)])
        seen[f"{k}.table_trains"] = bool(table.weight.requires_grad)
        params = list(module.named_parameters())
        seen[f"{k}.trainable"] = [[name, p.numel()] for name, p in params if p.requires_grad]
        a, b = getattr(module, "A", None), getattr(module, "B", None)
        seen[f"{k}.A"], seen[f"{k}.B"] = observe(a), observe(b)
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            _stop()
        if k == 0:  # the same seed again, and another one
            for name, s in (("again", seed), ("other", seed + 1)):
                twin = _call(made, fn, nn.Embedding.from_pretrained(before.clone(), freeze=False), rank, torch.Generator().manual_seed(s))
                seen[f"{k}.A_{name}"] = observe(getattr(twin, "A", None))
        out = _call(f"your adapted table on indices of shape {tuple(idx.shape)}", module, idx)
        seen[f"{k}.start"] = observe(out)
        if not (isinstance(out, torch.Tensor) and out.shape == weights.shape):
            _stop()
        seen[f"{k}.start_grads"] = None
        if out.requires_grad:
            _call("the backward pass through your adapted table", lambda: (out * weights).sum().backward())
            seen[f"{k}.start_grads"] = {"A": observe(_grad(a)), "B": observe(_grad(b)), "table": observe(_grad(table.weight))}
        if not (isinstance(b, nn.Parameter) and tuple(b.shape) == (dim, rank)):
            _stop()
        with torch.no_grad():
            b.copy_(b_random)  # as if B had trained
        for p in (a, b, table.weight):
            p.grad = None
        out = _call(f"your adapted table on indices of shape {tuple(idx.shape)}, after B changed", module, idx)
        seen[f"{k}.trained"] = observe(out)
        if isinstance(out, torch.Tensor) and out.shape == weights.shape and out.requires_grad:
            _call("the backward pass through your adapted table", lambda: (out * weights).sum().backward())
        seen[f"{k}.trained_grads"] = {"A": observe(_grad(a)), "B": observe(_grad(b))}


_LOOKUP_ADVICE = [(("out of bounds for dimension 0", "index out of range"), "B A has shape (width, rows): an index of the table picks "
                   "one of its columns, not a row"),
                  (("must match the size", "cannot be multiplied", "size mismatch"), "line up the shapes: A is (rank, rows), B is "
                   "(width, rank), and a lookup of N indices is (N, width)")]


def _zero(t: torch.Tensor) -> bool:
    return not bool(t.abs().sum() > 0)


def _reaches(rec: Any) -> bool:
    return rec is not None and rec["type"] == "Tensor" and bool(rec["value"].abs().sum() > 0)


@lora_embedding.judge
def _judge_lora_embedding(seen: Observed) -> str:
    for k, (rows, dim, rank, seed) in enumerate(_EMBED_CASES):
        table, idx, _, b_random = _embed_inputs(rows, dim, rank, seed)
        base = table.weight.detach()[idx]  # (N, E)
        if seen[f"{k}.module"] is not None:
            raise CheckFailed(f"make_lora_embedding should return a torch.nn.Module, got {seen[f'{k}.module']}")
        if seen[f"{k}.edited"]:
            raise CheckFailed("make_lora_embedding changed the table's weights: the base table stays as it was trained, the adapter "
                              "only adds to its lookups")
        shapes = {"A": (rank, rows), "B": (dim, rank)}
        for name, shape in shapes.items():
            rec = seen[f"{k}.{name}"]
            if rec["type"] == "NoneType":
                raise CheckFailed(f"your module has no attribute {name}: keep the two factors of the update as parameters named A and B")
            if rec["type"] == "Tensor" and tuple(rec["shape"]) == shape[::-1] and shape[0] != shape[1]:
                raise CheckFailed(f"{name} has shape {tuple(rec['shape'])}, the other way round: for a table of {rows} rows of {dim} and "
                                  f"rank {rank}, A is (rank, rows) = {shapes['A']} and B is (width, rank) = {shapes['B']}")
        a, b = (_tensor(f"your module's {name}", seen[f"{k}.{name}"], shape) for name, shape in shapes.items())
        if not _zero(b):
            if _zero(a):
                raise CheckFailed("B starts random and A starts at zero: the update B A is zero either way, but here B must start at zero "
                                  "and A random (as in the lesson's adapter)")
            raise CheckFailed("B does not start at zero, so the adapted table does not start as the base one: the model would forget "
                              "before it learns anything; start B at zero")
        if _zero(a):
            raise CheckFailed("A starts at zero as well as B: then the gradient that reaches B is zero and neither factor ever moves; "
                              "start A small and random")
        if k == 0:
            again, other = (_tensor("A made with the generator of the same seed", seen[f"{k}.A_{s}"], shapes["A"]) for s in ("again", "other"))
            if not torch.equal(a, again):
                raise CheckFailed("the same seed gave two different A: draw A with the generator you are given")
            if torch.equal(a, other):
                raise CheckFailed("generators with different seeds gave the same A: A must be drawn with the generator you are given")
        if seen[f"{k}.table_trains"]:
            raise CheckFailed("the base table still trains (its weight requires a gradient): freeze it, only A and B train")
        count, trainable = rank * (rows + dim), seen[f"{k}.trainable"]
        if sum(n for _, n in trainable) != count:
            names = ", ".join(f"{name} ({n})" for name, n in trainable[:4])
            raise CheckFailed(f"your module trains {sum(n for _, n in trainable)} numbers ({names}); with rank {rank} on a table of "
                              f"{rows} rows of {dim} the adapter trains {count}: A and B, nothing else")
        what = f"your adapted table on indices of shape {tuple(idx.shape)}"
        try:
            start = _tensor(what, seen[f"{k}.start"], tuple(base.shape))
        except CheckFailed as failure:
            raise _with_advice(failure, _LOOKUP_ADVICE) from None
        if not same(start, base, 1e-6):
            raise CheckFailed(f"{what} does not start as the base table's lookup, although B is zero: "
                              "index the table's rows with the indices, as nn.Embedding does, and add the update to them")
        moved = _tensor(f"{what}, after B changed", seen[f"{k}.trained"], tuple(base.shape))
        truth = (b_random @ a).T[idx]  # (N, E): column i of B A for each index i
        delta = (moved - base).double()
        if same(delta, torch.zeros_like(delta), 1e-7):
            raise CheckFailed("after B changed, your lookups are still the base table's: forward must add the low-rank update")
        grads = seen[f"{k}.start_grads"]
        if not seen[f"{k}.start"]["requires_grad"] or grads is None:
            raise CheckFailed("the lookups carry no gradient: A and B must be in the graph (no torch.no_grad() or .detach())")
        if _reaches(grads["table"]):
            raise CheckFailed("gradients reach the base table's weights: it must stay frozen, only A and B train")
        if not _reaches(grads["B"]):
            raise CheckFailed("at the start no gradient reaches B: the update must be computed from A and B in forward, without .detach()")
        if not same(delta, truth.double(), 1e-5):
            if same(delta, delta[:1].expand_as(delta), 1e-6):
                raise CheckFailed("after B changed, every index got the same update: each index i needs its own part of B A, "
                                  "the one that a one-hot vector of i would pick")
            ratio = float((delta * truth).sum() / (truth * truth).sum())
            if abs(ratio - 1) > 1e-3 and same(delta, ratio * truth.double(), 1e-5):
                raise CheckFailed(f"after B changed, your update is {ratio:.4g} times the right one: this exercise adds B A unscaled")
            raise CheckFailed(f"after B changed, the lookups differ from the base rows plus the update of each index (index {int(idx[0])}: "
                              f"got {moved[0, 0].item():.4f}, expected {(base[0, 0] + truth[0, 0]).item():.4f} in its first entry)")
        for name in ("A", "B"):
            if not _reaches(seen[f"{k}.trained_grads"][name]):
                raise CheckFailed(f"once B is not zero, no gradient reaches {name}: compute the update from A and B without .detach()")
    return "starts as the base table, trains A and B only, each index gets its own low-rank update"


# --------------------------------------------------------------------------- 14.2 one column in place


@_exercise("14.2", "training one column in place")
def freeze_except_column(fn: Callable[..., Any], seen: dict) -> None:
    """fn(model, layer, column): after it, any optimizer over model.parameters() moves only layer.weight[:, column]."""
    for k, (sizes, column, seed) in enumerate(_COLUMN_CASES):
        for opt_name in _OPTIMIZERS:
            key = f"{k}.{opt_name}"
            model = _column_net(sizes, seed)
            layer = model[0]
            before = _column_run(model)
            _call(f"freeze_except_column(model, model[0], column={column})", fn, model, layer, column)
            seen[f"{key}.edited"] = _edited([(name, t, before[name]) for name, t in _column_run(model).items()])
            if any(p.requires_grad for p in model.parameters()):  # (with nothing to train, nothing moves)
                _call(f"{opt_name} steps on your model", _train_steps, model, opt_name, sizes, column, seed)
            seen[f"{key}.after"] = {name: t.clone() for name, t in _column_run(model).items()}


_SLICE_ADVICE = [(("doesn't require gradient",), "whether a tensor trains is set for the whole weight: a slice of it is a new "
                  "tensor, and setting it leaves the weight as it was")]


def _entries(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what[:-1]}ies" if what.endswith("y") else f"{n} {what}s"


@freeze_except_column.judge
def _judge_freeze_except_column(seen: Observed) -> str:
    for k, (sizes, column, seed) in enumerate(_COLUMN_CASES):
        for opt_name in _OPTIMIZERS:
            key = f"{k}.{opt_name}"
            before, reference = _column_run(_column_net(sizes, seed)), _reference_column(sizes, column, seed, opt_name)
            try:
                edited = seen[f"{key}.edited"]
            except CheckFailed as failure:
                raise _with_advice(failure, _SLICE_ADVICE) from None
            if edited:
                raise CheckFailed(f"freeze_except_column changed the {edited[0]} itself: it must only arrange what "
                                  "trains and leave every weight as it was (a mask belongs to the gradient, not to the weight)")
            after = seen[f"{key}.after"]
            if not isinstance(after, dict) or set(after) != set(before):
                raise TypeError("the recorded weights are not the model's")
            after = {name: _tensor(f"the model's {name}", observe(t), tuple(before[name].shape)) for name, t in after.items()}
            moved = {name: after[name] != before[name] for name in before}  # bit for bit
            w = moved["first layer's weight"]
            where = f"after {opt_name} steps (column {column})"
            for name in ("second layer's weight", "second layer's bias"):
                if moved[name].any():
                    raise CheckFailed(f"{where}, the {name} moved ({_entries(int(moved[name].sum()), 'entry')}): every parameter "
                                      "but that one column must stay frozen, in the other layers too")
            if moved["first layer's bias"].any():
                raise CheckFailed(f"{where}, the layer's bias moved: only the column of the weight may train, the bias is frozen too")
            outside = w.clone()
            outside[:, column] = False
            if not w[:, column].any():
                others = [j for j in range(w.shape[1]) if w[:, j].any()]
                if len(others) == 1 and w[:, others[0]].all():
                    raise CheckFailed(f"{where}, column {others[0]} moved instead of column {column}: train the column you are given")
                if outside.any():
                    raise CheckFailed(f"{where}, the weights outside the column moved and the column stayed: your mask is the other way "
                                      "round (it lets through what must freeze)")
                raise CheckFailed(f"{where}, column {column} never moved: it must keep training (its gradient is zeroed "
                                  "or the weight cannot train at all)")
            if outside.any():
                rows = outside.any(dim=1).nonzero().flatten().tolist()
                if w[column].all() and not outside[[r for r in range(w.shape[0]) if r != column]].any():
                    raise CheckFailed(f"{where}, row {column} of the weight moved: that row holds the weights from every input into "
                                      f"output {column}; input {column}'s column is what trains (the weight is (out, in))")
                raise CheckFailed(f"{where}, {_entries(int(outside.sum()), 'entry')} of the weight outside column {column} moved "
                                  f"(in rows {rows[:4]}): only that column may change, bit for bit")
            if not same(after["first layer's weight"][:, column], reference, 1e-4):
                raise CheckFailed(f"{where}, column {column} moved, but not as training moves it: its gradient must reach it unchanged")
    return "only the column moved, bit for bit, under Adam, fused Adam and SGD with momentum"


# --------------------------------------------------------------------------- 14.3 a mixed batch


@_exercise("14.3", "a batch of new and replayed examples")
def mixed_batch(fn: Callable[..., Any], seen: dict) -> None:
    """fn(new_x, new_y, old_x, old_y, batch_size, new_fraction, generator) -> (x, y): round(new_fraction * batch_size)
    new examples drawn with replacement, the rest from the replay set, shuffled."""
    for k, case in enumerate(_MIX_CASES):
        inputs = _mix_inputs(case)
        copies = [t.clone() for t in inputs]
        what = f"mixed_batch(..., batch_size={case.batch}, new_fraction={case.fraction}, generator)"
        for run, seed in (("first", case.seed), ("again", case.seed), ("other", case.seed + 1)):
            out = _call(what, fn, *inputs, case.batch, case.fraction, torch.Generator().manual_seed(seed))
            seen[f"{k}.{run}"] = observe(out)
        seen[f"{k}.edited"] = _edited([(n, t, c) for n, t, c in zip(("new_x", "new_y", "old_x", "old_y"), inputs, copies)])


def _sources(x: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
    """For each row of x (B, ...), its index in pool (M, ...), or -1."""
    hit = (x.flatten(1)[:, None] == pool.flatten(1)[None]).all(dim=2)  # (B, M)
    return torch.where(hit.any(dim=1), hit.float().argmax(dim=1), torch.full((len(x),), -1))


def _batch(what: str, rec: Any, case: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if rec["type"] not in ("tuple", "list") or rec.get("length") != 2:
        raise CheckFailed(f"{what} returned a {rec['type']}: return the pair (x, y), the batch's images and their labels")
    x = _tensor(f"the x of {what}", rec["items"][0], (case.batch, 1, 8, 8))
    y = _tensor(f"the y of {what}", rec["items"][1], (case.batch,), torch.int64)
    return x, y


@mixed_batch.judge
def _judge_mixed_batch(seen: Observed) -> str:
    for k, case in enumerate(_MIX_CASES):
        new_x, new_y, old_x, old_y = _mix_inputs(case)
        what = f"mixed_batch(..., batch_size={case.batch}, new_fraction={case.fraction}, generator)"
        try:
            x, y = _batch(what, seen[f"{k}.first"], case)
        except CheckFailed as failure:
            want = round(case.fraction * case.batch)
            if k == 0 or want <= case.new:
                raise
            raise CheckFailed(f"{failure} (here the batch needs {want} new rows and there are only {case.new} new examples: "
                              "draw them with replacement)") from None
        _unchanged("mixed_batch", seen[f"{k}.edited"], "an in-place shuffle")
        new, old = _sources(x, new_x), _sources(x, old_x)
        stray = ((new < 0) & (old < 0)).nonzero().flatten().tolist()
        if stray:
            raise CheckFailed(f"row {stray[0]} of the batch is none of the examples you were given: the batch must hold the images "
                              "themselves, unchanged")
        is_new = new >= 0
        label = torch.where(is_new, new_y[new.clamp(min=0)], old_y[old.clamp(min=0)])
        wrong = (label != y).nonzero().flatten().tolist()
        if wrong:
            j = wrong[0]
            raise CheckFailed(f"labels do not stay with their images: row {j} is {'a new' if is_new[j] else 'a replayed'} example of "
                              f"label {int(label[j])}, but y says {int(y[j])}; pick each example's image and label together")
        want, got = round(case.fraction * case.batch), int(is_new.sum())
        if got != want:
            share = f"new_fraction={case.fraction} of {case.batch} is {case.fraction * case.batch:.4g}"
            if got == case.batch - want:
                raise CheckFailed(f"{what} holds {got} new and {case.batch - got} replayed examples, the other way round: "
                                  "new_fraction is the share of new examples")
            if got == len(new_x) and len(new_x) < want:
                raise CheckFailed(f"{what} holds only {got} new examples, each once: {share}, more than there are new examples; "
                                  "draw them with replacement")
            raise CheckFailed(f"{what} holds {got} new examples; {share}, which rounds to {want}")
        if 0 < got < case.batch:
            spots = is_new.nonzero().flatten()
            if bool((spots == torch.arange(got)).all()) or bool((spots == torch.arange(case.batch - got, case.batch)).all()):
                raise CheckFailed(f"in {what} the new examples sit together at one end of the batch: shuffle the batch, so that any "
                                  "slice of it holds the same mix")
        again = _batch(f"{what}, called again with the same seed", seen[f"{k}.again"], case)
        if not (torch.equal(x, again[0]) and torch.equal(y, again[1])):
            raise CheckFailed("the same seed gave two different batches: draw and shuffle with the generator you are given")
        other = _batch(f"{what} with another seed", seen[f"{k}.other"], case)
        if torch.equal(x, other[0]):
            raise CheckFailed("generators with different seeds gave the same batch: draw and shuffle with the generator you are given")
        for name, pool, picked in (("new", new_x, new), ("replayed", old_x, old)):
            theirs = _sources(other[0], pool)
            if picked[picked >= 0].sort().values.tolist() == theirs[theirs >= 0].sort().values.tolist() and 1 < (picked >= 0).sum() < len(pool):
                raise CheckFailed(f"another seed picked the same {name} examples, only in another order: draw which examples go in at random")
        if math.comb(case.batch, got) > 100_000 and torch.equal(is_new, _sources(other[0], new_x) >= 0):
            raise CheckFailed(f"in {what} the new examples land at the same places in the batch whatever the seed: shuffle with the "
                              "generator, so that where they land is random too")
    return "the right number of new and replayed examples, each with its own label, shuffled, the same for the same seed"
