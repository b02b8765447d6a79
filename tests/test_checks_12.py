"""Lesson 12's checks: correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations

import copy
import io

import pytest
import torch

from genai_course import checks
from check_protocol import assert_named_mistake, assert_not_attempted, assert_passes

# --------------------------------------------------------------------------- reference solutions


def shard(x, rank, world):
    b = x.shape[0]
    if b % world != 0:
        raise ValueError(f"a batch of {b} rows does not split into {world} equal shards")
    n = b // world
    return x[rank * n:(rank + 1) * n]


def shard_by_chunk(x, rank, world):
    if len(x) % world:
        raise ValueError(f"batch size {len(x)} is not divisible by world size {world}")
    return x.chunk(world)[rank].clone()


def shard_by_narrow(x, rank, world):
    n, rest = divmod(x.size(0), world)
    if rest:
        raise ValueError(f"{world} does not divide {x.size(0)}")
    return x.narrow(0, rank * n, n)


def all_reduce_mean(grads):
    return [torch.stack(same).mean(dim=0) for same in zip(*grads)]


def all_reduce_mean_by_sum(grads):
    return tuple(sum(same) / len(grads) for same in zip(*grads))


def all_reduce_mean_by_loops(grads):
    out = [torch.zeros_like(t) for t in grads[0]]
    for rank in grads:
        for o, t in zip(out, rank):
            o.add_(t, alpha=1 / len(grads))
    return out


def accumulate_gradients(model, loss_fn, x, y, micro_batches):
    model.zero_grad()
    total = 0.0
    for x_j, y_j in zip(x.chunk(micro_batches), y.chunk(micro_batches)):
        loss = loss_fn(model(x_j), y_j) / micro_batches
        loss.backward()
        total += loss.item()
    return total


def accumulate_gradients_by_split(model, loss_fn, x, y, k):
    for p in model.parameters():
        p.grad = None
    m = x.shape[0] // k
    losses = []
    for x_j, y_j in zip(x.split(m), y.split(m)):
        loss = loss_fn(model(x_j), y_j)
        (loss / k).backward()
        losses.append(loss.detach())
    return torch.stack(losses).mean()  # a 0-dim tensor


def accumulate_gradients_keeping_tensors(model, loss_fn, x, y, k):
    model.zero_grad(set_to_none=False)
    m = x.shape[0] // k
    total = 0.0
    for j in range(k):
        loss = loss_fn(model(x[j * m:(j + 1) * m]), y[j * m:(j + 1) * m]) * (1 / k)
        loss.backward()
        total += float(loss.detach())
    return total


def save_state(model, optimizer, generator, step):
    return {"model": copy.deepcopy(model.state_dict()), "optimizer": copy.deepcopy(optimizer.state_dict()),
            "generator": generator.get_state(), "step": step}


def save_state_through_a_file(model, optimizer, generator, step):
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    return {**state, "generator": generator.get_state().clone(), "step": int(step), "note": "extra entries are fine"}


def save_state_by_clones(model, optimizer, generator, step):
    opt = optimizer.state_dict()
    state = {i: {k: v.clone() if torch.is_tensor(v) else v for k, v in s.items()} for i, s in opt["state"].items()}
    return {"model": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "optimizer": {"state": state, "param_groups": copy.deepcopy(opt["param_groups"])},
            "generator": generator.get_state(), "step": step}


def restore_state(state, model, optimizer, generator):
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return state["step"]


def restore_state_by_copy(state, model, optimizer, generator):
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(state["model"][name])
    optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
    generator.set_state(state["generator"].clone())
    return int(state["step"])


CORRECT = {
    "shard": [shard, shard_by_chunk, shard_by_narrow],
    "all_reduce_mean": [all_reduce_mean, all_reduce_mean_by_sum, all_reduce_mean_by_loops],
    "accumulate_gradients": [accumulate_gradients, accumulate_gradients_by_split, accumulate_gradients_keeping_tensors],
    "save_state": [save_state, save_state_through_a_file, save_state_by_clones],
    "restore_state": [restore_state, restore_state_by_copy],
}

LESSON_12 = sorted(CORRECT)


def test_lesson_12_checks_are_registered():
    assert LESSON_12 == sorted(name for name, label in checks.EXERCISES.items() if label.startswith("Exercise 12."))
    assert [checks.EXERCISES[name] for name in ("shard", "all_reduce_mean", "accumulate_gradients", "save_state", "restore_state")] == [
        "Exercise 12.1 (one process's shard of the batch)", "Exercise 12.2 (the all-reduce of gradients)",
        "Exercise 12.3 (gradient accumulation)", "Exercise 12.4 (saving the training state)", "Exercise 12.5 (resuming exactly)",
    ]


@pytest.mark.parametrize("name, fn", [(name, fn) for name, fns in CORRECT.items() for fn in fns], ids=lambda v: v if isinstance(v, str) else "")
def test_correct_solution_passes(name, fn, capsys):
    assert_passes(name, fn, capsys)


@pytest.mark.parametrize("name", LESSON_12)
def test_not_attempted_waits(name, capsys):
    assert_not_attempted(name, capsys)


@pytest.mark.parametrize("name", LESSON_12)
def test_checks_leave_the_global_random_state_alone(name, capsys):
    """The checks draw from their own generators: a learner's seeded notebook stays reproducible."""
    torch.manual_seed(5)
    before = torch.random.get_rng_state()
    getattr(checks, name)(CORRECT[name][0])
    assert torch.equal(torch.random.get_rng_state(), before)


