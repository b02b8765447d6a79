"""genai_course.checks.accumulation (lesson 12, 12.3): correct code passes, typical mistakes are named."""

from __future__ import annotations

import pytest
import torch

from genai_course.checks import accumulation as accumulation_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


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


CORRECT = {
    "accumulate_gradients": [accumulate_gradients, accumulate_gradients_by_split, accumulate_gradients_keeping_tensors],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(accumulation_checks, {
        "accumulate_gradients": "Exercise 12.3 (gradient accumulation)",
    })
    assert list(CORRECT) == accumulation_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


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
    (accumulate(zero="never"), ["the gradients already in .grad (from an earlier batch) were added to", "zero them once before the loop"]),
    (accumulate(zero="never", divide="none"), ["the gradients already in .grad (from an earlier batch) were added to"]),
    (accumulate(split="split-k"), ["ran the network 4 times on 3 rows", "micro_batches is the number of micro-batches, not their size", "k micro-batches of B // k = 4 rows"]),
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


MISTAKES = [("accumulate_gradients", fn, fragments) for fn, fragments in ACC_MISTAKES]


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


def test_every_named_factor_differs_from_the_others_and_from_the_truth():
    """On the first case every wrong factor of the full-batch gradient is a factor of its own."""
    c = accumulation_checks._ACC_CASES[0]
    factors = [f for f, _ in accumulation_checks._acc_factor(c)] + [1.0]
    assert len(set(factors)) == len(factors)


# --------------------------------------------------------------------------- observations through files


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
