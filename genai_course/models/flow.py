"""The flow models of the registry (lesson 16): flow matching and reflowed rectified flow on the
grid of 25, and class-conditional flow matching in the latent space of lesson 08's VAE."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .. import data
from .. import flow as flowlib
from .. import vae as vaelib
from ..loop import ema_copy
from .base import Recipe, TrainedModel
from .vae import TrainedVAE, VAERecipe
from .vae import digits_recipe as vae_digits_recipe

__all__ = ["FlowRecipe", "TrainedFlow", "points_recipe", "rectified_recipe", "latent_digits_recipe"]


@dataclass
class FlowRecipe(Recipe):
    """Everything that defines a flow run: the data ("grid25", "ring8", or "digits" in a VAE's
    latent space), the network, training, and how it samples by default (``method``, ``steps``,
    ``guidance``). A reflow run names its ``teacher`` (the registry name and recipe of the flow
    model whose pairs it learns from, and how many pairs, drawn with how many steps); a latent run
    names its ``vae`` (the registry name and recipe of the VAE whose latents it learns)."""

    data: str = "grid25"
    flow: flowlib.FlowConfig = field(default_factory=flowlib.FlowConfig)
    train: flowlib.FlowTrainConfig = field(default_factory=flowlib.FlowTrainConfig)
    method: str = "midpoint"
    steps: int = 50
    guidance: float = 0.0
    teacher: str | None = None
    teacher_recipe: dict[str, Any] | None = None
    pairs: int = 20_000
    pair_steps: int = 16  # midpoint steps per pair (32 network calls): pairs as good as the teacher can draw
    vae: str | None = None
    vae_recipe: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FlowRecipe":
        d = dict(d)
        return cls(flow=flowlib.FlowConfig(**d.pop("flow")), train=flowlib.FlowTrainConfig(**d.pop("train")), **d)


# Points (grid25, unit spread, 2 threads): an MLPDenoiser of 3 x 256 with 6 octaves of sin/cos
# features (lesson 10's), told t in [0, 1]. 3,000 steps of batch 256. Measured while tuning (2,000
# samples, seed 0; modes / high-quality fraction): flow matching reached 25/0.944 at 100 Euler calls
# (4,000 steps: 25/0.947) but 14/0.015 at 4. Reflow from its weights, 2 midpoint steps (4 calls):
# pairs drawn with 8 midpoint steps were too coarse (25/0.57: the student learns the teacher's errors);
# with 16 (or 32: no better) and 3,000 steps of batch 256 at lr 1e-3, 0.90; 4,000 steps 0.903-0.913
# (seeds 0-2); at lr 2e-3 0.924-0.928 (seeds 0-2, 20,000 pairs; 4 Euler calls 0.895-0.896, 1 call
# 0.77-0.79), which batches of 512 (0.920-0.928) or 3,000 steps of them (0.922-0.925) did not beat
# for more time. 20,000 pairs did as well as 40,000. The issue's own first try (Euler, 90 s of flow
# matching + 60 s of reflow) reached 0.81 at 4 calls.
_POINTS: dict[str, Any] = dict(steps=3000, batch_size=256, lr=2e-3, ema=0.995)


def points_recipe(mixture: str = "grid25", **train: Any) -> FlowRecipe:
    """Flow matching on a 2D mixture; ``train`` overrides its training settings."""
    return FlowRecipe(mixture, flowlib.FlowConfig(dim=2, fourier=6), flowlib.FlowTrainConfig(**{**_POINTS, **train}), method="midpoint", steps=50)


def rectified_recipe(mixture: str = "grid25") -> FlowRecipe:
    """Reflow of ``flow-<mixture>``: starts from the teacher's weights and learns 20,000 pairs (noise, the
    teacher's 16-midpoint-step sample from it), 4,000 steps of batch 256; samples in 2 midpoint steps."""
    teacher = points_recipe(mixture)
    return FlowRecipe(
        mixture, copy.deepcopy(teacher.flow), flowlib.FlowTrainConfig(steps=4000, batch_size=256, lr=2e-3, ema=0.995),
        method="midpoint", steps=2, teacher=f"flow-{mixture}", teacher_recipe=teacher.to_dict(),
    )


def latent_digits_recipe() -> FlowRecipe:
    """Class-conditional flow matching in the 4 latents of lesson 08's VAE (``vae-digits``, trained for
    3,000 steps as lesson 11 trains it), sampled in 10 Euler steps with guidance 1."""
    return FlowRecipe(
        "digits", flowlib.FlowConfig(dim=4, width=256, depth=3, fourier=0, num_classes=10),
        flowlib.FlowTrainConfig(steps=1000, batch_size=256, lr=2e-3, ema=0.995, p_uncond=0.1),
        method="euler", steps=10, guidance=1.0, vae="vae-digits", vae_recipe=vae_digits_recipe(0, steps=3000).to_dict(),
    )


