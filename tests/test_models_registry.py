"""genai_course.models.registry: the names, their recipes, build and load_model."""

from __future__ import annotations

import re

import pytest
import torch

from genai_course import checkpoints, models


def test_registry_names():
    assert list(models.MODELS) == [
        "gan-ring8", "gan-grid25", "dcgan-digits", "cgan-digits", "vae-digits", "cvae-digits", "digits-0to8", "charlm-names",
        "ddpm-ring8", "ddpm-grid25", "ddpm-digits", "flow-grid25", "rectified-grid25", "latent-flow-digits",
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
    elif isinstance(recipe, models.FlowRecipe):
        assert set(as_dict) == {"data", "flow", "train", "method", "steps", "guidance", "teacher", "teacher_recipe", "pairs",
                                "pair_steps", "vae", "vae_recipe"}
    else:
        assert set(as_dict) == {"mixture", "generator", "discriminator", "train", "normalize"}
    assert type(recipe).from_dict(as_dict) == recipe


@pytest.mark.parametrize("name, cls, resumable", [
    ("gan-ring8", models.TrainedGAN, True), ("cgan-digits", models.TrainedDigitsGAN, True), ("vae-digits", models.TrainedVAE, True),
    ("charlm-names", models.TrainedCharLM, False), ("ddpm-digits", models.TrainedDDPM, True),
    ("rectified-grid25", models.TrainedFlow, False),
])
def test_each_name_builds_its_family(name, cls, resumable):
    assert models.get_class(name) is cls and cls.resumable is resumable
    model = models.build(name)
    assert type(model) is cls and isinstance(model, models.TrainedModel) and model.recipe_type is type(model.recipe)


def test_build_seeds_weights_and_training_noise():
    a, b, c = models.build("gan-ring8", seed=4), models.build("gan-ring8", seed=4), models.build("gan-ring8", seed=5)
    assert a.recipe.train.seed == 4 and a.seed == 4 and a.name == "gan-ring8"
    assert all(torch.equal(p, q) for p, q in zip(a.G.parameters(), b.G.parameters()))
    assert not torch.equal(a.G.net[0].weight, c.G.net[0].weight)


def test_load_model_of_an_unusable_config_message(tmp_path, tiny_recipe):
    model = models.TrainedGAN(tiny_recipe)
    path = tmp_path / "broken.pt"
    checkpoints.save(path, checkpoints.payload("tiny", {"mixture": "ring8"}, 0, {"G": model.G.state_dict(), "D": model.D.state_dict()}))
    with pytest.raises(checkpoints.CheckpointError, match=re.escape(f"{path} does not hold a usable course model (KeyError: ")):
        models.load_model(str(path))


def test_load_model_with_mismatched_weights_message(tmp_path, tiny_recipe):
    model = models.TrainedGAN(tiny_recipe)
    path = tmp_path / "mismatch.pt"
    big = models.get_recipe("gan-ring8")  # 128-unit networks, while the weights are 16-unit
    checkpoints.save(path, checkpoints.payload("tiny", big.to_dict(), 0, {"G": model.G.state_dict(), "D": model.D.state_dict()}))
    with pytest.raises(checkpoints.CheckpointError, match=re.escape(f"{path} does not hold a usable course model (RuntimeError: ")):
        models.load_model(str(path))


def test_load_model_of_an_unknown_kind_message(tmp_path, tiny_recipe):
    path = tmp_path / "odd.pt"
    checkpoints.save(path, checkpoints.payload("odd", tiny_recipe.to_dict(), 0, {}, extra={"kind": "flow"}))
    with pytest.raises(checkpoints.CheckpointError, match=re.escape(f"{path} does not hold a usable course model (KeyError: 'flow')")):
        models.load_model(str(path))
