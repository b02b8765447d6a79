"""What the tests of ``genai_course.serve`` share: tiny checkpoints, trained once per test process
(a few steps each: the server's doors are under test, not the samples' quality). A test file
imports the fixture it uses (``from serve_shared import tiny``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from genai_course import models

STEPS = {"cvae-digits": 20, "charlm-names": 20, "gan-grid25": 20, "ddpm-grid25": 10, "flow-grid25": 10}


def tiny_checkpoint(factory: pytest.TempPathFactory, name: str) -> Path:
    """``name`` trained for ``STEPS[name]`` steps, saved with its sidecar in this process's base temp
    folder (trained at the first call only). Tests copy it before changing it."""
    folder = factory.getbasetemp() / "serve-checkpoints"
    path = folder / f"{name}.pt"
    if not path.exists():
        folder.mkdir(exist_ok=True)
        models.train_model(name, steps=STEPS[name], progress=False).save(str(path))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A conditional digits model, the names model and a 2D GAN: one of each kind the server serves."""
    return {name: tiny_checkpoint(tmp_path_factory, name) for name in ("cvae-digits", "charlm-names", "gan-grid25")}
