"""The model registry: the course's trained models by name.

``genai-course train MODEL`` and the lessons use the same recipes from here, so a
lesson's numbers and the command line's are the same thing. A recipe is a plain
dataclass; change a copy with ``dataclasses.replace`` to experiment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from . import checkpoints, data, gan, metrics
from . import diffusion as difflib
from . import text as textlib
from . import vae as vaelib
from .train import (
    History, Plan, Snapshots, TrainConfig, get_device, load_checkpoint, make_grid, make_optimizers, save_checkpoint, train_gan,
)

__all__ = [
    "GANRecipe", "DigitsGANRecipe", "VAERecipe", "CharLMRecipe", "TrainedGAN", "TrainedDigitsGAN", "TrainedVAE",
    "TrainedCharLM", "CharLMReport", "DDPMRecipe", "TrainedDDPM",
    "MODELS", "get_recipe", "get_class", "build", "train_model", "load_model",
    "PRETRAINED_ENV", "pretrained_folder", "pretrained_file", "callback_fingerprint",
]


@dataclass
class GANRecipe:
    """Everything that defines a 2D GAN training run."""

    mixture: str  # 'ring8' or 'grid25'
    generator: gan.GeneratorConfig = field(default_factory=gan.GeneratorConfig)
    discriminator: gan.DiscriminatorConfig = field(default_factory=gan.DiscriminatorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    normalize: bool = True  # train on data / mixture.scale (unit spread); samples are scaled back

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GANRecipe":
        return cls(
            mixture=d["mixture"],
            generator=gan.GeneratorConfig(**d["generator"]),
            discriminator=gan.DiscriminatorConfig(**d["discriminator"]),
            train=TrainConfig(**d["train"]),
            normalize=d["normalize"],
        )


# The lesson-05 cure: non-saturating loss, R1 penalty on D, learning rate decayed to zero.
# Measured on 2 CPU cores: about a minute; a 64-unit step is about 1.5x faster than a 128-unit
# one (5-7 vs 8-9 ms), and in tuning the extra steps put more samples on the modes than width did.
_CURE = TrainConfig(
    loss="nonsaturating",  # strong gradients for G early on
    steps=12000,  # about a minute on 2 CPU cores
    batch_size=256,
    lr_g=3e-3,
    lr_d=3e-3,
    r1_gamma=0.3,  # keeps D smooth at the data, so G is pulled towards every mode
    r1_every=4,  # lazy R1: a quarter of the double-backward cost
    lr_decay="linear",  # large steps to find the modes, tiny ones at the end to sharpen them
)
_SMALL_G = gan.GeneratorConfig(hidden=64)  # 3 hidden layers of 64 units
_SMALL_D = gan.DiscriminatorConfig(hidden=64)


@dataclass
class DigitsGANRecipe:
    """Everything that defines a GAN training run on the 8x8 digits (conditional if num_classes > 0)."""

    generator: gan.ConvGeneratorConfig = field(default_factory=gan.ConvGeneratorConfig)
    discriminator: gan.ConvDiscriminatorConfig = field(default_factory=gan.ConvDiscriminatorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DigitsGANRecipe":
        return cls(
            generator=gan.ConvGeneratorConfig(**d["generator"]),
            discriminator=gan.ConvDiscriminatorConfig(**d["discriminator"]),
            train=TrainConfig(**d["train"]),
        )


# The digits recipe (lessons 06-07): 60-80 s on 2 CPU cores (20-25 ms a step).
# Measured while tuning (judge: metrics.digit_classifier, 1,000 samples; seeds 0-1):
# * DCGAN with a Gaussian z only plateaus at a confident fraction of 0.74-0.80 (Adam beta1 0.5),
#   0.84 with beta1 0, a 16-d z and a D of 64 channels (0.84-0.87 after 5,000 steps). No help:
#   tanh outputs, no batch norm, hinge loss, R1 0.3, upsample+conv, a wider G, translation or
#   cutout augmentation of D's inputs (DiffAugment), EMA of G, lr 3e-3.
# * The gain came from a discrete code in z (gan.ConvGeneratorConfig.codes), scaled to weigh as
#   much as the Gaussian part: 0.89-0.94 after 3,000 steps. (Unscaled 0/1 codes: 0.82-0.84.)
# * The conditional model reaches a label accuracy of 0.95-0.96 after only 1,000 steps.
_DIGITS = TrainConfig(
    loss="nonsaturating",
    steps=3000,
    batch_size=64,  # small batches: more steps in the time; 1,497 training digits in all
    lr_g=2e-3,
    lr_d=2e-3,
    beta1=0.0,  # no momentum (as in StyleGAN2): 0.5 left samples blurrier at the same step count
    beta2=0.99,
    r1_gamma=1.0,  # R1 on real digits keeps D smooth where the data is
    r1_every=4,  # lazy R1
    lr_decay="linear",  # large steps first, small ones to sharpen the strokes
)


@dataclass
class VAERecipe:
    """Everything that defines a VAE training run on the 8x8 digits (conditional if num_classes > 0)."""

    vae: vaelib.VAEConfig = field(default_factory=vaelib.VAEConfig)
    train: vaelib.VAETrainConfig = field(default_factory=vaelib.VAETrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "VAERecipe":
        return cls(vae=vaelib.VAEConfig(**d["vae"]), train=vaelib.VAETrainConfig(**d["train"]))


# The VAE recipe (lesson 08): about 35 s on 2 CPU cores (3.6 ms a step). Measured while tuning
# (held-out -ELBO in nats, 10 draws; seeds 0-2): MLPs of 2 x 256 units plateau at 23.45-23.6
# whatever the latent size (2: 23.9; 3-8: 23.45-23.6; 16: 23.8), with training at about 22.9.
# lr 3e-3 with a cosine decay beat 1e-3 (23.56) and 5e-3 (23.64). No help: dropout, weight
# decay (on both nets or the encoder only), batch norm, ELU, 3 layers, a convolutional decoder,
# EMA of the weights, 4 draws of z per step, binarised inputs, 512 units (23.43-23.69 by seed).
# The IWAE bound is steadier (23.0-23.1) than the ELBO: the seeds differed mostly in how well
# the encoder's q(z | x) fits held-out digits (the amortisation gap), not in the decoder. What
# helped is a denoising encoder (VAETrainConfig.input_noise): Gaussian noise of std 0.2 on the
# encoder's input only, 23.39-23.47 on seeds 0-2 (0.1: 23.43-23.54; 0.3: 23.48 at seed 0).
def _vae(num_classes: int) -> VAERecipe:
    return VAERecipe(vaelib.VAEConfig(num_classes=num_classes), vaelib.VAETrainConfig())


@dataclass
class CharLMRecipe:
    """Everything that defines a character-level model of names, conditioned on the language."""

    model: textlib.CharLMConfig = field(default_factory=textlib.CharLMConfig)
    train: textlib.CharLMTrainConfig = field(default_factory=textlib.CharLMTrainConfig)
    locales: tuple[str, ...] = textlib.LOCALES
    temperature: float = 0.8  # the default for sampling (see the note below)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CharLMRecipe":
        return cls(
            textlib.CharLMConfig(**d["model"]), textlib.CharLMTrainConfig(**d["train"]), tuple(d["locales"]), float(d["temperature"])
        )


# The names model (lesson 09). Measured while tuning (held-out NLL in nats per char; the
# per-language bigram with the best smoothing scores 2.50, so the target is <= 2.12):
# * a GRU beat the MLP (2.13-2.15) and the transformer (2.06-2.09 with names kept in several
#   languages, i.e. about 0.03 behind the GRU) at the same time budget; dropout mattered most
#   (0: the held-out NLL turns up after 1,000 steps; 0.2-0.3 with 192-256 units: best);
# * 192 units, 48-wide embeddings, dropout 0.25, lr 4e-3, 3,000 steps: 2.092-2.101 on seeds
#   0-2; 256 units scored the same at 1.6x the time; 2 layers of 128: 2.035 (names kept);
# * the language judge on 100 names per language: at temperature 1.0 it scores 0.465-0.478
#   against 0.517 on real names (0.039-0.052 below: a miss on some seeds); at 0.8, 0.487-0.496
#   with novelty 0.85-0.87. Hence the default sampling temperature 0.8. Giving the language a
#   starting state or an output bias of its own did not close the gap (within 0.01).


@dataclass
class DDPMRecipe:
    """Everything that defines a diffusion run: the data ("ring8", "grid25" or "digits"), the
    network and schedule, training, and how it samples by default."""

    data: str = "grid25"
    ddpm: difflib.DDPMConfig = field(default_factory=difflib.DDPMConfig)
    train: difflib.DDPMTrainConfig = field(default_factory=difflib.DDPMTrainConfig)
    sampler: str = "ddim"  # the default sampler: "ancestral" (all T steps) or "ddim"
    sampler_steps: int | None = 50  # DDIM steps (None for ancestral)
    guidance: float = 0.0  # conditional models: the guidance scale used when labels are given

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DDPMRecipe":
        d = dict(d)
        return cls(ddpm=difflib.DDPMConfig(**d.pop("ddpm")), train=difflib.DDPMTrainConfig(**d.pop("train")), **d)


# The diffusion recipes (lesson 10). T = 200 steps of the cosine schedule, betas capped at 0.5.
# Points, measured while tuning (2,000 samples; 4,000 steps of batch 256; 1 thread beside other jobs):
# * an MLP of x alone (3 x 256, step embedding added in every layer) on unit-spread data reached
#   every mode but only 17-29% high-quality (ancestral; DDIM worse): it cannot draw the sharp
#   turn of the noise from one narrow mode to the next;
# * sin/cos features of x at 6 octaves (MLPDenoiser.features) fixed that: grid25 25/25, 98.4%,
#   reverse KL 0.006 (DDIM-50: 87.3%; DDIM-200: 92.5%); ring8 8/8, 99.3% (DDIM-50: 91.8%);
# * with the cosine schedule's usual cap of 0.999 the first reverse step divides by
#   sqrt(0.001) and DDIM by far more: points landed far off the grid (see make_schedule).
# Hence the ancestral sampler by default, and 4,000 steps.
def _ddpm_points(mixture: str, **train: Any) -> DDPMRecipe:
    return DDPMRecipe(
        mixture, difflib.DDPMConfig("points", fourier=6), difflib.DDPMTrainConfig(**{**_DDPM_POINTS, **train}),
        sampler="ancestral", sampler_steps=None,
    )


_DDPM_POINTS: dict[str, Any] = dict(steps=4000, batch_size=256, lr=2e-3, ema=0.995)


# Digits: a small U-Net (ConvDenoiser, 32 channels, 35 ms a step at batch 64 on 2 threads), 2,000
# steps. Judged by the digit classifier on 1,000 samples (seed 0):
# * trained without labels it draws 86% confident digits (ancestral; DDIM-50: 81%);
# * trained with labels, dropped with probability p_uncond, the same network has to learn both:
#   its label-free branch reached 0.73 (p 0.2, DDIM-50, 500 samples), 0.76-0.82 (p 0.3; 2,500
#   steps: 0.77 DDIM-50, 0.82 ancestral), 0.81-0.84 (p 0.5, ancestral, seeds 0-2) and 0.84-0.85
#   (p 0.7, seeds 1-2), with conditional samples at guidance 2 still 99.8-100% the label asked
#   for; without guidance the label accuracy falls as p grows (p 0.3: 0.93; 0.5: 0.95; 0.7:
#   0.82-0.84). Hence p 0.7 and the ancestral sampler by default: it is the sharper of the two
#   for the label-free branch (by 3-5 points), at 4x the time.
def _ddpm_digits() -> DDPMRecipe:
    return DDPMRecipe(
        "digits", difflib.DDPMConfig("digits", channels=32, num_classes=10, clip=1.0),
        difflib.DDPMTrainConfig(steps=2000, batch_size=64, lr=2e-3, ema=0.995, p_uncond=0.7),
        sampler="ancestral", sampler_steps=None, guidance=2.0,
    )


def _digits(num_classes: int, codes: int = 0, **train: Any) -> DigitsGANRecipe:
    return DigitsGANRecipe(
        gan.ConvGeneratorConfig(latent_dim=16, num_classes=num_classes, codes=codes),
        gan.ConvDiscriminatorConfig(channels=64, num_classes=num_classes),
        dataclasses.replace(_DIGITS, **train),
    )


def _cure(mixture: str, **train: Any) -> GANRecipe:
    return GANRecipe(mixture, dataclasses.replace(_SMALL_G), dataclasses.replace(_SMALL_D), dataclasses.replace(_CURE, **train))


Recipe = GANRecipe | DigitsGANRecipe | VAERecipe | CharLMRecipe | DDPMRecipe

MODELS: dict[str, Callable[[], Recipe]] = {
    # The ring's modes are half as wide relative to their spacing as the grid's; a smaller
    # learning rate keeps them sharp on every seed (at 3e-3, one seed in three ended at 86-88%).
    "gan-ring8": lambda: _cure("ring8", lr_g=2e-3, lr_d=2e-3),
    "gan-grid25": lambda: _cure("grid25"),
    "dcgan-digits": lambda: _digits(0, codes=10),
    "cgan-digits": lambda: _digits(10),
    "vae-digits": lambda: _vae(0),
    "cvae-digits": lambda: _vae(10),
    "charlm-names": lambda: CharLMRecipe(),
    "ddpm-ring8": lambda: _ddpm_points("ring8"),
    "ddpm-grid25": lambda: _ddpm_points("grid25"),
    "ddpm-digits": _ddpm_digits,
}


def get_recipe(name: str) -> Recipe:
    """A fresh copy of the named model's recipe (lesson defaults)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    return MODELS[name]()


