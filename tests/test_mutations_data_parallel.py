"""The mutation table of lesson 12's data parallelism (genai_course.checks.data_parallel: 12.1 shard, 12.2
all_reduce_mean): each solution, mutated the ways learners go wrong, is judged failed with a message that
names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_SLICE = "return x[rank * n:(rank + 1) * n]"
_CHECK = '    if b % world != 0:\n        raise ValueError(f"a batch of {b} rows does not split into {world} equal shards")\n'
_MEAN = "torch.stack(same).mean(dim=0) for same in zip(*grads)"

ROWS = [
    # 12.1 the shard: interleaved, off by one, overlapping (rows dropped), the next rank's block, no check, float division
    Mutant("shard", "shard", _SLICE, "return x[rank::world]", ["interleaved", "contiguous block"]),
    Mutant("shard", "shard", _SLICE, "return x[rank * n:(rank + 1) * n + 1]", ["off by one", "leaves its end out"]),
    Mutant("shard", "shard", _SLICE, "return x[rank:rank + n]", ["the shards overlap and leave rows out", "row 1 goes to ranks 0 and 1", "exactly one rank"]),
    Mutant("shard", "shard", _SLICE, "return x[rank * (n - 1):rank * (n - 1) + n]", ["the shards overlap and leave rows out", "go to no rank"]),
    Mutant("shard", "shard", _SLICE, "return x[(rank + 1) * n:(rank + 2) * n]", ["the block of rank + 1", "ranks count from 0"]),
    Mutant("shard", "shard", _SLICE, "return x[rank * world:(rank + 1) * world]", ["each block has world rows"]),
    Mutant("shard", "shard", _CHECK, "", ["returned a tensor of shape (2, 2)", "a ValueError that names B and world"]),
    Mutant("shard", "shard", _CHECK, "    assert b % world == 0\n", ["raised AssertionError", "raise ValueError instead"]),
    Mutant("shard", "shard", "n = b // world", "n = b / world", ["raised TypeError", "a slice needs integers"]),
    Mutant("shard", "shard", _SLICE, "return x", ["that is the whole batch"]),
    # 12.2 the all-reduce: a sum instead of a mean, one rank's own gradients, the wrong count, the wrong axis
    Mutant("all_reduce_mean", "all_reduce_mean", _MEAN, "torch.stack(same).sum(dim=0) for same in zip(*grads)",
           ["the sum over ranks, world times too big", "DDP averages the ranks' gradients"]),
    Mutant("all_reduce_mean", "all_reduce_mean", _MEAN, "torch.stack(same).sum(dim=0) / len(grads[0]) for same in zip(*grads)",
           ["divided by the number of gradient tensors of one rank"]),
    Mutant("all_reduce_mean", "all_reduce_mean", f"return [{_MEAN}]", "return grads[0]", ["rank 0's own gradients"]),
    Mutant("all_reduce_mean", "all_reduce_mean", _MEAN, "torch.stack(rank).mean(dim=0) for rank in grads",
           ["raised RuntimeError", "average one parameter at a time"]),
    Mutant("all_reduce_mean", "all_reduce_mean", _MEAN, "torch.stack(same).mean(dim=1) for same in zip(*grads)",
           ["should have shape (3, 2), but has shape (4, 2)"]),
    Mutant("all_reduce_mean", "all_reduce_mean", f"return [{_MEAN}]",
           "for same in zip(*grads):\n        for t in same[1:]:\n            same[0].add_(t)\n        same[0].div_(len(grads))\n    return [same[0] for same in zip(*grads)]",
           ["changed the gradients of rank 0", "add_ or div_"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
