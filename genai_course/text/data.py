"""The text the models learn from: first names in eight languages (faker's lists, split by
name string), CPython's help topics as running text, and the vocabulary of characters with
its START and END tokens."""

from __future__ import annotations

import collections
import functools
import importlib
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch

LOCALES = ("en_US", "de_DE", "es_ES", "it_IT", "nl_NL", "sv_SE", "tr_TR", "el_GR")
LANGUAGES = {
    "en_US": "English (US)", "de_DE": "German", "es_ES": "Spanish", "it_IT": "Italian",
    "nl_NL": "Dutch", "sv_SE": "Swedish", "tr_TR": "Turkish", "el_GR": "Greek",
}
START, END = 0, 1  # token ids of the special tokens
_SPECIALS = ("<s>", "</s>")


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


def _cut_by_name(names: Sequence[str], labels: Sequence[int], fraction: float, seed: int) -> tuple[NameSplit, NameSplit]:
    """Split labelled names by name string: a ``fraction`` of the distinct names, drawn with
    ``seed``, go to the second part with every copy of them (a name in several languages stays
    on one side); both parts keep the given order."""
    distinct = sorted(set(names))
    order = torch.randperm(len(distinct), generator=torch.Generator().manual_seed(seed)).tolist()
    chosen = {distinct[i] for i in order[: round(fraction * len(distinct))]}

    def part(inside: bool) -> NameSplit:
        picked = [i for i, n in enumerate(names) if (n in chosen) == inside]
        return NameSplit(tuple(names[i] for i in picked), torch.tensor([labels[i] for i in picked], dtype=torch.long))

    return part(False), part(True)


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
    train, heldout = _cut_by_name([n for n, _ in pairs], [k for _, k in pairs], heldout_fraction, seed=0)
    vocab = Vocab.from_texts(train.names + heldout.names)  # the alphabet is known, the names are not
    return NamesData(locales, train, heldout, vocab)


def validation_names(data: NamesData, fraction: float = 0.2) -> NamesData:
    """``data`` with its training names cut in two, for tuning (``genai-course tune``): a
    ``fraction`` of them, drawn by name string with seed 1, become ``heldout`` (the validation set)
    and the rest ``train``. The real held-out names are not in it, so a search that picks settings
    by their validation score never sees the names the models are judged on. Same vocabulary."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1 (got {fraction})")
    train, validation = _cut_by_name(data.train.names, data.train.labels.tolist(), fraction, seed=1)
    return NamesData(data.locales, train, validation, data.vocab)


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