# ----------------------------------------------------------------------------- pretrained runs
PRETRAINED_ENV = "GENAI_COURSE_PRETRAINED"  # names the pretrained folder, overriding the search


def pretrained_folder(where: Any = True) -> Path | None:
    """The folder of pretrained checkpoints: ``where`` itself if a path; for True, the folder named
    by $GENAI_COURSE_PRETRAINED, else the first ``runs/pretrained`` in the current folder or above it."""
    if where is True:
        named = os.environ.get(PRETRAINED_ENV)
        if named:
            return Path(named)
        here = Path.cwd()
        return next((f / "runs" / "pretrained" for f in (here, *here.parents) if (f / "runs" / "pretrained").is_dir()), None)
    if isinstance(where, (str, os.PathLike)):
        return Path(where)
    raise TypeError(f"pretrained must be True, False or a folder (got {where!r} of type {type(where).__name__})")


def _same_records(mine: list[dict[str, Any]], saved: list[dict[str, Any]]) -> bool:
    """Two lists of snapshot records hold the same steps and tensors."""
    return len(mine) == len(saved) and all(
        a.keys() == b.keys() and all(torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a)
        for a, b in zip(mine, saved))


def pretrained_file(name: str, seed: int, steps: int) -> str:
    """The file name of a pretrained run, e.g. ``gan-grid25-seed0-12000steps.pt``."""
    return f"{name}-seed{seed}-{steps}steps.pt"


