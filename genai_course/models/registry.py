"""The course's trained models by name: ``MODELS`` (name -> recipe), and how to build, train and
load one. ``genai-course train MODEL`` and the lessons use the same recipes from here, so a
lesson's numbers and the command line's are the same thing."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable

from .. import checkpoints
from ..loop import Plan
from . import adapted, diffusion, flow, vae
from . import gan as gans
from .base import Recipe, TrainedModel
from .diffusion import TrainedDDPM
from .flow import TrainedFlow
from .gan import TrainedDigitsGAN, TrainedGAN
from .text import CharLMRecipe, TrainedCharLM
from .vae import TrainedVAE

__all__ = ["MODELS", "get_recipe", "get_class", "build", "train_model", "load_model"]

MODELS: dict[str, Callable[[], Recipe]] = {
    # The ring's modes are half as wide relative to their spacing as the grid's; a smaller
    # learning rate keeps them sharp on every seed (at 3e-3, one seed in three ended at 86-88%).
    "gan-ring8": lambda: gans.points_recipe("ring8", lr_g=2e-3, lr_d=2e-3),
    "gan-grid25": lambda: gans.points_recipe("grid25"),
    # issue 24's studies chose the widths and training settings (models/gan.py, docs/tuning.md)
    "dcgan-digits": lambda: gans.digits_recipe(0, codes=10, g_channels=48, d_channels=32, **gans.DCGAN_DIGITS),
    "cgan-digits": lambda: gans.digits_recipe(10, g_channels=48, d_channels=64, **gans.CGAN_DIGITS),
    "vae-digits": lambda: vae.digits_recipe(0),
    "cvae-digits": lambda: vae.digits_recipe(10),
    # lesson 14's base: a cVAE that has never seen a 9, as long as lesson 08's cVAE run (2,400 steps)
    "digits-0to8": lambda: vae.digits_recipe(9, steps=2400),
    "charlm-names": CharLMRecipe,
    "ddpm-ring8": lambda: diffusion.points_recipe("ring8"),
    "ddpm-grid25": lambda: diffusion.points_recipe("grid25"),
    "ddpm-digits": diffusion.digits_recipe,
    # lesson 16: flow matching, its reflow, and flow matching in vae-digits' latent space
    "flow-grid25": lambda: flow.points_recipe("grid25"),
    "rectified-grid25": lambda: flow.rectified_recipe("grid25"),
    "latent-flow-digits": flow.latent_digits_recipe,
}

_TRAINED: tuple[type[TrainedModel], ...] = (TrainedGAN, TrainedDigitsGAN, TrainedVAE, TrainedCharLM, TrainedDDPM, TrainedFlow)
_BY_KIND = {cls.kind: cls for cls in _TRAINED}  # what a checkpoint's extra["kind"] rebuilds
_BY_RECIPE = {cls.recipe_type: cls for cls in _TRAINED}  # what a recipe builds


def get_recipe(name: str) -> Recipe:
    """A fresh copy of the named model's recipe (lesson defaults)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name]()


def get_class(name: str) -> type[TrainedModel]:
    """The class of trained model the named recipe builds (e.g. to ask whether it is ``resumable``)."""
    return _BY_RECIPE[type(get_recipe(name))]


def build(name: str, seed: int = 0, device: Any = None, recipe: Recipe | None = None) -> TrainedModel:
    """An untrained model with the named recipe and seed, on ``device`` (see ``utils.get_device``);
    ``recipe``: another recipe of the same kind to build instead (e.g. a trial of ``genai-course tune``)."""
    if recipe is not None and type(recipe) is not type(get_recipe(name)):
        raise ValueError(f"{name} is built from a {type(get_recipe(name)).__name__}, not a {type(recipe).__name__}")
    recipe = get_recipe(name) if recipe is None else recipe
    recipe.train = dataclasses.replace(recipe.train, seed=seed)  # type: ignore[attr-defined]
    return _BY_RECIPE[type(recipe)](recipe, name=name, seed=seed, device=device)


def train_model(
    name: str, *, steps: int | None = None, seed: int = 0, progress: bool = True, callbacks: Iterable[Any] = (),
    device: Any = None, plan: Plan | None = None, pretrained: Any = False,
) -> TrainedModel:
    """Train the named model with its lesson defaults (``steps`` overrides the length; ``device``
    and ``plan``: where and how, see ``utils.get_device`` and ``loop.Plan``; ``pretrained``: True
    or a folder loads the run from ``genai-course pretrain``'s checkpoints when there, see ``TrainedModel.fit``)."""
    model = build(name, seed=seed, device=device)
    model.fit(steps=steps, callbacks=callbacks, progress=progress, plan=plan, pretrained=pretrained)
    return model


def load_model(path: str, device: Any = None, base: str | None = None, contents: dict[str, Any] | None = None) -> TrainedModel:
    """Rebuild a trained model from its checkpoint (read with ``weights_only=True``) on ``device``.

    An adapter checkpoint (``genai-course adapt`` with lora or embedding) is rebuilt on its base
    checkpoint: ``base`` if given, else the one it records (``adapted.find_base``, which refuses a
    base of another sha256), grown, given the adapter's tensors and merged (``adapted.apply_adapter``)."""
    ckpt = checkpoints.load_run(path, contents)  # contents: an encrypted checkpoint, decrypted in memory
    if adapted.is_adapter(ckpt):
        base_path = adapted.find_base(path, ckpt, base)
        return adapted.apply_adapter(load_model(str(base_path), device=device), ckpt, path, base_path)
    if base is not None:
        raise checkpoints.CheckpointError(f"{path} holds a whole model ({ckpt['model']}), not an adapter: it takes no base checkpoint")
    try:
        cls = _BY_KIND[ckpt["extra"].get("kind", "gan2d")]
        recipe = cls.recipe_type.from_dict(ckpt["config"])
        model = cls(recipe, name=ckpt["model"], seed=int(ckpt["extra"].get("seed", 0)), device=device)
        model.load_state(ckpt)
        model.history.seconds = float(ckpt["extra"].get("seconds", 0.0))  # how long its training took (speed)
        made = ckpt["extra"].get("adapted")  # a finetune or replay checkpoint of `genai-course adapt`: its base, for provenance
        if isinstance(made, dict) and isinstance(made.get("base"), dict):
            adapted.restore_data(model, made)
            adapted.set_adapted_from(model, {"method": made.get("method"), "model": made["base"].get("model"),
                                             "sha256": made["base"].get("sha256"), "checkpoint": made["base"].get("path")})
    except (KeyError, TypeError, RuntimeError, ValueError) as e:
        raise checkpoints.CheckpointError(f"{path} does not hold a usable course model ({type(e).__name__}: {str(e).splitlines()[0][:160]})") from None
    return model
