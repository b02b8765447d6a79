"""Shared fixtures of the library tests: a tiny GAN recipe.

The repository's conftest.py (one level up) sets one PyTorch thread for every process of the
run and holds the session's pretrained runs (the ``pretrain`` and ``pretrained_dir`` fixtures).
"""

from __future__ import annotations

import dataclasses

import pytest


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