def callback_fingerprint(callback: Any) -> str | None:
    """sha256 of a snapshot callback's settings (class, every, fixed noise, labels, grid); None for other callbacks."""
    if not isinstance(callback, (Snapshots, vaelib.SampleSnapshots)):
        return None
    h = hashlib.sha256(f"{type(callback).__name__}:{callback.every}".encode())
    for t in (callback.z, callback.labels, getattr(callback, "grid", None)):
        h.update(b"|none" if t is None else b"|" + str(tuple(t.shape)).encode() + t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class _Placed:
    """What every trained model has: the device it trains on and the plan that cuts its batches.

    ``device``: from ``train.get_device`` (the CPU unless asked). ``plan``: a ``train.Plan``
    (accumulation, data-parallel processes, precision); its random streams are saved in
    checkpoints, so a run that accumulates resumes exactly too.
    """

    device: torch.device
    plan: Plan
    seed: int
    name: str
    kind: str
    step: int
    recipe: Any
    history: Any
    resumable = True  # its checkpoints hold optimizer and random states: training can stop and go on exactly

    def _place(self, device: Any) -> None:
        self.device = get_device(device)
        self.plan = Plan()
        self.lesson_record: dict[str, Any] | None = None  # set by `genai-course pretrain`: saved in the checkpoint

    def _extra(self) -> dict[str, Any]:
        """The checkpoint's ``extra``: kind, seed, training seconds, plan (and the pretrain record)."""
        lesson = {"lesson": self.lesson_record} if self.lesson_record else {}
        return {"kind": self.kind, "seed": self.seed, "seconds": self.history.seconds, **self._plan_payload(), **lesson}

    def run_fingerprint(self, steps: int | None = None) -> str:
        """sha256 of what decides a training run from step 0: kind, name, seed, recipe (with ``steps``), plan.

        Two runs with the same fingerprint train the same weights (on the same machine and threads)."""
        recipe: Any = self.recipe
        if steps is not None:
            recipe = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, steps=steps))
        what = {"kind": self.kind, "name": self.name, "seed": self.seed, "config": recipe.to_dict(),
                "accumulate": self.plan.accumulate, "precision": self.plan.precision}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()

    def _from_pretrained(self, where: Any, steps: int | None, callbacks: Iterable[Any]) -> bool:
        """Load this run from a pretrained folder instead of training it: True if loaded.

        The checkpoint must be the same run (``run_fingerprint``) and hold a record of each
        callback (``callback_fingerprint``); otherwise one line says why and the caller trains."""
        callbacks = list(callbacks)
        history_cls = type(self.history)
        recipe: Any = self.recipe
        steps = recipe.train.steps if steps is None else steps

        def train_instead(why: str) -> bool:
            print(f"pretrained: {why}; training here instead", flush=True)
            return False

        if self.step:
            return train_instead(f"{self.name} is already at step {self.step}, and pretrained runs start at step 0")
        folder = pretrained_folder(where)
        if folder is None:
            return train_instead("no runs/pretrained folder here or above (make one with `genai-course pretrain --all`)")
        path = folder / pretrained_file(self.name, self.seed, steps)
        if not path.is_file():
            return train_instead(f"{folder} has no {path.name} (`genai-course pretrain` writes it)")
        from .checkpoints import CheckpointError

        try:
            ckpt = load_checkpoint(str(path))
        except CheckpointError as e:
            return train_instead(str(e))
        record = ckpt.get("extra", {}).get("lesson") or {}
        if record.get("fingerprint") != self.run_fingerprint(steps):
            return train_instead(f"{path.name} was trained with other settings than this run's")
        saved = record.get("callbacks", {})
        prints = [callback_fingerprint(cb) for cb in callbacks]
        for cb, fp in zip(callbacks, prints):
            if not isinstance(saved.get(fp), dict):
                return train_instead(f"{path.name} holds no record of this {type(cb).__name__} callback (another `every`, noise or grid?)")
            if not _same_records(cb.records, saved[fp]["records"][: saved[fp]["before_fit"]]):
                return train_instead(f"this {type(cb).__name__} callback's records before training differ from {path.name}'s "
                                     f"({len(cb.records)} against {saved[fp]['before_fit']})")
        recipe.train = dataclasses.replace(recipe.train, steps=steps)
        self.load_state(ckpt)  # type: ignore[attr-defined]
        history = history_cls(**record["history"])
        for cb, fp in zip(callbacks, prints):
            cb.records = [dict(r) for r in saved[fp]["records"]]
            if hasattr(history, "snapshots"):
                history.snapshots = cb.records
        self.history = history
        if torch.equal(torch.get_rng_state(), record["rng_before"]):  # as if trained here: later cells draw the same
            torch.set_rng_state(record["rng_after"])
        print(f"loaded pretrained {self.name} ({steps:,} steps, trained in {history.seconds:.0f} s) from {path}", flush=True)
        return True

    def _use_plan(self, plan: Plan | None) -> Plan:
        if plan is not None:
            self.plan = plan
        return self.plan

    def _plan_payload(self) -> dict[str, Any]:
        p = self.plan
        if p.accumulate == 1 and p.world == 1:
            return {}
        return {"plan": {"accumulate": p.accumulate, "world": p.world, "rank": p.rank, "precision": p.precision, **p.state_dict()}}

    def _load_plan(self, ckpt: dict[str, Any], batch_size: int) -> None:
        saved = ckpt.get("plan")
        if not saved:
            return
        if saved["world"] != 1:
            return  # a data-parallel run's streams belong to its processes; its weights load, its streams start afresh
        self.plan = Plan(accumulate=int(saved["accumulate"]), precision=str(saved.get("precision", "fp32")))
        self.plan.load_state_dict(saved, self.seed, self.generator, self.plan.micro_batch(batch_size))


