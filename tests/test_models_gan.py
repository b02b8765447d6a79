"""genai_course.models.gan: the 2D and digits GANs' build/fit/sample/save/load round trip."""

from __future__ import annotations

import copy
import dataclasses
import math
import re

import pytest
import torch

from genai_course import checkpoints, models


def test_tiny_recipe_dict_round_trip(tiny_recipe):
    assert models.GANRecipe.from_dict(tiny_recipe.to_dict()) == tiny_recipe


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


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_sample_bad_n_message(tiny_recipe, n):
    with pytest.raises(ValueError, match=re.escape(f"n must be a positive whole number (got {n!r})")):
        models.TrainedGAN(tiny_recipe).sample(n)


def test_a_2d_gan_is_unconditional(tiny_recipe):
    model = models.TrainedGAN(tiny_recipe, name="tiny")
    assert model.num_classes == 0 and not model.conditional and model.check_labels(None, 3) is None
    with pytest.raises(ValueError, match=re.escape("model tiny is not conditional: it takes no labels")):
        model.check_labels(1, 3)


# ------------------------------------------------------------------------------------ digits


def tiny_digits(name: str, seed: int = 0) -> models.TrainedDigitsGAN:
    model = models.build(name, seed=seed)
    assert isinstance(model, models.TrainedDigitsGAN)
    return model


def test_digit_recipes_differ_in_the_label_and_the_code():
    dc, cg = models.get_recipe("dcgan-digits"), models.get_recipe("cgan-digits")
    assert dc.generator.num_classes == dc.discriminator.num_classes == 0
    assert cg.generator.num_classes == cg.discriminator.num_classes == 10
    assert (dc.generator.codes, cg.generator.codes) == (10, 0)  # the unconditional model draws a discrete code instead
    # the rest comes from each model's own study (models/gan.py); both keep a moving average of G
    assert dc.train.ema == cg.train.ema == 0.99


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


def _with_ema(name: str, decay: float, seed: int = 0) -> models.TrainedDigitsGAN:
    recipe = models.get_recipe(name)
    recipe.train = dataclasses.replace(recipe.train, ema=decay)
    model = models.build(name, seed=seed, recipe=recipe)
    assert isinstance(model, models.TrainedDigitsGAN)
    return model


def test_without_ema_g_samples_and_no_average_is_kept():
    model = _with_ema("dcgan-digits", 0.0)
    assert model.G_ema is None and model.sampler is model.G and "G_ema" not in model._networks()


@pytest.mark.parametrize("name", ["dcgan-digits", "cgan-digits"])
def test_the_moving_average_follows_g_and_samples(name, tmp_path):
    """After each G update: ema <- d * ema + (1 - d) * G for the weights, G's batch-norm statistics
    copied; samples come from the average; a checkpoint keeps it and training resumes exactly."""
    decay = 0.9
    model = _with_ema(name, decay)
    before = [p.detach().clone() for p in model.G_ema.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, model.G.parameters()))  # it starts as a copy of G
    model.fit(steps=1, stop_at=1, progress=False)
    for e, g, b in zip(model.G_ema.parameters(), model.G.parameters(), before):
        assert torch.allclose(e, decay * b + (1 - decay) * g, atol=1e-7)
        assert not e.requires_grad
    assert all(torch.equal(e, g) for e, g in zip(model.G_ema.buffers(), model.G.buffers()))
    assert not all(torch.equal(e, g) for e, g in zip(model.G_ema.parameters(), model.G.parameters()))
    # samples come from the average, not from G
    z = torch.Generator().manual_seed(3)
    labels = torch.arange(8) % 10 if model.conditional else None
    model.G_ema.eval()
    expected = model.G_ema.sample(8, labels, generator=torch.Generator().manual_seed(3)) if model.conditional else \
        model.G_ema.sample(8, generator=torch.Generator().manual_seed(3))
    assert torch.equal(model.sample(8, z), expected)
    # the checkpoint holds it; training goes on exactly as without the interruption
    model.fit(steps=4, stop_at=2, progress=False)
    path = tmp_path / "m.pt"
    model.save(str(path))
    again = models.load_model(str(path))
    assert again.G_ema is not None
    model.fit(steps=4, progress=False)
    again.fit(steps=4, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(model.G_ema.state_dict().values(), again.G_ema.state_dict().values()))


def test_a_bad_ema_decay_is_refused():
    with pytest.raises(ValueError, match=r"ema must be a decay in \[0, 1\) \(got 1.5\)"):
        _with_ema("dcgan-digits", 1.5).fit(steps=1, progress=False)
