"""genai_course.models.vae: the digits VAEs' build/fit/sample/save/load round trip."""

from __future__ import annotations

import re

import pytest
import torch

from genai_course import data, models


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
