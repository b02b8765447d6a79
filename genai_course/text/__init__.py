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

The rooms: ``data`` (the names, the running text and the vocabulary), ``models`` (the four
language models and ``build_charlm``), ``training`` (``train_charlm``, ``train_on_text`` and the
held-out NLL), ``sampling`` (names and text, one character at a time). Every public name is
importable from ``genai_course.text``.
"""

from __future__ import annotations

from .data import (
    END, LANGUAGES, LOCALES, START, NamesData, NameSplit, TextData, Vocab, faker_first_names, load_names, load_text,
    load_topics, validation_names,
)
from .models import GRULM, MLPLM, BigramLM, CausalSelfAttention, CharLMConfig, TransformerLM, build_charlm
from .sampling import check_sampling, next_char_probs, sample_names, sample_text
from .training import CharLMHistory, CharLMTrainConfig, nll_per_char, text_windows, train_charlm, train_on_text

__all__ = [
    "LOCALES", "LANGUAGES", "START", "END", "Vocab", "NameSplit", "NamesData", "faker_first_names",
    "load_names", "validation_names", "BigramLM", "MLPLM", "GRULM", "TransformerLM", "CausalSelfAttention", "CharLMConfig",
    "build_charlm", "CharLMTrainConfig", "CharLMHistory", "train_charlm", "nll_per_char",
    "check_sampling", "next_char_probs", "sample_names", "load_topics", "TextData", "load_text",
    "text_windows", "train_on_text", "sample_text",
]
