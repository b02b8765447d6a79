"""Shared fixtures: one PyTorch thread and a tiny GAN recipe.

The library tests train networks of 16 units for tens of steps: one thread is faster
than two fighting over a busy 2-core machine, and it keeps timings predictable.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def tiny_recipe():
    """The gan-ring8 recipe with 16-unit, 2-layer networks and 40 steps (a fresh copy per test)."""
    from genai_course import gan, models

    recipe = models.get_recipe("gan-ring8")
    return dataclasses.replace(
        recipe,
        generator=gan.GeneratorConfig(hidden=16, layers=2),
        discriminator=gan.DiscriminatorConfig(hidden=16, layers=2),
        train=dataclasses.replace(recipe.train, steps=40),
    )
