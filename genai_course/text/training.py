"""Training the language models: the next-character cross-entropy with AdamW through the
course's loop (``loop.minimize``), on names or on windows of running text, and the held-out
negative log-likelihood in nats per character."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn
from torch.nn import functional as F

from ..loop import Plan, Stream, minimize
from .data import TextData
from .models import BigramLM


def nll_per_char(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, lang: torch.Tensor | None = None) -> float:
    """Mean -log p(next char) in nats over every predicted token (the END token included)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            total, count = 0.0, 0
            for i in range(0, len(inputs), 1024):
                sl = slice(i, i + 1024)
                logits = model(inputs[sl], None if lang is None else lang[sl])
                total += F.cross_entropy(logits.flatten(0, 1), targets[sl].flatten(), reduction="sum").item()
                count += int((targets[sl] != -100).sum())
    finally:
        model.train(was_training)
    return total / count


@dataclass
class CharLMTrainConfig:
    steps: int = 3000
    batch_size: int = 64
    lr: float = 4e-3
    lr_decay: str = "cosine"  # 'none', 'linear' or 'cosine' (loop.lr_factor)
    lr_final: float = 0.05  # ... down to lr * lr_final
    weight_decay: float = 0.01  # AdamW, on weight matrices only
    eval_every: int = 250  # held-out NLL every this many steps (0: never)
    seed: int = 0


@dataclass
class CharLMHistory:
    step: list[int] = field(default_factory=list)
    train_nll: list[float] = field(default_factory=list)  # per step, nats per char
    eval_step: list[int] = field(default_factory=list)
    heldout_nll: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _optimizer(model: nn.Module, c: CharLMTrainConfig) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "tok" not in n and "pos" not in n and "lang" not in n]
    rest = [p for n, p in model.named_parameters() if not any(p is q for q in decay)]
    groups = [{"params": decay, "weight_decay": c.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=c.lr, betas=(0.9, 0.99))


def train_charlm(
    model: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None],
    config: CharLMTrainConfig | None = None,
    *,
    heldout: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None,
    callbacks: Iterable[Callable[[int, nn.Module], None]] = (),
    progress: bool = False,
    plan: Plan | None = None,
) -> CharLMHistory:
    """Minimise the next-char cross-entropy on (inputs, targets, lang) tensors with AdamW.

    Minibatches are drawn with replacement from a generator seeded by ``config.seed``, four at
    a time, grouped by length and cropped to the longest name in each: padding is not computed.
    A ``BigramLM`` is fitted by counting instead.
    """
    c = config or CharLMTrainConfig()
    hist = CharLMHistory()
    inputs, targets, lang = train
    if isinstance(model, BigramLM):
        model.fit(inputs, targets, lang)
        return hist
    torch.manual_seed(c.seed)  # dropout
    g = torch.Generator().manual_seed(c.seed)
    opt = _optimizer(model, c)
    lengths = (targets != -100).sum(dim=1)
    callbacks = list(callbacks)

    def batch_loss(step: int, stream: Stream) -> tuple[torch.Tensor, dict[str, float]]:
        queue = stream.state.setdefault("queue", [])
        if not queue:  # draw 4 batches at once and group them by length: less padding to compute
            b, gen = stream.batch_size, stream.generator
            drawn = torch.randint(len(inputs), (4 * b,), generator=gen)
            drawn = drawn[lengths[drawn].argsort(stable=True)]
            queue.extend(drawn[j * b : (j + 1) * b] for j in torch.randperm(4, generator=gen).tolist())
        i = queue.pop()
        T = int(lengths[i].max())
        logits = model(inputs[i, :T], None if lang is None else lang[i])
        loss = F.cross_entropy(logits.flatten(0, 1), targets[i, :T].flatten())
        return loss, {"loss": loss.item()}

    def after_step(step: int, logs: dict[str, float]) -> None:
        hist.step.append(step)
        hist.train_nll.append(logs["loss"])
        if heldout is not None and c.eval_every and (step % c.eval_every == 0 or step == c.steps):
            hist.eval_step.append(step)
            hist.heldout_nll.append(nll_per_char(model, *heldout))
        for cb in callbacks:
            cb(step, model)

    hist.seconds = minimize(model, opt, batch_loss, c, after_step=after_step, generator=g, progress=progress, plan=plan)
    return hist


def _windows(ids: torch.Tensor, starts: torch.Tensor, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    offsets = torch.arange(block)
    return ids[starts[:, None] + offsets], ids[starts[:, None] + offsets + 1]  # (B, block) each


def text_windows(ids: torch.Tensor, block: int, count: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, None]:
    """``count`` random (inputs, targets, None) windows of ``block`` chars: targets are inputs shifted by one."""
    starts = torch.randint(len(ids) - block - 1, (count,), generator=generator)
    return (*_windows(ids, starts, block), None)


def train_on_text(model: nn.Module, data: TextData, config: CharLMTrainConfig, *, heldout_windows: int = 256) -> CharLMHistory:
    """Train an unconditional model on random windows of ``model.block_size`` chars of running text."""
    block = model.block_size
    g = torch.Generator().manual_seed(config.seed)
    # a fresh pool of windows large enough that no window repeats often
    pool = text_windows(data.train, block, config.steps * config.batch_size // 4 + config.batch_size, g)
    starts = torch.arange(0, len(data.heldout) - block - 1, (len(data.heldout) - block - 1) // heldout_windows)[:heldout_windows]
    heldout = (*_windows(data.heldout, starts, block), None)
    return train_charlm(model, pool, config, heldout=heldout)
