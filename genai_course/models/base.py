"""What every trained model of the registry shares: its recipe type, ``TrainedModel`` (the
opening of ``fit``, saving and loading, the run's fingerprint and its pretrained copy). A
checkpoint's contents are laid out by ``checkpoints.payload``, the course's one checkpoint layout.

A family (``models.gan``, ``models.vae``, ``models.text``, ``models.diffusion``) subclasses
``TrainedModel`` and fills in its part: its data (``_load_data``), its networks and optimizers
(``_build``), which of them a checkpoint holds (``_networks``, ``_optimizers``), and the call of
its training loop (``_train``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

import torch
from torch import nn

from .. import checkpoints, gan
from .. import vae as vaelib
from ..loop import Plan
from ..utils import get_device

__all__ = [
    "Recipe", "TrainedModel", "PRETRAINED_ENV", "pretrained_folder", "pretrained_file", "callback_fingerprint",
]


class Recipe:
    """Everything that defines a training run: a dataclass with a ``train`` config (that has
    ``steps``), written to checkpoints as a plain dict (``to_dict``) and read back (``from_dict``)."""

    train: Any

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        raise NotImplementedError

    def with_steps(self, steps: int | None) -> Any:
        """A copy whose training runs ``steps`` steps (None: this recipe itself)."""
        if steps is None:
            return self
        return dataclasses.replace(self, train=dataclasses.replace(self.train, steps=steps))  # type: ignore[type-var]


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


def pretrained_file(name: str, seed: int, steps: int) -> str:
    """The file name of a pretrained run, e.g. ``gan-grid25-seed0-12000steps.pt``."""
    return f"{name}-seed{seed}-{steps}steps.pt"


def callback_fingerprint(callback: Any) -> str | None:
    """sha256 of a snapshot callback's settings (class, every, fixed noise, labels, grid); None for other callbacks."""
    if not isinstance(callback, (gan.Snapshots, vaelib.SampleSnapshots)):
        return None
    h = hashlib.sha256(f"{type(callback).__name__}:{callback.every}".encode())
    for t in (callback.z, callback.labels, getattr(callback, "grid", None)):
        h.update(b"|none" if t is None else b"|" + str(tuple(t.shape)).encode() + t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _same_records(mine: list[dict[str, Any]], saved: list[dict[str, Any]]) -> bool:
    """Two lists of snapshot records hold the same steps and tensors."""
    return len(mine) == len(saved) and all(
        a.keys() == b.keys() and all(torch.equal(a[k], b[k]) if isinstance(a[k], torch.Tensor) else a[k] == b[k] for k in a)
        for a, b in zip(mine, saved))


# ----------------------------------------------------------------------------- the trained model
class TrainedModel:
    """A network (or two) with its recipe, name and seed: train it (``fit``), sample it, save and load it.

    ``device``: from ``utils.get_device`` (the CPU unless asked). ``plan``: a ``loop.Plan``
    (accumulation, data-parallel processes, precision); its random streams are saved in
    checkpoints, so a run that accumulates resumes exactly too. ``generator``: the noise and
    batches of every training step. ``num_classes`` > 0: a conditional model, which takes labels.
    """

    kind = ""  # recorded in checkpoints, so load_model knows what to rebuild
    recipe_type: type  # the recipe it is built from
    history_type: type  # what fit returns
    resumable = True  # its checkpoints hold optimizer and random states: training can stop and go on exactly
    num_classes = 0

    def __init__(self, recipe: Any, name: str = "custom", seed: int = 0, device: Any = None) -> None:
        self.recipe, self.name, self.seed = recipe, name, seed
        self.device = get_device(device)
        self.plan = Plan()
        self.lesson_record: dict[str, Any] | None = None  # set by `genai-course pretrain`: saved in the checkpoint
        self._load_data()
        torch.manual_seed(seed)  # the networks' initial weights depend on the seed
        self._build()
        self.generator = torch.Generator().manual_seed(seed)  # noise and batches of every training step
        self.step = 0
        self.history = self.history_type()

    # ---- the family's part
    def _load_data(self) -> None:
        """Load what the model learns from (before the seed: loading draws nothing from torch's RNG)."""

    def _build(self) -> None:
        """Make the networks (on ``self.device``) and their optimizers, right after the seed."""
        raise NotImplementedError

    def _networks(self) -> dict[str, nn.Module]:
        """The networks a checkpoint holds, by their names in it."""
        raise NotImplementedError

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimizers a checkpoint of a resumable model holds, by their names in it."""
        return {}

    def _train(self, callbacks: list[Any], progress: bool, stop_at: int | None) -> Any:
        """Run the family's training loop from ``self.step`` to ``self.recipe.train.steps``: its history."""
        raise NotImplementedError

    def _step_after(self, history: Any) -> int:
        """The model's step once ``history`` is trained: its last logged step."""
        return history.step[-1] if history.step else self.step

    # ---- training
    def fit(
        self, *, steps: int | None = None, callbacks: Iterable[Any] = (), progress: bool = True, stop_at: int | None = None,
        plan: Plan | None = None, pretrained: Any = False,
    ) -> Any:
        """Train (or continue training) up to ``steps`` steps (default: the recipe's); ``stop_at``: pause
        there (resumable models); ``plan``: see ``loop.Plan``. ``pretrained``: True or a folder loads
        this run from ``genai-course pretrain``'s checkpoints instead, when there."""
        callbacks = list(callbacks)
        if stop_at is not None and not self.resumable:
            raise ValueError(f"{self.name} trains in one go (its checkpoints hold the weights only): it takes no stop_at")
        if pretrained and self._from_pretrained(pretrained, steps, callbacks):
            return self.history
        self.recipe.train = self.recipe.with_steps(steps).train
        if plan is not None:
            self.plan = plan
        self.history = self._train(callbacks, progress, stop_at)
        self.step = self._step_after(self.history)
        return self.history

    # ---- labels and sizes
    @property
    def conditional(self) -> bool:
        return self.num_classes > 0

    def check_labels(self, labels: Any, n: int) -> torch.Tensor | None:
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

    @staticmethod
    def check_n(n: Any) -> int:
        """How many samples to draw: a positive whole number."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"n must be a positive whole number (got {n!r})")
        return n

    # ---- checkpoints
    def save(self, path: str) -> None:
        """Write the model to ``path`` with ``checkpoints.save`` (laid out by ``checkpoints.payload``): its weights,
        and for a resumable model its optimizers and random states too."""
        resume: dict[str, Any] = {}
        if self.resumable:
            resume["optimizers"] = {k: opt.state_dict() for k, opt in self._optimizers().items()}
            resume["rng"] = {"torch": torch.get_rng_state(), "generator": self.generator.get_state()}
        weights = {k: net.state_dict() for k, net in self._networks().items()}
        checkpoints.save(path, checkpoints.payload(self.name, self.recipe.to_dict(), self.step, weights, **resume, extra=self._extra()))

    def load_state(self, ckpt: dict[str, Any]) -> None:
        """Restore weights (and optimizers, noise generator and plan, where saved) from a checkpoint dict."""
        for k, net in self._networks().items():
            net.load_state_dict(ckpt["weights"][k])
        if "optimizers" in ckpt:
            for k, opt in self._optimizers().items():
                opt.load_state_dict(ckpt["optimizers"][k])
        if "generator" in ckpt.get("rng", {}):
            self.generator.set_state(ckpt["rng"]["generator"])
        self.step = int(ckpt["step"])
        if self.resumable:
            self._load_plan(ckpt["extra"], self.recipe.train.batch_size)

    def _extra(self) -> dict[str, Any]:
        """The checkpoint's ``extra``: kind, seed, training seconds, plan (and the pretrain record)."""
        lesson = {"lesson": self.lesson_record} if self.lesson_record else {}
        return {"kind": self.kind, "seed": self.seed, "seconds": self.history.seconds, **self._plan_payload(), **lesson}

    def _plan_payload(self) -> dict[str, Any]:
        p = self.plan
        if p.accumulate == 1 and p.world == 1:
            return {}
        return {"plan": {"accumulate": p.accumulate, "world": p.world, "rank": p.rank, "precision": p.precision, **p.state_dict()}}

    def _load_plan(self, extra: dict[str, Any], batch_size: int) -> None:
        saved = extra.get("plan")
        if not saved:
            return
        if saved["world"] != 1:
            return  # a data-parallel run's streams belong to its processes; its weights load, its streams start afresh
        self.plan = Plan(accumulate=int(saved["accumulate"]), precision=str(saved.get("precision", "fp32")))
        self.plan.load_state_dict(saved, self.seed, self.generator, self.plan.micro_batch(batch_size))

    # ---- the run's fingerprint, and its pretrained copy
    def run_fingerprint(self, steps: int | None = None) -> str:
        """sha256 of what decides a training run from step 0: kind, name, seed, recipe (with ``steps``), plan.

        Two runs with the same fingerprint train the same weights (on the same machine and threads)."""
        what = {"kind": self.kind, "name": self.name, "seed": self.seed, "config": self.recipe.with_steps(steps).to_dict(),
                "accumulate": self.plan.accumulate, "precision": self.plan.precision}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()

    def _from_pretrained(self, where: Any, steps: int | None, callbacks: list[Any]) -> bool:
        """Load this run from a pretrained folder instead of training it: True if loaded.

        The checkpoint must be the same run (``run_fingerprint``) and hold a record of each
        callback (``callback_fingerprint``); otherwise one line says why and the caller trains."""
        steps = self.recipe.train.steps if steps is None else steps

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
        try:
            ckpt = checkpoints.load_run(str(path))
        except checkpoints.CheckpointError as e:
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
        self.recipe.train = self.recipe.with_steps(steps).train
        self.load_state(ckpt)
        history = self.history_type(**record["history"])
        for cb, fp in zip(callbacks, prints):
            cb.records = [dict(r) for r in saved[fp]["records"]]
            if hasattr(history, "snapshots"):
                history.snapshots = cb.records
        self.history = history
        if torch.equal(torch.get_rng_state(), record["rng_before"]):  # as if trained here: later cells draw the same
            torch.set_rng_state(record["rng_after"])
        print(f"loaded pretrained {self.name} ({steps:,} steps, trained in {history.seconds:.0f} s) from {path}", flush=True)
        return True
