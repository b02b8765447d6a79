"""Training a GAN: the discriminator's and the generator's losses and one update of each, the
optimizers, snapshots for the training scrubber, and ``train_gan``, the loop that alternates them
(on ``loop.Plan``, so it scales like every other model). Checkpoints of a GAN run are written with
``save_checkpoint``.

The two steps are small functions so that lessons can call them one at a time and watch what
each does. The loop only takes the steps, updates learning rates, shows a progress bar and calls
callbacks (where snapshots, plots and widgets attach).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

import torch
from torch import nn

from .. import checkpoints
from ..loop import Plan, Stream, device_of, lr_factor, update_ema
from ..losses import get_loss, gradient_penalty, r1_penalty

__all__ = [
    "TrainConfig", "History", "Callback", "d_loss", "g_loss", "d_step", "g_step", "make_optimizers",
    "Snapshots", "train_gan", "save_checkpoint",
]


@dataclass
class TrainConfig:
    loss: str = "nonsaturating"  # loss family, one of genai_course.losses.LOSSES
    steps: int = 5000  # generator updates (each preceded by d_steps discriminator updates)
    batch_size: int = 256  # real and fake examples per step (a multiple of D's pack)
    lr_g: float = 1e-3  # Adam learning rate of G at the start
    lr_d: float = 1e-3  # Adam learning rate of D at the start
    beta1: float = 0.5  # Adam's momentum; 0.5 is the usual GAN choice (0.9 tends to oscillate)
    beta2: float = 0.99  # Adam's second-moment decay
    d_steps: int = 1  # D updates per G update (5 is usual for WGAN-GP)
    r1_gamma: float = 0.0  # weight of the R1 penalty on D's slope at real data (0 = off)
    r1_every: int = 1  # apply R1 every k-th D step, weighted k times ("lazy" R1: same effect, less compute)
    gp_weight: float = 0.0  # weight of the WGAN-GP gradient penalty (10 is usual; 0 = off)
    lr_decay: str = "none"  # 'none', 'linear' or 'cosine': learning rate falls to lr_final x start
    lr_final: float = 0.0  # final learning rate as a fraction of the starting one
    ema: float = 0.0  # decay of a moving average of G's weights, which then samples (0 = off; 0.999: about the last 1,000 steps)
    seed: int = 0  # seeds the noise of every step, so a run is repeatable


@dataclass
class History:
    """What a training run recorded: losses per step and any snapshots."""

    step: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


class Callback(Protocol):
    def __call__(self, step: int, G: nn.Module, D: nn.Module, logs: dict[str, float]) -> None: ...


def _fake_labels(G: nn.Module, n: int, generator: torch.Generator | None) -> torch.Tensor | None:
    """Uniform random labels for n fakes if G is conditional (has ``sample_labels``), else None."""
    sample_labels = getattr(G, "sample_labels", None)
    return sample_labels(n, generator=generator) if sample_labels is not None else None


def _conditioned(net: nn.Module, labels: torch.Tensor | None) -> Callable[..., torch.Tensor]:
    """net itself, or net with its labels filled in (a conditional network takes (x, y))."""
    return net if labels is None else (lambda x: net(x, labels))


def d_loss(
    G: nn.Module,
    D: nn.Module,
    real: torch.Tensor,
    loss: str = "nonsaturating",
    *,
    labels: torch.Tensor | None = None,
    r1_gamma: float = 0.0,
    gp_weight: float = 0.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The discriminator's loss on a batch of real examples (B, ...) and as many fakes, with its
    penalties: (loss, {'d_loss': ..., 'r1': ..., 'gp': ...}) (penalties only when used).

    The fakes are detached: this loss must change D only, never G. For conditional networks,
    ``labels`` (B,) are the real examples' classes; the fakes are drawn with the same labels, so
    D sees the same classes on both sides and can only tell them apart by how well each image
    matches its label.
    """
    z = G.sample_latent(real.shape[0], generator=generator)
    fake = _conditioned(G, labels)(z).detach()  # (B, ...) no path back to G
    # one forward pass over real and fake together (cheaper than two), then split the logits
    both = None if labels is None else torch.cat([labels, labels])  # (2B,)
    logits = _conditioned(D, both)(torch.cat([real, fake]))  # (2B / pack,)
    real_logits, fake_logits = logits.chunk(2)
    total = get_loss(loss).d(real_logits, fake_logits)
    logs = {"d_loss": total.item()}
    if r1_gamma:
        r1 = r1_penalty(_conditioned(D, labels), real)
        total = total + 0.5 * r1_gamma * r1
        logs["r1"] = r1.item()
    if gp_weight:
        gp = gradient_penalty(_conditioned(D, labels), real, fake, generator=generator)
        total = total + gp_weight * gp
        logs["gp"] = gp.item()
    return total, logs


