"""genai_course.models: the registry, recipes, and the build/fit/sample/save/load round trip."""

from __future__ import annotations

import copy
import math
import re

import pytest
import torch

from genai_course import diffusion, checkpoints, data, models
from genai_course.train import save_checkpoint


def test_registry_names():
    assert list(models.MODELS) == [
        "gan-ring8", "gan-grid25", "dcgan-digits", "cgan-digits", "vae-digits", "cvae-digits", "charlm-names",
        "ddpm-ring8", "ddpm-grid25", "ddpm-digits",
    ]


def test_get_recipe_unknown_name_message():
    with pytest.raises(ValueError, match=re.escape("unknown model 'gan-ring9': choose one of gan-ring8, gan-grid25, dcgan-digits, cgan-digits")):
        models.get_recipe("gan-ring9")


def test_get_recipe_returns_a_fresh_copy():
    original = models.get_recipe("gan-ring8").to_dict()
    recipe = models.get_recipe("gan-ring8")
    recipe.train.steps = 1
    recipe.generator.hidden = 1
    recipe.discriminator.pack = 4
    fresh = models.get_recipe("gan-ring8")
    assert fresh.to_dict() == original
    assert fresh.train.steps > 1 and fresh.generator.hidden > 1 and fresh.discriminator.pack == 1
    assert models.get_recipe("gan-grid25").mixture == "grid25"


@pytest.mark.parametrize("name", list(models.MODELS))
def test_recipe_dict_round_trip(name):
    recipe = models.get_recipe(name)
    as_dict = recipe.to_dict()
    if isinstance(recipe, models.DigitsGANRecipe):
        assert set(as_dict) == {"generator", "discriminator", "train"}
    elif isinstance(recipe, models.VAERecipe):
        assert set(as_dict) == {"vae", "train"}
    elif isinstance(recipe, models.CharLMRecipe):
        assert set(as_dict) == {"model", "train", "locales", "temperature"}
    elif isinstance(recipe, models.DDPMRecipe):
        assert set(as_dict) == {"data", "ddpm", "train", "sampler", "sampler_steps", "guidance"}
    else:
        assert set(as_dict) == {"mixture", "generator", "discriminator", "train", "normalize"}
    assert type(recipe).from_dict(as_dict) == recipe


def test_tiny_recipe_dict_round_trip(tiny_recipe):
    assert models.GANRecipe.from_dict(tiny_recipe.to_dict()) == tiny_recipe


def test_build_seeds_weights_and_training_noise():
    a, b, c = models.build("gan-ring8", seed=4), models.build("gan-ring8", seed=4), models.build("gan-ring8", seed=5)
    assert a.recipe.train.seed == 4 and a.seed == 4 and a.name == "gan-ring8"
    assert all(torch.equal(p, q) for p, q in zip(a.G.parameters(), b.G.parameters()))
    assert not torch.equal(a.G.net[0].weight, c.G.net[0].weight)


def test_normalisation_round_trip(tiny_recipe):
    model = models.TrainedGAN(tiny_recipe)
    real = model.sample_real(5000, generator=torch.Generator().manual_seed(0))
    assert real.pow(2).sum(1).mean().sqrt().item() == pytest.approx(1.0, rel=0.01)  # unit spread for G
    x = torch.randn(4, 2)
    torch.testing.assert_close(model.to_data(model.from_data(x)), x)
    assert model.scale == pytest.approx(math.sqrt(1 + 2 * 0.01**2))


def test_fit_sample_save_load_round_trip(tmp_path, tiny_recipe):
    model = models.TrainedGAN(copy.deepcopy(tiny_recipe), name="tiny", seed=1)
    history = model.fit(steps=10, progress=False)
    assert model.step == 10 and history.step == list(range(1, 11)) and model.recipe.train.steps == 10
    samples = model.sample(300, generator=torch.Generator().manual_seed(2))
    assert samples.shape == (300, 2) and samples.dtype == torch.float32 and not samples.requires_grad

    path = tmp_path / "tiny.pt"
    model.save(str(path))
    loaded = models.load_model(str(path))
    assert (loaded.name, loaded.step, loaded.seed) == ("tiny", 10, 1)
    assert loaded.recipe == model.recipe
    assert torch.equal(loaded.sample(300, generator=torch.Generator().manual_seed(2)), samples)
    assert not torch.equal(loaded.sample(300, generator=torch.Generator().manual_seed(3)), samples)
    assert checkpoints.load(path)["extra"]["kind"] == "gan2d"


