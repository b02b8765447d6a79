"""Text widgets (lesson 09): the name generator, the next-character explorer and its still picture.

The model is a BigramLM fitted by counting (instant): these tests check plumbing (which
language, temperature, top-k and seed reach the sampler; that the bars are the model's
probabilities) and the messages, not the names' quality.
"""

from __future__ import annotations

import ipywidgets
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from genai_course import text, widgets

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def names() -> text.NamesData:
    return text.load_names()


@pytest.fixture(scope="module")
def bigram(names) -> text.BigramLM:
    return text.BigramLM(len(names.vocab), len(names.locales)).fit(*names.train.tensors(names.vocab), names.train.labels)


@pytest.fixture(scope="module")
def unconditional(names) -> text.BigramLM:
    return text.BigramLM(len(names.vocab), 0).fit(*names.train.tensors(names.vocab))


def expected(model, data, locale, n, *, seed, temperature=1.0, top_k=None) -> list[str]:
    """What text.sample_names draws for these settings (the widget must show exactly this)."""
    lang = None if locale is None else data.labels_for(locale, n)
    return text.sample_names(model, data.vocab, lang, n, temperature=temperature, top_k=top_k,
                             max_len=data.max_len + 10, generator=torch.Generator().manual_seed(seed))


def heights(ax) -> list[float]:
    return [p.get_height() for p in ax.patches]


def ticks(ax) -> list[str]:
    return [t.get_text() for t in ax.get_xticklabels()]


def top_probs(model, data, prefix, locale, top=15, temperature=1.0) -> tuple[list[float], list[int]]:
    lang = None if locale is None else data.locale_index(locale)
    p, ids = text.next_char_probs(model, data.vocab, prefix, lang, temperature).topk(top)
    return p.tolist(), ids.tolist()


# ---------------------------------------------------------------- name_generator


def test_generator_clicks_advance_the_seed_and_are_reproducible(bigram, names):
    box = widgets.name_generator(bigram, names, n=8, seed=5, locale="de_DE")
    assert isinstance(box, ipywidgets.VBox)
    assert box.seed == 5 and box.names == expected(bigram, names, "de_DE", 8, seed=5)
    box.button.click()
    assert box.seed == 6 and box.names == expected(bigram, names, "de_DE", 8, seed=6)
    first_two = [expected(bigram, names, "de_DE", 8, seed=s) for s in (5, 6)]
    assert first_two[0] != first_two[1]
    again = widgets.name_generator(bigram, names, n=8, seed=5, locale="de_DE")
    again.button.click()
    assert again.names == box.names  # same seed, same clicks, same names
    assert all(n in box.output.value for n in box.names) and box.caption.value == "seed 6, temperature 1, top-k all"


def test_generator_languages_are_labelled_and_change_the_names(bigram, names):
    box = widgets.name_generator(bigram, names, n=10)
    labels = [label for label, _ in box.language.options]
    assert labels[:2] == ["English (en_US)", "German (de_DE)"] and "Greek (el_GR)" in labels
    assert box.language.value == "en_US"
    before = box.names
    box.language.value = "el_GR"  # moving a control draws again with the same seed
    assert box.seed == 0 and box.names == expected(bigram, names, "el_GR", 10, seed=0) != before


def test_generator_uses_the_temperature_slider(bigram, names):
    box = widgets.name_generator(bigram, names, n=40, locale="it_IT")
    assert (box.temperature.min, box.temperature.max, box.temperature.step) == (0.1, 2.0, 0.05)
    box.temperature.value = 0.1
    cold = box.names
    assert cold == expected(bigram, names, "it_IT", 40, seed=0, temperature=0.1)
    box.temperature.value = 2.0
    assert box.names == expected(bigram, names, "it_IT", 40, seed=0, temperature=2.0)
    assert len(set(cold)) < len(set(box.names)) / 2  # cold: the few most likely names, again and again


def among_top_k(model, data, name, locale, k) -> bool:
    """Each char of name (and its END) is among the k most likely at its step (ties with the k-th count)."""
    for t, token in enumerate([*data.vocab.encode(name), text.END]):
        probs = text.next_char_probs(model, data.vocab, name[:t], data.locale_index(locale))  # (V,)
        if probs[token] < probs.topk(k).values[-1]:
            return False
    return True


def test_generator_respects_top_k(bigram, names):
    box = widgets.name_generator(bigram, names, n=6, top_k=1, locale="nl_NL")
    assert box.top_k.value == 1 and box.top_k.max == len(names.vocab) - 1
    assert all(among_top_k(bigram, names, name, "nl_NL", 1) for name in box.names)  # greedy (up to ties)
    box.top_k.value = 3
    assert box.names == expected(bigram, names, "nl_NL", 6, seed=0, top_k=3)
    assert all(among_top_k(bigram, names, name, "nl_NL", 3) for name in box.names)
    box.top_k.value = 0  # 0 = all characters
    assert box.names == expected(bigram, names, "nl_NL", 6, seed=0)
    assert not all(among_top_k(bigram, names, name, "nl_NL", 3) for name in box.names)


def test_generator_puts_the_model_in_eval_mode_and_restores_it(names):
    model = text.BigramLM(len(names.vocab), len(names.locales)).fit(*names.train.tensors(names.vocab), names.train.labels)
    model.train()
    modes: list[bool] = []
    model.register_forward_pre_hook(lambda m, args: modes.append(m.training))
    widgets.name_generator(model, names, n=3).button.click()
    assert modes and not any(modes) and model.training