class _DigitLabels:
    """Label handling shared by the digit models (``num_classes`` 0 means unconditional)."""

    name: str
    num_classes: int

    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def check_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Validate labels asked of the model: (n,) ints in 0..K-1 for conditional models, None otherwise."""
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"model {self.name} is not conditional: it takes no labels")
            return None
        if labels is None:
            return torch.arange(n) % self.num_classes  # every class in turn: balanced
        labels = torch.as_tensor(labels)
        if labels.dim() == 0:
            labels = labels.expand(n)
        if labels.shape != (n,) or labels.dtype.is_floating_point:
            raise ValueError(f"labels must be {n} whole numbers, or one for all (got shape {tuple(labels.shape)})")
        if int(labels.min()) < 0 or int(labels.max()) >= self.num_classes:
            raise ValueError(f"labels must lie in 0..{self.num_classes - 1} (got {int(labels.min())}..{int(labels.max())})")
        return labels.long()


class TrainedGAN(_Placed):
    """A 2D GAN with its recipe: sample in data units, save and load checkpoints."""

    kind = "gan2d"  # recorded in checkpoints, so load_model knows what to rebuild

    def __init__(self, recipe: Any, name: str = "custom", seed: int = 0, device: Any = None) -> None:
        self.recipe, self.name, self.seed = recipe, name, seed
        self._place(device)
        torch.manual_seed(seed)  # the networks' initial weights depend on the seed
        self.G, self.D = self._networks()
        self.G.to(self.device)
        self.D.to(self.device)
        self.optimizers = make_optimizers(self.G, self.D, recipe.train)
        self.generator = torch.Generator().manual_seed(seed)  # noise of every training step
        self.step = 0
        self.history = History()

    def _networks(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        self.mixture = data.get_mixture(self.recipe.mixture)
        self.scale = self.mixture.scale if self.recipe.normalize else 1.0
        return gan.Generator(self.recipe.generator), gan.Discriminator(self.recipe.discriminator)

    def sample_real(self, n: int, generator: torch.Generator | None = None) -> Any:
        """Real training examples in the units G works in: (n, 2), on the model's device."""
        return (self.mixture.sample(n, generator=generator) / self.scale).to(self.device)

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def from_data(self, x: torch.Tensor) -> torch.Tensor:
        return x / self.scale

    def snapshots(self, every: int, n: int = 1000, resolution: int = 64) -> Snapshots:
        """A Snapshots callback with fixed noise and a grid covering the mixture."""
        z = self.G.sample_latent(n, generator=torch.Generator().manual_seed(1234))
        extent = float(self.mixture.means.abs().max()) * 1.5
        return Snapshots(every, z, make_grid(extent, resolution), transform=self.to_data, inverse=self.from_data)

    def fit(
        self, *, steps: int | None = None, callbacks: Iterable[Any] = (), progress: bool = True, stop_at: int | None = None,
        plan: Plan | None = None, pretrained: Any = False,
    ) -> History:
        """Train (or continue training) up to ``steps`` (default: the recipe's); ``plan``: see ``train.Plan``.
        ``pretrained``: True or a folder loads this run from ``genai-course pretrain``'s checkpoints instead, when there."""
        if pretrained and self._from_pretrained(pretrained, steps, callbacks):
            return self.history
        config = self.recipe.train
        if steps is not None:
            config = dataclasses.replace(config, steps=steps)
            self.recipe.train = config
        self.history = train_gan(
            self.G, self.D, self.sample_real, config,
            callbacks=callbacks, progress=progress, optimizers=self.optimizers,
            generator=self.generator, start_step=self.step, stop_at=stop_at, history=self.history, plan=self._use_plan(plan),
        )
        self.step = self.history.step[-1] if self.history.step else self.step
        return self.history

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n samples in data units: (n, 2) float32, on the CPU."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive whole number (got {n!r})")
        self.G.eval()
        return self.to_data(self.G.sample(n, generator=generator)).cpu()

    def load_state(self, ckpt: dict[str, Any]) -> None:
        """Restore weights, optimizers and noise generator from a checkpoint dict."""
        self.G.load_state_dict(ckpt["weights"]["G"])
        self.D.load_state_dict(ckpt["weights"]["D"])
        if "optimizers" in ckpt:
            self.optimizers[0].load_state_dict(ckpt["optimizers"]["G"])
            self.optimizers[1].load_state_dict(ckpt["optimizers"]["D"])
        if "generator" in ckpt.get("rng", {}):
            self.generator.set_state(ckpt["rng"]["generator"])
        self.step = int(ckpt["step"])
        self._load_plan(ckpt["extra"], self.recipe.train.batch_size)

    def save(self, path: str) -> None:
        save_checkpoint(
            path, model=self.name, config=self.recipe.to_dict(), G=self.G, D=self.D,
            optimizers=self.optimizers, step=self.step, generator=self.generator,
            extra=self._extra(),
        )


