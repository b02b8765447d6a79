"""Teaching a conditional VAE of the digits 0-8 to draw a 9 from a few examples, and judging it.

``few_shot`` picks the new examples (and the real digits of that class it must not have seen);
``adapt_vae`` grows the VAE by one class and trains it by one of the four methods;
``retrain_vae`` is the baseline that starts over on everything; ``judge_adaptation`` scores the
new class (the digit judge's accuracy, the feature distance to real ones, the share of samples
the memorization audit flags as copies of the examples) and the old classes (accuracy and
feature distance, before and after: the forgetting).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch

from .. import data
from .. import vae as vaelib
from ..metrics import digit_classifier, frechet_distance, memorization
from .methods import AdaptConfig, adapter_state, prepare, state_bytes, trainable_parameters
from .new_class import add_class, check_network

__all__ = ["FewShot", "few_shot", "Adaptation", "replay_set", "adapt_vae", "retrain_vae", "AdaptationReport", "judge_adaptation"]


@dataclass(frozen=True)
class FewShot:
    """n training digits of one class for a model to learn it from, and every other real digit
    of that class (the rest of the training split and the held-out split): the reference its
    samples are compared with, which it never saw."""

    new_class: int
    x: torch.Tensor  # (n, 1, 8, 8): the examples
    index: torch.Tensor  # (n,): their positions in the training split
    rest: torch.Tensor  # (M, 1, 8, 8): the class's other real digits


def few_shot(n: int, new_class: int = 9, seed: int = 0) -> FewShot:
    """The first ``n`` digits of ``new_class`` in a random order of the training split (``seed``):
    a larger n keeps the smaller n's examples."""
    d = data.load_digits()
    where = (d.y_train == new_class).nonzero().squeeze(1)  # (C,)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(where) - 10:
        raise ValueError(f"examples must be a whole number from 1 to {len(where) - 10} (the training split has "
                         f"{len(where)} digits of class {new_class}, and some must stay unseen to judge by; got {n!r})")
    order = where[torch.randperm(len(where), generator=torch.Generator().manual_seed(seed))]
    index, unseen = order[:n], order[n:]
    rest = torch.cat([d.x_train[unseen], d.x_test[d.y_test == new_class]])
    return FewShot(new_class, d.x_train[index], index, rest)


@dataclass
class Adaptation:
    """An adapted VAE (with its new column, and any adapters, still separate: ``merge_classes``
    folds them in) and what the adaptation cost."""

    model: vaelib.VAE
    method: str
    trainable: int  # numbers that trained
    adapter_bytes: int  # what a checkpoint of the adaptation stores (the whole network for finetune and replay)
    seconds: float  # training time
    history: vaelib.VAEHistory


