"""genai_course.checks.adaptation (lesson 14): correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import adapt, checks
from genai_course.checks import adaptation as adaptation_checks
from check_protocol import assert_named_mistake, assert_not_attempted, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- 14.1 a LoRA adapter for an embedding


class LoRAEmbedding(nn.Module):
    """Right by default; each keyword makes it one of the usual wrong ways."""

    def __init__(self, table, rank, generator=None, *, a_zero=False, b_random=False, a_seeded=True, freeze=True, copy_table=False,
                 transpose_a=False, transpose_b=False, scale=1.0, extra=False, shared_update=False, ignore_update=False,
                 detach=False, no_grad=False, global_a=False, names=("A", "B")):
        super().__init__()
        self.table = nn.Embedding.from_pretrained(table.weight.detach().clone(), freeze=False) if copy_table else table
        if freeze and not copy_table:
            table.weight.requires_grad_(False)
        rows, width = table.weight.shape
        a = torch.randn(rank, rows, generator=generator if a_seeded else None) / math.sqrt(rows)
        if global_a:
            a = torch.randn(rank, rows, generator=torch.Generator().manual_seed(0))
        a = torch.zeros(rank, rows) if a_zero else a
        b = torch.randn(width, rank, generator=generator) if b_random else torch.zeros(width, rank)
        setattr(self, names[0], nn.Parameter(a.T.contiguous() if transpose_a else a))
        setattr(self, names[1], nn.Parameter(b.T.contiguous() if transpose_b else b))
        self.names, self.transposed = names, (transpose_a, transpose_b)
        self.scale, self.shared_update, self.ignore_update, self.detach, self.no_grad = scale, shared_update, ignore_update, detach, no_grad
        if extra:
            self.bias = nn.Parameter(torch.zeros(width))

    def forward(self, i):
        a, b = getattr(self, self.names[0]), getattr(self, self.names[1])
        a, b = (a.T if self.transposed[0] else a), (b.T if self.transposed[1] else b)
        if self.detach:
            a, b = a.detach(), b.detach()
        if self.ignore_update:
            return self.table(i)
        if self.shared_update:
            update = (b @ a).mean(dim=1).expand(len(i), -1)
        elif self.no_grad:
            with torch.no_grad():
                update = (b @ a).T[i]
        else:
            update = (b @ a).T[i]  # (N, E)
        return self.table(i) + self.scale * update


def lora_embedding(**wrong):
    return lambda table, rank, generator=None: LoRAEmbedding(table, rank, generator, **wrong)


class PeftStyleEmbedding(nn.Module):
    """The table as a one-hot layer: F.embedding of the frozen weight plus F.embedding of A's transpose, times B's."""

    def __init__(self, table, rank, generator=None):
        super().__init__()
        self.register_buffer("weight", table.weight.detach().clone())  # a frozen copy: the table itself never trains
        table.weight.requires_grad_(False)
        self.A = nn.Parameter(0.01 * torch.randn(rank, self.weight.shape[0], generator=generator))
        self.B = nn.Parameter(torch.zeros(self.weight.shape[1], rank))

    def forward(self, i):
        return F.embedding(i, self.weight) + F.embedding(i, self.A.T) @ self.B.T


def lora_via_library(table, rank, generator=None):
    """The lesson's LoRALinear on the table seen as a layer of one-hot inputs (no scale: alpha = rank)."""
    layer = nn.Linear(table.num_embeddings, table.embedding_dim, bias=False)
    with torch.no_grad():
        layer.weight.copy_(table.weight.T)
    table.weight.requires_grad_(False)
    lora = adapt.LoRALinear(layer, rank, generator=generator)

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.lora = lora
            self.A, self.B = lora.A, lora.B

        def forward(self, i):
            return self.lora(F.one_hot(i, table.num_embeddings).float())

    return Wrapped()


# --------------------------------------------------------------------------- 14.2 one column in place


def freeze_except_column(model, layer, column):
    for p in model.parameters():
        p.requires_grad_(False)
    layer.weight.requires_grad_(True)
    keep = torch.zeros_like(layer.weight)
    keep[:, column] = 1.0
    layer.weight.register_hook(lambda grad: grad * keep)


