"""The model registry: the course's trained models by name, one file per family.

``genai-course train MODEL`` and the lessons use the same recipes from here, so a lesson's
numbers and the command line's are the same thing. A recipe is a plain dataclass; change a copy
with ``dataclasses.replace`` to experiment.

* ``base``: ``Recipe``, ``TrainedModel`` (what every trained model shares: the opening of
  ``fit``, labels, saving and loading, the run's fingerprint and its pretrained copy) and where pretrained runs live;
* ``gan``, ``vae``, ``text``, ``diffusion``: each family's recipes, with the notes of how they
  were tuned, and its trained model;
* ``registry``: ``MODELS`` (name -> recipe), ``build``, ``train_model``, ``load_model``;
* ``adapted``: a registry model taught one more class or language (lesson 14, ``genai-course
  adapt``), its whole or adapter checkpoint, and the rebuild of an adapter on its base.
"""

from ..gan import History  # the GAN's training record, as lessons and tests have long reached it
from .base import (
    PRETRAINED_ENV, Recipe, TrainedModel, callback_fingerprint, pretrained_file, pretrained_folder,
)
from .adapted import Adapted, adapt_model, save_adapted
from .diffusion import DDPMRecipe, TrainedDDPM
from .flow import FlowRecipe, TrainedFlow
from .gan import DigitsGANRecipe, GANRecipe, TrainedDigitsGAN, TrainedGAN
from .registry import MODELS, build, get_class, get_recipe, load_model, train_model
from .text import CharLMRecipe, CharLMReport, TrainedCharLM
from .vae import TrainedVAE, VAERecipe

__all__ = [
    "Recipe", "TrainedModel",
    "GANRecipe", "DigitsGANRecipe", "VAERecipe", "CharLMRecipe", "DDPMRecipe",
    "TrainedGAN", "TrainedDigitsGAN", "TrainedVAE", "TrainedCharLM", "CharLMReport", "TrainedDDPM", "TrainedFlow", "FlowRecipe", "History",
    "MODELS", "get_recipe", "get_class", "build", "train_model", "load_model",
    "PRETRAINED_ENV", "pretrained_folder", "pretrained_file", "callback_fingerprint",
    "Adapted", "adapt_model", "save_adapted",
]