# --------------------------------------------------------------------------- typical mistakes: 12.1


def sliced(*, start=0, stop=0, plus=0, check=True):
    """The contiguous shard written right (the defaults) or off by some rows or ranks."""

    def fn(x, rank, world):
        if check and x.shape[0] % world:
            raise ValueError(f"{x.shape[0]} rows, {world} ranks")
        n = x.shape[0] // world
        return x[(rank + plus) * n + start:(rank + plus + 1) * n + stop]

    return fn


def shard_raising(exception):
    def fn(x, rank, world):
        if x.shape[0] % world:
            raise exception
        return shard(x, rank, world)

    return fn


def shard_by_assert(x, rank, world):
    assert x.shape[0] % world == 0, "uneven"
    return shard(x, rank, world)


SHARD_MISTAKES = [
    (lambda x, r, w: shard(x, 0, 1)[r::w], ["that is x[rank::world]", "interleaved", "contiguous block x[rank * n:(rank + 1) * n]"]),
    (sliced(plus=1), ["the block of rank + 1", "ranks count from 0"]),
    (lambda x, r, w: x[r * w:(r + 1) * w], ["each block has world rows", "n = B // world"]),
    (sliced(stop=1), ["off by one", "x[r * n:(r + 1) * n]"]),
    (sliced(start=1, stop=1), ["off by one"]),
    (sliced(stop=-1), ["off by one"]),
    (lambda x, r, w: x, ["that is the whole batch"]),
    (lambda x, r, w: x.tensor_split(w, dim=-1)[r], ["you split along the last dimension", "the batch is dim 0"]),
    (lambda x, r, w: x.chunk(w, dim=-1)[r], ["raised IndexError", "x.chunk(world) may give fewer than world pieces"]),
    (lambda x, r, w: x[r * x.shape[0] / w:(r + 1) * x.shape[0] / w], ["raised TypeError", "n = B // world, integer division"]),
    (lambda x, r, w: x.tensor_split(w)[r], ["shard(x, 1, 4) for x of shape (10, 2) returned a tensor of shape (3, 2)", "raise ValueError naming B and world"]),
    (sliced(check=False), ["shard(x, 1, 4) for x of shape (10, 2) returned a tensor of shape (2, 2)", "check B % world"]),
    (shard_by_assert, ["raised AssertionError", "raise ValueError instead", "python -O"]),
    (shard_raising(RuntimeError("uneven")), ["raised RuntimeError: uneven", "raise ValueError instead"]),
    (shard_raising(ValueError("uneven batch")), ["raised ValueError('uneven batch')", "say what is wrong with the numbers"]),
    (lambda x, r, w: shard(x, r, w).double(), ["should keep x's dtype torch.float32", "torch.float64"]),
    (lambda x, r, w: shard(x, r, w).tolist(), ["should return a torch.Tensor, but returned list"]),
    (lambda x, r, w: shard(x, r, w).flip(0), ["shard(x, 0, 4) for x of shape (12, 3) should be rows 0 to 2 of x, x[0:3], but holds rows [2, 1, 0]"]),
    (lambda x, r, w: shard(x, r, w) + 1, ["should be rows 0 to 2 of x, x[0:3], but holds values that are not rows of x"]),
    (lambda x, r, w: shard(x, r, w).reshape(-1), ["should have shape (3, 3)", "n = B // world = 3", "has shape (9,)"]),
    (lambda x, r, w: shard(x, r, w).zero_(), ["changed the x you were given", "x.zero_()"]),
]


# --------------------------------------------------------------------------- typical mistakes: 12.2


