"""genai_course.models.diffusion: the DDPMs' build/fit/sample/save/load round trip and sampling defaults."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch

from genai_course import diffusion, models


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


@pytest.mark.parametrize("data, net, message", [
    ("digits", "points", "a digits recipe needs DDPMConfig(data='digits')"),
    ("ring8", "digits", "a ring8 recipe needs DDPMConfig(data='points')"),
])
def test_a_recipe_whose_data_and_network_disagree_message(data, net, message):
    recipe = models.get_recipe("ddpm-ring8")
    recipe = dataclasses.replace(recipe, data=data, ddpm=dataclasses.replace(recipe.ddpm, data=net))
    with pytest.raises(ValueError, match=re.escape(message)):
        models.TrainedDDPM(recipe)
