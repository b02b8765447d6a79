"""Shared fixtures: one PyTorch thread and a tiny GAN recipe.

The library tests train networks of 16 units for tens of steps: one thread is faster
than two fighting over a busy 2-core machine, and it keeps timings predictable.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

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


@pytest.fixture(scope="session")
def pretrain(tmp_path_factory):
    """``pretrain(*names) -> folder``: `genai-course pretrain NAMES --out FOLDER` in a fresh process.

    One folder for the whole session, so a run trained for one test (the browser's lessons)
    is reused by the next (test_quality's models): `pretrain` keeps runs already current."""
    folder = tmp_path_factory.mktemp("pretrained")

    def run(*names: str) -> Path:
        done = subprocess.run([sys.executable, "-m", "genai_course", "pretrain", *names, "--out", str(folder), "--quiet"],
                              capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        assert done.returncode == 0, done.stderr
        print(done.stdout, end="")
        return folder

    return run


@pytest.fixture(scope="session")
def pretrained_dir(pretrain) -> Path:
    """A folder holding the pretrained runs of lessons 05 and 07 (for the browser test)."""
    return pretrain("05", "07")
