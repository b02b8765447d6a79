"""The mutation table of lesson 12's gradient accumulation (genai_course.checks.accumulation: 12.3
accumulate_gradients): the solution, mutated the ways learners go wrong, is judged failed with a message
that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_LOOP = "    for x_j, y_j in zip(x.chunk(micro_batches), y.chunk(micro_batches)):  # (B // k, ...) each\n"
_DIVIDE = "loss = loss_fn(model(x_j), y_j) / micro_batches"

ROWS = [
    # the loss not divided by k (a sum where a mean is asked), divided twice, by B, by the micro-batch size
    Mutant("accumulate_gradients", "accumulate_gradients", _DIVIDE, "loss = loss_fn(model(x_j), y_j)",
           ["k = 3 times the full-batch gradient", "divide each micro-batch's loss by k"]),
    Mutant("accumulate_gradients", "accumulate_gradients", _DIVIDE, "loss = loss_fn(model(x_j), y_j) / micro_batches**2",
           ["1/k = 1/3 of the full-batch gradient", "not twice"]),
    Mutant("accumulate_gradients", "accumulate_gradients", _DIVIDE, "loss = loss_fn(model(x_j), y_j) / len(x)",
           ["you divided by the batch size"]),
    # zero_grad inside the loop, and never
    Mutant("accumulate_gradients", "accumulate_gradients", "    model.zero_grad()\n    total = 0.0\n" + _LOOP,
           "    total = 0.0\n" + _LOOP + "        model.zero_grad()\n",
           ["only the last micro-batch's gradient is left", "not inside it"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "    model.zero_grad()\n", "",
           ["the gradients already in .grad (from an earlier batch) were added to", "zero them once before the loop"]),
    # the micro-batches: their size for their number, the targets not split, the whole batch at once
    Mutant("accumulate_gradients", "accumulate_gradients", "zip(x.chunk(micro_batches), y.chunk(micro_batches))",
           "zip(x.split(micro_batches), y.split(micro_batches))", ["ran the network 4 times on 3 rows", "not their size"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "y.chunk(micro_batches))", "[y] * micro_batches)",
           ["raised", "split the targets y into the same micro-batches as x"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "zip(x.chunk(micro_batches), y.chunk(micro_batches))",
           "[(x, y)] * micro_batches", ["ran the network on all 12 rows at once"]),
    # the returned loss: the last micro-batch's, k times the mean, a tensor of the wrong shape; stepping weights
    Mutant("accumulate_gradients", "accumulate_gradients", "total += loss.item()", "total = loss.item()", ["returned the last micro-batch's loss"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "total += loss.item()", "total += loss.item() * micro_batches",
           ["k times the batch's mean loss"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "    return total\n", "", ["should return the batch's mean loss as a float", "NoneType"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "    return total\n",
           "    torch.optim.SGD(model.parameters(), lr=0.1).step()\n    return total\n", ["changed the network's weights"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
