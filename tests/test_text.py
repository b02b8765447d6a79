"""The text module: names data, the four language models, training and sampling."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genai_course import metrics, text


@pytest.fixture(scope="module")
def names() -> text.NamesData:
    return text.load_names()


@pytest.fixture(scope="module")
def tensors(names):
    d = names
    return (*d.train.tensors(d.vocab), d.train.labels), (*d.heldout.tensors(d.vocab), d.heldout.labels)


def _models(V: int, L: int):
    torch.manual_seed(0)
    return {
        "mlp": text.MLPLM(V, L, context=3, embed=8, hidden=32),
        "gru": text.GRULM(V, L, embed=8, hidden=16),
        "transformer": text.TransformerLM(V, L, block_size=12, d_model=16, heads=2, layers=2, dropout=0.0),
    }


# --------------------------------------------------------------------------- data


def test_names_cover_eight_languages_without_duplicates(names):
    d = names
    assert d.locales == text.LOCALES
    pairs = list(zip(d.train.names + d.heldout.names, torch.cat([d.train.labels, d.heldout.labels]).tolist()))
    assert len(pairs) == len(set(pairs)) > 5000  # each (name, language) once
    for k in range(len(d.locales)):
        assert int((d.train.labels == k).sum()) >= 180 and int((d.heldout.labels == k).sum()) >= 40
    assert "Γιώργος" in d.train.names + d.heldout.names or any("ς" in n for n in d.train.names)


def test_split_is_by_name_string_fixed_and_about_a_fifth(names):
    d = names
    assert not set(d.train.names) & set(d.heldout.names)  # a held-out name is really unseen
    distinct = len(set(d.train.names)) + len(set(d.heldout.names))
    assert abs(len(set(d.heldout.names)) / distinct - 0.2) < 0.01
    text.load_names.cache_clear()
    again = text.load_names()
    assert again.heldout.names == d.heldout.names and torch.equal(again.heldout.labels, d.heldout.labels)


def test_names_several_languages_list_are_dropped_or_kept_per_language(names):
    def languages(d):
        out = {}
        for n, k in zip(d.train.names + d.heldout.names, torch.cat([d.train.labels, d.heldout.labels]).tolist()):
            out.setdefault(n, set()).add(d.locales[k])
        return out

    assert all(len(ls) == 1 for ls in languages(names).values())  # the default: one language per name
    assert "Anna" not in languages(names)
    kept = languages(text.load_names(shared="keep"))
    assert sum(len(ls) > 1 for ls in kept.values()) > 500 and {"de_DE", "sv_SE"} <= kept["Anna"]
    with pytest.raises(ValueError, match="shared must be 'drop' or 'keep'"):
        text.load_names(shared="first")


def test_faker_glitches_are_dropped():
    tr = text.faker_first_names("tr_TR")
    assert all(text._clean(n) == n for n in tr)
    assert "Emine." not in tr and not any("˜" in n for n in tr)
    with pytest.raises(ValueError, match="no person provider"):
        text.faker_first_names("xx_XX")


def test_vocab_round_trip_and_clear_error(names):
    v = names.vocab
    assert v.itos[text.START] == "<s>" and v.itos[text.END] == "</s>"
    for name in ("Şükrü", "Ελένη", "José María", "Anna-Lena"):
        ids = v.encode(name)
        assert min(ids) >= 2 and v.decode(ids) == name
        assert v.decode([text.START, *ids, text.END, *ids]) == name  # stops at END
    with pytest.raises(ValueError, match="'Ж'.*not in the vocabulary"):
        v.encode("Жанна")


def test_tensors_align_inputs_and_targets(names):
    d = names
    split = text.NameSplit(("Ann", "Jo"), torch.tensor([0, 1]))
    inputs, targets = split.tensors(d.vocab)
    a, n, j, o = (d.vocab.stoi[c] for c in "Anjo".replace("j", "J"))
    S, E = text.START, text.END
    assert inputs.tolist() == [[S, a, n, n], [S, j, o, E]]
    assert targets.tolist() == [[a, n, n, E], [j, o, E, -100]]


def test_locale_errors_name_the_choices(names):
    with pytest.raises(ValueError, match="unknown language 'fr_FR': choose one of en_US, de_DE"):
        names.locale_index("fr_FR")
    with pytest.raises(ValueError, match="unknown language 9"):
        names.locale_index(9)
    assert names.locale_index("el_GR") == 7 and names.labels_for("de_DE", 3).tolist() == [1, 1, 1]


# --------------------------------------------------------------------------- models


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


# --------------------------------------------------------------------------- training


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


# --------------------------------------------------------------------------- sampling


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
    drawn = text._draw(torch.log(p1).expand(2000, -1), 1.0, 3, torch.Generator().manual_seed(0))
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
    m = _models(len(names.vocab), len(names.locales))["gru"].train()
    text.sample_names(m, names.vocab, torch.tensor([0, 1]))
    text.next_char_probs(m, names.vocab, "An", lang=0)
    assert m.training


# --------------------------------------------------------------------------- running text


def test_topics_text_and_windows():
    data = text.load_text()
    assert len(data.train) > 400_000 and len(data.heldout) > 40_000
    assert "with" in data.vocab.decode(data.train[:5000].tolist())
    x, y, lang = text.text_windows(data.train, 16, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 16) and lang is None and torch.equal(x[:, 1:], y[:, :-1])
    torch.manual_seed(0)
    m = text.TransformerLM(len(data.vocab), 0, block_size=16, d_model=16, heads=2, layers=1)
    out = text.sample_text(m, data.vocab, "The with", 20, generator=torch.Generator().manual_seed(0))
    assert out.startswith("The with") and len(out) == 28
    with pytest.raises(ValueError, match="prompt of at least one character"):
        text.sample_text(m, data.vocab, "")


# --------------------------------------------------------------------------- metrics


def test_novelty():
    assert metrics.novelty(["Ann", "Bo", "Cy", "Ann"], ["Ann"]) == 0.5
    with pytest.raises(ValueError, match="at least one sample"):
        metrics.novelty([], ["Ann"])


def test_language_judge_on_known_cases(names):
    j = metrics.LanguageJudge(["a", "b"]).fit(["Aaron", "Anna", "Bob", "Bobby"], torch.tensor([0, 0, 1, 1]))
    assert j.predict(["Ana", "Bobbo"]).tolist() == [0, 1]
    assert torch.allclose(j.log_posterior(["Ana"]).exp().sum(), torch.tensor(1.0))
    d = names
    judge = metrics.LanguageJudge(d.locales).fit(d.heldout.names, d.heldout.labels)
    c = judge.confusion(d.train.names, d.train.labels)
    per_language = c.diag() / c.sum(dim=1)
    assert per_language[7] == 1.0  # Greek script is unmistakable
    assert 0.4 < per_language.mean() < 0.7  # far above chance (1/8), below 1: names are ambiguous
    with pytest.raises(RuntimeError, match="fit the judge"):
        metrics.LanguageJudge(d.locales).predict(["Ann"])
    with pytest.raises(ValueError, match="one label per name"):
        judge.accuracy(["Ann"], torch.tensor([0, 1]))
