"""Classifier-free guidance, live and still (lesson 10).

``guidance_slider`` draws the same noise as a chosen digit at several guidance scales w and
says how many of them the course's digit classifier recognises; ``plot_guidance`` is its still
picture, one row per scale. The model is a class-conditional ``models.TrainedDDPM``, checked
with the reverse-process module's ``trained_ddpm``; each setting samples with DDIM from the
same seeded noise, so the rows differ only by w.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..loop import eval_mode
from ..utils import whole_number
from . import _draw
from .diffusion import display_images, is_points, sample_count, trained_ddpm

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["guidance_slider", "plot_guidance"]

GUIDANCE_SCALES = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0)  # the guidance slider's stops


def _conditional_digits(model: Any, who: str) -> Any:
    model = trained_ddpm(model, who)
    if is_points(model) or not getattr(model, "conditional", False):
        raise ValueError(
            f"{who} needs a class-conditional digits model, such as models.build('ddpm-digits'); "
            f"{getattr(model, 'name', 'this model')} is unconditional: it draws without labels, so there is no class to guide towards"
        )
    return model


def _digit_class(model: Any, label: Any) -> int:
    k = model.num_classes
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or not 0 <= label < k:
        raise ValueError(f"label must be a digit class in 0..{k - 1} (got {label!r})")
    return int(label)


def _scales(scales: Any) -> list[float]:
    """The guidance scales as sorted floats >= 0, without repeats, or a clear error."""
    if isinstance(scales, (int, float)) and not isinstance(scales, bool):
        scales = (scales,)
    if not isinstance(scales, (list, tuple)) or not scales:
        raise TypeError(f"scales must be a list of guidance scales w >= 0, e.g. {GUIDANCE_SCALES} (got {scales!r})")
    for v in scales:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not v >= 0 or not math.isfinite(v):
            raise ValueError(f"every guidance scale must be a number w >= 0 (0 is the plain conditional model) (got {v!r})")
    return sorted({float(v) for v in scales})


def _judge(classifier: Any) -> Any:
    if classifier is None:
        from ..metrics import digit_classifier

        return digit_classifier()  # loaded from the package on first use, then kept
    if not callable(classifier):
        raise TypeError(f"classifier must map digits (N, 1, 8, 8) to logits (N, 10), like metrics.digit_classifier() (got {type(classifier).__name__})")
    return classifier


@torch.no_grad()
def _recognised(classifier: Any, x: torch.Tensor, label: int) -> float:
    """Share of the digits x (N, 1, 8, 8) in [0, 1] that the classifier labels ``label``."""
    if isinstance(classifier, torch.nn.Module):
        with eval_mode(classifier) as device:
            logits = classifier(x.to(device)).cpu()
    else:
        logits = torch.as_tensor(classifier(x))
    return float((logits.argmax(dim=1) == label).float().mean())


def _guided(model: Any, label: int, w: float, n: int, seed: int, steps: int | None) -> torch.Tensor:
    """n digits of class ``label`` at guidance scale w: DDIM from the same seeded noise. (n, 1, 8, 8) in [0, 1]."""
    if steps is None:
        steps = getattr(model.recipe, "sampler_steps", None)
    x = model.sample(n, generator=torch.Generator().manual_seed(seed), labels=label, guidance=w, sampler="ddim", steps=steps)
    return x.float().cpu()


def _verdict(label: int, w: float, n: int, accuracy: float) -> str:
    return f"class {label}, w = {w:g}: {round(accuracy * n)} of {n} ({accuracy:.0%}) judged a {label} by the digit classifier"


def guidance_slider(
    model: Any,
    label: int = 3,
    n: int = 16,
    seed: int = 0,
    scales: Sequence[float] = GUIDANCE_SCALES,
    *,
    steps: int | None = None,
    nrow: int = 8,
    classifier: Any = None,
) -> ipywidgets.VBox:
    """Classifier-free guidance, live: the same noise drawn as one class at several scales w.

    For a class-conditional digits model (``model.conditional``). Controls: ``.label`` (class
    picker, ToggleButtons 0..9, starting at ``label``) and ``.slider`` (SelectionSlider over
    ``scales``, sorted, starting at the smallest). For each setting, ``model.sample(n, labels=label,
    guidance=w, sampler="ddim", steps=steps)`` (steps None: the recipe's DDIM steps) from a
    generator seeded ``seed`` (the same noise for every setting), shown as a grid ``nrow`` per
    row; ``.caption`` says how many of them the course's digit classifier
    (``metrics.digit_classifier()``, or ``classifier``) labels as the
    asked class. Each (label, w) is drawn once, then cached. The box also has ``.image``,
    ``.samples`` and ``.accuracy`` (the current setting's digits and share recognised),
    ``.draw(label, w) -> (samples, accuracy)`` and ``.render() -> bytes`` (PNG of the current setting).
    """
    import ipywidgets as w

    model = _conditional_digits(model, "guidance_slider")
    label = _digit_class(model, label)
    n = sample_count(n, model)
    seed = whole_number(seed, "seed")
    nrow = _draw.positive_int(nrow, "nrow", "of digits per row")
    options = _scales(scales)
    judge = _judge(classifier)
    drawn: dict[tuple[int, float], tuple[torch.Tensor, float]] = {}
    pngs: dict[tuple[int, float], bytes] = {}

    def draw(y: int, scale: float) -> tuple[torch.Tensor, float]:
        """The n digits for class y at guidance w = scale and the share recognised, cached."""
        key = (_digit_class(model, y), float(scale))
        if key not in drawn:
            x = _guided(model, key[0], key[1], n, seed, steps)
            drawn[key] = (x, _recognised(judge, x, key[0]))
        return drawn[key]

    picker = w.ToggleButtons(options=list(range(model.num_classes)), value=label, description="class", style={"button_width": "2.4em"})
    slider = w.SelectionSlider(options=[(f"{v:g}", v) for v in options], value=options[0], description="guidance w", continuous_update=False)
    caption = w.Label()
    box = w.VBox()

    def render() -> bytes:
        """PNG of the current class and scale, cached."""
        key = (picker.value, slider.value)
        x, accuracy = draw(*key)
        box.samples, box.accuracy = x, accuracy
        caption.value = _verdict(key[0], key[1], n, accuracy)
        if key not in pngs:
            fig = Figure(figsize=_draw.grid_inches(n, nrow, False, True), layout="compressed")
            ax = fig.subplots()
            _draw.draw_digits(ax, display_images(x), nrow)
            ax.set_title(f"class {key[0]}, w = {key[1]:g}: {round(accuracy * n)} of {n} judged a {key[0]}", fontsize=10)
            pngs[key] = _draw.render(fig)
        return pngs[key]

    image = _draw.live_image(render, [picker, slider])
    box.children = [picker, slider, caption, image]
    box.label, box.slider, box.caption, box.image = picker, slider, caption, image
    box.draw, box.render = draw, render
    return box


def plot_guidance(
    model: Any,
    label: int = 3,
    scales: Sequence[float] = (0.0, 1.0, 2.0, 4.0),
    n: int = 10,
    seed: int = 0,
    *,
    steps: int | None = None,
    classifier: Any = None,
    fig: Figure | None = None,
) -> None:
    """One row of ``n`` digits of class ``label`` per guidance scale w (the same noise in every row).

    Each row is ``model.sample(n, labels=label, guidance=w, sampler="ddim", steps=steps)`` from a
    generator seeded ``seed`` (as in ``guidance_slider``), titled with w and the share of the row the
    digit classifier (``metrics.digit_classifier()``, or ``classifier``) labels as ``label``.
    Draws on ``fig`` (a matplotlib Figure), or on a new pyplot figure for the notebook to show.
    """
    model = _conditional_digits(model, "plot_guidance")
    label = _digit_class(model, label)
    n = sample_count(n, model)
    seed = whole_number(seed, "seed")
    options = _scales(scales)
    judge = _judge(classifier)
    width, height = _draw.grid_inches(n, n, False, True)
    if fig is None:
        import matplotlib.pyplot as plt  # a figure the notebook shows; the widgets never use pyplot

        fig = plt.figure(figsize=(width, height * len(options)), layout="compressed")
    elif not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, e.g. plt.figure() (got {type(fig).__name__})")
    axes: list[Axes] = list(fig.subplots(len(options), 1, squeeze=False)[:, 0])
    for ax, scale in zip(axes, options):
        x = _guided(model, label, scale, n, seed, steps)
        accuracy = _recognised(judge, x, label)
        _draw.draw_digits(ax, display_images(x), n)
        ax.set_title(f"w = {scale:g}: {round(accuracy * n)} of {n} ({accuracy:.0%}) judged a {label}", fontsize=9)
