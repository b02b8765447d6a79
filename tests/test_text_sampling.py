"""genai_course.text.sampling: seeded names in their language, temperature and top-k, settings refused
in plain words, and running text after a prompt."""

from __future__ import annotations

import math

import pytest
import torch

from genai_course import text
from genai_course.text.sampling import _draw
from shared import names, tensors  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def bigram(names, tensors):
    return text.BigramLM(len(names.vocab), len(names.locales)).fit(*tensors[0])


def test_sampling_is_seeded_and_follows_the_language(names, bigram):
    lang = torch.full((200,), 7)  # Greek
    a = text.sample_names(bigram, names.vocab, lang, generator=torch.Generator().manual_seed(0))
    b = text.sample_names(bigram, names.vocab, lang, generator=torch.Generator().manual_seed(0))
    c = text.sample_names(bigram, names.vocab, lang, generator=torch.Generator().manual_seed(1))
    assert a == b != c and len(a) == 200
    greek = sum(ch in "αβγδεζηθικλμνξοπρσςτυφχψωάέήίόύώ" for n in a for ch in n.lower())
    assert greek > 0.9 * sum(len(n) for n in a)


def test_first_letters_follow_the_model(names, bigram):
    lang = torch.full((4000,), 1)
    drawn = text.sample_names(bigram, names.vocab, lang, max_len=1, generator=torch.Generator().manual_seed(0))
    p = text.next_char_probs(bigram, names.vocab, "", lang=1)
    freq = torch.bincount(torch.tensor([names.vocab.stoi[n[0]] for n in drawn if n]), minlength=len(p)).float() / len(drawn)
    assert (freq - p).abs().max() < 5 * math.sqrt(0.25 / 4000)


def test_temperature_and_top_k(names, bigram):
    v = names.vocab
    lang = torch.full((50,), 1)
    cold = text.sample_names(bigram, v, lang, temperature=0.01, generator=torch.Generator().manual_seed(0))
    greedy = [text.sample_names(bigram, v, lang, top_k=1, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    assert greedy[0] == greedy[1] and len(set(greedy[0])) == 1  # exactly one candidate: no randomness left
    name = greedy[0][0]
    for t in range(len(name) + 1):  # each char is a most likely one
        p = text.next_char_probs(bigram, v, name[:t], lang=1)
        nxt = v.stoi[name[t]] if t < len(name) else text.END
        assert p[nxt] == p.max()
    assert len(set(cold)) <= 2  # only ties between equally likely chars remain
    hot = text.sample_names(bigram, v, lang, temperature=2.0, generator=torch.Generator().manual_seed(0))
    assert len(set(hot)) > 40
    p1 = text.next_char_probs(bigram, v, "A", lang=1)
    p_cold = text.next_char_probs(bigram, v, "A", lang=1, temperature=0.5)
    assert p_cold.max() > p1.max() and torch.allclose(p1.sum(), torch.tensor(1.0))
    top3 = set(p1.topk(3).indices.tolist())
    drawn = _draw(torch.log(p1).expand(2000, -1), 1.0, 3, torch.Generator().manual_seed(0))
    assert set(drawn.flatten().tolist()) == top3


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": 0}, "temperature must be a number > 0"),
    ({"temperature": -1.0}, "temperature must be a number > 0"),
    ({"top_k": 0}, r"top_k must be None \(all characters\) or an int >= 1"),
    ({"top_k": 2.5}, "top_k must be None"),
])
def test_bad_sampling_settings_are_refused(names, bigram, kwargs, message):
    with pytest.raises(ValueError, match=message):
        text.sample_names(bigram, names.vocab, torch.tensor([0]), **kwargs)


def test_sampling_takes_label_lists_and_names_a_locale_mistake(names, bigram):
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    v = names.vocab
    assert text.sample_names(bigram, v, [1, 7], generator=g()) == text.sample_names(bigram, v, torch.tensor([1, 7]), generator=g())
    with pytest.raises(ValueError, match=r"lang takes label numbers, not locales \(got 'de_DE'\): use data.labels_for"):
        text.sample_names(bigram, v, "de_DE")
    with pytest.raises(ValueError, match=r"language labels must be in 0..7 \(got 1..9\)"):
        text.sample_names(bigram, v, [1, 9])


def test_sampling_restores_training_mode(names):
    torch.manual_seed(0)
    m = text.GRULM(len(names.vocab), len(names.locales), embed=8, hidden=16).train()
    text.sample_names(m, names.vocab, torch.tensor([0, 1]))
    text.next_char_probs(m, names.vocab, "An", lang=0)
    assert m.training


def test_sample_text_continues_the_prompt():
    data = text.load_text()
    torch.manual_seed(0)
    m = text.TransformerLM(len(data.vocab), 0, block_size=16, d_model=16, heads=2, layers=1)
    out = text.sample_text(m, data.vocab, "The with", 20, generator=torch.Generator().manual_seed(0))
    assert out.startswith("The with") and len(out) == 28
    with pytest.raises(ValueError, match="prompt of at least one character"):
        text.sample_text(m, data.vocab, "")
