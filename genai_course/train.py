"""Training: GANs (one D step, one G step, and a thin loop around them) and ``minimize``,
the one loop of the single-network models (the VAE, the names model, the diffusion models).

The two GAN steps are small functions so that lessons can call them one at a time and
watch what each does. The loops only take the steps, update learning rates, show a
progress bar and call callbacks (where snapshots, plots and widgets attach).

Scaling (lesson 12) lives in the loops too, through a ``Plan``: one step's global batch of B
examples is cut into ``world`` processes x ``accumulate`` micro-batches of B / (world x
accumulate), each drawn from its own random ``Stream``. Gradients of the micro-batches are
averaged, by accumulation inside a process and by DistributedDataParallel's all-reduce across
processes (``genai_course.parallel``), so a step sees the mean gradient of all B examples
whichever way they were cut; with the same streams, 2 processes and 1 process accumulating
2 micro-batches take the same steps. The default plan (1 x 1) is the plain loop.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Iterable, Iterator, Protocol

import torch
from torch import nn

from . import checkpoints
from .losses import get_loss, gradient_penalty, r1_penalty

__all__ = [
    "get_device",
    "autocast",
    "Stream",
    "Plan",
    "TrainConfig",
    "eval_mode",
    "History",
    "Snapshots",
    "make_grid",
    "d_loss",
    "g_loss",
    "d_step",
    "g_step",
    "make_optimizers",
    "lr_factor",
    "minimize",
    "train_gan",
    "save_checkpoint",
    "load_checkpoint",
]


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """The device to train on. None or "cpu": the CPU (what the course is timed on); "auto": a
    CUDA GPU if there is one, else Apple's MPS, else the CPU; "cuda", "cuda:1", "mps": that one,
    with a clear error if this machine has none. Everything else follows the data: networks are
    moved there once, and the library takes each new tensor's device from the tensors it meets."""
    if isinstance(prefer, torch.device):
        prefer = str(prefer)
    if prefer is None or prefer == "cpu":
        return torch.device("cpu")
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps is not None and mps.is_available())
    if prefer == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if not isinstance(prefer, str) or prefer.split(":")[0] not in ("cuda", "mps"):
        raise ValueError(f"device must be None, 'cpu', 'auto', 'cuda' (or 'cuda:N') or 'mps' (got {prefer!r})")
    if prefer.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {prefer!r} asked for, but this machine has no CUDA GPU that PyTorch can use; use 'cpu' or 'auto'")
    if prefer == "mps" and not has_mps:
        raise ValueError("device 'mps' asked for, but Apple's MPS is not available here; use 'cpu' or 'auto'")
    return torch.device(prefer)


PRECISIONS = ("fp32", "bf16")


