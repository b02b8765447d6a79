"""The GAN lessons' quality numbers, measured through the command line as a learner would.

`genai-course pretrain MODEL` (the lesson-default run `train MODEL --seed 0` makes, with the
lesson's snapshots, as lessons load it with PRETRAINED = True), then `sample`:
* 2D mixtures, 2,500 samples: every mode captured, high-quality fraction >= 0.90, reverse KL <= 0.02;
* dcgan-digits, 1,000 samples: classifier-confident fraction >= 0.90 (issue 24), class entropy >= 0.98;
* cgan-digits, 100 samples of each label: label accuracy >= 0.98 (issue 24), confident fraction >= 0.85;
* vae-digits: held-out -ELBO <= VAE_NEG_ELBO nats per image (reported beside -IWAE); 1,000 prior
  samples (decoder means): confident fraction >= 0.80, class entropy >= 0.98;
* cvae-digits, 100 samples of each label: label accuracy >= 0.95;
* charlm-names: held-out NLL per character at least 15% below the per-language bigram's; the
  language judge (fitted on the training names) >= 0.75 on the real held-out names, and on one
  name per held-out name, drawn for its language at temperature 1 (``evaluate()``), within 0.07
  of that, all samples and the new ones alone; novelty >= 0.5;
* ddpm-ring8, ddpm-grid25, 2,500 samples (the default ancestral sampler): every mode, high-quality
  fraction >= 0.85, reverse KL <= 0.02;
* ddpm-digits, 1,000 samples without a label: confident fraction >= 0.80, class entropy >= 0.98;
  100 of each label with the default guidance: label accuracy >= 0.95, and higher than without guidance;
* lesson 16 (issue 29): rectified-grid25, 2,500 samples with its default 2 midpoint steps (4 network
  calls): every mode, high-quality fraction >= 0.90; its teacher flow-grid25 at 100 Euler calls every
  mode and >= 0.90, but at 4 calls far fewer modes; latent-flow-digits, 100 of each label with its
  default 10 Euler steps (10 calls) and guidance 1: label accuracy >= 0.95;
and `genai-course evaluate` (lesson 11) scores each digits GAN and VAE: the same confident fraction
as the samples above, and a classifier trained only on cgan-digits' or cvae-digits' samples at least
85% accurate on the real held-out digits. Each run is trained once for the whole test run (conftest's
``pretrain``), and the lessons with PRETRAINED switched on load the same runs. How long training and
`evaluate` take is measured by `make bench` (seeds 0, 1 and 2, with the budgets), never asserted here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genai_course import data, metrics, models
from genai_course.utils import weights_sha256

pytestmark = pytest.mark.slow

VAE_NEG_ELBO = 23.5  # nats per image on the 300 held-out digits (the issue's target)


_PRETRAIN = None  # conftest's session `pretrain`, set for each test below


@pytest.fixture(autouse=True)
def _runs(pretrain):
    global _PRETRAIN
    _PRETRAIN = pretrain


def train_and_write(model: str, n: int, tmp_path, suffix: str) -> Path:
    """MODEL's lesson-default run with seed 0, then `sample -n N --out samples<suffix>`: that file.

    The run is `genai-course pretrain`'s (conftest's session folder), the one a lesson's
    PRETRAINED = True loads; it trains the weights `genai-course train MODEL --seed 0` trains.
    It is copied, with its sha256 sidecar, to tmp_path/model.pt for the tests below."""
    steps = models.get_recipe(model).train.steps
    name = models.pretrained_file(model, 0, steps)
    folder = _PRETRAIN(name)
    ckpt, samples = tmp_path / "model.pt", tmp_path / f"samples{suffix}"
    shutil.copyfile(folder / name, ckpt)
    shutil.copyfile(folder / f"{name}.sha256", tmp_path / "model.pt.sha256")
    cli = [sys.executable, "-m", "genai_course"]
    subprocess.run([*cli, "sample", str(ckpt), "-n", str(n), "--out", str(samples)], check=True, capture_output=True)
    return samples


def evaluate_cli(tmp_path) -> dict:
    """`genai-course evaluate CKPT --json` on the checkpoint train_and_write left: its scores."""
    done = subprocess.run([sys.executable, "-m", "genai_course", "evaluate", str(tmp_path / "model.pt"), "--json"], check=True, capture_output=True, text=True)
    result = json.loads(done.stdout)
    print(f"evaluate {result['model']}: {result['scores']}")
    return result["scores"]


def train_and_sample(model: str, n: int, tmp_path) -> dict:
    return dict(np.load(train_and_write(model, n, tmp_path, ".npz")))


def assert_points_reach(model: str, mixture: str, hq_fraction: float, tmp_path) -> None:
    """2,500 samples of a 2D model through the CLI: every mode, high-quality >= ``hq_fraction``,
    reverse KL <= 0.02."""
    arrays = train_and_sample(model, 2500, tmp_path)
    x = arrays["x"]
    assert x.shape == (2500, 2) and x.dtype == np.float32
    report = metrics.mode_metrics(torch.from_numpy(x), data.get_mixture(mixture))
    print(f"{model}: {report}")
    assert report.modes == report.n_modes, report
    assert report.hq_fraction >= hq_fraction, report
    assert report.reverse_kl <= 0.02, report


@pytest.mark.parametrize("model", ["gan-ring8", "gan-grid25"])
def test_lesson_defaults_reach_the_published_protocol_targets(model, tmp_path):
    assert_points_reach(model, models.get_recipe(model).mixture, 0.90, tmp_path)


def test_dcgan_digits_draws_recognisable_digits_of_every_class(tmp_path):
    arrays = train_and_sample("dcgan-digits", 1000, tmp_path)
    x = arrays["x"]
    assert x.shape == (1000, 1, 8, 8) and x.dtype == np.float32 and "y" not in arrays
    report = metrics.digit_metrics(torch.from_numpy(x))
    print(f"dcgan-digits: {report}")
    assert report.confident >= 0.90, report
    assert report.class_entropy >= 0.98, report
    assert report.frechet < 10 * report.frechet_real, report  # in the neighbourhood of real digits, not noise
    scores = evaluate_cli(tmp_path)
    assert scores["confident"] == report.confident  # the same 1,000 samples (seed 0) as `sample`


def test_cgan_digits_draws_the_digit_asked_for(tmp_path):
    arrays = train_and_sample("cgan-digits", 1000, tmp_path)  # every class in turn: 100 of each
    x, y = torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"])
    assert y.bincount(minlength=10).tolist() == [100] * 10
    report = metrics.digit_metrics(x, y)
    print(f"cgan-digits: {report}")
    assert report.label_accuracy >= 0.98, report
    assert report.confident >= 0.85, report
    scores = evaluate_cli(tmp_path)
    assert scores["tstr"] >= 0.85, scores  # train on synthetic, test on real


def test_vae_digits_bounds_the_held_out_likelihood_and_draws_recognisable_digits(tmp_path):
    arrays = train_and_sample("vae-digits", 1000, tmp_path)
    x = arrays["x"]
    assert x.shape == (1000, 1, 8, 8) and x.dtype == np.float32 and "y" not in arrays
    held_out = models.load_model(str(tmp_path / "model.pt")).evaluate()
    report = metrics.digit_metrics(torch.from_numpy(x))
    print(f"vae-digits: {held_out}; samples: {report}")
    assert held_out.neg_iwae < held_out.neg_elbo <= VAE_NEG_ELBO, held_out
    assert report.confident >= 0.80, report
    assert report.class_entropy >= 0.98, report
    scores = evaluate_cli(tmp_path)
    assert scores["confident"] == report.confident  # the same 1,000 decoder means (seed 0) as `sample`


def test_cvae_digits_draws_the_digit_asked_for(tmp_path):
    arrays = train_and_sample("cvae-digits", 1000, tmp_path)  # every class in turn: 100 of each
    x, y = torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"])
    assert y.bincount(minlength=10).tolist() == [100] * 10
    report = metrics.digit_metrics(x, y)
    print(f"cvae-digits: {report}")
    assert report.label_accuracy >= 0.95, report
    scores = evaluate_cli(tmp_path)
    assert scores["tstr"] >= 0.85, scores  # train on synthetic, test on real


def test_charlm_names_beats_counting_and_sounds_like_the_language_asked_for(tmp_path):
    out = train_and_write("charlm-names", 800, tmp_path, ".txt")  # the CLI's draw: every language in turn, at 0.8
    names = out.read_text(encoding="utf-8").splitlines()
    model = models.load_model(str(tmp_path / "model.pt"))
    assert names == model.sample(800, torch.Generator().manual_seed(0))  # the CLI writes the model's names
    report = model.evaluate()  # one name per held-out name, in its language, at temperature 1; seed 0
    print(f"charlm-names: {report}")
    assert report.samples == 1097 and report.heldout_nll <= 0.85 * report.bigram_nll, report
    assert report.judge_real >= 0.75, report  # the judge on real names neither it nor the model saw (0.752)
    assert abs(report.judge_accuracy - report.judge_real) <= 0.07, report  # measured: 0.728
    assert abs(report.judge_accuracy_new - report.judge_real) <= 0.07, report  # copies do not carry it (0.718)
    assert report.novelty >= 0.5, report  # measured: 0.933


@pytest.mark.parametrize("model", ["ddpm-ring8", "ddpm-grid25"])
def test_ddpm_points_reach_the_issue_targets(model, tmp_path):
    assert_points_reach(model, models.get_recipe(model).data, 0.85, tmp_path)


def test_ddpm_digits_draws_digits_and_guidance_draws_the_one_asked_for(tmp_path):
    arrays = train_and_sample("ddpm-digits", 1000, tmp_path)  # no --label: the unconditional branch
    x = arrays["x"]
    assert x.shape == (1000, 1, 8, 8) and "y" not in arrays
    unconditional = metrics.digit_metrics(torch.from_numpy(x))
    # 100 of each label, as `genai-course sample CKPT --label K -n 100 [--guidance W]` draws them (tests/test_cli.py)
    model = models.load_model(str(tmp_path / "model.pt"))
    labels = torch.arange(10).repeat_interleave(100)
    accuracy = {}
    for w in (0.0, model.recipe.guidance):
        x = torch.cat([model.sample(100, torch.Generator().manual_seed(k), labels=k, guidance=w) for k in range(10)])
        accuracy[w] = metrics.digit_metrics(x, labels).label_accuracy
    print(f"ddpm-digits: without labels {unconditional}; label accuracy by guidance {accuracy}")
    assert unconditional.confident >= 0.80, unconditional
    assert unconditional.class_entropy >= 0.98, unconditional
    assert accuracy[model.recipe.guidance] >= 0.95, accuracy
    assert accuracy[model.recipe.guidance] > accuracy[0.0], accuracy


def test_reflowed_rectified_flow_covers_the_grid_in_4_network_calls_where_its_teacher_cannot(tmp_path):
    teacher_file = models.pretrained_file("flow-grid25", 0, models.get_recipe("flow-grid25").train.steps)
    folder = _PRETRAIN(teacher_file)  # first, so that the reflow run learns from this very run (pretrained.LessonRun.uses)
    arrays = train_and_sample("rectified-grid25", 2500, tmp_path)  # the CLI's default: 2 midpoint steps, 4 calls
    mixture = data.get_mixture("grid25")
    report = metrics.mode_metrics(torch.from_numpy(arrays["x"]), mixture)
    rect = models.load_model(str(tmp_path / "model.pt"))
    teacher = models.load_model(str(folder / teacher_file))
    assert rect.teacher_record["weights_sha256"] == weights_sha256(teacher.ema)  # the pairs came from the run it names
    g = lambda: torch.Generator().manual_seed(0)
    slow = metrics.mode_metrics(teacher.sample(2500, g(), method="euler", steps=100), mixture)
    fast = metrics.mode_metrics(teacher.sample(2500, g(), method="midpoint", steps=2), mixture)
    print(f"rectified-grid25, 4 calls: {report}; flow-grid25, 100 calls: {slow}; 4 calls: {fast}")
    assert report.modes == 25 and report.hq_fraction >= 0.90, report  # the issue's target
    assert slow.modes == 25 and slow.hq_fraction >= 0.90, slow
    assert fast.modes < 25 and fast.hq_fraction < 0.5, fast  # what reflow buys


def test_latent_flow_draws_the_digit_asked_for_in_10_network_calls(tmp_path):
    _PRETRAIN(models.pretrained_file("vae-digits", 0, 3000))  # the VAE it learns in: lesson 11's run
    arrays = train_and_sample("latent-flow-digits", 1000, tmp_path)  # every label in turn, 10 Euler steps, guidance 1
    x, y = torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"])
    assert y.bincount(minlength=10).tolist() == [100] * 10
    report = metrics.digit_metrics(x, y)
    model = models.load_model(str(tmp_path / "model.pt"))
    model.ema.calls = 0
    model.sample(10, torch.Generator().manual_seed(0))
    print(f"latent-flow-digits: {report}")
    assert model.ema.calls == 10  # the default sampler spends 10 network calls
    assert report.label_accuracy >= 0.95, report  # the issue's target
    assert report.confident >= 0.90, report
