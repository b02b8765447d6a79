"""Widgets for the character-level language models of lesson 09.

``name_generator`` draws names for a chosen language, temperature and top-k; each click of
"Generate" uses the next seed, so a run is reproducible. ``next_char_explorer`` shows
p(next character | what the learner typed, language) as a bar chart that follows the typing;
``plot_next_char`` draws the same chart on any matplotlib Axes (the lesson's still picture).
The model is put in eval mode while it predicts and given back in the mode it was in.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import text
from ..loop import eval_mode
from ..utils import whole_number
from . import _draw

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["name_generator", "next_char_explorer", "plot_next_char"]

_TEMPERATURES = (0.1, 2.0, 0.05)  # the temperature slider's min, max and step


def _check_model(model: Any, data: text.NamesData) -> None:
    """A clear error unless model is a language model over data's vocabulary and languages (or none)."""
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "num_languages"):
        raise TypeError(f"model must be a language model from genai_course.text, such as text.BigramLM (got {type(model).__name__})")
    if not isinstance(data, text.NamesData):
        raise TypeError(f"data must be the names, text.load_names() (got {type(data).__name__})")
    if model.vocab_size != len(data.vocab):
        raise ValueError(f"the model predicts {model.vocab_size} tokens but the names' vocabulary has {len(data.vocab)}")
    if model.num_languages not in (0, len(data.locales)):
        raise ValueError(f"the model knows {model.num_languages} languages but the names have {len(data.locales)}")


def _language_label(locale: str) -> str:
    """'German (de_DE)'; 'English (US)' becomes 'English (en_US)'."""
    name = text.LANGUAGES.get(locale, locale).split(" (")[0]
    return f"{name} ({locale})"


def _lang(model: torch.nn.Module, data: text.NamesData, locale: str | int | None) -> int | None:
    """The label index of ``locale`` ('de_DE' or an index), or None for an unconditional model, or a clear error."""
    if model.num_languages == 0:
        if locale is not None:
            raise ValueError(f"this model is unconditional (num_languages=0): it takes no language, so leave locale=None (got {locale!r})")
        return None
    if locale is None:
        raise ValueError(f"this model is conditioned on the language: pass locale, one of {', '.join(data.locales)}")
    return data.locale_index(locale)


def _language_picker(model: torch.nn.Module, data: text.NamesData, locale: str | int | None) -> Any:
    """A Dropdown over data.locales starting at ``locale`` (default the first); None for an unconditional model."""
    import ipywidgets as w

    start = _lang(model, data, 0 if locale is None and model.num_languages else locale)
    options = [(_language_label(loc), loc) for loc in data.locales]
    return None if start is None else w.Dropdown(options=options, value=data.locales[start], description="language")


def _temperature_slider(temperature: float) -> Any:
    import ipywidgets as w

    text.check_sampling(temperature, None)
    low, high, step = _TEMPERATURES
    if not low <= temperature <= high:
        raise ValueError(f"temperature must be in {low}..{high} for the slider (got {temperature})")
    return w.FloatSlider(value=temperature, min=low, max=high, step=step, description="temperature", continuous_update=False)


def plot_next_char(
    ax: Axes, model: torch.nn.Module, data: text.NamesData, prefix: str, locale: str | int | None,
    top: int = 15, *, temperature: float = 1.0,
) -> Axes:
    """Bars of p(next token | START + prefix, language) for the ``top`` most probable tokens.

    The probabilities are ``text.next_char_probs`` (V,) at ``temperature``, sorted from the most
    probable; END is labelled "⏎ end" and a space "␣". ``locale`` is a locale ('de_DE') or its
    index, and None for an unconditional model. A character outside the vocabulary raises the
    ValueError of ``Vocab.encode``. Works on any matplotlib Axes; returns it.
    """
    _check_model(model, data)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a whole number of bars, at least 1 (got {top!r})")
    lang = _lang(model, data, locale)
    with eval_mode(model):
        probs = text.next_char_probs(model, data.vocab, prefix, lang, temperature)  # (V,)
    p, ids = probs.topk(min(top, len(probs) - 1))  # START (probability 0) never shown
    x = range(len(ids))
    ax.bar(x, p.tolist(), color=["C3" if i == text.END else "C0" for i in ids.tolist()])
    ax.set_xticks(list(x), [{text.END: "⏎ end"}.get(i, data.vocab.itos[i].replace(" ", "␣")) for i in ids.tolist()])
    ax.set_ylim(0, max(float(p[0]) * 1.15, 0.05))
    ax.set_ylabel("probability")
    who = "" if lang is None else f", {_language_label(data.locales[lang])}"
    ax.set_title(f'p(next char | "{prefix}"{who})' + ("" if temperature == 1.0 else f", T = {temperature:g}"))
    ax.text(0.99, 0.97, f"shown: {float(p.sum()):.0%} of the probability", transform=ax.transAxes, ha="right", va="top", fontsize=8)
    return ax


def _names_html(names: list[str], seen: set[str]) -> str:
    cells = "".join(
        f'<span style="color:#888">{html.escape(n)}</span>' if n in seen else f"<b>{html.escape(n) or '∅ (empty)'}</b>"
        for n in names
    )
    grid = f'<div style="display:grid;grid-template-columns:repeat(4,11em);gap:0.2em 1em">{cells}</div>'
    return grid + '<small>bold: new names; grey: copied from the training names</small>'


