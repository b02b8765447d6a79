"""genai_course.utils: the seed helper, whole-number arguments, the one tensor comparison and the
one label check (the device and autocast are tested with the loop, in test_loop.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from genai_course import utils


def test_set_seed_seeds_global_and_returned_generator():
    g = utils.set_seed(11)
    a_global, a_gen = torch.randn(3), torch.randn(3, generator=g)
    g = utils.set_seed(11)
    assert torch.equal(a_global, torch.randn(3))
    assert torch.equal(a_gen, torch.randn(3, generator=g))


@pytest.mark.parametrize("value", [0, 7, np.int64(3), np.int32(-2)])
def test_whole_number_takes_python_and_numpy_integers(value):
    out = utils.whole_number(value, "seed")
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [1.0, "3", True, None, torch.tensor(2)])
def test_whole_number_names_the_argument(value):
    with pytest.raises(TypeError, match=re.escape(f"seed must be a whole number (got {value!r})")):
        utils.whole_number(value, "seed")


def test_same_is_within_tolerance_in_float64():
    a = torch.tensor([1.0, -2.0, float("inf")])
    assert utils.same(a, a.clone())
    assert utils.same(a, a + torch.tensor([5e-6, 0.0, 0.0]))  # inside 1e-5
    assert not utils.same(a, a + torch.tensor([1e-3, 0.0, 0.0]))
    assert utils.same(a, a + torch.tensor([1e-3, 0.0, 0.0]), tol=1e-2)
    assert not utils.same(a, -a)  # a flipped sign is never "the same"


def test_same_wants_the_same_shape_and_a_tensor():
    a = torch.zeros(3)
    assert not utils.same(a, None)
    assert not utils.same(a, torch.zeros(1))  # no broadcasting
    assert not utils.same(a, torch.zeros(3, 1))


def test_same_nan_only_when_asked():
    a = torch.tensor([float("nan"), 1.0])
    assert not utils.same(a, a.clone())
    assert utils.same(a, a.clone(), equal_nan=True)


def test_check_labels_accepts_what_each_kind_needs():
    utils.check_labels(None, 4, 0, "generator")
    utils.check_labels(torch.tensor([0, 9, 3, 3]), 4, 10, "generator")
    utils.check_labels(torch.zeros(0, dtype=torch.int64), 0, 10, "generator")  # an empty batch


@pytest.mark.parametrize(
    "y, message",
    [
        (None, "this decoder is conditional (num_classes=10): pass labels y of shape (4,)"),
        (torch.zeros(4), "labels must be whole numbers of shape (4,), one per example (got torch.float32 of shape (4,))"),
        (torch.zeros(3, dtype=torch.int64), "labels must be whole numbers of shape (4,), one per example (got torch.int64 of shape (3,))"),
        (torch.tensor([0, 1, 2, 10]), "labels must lie in 0..9 (got values from 0 to 10)"),
        (torch.tensor([-1, 1, 2, 3]), "labels must lie in 0..9 (got values from -1 to 3)"),
    ],
)
def test_check_labels_messages(y, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        utils.check_labels(y, 4, 10, "decoder")


def test_check_labels_unconditional_refuses_labels():
    with pytest.raises(ValueError, match=re.escape("this encoder is unconditional (num_classes=0): call it without labels")):
        utils.check_labels(torch.zeros(2, dtype=torch.int64), 2, 0, "encoder")
