"""genai_course.cli: train and sample work; bad input is one clear line and exit code 2."""

from __future__ import annotations

import dataclasses

import contextlib
import importlib
import io
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from genai_course import cli, models

ROOT = Path(__file__).resolve().parents[1]


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """cli.main in this process: (exit code, stdout, stderr), argparse's own exits included."""
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`genai-course train gan-ring8 --steps 30 --seed 0 --out tmp/x.pt --quiet`, run from a scratch folder."""
    root = tmp_path_factory.mktemp("cli")
    (root / "tmp").mkdir()
    stdout, cwd = io.StringIO(), os.getcwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stdout(stdout):
            code = cli.main(["train", "gan-ring8", "--steps", "30", "--seed", "0", "--out", "tmp/x.pt", "--quiet"])
    finally:
        os.chdir(cwd)
    return SimpleNamespace(code=code, stdout=stdout.getvalue(), checkpoint=root / "tmp" / "x.pt", root=root)


def test_train_writes_a_checkpoint_and_says_where(trained):
    assert trained.code == 0
    assert trained.stdout.count("\n") == 1
    assert trained.stdout.startswith("trained gan-ring8 (seed 0, 30 steps, ")
    assert trained.stdout.rstrip().endswith("checkpoint written to tmp/x.pt")
    model = models.load_model(str(trained.checkpoint))
    assert (model.name, model.step, model.seed) == ("gan-ring8", 30, 0)
    lesson = models.get_recipe("gan-ring8")  # the lesson's recipe, only shorter
    assert model.recipe.generator == lesson.generator and model.recipe.discriminator == lesson.discriminator
    assert dataclasses.replace(model.recipe.train, steps=lesson.train.steps) == lesson.train
    assert sorted(os.listdir(trained.checkpoint.parent)) == ["x.pt", "x.pt.sha256"]  # and its hash, no temporary files


def test_train_default_output_goes_to_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_main(["train", "gan-grid25", "--steps", "1", "--seed", "3", "--quiet"], capsys)
    assert code == 0 and err == ""
    assert out.rstrip().endswith("checkpoint written to runs/gan-grid25-seed3.pt")
    assert models.load_model("runs/gan-grid25-seed3.pt").step == 1


def test_sample_writes_npz(trained, tmp_path, capsys):
    out_file = tmp_path / "s.npz"
    code, out, err = run_main(["sample", str(trained.checkpoint), "-n", "100", "--out", str(out_file)], capsys)
    assert code == 0 and err == ""
    assert out == f"wrote 100 samples of gan-ring8 to {out_file} (array x, shape (100, 2))\n"
    with np.load(out_file) as npz:
        assert npz.files == ["x", "provenance"]  # provenance: tests/test_provenance.py
        assert npz["x"].shape == (100, 2) and npz["x"].dtype == np.float32
        assert np.isfinite(npz["x"]).all()
    assert sorted(os.listdir(tmp_path)) == ["s.npz"]  # no temporary file left


def test_sample_same_seed_same_samples(trained, tmp_path, capsys):
    arrays = {}
    for name, seed in (("a", "5"), ("b", "5"), ("c", "6")):
        code, _, _ = run_main(["sample", str(trained.checkpoint), "-n", "50", "--seed", seed, "--out", str(tmp_path / f"{name}.npz")], capsys)
        assert code == 0
        with np.load(tmp_path / f"{name}.npz") as npz:
            arrays[name] = npz["x"]
    assert np.array_equal(arrays["a"], arrays["b"])
    assert not np.array_equal(arrays["a"], arrays["c"])
    model = models.load_model(str(trained.checkpoint))  # the same numbers as the library's own sample()
    assert np.array_equal(arrays["a"], model.sample(50, generator=torch.Generator().manual_seed(5)).numpy())


def test_check_reports_the_room(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(models.PRETRAINED_ENV, str(tmp_path / "none"))  # where the lessons would look: nothing there
    code, out, err = run_main(["check", "--seconds", "1"], capsys)
    lines = out.splitlines()
    for item in ("Python", "PyTorch", "JupyterLab", "ipywidgets", "widgets front end", "Python kernel", "course data",
                 "threads", "device", "smoke training", "pretrained runs"):
        assert any(line[2:].startswith(item) for line in lines), (item, out)
    assert all(line[0] in "✔!✘" for line in lines[:-1]), out  # no colour codes when the output is not a terminal
    assert lines[-1].startswith("room ready") or lines[-1].startswith("room NOT ready: fix the ✘ lines (")
    assert (code == 0) == lines[-1].startswith("room ready") and code in (0, 1)
    # the estimate is for the lesson's whole run (gan-grid25's 12,000 steps), not for the smoke run just timed
    smoke = next(line for line in lines if "smoke training" in line)
    match = re.search(r"(\d+) steps/s: lesson 05's 12,000-step training would take about (\d+) s", smoke)
    assert match, smoke
    rate, seconds = int(match[1]), int(match[2])
    assert seconds == pytest.approx(models.get_recipe("gan-grid25").train.steps / rate, rel=0.05, abs=2)


# ---------------------------------------------------------------------------- digit models


@pytest.fixture(scope="module")
def digit_checkpoints(tmp_path_factory):
    """Every digits model trained for 3 steps through the command line."""
    root = tmp_path_factory.mktemp("digits")
    paths = {}
    for name in ("dcgan-digits", "cgan-digits", "vae-digits", "cvae-digits"):
        paths[name] = root / f"{name}.pt"
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(["train", name, "--steps", "3", "--out", str(paths[name]), "--quiet"]) == 0
    return paths


@pytest.mark.parametrize("name", ["dcgan-digits", "vae-digits"])
def test_sample_digits_writes_images_in_0_1(name, digit_checkpoints, tmp_path, capsys):
    out = tmp_path / "d.npz"
    code, stdout, _ = run_main(["sample", str(digit_checkpoints[name]), "-n", "12", "--out", str(out)], capsys)
    assert code == 0 and "array x, shape (12, 1, 8, 8)" in stdout
    arrays = np.load(out)
    assert set(arrays.files) == {"x", "provenance"}
    x = arrays["x"]
    assert x.shape == (12, 1, 8, 8) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize("name", ["cgan-digits", "cvae-digits"])
@pytest.mark.parametrize("label, expected", [(["--label", "7"], [7] * 12), ([], [k % 10 for k in range(12)])])
def test_sample_conditional_writes_labels(name, label, expected, digit_checkpoints, tmp_path, capsys):
    out = tmp_path / "c.npz"
    code, stdout, _ = run_main(["sample", str(digit_checkpoints[name]), "-n", "12", *label, "--out", str(out)], capsys)
    assert code == 0 and "array y, shape (12,)" in stdout
    arrays = np.load(out)
    assert arrays["y"].dtype == np.int64 and arrays["y"].tolist() == expected
    assert arrays["x"].shape == (12, 1, 8, 8) and arrays["x"].dtype == np.float32
    model = models.load_model(str(digit_checkpoints[name]))
    again = model.sample(12, generator=torch.Generator().manual_seed(0), labels=torch.tensor(expected))
    assert np.array_equal(arrays["x"], again.numpy())


# ---------------------------------------------------------------------------- names (text)


@pytest.fixture(scope="module")
def names_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("names") / "charlm.pt"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "charlm-names", "--steps", "20", "--out", str(path), "--quiet"]) == 0
    return path


@pytest.mark.parametrize("label, expected", [(["--label", "el_GR"], ["el_GR"] * 16), ([], None)])
def test_sample_names_writes_one_name_a_line(label, expected, names_checkpoint, tmp_path, capsys):
    out = tmp_path / "names.txt"
    code, stdout, _ = run_main(["sample", str(names_checkpoint), "-n", "16", *label, "--out", str(out)], capsys)
    assert code == 0 and "wrote 16 names of charlm-names" in stdout
    lines = out.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 17 and lines[-1] == ""  # 16 names, each ending in a newline
    model = models.load_model(str(names_checkpoint))
    again = model.sample(16, torch.Generator().manual_seed(0), expected)
    assert lines[:-1] == again


def test_sample_names_temperature_and_top_k_reach_the_sampler(names_checkpoint, tmp_path, capsys):
    out = tmp_path / "names.txt"
    args = ["sample", str(names_checkpoint), "-n", "8", "--label", "de_DE", "--temperature", "0.5", "--top-k", "3", "--seed", "4"]
    assert run_main([*args, "--out", str(out)], capsys)[0] == 0
    model = models.load_model(str(names_checkpoint))
    expected = model.sample(8, torch.Generator().manual_seed(4), "de_DE", temperature=0.5, top_k=3)
    assert out.read_text(encoding="utf-8").splitlines() == expected


# ---------------------------------------------------------------------------- diffusion


@pytest.fixture(scope="module")
def ddpm_checkpoints(tmp_path_factory):
    """The three diffusion models trained for 3 steps through the command line."""
    root = tmp_path_factory.mktemp("ddpm")
    paths = {}
    for name in ("ddpm-ring8", "ddpm-grid25", "ddpm-digits"):
        paths[name] = root / f"{name}.pt"
        with contextlib.redirect_stdout(io.StringIO()):
            assert cli.main(["train", name, "--steps", "3", "--out", str(paths[name]), "--quiet"]) == 0
    return paths


@pytest.mark.parametrize("name, shape", [("ddpm-ring8", (10, 2)), ("ddpm-grid25", (10, 2)), ("ddpm-digits", (10, 1, 8, 8))])
def test_sample_diffusion_writes_points_or_images(name, shape, ddpm_checkpoints, tmp_path, capsys):
    out = tmp_path / "s.npz"
    code, stdout, _ = run_main(["sample", str(ddpm_checkpoints[name]), "-n", "10", "--steps", "5", "--out", str(out)], capsys)
    assert code == 0 and f"array x, shape {shape}" in stdout
    arrays = np.load(out)
    assert set(arrays.files) == {"x", "provenance"}  # digits without --label: the unconditional branch, no labels
    model = models.load_model(str(ddpm_checkpoints[name]))
    again = model.sample(10, generator=torch.Generator().manual_seed(0), sampler="ddim", steps=5)
    assert np.array_equal(arrays["x"], again.numpy())


@pytest.mark.parametrize(
    "extra, sampler, steps, guidance",
    [([], "ancestral", None, 2.0), (["--guidance", "0.5", "--steps", "4"], "ddim", 4, 0.5), (["--sampler", "ddim", "--guidance", "0"], "ddim", 50, 0.0)],
)
def test_sample_diffusion_label_guidance_and_sampler_reach_the_model(extra, sampler, steps, guidance, ddpm_checkpoints, tmp_path, capsys):
    out = tmp_path / "g.npz"
    path = ddpm_checkpoints["ddpm-digits"]
    code, stdout, _ = run_main(["sample", str(path), "-n", "6", "--label", "3", *extra, "--seed", "2", "--out", str(out)], capsys)
    assert code == 0 and "array y, shape (6,)" in stdout
    arrays = np.load(out)
    assert arrays["y"].tolist() == [3] * 6
    model = models.load_model(str(path))
    assert model.recipe.guidance == 2.0 and model.recipe.sampler == "ancestral" and model.recipe.sampler_steps is None
    again = model.sample(6, generator=torch.Generator().manual_seed(2), labels=3, guidance=guidance, sampler=sampler, steps=steps)
    assert np.array_equal(arrays["x"], again.numpy())


def test_a_reader_that_stops_early_gets_no_traceback():
    """`genai-course pretrain --list | head -1`: the pipe closes under the writer; that is not an error."""
    proc = subprocess.Popen([sys.executable, "-m", "genai_course", "pretrain", "--list"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 0 and err == "", err


def test_the_console_script_and_python_dash_m_run_one_main():
    """pyproject's console script names genai_course.cli:main; `python -m genai_course` and `python -m genai_course.cli`
    run it too, in a fresh process, with the same help."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    module, _, name = scripts["genai-course"].partition(":")
    assert getattr(importlib.import_module(module), name) is cli.main
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    helps = [subprocess.run([sys.executable, "-m", entry, "grade", "--help"], capture_output=True, text=True, timeout=120, env=env)
             for entry in ("genai_course", "genai_course.cli")]
    assert [(done.returncode, done.stderr) for done in helps] == [(0, ""), (0, "")]
    assert helps[0].stdout == helps[1].stdout and helps[0].stdout.startswith("usage: genai-course grade ")
