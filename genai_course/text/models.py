"""The four character-level language models, from counts to a tiny transformer.

Each maps ``(idx (B, T), lang (B,)) -> logits (B, T, V)`` where position t sees only
idx[:, :t + 1]; ``build_charlm`` makes one from a ``CharLMConfig``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .data import START


class _LanguageModel(nn.Module):
    """Shared checks: idx (B, T) int64 token ids, lang (B,) int64 labels (or None if unconditional)."""

    vocab_size: int
    num_languages: int
    block_size: int | None = None  # longest context the model can take (None: any)

    def _check(self, idx: torch.Tensor, lang: torch.Tensor | None) -> None:
        if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.dtype != torch.long:
            got = f"{tuple(idx.shape)} {idx.dtype}" if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise ValueError(f"expected token ids of shape (batch, time) and dtype int64 (got {got})")
        if self.block_size is not None and idx.shape[1] > self.block_size:
            raise ValueError(f"this model reads at most {self.block_size} tokens (got {idx.shape[1]}); crop the context")
        if self.num_languages:
            if lang is None:
                raise ValueError(f"this model is conditioned on the language: pass lang, labels in 0..{self.num_languages - 1}")
            if lang.shape != (idx.shape[0],) or lang.dtype != torch.long:
                raise ValueError(f"lang must be int64 of shape ({idx.shape[0]},) (got {tuple(lang.shape)} {lang.dtype})")
            if len(lang) and (lang.min() < 0 or lang.max() >= self.num_languages):
                raise ValueError(f"language labels must be in 0..{self.num_languages - 1} (got {lang.min()}..{lang.max()})")
        elif lang is not None:
            raise ValueError("this model is not conditioned on a language: pass lang=None")


class BigramLM(_LanguageModel):
    """p(c_t | c_{t-1}, language) from counts: one (V, V) table per language, add-``alpha`` smoothed.

    Nothing is trained by gradients: ``fit`` counts pairs, and ``log_probs`` (L, V, V) holds
    log (count + alpha) / (row total + alpha * (V - 1)); START is never a next character.
    """

    def __init__(self, vocab_size: int, num_languages: int, alpha: float = 0.03) -> None:
        super().__init__()
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0 (got {alpha})")
        self.vocab_size, self.num_languages, self.alpha = vocab_size, num_languages, alpha
        L = max(num_languages, 1)
        self.register_buffer("counts", torch.zeros(L, vocab_size, vocab_size))
        self.register_buffer("log_probs", torch.zeros(L, vocab_size, vocab_size))

    def fit(self, inputs: torch.Tensor, targets: torch.Tensor, lang: torch.Tensor | None = None) -> "BigramLM":
        """Count (previous, next) pairs of (N, T) inputs/targets; -100 targets are skipped."""
        lang = torch.zeros(len(inputs), dtype=torch.long) if lang is None else lang
        keep = targets != -100
        langs = lang[:, None].expand_as(inputs)[keep]
        self.counts.zero_()
        self.counts.index_put_((langs, inputs[keep], targets[keep]), torch.ones(int(keep.sum())), accumulate=True)
        self.set_alpha(self.alpha)
        return self

    def set_alpha(self, alpha: float) -> None:
        self.alpha = alpha
        smoothed = self.counts + alpha
        smoothed[:, :, START] = 0.0  # never predicted
        self.log_probs.copy_(smoothed.log() - smoothed.sum(dim=2, keepdim=True).log())

    def forward(self, idx: torch.Tensor, lang: torch.Tensor | None = None) -> torch.Tensor:
        self._check(idx, lang)
        lang = torch.zeros(len(idx), dtype=torch.long, device=idx.device) if lang is None else lang
        return self.log_probs[lang[:, None], idx]  # (B, T, V): log-probabilities are valid logits


class MLPLM(_LanguageModel):
    """p(c_t | the ``context`` chars before it, language): embeddings of a fixed window, then an MLP.

    Before the name starts, the window is filled with START (Bengio et al. 2003; Karpathy's makemore).
    """

    def __init__(
        self, vocab_size: int, num_languages: int, context: int = 5, embed: int = 24, hidden: int = 256, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.vocab_size, self.num_languages, self.context = vocab_size, num_languages, context
        self.tok = nn.Embedding(vocab_size, embed)
        self.lang = nn.Embedding(num_languages, embed) if num_languages else None
        width = context * embed + (embed if num_languages else 0)
        self.net = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(width, hidden), nn.Tanh(), nn.Dropout(dropout), nn.Linear(hidden, vocab_size)
        )

    def forward(self, idx: torch.Tensor, lang: torch.Tensor | None = None) -> torch.Tensor:
        self._check(idx, lang)
        B, T = idx.shape
        padded = F.pad(idx, (self.context - 1, 0), value=START)  # (B, T + context - 1)
        windows = padded.unfold(1, self.context, 1)  # (B, T, context): the chars up to and including t
        x = self.tok(windows).flatten(2)  # (B, T, context * embed)
        if self.lang is not None:
            x = torch.cat([x, self.lang(lang)[:, None, :].expand(B, T, -1)], dim=2)
        return self.net(x)  # (B, T, V)


class GRULM(_LanguageModel):
    """p(c_t | all chars before it, language) through a gated recurrent unit's state."""

    def __init__(
        self, vocab_size: int, num_languages: int, embed: int = 32, hidden: int = 128, layers: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.vocab_size, self.num_languages = vocab_size, num_languages
        self.tok = nn.Embedding(vocab_size, embed)
        self.lang = nn.Embedding(num_languages, embed) if num_languages else None
        self.gru = nn.GRU(embed, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.h0 = nn.Linear(embed, layers * hidden) if num_languages else None  # the language's starting state
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, idx: torch.Tensor, lang: torch.Tensor | None = None) -> torch.Tensor:
        self._check(idx, lang)
        x = self.drop(self.tok(idx))  # (B, T, E)
        h0 = None
        if self.lang is not None:
            e = self.lang(lang)  # (B, E)
            x = x + e[:, None, :]  # the language is part of every input (never dropped)
            h0 = torch.tanh(self.h0(e)).view(len(idx), self.gru.num_layers, -1).transpose(0, 1).contiguous()  # (layers, B, H)
        h, _ = self.gru(x, h0)  # (B, T, H)
        return self.head(self.drop(h))  # (B, T, V)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t attends only to positions <= t.

    x (B, T, d) -> (B, T, d). With ``keep_attention = True`` the last weights (B, heads, T, T)
    are kept in ``.attention`` for pictures.
    """

    def __init__(self, d_model: int, heads: int, block_size: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of heads ({heads})")
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)
        self.register_buffer("mask", torch.tril(torch.ones(block_size, block_size, dtype=torch.bool)))
        self.keep_attention = False
        self.attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)  # each (B, T, d)
        q, k, v = (a.view(B, T, self.heads, d // self.heads).transpose(1, 2) for a in (q, k, v))  # (B, h, T, d/h)
        scores = q @ k.transpose(-2, -1) / math.sqrt(d // self.heads)  # (B, h, T, T)
        scores = scores.masked_fill(~self.mask[:T, :T], float("-inf"))  # no peeking at later chars
        weights = scores.softmax(dim=-1)
        if self.keep_attention:
            self.attention = weights.detach()
        y = self.drop(weights) @ v  # (B, h, T, d/h)
        return self.proj(y.transpose(1, 2).reshape(B, T, d))


class _Block(nn.Module):
    def __init__(self, d_model: int, heads: int, block_size: int, dropout: float) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, heads, block_size, dropout)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model), nn.Dropout(dropout))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.mlp(self.ln2(x))


class TransformerLM(_LanguageModel):
    """A tiny GPT: token + position (+ language) embeddings, pre-norm blocks of causal attention and MLP."""

    def __init__(
        self, vocab_size: int, num_languages: int, block_size: int = 18, d_model: int = 64, heads: int = 4,
        layers: int = 2, dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.vocab_size, self.num_languages, self.block_size = vocab_size, num_languages, block_size
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(block_size, d_model)
        self.lang = nn.Embedding(num_languages, d_model) if num_languages else None
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(_Block(d_model, heads, block_size, dropout) for _ in range(layers)))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, idx: torch.Tensor, lang: torch.Tensor | None = None) -> torch.Tensor:
        self._check(idx, lang)
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(T, device=idx.device))  # (B, T, d)
        if self.lang is not None:
            x = x + self.lang(lang)[:, None, :]
        return self.head(self.ln(self.blocks(self.drop(x))))  # (B, T, V)


@dataclass
class CharLMConfig:
    """Which model and its size. ``kind``: 'bigram', 'mlp', 'gru' or 'transformer'."""

    kind: str = "gru"
    embed: int = 48  # embedding width (d_model for the transformer)
    hidden: int = 192  # MLP hidden units / GRU state size
    context: int = 5  # MLP: chars in its window
    layers: int = 1  # GRU layers / transformer blocks
    heads: int = 4  # transformer
    dropout: float = 0.25
    alpha: float = 0.03  # bigram smoothing (the best held-out NLL of 0.005-1)


def build_charlm(config: CharLMConfig, vocab_size: int, num_languages: int, block_size: int) -> nn.Module:
    c = config
    if c.kind == "bigram":
        return BigramLM(vocab_size, num_languages, c.alpha)
    if c.kind == "mlp":
        return MLPLM(vocab_size, num_languages, c.context, c.embed, c.hidden, c.dropout)
    if c.kind == "gru":
        return GRULM(vocab_size, num_languages, c.embed, c.hidden, c.layers, c.dropout)
    if c.kind == "transformer":
        return TransformerLM(vocab_size, num_languages, block_size, c.embed, c.heads, c.layers, c.dropout)
    raise ValueError(f"unknown model kind {c.kind!r}: choose 'bigram', 'mlp', 'gru' or 'transformer'")
