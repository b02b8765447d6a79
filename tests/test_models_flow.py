"""models.flow: lesson 16's registry models: recipes, a reflow run that records its teacher, a latent
run that carries its VAE, checkpoints, and what each refuses."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genai_course import flow, models
from genai_course.utils import same, weights_sha256


def short(name: str, steps: int, **changes) -> models.TrainedFlow:
    recipe = models.get_recipe(name)
    recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, steps=steps), **changes)
    return models.TrainedFlow(recipe, name=name, seed=0)


def test_the_three_models_are_in_the_registry_with_their_samplers():
    for name, data, method, steps in [("flow-grid25", "grid25", "midpoint", 50), ("rectified-grid25", "grid25", "midpoint", 2),
                                      ("latent-flow-digits", "digits", "euler", 10)]:
        recipe = models.get_recipe(name)
        assert (recipe.data, recipe.method, recipe.steps) == (data, method, steps)
        assert models.get_class(name) is models.TrainedFlow and not models.get_class(name).resumable
        assert models.FlowRecipe.from_dict(recipe.to_dict()) == recipe
    rect = models.get_recipe("rectified-grid25")
    assert rect.teacher == "flow-grid25" and rect.teacher_recipe == models.get_recipe("flow-grid25").to_dict()
    assert rect.flow == models.get_recipe("flow-grid25").flow  # the same network: reflow starts from the teacher's weights
    latent = models.get_recipe("latent-flow-digits")
    assert latent.vae == "vae-digits" and latent.vae_recipe["vae"] == dataclasses.asdict(models.get_recipe("vae-digits").vae)


@pytest.fixture(scope="module")
def teacher() -> models.TrainedFlow:
    model = models.build("flow-grid25")
    model.fit(steps=40, progress=False)
    return model


def test_a_reflow_run_learns_pairs_drawn_by_its_teacher_and_says_so_in_its_checkpoint(teacher, tmp_path):
    rect = short("rectified-grid25", 20, pairs=300)
    rect.use_teacher(teacher)
    assert rect.recipe.teacher_recipe == teacher.recipe.to_dict()  # the run it really reflowed (40 steps here)
    rect.fit(progress=False)
    record = rect.teacher_record
    assert record["name"] == "flow-grid25" and record["weights_sha256"] == weights_sha256(teacher.ema)
    assert (record["steps"], record["method"]) == (16, "midpoint")
    # the pairs are the teacher's samples from their noise, in model units
    assert same(teacher.ema.sample(300, steps=16, method="midpoint", noise=rect.pairs.x0), rect.pairs.x1)
    path = tmp_path / "rect.pt"
    rect.save(str(path))
    loaded = models.load_model(str(path))
    assert loaded.teacher_record == record
    assert torch.equal(loaded.pairs.x0, rect.pairs.x0) and torch.equal(loaded.pairs.x1, rect.pairs.x1)  # kept, to show and check
    assert loaded.pairs.source["weights_sha256"] == record["weights_sha256"]
    g = lambda: torch.Generator().manual_seed(0)
    assert torch.equal(loaded.sample(100, g()), rect.sample(100, g()))
    assert loaded.sample(100, g()).shape == (100, 2)


def test_a_reflow_run_starts_from_its_teachers_weights(teacher):
    rect = short("rectified-grid25", 1, pairs=64)
    rect.use_teacher(teacher)
    rect.recipe.train = dataclasses.replace(rect.recipe.train, lr=0.0)  # no learning: the teacher's network itself
    rect.fit(progress=False)
    assert weights_sha256(rect.flow) == weights_sha256(teacher.ema)


def test_a_reflow_run_refuses_another_teacher(teacher):
    rect = models.build("rectified-grid25")
    with pytest.raises(ValueError, match=r"rectified-grid25 reflows a trained flow-grid25 \(the same network, on grid25\); got ddpm-grid25"):
        rect.use_teacher(models.build("ddpm-grid25"))
    other = models.TrainedFlow(dataclasses.replace(models.get_recipe("flow-grid25"), flow=flow.FlowConfig(width=64)), name="flow-grid25")
    with pytest.raises(ValueError, match="reflows a trained flow-grid25"):
        rect.use_teacher(other)
    with pytest.raises(ValueError, match="flow-grid25 is not a reflow run: it learns from no other model"):
        teacher.use_teacher(teacher)
    with pytest.raises(ValueError, match="flow-grid25 learns 2D points, not a VAE's latents"):
        teacher.use_vae(models.build("vae-digits"))


def test_a_latent_run_learns_its_vaes_latents_and_decodes_digits_of_the_label_asked(tmp_path):
    vae = models.build("vae-digits")
    vae.fit(steps=30, progress=False)
    lat = short("latent-flow-digits", 20)
    lat.use_vae(vae)
    lat.fit(progress=False)
    assert weights_sha256(lat.vae) == weights_sha256(vae.vae)  # the checkpoint carries the decoder it samples through
    z, y = lat.training_data()
    assert z.shape == (1497, 4) and same(z.mean(0), torch.zeros(4), tol=1e-4) and same(z.std(0), torch.ones(4), tol=1e-4)
    assert torch.equal(y, lat.digits.y_train)
    x = lat.sample(20, torch.Generator().manual_seed(0), labels=3)
    assert x.shape == (20, 1, 8, 8) and float(x.min()) >= 0 and float(x.max()) <= 1
    lat.ema.calls = 0
    lat.sample(20, torch.Generator().manual_seed(0))  # every class in turn, guided: 10 Euler steps, 10 calls
    assert lat.ema.calls == 10
    path = tmp_path / "lat.pt"
    lat.save(str(path))
    loaded = models.load_model(str(path))
    assert torch.equal(loaded.sample(20, torch.Generator().manual_seed(0), labels=3), x)
    with pytest.raises(ValueError, match=r"latent-flow-digits learns in the latents of a trained vae-digits \(4 latents, unconditional\); got cvae-digits"):
        lat.use_vae(models.build("cvae-digits"))


def test_sampling_options_are_checked():
    model = models.build("flow-grid25")
    with pytest.raises(ValueError, match=r"method must be 'euler' or 'midpoint' \(got 'ddim'\)"):
        model.sample(5, method="ddim")
    with pytest.raises(ValueError, match=r"model flow-grid25 is not conditional: it takes no labels"):
        model.sample(5, labels=1)
    model.ema.calls = 0
    model.sample(5, steps=3, method="euler")
    assert model.ema.calls == 3
    model.sample(5)  # the recipe's: 50 midpoint steps
    assert model.ema.calls == 3 + 100
