"""Character-level language models (lesson 09): names in the style of a chosen language.

A language model generates text one character at a time from p(next char | the chars so far).
Training minimises the negative log-likelihood (NLL) of each next character, in nats per
character; sampling draws a character, appends it, and asks again until the end token.

* Data: first names from ``faker``'s person providers for eight locales (installed with the
  course, no download), each name labelled with its locale. A name string is either wholly in
  the training split or wholly in the held-out one, so held-out names are really unseen.
* ``Vocab``: every character of the training names (Unicode: Greek, Turkish, accents) plus two
  special tokens, START (0), which every name begins with, and END (1), which ends it.
* Four models, all conditioned on the language, all mapping ``(idx (B, T), lang (B,)) ->
  logits (B, T, V)`` where position t sees only idx[:, :t + 1]:
  ``BigramLM`` (smoothed counts of char pairs, one table per language), ``MLPLM`` (a fixed
  window of the last ``context`` chars), ``GRULM`` (a recurrent state), ``TransformerLM``
  (causal self-attention over the whole name).
* ``sample_names``: temperature and top-k, reproducible with ``generator=``.
* ``load_topics``: CPython's own help texts (``pydoc_data.topics``) as running text for the
  same transformer with a longer context.
"""

from __future__ import annotations

import collections
import functools
import importlib
import math
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .train import Plan, Stream, eval_mode, minimize

__all__ = [
    "LOCALES", "LANGUAGES", "START", "END", "Vocab", "NameSplit", "NamesData", "faker_first_names",
    "load_names", "BigramLM", "MLPLM", "GRULM", "TransformerLM", "CausalSelfAttention", "CharLMConfig",
    "build_charlm", "CharLMTrainConfig", "CharLMHistory", "train_charlm", "nll_per_char",
    "check_sampling", "next_char_probs", "sample_names", "load_topics", "TextData", "load_text",
    "text_windows", "train_on_text", "sample_text",
]

LOCALES = ("en_US", "de_DE", "es_ES", "it_IT", "nl_NL", "sv_SE", "tr_TR", "el_GR")
LANGUAGES = {
    "en_US": "English (US)", "de_DE": "German", "es_ES": "Spanish", "it_IT": "Italian",
    "nl_NL": "Dutch", "sv_SE": "Swedish", "tr_TR": "Turkish", "el_GR": "Greek",
}
START, END = 0, 1  # token ids of the special tokens
_SPECIALS = ("<s>", "</s>")


# ---------------------------------------------------------------------------------- the data


def _clean(name: str) -> str | None:
    """NFC-normalised name, or None for faker's few glitches ('Emine.', 'N˜zamett˜n')."""
    name = unicodedata.normalize("NFC", name.strip())
    parts = name.replace("-", " ").split(" ")
    return name if name and all(p.isalpha() for p in parts) else None


def faker_first_names(locale: str) -> list[str]:
    """Sorted distinct first names (all, male and female lists) of one faker locale."""
    try:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    except ModuleNotFoundError as err:
        if err.name == "faker":
            raise ModuleNotFoundError("the names need the 'faker' package: pip install faker") from err
        raise ValueError(f"faker has no person provider for locale {locale!r}") from err
    names: set[str] = set()
    for attr in ("first_names", "first_names_male", "first_names_female"):
        listed = getattr(provider, attr, ())
        names.update(n for n in map(_clean, listed) if n)  # a dict (name -> weight) iterates names
    return sorted(names)


class Vocab:
    """Characters <-> token ids. Ids 0 and 1 are START and END; characters follow in sorted order."""

    def __init__(self, chars: Iterable[str]) -> None:
        chars = sorted(set(chars))
        if any(len(c) != 1 for c in chars):
            raise ValueError("a vocabulary is made of single characters")
        self.itos: list[str] = [*_SPECIALS, *chars]
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.itos) if i >= 2}

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> "Vocab":
        chars: set[str] = set()
        for t in texts:
            chars.update(t)
        return cls(chars)

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def chars(self) -> str:
        return "".join(self.itos[2:])

    def encode(self, text: str) -> list[int]:
        """Token ids of the characters of ``text`` (no START/END)."""
        try:
            return [self.stoi[c] for c in text]
        except KeyError as err:
            raise ValueError(
                f"character {err.args[0]!r} in {text!r} is not in the vocabulary "
                f"({len(self) - 2} characters seen in the training text)"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """The characters of ``ids``, stopping at END and skipping START."""
        out = []
        for i in ids:
            i = int(i)
            if i == END:
                break
            if i != START:
                out.append(self.itos[i])
        return "".join(out)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: START, END and {len(self) - 2} characters)"


