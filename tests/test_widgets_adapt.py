"""Lesson 14's widget, ``adaptation_picker``: it draws precomputed sample grids (nothing trains
here), its two controls change the picture, each choice is drawn once, bad input is explained.

The "samples" are random images: these tests check plumbing, not quality.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from genai_course import widgets
from shared import differ, renders, seeded  # noqa: F401 (fixtures)

PNG = b"\x89PNG"


def grids(methods=("finetune", "embedding"), sizes=(20, 5)) -> dict:
    """{(method, n): (new (5, 1, 8, 8), old (9, 1, 8, 8))}, different random images for each."""
    gen = seeded(0)
    return {(m, n): (torch.rand(5, 1, 8, 8, generator=gen), torch.rand(9, 1, 8, 8, generator=gen)) for m in methods for n in sizes}


def test_adaptation_picker_renders_and_each_control_changes_the_picture(monkeypatch):
    counted = renders(monkeypatch)
    results = grids()
    captions = {key: f"{key[0]} with {key[1]}" for key in results}
    box = widgets.adaptation_picker(results, captions)
    assert list(box.method.options) == ["finetune", "embedding"] and box.method.value == "finetune"
    assert list(box.examples.options) == [5, 20] and box.examples.value == 5  # sorted
    assert box.key == ("finetune", 5) and box.caption.value == "finetune with 5"
    start = bytes(box.image.value)
    assert start.startswith(PNG) and box.render() == start
    box.examples.value = 20
    assert box.key == ("finetune", 20) and box.caption.value == "finetune with 20" and differ(start, box.image.value)
    other = bytes(box.image.value)
    box.method.value = "embedding"
    assert box.key == ("embedding", 20) and differ(other, box.image.value)
    rendered = len(counted)
    box.method.value, box.examples.value = "finetune", 5  # seen before: drawn from the cache
    assert bytes(box.image.value) == start and len(counted) == rendered == 3


def test_adaptation_picker_draws_every_image_it_is_given():
    results = grids(methods=("lora",), sizes=(20,))
    new, old = results[("lora", 20)]
    same = widgets.adaptation_picker({("lora", 20): (new.numpy(), old.tolist())})  # arrays and lists too
    assert bytes(same.image.value) == bytes(widgets.adaptation_picker(results).image.value)
    changed = widgets.adaptation_picker({("lora", 20): (new, torch.zeros_like(old))})
    assert differ(same.image.value, changed.image.value)
    assert widgets.adaptation_picker(results).caption.value == "lora, 20 examples"  # no captions: a plain one


def test_adaptation_picker_explains_bad_input():
    results = grids()
    with pytest.raises(TypeError, match=re.escape("results must be a non-empty dict {(method, examples): (new_samples, old_samples)} (got an empty dict)")):
        widgets.adaptation_picker({})
    with pytest.raises(TypeError, match=re.escape("every key of results must be (method, examples), e.g. ('lora', 20) (got 'lora')")):
        widgets.adaptation_picker({"lora": results[("finetune", 5)]})
    del results[("embedding", 5)]
    with pytest.raises(ValueError, match=re.escape("results must hold every method for every number of examples: missing [('embedding', 5)]")):
        widgets.adaptation_picker(results)
    with pytest.raises(TypeError, match=re.escape("results[('lora', 5)] must be a pair (new_samples, old_samples)")):
        widgets.adaptation_picker({("lora", 5): torch.rand(5, 1, 8, 8)})
    with pytest.raises(ValueError, match=re.escape("results[('lora', 5)]'s old samples must have shape (N, 1, 8, 8)")):
        widgets.adaptation_picker({("lora", 5): (torch.rand(5, 1, 8, 8), np.zeros((9, 64)))})
    with pytest.raises(ValueError, match=re.escape("captions must map keys of results to strings (got ('lora', 7): 'x')")):
        widgets.adaptation_picker(grids(("lora",), (5,)), {("lora", 7): "x"})
    with pytest.raises(ValueError, match=re.escape("nrow_old must be a positive whole number of old-class samples per row (got 0)")):
        widgets.adaptation_picker(grids(("lora",), (5,)), nrow_old=0)