class TrainedDigitsGAN(_DigitLabels, TrainedGAN):
    """A convolutional GAN on the 8x8 digits, conditional if its recipe has num_classes > 0.

    Samples are images (n, 1, 8, 8) in [0, 1]; a conditional model also takes labels (n,).
    """

    kind = "digits"

    def _networks(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        self.digits = data.load_digits()
        return gan.ConvGenerator(self.recipe.generator), gan.ConvDiscriminator(self.recipe.discriminator)

    @property
    def num_classes(self) -> int:
        return self.recipe.generator.num_classes

    def sample_real(self, n: int, generator: torch.Generator | None = None) -> Any:
        """n training digits (n, 1, 8, 8), with their labels (n,) if the model is conditional."""
        x, y = self.digits.sample(n, generator=generator)
        x, y = x.to(self.device), y.to(self.device)
        return (x, y) if self.conditional else x

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def from_data(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def snapshots(self, every: int, n: int = 100, resolution: int = 0) -> Snapshots:
        """A Snapshots callback with n fixed noise vectors (and labels 0..9 in turn if conditional)."""
        z = self.G.sample_latent(n, generator=torch.Generator().manual_seed(1234))
        labels = torch.arange(n) % self.num_classes if self.conditional else None
        return Snapshots(every, z, labels=labels)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, labels: Any = None) -> torch.Tensor:
        """n images (n, 1, 8, 8) float32 in [0, 1]. Conditional: ``labels`` is one class for all,
        or (n,) classes; by default every class in turn (0, 1, ..., 9, 0, 1, ...)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive whole number (got {n!r})")
        y = self.check_labels(labels, n)
        self.G.eval()
        return self.G.sample(n, None if y is None else y.to(self.device), generator=generator).cpu()


def _payload(trained: Any, weights: dict[str, Any], **more: Any) -> dict[str, Any]:
    """A course checkpoint's contents: name, recipe, step, weights (and optimizers, rng), kind, seed and plan."""
    return {
        "model": trained.name, "config": trained.recipe.to_dict(), "step": int(trained.step), "weights": weights, **more,
        "extra": trained._extra(),
    }


class TrainedVAE(_Placed, _DigitLabels):
    """A VAE on the 8x8 digits, conditional (a cVAE) if its recipe has num_classes > 0.

    ``vae`` is the network (encoder and decoder); ``G`` is its decoder seen as a generator of
    images in [0, 1] (decoder means), which the digit widgets take like a GAN's G. Samples are
    images (n, 1, 8, 8) in [0, 1]; a conditional model also takes labels (n,).
    """

    kind = "vae"

    def __init__(self, recipe: VAERecipe, name: str = "custom", seed: int = 0, device: Any = None) -> None:
        self.recipe, self.name, self.seed = recipe, name, seed
        self._place(device)
        torch.manual_seed(seed)  # the networks' initial weights depend on the seed
        self.vae = vaelib.VAE(recipe.vae).to(self.device)
        self.G = self.vae.as_generator()
        self.optimizer = vaelib.make_optimizer(self.vae, recipe.train)
        self.generator = torch.Generator().manual_seed(seed)  # noise of every training step
        self.digits = data.load_digits()
        self.step = 0
        self.history = vaelib.VAEHistory()

    @property
    def num_classes(self) -> int:
        return self.recipe.vae.num_classes

    def _labels(self, y: torch.Tensor) -> torch.Tensor | None:
        return y.to(self.device) if self.conditional else None

    def snapshots(self, every: int, n: int = 100) -> vaelib.SampleSnapshots:
        """A callback recording the decoder's means for n fixed z (and labels 0..9 in turn if conditional)."""
        z = self.vae.sample_latent(n, generator=torch.Generator().manual_seed(1234))
        return vaelib.SampleSnapshots(every, z, torch.arange(n) % self.num_classes if self.conditional else None)

    def fit(
        self, *, steps: int | None = None, callbacks: Iterable[Any] = (), progress: bool = True, stop_at: int | None = None,
        plan: Plan | None = None, pretrained: Any = False,
    ) -> vaelib.VAEHistory:
        """Train (or continue training) up to ``steps`` Adam steps (default: the recipe's); ``plan``: see ``train.Plan``;
        ``pretrained``: see ``TrainedGAN.fit``."""
        if pretrained and self._from_pretrained(pretrained, steps, callbacks):
            return self.history
        if steps is not None:
            self.recipe.train = dataclasses.replace(self.recipe.train, steps=steps)
        d = self.digits
        self.history = vaelib.train_vae(
            self.vae, d.x_train.to(self.device), self._labels(d.y_train), self.recipe.train,
            callbacks=callbacks, progress=progress, optimizer=self.optimizer, generator=self.generator,
            start_step=self.step, stop_at=stop_at, history=self.history, plan=self._use_plan(plan),
        )
        self.step = self.history.step[-1] if self.history.step else self.step
        return self.history

    def evaluate(self, draws: int = 10, k: int = 200) -> vaelib.VAEReport:
        """-ELBO and -IWAE_k on the course's 300 held-out digits, in nats per image."""
        return vaelib.evaluate(self.vae, self.digits.x_test.to(self.device), self._labels(self.digits.y_test), draws=draws, k=k)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, labels: Any = None) -> torch.Tensor:
        """n images (n, 1, 8, 8) float32 in [0, 1] (decoder means of z ~ N(0, I)). Conditional:
        ``labels`` is one class for all, or (n,) classes; by default every class in turn."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive whole number (got {n!r})")
        y = self.check_labels(labels, n)
        self.vae.eval()
        return self.vae.sample(n, None if y is None else y.to(self.device), generator=generator).cpu()

    def load_state(self, ckpt: dict[str, Any]) -> None:
        """Restore weights, optimizer and noise generator from a checkpoint dict."""
        self.vae.load_state_dict(ckpt["weights"]["vae"])
        if "optimizers" in ckpt:
            self.optimizer.load_state_dict(ckpt["optimizers"]["vae"])
        if "generator" in ckpt.get("rng", {}):
            self.generator.set_state(ckpt["rng"]["generator"])
        self.step = int(ckpt["step"])
        self._load_plan(ckpt["extra"], self.recipe.train.batch_size)

    def save(self, path: str) -> None:
        checkpoints.save(path, _payload(
            self, {"vae": self.vae.state_dict()},
            optimizers={"vae": self.optimizer.state_dict()},
            rng={"torch": torch.get_rng_state(), "generator": self.generator.get_state()},
        ))


@dataclass(frozen=True)
class CharLMReport:
    """A names model judged on held-out names and on 100 samples per language."""

    heldout_nll: float  # nats per character on the held-out names
    bigram_nll: float  # the same for per-language bigram counts: the yardstick
    judge_accuracy: float  # share of samples the language judge puts in the language asked for
    judge_ceiling: float  # the same on real training names (mean over languages), which the judge never saw
    novelty: float  # share of samples that are not training names
    samples: int

    def as_dict(self) -> dict[str, float]:
        return {**dataclasses.asdict(self), "below_bigram": self.below_bigram}

    @property
    def below_bigram(self) -> float:
        """How much lower the held-out NLL is than the bigram's, as a fraction (0.15 = 15% lower)."""
        return 1.0 - self.heldout_nll / self.bigram_nll

    def __str__(self) -> str:
        return (
            f"held-out NLL {self.heldout_nll:.3f} nats/char ({self.below_bigram:.1%} below the bigram's {self.bigram_nll:.3f}), "
            f"judge accuracy {self.judge_accuracy:.3f} "
            f"(real names {self.judge_ceiling:.3f}), novelty {self.novelty:.3f} over {self.samples} samples"
        )