class TrainedFlow(TrainedModel):
    """A flow model with its recipe: on 2D points, or on the digits through a VAE's latent space.

    ``flow`` is the network being trained, ``ema`` the moving average of its weights (what samples).
    Samples are in data units: points (n, 2), or images (n, 1, 8, 8) in [0, 1] (the VAE's decoder
    means of the sampled latents). A reflow run (``recipe.teacher``) learns from pairs drawn by its
    teacher: ``use_teacher`` gives it one already trained, otherwise it trains its own first; a
    latent run (``recipe.vae``) likewise takes ``use_vae`` or trains its VAE. Trains in one go.
    """

    kind = "flow"
    recipe_type = FlowRecipe
    history_type = flowlib.FlowHistory
    resumable = False

    def _load_data(self) -> None:
        recipe = self.recipe
        self.mixture: data.Mixture | None = None
        if recipe.data == "digits":
            if recipe.vae_recipe is None:
                raise ValueError("a digits flow learns in a VAE's latent space: its recipe needs vae and vae_recipe")
            self.digits = data.load_digits()
            self.scale = 1.0
        else:
            self.mixture = data.get_mixture(recipe.data)
            self.scale = self.mixture.scale
        self.teacher_model: TrainedFlow | None = None
        self.teacher_record: dict[str, Any] | None = None  # which model drew the reflow pairs (its weights' sha256)
        self.vae_model: TrainedVAE | None = None
        self.pairs: flowlib.ReflowPairs | None = None

    def _build(self) -> None:
        self.flow = flowlib.FlowModel(self.recipe.flow).to(self.device)
        self.ema = ema_copy(self.flow)
        self.optimizer = flowlib.make_optimizer(self.flow, self.recipe.train)
        self.vae = vaelib.VAE(VAERecipe.from_dict(self.recipe.vae_recipe).vae).to(self.device).eval() if self.recipe.vae_recipe else None

    def _networks(self) -> dict[str, nn.Module]:
        nets: dict[str, nn.Module] = {"flow": self.flow, "ema": self.ema}
        if self.vae is not None:
            nets["vae"] = self.vae
        return nets

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"flow": self.optimizer}

    @property
    def num_classes(self) -> int:  # type: ignore[override]
        return self.recipe.flow.num_classes

    # ---- what it learns from
    def use_teacher(self, teacher: "TrainedFlow") -> None:
        """Reflow from this trained flow model: the model the recipe names (``teacher``), with the same
        network. Its recipe replaces ``teacher_recipe``, so the checkpoint says which run drew the pairs."""
        if self.recipe.teacher is None:
            raise ValueError(f"{self.name} is not a reflow run: it learns from no other model")
        if not isinstance(teacher, TrainedFlow) or teacher.name != self.recipe.teacher or teacher.recipe.flow != self.recipe.flow or teacher.mixture is None \
                or teacher.recipe.data != self.recipe.data:
            got = teacher.name if isinstance(teacher, TrainedModel) else type(teacher).__name__
            raise ValueError(f"{self.name} reflows a trained {self.recipe.teacher} (the same network, on {self.recipe.data}); got {got}")
        self.recipe.teacher_recipe = teacher.recipe.to_dict()
        self.teacher_model = teacher

    def use_vae(self, vae: TrainedVAE) -> None:
        """Learn in the latent space of this trained VAE: the model the recipe names (``vae``), with the same
        network. Its recipe replaces ``vae_recipe``, so the checkpoint says which run it was."""
        if self.recipe.vae is None:
            raise ValueError(f"{self.name} learns 2D points, not a VAE's latents")
        want = VAERecipe.from_dict(self.recipe.vae_recipe).vae
        if not isinstance(vae, TrainedVAE) or vae.name != self.recipe.vae or vae.recipe.vae != want:
            got = vae.name if isinstance(vae, TrainedModel) else type(vae).__name__
            raise ValueError(f"{self.name} learns in the latents of a trained {self.recipe.vae} ({want.latent_dim} latents, unconditional); got {got}")
        self.recipe.vae_recipe = vae.recipe.to_dict()
        self.vae_model = vae

    def use_run(self, model: TrainedModel) -> None:
        """``use_teacher`` or ``use_vae``, whichever this run learns from (``genai-course pretrain``, ``train --from``)."""
        if self.recipe.teacher is not None:
            self.use_teacher(model)  # type: ignore[arg-type]
        else:
            self.use_vae(model)  # type: ignore[arg-type]

    def make_pairs(self, teacher: "TrainedFlow") -> flowlib.ReflowPairs:
        """The reflow pairs this run learns from, drawn by ``teacher`` (its EMA weights) from seeded noise."""
        r = self.recipe
        return flowlib.make_pairs(teacher.ema, r.pairs, steps=r.pair_steps, method="midpoint", name=teacher.name,
                                  generator=torch.Generator().manual_seed(10_000 + self.seed))

    def _encoded(self) -> torch.Tensor:
        """The VAE encoder's means of the training digits (N, 4)."""
        with torch.no_grad():
            return self.vae.encoder(self.digits.x_train.to(self.device))[0]

    def latent_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std (4,) of the VAE encoder's means over the training digits: latents are standardised by them."""
        mu = self._encoded()
        return mu.mean(0), mu.std(0)

    def training_data(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the network learns from, in model units: 100,000 points of the mixture (seed 0) over
        its spread; or the training digits' latents (encoder means, standardised) and labels."""
        if self.mixture is None:
            mu = self._encoded()
            return (mu - mu.mean(0)) / mu.std(0), self.digits.y_train.to(self.device)
        return self.mixture.sample(100_000, generator=torch.Generator().manual_seed(0)).to(self.device) / self.scale, None

    def _train(self, callbacks: list[Any], progress: bool, stop_at: int | None) -> flowlib.FlowHistory:
        r = self.recipe
        x: torch.Tensor | flowlib.ReflowPairs
        if r.teacher is not None:
            if self.teacher_model is None:
                teacher = TrainedFlow(FlowRecipe.from_dict(r.teacher_recipe), name=r.teacher, seed=self.seed, device=self.device)
                teacher.fit(progress=progress)
                self.use_teacher(teacher)
            assert self.teacher_model is not None
            self.pairs = self.make_pairs(self.teacher_model)
            self.teacher_record = {"name": self.teacher_model.name, "seed": self.teacher_model.seed, **self.pairs.source}
            self.flow.load_state_dict(self.teacher_model.ema.state_dict())  # reflow starts where the teacher ended
            self.ema.load_state_dict(self.teacher_model.ema.state_dict())
            x, y = self.pairs, None
        else:
            if r.vae is not None:
                if self.vae_model is None:
                    vae_model = TrainedVAE(VAERecipe.from_dict(r.vae_recipe), name=r.vae, seed=self.seed, device=self.device)
                    vae_model.fit(progress=progress)
                    self.use_vae(vae_model)
                assert self.vae_model is not None and self.vae is not None
                self.vae.load_state_dict(self.vae_model.vae.state_dict())
                self.vae.eval()
            x, y = self.training_data()
        return flowlib.train_flow(
            self.flow, x, y, r.train, ema=self.ema, callbacks=callbacks, progress=progress, optimizer=self.optimizer,
            generator=self.generator, stop_at=stop_at, history=self.history, plan=self.plan,
        )

    # ---- checkpoints: which teacher drew the pairs, and the pairs themselves (20,000 x 2 x 2 floats)
    def _extra(self) -> dict[str, Any]:
        extra = super()._extra()
        if self.teacher_record is not None:
            extra["teacher"] = dict(self.teacher_record)
        if self.pairs is not None:
            extra["pairs"] = {"x0": self.pairs.x0, "x1": self.pairs.x1}
        return extra

    def load_state(self, ckpt: dict[str, Any]) -> None:
        super().load_state(ckpt)
        extra = ckpt.get("extra", {})
        self.teacher_record = extra.get("teacher")
        saved = extra.get("pairs")
        if isinstance(saved, dict) and self.teacher_record is not None:
            source = {k: self.teacher_record[k] for k in ("weights_sha256", "steps", "method", "guidance") if k in self.teacher_record}
            self.pairs = flowlib.ReflowPairs(saved["x0"], saved["x1"], None, {"model": self.teacher_record.get("name", ""), **source})

    # ---- sampling
    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """Model units -> data units: points times the mixture's spread; latents -> the VAE decoder's means."""
        if self.mixture is not None:
            return x * self.scale
        mean, std = self.latent_stats()
        with torch.no_grad():
            return self.vae.decode(x * std + mean)

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, labels: Any = None, *,
        guidance: float | None = None, method: str | None = None, steps: int | None = None,
        noise: torch.Tensor | None = None, trajectory: flowlib.FlowTrajectory | None = None,
    ) -> torch.Tensor:
        """n samples in data units. ``steps`` and ``method`` default to the recipe's (``steps`` steps of
        ``method``: ``flow.check_steps`` network calls); ``labels`` and ``guidance`` as for the DDPM
        (a conditional model draws every class in turn when given none)."""
        self.check_n(n)
        y = self.check_labels(labels, n)  # a conditional model given none draws every class in turn
        if guidance is None:
            guidance = self.recipe.guidance if y is not None else 0.0
        x = self.ema.sample(n, y, steps=self.recipe.steps if steps is None else steps, method=method or self.recipe.method,
                            guidance=guidance, generator=generator, noise=noise, trajectory=trajectory)
        return self.to_data(x).cpu()