def name_generator(
    model: torch.nn.Module, data: text.NamesData, *, n: int = 12, temperature: float = 1.0,
    top_k: int | None = None, seed: int = 0, locale: str | int | None = None,
) -> ipywidgets.VBox:
    """Draw ``n`` names with ``text.sample_names`` for a language, a temperature and a top-k.

    Controls: ``.language`` (Dropdown of data.locales, labels like "German (de_DE)", starting at
    ``locale``, default the first; None for an unconditional model), ``.temperature``
    (FloatSlider 0.1..2.0), ``.top_k`` (IntSlider, 0 = all characters) and ``.button``
    ("Generate"). The names are drawn at once with ``torch.Generator().manual_seed(seed)``; each
    click uses the next seed (seed + 1, seed + 2, ...), and moving a control draws again with the
    current seed, so the same settings and clicks give the same names. ``.output`` (HTML) lists
    them, new names in bold, names copied from the training set in grey; ``.caption`` (Label)
    gives the seed and settings. The box also has ``.names`` (the last names drawn, list of n str), ``.seed`` (the seed they were drawn with)
    and ``.generate() -> list[str]`` (what a click does).
    """
    import ipywidgets as w

    _check_model(model, data)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number of names, at least 1 (got {n!r})")
    seed = whole_number(seed, "seed")
    text.check_sampling(temperature, top_k)
    picker = _language_picker(model, data, locale)
    temp = _temperature_slider(temperature)
    most = len(data.vocab) - 1  # START is never drawn
    k_slider = w.IntSlider(value=min(top_k or 0, most), min=0, max=most, description="top-k (0: all)", continuous_update=False)
    button = w.Button(description="Generate", icon="refresh")
    output, caption = w.HTML(), w.Label()
    seen = set(data.train.names)
    box = w.VBox()

    def draw(_: Any = None) -> list[str]:
        lang = None if picker is None else data.labels_for(picker.value, n)  # (n,)
        t, k = round(temp.value, 4), k_slider.value or None
        with eval_mode(model):
            names = text.sample_names(
                model, data.vocab, lang, n, temperature=t, top_k=k, max_len=data.max_len + 10,
                generator=torch.Generator().manual_seed(box.seed),
            )
        box.names = names
        output.value = _names_html(names, seen)
        caption.value = f"seed {box.seed}, temperature {t:g}, top-k {k or 'all'}"
        return names

    def generate(_: Any = None) -> list[str]:
        box.seed += 1
        return draw()

    box.seed = seed
    draw()
    button.on_click(generate)
    controls = [temp, k_slider] if picker is None else [picker, temp, k_slider]
    for control in controls:
        control.observe(draw, names="value")
    note = [w.Label("unconditional model: no language to pick")] if picker is None else []
    box.children = [*note, *controls, w.HBox([button, caption]), output]
    box.language, box.temperature, box.top_k, box.button, box.output = picker, temp, k_slider, button, output
    box.caption = caption
    box.generate = generate
    return box


def next_char_explorer(
    model: torch.nn.Module, data: text.NamesData, *, prefix: str = "", locale: str | int | None = None,
    top: int = 15, temperature: float = 1.0,
) -> ipywidgets.VBox:
    """Type the start of a name and see p(next character | it, language) (``plot_next_char`` live).

    Controls: ``.prefix`` (Text, updated at every keystroke), ``.language`` (Dropdown as in
    ``name_generator``; None for an unconditional model) and ``.temperature`` (FloatSlider). The
    chart shows the ``top`` most probable next tokens in ``.image`` (PNG). A character outside
    the vocabulary hides the chart and explains itself in ``.message`` (HTML) instead of a
    traceback. The box also has ``.ax`` (the Axes last drawn on, None after an unknown character)
    and ``.render() -> bytes`` (draw the current settings, b"" when the prefix cannot be read).
    """
    import ipywidgets as w

    _check_model(model, data)
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a str, the start of a name (got {type(prefix).__name__})")
    picker = _language_picker(model, data, locale)
    temp = _temperature_slider(temperature)
    box_text = w.Text(value=prefix, description="name so far", placeholder="type the start of a name", continuous_update=True)
    image, message = w.Image(format="png"), w.HTML()
    box = w.VBox()

    def render() -> bytes:
        try:
            data.vocab.encode(box_text.value)
        except ValueError as err:
            box.ax = None
            message.value = f'<span style="color:#b00">{html.escape(str(err))}: delete it to see the next-character bars</span>'
            return b""
        message.value = ""
        fig = Figure(figsize=(7, 3), layout="constrained")
        locale_now = None if picker is None else picker.value
        box.ax = plot_next_char(fig.subplots(), model, data, box_text.value, locale_now, top, temperature=round(temp.value, 4))
        return _draw.render(fig)

    def show(_: Any = None) -> None:
        png = render()
        image.layout.display = "" if png else "none"
        if png:
            image.value = png

    controls = [box_text, temp] if picker is None else [box_text, picker, temp]
    for control in controls:
        control.observe(show, names="value")
    show()
    box.children = [*controls, message, image]
    box.prefix, box.language, box.temperature, box.image, box.message = box_text, picker, temp, image, message
    box.render = render
    return box