def test_snapshots_record_in_data_units(tiny_recipe):
    model = models.TrainedGAN(tiny_recipe)
    snaps = model.snapshots(every=5, n=50, resolution=8)
    model.fit(steps=10, callbacks=[snaps], progress=False)
    assert [r["step"] for r in model.history.snapshots] == [5, 10]
    last = model.history.snapshots[-1]
    assert last["samples"].shape == (50, 2) and last["d_logits"].shape == (64,)
    torch.testing.assert_close(last["samples"], model.to_data(model.G(snaps.z)).detach())


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_sample_bad_n_message(tiny_recipe, n):
    with pytest.raises(ValueError, match=re.escape(f"n must be a positive whole number (got {n!r})")):
        models.TrainedGAN(tiny_recipe).sample(n)


def test_load_model_of_an_unusable_config_message(tmp_path, tiny_recipe):
    model = models.TrainedGAN(tiny_recipe)
    path = tmp_path / "broken.pt"
    save_checkpoint(str(path), model="tiny", config={"mixture": "ring8"}, G=model.G, D=model.D, step=0)
    with pytest.raises(checkpoints.CheckpointError, match=re.escape(f"{path} does not hold a usable course model (KeyError: ")):
        models.load_model(str(path))


def test_load_model_with_mismatched_weights_message(tmp_path, tiny_recipe):
    model = models.TrainedGAN(tiny_recipe)
    path = tmp_path / "mismatch.pt"
    big = models.get_recipe("gan-ring8")  # 128-unit networks, while the weights are 16-unit
    save_checkpoint(str(path), model="tiny", config=big.to_dict(), G=model.G, D=model.D, step=0)
    with pytest.raises(checkpoints.CheckpointError, match=re.escape(f"{path} does not hold a usable course model (RuntimeError: ")):
        models.load_model(str(path))


# ------------------------------------------------------------------------------------ digits


def tiny_digits(name: str, seed: int = 0) -> models.TrainedDigitsGAN:
    model = models.build(name, seed=seed)
    assert isinstance(model, models.TrainedDigitsGAN)
    return model


def test_digit_recipes_differ_only_in_the_label():
    dc, cg = models.get_recipe("dcgan-digits"), models.get_recipe("cgan-digits")
    assert dc.generator.num_classes == dc.discriminator.num_classes == 0
    assert cg.generator.num_classes == cg.discriminator.num_classes == 10
    assert dc.train == cg.train