class TrainedCharLM(_Placed):
    """A character-level model of first names, conditioned on the language (lesson 09).

    ``model`` maps (idx (B, T), lang (B,)) to next-char logits (B, T, V); ``data`` holds the
    names, their split and the vocabulary. Samples are names (str); labels are locales
    ('de_DE') or their indices into ``data.locales``.
    """

    kind = "charlm"
    resumable = False  # its checkpoint holds the weights only; it trains in one go

    def __init__(self, recipe: CharLMRecipe, name: str = "custom", seed: int = 0, device: Any = None) -> None:
        self.recipe, self.name, self.seed = recipe, name, seed
        self._place(device)
        self.data = textlib.load_names(tuple(recipe.locales))
        torch.manual_seed(seed)  # initial weights
        self.model = textlib.build_charlm(recipe.model, len(self.data.vocab), len(self.data.locales), self.data.max_len + 1)
        self.model.to(self.device)
        self.step = 0
        self.history = textlib.CharLMHistory()

    @property
    def num_classes(self) -> int:
        return len(self.data.locales)

    def _split(self, split: textlib.NameSplit) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return tuple(t.to(self.device) for t in (*split.tensors(self.data.vocab), split.labels))  # type: ignore[return-value]

    def fit(
        self, *, steps: int | None = None, callbacks: Iterable[Any] = (), progress: bool = True, plan: Plan | None = None,
        pretrained: Any = False,
    ) -> textlib.CharLMHistory:
        """Train from the current weights for ``steps`` AdamW steps (default: the recipe's), held-out NLL logged.

        It trains in one go: its checkpoints hold the weights only, so it cannot resume mid-run.
        ``pretrained``: see ``TrainedGAN.fit``."""
        if pretrained and self._from_pretrained(pretrained, steps, callbacks):
            return self.history
        if steps is not None:
            self.recipe.train = dataclasses.replace(self.recipe.train, steps=steps)
        self.history = textlib.train_charlm(
            self.model, self._split(self.data.train), self.recipe.train,
            heldout=self._split(self.data.heldout), callbacks=callbacks, progress=progress, plan=self._use_plan(plan),
        )
        self.step += self.recipe.train.steps if self.recipe.model.kind != "bigram" else 0
        return self.history

    def labels(self, labels: Any, n: int) -> torch.Tensor:
        """(n,) language labels from None (every language in turn), one locale, or one per name."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive whole number (got {n!r})")
        if labels is None:
            return torch.arange(n) % self.num_classes
        if isinstance(labels, torch.Tensor):
            labels = labels.tolist()
        return self.data.labels_for(labels, n)

    def sample(
        self, n: int, generator: torch.Generator | None = None, labels: Any = None, *,
        temperature: float | None = None, top_k: int | None = None,
    ) -> list[str]:
        """n names; ``labels``: a locale for all, one per name, or None (every language in turn).
        ``temperature``: None for the recipe's default."""
        lang = self.labels(labels, n)
        temperature = self.recipe.temperature if temperature is None else temperature
        return textlib.sample_names(self.model, self.data.vocab, lang, temperature=temperature, top_k=top_k, generator=generator)

    def evaluate(self, per_language: int = 100, seed: int = 0, temperature: float | None = None) -> CharLMReport:
        """Held-out NLL, and ``per_language`` samples of each language judged and checked for copies."""
        lang = torch.arange(self.num_classes).repeat_interleave(per_language)
        return self.report(self.sample(len(lang), torch.Generator().manual_seed(seed), lang, temperature=temperature), lang)

    def report(self, names: list[str], labels: Any) -> CharLMReport:
        """Judge ``names`` drawn for ``labels`` (locales or indices): the issue's protocol, with the held-out NLL."""
        d = self.data
        lang = self.labels(labels, len(names))
        judge = metrics.LanguageJudge(d.locales).fit(d.heldout.names, d.heldout.labels)
        ceiling = judge.confusion(d.train.names, d.train.labels)
        return CharLMReport(
            heldout_nll=textlib.nll_per_char(self.model, *self._split(d.heldout)),
            bigram_nll=self.bigram_nll(),
            judge_accuracy=judge.accuracy(names, lang),
            judge_ceiling=(ceiling.diag() / ceiling.sum(dim=1)).mean().item(),
            novelty=metrics.novelty(names, d.train.names),
            samples=len(names),
        )

    def bigram_nll(self) -> float:
        """The yardstick: held-out NLL of per-language bigram counts with the best smoothing (CharLMConfig.alpha)."""
        d = self.data
        bigram = textlib.BigramLM(len(d.vocab), len(d.locales), textlib.CharLMConfig().alpha).fit(*self._split(d.train))
        return textlib.nll_per_char(bigram, *self._split(d.heldout))

    def load_state(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["weights"]["model"])
        self.step = int(ckpt["step"])

    def save(self, path: str) -> None:
        checkpoints.save(path, _payload(self, {"model": self.model.state_dict()}))