def reduce_in_place(grads):
    out = grads[0]
    for rank in grads[1:]:
        for o, t in zip(out, rank):
            o += t
    return [o / len(grads) for o in out]


REDUCE_MISTAKES = [
    (lambda gs: [sum(same) for same in zip(*gs)], ["the sum over ranks, world times too big", "divide the sum by the number of ranks, len(grads)"]),
    (lambda gs: [sum(same) / len(gs[0]) for same in zip(*gs)], ["you divided by the number of gradient tensors of one rank, len(grads[0])"]),
    (lambda gs: [sum(same) / (len(gs) * len(gs[0])) for same in zip(*gs)], ["you divided by the number of tensors in all"]),
    (lambda gs: gs[0], ["those are rank 0's own gradients"]),
    (lambda gs: [t.clone() for t in gs[-1]], ["those are the last rank's own gradients"]),
    (reduce_in_place, ["changed the gradients of rank 0 (tensor 0) you were given", "+=, add_ or div_"]),
    (lambda gs: [all_reduce_mean(gs) for _ in gs], ["returned one list per rank", "return a single list"]),
    (lambda gs: [torch.cat([t.flatten() for t in rank]).mean() for rank in gs], ["should return 3 tensors, one per gradient tensor", "returned 4", "zip(*grads)"]),
    (lambda gs: torch.stack([torch.cat([t.flatten() for t in r]) for r in gs]).mean(0), ["should return a list of 3 tensors", "returned one tensor of shape (9,)"]),
    (lambda gs: [t.flatten() for t in all_reduce_mean(gs)], ["tensor 0 of all_reduce_mean(grads)", "should have shape (3, 2), but has shape (6,)"]),
    (lambda gs: [t.double() for t in all_reduce_mean(gs)], ["should have dtype torch.float32, but has dtype torch.float64"]),
    (lambda gs: [torch.stack(same).median(dim=0).values for same in zip(*gs)], ["tensor 0 should be the mean over the 4 ranks", "(grads[0][0] + ... + grads[3][0]) / 4"]),
    (lambda gs: {i: t for i, t in enumerate(all_reduce_mean(gs))}, ["should return a list of 3 tensors", "returned a dict"]),
    (lambda gs: [torch.stack(same).mean(dim=1) for same in zip(*gs)], ["should have shape (3, 2), but has shape (4, 2)"]),
]


# --------------------------------------------------------------------------- typical mistakes: 12.3