@torch.no_grad()
def replay_set(vae: vaelib.VAE, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's own samples of its classes, in turn: images (n, 1, 8, 8) in [0, 1] and labels (n,).

    Decoder means: what the model would draw for each class now, kept as its memory of them."""
    check_network(vae, vaelib.VAE, "replay_set")
    y = torch.arange(n) % vae.config.num_classes  # (n,)
    vae.eval()
    return vae.sample(n, y.to(next(vae.parameters()).device), generator=generator).cpu(), y


def adapt_vae(base: vaelib.VAE, shots: FewShot, config: AdaptConfig | None = None, *, progress: bool = False) -> Adaptation:
    """Teach a conditional VAE of classes 0..K-1 the class K from ``shots`` (K must be ``shots.new_class``).

    The base is copied, never changed. The copy gets a new label column (``add_class``), is set
    up for ``config.method`` (``prepare``) and trained on the negative ELBO with the base's own
    training settings except steps, batch and learning rate."""
    config = config or AdaptConfig()
    check_network(base, vaelib.VAE, "adapt_vae")
    k = base.config.num_classes
    if shots.new_class != k:
        raise ValueError(f"this VAE knows classes 0..{k - 1}: the class it can learn next is {k} (got examples of {shots.new_class})")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    grown = prepare(add_class(base), config.method, config.rank, generator)
    x, y = shots.x, torch.full((len(shots.x),), k)
    if config.method == "replay":
        x_old, y_old = replay_set(base, config.replay, generator)
        repeat = -(-config.replay // len(x))  # the new examples as often as the old samples: half of each batch
        x, y = torch.cat([x.repeat(repeat, 1, 1, 1), x_old]), torch.cat([y.repeat(repeat), y_old])
    train = dataclasses.replace(vaelib.VAETrainConfig(), steps=config.steps, batch_size=config.batch_size, lr=config.lr, seed=config.seed)
    device = next(base.parameters()).device  # the data goes where the model is
    start = time.perf_counter()
    history = vaelib.train_vae(grown, x.to(device), y.to(device), train, progress=progress, generator=generator)
    seconds = time.perf_counter() - start
    grown.eval()
    return Adaptation(grown, config.method, trainable_parameters(grown), state_bytes(adapter_state(grown)), seconds, history)


def retrain_vae(shots: FewShot, config: vaelib.VAEConfig, train: vaelib.VAETrainConfig, *, seed: int = 0,
                progress: bool = False) -> tuple[vaelib.VAE, float]:
    """The baseline: a conditional VAE of one more class trained from scratch on every training
    digit of the old classes plus the new examples, as long as the base was. (VAE, seconds)."""
    old = data.load_digits().first_classes(shots.new_class)
    x, y = torch.cat([old.x_train, shots.x]), torch.cat([old.y_train, torch.full((len(shots.x),), shots.new_class)])
    torch.manual_seed(seed)
    model = vaelib.VAE(dataclasses.replace(config, num_classes=shots.new_class + 1))
    history = vaelib.train_vae(model, x, y, dataclasses.replace(train, seed=seed), progress=progress)
    model.eval()
    return model, history.seconds


@dataclass(frozen=True)
class AdaptationReport:
    """A model of the digits judged on the new class and on the old ones (nan where it has no new class).

    Accuracies are the digit judge's share of samples it puts in the class asked for; distances
    are the feature (Fréchet) distance of those samples to real digits of the same classes."""

    new_accuracy: float
    new_distance: float
    copies: float  # share of new-class samples the memorization audit flags as copies of the examples
    old_accuracy: float
    old_distance: float
    samples: int  # per class

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        return (f"new class: accuracy {self.new_accuracy:.1%}, feature distance {self.new_distance:.1f}, copies "
                f"{self.copies:.1%}; old classes: accuracy {self.old_accuracy:.1%}, feature distance {self.old_distance:.1f} "
                f"({self.samples} samples a class)")


@torch.no_grad()
def judge_adaptation(vae: vaelib.VAE, shots: FewShot, *, samples: int = 300, seed: int = 0) -> AdaptationReport:
    """Judge ``vae`` (the base, or an adapted copy) with ``samples`` draws of each class, from ``seed``."""
    check_network(vae, vaelib.VAE, "judge_adaptation")
    judge = digit_classifier()
    k_old = shots.new_class
    generator = torch.Generator().manual_seed(seed)
    vae.eval()
    device = next(vae.parameters()).device
    y_old = torch.arange(k_old).repeat_interleave(samples)  # (K samples,)
    x_old = vae.sample(len(y_old), y_old.to(device), generator=generator).cpu()  # the judge runs on the CPU
    old_real = data.load_digits().first_classes(k_old).x_test
    old_accuracy = float((judge(x_old).argmax(1) == y_old).float().mean())
    old_distance = frechet_distance(judge.features(x_old), judge.features(old_real))
    nan = float("nan")
    new_accuracy = new_distance = copies = nan
    if vae.config.num_classes > k_old:
        x_new = vae.sample(samples, torch.full((samples,), k_old, device=device), generator=generator).cpu()
        new_accuracy = float((judge(x_new).argmax(1) == k_old).float().mean())
        new_distance = frechet_distance(judge.features(x_new), judge.features(shots.rest))
        copies = memorization(x_new, shots.x, shots.rest).copies
    return AdaptationReport(new_accuracy, new_distance, copies, old_accuracy, old_distance, samples)
