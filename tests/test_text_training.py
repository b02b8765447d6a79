"""genai_course.text.training: training beats counting, overfits a few names, is reproducible; text windows."""

from __future__ import annotations

import math

import pytest
import torch

from genai_course import text
from shared import names, tensors  # noqa: F401 (fixtures)


def test_training_beats_counting_quickly(names, tensors):
    train, heldout = tensors
    V, L = len(names.vocab), len(names.locales)
    torch.manual_seed(0)
    m = text.MLPLM(V, L, context=3, embed=16, hidden=64)
    before = text.nll_per_char(m, *heldout)
    assert before == pytest.approx(math.log(V), abs=0.3)  # an untrained model guesses about uniformly
    hist = text.train_charlm(m, train, text.CharLMTrainConfig(steps=400, batch_size=64, eval_every=200), heldout=heldout)
    assert hist.eval_step == [200, 400] and len(hist.train_nll) == 400
    assert hist.heldout_nll[-1] < 2.6 < before
    assert not m.training  # left in eval mode


def test_transformer_overfits_a_few_names(names):
    d = names
    few = text.NameSplit(d.train.names[:16], d.train.labels[:16])
    inputs, targets = few.tensors(d.vocab)
    torch.manual_seed(0)
    m = text.TransformerLM(len(d.vocab), len(d.locales), d.max_len + 1, d_model=32, heads=2, layers=2, dropout=0.0)
    text.train_charlm(m, (inputs, targets, few.labels), text.CharLMTrainConfig(steps=300, batch_size=16, lr=3e-3, weight_decay=0.0))
    # A model that has memorised 16 names gives each probability 1/16: log 16 nats per name in all.
    floor = 16 * math.log(16) / int((targets != -100).sum())
    assert text.nll_per_char(m, inputs, targets, few.labels) < floor + 0.1


def test_training_is_reproducible(names, tensors):
    train, _ = tensors
    runs = []
    for _ in range(2):
        torch.manual_seed(123)
        m = text.GRULM(len(names.vocab), len(names.locales), embed=8, hidden=16, dropout=0.2)
        text.train_charlm(m, train, text.CharLMTrainConfig(steps=30, seed=5))
        runs.append(torch.cat([p.flatten() for p in m.parameters()]))
    assert torch.equal(*runs)


def test_text_windows():
    data = text.load_text()
    x, y, lang = text.text_windows(data.train, 16, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 16) and lang is None and torch.equal(x[:, 1:], y[:, :-1])
