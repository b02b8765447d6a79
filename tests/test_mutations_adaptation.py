"""The mutation table of lesson 14 (genai_course.checks.adaptation): each solution, mutated the ways learners
go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests, no_quote_tests

_A = "torch.randn(rank, rows, generator=generator) / math.sqrt(rows)"
_B = "torch.zeros(width, rank)"
_LOOKUP = "return self.table(i) + self.A[:, i].T @ self.B.T"
_FREEZE = "    for p in model.parameters():\n        p.requires_grad_(False)  # everything frozen...\n"
_KEEP = "keep[:, column] = 1.0"
_ORDER = "return x[order], y[order]"
_N_NEW = "n_new = round(new_fraction * batch_size)"
_PICK_NEW = "torch.randint(len(new_x), (n_new,), generator=generator)"

ROWS = [
    # 14.1 a LoRA adapter for an embedding: the factor that starts at zero, the generator, the frozen table, shapes, the lookup
    Mutant("lora_embedding", "make_lora_embedding", _B, "torch.randn(width, rank, generator=generator)", ["B does not start at zero"]),
    Mutant("lora_embedding", "make_lora_embedding", _A, "torch.zeros(rank, rows)", ["A starts at zero as well as B"]),
    Mutant("lora_embedding", "make_lora_embedding", _A, "torch.randn(rank, rows) / math.sqrt(rows)", ["the same seed gave two different A"]),
    Mutant("lora_embedding", "make_lora_embedding", _A, "torch.randn(rows, rank, generator=generator) / math.sqrt(rows)",
           ["A has shape (10, 3), the other way round"]),
    Mutant("lora_embedding", "make_lora_embedding", "            table.weight.requires_grad_(False)  # the trained table stays as it is\n", "",
           ["the base table still trains"]),
    Mutant("lora_embedding", "make_lora_embedding", "self.table = table", "self.table = nn.Embedding.from_pretrained(table.weight.clone(), freeze=False)",
           ["your module trains 108 numbers", "table.weight (60)", "the adapter trains 48"]),
    Mutant("lora_embedding", "make_lora_embedding", _LOOKUP, "return self.table(i) + (self.B @ self.A)[i]",
           ["raised IndexError", "an index of the table picks one of its columns"]),
    Mutant("lora_embedding", "make_lora_embedding", _LOOKUP, "return self.table(i) + self.A[:, i] @ self.B",
           ["raised RuntimeError", "line up the shapes"]),
    Mutant("lora_embedding", "make_lora_embedding", _LOOKUP, "return self.table(i)", ["your lookups are still the base table's"]),
    Mutant("lora_embedding", "make_lora_embedding", _LOOKUP, "return self.table(i) + (self.A[:, i].T @ self.B.T).detach()",
           ["the lookups carry no gradient"]),
    Mutant("lora_embedding", "make_lora_embedding", _LOOKUP, "return self.table(i) + (self.B @ self.A).sum(dim=1)",
           ["every index got the same update"]),
    Mutant("lora_embedding", "make_lora_embedding", _LOOKUP, "return self.table(i) + self.A[:, i].T @ self.B.T / rank",
           ["your update is 0.3333 times the right one"]),
    # 14.2 one column in place: the rest left training, a row for a column, the mask the other way round, no mask, weights edited
    Mutant("freeze_except_column", "freeze_except_column", _FREEZE, "", ["the second layer's weight moved"]),
    Mutant("freeze_except_column", "freeze_except_column", _FREEZE, _FREEZE + "    layer.bias.requires_grad_(True)\n", ["the layer's bias moved"]),
    Mutant("freeze_except_column", "freeze_except_column", _KEEP, "keep[column, :] = 1.0", ["row 2 of the weight moved", "(out, in)"]),
    Mutant("freeze_except_column", "freeze_except_column", _KEEP, "keep[:, -1] = 1.0", ["column 5 moved instead of column 2"]),
    Mutant("freeze_except_column", "freeze_except_column", "keep = torch.zeros_like(layer.weight)", "keep = torch.ones_like(layer.weight)",
           ["30 entries of the weight outside column 2 moved"]),
    Mutant("freeze_except_column", "freeze_except_column", "zeros_like(layer.weight)  # (out, in)\n    " + _KEEP,
           "ones_like(layer.weight)  # (out, in)\n    keep[:, column] = 0.0",
           ["the weights outside the column moved and the column stayed"]),
    Mutant("freeze_except_column", "freeze_except_column", "    layer.weight.register_hook(lambda grad: grad * keep)", "",
           ["30 entries of the weight outside column 2 moved"]),
    Mutant("freeze_except_column", "freeze_except_column", "    layer.weight.register_hook(lambda grad: grad * keep)",
           "    with torch.no_grad():\n        layer.weight.mul_(keep)", ["freeze_except_column changed the first layer's weight itself"]),
    Mutant("freeze_except_column", "freeze_except_column", "layer.weight.requires_grad_(True)", "layer.weight[:, column].requires_grad_(True)",
           ["raised RuntimeError", "a slice of it is a new tensor"]),
    Mutant("freeze_except_column", "freeze_except_column", "lambda grad: grad * keep", "lambda grad: grad * keep * 0.5",
           ["after SGD with momentum steps (column 2), column 2 moved, but not as training moves it"]),
    # 14.3 a mixed batch: the count, replacement, labels kept with images, the shuffle, the generator
    Mutant("mixed_batch", "mixed_batch", _N_NEW, "n_new = int(new_fraction * batch_size)", ["holds 9 new examples", "which rounds to 10"]),
    Mutant("mixed_batch", "mixed_batch", _N_NEW, "n_new = math.ceil(new_fraction * batch_size)", ["holds 5 new examples", "which rounds to 4"]),
    Mutant("mixed_batch", "mixed_batch", _N_NEW, "n_new = batch_size - round(new_fraction * batch_size)", ["the other way round"]),
    Mutant("mixed_batch", "mixed_batch", _PICK_NEW, "torch.randperm(len(new_x), generator=generator)[:n_new]",
           ["raised IndexError", "the batch needs 12 new rows and there are only 6 new examples", "with replacement"]),
    Mutant("mixed_batch", "mixed_batch", _PICK_NEW, "torch.arange(n_new) % len(new_x)", ["another seed picked the same new examples"]),
    Mutant("mixed_batch", "mixed_batch", "y = torch.cat([new_y[pick_new], old_y[pick_old]])", "y = torch.cat([new_y[pick_new], old_y[pick_old.flip(0)]])",
           ["labels do not stay with their images"]),
    Mutant("mixed_batch", "mixed_batch", _ORDER, "return x[order], y[torch.randperm(batch_size, generator=generator)]",
           ["labels do not stay with their images"]),
    Mutant("mixed_batch", "mixed_batch", _ORDER, "return x, y", ["the new examples sit together at one end of the batch"]),
    Mutant("mixed_batch", "mixed_batch", _ORDER, "return x[(torch.arange(batch_size) * 5) % batch_size], y[(torch.arange(batch_size) * 5) % batch_size]",
           ["the new examples land at the same places in the batch whatever the seed"]),
    Mutant("mixed_batch", "mixed_batch", _PICK_NEW, "torch.randint(len(new_x), (n_new,))", ["the same seed gave two different batches"]),
    Mutant("mixed_batch", "mixed_batch", _ORDER, "return x[order], y[order].float()", ["should have dtype torch.int64"]),
]

test_mutant_is_caught = mutation_tests(ROWS)

test_no_message_quotes_the_solution = no_quote_tests(ROWS, "14")
