"""genai_course.checks.data_parallel (lesson 12, 12.1 and 12.2): correct code passes, typical mistakes are named."""

from __future__ import annotations

import pytest
import torch

from genai_course.checks import data_parallel as data_parallel_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

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


CORRECT = {
    "shard": [shard, shard_by_chunk, shard_by_narrow],
    "all_reduce_mean": [all_reduce_mean, all_reduce_mean_by_sum, all_reduce_mean_by_loops],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(data_parallel_checks, {
        "shard": "Exercise 12.1 (one process's shard of the batch)",
        "all_reduce_mean": "Exercise 12.2 (the all-reduce of gradients)",
    })
    assert list(CORRECT) == data_parallel_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


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
    (lambda x, r, w: shard(x, 0, 1)[r::w], ["every world-th row starting at row rank", "interleaved", "one contiguous block of rows per rank"]),
    (sliced(plus=1), ["the block of rank + 1", "ranks count from 0"]),
    (lambda x, r, w: x[r * w:(r + 1) * w], ["each block has world rows", "n = B // world"]),
    (sliced(stop=1), ["off by one", "a Python slice leaves its end out"]),
    (sliced(start=1, stop=1), ["off by one"]),
    (sliced(stop=-1), ["off by one"]),
    (lambda x, r, w: x, ["that is the whole batch"]),
    (lambda x, r, w: x.tensor_split(w, dim=-1)[r], ["you split along the last dimension", "the batch is dim 0"]),
    (lambda x, r, w: x.chunk(w, dim=-1)[r], ["raised IndexError", "may give fewer than world of them", "take rank's block of n rows"]),
    (lambda x, r, w: x[r * x.shape[0] / w:(r + 1) * x.shape[0] / w], ["raised TypeError", "a slice needs integers"]),
    (lambda x, r, w: x.tensor_split(w)[r], ["shard(x, 1, 4) for x of shape (10, 2) returned a tensor of shape (3, 2)", "a ValueError that names B and world"]),
    (sliced(check=False), ["shard(x, 1, 4) for x of shape (10, 2) returned a tensor of shape (2, 2)", "refuse such a batch with a ValueError that names B and world"]),
    (shard_by_assert, ["raised AssertionError", "raise ValueError instead", "python -O"]),
    (shard_raising(RuntimeError("uneven")), ["raised RuntimeError: uneven", "raise ValueError instead"]),
    (shard_raising(ValueError("uneven batch")), ["raised ValueError('uneven batch')", "say what is wrong with the numbers"]),
    (lambda x, r, w: shard(x, r, w).double(), ["should keep x's dtype torch.float32", "torch.float64"]),
    (lambda x, r, w: shard(x, r, w).tolist(), ["should return a torch.Tensor, but returned list"]),
    (lambda x, r, w: shard(x, r, w).flip(0), ["shard(x, 0, 4) for x of shape (12, 3) should be rows 0 to 2 of x, but holds rows [2, 1, 0]"]),
    (lambda x, r, w: shard(x, r, w) + 1, ["should be rows 0 to 2 of x, but holds values that are not rows of x"]),
    (lambda x, r, w: shard(x, r, w).reshape(-1), ["should have shape (3, 3)", "n = B // world = 3", "has shape (9,)"]),
    (lambda x, r, w: shard(x, r, w).zero_(), ["changed the x you were given", "x.zero_()"]),
    # shards that overlap, and so drop rows (new: before the message about one rank's rows)
    (lambda x, r, w: shard(x, 0, 1)[r:r + x.shape[0] // w],
     ["with B = 12 rows over world = 4 ranks the shards overlap and leave rows out", "row 1 goes to ranks 0 and 1", "rows 6, 7, 8, 9, ... go to no rank",
      "every row must go to exactly one rank"]),
    (lambda x, r, w: shard(x, 0, 1)[[min(r * (x.shape[0] // w), len(x) - 1)] * (x.shape[0] // w)],
     ["the shards overlap and leave rows out", "row 0 is in rank 0's shard twice"]),
]


# --------------------------------------------------------------------------- typical mistakes: 12.2


def reduce_in_place(grads):
    out = grads[0]
    for rank in grads[1:]:
        for o, t in zip(out, rank):
            o += t
    return [o / len(grads) for o in out]


REDUCE_MISTAKES = [
    (lambda gs: [sum(same) for same in zip(*gs)], ["the sum over ranks, world times too big", "DDP averages the ranks' gradients"]),
    (lambda gs: [sum(same) / len(gs[0]) for same in zip(*gs)], ["you divided by the number of gradient tensors of one rank", "the number of ranks that counts"]),
    (lambda gs: [sum(same) / (len(gs) * len(gs[0])) for same in zip(*gs)], ["you divided by the number of tensors in all"]),
    (lambda gs: gs[0], ["those are rank 0's own gradients"]),
    (lambda gs: [t.clone() for t in gs[-1]], ["those are the last rank's own gradients"]),
    (reduce_in_place, ["changed the gradients of rank 0 (tensor 0) you were given", "+=, add_ or div_"]),
    (lambda gs: [all_reduce_mean(gs) for _ in gs], ["returned one list per rank", "return a single list"]),
    (lambda gs: [torch.cat([t.flatten() for t in rank]).mean() for rank in gs], ["should return 3 tensors, one per gradient tensor", "returned 4", "one per rank?"]),
    (lambda gs: torch.stack([torch.cat([t.flatten() for t in r]) for r in gs]).mean(0), ["should return a list of 3 tensors", "returned one tensor of shape (9,)"]),
    (lambda gs: [t.flatten() for t in all_reduce_mean(gs)], ["tensor 0 of all_reduce_mean(grads)", "should have shape (3, 2), but has shape (6,)"]),
    (lambda gs: [t.double() for t in all_reduce_mean(gs)], ["should have dtype torch.float32, but has dtype torch.float64"]),
    (lambda gs: [torch.stack(same).median(dim=0).values for same in zip(*gs)], ["tensor 0 should be the element-wise mean of the 4 ranks' tensor 0"]),
    (lambda gs: {i: t for i, t in enumerate(all_reduce_mean(gs))}, ["should return a list of 3 tensors", "returned a dict"]),
    (lambda gs: [torch.stack(same).mean(dim=1) for same in zip(*gs)], ["should have shape (3, 2), but has shape (4, 2)"]),
    (lambda gs: [torch.stack(rank).mean(dim=0) for rank in gs],
     ["raised RuntimeError: stack expects each tensor to be equal size", "average one parameter at a time"]),
]


MISTAKES = (
    [("shard", fn, fragments) for fn, fragments in SHARD_MISTAKES]
    + [("all_reduce_mean", fn, fragments) for fn, fragments in REDUCE_MISTAKES]
)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


def test_every_named_slip_differs_from_the_truth():
    """On the checks' cases no slip gives the right answer everywhere, so none can pass and none hides the truth."""
    cs = data_parallel_checks
    for slip, _ in cs._SHARD_SLIPS:
        answers = [cs._try(slip, cs._numbered(b, rest), r, w) for b, w, rest in cs._SHARD_CASES for r in range(w)]
        truths = [cs._block(cs._numbered(b, rest), r, w) for b, w, rest in cs._SHARD_CASES for r in range(w)]
        assert not all(isinstance(a, torch.Tensor) and torch.equal(a, t) for a, t in zip(answers, truths))
    for seed, (world, shapes) in enumerate(cs._REDUCE_CASES[:1]):  # the first case tells every slip apart
        grads = cs._grads(world, shapes, seed)
        answers = [slip(grads) for slip, _ in cs._REDUCE_SLIPS] + [cs._mean(grads)]
        for i, a in enumerate(answers):
            assert not any(cs._same_list(a, b) for b in answers[i + 1:])


# --------------------------------------------------------------------------- observations through files


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