@pytest.mark.parametrize("name", ["dcgan-digits", "cgan-digits"])
def test_digits_fit_save_load_round_trip(name, tmp_path):
    model = tiny_digits(name)
    model.fit(steps=6, progress=False)
    path = tmp_path / "m.pt"
    model.save(str(path))
    again = models.load_model(str(path))
    assert isinstance(again, models.TrainedDigitsGAN) and again.step == 6 and again.name == name
    a = model.sample(30, generator=torch.Generator().manual_seed(2))
    b = again.sample(30, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and a.shape == (30, 1, 8, 8) and a.dtype == torch.float32
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    # training continues from the checkpoint exactly as without the interruption
    model.fit(steps=9, progress=False)
    again.fit(steps=9, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(model.G.state_dict().values(), again.G.state_dict().values()))


def test_digits_real_batches_carry_labels_only_when_conditional():
    g = torch.Generator().manual_seed(0)
    assert isinstance(tiny_digits("dcgan-digits").sample_real(8, g), torch.Tensor)
    x, y = tiny_digits("cgan-digits").sample_real(8, g)
    assert x.shape == (8, 1, 8, 8) and y.shape == (8,)


def test_conditional_sample_labels():
    model = tiny_digits("cgan-digits")
    assert torch.equal(model.check_labels(None, 12), torch.arange(12) % 10)  # every class in turn
    assert torch.equal(model.check_labels(7, 3), torch.tensor([7, 7, 7]))
    assert model.sample(5, labels=torch.tensor([0, 1, 2, 3, 4])).shape == (5, 1, 8, 8)
    with pytest.raises(ValueError, match=re.escape("labels must lie in 0..9 (got 10..10)")):
        model.sample(3, labels=10)
    with pytest.raises(ValueError, match=re.escape("labels must be 4 whole numbers, or one for all (got shape (3,))")):
        model.sample(4, labels=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=re.escape("model dcgan-digits is not conditional: it takes no labels")):
        tiny_digits("dcgan-digits").sample(3, labels=1)


def test_digit_snapshots_hold_fixed_noise_and_labels():
    model = tiny_digits("cgan-digits")
    snaps = model.snapshots(every=2, n=20)
    assert torch.equal(snaps.labels, torch.arange(20) % 10)
    model.fit(steps=4, callbacks=[snaps], progress=False)
    assert [r["step"] for r in snaps.records] == [2, 4]
    assert snaps.records[0]["samples"].shape == (20, 1, 8, 8)


# ---------------------------------------------------------------------------- VAEs


def test_vae_recipes_differ_only_in_the_label():
    v, c = models.get_recipe("vae-digits"), models.get_recipe("cvae-digits")
    assert v.vae.num_classes == 0 and c.vae.num_classes == 10
    assert v.train == c.train and v.vae.latent_dim == c.vae.latent_dim


@pytest.mark.parametrize("name", ["vae-digits", "cvae-digits"])
def test_vae_fit_save_load_round_trip(name, tmp_path):
    model = models.build(name, seed=3)
    assert isinstance(model, models.TrainedVAE) and model.conditional == (name == "cvae-digits")
    model.fit(steps=6, progress=False)
    path = tmp_path / "m.pt"
    model.save(str(path))
    again = models.load_model(str(path))
    assert isinstance(again, models.TrainedVAE) and again.step == 6 and again.name == name and again.seed == 3
    a = model.sample(30, generator=torch.Generator().manual_seed(2))
    b = again.sample(30, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and a.shape == (30, 1, 8, 8) and a.dtype == torch.float32
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    # training continues from the checkpoint exactly as without the interruption
    model.fit(steps=9, progress=False)
    again.fit(steps=9, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(model.vae.state_dict().values(), again.vae.state_dict().values()))
    assert model.history.loss[-3:] == again.history.loss[-3:]


def test_vae_model_evaluates_on_the_held_out_split_and_draws_labels():
    model = models.build("cvae-digits")
    report = model.evaluate(draws=1, k=2)
    assert report.n_images == data.load_digits().x_test.shape[0] == 300
    assert torch.equal(model.check_labels(None, 12), torch.arange(12) % 10)
    with pytest.raises(ValueError, match=re.escape("labels must lie in 0..9 (got 10..10)")):
        model.sample(3, labels=10)
    with pytest.raises(ValueError, match=re.escape("model vae-digits is not conditional: it takes no labels")):
        models.build("vae-digits").sample(3, labels=1)
    snaps = model.snapshots(every=2, n=20)
    model.fit(steps=4, callbacks=[snaps], progress=False)
    assert [r["step"] for r in snaps.records] == [2, 4] and torch.equal(snaps.labels, torch.arange(20) % 10)
    assert model.G(torch.zeros(2, 4), torch.tensor([1, 2])).shape == (2, 1, 8, 8)  # the decoder as a generator


def test_charlm_fit_sample_save_load_round_trip(tmp_path):
    model = models.build("charlm-names", seed=3)
    assert isinstance(model, models.TrainedCharLM) and model.num_classes == 8
    model.fit(steps=20, progress=False)
    assert model.step == 20 and len(model.history.heldout_nll) == 1
    path = tmp_path / "names.pt"
    model.save(str(path))
    again = models.load_model(str(path))
    assert isinstance(again, models.TrainedCharLM) and again.step == 20 and again.seed == 3
    assert again.recipe.to_dict() == model.recipe.to_dict()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert again.sample(10, g(), "tr_TR") == model.sample(10, g(), "tr_TR")
    assert model.sample(10, g(), None) == model.sample(10, g(), [k % 8 for k in range(10)])


def test_charlm_labels_speak_plainly():
    model = models.build("charlm-names")
    with pytest.raises(ValueError, match="unknown language 'fr_FR': choose one of en_US"):
        model.sample(3, labels="fr_FR")
    with pytest.raises(ValueError, match="got 2 languages for 3 names"):
        model.sample(3, labels=["de_DE", "el_GR"])
    with pytest.raises(ValueError, match="n must be a positive whole number"):
        model.sample(0)
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        model.sample(3, temperature=0.0)


def test_charlm_report_judges_samples_against_real_names():
    model = models.build("charlm-names")
    report = model.evaluate(per_language=10)
    assert report.samples == 80 and 0.0 <= report.novelty <= 1.0
    assert report.bigram_nll == pytest.approx(2.50, abs=0.01)  # the yardstick: counts of pairs per language
    assert report.below_bigram < 0  # untrained: worse than counting
    assert 0.4 < report.judge_ceiling < 0.7  # the same judge on real names it never saw
    assert report.heldout_nll == pytest.approx(math.log(len(model.data.vocab)), abs=0.5)  # untrained: about uniform


@pytest.mark.parametrize("name", ["ddpm-grid25", "ddpm-digits"])
def test_ddpm_fit_save_load_round_trip_and_exact_resume(name, tmp_path):
    model = models.build(name, seed=3)
    assert isinstance(model, models.TrainedDDPM) and model.conditional == (name == "ddpm-digits")
    model.fit(steps=4, progress=False)
    path = tmp_path / "m.pt"
    model.save(str(path))
    again = models.load_model(str(path))
    assert isinstance(again, models.TrainedDDPM) and again.step == 4 and again.name == name and again.seed == 3
    a = model.sample(8, generator=torch.Generator().manual_seed(2), steps=5)
    b = again.sample(8, generator=torch.Generator().manual_seed(2), steps=5)
    assert torch.equal(a, b)
    # training continues from the checkpoint exactly as without the interruption (weights, EMA, batches)
    model.fit(steps=7, progress=False)
    again.fit(steps=7, progress=False)
    for net in ("ddpm", "ema"):
        assert all(torch.equal(p, q) for p, q in zip(getattr(model, net).state_dict().values(), getattr(again, net).state_dict().values()))
    assert model.history.loss[-3:] == again.history.loss[-3:]


def test_ddpm_samples_are_in_data_units():
    points = models.build("ddpm-grid25")
    x = torch.tensor([[4.0, -2.0]])
    assert torch.allclose(points.to_data(points.from_data(x)), x)
    assert abs(points.scale - 4.0) < 0.01  # grid25's modes at -4..4: unit spread in the network's units
    train_x, train_y = points.training_data()
    assert train_x.shape == (100_000, 2) and train_y is None and abs(float(train_x.pow(2).sum(1).mean()) - 1) < 0.02
    digits = models.build("ddpm-digits")
    train_x, train_y = digits.training_data()
    assert float(train_x.min()) == -1.0 and float(train_x.max()) == 1.0 and train_y is not None
    s = digits.sample(4, steps=3, generator=torch.Generator().manual_seed(0))
    assert s.shape == (4, 1, 8, 8) and float(s.min()) >= 0 and float(s.max()) <= 1
    with pytest.raises(ValueError, match=re.escape("labels must lie in 0..9 (got 10..10)")):
        digits.sample(3, labels=10)
    with pytest.raises(ValueError, match=re.escape("model ddpm-grid25 is not conditional: it takes no labels")):
        points.sample(3, labels=1)


def test_ddpm_sample_defaults_come_from_the_recipe():
    model = models.build("ddpm-digits")
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    r = model.recipe
    assert torch.equal(model.sample(4, g(), labels=2), model.sample(4, g(), labels=2, guidance=r.guidance, sampler=r.sampler, steps=r.sampler_steps))
    assert torch.equal(model.sample(4, g()), model.sample(4, g(), guidance=0.0, sampler=r.sampler, steps=r.sampler_steps))
    traj = diffusion.Trajectory()
    model.sample(2, g(), labels=1, sampler="ddim", steps=4, trajectory=traj)
    assert traj.steps[0] == model.schedule.T - 1 and traj.steps[-1] == -1 and len(traj.x) == 5