class TrainedDDPM(_Placed, _DigitLabels):
    """A diffusion model on 2D points or the 8x8 digits, with its recipe.

    ``ddpm`` is the network being trained; ``ema`` the moving average of its weights, which is
    what samples. Samples are in data units: points (n, 2), or images (n, 1, 8, 8) in [0, 1].
    A conditional model (digits, num_classes > 0) takes labels, and draws from its
    unconditional branch when given none.
    """

    kind = "ddpm"

    def __init__(self, recipe: DDPMRecipe, name: str = "custom", seed: int = 0, device: Any = None) -> None:
        self.recipe, self.name, self.seed = recipe, name, seed
        self._place(device)
        self.mixture: data.Mixture | None = None
        if recipe.data == "digits":
            if recipe.ddpm.data != "digits":
                raise ValueError("a digits recipe needs DDPMConfig(data='digits')")
            self.digits = data.load_digits()
            self.scale = 1.0
        else:
            if recipe.ddpm.data != "points":
                raise ValueError(f"a {recipe.data} recipe needs DDPMConfig(data='points')")
            self.mixture = data.get_mixture(recipe.data)
            self.scale = self.mixture.scale  # unit spread: the noise of the forward process then matches the data's size
        torch.manual_seed(seed)  # the network's initial weights depend on the seed
        self.ddpm = difflib.DDPM(recipe.ddpm).to(self.device)
        self.ema = difflib.ema_copy(self.ddpm)
        self.optimizer = difflib.make_optimizer(self.ddpm, recipe.train)
        self.generator = torch.Generator().manual_seed(seed)  # batches and noise of every training step
        self.step = 0
        self.history = difflib.DDPMHistory()

    @property
    def num_classes(self) -> int:
        return self.recipe.ddpm.num_classes

    @property
    def schedule(self) -> difflib.NoiseSchedule:
        return self.ddpm.schedule

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """Model units -> data units: points times the mixture's spread; digits from [-1, 1] to [0, 1]."""
        return (x + 1) / 2 if self.mixture is None else x * self.scale

    def from_data(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 - 1 if self.mixture is None else x / self.scale

    def training_data(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the network learns from, in model units: 100,000 points drawn once from the
        mixture (seed 0), or the 1,497 training digits [and their labels]."""
        if self.mixture is None:
            y = self.digits.y_train.to(self.device) if self.conditional else None
            return self.from_data(self.digits.x_train.to(self.device)), y
        return self.from_data(self.mixture.sample(100_000, generator=torch.Generator().manual_seed(0)).to(self.device)), None

    def fit(
        self, *, steps: int | None = None, callbacks: Iterable[Any] = (), progress: bool = True, stop_at: int | None = None,
        plan: Plan | None = None, pretrained: Any = False,
    ) -> difflib.DDPMHistory:
        """Train (or continue training) up to ``steps`` Adam steps (default: the recipe's); ``plan``: see ``train.Plan``;
        ``pretrained``: see ``TrainedGAN.fit``."""
        if pretrained and self._from_pretrained(pretrained, steps, callbacks):
            return self.history
        if steps is not None:
            self.recipe.train = dataclasses.replace(self.recipe.train, steps=steps)
        x, y = self.training_data()
        self.history = difflib.train_ddpm(
            self.ddpm, x, y, self.recipe.train, ema=self.ema,
            callbacks=callbacks, progress=progress, optimizer=self.optimizer, generator=self.generator,
            start_step=self.step, stop_at=stop_at, history=self.history, plan=self._use_plan(plan),
        )
        self.step = self.history.step[-1] if self.history.step else self.step
        return self.history

    def _check_labels(self, labels: Any, n: int) -> torch.Tensor | None:
        if labels is None:
            return None  # the unconditional branch
        return self.check_labels(labels, n)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        labels: Any = None,
        *,
        guidance: float | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        trajectory: difflib.Trajectory | None = None,
    ) -> torch.Tensor:
        """n samples in data units (see the class). ``labels``: one class for all or (n,) classes
        (conditional models; None draws without a label). ``guidance``, ``sampler`` and ``steps``
        default to the recipe's (guidance only applies with labels; ``steps`` alone means DDIM). ``trajectory`` collects the
        reverse process in model units (see ``to_data``)."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive whole number (got {n!r})")
        y = self._check_labels(labels, n)
        if guidance is None:
            guidance = self.recipe.guidance if y is not None else 0.0
        if sampler is None:  # the recipe's, unless a number of steps asks for DDIM
            sampler = "ddim" if steps is not None else self.recipe.sampler
            steps = self.recipe.sampler_steps if steps is None and sampler == "ddim" else steps
        x = self.ema.sample(n, y, guidance=guidance, sampler=sampler, steps=steps, generator=generator, trajectory=trajectory)
        return self.to_data(x).cpu()

    def load_state(self, ckpt: dict[str, Any]) -> None:
        """Restore weights, EMA, optimizer and noise generator from a checkpoint dict."""
        self.ddpm.load_state_dict(ckpt["weights"]["ddpm"])
        self.ema.load_state_dict(ckpt["weights"]["ema"])
        if "optimizers" in ckpt:
            self.optimizer.load_state_dict(ckpt["optimizers"]["ddpm"])
        if "generator" in ckpt.get("rng", {}):
            self.generator.set_state(ckpt["rng"]["generator"])
        self.step = int(ckpt["step"])
        self._load_plan(ckpt["extra"], self.recipe.train.batch_size)

    def save(self, path: str) -> None:
        checkpoints.save(path, _payload(
            self, {"ddpm": self.ddpm.state_dict(), "ema": self.ema.state_dict()},
            optimizers={"ddpm": self.optimizer.state_dict()},
            rng={"torch": torch.get_rng_state(), "generator": self.generator.get_state()},
        ))


Trained = TrainedGAN | TrainedVAE | TrainedCharLM | TrainedDDPM

_KINDS: dict[str, tuple[Any, Any]] = {
    "gan2d": (TrainedGAN, GANRecipe),
    "digits": (TrainedDigitsGAN, DigitsGANRecipe),
    "vae": (TrainedVAE, VAERecipe),
    "charlm": (TrainedCharLM, CharLMRecipe),
    "ddpm": (TrainedDDPM, DDPMRecipe),
}


def build(name: str, seed: int = 0, device: Any = None) -> Trained:
    """An untrained model with the named recipe and seed, on ``device`` (see ``train.get_device``)."""
    recipe = get_recipe(name)
    recipe.train = dataclasses.replace(recipe.train, seed=seed)
    return _CLASSES[type(recipe)](recipe, name=name, seed=seed, device=device)


_CLASSES: dict[type, Any] = {
    GANRecipe: TrainedGAN, DigitsGANRecipe: TrainedDigitsGAN, VAERecipe: TrainedVAE, CharLMRecipe: TrainedCharLM, DDPMRecipe: TrainedDDPM,
}


def get_class(name: str) -> Any:
    """The class of trained model the named recipe builds (e.g. to ask whether it is ``resumable``)."""
    return _CLASSES[type(get_recipe(name))]


def train_model(
    name: str, *, steps: int | None = None, seed: int = 0, progress: bool = True, callbacks: Iterable[Any] = (),
    device: Any = None, plan: Plan | None = None, pretrained: Any = False,
) -> Trained:
    """Train the named model with its lesson defaults (``steps`` overrides the length; ``device``
    and ``plan``: where and how, see ``train.get_device`` and ``train.Plan``; ``pretrained``: True
    or a folder loads the run from ``genai-course pretrain``'s checkpoints when there, see ``TrainedGAN.fit``)."""
    model = build(name, seed=seed, device=device)
    model.fit(steps=steps, callbacks=callbacks, progress=progress, plan=plan, pretrained=pretrained)
    return model


def load_model(path: str, device: Any = None) -> Trained:
    """Rebuild a trained model from its checkpoint (read with ``weights_only=True``) on ``device``."""
    from .checkpoints import CheckpointError

    ckpt = load_checkpoint(path)
    try:
        cls, recipe_cls = _KINDS[ckpt["extra"].get("kind", "gan2d")]
        recipe = recipe_cls.from_dict(ckpt["config"])
        model = cls(recipe, name=ckpt["model"], seed=int(ckpt["extra"].get("seed", 0)), device=device)
        model.load_state(ckpt)
        model.history.seconds = float(ckpt["extra"].get("seconds", 0.0))  # how long its training took (speed)
    except (KeyError, TypeError, RuntimeError, ValueError) as e:
        raise CheckpointError(f"{path} does not hold a usable course model ({type(e).__name__}: {str(e).splitlines()[0][:160]})") from None
    return model
