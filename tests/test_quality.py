"""The GAN lessons' quality numbers, measured through the command line as a learner would.

`genai-course train MODEL --seed 0` with the lesson defaults, then `sample -n 2500`:
every mode captured, high-quality fraction >= 0.90, reverse KL <= 0.02, training <= 90 s.
(`make bench` runs seeds 0, 1 and 2 and prints the table.)
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from genai_course import data, metrics, models

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("model", ["gan-ring8", "gan-grid25"])
def test_lesson_defaults_reach_the_published_protocol_targets(model, tmp_path):
    ckpt, samples = tmp_path / "model.pt", tmp_path / "samples.npz"
    cli = [sys.executable, "-m", "genai_course"]
    subprocess.run([*cli, "train", model, "--seed", "0", "--out", str(ckpt), "--quiet"], check=True, capture_output=True)
    subprocess.run([*cli, "sample", str(ckpt), "-n", "2500", "--out", str(samples)], check=True, capture_output=True)
    x = np.load(samples)["x"]
    assert x.shape == (2500, 2) and x.dtype == np.float32
    report = metrics.mode_metrics(torch.from_numpy(x), data.get_mixture(models.get_recipe(model).mixture))
    seconds = float(torch.load(ckpt, weights_only=True)["extra"]["seconds"])
    print(f"{model}: {report}, {seconds:.1f} s of training")
    assert report.modes == report.n_modes, report
    assert report.hq_fraction >= 0.90, report
    assert report.reverse_kl <= 0.02, report
    assert seconds <= 90.0, f"training took {seconds:.1f} s, over the 90 s budget"