def autocast(device: torch.device | str, precision: str = "fp32") -> ContextManager[Any]:
    """Mixed precision meanwhile: "bf16" runs matrix products and convolutions in bfloat16
    (autocast; the weights, their gradients and Adam stay float32), "fp32" changes nothing.
    bfloat16 keeps float32's range, so unlike float16 it needs no loss scaling."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (got {precision!r})")
    device = torch.device(device)
    if precision == "fp32":
        return contextlib.nullcontext()
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU has no bfloat16 support; use precision 'fp32'")
    return torch.autocast(device.type, dtype=torch.bfloat16)


def _stream_seed(seed: int, index: int) -> int:
    """The seed of random stream ``index`` > 0 of a run seeded ``seed`` (stream 0 is the run's own generator)."""
    return (seed + 1) * 1_000_003 + 7_919 * index


@dataclass
class Stream:
    """One micro-batch's source of randomness: stream ``index`` of ``count`` in a step.

    ``generator`` draws its examples and noise; ``rng_state`` is its own copy of torch's global
    random state (dropout draws from that), swapped in while it computes (None: stream 0 of a
    plan with one stream in this process, which uses the process's own). ``batch_size`` is
    its share of the step's batch; ``state`` holds what a loss function keeps between steps.
    """

    index: int
    count: int
    batch_size: int
    generator: torch.Generator
    rng_state: torch.Tensor | None = None
    state: dict[str, Any] = field(default_factory=dict)

    @contextlib.contextmanager
    def active(self) -> Iterator["Stream"]:
        if self.rng_state is None:
            yield self
            return
        outside = torch.get_rng_state()
        torch.set_rng_state(self.rng_state)
        try:
            yield self
        finally:
            self.rng_state = torch.get_rng_state()
            torch.set_rng_state(outside)


class _Loss(nn.Module):
    """A network whose forward pass is "compute this loss": DistributedDataParallel wraps it, so
    one DDP forward covers all of a step's uses of the network (R1's double backward included)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, loss: Callable[[], Any]) -> Any:
        return loss()


@dataclass
class Plan:
    """How one training step's global batch is cut (see the module's docstring).

    accumulate: micro-batches per process, whose gradients add up before the optimizer steps.
    world, rank: processes that train together and this one's number (``parallel`` sets them).
    wrap: makes a network's loss module data-parallel (``parallel`` gives DDP); None in one process.
    precision: "fp32" or "bf16" (``autocast``).
    """

    accumulate: int = 1
    world: int = 1
    rank: int = 0
    wrap: Callable[[nn.Module], nn.Module] | None = None
    precision: str = "fp32"
    streams: list[Stream] | None = None  # made on first use, then kept (and checkpointed) for the run

    def __post_init__(self) -> None:
        for name in ("accumulate", "world"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1 (got {value!r})")
        if not 0 <= self.rank < self.world:
            raise ValueError(f"rank must lie in 0..{self.world - 1} for world={self.world} (got {self.rank!r})")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r})")
        self._runners: dict[int, Any] = {}

    def micro_batch(self, batch_size: int, multiple: int = 1) -> int:
        """Each micro-batch's share of ``batch_size``, with a clear error if it does not divide evenly."""
        parts = self.world * self.accumulate
        micro, rest = divmod(batch_size, parts)
        if rest or micro < 1 or micro % multiple:
            need = f"a multiple of {parts * multiple}" + (f" (each share a multiple of D's pack={multiple})" if multiple > 1 else "")
            raise ValueError(
                f"batch_size {batch_size} cannot be cut into {self.world} process(es) x {self.accumulate} micro-batch(es): "
                f"it must be {need}"
            )
        return micro

    def make_streams(self, seed: int, generator: torch.Generator, batch_size: int) -> list[Stream]:
        """This process's streams: stream 0 is ``generator`` itself; stream s > 0 (rank x accumulate + m)
        is seeded from (seed, s), the same in every process and in a one-process run that accumulates."""
        if self.streams is None:
            count, streams = self.world * self.accumulate, []
            for m in range(self.accumulate):
                s = self.rank * self.accumulate + m
                if s == 0:
                    gen, rng = generator, (None if self.accumulate == 1 else torch.get_rng_state())
                else:
                    gen = torch.Generator().manual_seed(_stream_seed(seed, s))
                    rng = torch.Generator().manual_seed(_stream_seed(seed, s) + 1).get_state()
                streams.append(Stream(s, count, batch_size, gen, rng))
            self.streams = streams
        for stream in self.streams:
            stream.batch_size = batch_size
        return self.streams

    def state_dict(self) -> dict[str, Any]:
        """The streams' random states (a checkpoint's; stream 0's generator is saved with the model)."""
        if self.streams is None:
            return {}
        return {"streams": [{"generator": s.generator.get_state(), "rng": s.rng_state} for s in self.streams]}

    def load_state_dict(self, state: dict[str, Any], seed: int, generator: torch.Generator, batch_size: int) -> None:
        if not state:
            return
        streams = self.make_streams(seed, generator, batch_size)
        if len(state["streams"]) != len(streams):
            raise ValueError(f"the checkpoint was trained with {len(state['streams'])} streams a process; this plan has {len(streams)}")
        for stream, saved in zip(streams, state["streams"]):
            if stream.index:
                stream.generator.set_state(saved["generator"])
            stream.rng_state = saved["rng"]

    def _runner(self, net: nn.Module) -> Any:
        if self.wrap is None:
            return None
        if id(net) not in self._runners:
            self._runners[id(net)] = self.wrap(_Loss(net))
        return self._runners[id(net)]

    def accumulate_grads(
        self, net: nn.Module, device: torch.device, streams: list[Stream], loss_of: Callable[[Stream], tuple[torch.Tensor, dict[str, float]]]
    ) -> dict[str, float]:
        """Backward the mean of the streams' losses into ``net``'s gradients (all-reduced across
        processes when wrapped); returns the logs averaged over this process's micro-batches."""
        runner = self._runner(net)
        logs: dict[str, float] = {}
        for j, stream in enumerate(streams):
            last = j == len(streams) - 1
            sync = contextlib.nullcontext() if runner is None or last else runner.no_sync()  # all-reduce once, after the last
            with stream.active(), sync:
                with autocast(device, self.precision):
                    loss, step_logs = loss_of(stream) if runner is None else runner(lambda: loss_of(stream))
                (loss / len(streams)).backward()
            for k, v in step_logs.items():
                logs[k] = logs.get(k, 0.0) + v / len(streams)
        return logs


def _device_of(net: nn.Module) -> torch.device:
    """The device of net's parameters (or buffers; the CPU if it has neither)."""
    return next((t.device for t in (*net.parameters(), *net.buffers())), torch.device("cpu"))


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


@contextlib.contextmanager
def eval_mode(net: nn.Module) -> Iterator[torch.device]:
    """net in eval mode meanwhile (no dropout; batch norm on its running statistics), then every
    module back in the mode it was in. Yields the device of net's parameters (or buffers; CPU if none)."""
    modes = [m.training for m in net.modules()]
    net.eval()
    try:
        yield _device_of(net)
    finally:
        for m, mode in zip(net.modules(), modes):
            m.training = mode


