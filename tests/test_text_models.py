"""genai_course.text.models: the bigram counts by hand, causality, the language, attention against PyTorch's."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genai_course import text
from shared import names, tensors  # noqa: F401 (fixtures)


def _models(V: int, L: int):
    torch.manual_seed(0)
    return {
        "mlp": text.MLPLM(V, L, context=3, embed=8, hidden=32),
        "gru": text.GRULM(V, L, embed=8, hidden=16),
        "transformer": text.TransformerLM(V, L, block_size=12, d_model=16, heads=2, layers=2, dropout=0.0),
    }


def test_bigram_is_smoothed_counts_by_hand():
    V = 5  # START, END, a, b, c
    inputs = torch.tensor([[0, 2, 3], [0, 2, 1]])
    targets = torch.tensor([[2, 3, 1], [2, 1, -100]])
    m = text.BigramLM(V, 0, alpha=0.5).fit(inputs, targets)
    # row 'a' (2): seen a->b once, a->END once; 4 possible next tokens (START never)
    expected = torch.tensor([0.0, 1.5, 0.5, 1.5, 0.5]) / 4.0
    assert torch.allclose(m.log_probs[0, 2].exp(), expected)
    assert torch.isneginf(m.log_probs[0, :, text.START]).all()
    assert torch.allclose(m.log_probs[0].exp().sum(dim=1), torch.ones(V))
    # its NLL is the mean of -log p over the 5 real targets (the padding is skipped)
    nll = -(m.log_probs[0, 0, 2] * 2 + m.log_probs[0, 2, 3] + m.log_probs[0, 3, 1] + m.log_probs[0, 2, 1]) / 5
    assert text.nll_per_char(m, inputs, targets) == pytest.approx(nll.item(), rel=1e-6)


def test_bigram_tables_are_per_language(names, tensors):
    train, heldout = tensors
    V, L = len(names.vocab), len(names.locales)
    m = text.BigramLM(V, L).fit(*train)
    greek = names.vocab.stoi["α"]
    assert m.counts[7, :, greek].sum() > 100 and m.counts[:7, :, greek].sum() == 0
    unconditional = text.BigramLM(V, 0).fit(train[0], train[1])
    assert text.nll_per_char(m, *heldout) < text.nll_per_char(unconditional, heldout[0], heldout[1]) - 0.1


@pytest.mark.parametrize("kind", ["mlp", "gru", "transformer"])
def test_models_are_causal_and_use_the_language(kind):
    V, L = 9, 3
    m = _models(V, L)[kind].eval()
    idx = torch.randint(2, V, (4, 10), generator=torch.Generator().manual_seed(0))
    idx[:, 0] = text.START
    lang = torch.tensor([0, 1, 2, 0])
    out = m(idx, lang)
    assert out.shape == (4, 10, V)
    later = idx.clone()
    later[:, 6:] = (later[:, 6:] + 1 - 2) % (V - 2) + 2  # change every char from position 6 on
    assert torch.allclose(m(later, lang)[:, :6], out[:, :6], atol=1e-6)  # the past never sees the future
    assert not torch.allclose(m(later, lang)[:, 6:], out[:, 6:])
    assert not torch.allclose(m(idx, (lang + 1) % L), out)  # the language matters


def test_attention_matches_pytorch_causal_attention():
    torch.manual_seed(0)
    attn = text.CausalSelfAttention(d_model=16, heads=4, block_size=8)
    x = torch.randn(3, 7, 16)
    q, k, v = attn.qkv(x).split(16, dim=2)
    q, k, v = (a.view(3, 7, 4, 4).transpose(1, 2) for a in (q, k, v))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(3, 7, 16)
    attn.keep_attention = True
    assert torch.allclose(attn(x), attn.proj(ref), atol=1e-5)
    w = attn.attention
    assert w.shape == (3, 4, 7, 7) and torch.allclose(w.sum(-1), torch.ones(3, 4, 7))
    assert (w.triu(diagonal=1) == 0).all()


def test_model_errors_speak_plainly():
    m = _models(9, 3)["transformer"]
    idx = torch.zeros(2, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="conditioned on the language: pass lang"):
        m(idx)
    with pytest.raises(ValueError, match=r"labels must be in 0..2"):
        m(idx, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="dtype int64"):
        m(idx.float(), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="at most 12 tokens"):
        m(torch.zeros(2, 13, dtype=torch.long), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="not conditioned on a language"):
        text.GRULM(9, 0)(idx, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="unknown model kind 'lstm'"):
        text.build_charlm(text.CharLMConfig(kind="lstm"), 9, 3, 12)
