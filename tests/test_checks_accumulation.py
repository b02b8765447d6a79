"""genai_course.checks.accumulation (lesson 12, 12.3): correct code passes, typical mistakes are named."""

from __future__ import annotations

import math

import pytest
import torch

from genai_course.checks import accumulation as accumulation_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def accumulate_gradients(model, loss_fn, x, y, micro_batch_size):
    model.zero_grad()
    b = x.shape[0]
    total = 0.0
    for x_j, y_j in zip(x.split(micro_batch_size), y.split(micro_batch_size)):
        loss = loss_fn(model(x_j), y_j) * (len(x_j) / b)
        loss.backward()
        total += loss.item()
    return total


def accumulate_gradients_by_slices(model, loss_fn, x, y, m):
    """Slices by hand, gradients set to None, the loss returned as a 0-dim tensor."""
    for p in model.parameters():
        p.grad = None
    b = x.shape[0]
    losses = []
    for start in range(0, b, m):
        x_j, y_j = x[start:start + m], y[start:start + m]
        loss = loss_fn(model(x_j), y_j)
        (loss * x_j.shape[0] / b).backward()
        losses.append(loss.detach() * x_j.shape[0])
    return torch.stack(losses).sum() / b


def accumulate_gradients_in_equal_pieces(model, loss_fn, x, y, m):
    """As few micro-batches as fit, as equal as torch.chunk makes them (the last may still be smaller)."""
    model.zero_grad(set_to_none=False)
    b = x.shape[0]
    total = 0.0
    for x_j, y_j in zip(x.chunk(math.ceil(b / m)), y.chunk(math.ceil(b / m))):
        loss = loss_fn(model(x_j), y_j) * (len(x_j) / b)
        loss.backward()
        total += float(loss.detach())
    return total


CORRECT = {
    "accumulate_gradients": [accumulate_gradients, accumulate_gradients_by_slices, accumulate_gradients_in_equal_pieces],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(accumulation_checks, {
        "accumulate_gradients": "Exercise 12.3 (gradient accumulation)",
    })
    assert list(CORRECT) == accumulation_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


# --------------------------------------------------------------------------- typical mistakes: 12.3


def accumulate(*, weigh="share", zero="before", split="split", step=False, ret="total", whole_loss=False, split_y=True):
    """Gradient accumulation written right (the defaults) or one of the usual wrong ways."""

    def fn(model, loss_fn, x, y, m):
        b = x.shape[0]
        if zero == "before":
            model.zero_grad()
        cut = {"split": lambda t: t.split(m), "chunk-m": lambda t: t.chunk(m), "whole": lambda t: [t],
               "drop-last": lambda t: t.split(m)[: b // m]}[split]
        xs = cut(x)
        ys = cut(y) if split_y else [y] * len(xs)
        k = len(xs)
        total, last, plain = 0.0, 0.0, 0.0
        for x_j, y_j in zip(xs, ys):
            if zero == "inside":
                model.zero_grad()
            loss = loss_fn(model(x_j), y_j)
            w = {"share": len(x_j) / b, "k": 1 / k, "none": 1.0, "B": 1 / b, "m": 1 / m, "rows": float(len(x_j))}[weigh]
            (loss * w).backward()
            total += loss.item() * w
            plain += loss.item() / k
            last = loss.item()
        if step:
            torch.optim.SGD(model.parameters(), lr=0.1).step()
        if whole_loss:
            with torch.no_grad():
                return loss_fn(model(x), y).item()
        return {"total": total, "last": last, "plain": plain, "sum": plain * k, "tensor": torch.tensor([total]), "none": None}[ret]

    return fn


ACC_MISTAKES = [
    (accumulate(weigh="k"), ["divided by their number, k = 3", "here they have [5, 5, 2] rows", "the 2 rows of the last one weigh more",
                             "so the result is not the full batch's gradient", "cut into micro-batches of other sizes"]),
    (accumulate(weigh="none"), ["the sum of the 3 micro-batches' mean-loss gradients, too big"]),
    (accumulate(weigh="B"), ["you divided each micro-batch's loss by the batch size", "already a mean over its own rows"]),
    (accumulate(weigh="m"), ["you divided each micro-batch's loss by micro_batch_size"]),
    (accumulate(weigh="rows"), ["the gradient is B = 12 times the full batch's", "turns it back into a sum"]),
    (accumulate(zero="inside"), ["only the last micro-batch's gradient is left", "zero the gradients once before the loop, not inside it"]),
    (accumulate(zero="never"), ["the gradients already in .grad (from an earlier batch) were added to", "zero them once before the loop"]),
    (accumulate(zero="never", weigh="k"), ["the gradients already in .grad (from an earlier batch) were added to"]),
    (accumulate(split="chunk-m"), ["for a batch of 8 rows ran the network on batches of [4, 4] rows", "the rows of one micro-batch, not their number"]),
    (accumulate(split="whole"), ["ran the network on all 12 rows at once", "at most micro_batch_size = 5 rows"]),
    (accumulate(split="drop-last"), ["never ran the network on the last 2 rows", "a smaller one is left, and every row must count"]),
    (accumulate(whole_loss=True), ["ran the network on all 12 rows at once as well as on the micro-batches", "add up the micro-batches' contributions"]),
    (accumulate(split_y=False), ["split the targets y into the same micro-batches as x"]),
    (accumulate(step=True), ["changed the network's weights", "the optimizer steps after it"]),
    (accumulate(ret="plain"), ["the plain mean of the micro-batch losses", "the smaller last one counts as much as the others"]),
    (accumulate(ret="sum"), ["the sum of the micro-batch losses"]),
    (accumulate(ret="last"), ["returned the last micro-batch's loss"]),
    (accumulate(ret="none"), ["should return the batch's mean loss as a Python float (a number, not a tensor), but returned a NoneType"]),
    (lambda model, loss_fn, x, y, m: (accumulate()(model, loss_fn, x, y, m), torch.ones(2))[1], ["should return the batch's mean loss as a Python float", "of shape (2,)"]),
    (lambda model, loss_fn, x, y, m: 0.0, ["never ran the network"]),
    (lambda model, loss_fn, x, y, m: (model.zero_grad(), [model(x_j) for x_j in x.split(m)], 0.0)[-1], ["left no gradient in net.0.weight, net.0.bias, net.2.weight, net.2.bias.grad"]),
    (lambda model, loss_fn, x, y, m: accumulate()(model, loss_fn, x[torch.randperm(len(x))], y, m),
     ["differs from the gradient of loss_fn(model(x), y) on the whole batch", "its inputs with its own targets"]),
]


MISTAKES = [("accumulate_gradients", fn, fragments) for fn, fragments in ACC_MISTAKES]


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


def test_every_named_slip_differs_from_the_others_and_from_the_truth():
    """On the first case (micro-batches of 5, 5 and 2 rows) every slip's weights are weights of their own."""
    c = accumulation_checks._ACC_CASES[0]
    sizes = [5, 5, 2]
    weights = [tuple(w) for w, _ in accumulation_checks._acc_slips(c, sizes)] + [tuple(n / c.batch for n in sizes)]
    assert len(set(weights)) == len(weights)


# --------------------------------------------------------------------------- observations through files


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