def freeze_after_accumulation(model, layer, column):
    """Zero the other entries once the gradient is accumulated: another right way."""
    for p in model.parameters():
        p.requires_grad_(False)
    layer.weight.requires_grad_(True)

    def keep_column(w):
        frozen = torch.ones_like(w.grad, dtype=torch.bool)
        frozen[:, column] = False
        w.grad[frozen] = 0.0

    layer.weight.register_post_accumulate_grad_hook(keep_column)


def freezer(*, others=True, bias=True, mask="column", weight_trains=True, scale=1.0, multiply_weight=False, hook=True):
    """freeze_except_column written right (the defaults) or one of the usual wrong ways."""

    def freeze(model, layer, column):
        for p in (model.parameters() if others else layer.parameters()):
            p.requires_grad_(False)
        if not bias:
            layer.bias.requires_grad_(True)
        layer.weight.requires_grad_(weight_trains)
        keep = torch.zeros_like(layer.weight)
        if mask == "column":
            keep[:, column] = scale
        elif mask == "row":
            keep[column, :] = scale
        elif mask == "inverted":
            keep += 1.0
            keep[:, column] = 0.0
        elif mask == "all":
            keep += 1.0
        if multiply_weight:
            with torch.no_grad():
                layer.weight.mul_(keep)
        if hook and weight_trains:
            layer.weight.register_hook(lambda grad: grad * keep)

    return freeze


# --------------------------------------------------------------------------- 14.3 a mixed batch


def mixed_batch(new_x, new_y, old_x, old_y, batch_size, new_fraction, generator=None):
    n_new = round(new_fraction * batch_size)
    pick_new = torch.randint(len(new_x), (n_new,), generator=generator)
    pick_old = torch.randint(len(old_x), (batch_size - n_new,), generator=generator)
    order = torch.randperm(batch_size, generator=generator)
    return torch.cat([new_x[pick_new], old_x[pick_old]])[order], torch.cat([new_y[pick_new], old_y[pick_old]])[order]


def mixed_by_mask(new_x, new_y, old_x, old_y, batch_size, new_fraction, generator=None):
    """The positions of the new rows chosen first, then filled: another right way."""
    n_new = round(new_fraction * batch_size)
    is_new = torch.zeros(batch_size, dtype=torch.bool)
    is_new[torch.randperm(batch_size, generator=generator)[:n_new]] = True
    x, y = torch.empty(batch_size, *new_x.shape[1:]), torch.empty(batch_size, dtype=torch.long)
    i = torch.randint(len(new_x), (n_new,), generator=generator)
    j = torch.randint(len(old_x), (batch_size - n_new,), generator=generator)
    x[is_new], y[is_new], x[~is_new], y[~is_new] = new_x[i], new_y[i], old_x[j], old_y[j]
    return x, y


def mixer(*, count=round, swap=False, replace=True, shuffle=True, apart=False, seeded=True, fixed_new=False, as_list=False,
          float_labels=False, noise=False, fixed_seed=False):
    """mixed_batch written right (the defaults) or one of the usual wrong ways."""

    def mix(new_x, new_y, old_x, old_y, batch_size, new_fraction, generator=None):
        g = generator if seeded else None
        if fixed_seed:
            g = torch.Generator().manual_seed(0)
        n_new = count(new_fraction * batch_size)
        if swap:
            n_new = batch_size - n_new
        if fixed_new:
            pick_new = torch.arange(n_new) % len(new_x)
        elif replace:
            pick_new = torch.randint(len(new_x), (n_new,), generator=g)
        else:
            pick_new = torch.randperm(len(new_x), generator=g)[:n_new]
        pick_old = torch.randint(len(old_x), (batch_size - len(pick_new),), generator=g)
        x, y = torch.cat([new_x[pick_new], old_x[pick_old]]), torch.cat([new_y[pick_new], old_y[pick_old]])
        if shuffle:
            order = torch.randperm(len(x), generator=g)
            x, y = x[order], y[torch.randperm(len(x), generator=g) if apart else order]
        if noise:
            x = x + 0.01
        if float_labels:
            y = y.float()
        return [x, y, n_new] if as_list else (x, y)

    return mix


