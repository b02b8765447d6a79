"""The mutation table of lesson 12's gradient accumulation (genai_course.checks.accumulation: 12.3
accumulate_gradients, micro-batches of at most m rows, the last one smaller): the solution, mutated the
ways learners go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_LOOP = "    for x_j, y_j in zip(x.split(micro_batch_size), y.split(micro_batch_size)):  # the last one may be smaller\n"
_WEIGH = "loss = loss_fn(model(x_j), y_j) * (len(x_j) / b)"

ROWS = [
    # the weight of a micro-batch: 1/k as for equal ones, none, 1/B, 1/m, its number of rows
    Mutant("accumulate_gradients", "accumulate_gradients", _WEIGH,
           "loss = loss_fn(model(x_j), y_j) / len(x.split(micro_batch_size))",
           ["divided by their number, k = 3", "the 2 rows of the last one weigh more than the others"]),
    Mutant("accumulate_gradients", "accumulate_gradients", _WEIGH, "loss = loss_fn(model(x_j), y_j)",
           ["the sum of the 3 micro-batches' mean-loss gradients"]),
    Mutant("accumulate_gradients", "accumulate_gradients", _WEIGH, "loss = loss_fn(model(x_j), y_j) / b",
           ["you divided each micro-batch's loss by the batch size"]),
    Mutant("accumulate_gradients", "accumulate_gradients", _WEIGH, "loss = loss_fn(model(x_j), y_j) / micro_batch_size",
           ["you divided each micro-batch's loss by micro_batch_size"]),
    Mutant("accumulate_gradients", "accumulate_gradients", _WEIGH, "loss = loss_fn(model(x_j), y_j) * len(x_j)",
           ["the gradient is B = 12 times the full batch's"]),
    # zero_grad inside the loop, and never
    Mutant("accumulate_gradients", "accumulate_gradients", "    model.zero_grad()\n    b = x.shape[0]\n    total = 0.0\n" + _LOOP,
           "    b = x.shape[0]\n    total = 0.0\n" + _LOOP + "        model.zero_grad()\n",
           ["only the last micro-batch's gradient is left", "not inside it"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "    model.zero_grad()\n", "",
           ["the gradients already in .grad (from an earlier batch) were added to", "zero them once before the loop"]),
    # the micro-batches: their size for their number, the last rows dropped, the targets not split, the whole batch at once
    Mutant("accumulate_gradients", "accumulate_gradients", "zip(x.split(micro_batch_size), y.split(micro_batch_size))",
           "zip(x.chunk(micro_batch_size), y.chunk(micro_batch_size))", ["[4, 4] rows", "not their number"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "zip(x.split(micro_batch_size), y.split(micro_batch_size))",
           "zip(x.split(micro_batch_size)[: b // micro_batch_size], y.split(micro_batch_size))",
           ["never ran the network on the last 2 rows"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "y.split(micro_batch_size))", "[y] * len(x.split(micro_batch_size)))",
           ["raised", "split the targets y into the same micro-batches as x"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "zip(x.split(micro_batch_size), y.split(micro_batch_size))",
           "[(x, y)]", ["ran the network on all 12 rows at once"]),
    # the returned loss: the last micro-batch's, a tensor of the wrong shape, none; stepping weights
    Mutant("accumulate_gradients", "accumulate_gradients", "total += loss.item()", "total = loss.item()", ["returned the last micro-batch's loss"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "    return total\n", "", ["should return the batch's mean loss as a Python float", "NoneType"]),
    Mutant("accumulate_gradients", "accumulate_gradients", "    return total\n",
           "    torch.optim.SGD(model.parameters(), lr=0.1).step()\n    return total\n", ["changed the network's weights"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
