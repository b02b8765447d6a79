"""The training loop every model shares: ``Plan`` and its random ``Stream``s, the learning-rate
schedule, ``eval_mode`` and ``minimize``, the loop of the single-network models (the VAE, the
names model, the diffusion models). The GAN's two-network loop is ``gan.train_gan``.

Scaling (lesson 12) lives here, in a ``Plan``: one step's global batch of B examples is cut into
``world`` processes x ``accumulate`` micro-batches of B / (world x accumulate), each drawn from
its own random ``Stream``. Gradients of the micro-batches are averaged, by accumulation inside a
process and by DistributedDataParallel's all-reduce across processes (``genai_course.parallel``),
so a step sees the mean gradient of all B examples whichever way they were cut; with the same
streams, 2 processes and 1 process accumulating 2 micro-batches take the same steps. The default
plan (1 x 1) is the plain loop.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import nn

from .utils import PRECISIONS, autocast

__all__ = ["Stream", "Plan", "device_of", "eval_mode", "lr_factor", "minimize", "minimize_averaged", "ema_copy", "update_ema"]


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


def device_of(net: nn.Module) -> torch.device:
    """The device of net's parameters (or buffers; the CPU if it has neither)."""
    return next((t.device for t in (*net.parameters(), *net.buffers())), torch.device("cpu"))


@contextlib.contextmanager
def eval_mode(net: nn.Module) -> Iterator[torch.device]:
    """net in eval mode meanwhile (no dropout; batch norm on its running statistics), then every
    module back in the mode it was in. Yields the device of net's parameters (or buffers; CPU if none)."""
    modes = [m.training for m in net.modules()]
    net.eval()
    try:
        yield device_of(net)
    finally:
        for m, mode in zip(net.modules(), modes):
            m.training = mode


def ema_copy(model: nn.Module) -> nn.Module:
    """A frozen copy of ``model`` to hold the moving average of its weights (``update_ema``)."""
    ema = copy.deepcopy(model)
    ema.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, parameter by parameter; buffers (a batch norm's
    running statistics) are copied as they are. Samples from the average are smoother than from
    the last step's weights: the average forgets the noise of single steps (about the last
    1 / (1 - decay) steps count)."""
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.lerp_(p, 1 - decay)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


def lr_factor(step: int, config: Any) -> float:
    """Learning-rate multiplier at ``step`` (0-based) of ``config.steps``, from ``config.lr_decay``
    ('none', 'linear' or 'cosine') and ``config.lr_final`` (any model's training config)."""
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
    device = device_of(model)
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


def minimize_averaged(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch_loss: Callable[[int, Stream], tuple[torch.Tensor, dict[str, float]]],
    config: Any,
    *,
    history: Any,
    ema: nn.Module | None = None,
    callbacks: Iterable[Callable[[int, nn.Module, dict[str, float]], None]] = (),
    generator: torch.Generator,
    start_step: int = 0,
    stop_at: int | None = None,
    progress: bool = True,
    plan: Plan | None = None,
) -> None:
    """``minimize`` for a network that samples through the moving average of its weights (lesson 10's
    diffusion models, lesson 16's flows): after each step ``ema`` follows the weights (decay
    ``config.ema``), ``history.step`` and ``history.loss`` grow by the step and ``logs["loss"]``, and each
    callback gets (step, ema or model, logs); ``history.seconds`` grows by the loop's seconds."""
    callbacks = list(callbacks)

    def after_step(step: int, logs: dict[str, float]) -> None:
        if ema is not None:
            update_ema(ema, model, config.ema)
        history.step.append(step)
        history.loss.append(logs["loss"])
        for callback in callbacks:
            callback(step, ema if ema is not None else model, logs)

    history.seconds += minimize(
        model, optimizer, batch_loss, config, after_step=after_step, generator=generator,
        start_step=start_step, stop_at=stop_at, progress=progress, plan=plan,
    )
