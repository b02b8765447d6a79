"""Sampling from a language model, one character at a time: names until END (with a language),
running text after a prompt; temperature and top-k, reproducible with ``generator=``."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ..loop import eval_mode
from .data import END, START, Vocab


def check_sampling(temperature: float, top_k: int | None) -> None:
    """Clear errors for a temperature <= 0 or a top-k < 1."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0 or math.isinf(temperature):
        raise ValueError(f"temperature must be a number > 0 (got {temperature!r}); 1.0 samples the model as trained")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be None (all characters) or an int >= 1 (got {top_k!r})")


def _next_logits(model: nn.Module, idx: torch.Tensor, lang: torch.Tensor | None) -> torch.Tensor:
    block = getattr(model, "block_size", None)
    window = idx if block is None else idx[:, -block:]
    logits = model(window, lang)[:, -1, :].clone()  # (B, V)
    logits[:, START] = float("-inf")  # START begins a text, it never follows
    return logits


def _draw(logits: torch.Tensor, temperature: float, top_k: int | None, generator: torch.Generator | None) -> torch.Tensor:
    logits = logits.float().cpu() / temperature  # draws on the CPU: the generator is a CPU one
    if top_k is not None and top_k < logits.shape[1]:
        top = logits.topk(top_k, dim=1).indices  # (B, k): exactly k, ties broken by position
        logits = torch.full_like(logits, float("-inf")).scatter(1, top, logits.gather(1, top))
    probs = logits.softmax(dim=1)
    return torch.multinomial(probs, 1, generator=generator)  # (B, 1)


@torch.no_grad()
def next_char_probs(model: nn.Module, vocab: Vocab, prefix: str, lang: int | None = None, temperature: float = 1.0) -> torch.Tensor:
    """p(next token | START + prefix, language) as a (V,) tensor on the CPU (END included, START 0)."""
    check_sampling(temperature, None)
    with eval_mode(model) as device:
        idx = torch.tensor([[START, *vocab.encode(prefix)]], device=device)
        lang_t = None if lang is None else torch.tensor([lang], device=device)
        return (_next_logits(model, idx, lang_t)[0] / temperature).softmax(dim=0).cpu()


@torch.no_grad()
def sample_names(
    model: nn.Module,
    vocab: Vocab,
    lang: torch.Tensor | Sequence[int] | None,
    n: int | None = None,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    max_len: int = 30,
    generator: torch.Generator | None = None,
) -> list[str]:
    """Draw names one char at a time until END (or ``max_len`` chars). lang: (B,) labels, or None with ``n``."""
    check_sampling(temperature, top_k)
    if isinstance(lang, str) or (isinstance(lang, (list, tuple)) and any(isinstance(x, str) for x in lang)):
        raise ValueError(f"lang takes label numbers, not locales (got {lang!r}): use data.labels_for('de_DE', n)")
    if lang is not None and not isinstance(lang, torch.Tensor):
        lang = torch.as_tensor(lang, dtype=torch.long)  # a list of labels
    if lang is None:
        if n is None:
            raise ValueError("pass lang (one label per name) or, for an unconditional model, n")
        count = n
    else:
        count = len(lang)
    with eval_mode(model) as device:
        lang = None if lang is None else lang.to(device)
        idx = torch.full((count, 1), START, dtype=torch.long, device=device)
        done = torch.zeros(count, dtype=torch.bool, device=device)
        for _ in range(max_len + 1):
            nxt = _draw(_next_logits(model, idx, lang), temperature, top_k, generator).to(device)  # (B, 1)
            nxt[done] = END
            idx = torch.cat([idx, nxt], dim=1)
            done |= nxt[:, 0] == END
            if done.all():
                break
    return [vocab.decode(row[1:]) for row in idx.cpu()]


@torch.no_grad()
def sample_text(
    model: nn.Module, vocab: Vocab, prompt: str, length: int = 200, *, temperature: float = 1.0,
    top_k: int | None = None, generator: torch.Generator | None = None,
) -> str:
    """Continue ``prompt`` by ``length`` characters of an unconditional text model."""
    check_sampling(temperature, top_k)
    if not prompt:
        raise ValueError("give a prompt of at least one character to continue")
    with eval_mode(model) as device:
        idx = torch.tensor([vocab.encode(prompt)], dtype=torch.long, device=device)
        for _ in range(length):
            logits = model(idx[:, -model.block_size :], None)[:, -1, :].clone()
            logits[:, [START, END]] = float("-inf")  # running text has no start or end tokens
            idx = torch.cat([idx, _draw(logits, temperature, top_k, generator).to(device)], dim=1)
    return "".join(vocab.itos[i] for i in idx[0].tolist())