def test_generator_works_for_an_unconditional_model(unconditional, names):
    box = widgets.name_generator(unconditional, names, n=5, seed=np.int64(2))  # a NumPy seed is a whole number too
    assert type(box.seed) is int
    assert box.language is None and not any(isinstance(c, ipywidgets.Dropdown) for c in box.children)
    assert box.names == expected(unconditional, names, None, 5, seed=2)
    box.button.click()
    assert box.names == expected(unconditional, names, None, 5, seed=3)
    with pytest.raises(ValueError, match=r"unconditional \(num_languages=0\).*leave locale=None \(got 'de_DE'\)"):
        widgets.name_generator(unconditional, names, locale="de_DE")


def test_generator_explains_bad_arguments(bigram, names):
    with pytest.raises(ValueError, match=r"unknown language 'xx_XX': choose one of en_US"):
        widgets.name_generator(bigram, names, locale="xx_XX")
    with pytest.raises(ValueError, match=r"temperature must be in 0.1..2.0 for the slider \(got 5.0\)"):
        widgets.name_generator(bigram, names, temperature=5.0)
    with pytest.raises(ValueError, match=r"top_k must be None \(all characters\) or an int >= 1 \(got 0\)"):
        widgets.name_generator(bigram, names, top_k=0)
    with pytest.raises(ValueError, match=r"n must be a whole number of names, at least 1 \(got 0\)"):
        widgets.name_generator(bigram, names, n=0)
    with pytest.raises(ValueError, match=r"the model predicts 10 tokens but the names' vocabulary has 151"):
        widgets.name_generator(text.BigramLM(10, 8), names)
    with pytest.raises(TypeError, match=r"model must be a language model.*\(got str\)"):
        widgets.name_generator("bigram", names)
    with pytest.raises(TypeError, match=r"^seed must be a whole number \(got 1.5\)$"):
        widgets.name_generator(bigram, names, seed=1.5)
    with pytest.raises(TypeError, match=r"^seed must be a whole number \(got True\)$"):
        widgets.name_generator(bigram, names, seed=True)


# ---------------------------------------------------------------- next_char_explorer / plot_next_char


def test_plot_next_char_draws_the_model_probabilities_on_any_axes(bigram, names):
    ax = Figure().subplots()
    assert widgets.plot_next_char(ax, bigram, names, "Ann", "de_DE", top=10) is ax
    p, ids = top_probs(bigram, names, "Ann", "de_DE", top=10)
    assert heights(ax) == pytest.approx(p)
    assert ticks(ax) == ["⏎ end" if i == text.END else names.vocab.itos[i] for i in ids]
    assert "⏎ end" in ticks(ax) and ax.get_title() == 'p(next char | "Ann", German (de_DE))'
    with pytest.raises(ValueError, match=r"conditioned on the language: pass locale, one of en_US"):
        widgets.plot_next_char(ax, bigram, names, "Ann", None)
    with pytest.raises(ValueError, match=r"character '€' in 'A€' is not in the vocabulary"):
        widgets.plot_next_char(ax, bigram, names, "A€", "de_DE")


def test_explorer_bars_follow_the_typing_language_and_temperature(bigram, names):
    box = widgets.next_char_explorer(bigram, names, prefix="Ma", locale="it_IT")
    assert bytes(box.image.value).startswith(PNG) and box.message.value == ""
    assert heights(box.ax) == pytest.approx(top_probs(bigram, names, "Ma", "it_IT")[0])
    first = bytes(box.image.value)
    box.prefix.value = "Mar"
    assert heights(box.ax) == pytest.approx(top_probs(bigram, names, "Mar", "it_IT")[0])
    assert bytes(box.image.value) != first
    box.language.value = "sv_SE"
    assert heights(box.ax) == pytest.approx(top_probs(bigram, names, "Mar", "sv_SE")[0])
    box.temperature.value = 0.5
    assert heights(box.ax) == pytest.approx(top_probs(bigram, names, "Mar", "sv_SE", temperature=0.5)[0])


def test_explorer_explains_an_unknown_character_instead_of_raising(bigram, names):
    box = widgets.next_char_explorer(bigram, names, locale="en_US")
    assert heights(box.ax) == pytest.approx(top_probs(bigram, names, "", "en_US")[0])  # the first letters
    box.prefix.value = "Jo€"
    assert box.ax is None and box.image.layout.display == "none"
    assert "character &#x27;€&#x27; in &#x27;Jo€&#x27; is not in the vocabulary" in box.message.value
    box.prefix.value = "Jo"
    assert box.message.value == "" and box.image.layout.display == ""
    assert heights(box.ax) == pytest.approx(top_probs(bigram, names, "Jo", "en_US")[0])


def test_explorer_works_for_an_unconditional_model(unconditional, names):
    box = widgets.next_char_explorer(unconditional, names, prefix="El", top=5)
    assert box.language is None and len(box.ax.patches) == 5
    assert heights(box.ax) == pytest.approx(top_probs(unconditional, names, "El", None, top=5)[0])
    assert box.ax.get_title() == 'p(next char | "El")'