def g_loss(
    G: nn.Module, D: nn.Module, batch_size: int, loss: str = "nonsaturating", *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, dict[str, float]]:
    """The generator's loss on ``batch_size`` fresh fakes: (loss, {'g_loss': ...}).

    Gradients flow through D into G. A conditional G draws uniform random labels, and D judges
    each fake against the label it was drawn for.
    """
    z = G.sample_latent(batch_size, generator=generator)
    labels = _fake_labels(G, batch_size, generator)  # (B,) or None
    fake = _conditioned(G, labels)(z)  # (B, ...) keeps the graph to G
    total = get_loss(loss).g(_conditioned(D, labels)(fake))
    return total, {"g_loss": total.item()}


def d_step(
    G: nn.Module,
    D: nn.Module,
    real: torch.Tensor,
    opt_d: torch.optim.Optimizer,
    loss: str = "nonsaturating",
    *,
    labels: torch.Tensor | None = None,
    r1_gamma: float = 0.0,
    gp_weight: float = 0.0,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """One discriminator update on a batch of real examples (B, ...) and as many fakes
    (``d_loss``, then one step of D's optimizer). Returns {'d_loss': ..., 'r1': ..., 'gp': ...}."""
    total, logs = d_loss(G, D, real, loss, labels=labels, r1_gamma=r1_gamma, gp_weight=gp_weight, generator=generator)
    opt_d.zero_grad(set_to_none=True)
    total.backward()
    opt_d.step()
    return logs


def g_step(
    G: nn.Module,
    D: nn.Module,
    batch_size: int,
    opt_g: torch.optim.Optimizer,
    loss: str = "nonsaturating",
    *,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """One generator update: make ``batch_size`` fakes and step G to fool D (``g_loss``).

    Gradients flow through D into G, but only G's optimizer steps; D's gradients are
    cleared by its own next step (``zero_grad``) and never applied.
    """
    total, logs = g_loss(G, D, batch_size, loss, generator=generator)
    opt_g.zero_grad(set_to_none=True)
    total.backward()
    opt_g.step()
    return logs


def make_optimizers(G: nn.Module, D: nn.Module, config: TrainConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Adam for G and for D with the config's learning rates and betas."""
    betas = (config.beta1, config.beta2)
    # fused=True: one kernel per step instead of several per parameter (about 2x faster for small nets on CPU)
    return (
        torch.optim.Adam(G.parameters(), lr=config.lr_g, betas=betas, fused=True),
        torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=betas, fused=True),
    )


class Snapshots:
    """Callback that records, every ``every`` steps, G's samples from fixed noise and D's
    logits on a fixed grid of points (for the training scrubber).

    z: (N, latent_dim) fixed noise; labels: (N,) fixed classes for a conditional G. grid: (M, 2)
    points where D is evaluated (2D data only; None skips it). ``transform`` maps G's output to
    data units (e.g. undo normalisation). G is sampled in eval mode (batch norm uses its running
    statistics and does not update them), then put back in the mode it was in.
    """

    def __init__(
        self,
        every: int,
        z: torch.Tensor,
        grid: torch.Tensor | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        inverse: Callable[[torch.Tensor], torch.Tensor] | None = None,
        labels: torch.Tensor | None = None,
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be a positive number of steps (got {every})")
        self.every, self.z, self.grid, self.labels = every, z, grid, labels
        self.transform = transform or (lambda x: x)
        self.inverse = inverse or (lambda x: x)
        self.records: list[dict[str, Any]] = []

    @torch.no_grad()
    def record(self, step: int, G: nn.Module, D: nn.Module) -> None:
        was_training = G.training
        G.eval()
        snap: dict[str, Any] = {"step": step, "samples": self.transform(_conditioned(G, self.labels)(self.z)).cpu()}
        G.train(was_training)
        if self.grid is not None and getattr(D.config, "pack", 1) == 1:
            snap["d_logits"] = D(self.inverse(self.grid)).cpu()  # (M,)
        self.records.append(snap)

    def __call__(self, step: int, G: nn.Module, D: nn.Module, logs: dict[str, float]) -> None:
        if step % self.every == 0:
            self.record(step, G, D)


def train_gan(
    G: nn.Module,
    D: nn.Module,
    sample_real: Callable[[int, torch.Generator], torch.Tensor],
    config: TrainConfig,
    *,
    callbacks: Iterable[Callback] = (),
    progress: bool = True,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None,
    generator: torch.Generator | None = None,
    start_step: int = 0,
    stop_at: int | None = None,
    history: History | None = None,
    plan: Plan | None = None,
    ema: nn.Module | None = None,
) -> History:
    """Alternate ``config.d_steps`` D updates and one G update for ``config.steps`` steps.

    sample_real(n, generator) -> (n, ...) real examples, or a pair (examples, labels (n,)) to
    train conditional networks G(z, y) and D(x, y). ``optimizers``, ``generator`` and
    ``start_step`` let a run continue from a checkpoint; ``stop_at`` ends early (at that step).
    ``plan`` cuts each update's batch into micro-batches and processes (see ``Plan``).
    ``ema`` (a copy of G, ``loop.ema_copy(G)``) follows the moving average of G's weights with
    decay ``config.ema`` after every G update (``loop.update_ema``).
    Callbacks get (step, G, D, logs) after every step, with step counted from 1.
    """
    from tqdm.auto import tqdm

    pack = getattr(D.config, "pack", 1)
    if config.batch_size % pack:
        raise ValueError(f"batch_size {config.batch_size} must be a multiple of D's pack={D.config.pack}")
    get_loss(config.loss)  # fail early on a bad name
    lr_factor(0, config)
    if not 0.0 <= config.ema < 1.0:
        raise ValueError(f"ema must be a decay in [0, 1) (got {config.ema})")
    opt_g, opt_d = optimizers or make_optimizers(G, D, config)
    if generator is None:
        generator = torch.Generator().manual_seed(config.seed)
    plan = plan or Plan()
    streams = plan.make_streams(config.seed, generator, plan.micro_batch(config.batch_size, pack))
    device = device_of(G)
    history = history or History()
    callbacks = list(callbacks)
    end = config.steps if stop_at is None else min(stop_at, config.steps)
    G.train()
    D.train()
    t0 = time.perf_counter()
    bar = tqdm(range(start_step, end), total=end, initial=start_step, disable=not progress, mininterval=0.5, desc="training")
    for step in bar:
        factor = lr_factor(step, config)
        for opt, lr in ((opt_g, config.lr_g), (opt_d, config.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * factor
        r1_gamma = config.r1_gamma * config.r1_every if step % config.r1_every == 0 else 0.0

        def d_loss_of(stream: Stream) -> tuple[torch.Tensor, dict[str, float]]:
            real = sample_real(stream.batch_size, stream.generator)
            real, labels = real if isinstance(real, tuple) else (real, None)
            return d_loss(
                G, D, real, config.loss, labels=labels, r1_gamma=r1_gamma, gp_weight=config.gp_weight, generator=stream.generator
            )

        for _ in range(config.d_steps):
            opt_d.zero_grad(set_to_none=True)
            logs = plan.accumulate_grads(D, device, streams, d_loss_of)
            opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        logs.update(plan.accumulate_grads(G, device, streams, lambda s: g_loss(G, D, s.batch_size, config.loss, generator=s.generator)))
        opt_g.step()
        if ema is not None:
            update_ema(ema, G, config.ema)
        history.step.append(step + 1)
        history.d_loss.append(logs["d_loss"])
        history.g_loss.append(logs["g_loss"])
        if progress and (step + 1) % 200 == 0:
            bar.set_postfix(d_loss=f"{logs['d_loss']:.3f}", g_loss=f"{logs['g_loss']:.3f}", refresh=False)
        for callback in callbacks:
            callback(step + 1, G, D, logs)
    bar.close()
    history.seconds += time.perf_counter() - t0
    for callback in callbacks:
        if isinstance(callback, Snapshots):
            history.snapshots = callback.records
    return history


def save_checkpoint(
    path: str,
    *,
    model: str,
    config: dict[str, Any],
    G: nn.Module,
    D: nn.Module,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer] | None = None,
    step: int,
    generator: torch.Generator | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a GAN run's checkpoint (``checkpoints.payload``'s layout, through ``checkpoints.save``):
    config, both networks' weights, optimizers, step and RNG states."""
    rng = {"torch": torch.get_rng_state(), **({"generator": generator.get_state()} if generator is not None else {})}
    opts = None if optimizers is None else {"G": optimizers[0].state_dict(), "D": optimizers[1].state_dict()}
    weights = {"G": G.state_dict(), "D": D.state_dict()}
    checkpoints.save(path, checkpoints.payload(model, config, step, weights, optimizers=opts, rng=rng, extra=extra))