def accumulate(*, divide="k", zero="before", split="chunk", step=False, ret="total", whole_loss=False, split_y=True):
    """Gradient accumulation written right (the defaults) or one of the usual wrong ways."""

    def fn(model, loss_fn, x, y, k):
        b = x.shape[0]
        if zero == "before":
            model.zero_grad()
        xs = x.chunk(k) if split == "chunk" else x.split(k) if split == "split-k" else [x]
        ys = (y.chunk(k) if split == "chunk" else y.split(k) if split == "split-k" else [y]) if split_y else [y] * len(xs)
        total, last = 0.0, 0.0
        for x_j, y_j in zip(xs, ys):
            if zero == "inside":
                model.zero_grad()
            loss = loss_fn(model(x_j), y_j)
            scale = {"k": k, "none": 1, "B": b, "m": b // k, "k*k": k * k}[divide]
            (loss / scale).backward()
            total += loss.item() / scale
            last = loss.item()
        if step:
            torch.optim.SGD(model.parameters(), lr=0.1).step()
        if whole_loss:
            with torch.no_grad():
                return loss_fn(model(x), y).item()
        return {"total": total, "last": last, "sum": total * k, "tensor": torch.tensor([total]), "none": None}[ret]

    return fn


ACC_MISTAKES = [
    (accumulate(divide="none"), ["the gradient is k = 3 times the full-batch gradient", "divide each micro-batch's loss by k before backward()"]),
    (accumulate(divide="k*k"), ["the gradient is 1/k = 1/3 of the full-batch gradient", "not twice"]),
    (accumulate(divide="B"), ["the gradient is k/B = 3/12", "you divided by the batch size", "already a mean over its rows"]),
    (accumulate(divide="m"), ["the gradient is k/m = 3/4", "you divided by the micro-batch size m"]),
    (accumulate(zero="inside"), ["only the last micro-batch's gradient is left", "zero the gradients once before the loop, not inside it"]),
    (accumulate(zero="never"), ["the gradients already in .grad (from an earlier batch) were added to", "model.zero_grad()"]),
    (accumulate(zero="never", divide="none"), ["the gradients already in .grad (from an earlier batch) were added to"]),
    (accumulate(split="split-k"), ["ran the network 4 times on 3 rows", "micro_batches is the number of micro-batches, not their size", "x.chunk(k)"]),
    (accumulate(split="whole"), ["ran the network on all 12 rows at once", "only one micro-batch of B // k = 4 rows"]),
    (accumulate(whole_loss=True), ["ran the network on the whole batch of 12 rows as well as on the micro-batches", "add up the micro-batch losses"]),
    (accumulate(split_y=False), ["split the targets y into the same micro-batches as x"]),
    (accumulate(step=True), ["changed the network's weights", "the optimizer steps after it"]),
    (accumulate(ret="sum"), ["k times the batch's mean loss", "add up the micro-batch losses divided by k"]),
    (accumulate(ret="last"), ["returned the last micro-batch's loss"]),
    (accumulate(ret="none"), ["should return the batch's mean loss as a float (loss.item()), but returned a NoneType"]),
    (lambda model, loss_fn, x, y, k: (accumulate()(model, loss_fn, x, y, k), torch.ones(2))[1], ["should return the batch's mean loss as a float", "of shape (2,)"]),
    (lambda model, loss_fn, x, y, k: 0.0, ["never ran the network"]),
    (lambda model, loss_fn, x, y, k: (model.zero_grad(), [model(x_j) for x_j in x.chunk(k)], 0.0)[-1], ["left no gradient in net.0.weight, net.0.bias, net.2.weight, net.2.bias.grad"]),
    (lambda model, loss_fn, x, y, k: accumulate()(model, loss_fn, x[torch.randperm(len(x))], y, k),
     ["differs from the gradient of loss_fn(model(x), y) on the whole batch", "its inputs with its own targets"]),
]


# --------------------------------------------------------------------------- typical mistakes: 12.4


def saved(**changes):
    """A state built right (deep copies), with some entries replaced: changes[key](model, optimizer, generator, step)."""

    def fn(model, optimizer, generator, step):
        state = save_state(model, optimizer, generator, step)
        for key, make in changes.items():
            if make is None:
                del state[key]
            else:
                state[key] = make(model, optimizer, generator, step)
        return state

    return fn


def save_state_reseeding(model, optimizer, generator, step):
    state = save_state(model, optimizer, generator, step)
    generator.manual_seed(0)
    return state


def save_state_drawing(model, optimizer, generator, step):
    torch.rand(1, generator=generator)
    return save_state(model, optimizer, generator, step)


SAVE_MISTAKES = [
    (saved(model=lambda m, o, g, s: m.state_dict()),
     ["state['model'] changed when training went on after the save", "holds references to the live tensors", "copy.deepcopy(model.state_dict())"]),
    (saved(optimizer=lambda m, o, g, s: o.state_dict()), ["state['optimizer'] changed when training went on", "copy.deepcopy(optimizer.state_dict())"]),
    (saved(model=lambda m, o, g, s: m), ["state['model'] is an object of class Sequential", "weights_only=True", "store model.state_dict()"]),
    (saved(optimizer=lambda m, o, g, s: o), ["state['optimizer'] is an object of class Adam", "store optimizer.state_dict()"]),
    (saved(generator=lambda m, o, g, s: g), ["state['generator'] is an object of class Generator", "store generator.get_state()"]),
    (saved(generator=lambda m, o, g, s: g.initial_seed()), ["state['generator'] is the number 1000", "a seed says where the random stream started"]),
    (saved(generator=lambda m, o, g, s: torch.Generator().manual_seed(g.initial_seed()).get_state()),
     ["state['generator'] should be generator.get_state() at the moment of saving"]),
    (saved(optimizer=lambda m, o, g, s: torch.optim.Adam(m.parameters()).state_dict()), ["state['optimizer'] holds no per-weight state", "Adam's running averages"]),
    (saved(optimizer=lambda m, o, g, s: {}), ["state['optimizer'] should be a copy of optimizer.state_dict() at the moment of saving"]),
    (saved(model=lambda m, o, g, s: [p.detach().clone() for p in m.parameters()]), ["state['model'] should be a copy of model.state_dict()"]),
    (saved(optimizer=None), ["returned a dict without 'optimizer'", "it needs all of 'model', 'optimizer', 'generator', 'step'"]),
    (saved(step=None, generator=None), ["returned a dict without 'generator', 'step'"]),
    (saved(step=lambda m, o, g, s: s + 1), ["state['step'] should be the int 3, the step you were given, but is 4"]),
    (saved(step=lambda m, o, g, s: torch.tensor(s)), ["state['step'] should be the int 3", "but is tensor(3)"]),
    (lambda m, o, g, s: (m.state_dict(), o.state_dict(), g.get_state(), s), ["should return a dict with the entries 'model', 'optimizer', 'generator', 'step'", "returned a tuple"]),
    (save_state_reseeding, ["moved the generator on (it drew numbers, or was re-seeded)", "generator.get_state()"]),
    (save_state_drawing, ["moved the generator on"]),
    (lambda m, o, g, s: (o.step(), save_state(m, o, g, s))[1], ["changed the model or the optimizer: saving only reads them"]),
]


# --------------------------------------------------------------------------- typical mistakes: 12.5


def restored(*, model=True, optimizer=True, generator=True, ret="step"):
    def fn(state, m, o, g):
        if model:
            m.load_state_dict(state["model"])
        if optimizer:
            o.load_state_dict(state["optimizer"])
        if generator:
            g.set_state(state["generator"])
        return {"step": state["step"], "none": None, "float": float(state["step"]), "tensor": torch.tensor(state["step"])}[ret]

    return fn


def restore_into_new_objects(state, model, optimizer, generator):
    model = copy.deepcopy(model)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return state["step"]


def restore_into_a_new_optimizer(state, model, optimizer, generator):
    model.load_state_dict(state["model"])
    optimizer = torch.optim.Adam(model.parameters())
    optimizer.load_state_dict(state["optimizer"])
    generator.set_state(state["generator"])
    return state["step"]


RESTORE_MISTAKES = [
    (restored(model=False), ["the model does not hold the saved weights", "model.load_state_dict(state['model'])"]),
    (restore_into_new_objects, ["the model does not hold the saved weights", "a new one made inside your function is lost when it returns"]),
    (restored(optimizer=False), ["the optimizer still has no state", "optimizer.load_state_dict(state['optimizer'])", "Adam's running averages"]),
    (restore_into_a_new_optimizer, ["the optimizer still has no state", "load into the objects you were given"]),
    (restored(generator=False), ["the generator is not where the saved one was", "generator.set_state(state['generator'])", "draws other batches"]),
    (lambda state, m, o, g: (restored()(state, m, o, g), g.manual_seed(state["step"]))[0], ["the generator is not where the saved one was"]),
    (restored(ret="none"), ["returned None", "return state['step']"]),
    (restored(ret="float"), ["returned 3.0", "the int 3"]),
    (restored(ret="tensor"), ["returned tensor(3)", "the int 3"]),
    (lambda state, m, o, g: restored()(state, m, o, g) + 1, ["returned 4", "the int 3"]),
    (lambda state, m, o, g: o.load_state_dict(state["model"]), ["raised", "restore_state(state, model, optimizer, generator)"]),
]

MISTAKES = (
    [("shard", fn, fragments) for fn, fragments in SHARD_MISTAKES]
    + [("all_reduce_mean", fn, fragments) for fn, fragments in REDUCE_MISTAKES]
    + [("accumulate_gradients", fn, fragments) for fn, fragments in ACC_MISTAKES]
    + [("save_state", fn, fragments) for fn, fragments in SAVE_MISTAKES]
    + [("restore_state", fn, fragments) for fn, fragments in RESTORE_MISTAKES]
)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


def test_every_named_slip_differs_from_the_truth():
    """On the checks' cases no slip gives the right answer everywhere, so none can pass and none hides the truth."""
    from genai_course import checks_scale as cs

    for slip, _ in cs._SHARD_SLIPS:
        answers = [cs._try(slip, cs._numbered(b, rest), r, w) for b, w, rest in cs._SHARD_CASES for r in range(w)]
        truths = [cs._block(cs._numbered(b, rest), r, w) for b, w, rest in cs._SHARD_CASES for r in range(w)]
        assert not all(isinstance(a, torch.Tensor) and torch.equal(a, t) for a, t in zip(answers, truths))
    for seed, (world, shapes) in enumerate(cs._REDUCE_CASES[:1]):  # the first case tells every slip apart
        grads = cs._grads(world, shapes, seed)
        answers = [slip(grads) for slip, _ in cs._REDUCE_SLIPS] + [cs._mean(grads)]
        for i, a in enumerate(answers):
            assert not any(cs._same_list(a, b) for b in answers[i + 1:])
    c = cs._ACC_CASES[0]  # the first case tells every factor apart
    factors = [f for f, _ in cs._acc_factor(c)] + [1.0]
    assert len(set(factors)) == len(factors)


def test_checks_scale_is_reached_through_checks():
    from genai_course import checks_scale

    for name in checks_scale.__all__:
        assert getattr(checks, name) is getattr(checks_scale, name)

