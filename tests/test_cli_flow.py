"""`genai-course train` and `sample` for lesson 16's flow models: --from names the model a run learns
from, --steps and --sampler choose the ODE sampler, and the files say what made them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genai_course import models
from genai_course.utils import weights_sha256

from test_cli import run_main


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("flow-cli")


def train(capsys, *argv) -> None:
    code, out, err = run_main(["train", *argv, "--quiet"], capsys)
    assert code == 0, err
    assert out.startswith("trained ") and err == ""


def test_sample_takes_the_steps_and_sampler_it_is_given(folder, capsys):
    ckpt = folder / "flow.pt"
    train(capsys, "flow-grid25", "--steps", "20", "--out", str(ckpt))
    model = models.load_model(str(ckpt))
    for extra, steps, method in [([], 50, "midpoint"), (["--steps", "3"], 3, "midpoint"), (["--steps", "4", "--sampler", "euler"], 4, "euler")]:
        out = folder / f"s{len(extra)}.npz"
        code, stdout, err = run_main(["sample", str(ckpt), "-n", "40", "--seed", "2", *extra, "--out", str(out)], capsys)
        assert code == 0, err
        arrays = np.load(out)
        want = model.sample(40, torch.Generator().manual_seed(2), steps=steps, method=method).numpy()
        assert arrays["x"].shape == (40, 2) and np.array_equal(arrays["x"], want)  # the same draw as the library's
        record = json.loads(str(arrays["provenance"]))
        assert record["options"]["steps"] == (steps if extra else None) and record["options"]["method"] == (method if "--sampler" in extra else None)


def test_a_reflow_run_learns_from_the_checkpoint_it_is_given_and_records_it(folder, capsys):
    teacher = folder / "teacher.pt"
    train(capsys, "flow-grid25", "--steps", "10", "--out", str(teacher))
    rect = folder / "rect.pt"
    train(capsys, "rectified-grid25", "--steps", "5", "--from", str(teacher), "--out", str(rect))
    loaded, source = models.load_model(str(rect)), models.load_model(str(teacher))
    assert loaded.teacher_record["name"] == "flow-grid25"
    assert loaded.teacher_record["weights_sha256"] == weights_sha256(source.ema)  # the pairs came from this file's model
    assert loaded.recipe.teacher_recipe == source.recipe.to_dict()  # its recipe says which run that was (10 steps)
    out = folder / "rect.npz"
    code, _, err = run_main(["sample", str(rect), "-n", "10", "--steps", "1", "--sampler", "euler", "--out", str(out)], capsys)
    assert code == 0, err
    assert np.load(out)["x"].shape == (10, 2)


def test_a_latent_run_learns_in_the_vae_it_is_given_and_draws_the_digit_asked(folder, capsys):
    vae = folder / "vae.pt"
    train(capsys, "vae-digits", "--steps", "20", "--out", str(vae))
    lat = folder / "lat.pt"
    train(capsys, "latent-flow-digits", "--steps", "5", "--from", str(vae), "--out", str(lat))
    model = models.load_model(str(lat))
    assert weights_sha256(model.vae) == weights_sha256(models.load_model(str(vae)).vae)
    out = folder / "lat.npz"
    code, _, err = run_main(["sample", str(lat), "-n", "12", "--label", "7", "--steps", "2", "--guidance", "0", "--out", str(out)], capsys)
    assert code == 0, err
    arrays = np.load(out)
    assert arrays["x"].shape == (12, 1, 8, 8) and arrays["y"].tolist() == [7] * 12
    assert np.array_equal(arrays["x"], model.sample(12, torch.Generator().manual_seed(0), labels=7, steps=2, guidance=0.0).numpy())