CORRECT = {
    "lora_embedding": [lora_embedding(), PeftStyleEmbedding, lora_via_library],
    "freeze_except_column": [freeze_except_column, freeze_after_accumulation, freezer()],
    "mixed_batch": [mixed_batch, mixed_by_mask],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(adaptation_checks, {
        "lora_embedding": "Exercise 14.1 (a LoRA adapter for an embedding)",
        "freeze_except_column": "Exercise 14.2 (training one column in place)",
        "mixed_batch": "Exercise 14.3 (a batch of new and replayed examples)",
    })
    assert list(CORRECT) == adaptation_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


@pytest.mark.parametrize("name", list(CORRECT))
def test_unattempted_code_waits(name, capsys):
    assert_not_attempted(name, capsys)


def test_the_library_adapter_on_a_one_hot_layer_is_the_exercise_formula():
    """14.1's lookup is the lesson's LoRALinear on the table seen as a layer fed one-hot vectors."""
    g = torch.Generator().manual_seed(0)
    table = nn.Embedding.from_pretrained(torch.randn(10, 6, generator=g))
    ours, theirs = lora_embedding()(table, 3, torch.Generator().manual_seed(1)), lora_via_library(table, 3, torch.Generator().manual_seed(1))
    b = torch.randn(6, 3, generator=g)
    with torch.no_grad():
        ours.A.copy_(theirs.A)
        ours.B.copy_(b)
        theirs.B.copy_(b)
    i = torch.tensor([3, 0, 9, 3])
    assert torch.allclose(ours(i), theirs(i), atol=1e-6)


# --------------------------------------------------------------------------- typical mistakes

MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    # 14.1: which factor starts at zero, the generator, the frozen table, the count, the lookup and its gradients
    ("lora_embedding", lambda t, r, g=None: nn.Embedding(3, 3), ["your module has no attribute A", "parameters named A and B"]),
    ("lora_embedding", lambda t, r, g=None: "a table", ["should return a torch.nn.Module, got str"]),
    ("lora_embedding", lora_embedding(b_random=True), ["B does not start at zero", "does not start as the base one"]),
    ("lora_embedding", lora_embedding(b_random=True, a_zero=True), ["B starts random and A starts at zero", "B must start at zero"]),
    ("lora_embedding", lora_embedding(a_zero=True), ["A starts at zero as well as B", "neither factor ever moves"]),
    ("lora_embedding", lora_embedding(a_seeded=False), ["the same seed gave two different A"]),
    ("lora_embedding", lora_embedding(global_a=True), ["generators with different seeds gave the same A"]),
    ("lora_embedding", lora_embedding(freeze=False), ["the base table still trains", "freeze it"]),
    ("lora_embedding", lora_embedding(copy_table=True), ["the base table still trains"]),
    ("lora_embedding", lora_embedding(extra=True), ["your module trains 54 numbers", "bias (6)", "the adapter trains 48"]),
    ("lora_embedding", lora_embedding(transpose_a=True), ["A has shape (10, 3), the other way round", "A is (rank, rows) = (3, 10)"]),
    ("lora_embedding", lora_embedding(transpose_b=True), ["B has shape (3, 6), the other way round", "B is (width, rank) = (6, 3)"]),
    ("lora_embedding", lora_embedding(ignore_update=True), ["your lookups are still the base table's", "must add the low-rank update"]),
    ("lora_embedding", lora_embedding(shared_update=True), ["every index got the same update", "its own part of B A"]),
    ("lora_embedding", lora_embedding(scale=1 / 3), ["your update is 0.3333 times the right one", "unscaled"]),
    ("lora_embedding", lambda t, r, g=None: (LoRAEmbedding(t, r, g), t.weight.data.mul_(0.5))[0], ["changed the table's weights", "stays as it was trained"]),
    ("lora_embedding", lora_embedding(detach=True), ["the lookups carry no gradient"]),
    ("lora_embedding", lora_embedding(no_grad=True), ["the lookups carry no gradient"]),
    # 14.2: the rest of the model, the bias, rows for columns, an inverted mask, nothing trains, weights edited
    ("freeze_except_column", freezer(others=False), ["the second layer's weight moved", "in the other layers too"]),
    ("freeze_except_column", freezer(bias=False), ["the layer's bias moved", "the bias is frozen too"]),
    ("freeze_except_column", freezer(mask="row"), ["row 2 of the weight moved", "input 2's column is what trains", "(out, in)"]),
    ("freeze_except_column", freezer(mask="inverted"), ["the weights outside the column moved and the column stayed", "the other way round"]),
    ("freeze_except_column", freezer(mask="all"), ["30 entries of the weight outside column 2 moved", "bit for bit"]),
    ("freeze_except_column", freezer(weight_trains=False), ["column 2 never moved", "must keep training"]),
    ("freeze_except_column", freezer(hook=False), ["30 entries of the weight outside column 2 moved"]),
    ("freeze_except_column", freezer(scale=2.0), ["after SGD with momentum steps (column 2), column 2 moved, but not as training moves it"]),
    ("freeze_except_column", freezer(multiply_weight=True), ["freeze_except_column changed the first layer's weight itself", "leave every weight as it was"]),
    ("freeze_except_column", lambda model, layer, column: freeze_except_column(model, layer, 2), ["after Adam steps (column 6), column 2 moved instead of column 6", "the column you are given"]),
    ("freeze_except_column", lambda model, layer, column: layer.weight[:, column].requires_grad_(True),
     ["the second layer's weight moved"]),
    # 14.3: the count (rounded down, swapped, no replacement), the labels, the shuffle, the generator, the rows themselves
    ("mixed_batch", mixer(count=int), ["holds 9 new examples", "new_fraction=0.3 of 32 is 9.6, which rounds to 10"]),
    ("mixed_batch", mixer(count=math.ceil), ["holds 5 new examples", "new_fraction=0.3 of 14 is 4.2, which rounds to 4"]),
    ("mixed_batch", mixer(swap=True), ["holds 22 new and 10 replayed examples, the other way round", "share of new examples"]),
    ("mixed_batch", mixer(replace=False), ["holds only 6 new examples, each once", "draw them with replacement"]),
    ("mixed_batch", mixer(shuffle=False), ["the new examples sit together at one end of the batch", "shuffle the batch"]),
    ("mixed_batch", mixer(apart=True), ["labels do not stay with their images", "pick each example's image and label together"]),
    ("mixed_batch", mixer(seeded=False), ["the same seed gave two different batches", "generator you are given"]),
    ("mixed_batch", mixer(fixed_seed=True), ["generators with different seeds gave the same batch"]),
    ("mixed_batch", mixer(fixed_new=True), ["another seed picked the same new examples", "at random"]),
    ("mixed_batch", mixer(noise=True), ["row 0 of the batch is none of the examples you were given", "unchanged"]),
    ("mixed_batch", lambda nx, ny, ox, oy, b, f, g=None: (nx.copy_(nx.flip(0)), ny.copy_(ny.flip(0)), mixed_batch(nx, ny, ox, oy, b, f, g))[2],
     ["mixed_batch changed the new_x you were given", "an in-place shuffle"]),
    ("mixed_batch", mixer(as_list=True), ["returned a list", "return the pair (x, y)"]),
    ("mixed_batch", mixer(float_labels=True), ["the y of mixed_batch", "should have dtype torch.int64"]),
    ("mixed_batch", lambda nx, ny, ox, oy, b, f, g=None: (torch.cat([nx, ox])[:b], torch.cat([ny, oy])[:b]), ["holds 20 new examples"]),
]


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)

_CODE = ("register_hook", "requires_grad_(", "zeros_like", "randn(", "randint(", "randperm(", "torch.cat", "round(", "[:, column]",
         "@ self", ".T[", "A[:, i]", "nn.Parameter", "generator=generator", "math.sqrt")


@pytest.mark.parametrize("name, fn", [(m[0], m[1]) for m in MISTAKES], ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_the_messages_give_no_code(name, fn):
    """The messages say what is wrong in the learner's terms, never the line, the call or the formula that would fix it."""
    torch.manual_seed(0)
    verdict = checks.REGISTRY[name].verdict(checks.REGISTRY[name].probe(fn), strict=True)
    assert verdict.status == "failed"
    assert not any(code in verdict.message for code in _CODE), verdict.message