@dataclass(frozen=True)
class NameSplit:
    """Names with their language labels (index into ``NamesData.locales``)."""

    names: tuple[str, ...]
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.names)

    def tensors(self, vocab: Vocab) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets), each (N, T) int64 with T = longest name + 1.

        inputs[i] = START c1 ... cn END END ...; targets[i] = c1 ... cn END -100 ...
        (-100 is ignored by cross_entropy), so inputs[:, t] predicts targets[:, t].
        """
        T = max(len(n) for n in self.names) + 1
        inputs = torch.full((len(self), T), END, dtype=torch.long)
        targets = torch.full((len(self), T), -100, dtype=torch.long)
        for i, name in enumerate(self.names):
            ids = vocab.encode(name)
            inputs[i, : len(ids) + 1] = torch.tensor([START, *ids])
            targets[i, : len(ids) + 1] = torch.tensor([*ids, END])
        return inputs, targets


@dataclass(frozen=True)
class NamesData:
    """Training and held-out names, the locales they are labelled with, and the vocabulary."""

    locales: tuple[str, ...]
    train: NameSplit
    heldout: NameSplit
    vocab: Vocab

    @property
    def max_len(self) -> int:
        """Longest name in characters (either split)."""
        return max(len(n) for n in (*self.train.names, *self.heldout.names))

    def locale_index(self, locale: str | int) -> int:
        """The label of a locale ('de_DE') or a checked label index."""
        if isinstance(locale, int) and not isinstance(locale, bool) and 0 <= locale < len(self.locales):
            return locale
        if isinstance(locale, str) and locale in self.locales:
            return self.locales.index(locale)
        choices = ", ".join(self.locales)
        raise ValueError(f"unknown language {locale!r}: choose one of {choices} (or an index 0-{len(self.locales) - 1})")

    def labels_for(self, locale: str | int | Sequence[str | int], n: int) -> torch.Tensor:
        """(n,) labels: one locale repeated, or one per name."""
        if isinstance(locale, (str, int)):
            return torch.full((n,), self.locale_index(locale), dtype=torch.long)
        labels = [self.locale_index(x) for x in locale]
        if len(labels) != n:
            raise ValueError(f"got {len(labels)} languages for {n} names")
        return torch.tensor(labels, dtype=torch.long)


@functools.lru_cache(maxsize=4)
def load_names(locales: tuple[str, ...] = LOCALES, heldout_fraction: float = 0.2, shared: str = "drop") -> NamesData:
    """Faker's first names for ``locales`` with a fixed held-out split by name string.

    ``shared``: what to do with a name that several locales list ('Anna' is German, Swedish,
    Italian, ...): 'drop' it (default: every name has one language), or 'keep' one copy per
    locale (all copies on the same side of the split).
    """
    if shared not in ("drop", "keep"):
        raise ValueError(f"shared must be 'drop' or 'keep' (got {shared!r})")
    locales = tuple(locales)
    if not locales or len(set(locales)) != len(locales):
        raise ValueError(f"locales must be distinct and at least one (got {locales!r})")
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be between 0 and 1 (got {heldout_fraction})")
    pairs = [(name, k) for k, loc in enumerate(locales) for name in faker_first_names(loc)]
    if shared == "drop":
        listed = collections.Counter(name for name, _ in pairs)
        pairs = [(name, k) for name, k in pairs if listed[name] == 1]
    distinct = sorted({name for name, _ in pairs})
    order = torch.randperm(len(distinct), generator=torch.Generator().manual_seed(0)).tolist()
    heldout_names = {distinct[i] for i in order[: round(heldout_fraction * len(distinct))]}

    def split(keep: Callable[[str], bool]) -> NameSplit:
        chosen = [(n, k) for n, k in pairs if keep(n)]
        return NameSplit(tuple(n for n, _ in chosen), torch.tensor([k for _, k in chosen], dtype=torch.long))

    train = split(lambda n: n not in heldout_names)
    heldout = split(lambda n: n in heldout_names)
    vocab = Vocab.from_texts(train.names + heldout.names)  # the alphabet is known, the names are not
    return NamesData(locales, train, heldout, vocab)


# ---------------------------------------------------------------------------------- the models


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


# ---------------------------------------------------------------------------------- training


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
    lr_decay: str = "cosine"  # 'none', 'linear' or 'cosine' (train.lr_factor)
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


# ---------------------------------------------------------------------------------- sampling


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


# ---------------------------------------------------------------------------------- running text


def load_topics() -> str:
    """CPython's help topics (``pydoc_data.topics``), joined in key order: about 465,000 chars."""
    from pydoc_data.topics import topics

    return "\n".join(topics[k] for k in sorted(topics))


@dataclass(frozen=True)
class TextData:
    """Running text as token ids with a 90/10 train/held-out split (the held-out part is the end)."""

    vocab: Vocab
    train: torch.Tensor  # (N,) int64
    heldout: torch.Tensor  # (M,) int64


def load_text(text: str | None = None, heldout_fraction: float = 0.1) -> TextData:
    text = load_topics() if text is None else text
    vocab = Vocab(set(text))
    ids = torch.tensor(vocab.encode(text), dtype=torch.long)
    cut = int(len(ids) * (1 - heldout_fraction))
    return TextData(vocab, ids[:cut], ids[cut:])


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
