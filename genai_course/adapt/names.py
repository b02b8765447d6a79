"""Teaching the names model (lesson 09) a language it never saw, from a few dozen names.

``few_names`` picks the new language's names to learn from and keeps the rest to judge by;
``adapt_names`` grows the model by one language row and trains it by one of the four methods;
``scratch_names`` trains a fresh model on the same few names (what the knowledge of the other
languages is worth); ``judge_names`` measures held-out nats per character on the new language
and on the old ones (the drift).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from .. import text as textlib
from .methods import AdaptConfig, adapter_state, prepare, state_bytes, trainable_parameters
from .new_class import add_language, check_network

__all__ = ["NEW_LANGUAGE", "FewNames", "few_names", "NamesAdaptation", "adapt_names", "scratch_names", "NamesReport", "judge_names"]

NEW_LANGUAGE = "fi_FI"  # Finnish: every letter is in the eight languages' alphabet, its spelling is like none of them


@dataclass(frozen=True)
class FewNames:
    """A new language's names: ``train`` to learn from, ``heldout`` (every other one) to judge by."""

    locale: str
    train: textlib.NameSplit
    heldout: textlib.NameSplit


def few_names(vocab: textlib.Vocab, label: int, n: int = 50, locale: str = NEW_LANGUAGE, seed: int = 0) -> FewNames:
    """``n`` of ``locale``'s faker first names in a random order (``seed``), labelled ``label``; the
    rest held out. Names with a letter the vocabulary lacks are left out (the model cannot spell them)."""
    names = [x for x in textlib.faker_first_names(locale) if all(c in vocab.chars for c in x)]
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= len(names) - 20:
        raise ValueError(f"{locale} has {len(names)} names the model can spell: ask for 1 to {len(names) - 20} of them, "
                         f"so that some stay held out (got {n!r})")
    order = torch.randperm(len(names), generator=torch.Generator().manual_seed(seed)).tolist()

    def split(part: list[int]) -> textlib.NameSplit:
        return textlib.NameSplit(tuple(names[i] for i in part), torch.full((len(part),), label, dtype=torch.long))

    return FewNames(locale, split(order[:n]), split(order[n:]))


@dataclass
class NamesAdaptation:
    model: textlib.GRULM
    method: str
    trainable: int
    adapter_bytes: int
    seconds: float


def _tensors(*splits: textlib.NameSplit, vocab: textlib.Vocab) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(inputs, targets, lang) of several splits, padded to one width."""
    parts = [s.tensors(vocab) for s in splits]
    width = max(x.shape[1] for x, _ in parts)
    inputs = torch.cat([F.pad(x, (0, width - x.shape[1]), value=textlib.END) for x, _ in parts])
    targets = torch.cat([F.pad(t, (0, width - t.shape[1]), value=-100) for _, t in parts])
    return inputs, targets, torch.cat([s.labels for s in splits])


def adapt_names(base: textlib.GRULM, vocab: textlib.Vocab, shots: FewNames, config: AdaptConfig | None = None) -> NamesAdaptation:
    """Teach a names model of K languages the language K from ``shots`` (labelled K). The base is copied."""
    config = config or AdaptConfig(steps=300)
    check_network(base, textlib.GRULM, "adapt_names")
    k = base.num_languages
    if int(shots.train.labels[0]) != k:
        raise ValueError(f"this model knows languages 0..{k - 1}: the new one must be labelled {k}")
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    grown = prepare(add_language(base), config.method, config.rank, generator)
    splits = [shots.train]
    if config.method == "replay":
        lang = torch.arange(config.replay) % k
        own = textlib.sample_names(base, vocab, lang, temperature=1.0, generator=generator)
        repeat = -(-config.replay // len(shots.train))
        splits = [textlib.NameSplit(shots.train.names * repeat, shots.train.labels.repeat(repeat)), textlib.NameSplit(tuple(own), lang)]
    train = textlib.CharLMTrainConfig(steps=config.steps, batch_size=config.batch_size, lr=config.lr, eval_every=0, seed=config.seed)
    start = time.perf_counter()
    textlib.train_charlm(grown, _tensors(*splits, vocab=vocab), train)
    seconds = time.perf_counter() - start
    grown.eval()
    return NamesAdaptation(grown, config.method, trainable_parameters(grown), state_bytes(adapter_state(grown)), seconds)


def scratch_names(vocab: textlib.Vocab, shots: FewNames, model: textlib.CharLMConfig, config: AdaptConfig | None = None) -> NamesAdaptation:
    """A fresh names model of one language trained on ``shots.train`` alone, with the same steps and
    learning rate as the adaptations: what the few names teach without the other languages."""
    config = config or AdaptConfig(steps=300)
    torch.manual_seed(config.seed)
    net = textlib.build_charlm(model, len(vocab), 1, 64)
    zero = dataclasses.replace(shots.train, labels=torch.zeros_like(shots.train.labels))
    train = textlib.CharLMTrainConfig(steps=config.steps, batch_size=config.batch_size, lr=config.lr, eval_every=0, seed=config.seed)
    start = time.perf_counter()
    textlib.train_charlm(net, _tensors(zero, vocab=vocab), train)
    seconds = time.perf_counter() - start
    net.eval()
    return NamesAdaptation(net, "scratch", trainable_parameters(net), state_bytes(adapter_state(net)), seconds)


@dataclass(frozen=True)
class NamesReport:
    """Held-out nats per character: on the new language's unseen names, and on the old languages' held-out names."""

    new_nll: float
    old_nll: float  # nan for a model that knows only the new language

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        return f"new language {self.new_nll:.3f} nats/char, old languages {self.old_nll:.3f} nats/char"


def judge_names(model: torch.nn.Module, vocab: textlib.Vocab, shots: FewNames, old_heldout: textlib.NameSplit | None) -> NamesReport:
    """Held-out NLL of ``model`` on the new language (``shots.heldout``) and, if given, on the old
    languages' held-out names. A one-language model (from ``scratch_names``) reads label 0 as the new
    one; a model that does not know the new language yet (the base) gets nan for it."""
    new = shots.heldout
    known = getattr(model, "num_languages", 0)
    if known == 1:
        new = dataclasses.replace(new, labels=torch.zeros_like(new.labels))
    new_nll = textlib.nll_per_char(model, *_tensors(new, vocab=vocab)) if known > int(new.labels[0]) else float("nan")
    old_nll = float("nan") if old_heldout is None else textlib.nll_per_char(model, *_tensors(old_heldout, vocab=vocab))
    return NamesReport(new_nll, old_nll)