def lr_factor(step: int, config: TrainConfig) -> float:
    """Learning-rate multiplier at ``step`` (0-based) of ``config.steps``."""
    progress = min(step / max(config.steps, 1), 1.0)
    if config.lr_decay == "none":
        return 1.0
    if config.lr_decay == "linear":
        return 1.0 - (1.0 - config.lr_final) * progress
    if config.lr_decay == "cosine":
        return config.lr_final + (1.0 - config.lr_final) * 0.5 * (1 + math.cos(math.pi * progress))
    raise ValueError(f"lr_decay must be 'none', 'linear' or 'cosine' (got {config.lr_decay!r})")


def minimize(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch_loss: Callable[[int, Stream], tuple[torch.Tensor, dict[str, float]]],
    config: Any,
    *,
    after_step: Callable[[int, dict[str, float]], None],
    generator: torch.Generator,
    start_step: int = 0,
    stop_at: int | None = None,
    progress: bool = True,
    plan: Plan | None = None,
) -> float:
    """The loop of the single-network models (the VAE, the diffusion models): returns its seconds.

    For each step from ``start_step`` up to ``config.steps`` (or ``stop_at``, if sooner): set the
    learning rate to ``config.lr`` x ``lr_factor``, take ``loss, logs = batch_loss(step, stream)``
    for each of the plan's micro-batches (one, by default: ``stream.generator`` is ``generator``
    and ``stream.batch_size`` is ``config.batch_size``), one optimizer step on their mean
    gradient, then ``after_step(step + 1, logs)`` (history, EMA, callbacks).
    ``model`` is in training mode meanwhile and in eval mode after.
    """
    from tqdm.auto import tqdm

    lr_factor(0, config)  # fail early on a bad lr_decay
    plan = plan or Plan()
    streams = plan.make_streams(config.seed, generator, plan.micro_batch(config.batch_size))
    device = _device_of(model)
    end = config.steps if stop_at is None else min(stop_at, config.steps)
    model.train()
    t0 = time.perf_counter()
    bar = tqdm(range(start_step, end), total=end, initial=start_step, disable=not progress, mininterval=0.5, desc="training")
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = config.lr * lr_factor(step, config)
        optimizer.zero_grad(set_to_none=True)
        logs = plan.accumulate_grads(model, device, streams, lambda stream: batch_loss(step, stream))
        optimizer.step()
        if progress and (step + 1) % 200 == 0:
            bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items()}, refresh=False)
        after_step(step + 1, logs)
    bar.close()
    model.eval()
    return time.perf_counter() - t0


def make_grid(extent: float, resolution: int = 64) -> torch.Tensor:
    """A square grid of points covering [-extent, extent]^2: (resolution**2, 2).

    Point ``iy * resolution + ix`` is (xs[ix], ys[iy]), so ``values.reshape(resolution,
    resolution)`` has rows = y and columns = x, ready for ``imshow(origin="lower")``.
    """
    ticks = torch.linspace(-extent, extent, resolution)
    yy, xx = torch.meshgrid(ticks, ticks, indexing="ij")  # (R, R) each: rows = y
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)  # (R*R, 2)


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
) -> History:
    """Alternate ``config.d_steps`` D updates and one G update for ``config.steps`` steps.

    sample_real(n, generator) -> (n, ...) real examples, or a pair (examples, labels (n,)) to
    train conditional networks G(z, y) and D(x, y). ``optimizers``, ``generator`` and
    ``start_step`` let a run continue from a checkpoint; ``stop_at`` ends early (at that step).
    ``plan`` cuts each update's batch into micro-batches and processes (see ``Plan``).
    Callbacks get (step, G, D, logs) after every step, with step counted from 1.
    """
    from tqdm.auto import tqdm

    pack = getattr(D.config, "pack", 1)
    if config.batch_size % pack:
        raise ValueError(f"batch_size {config.batch_size} must be a multiple of D's pack={D.config.pack}")
    get_loss(config.loss)  # fail early on a bad name
    lr_factor(0, config)
    opt_g, opt_d = optimizers or make_optimizers(G, D, config)
    if generator is None:
        generator = torch.Generator().manual_seed(config.seed)
    plan = plan or Plan()
    streams = plan.make_streams(config.seed, generator, plan.micro_batch(config.batch_size, pack))
    device = _device_of(G)
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
    """Write a checkpoint: config, both networks' weights, optimizers, step and RNG states."""
    payload: dict[str, Any] = {
        "model": model,
        "config": config,
        "step": int(step),
        "weights": {"G": G.state_dict(), "D": D.state_dict()},
        "rng": {"torch": torch.get_rng_state(), **({"generator": generator.get_state()} if generator is not None else {})},
        "extra": extra or {},
    }
    if optimizers is not None:
        payload["optimizers"] = {"G": optimizers[0].state_dict(), "D": optimizers[1].state_dict()}
    checkpoints.save(path, payload)


def load_checkpoint(path: str) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` (safely: ``weights_only=True``)."""
    data = checkpoints.load(path)
    missing = [k for k in ("model", "config", "step", "weights") if k not in data]
    if missing:
        raise checkpoints.CheckpointError(f"{path} is missing {', '.join(missing)}: not a course training checkpoint")
    return data
