"""What ``genai-course tune`` may change in each model's recipe, and how a trial is scored.

A ``Space`` names the recipe fields a search may set (``Param``: a dotted path into the recipe,
e.g. ``train.lr``, and its range), and the model's *validation score* (lower is better). Scores
never touch the data the course judges models on: a trial trains on the training split less a
validation part (``data.validation_digits``, ``text.validation_names``) and is scored on that
part (``Space.score``).

* vae-digits: -ELBO of the 300 validation digits, nats per image;
* charlm-names: NLL of the validation names, nats per character;
* dcgan-digits: the Fréchet distance of the digit judge's features between 1,000 samples and
  the validation digits;
* cgan-digits: the share of 1,000 samples (every class in turn) that the digit judge puts in
  another class than the one asked for (its target is label accuracy; the feature distance
  ranks its samples above real digits, see docs/tuning.md, so it is not what a search should chase);
* ddpm-digits: the share of 500 label-free samples (its harder branch; DDIM, 50 steps) that the
  judge is not sure of (its target is the confident fraction).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch

from .. import data, metrics, models
from .. import text as textlib
from ..models.base import Recipe, TrainedModel

__all__ = ["Param", "Space", "SPACES", "check_space", "get_space", "with_params", "flatten", "use_validation"]


@dataclass(frozen=True)
class Param:
    """One recipe field a search may set: ``path`` into the recipe (``train.lr``), and either a
    range (``low``..``high``, on a log scale if ``log``; whole numbers in steps of ``step`` if it
    is an int) or a list of ``choices``."""

    path: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: int | None = None
    choices: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.choices:
            return
        if self.low is None or self.high is None or not self.low < self.high:
            raise ValueError(f"{self.path}: give choices=(...) or a range with low < high (got low={self.low!r}, high={self.high!r})")
        if self.log and self.low <= 0:
            raise ValueError(f"{self.path}: a log-scale range must start above 0 (got low={self.low!r})")

    def suggest(self, trial: Any) -> Any:
        """The value the Optuna ``trial`` draws for this field."""
        if self.choices:
            return trial.suggest_categorical(self.path, list(self.choices))
        if self.step is not None:
            return trial.suggest_int(self.path, int(self.low), int(self.high), step=self.step)  # type: ignore[arg-type]
        return trial.suggest_float(self.path, float(self.low), float(self.high), log=self.log)  # type: ignore[arg-type]

    def describe(self) -> str:
        if self.choices:
            return f"{self.path} in {{{', '.join(map(str, self.choices))}}}"
        scale = ", log scale" if self.log else (f", steps of {self.step}" if self.step else "")
        return f"{self.path} in [{self.low:g}, {self.high:g}]{scale}"


@dataclass(frozen=True)
class Space:
    """A model's search: the fields it may set, its validation score and how often it is reported."""

    model: str
    params: tuple[Param, ...]
    metric: str  # what the score is, in words (for tables)
    score: Callable[[TrainedModel], float]  # lower is better
    reports: int = 4  # the score is reported (and the trial may be pruned) after each of this many equal parts


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested dict (a recipe's ``to_dict``) as {dotted path: value}."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def with_params(recipe: Recipe, params: dict[str, Any]) -> Recipe:
    """A copy of ``recipe`` with each dotted path of ``params`` set (``{"train.lr": 3e-3}``)."""

    def replace(obj: Any, path: list[str], value: Any, key: str) -> Any:
        if not dataclasses.is_dataclass(obj) or not hasattr(obj, path[0]):
            raise ValueError(f"the recipe has no field {key!r}")
        if len(path) == 1:
            return dataclasses.replace(obj, **{path[0]: value})  # type: ignore[type-var]
        return dataclasses.replace(obj, **{path[0]: replace(getattr(obj, path[0]), path[1:], value, key)})  # type: ignore[type-var]

    out: Any = recipe
    for key, value in params.items():
        out = replace(out, key.split("."), value, key)
    return out  # type: ignore[no-any-return]


def use_validation(model: TrainedModel) -> None:
    """Make an untrained model learn from the training split less its validation part, which its
    held-out data (``digits.x_test`` or ``data.heldout``) then is."""
    if hasattr(model, "digits"):
        model.digits = data.validation_digits()  # type: ignore[attr-defined]
    elif hasattr(model, "data") and isinstance(model.data, textlib.NamesData):  # type: ignore[attr-defined]
        model.data = textlib.validation_names(model.data)  # type: ignore[attr-defined]
    else:
        raise ValueError(f"{model.name} has no validation split to tune on")


# ----------------------------------------------------------------------------- the scores
def _vae_score(model: Any) -> float:
    """-ELBO of the validation digits (5 draws of z each)."""
    return float(model.evaluate(draws=5, k=1).neg_elbo)


def _names_score(model: Any) -> float:
    """NLL per character of the validation names."""
    split = model.data.heldout
    return textlib.nll_per_char(model.model, *split.tensors(model.data.vocab), split.labels.to(model.device))


@torch.no_grad()
def _feature_distance(samples: torch.Tensor, model: Any) -> float:
    judge = metrics.digit_classifier()
    return metrics.frechet_distance(judge.features(samples.float().cpu()), judge.features(model.digits.x_test))


def _gan_score(model: Any) -> float:
    """Feature distance of 1,000 samples (every class in turn, if conditional) to the validation digits."""
    return _feature_distance(model.sample(1000, torch.Generator().manual_seed(0)), model)


def _label_error(model: Any) -> float:
    """Share of 1,000 samples (every class in turn) the digit judge does not put in the class asked for."""
    labels = torch.arange(1000) % 10
    x = model.sample(1000, torch.Generator().manual_seed(0), labels=labels)
    return 1.0 - float(metrics.digit_metrics(x, labels).label_accuracy)  # type: ignore[arg-type]


def _ddpm_score(model: Any) -> float:
    """Share of 500 label-free samples (DDIM, 50 steps) the digit judge is not sure of (probability <= 0.9)."""
    x = model.sample(500, torch.Generator().manual_seed(0), sampler="ddim", steps=50)
    return 1.0 - metrics.digit_metrics(x).confident


_GAN_PARAMS = (
    Param("train.lr_g", 5e-4, 5e-3, log=True),
    Param("train.lr_d", 5e-4, 5e-3, log=True),
    Param("train.r1_gamma", 0.1, 10.0, log=True),
    Param("train.steps", 2000, 5000, step=250),
    Param("train.batch_size", choices=(32, 64, 128)),
    Param("generator.channels", choices=(32, 48, 64)),
    Param("discriminator.channels", choices=(32, 64, 96)),
    Param("train.ema", choices=(0.0, 0.99, 0.999)),
)

SPACES: dict[str, Space] = {
    "vae-digits": Space("vae-digits", (
        Param("train.lr", 1e-3, 1e-2, log=True),
        Param("train.steps", 6000, 16000, step=400),
        Param("train.batch_size", choices=(64, 128, 256)),
        Param("train.input_noise", 0.0, 0.4),
        Param("vae.latent_dim", 2, 16, step=1),
        Param("vae.hidden", choices=(128, 256, 384, 512)),
    ), "validation -ELBO (nats per image)", _vae_score),
    "charlm-names": Space("charlm-names", (
        Param("train.lr", 1e-3, 1e-2, log=True),
        Param("train.steps", 2000, 8000, step=500),
        Param("train.weight_decay", 1e-3, 0.1, log=True),
        Param("model.hidden", choices=(128, 192, 256, 320)),
        Param("model.embed", choices=(32, 48, 64)),
        Param("model.dropout", 0.1, 0.5),
        Param("model.layers", choices=(1, 2)),
    ), "validation NLL (nats per character)", _names_score),
    "dcgan-digits": Space("dcgan-digits", _GAN_PARAMS, "feature distance to validation digits", _gan_score),
    "cgan-digits": Space("cgan-digits", _GAN_PARAMS, "label error (share of samples judged another class)", _label_error),
    "ddpm-digits": Space("ddpm-digits", (
        Param("train.lr", 5e-4, 5e-3, log=True),
        Param("train.steps", 1500, 3000, step=250),
        Param("train.batch_size", choices=(32, 64, 128)),
        Param("ddpm.channels", choices=(24, 32, 40)),
        Param("train.ema", choices=(0.99, 0.995, 0.999)),
        Param("train.p_uncond", 0.3, 0.8),
    ), "share of label-free samples not confidently a digit (DDIM-50)", _ddpm_score, reports=2),
}


def check_space(space: Space) -> None:
    """Refuse a space that names a field its model's recipe does not have (a misspelt path)."""
    fields = flatten(models.get_recipe(space.model).to_dict())
    unknown = [p.path for p in space.params if p.path not in fields]
    if unknown:
        raise ValueError(f"the {space.model} recipe has no field {', '.join(map(repr, unknown))}: "
                         f"its fields are {', '.join(fields)}")


def get_space(name: str) -> Space:
    """The search space of a model that can be tuned."""
    if name not in SPACES:
        known = ", ".join(SPACES)
        extra = " (the other models are not searched)" if name in models.MODELS else ""
        raise ValueError(f"cannot tune {name!r}{extra}: choose one of {known}")
    return SPACES[name]
