"""Fixtures and helpers that several test files of one family share. A test file imports the
ones it uses (``from shared import digits, judge``): a fixture imported into a test module is
that module's fixture, with the scope it is declared with here."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

import pytest
import torch

from genai_course import data, metrics, models, text
from genai_course.vae import VAE, VAEConfig


@pytest.fixture(scope="module")
def digits() -> data.Digits:
    """scikit-learn's 8x8 digits with the course's split."""
    return data.load_digits()


@pytest.fixture(scope="module")
def judge():
    """The stored digit judge."""
    return metrics.digit_classifier()


@pytest.fixture(scope="module")
def names() -> text.NamesData:
    """The names data."""
    return text.load_names()


@pytest.fixture(scope="module")
def tensors(names):
    """(inputs, targets, labels) of the training names, then of the held-out ones."""
    d = names
    return (*d.train.tensors(d.vocab), d.train.labels), (*d.heldout.tensors(d.vocab), d.heldout.labels)


def small_vae(num_classes: int = 0, latent_dim: int = 3, seed: int = 0) -> VAE:
    """A 32-unit, 2-layer VAE, seeded."""
    torch.manual_seed(seed)
    return VAE(VAEConfig(latent_dim=latent_dim, hidden=32, layers=2, num_classes=num_classes))


def quick_ddpm(name: str) -> models.TrainedDDPM:
    """The named model after 5 training steps, sampling with 5 DDIM steps by default."""
    model = models.build(name)
    model.recipe = dataclasses.replace(model.recipe, sampler="ddim", sampler_steps=5)
    model.fit(steps=5, progress=False)
    return model


@pytest.fixture(scope="module", name="points")
def ddpm_points() -> models.TrainedDDPM:
    """ddpm-grid25 after 5 steps (quick_ddpm)."""
    return quick_ddpm("ddpm-grid25")


@pytest.fixture(scope="module", name="digits")
def ddpm_digits() -> models.TrainedDDPM:
    """ddpm-digits after 5 steps (quick_ddpm); a widget test's ``digits``."""
    return quick_ddpm("ddpm-digits")


def seeded(seed: int = 0) -> torch.Generator:
    """A fresh generator with this seed."""
    return torch.Generator().manual_seed(seed)


def differ(a: bytes, b: bytes) -> bool:
    """The two PNGs show different pictures (not just different bytes)."""
    import io

    import numpy as np
    from matplotlib.image import imread

    pa, pb = (imread(io.BytesIO(bytes(png)), format="png") for png in (a, b))
    return pa.shape != pb.shape or not np.array_equal(pa, pb)


def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the widgets' PNG renders from now on: one entry per render."""
    from genai_course.widgets import _draw

    counted: list[int] = []
    real = _draw.render
    monkeypatch.setattr(_draw, "render", lambda fig: counted.append(1) or real(fig))
    return counted


def running(token: str) -> list[str]:
    """The pids of the processes whose command line holds ``token`` (what a grading test's learner started)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if token.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
            except OSError:
                continue
    return found


# ---- the browser tests (tests/test_browser.py, tests/test_browser_serve.py): Debian's Chromium, never `playwright install`
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (the Makefile's CHROMIUM)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def browser_missing(what: str) -> None:
    """Skip, or fail under CI (where a missing browser is a broken install, not a laptop)."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI is set, so this fails instead of skipping)")
    pytest.skip(what)


def require_browser() -> None:
    """Skip the test (fail it under CI) unless Chromium and the playwright package are both here."""
    if not CHROMIUM.exists():
        browser_missing(
            f"Chromium not found at {CHROMIUM}: install it with `sudo apt-get install -y chromium` "
            "(Debian/Ubuntu; `make test` does it when run as root)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        browser_missing("the playwright package is missing: pip install -e '.[test]' (or make setup)")


@contextlib.contextmanager
def chromium():
    """Debian's Chromium launched headless through Playwright with the course's flags, closed after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
