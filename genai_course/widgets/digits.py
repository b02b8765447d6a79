"""Pictures and widgets for the 8x8 digits of lessons 06-07 (and every digits model after them).

``show_digits`` draws images (N, 1, 8, 8) as a grid, on any matplotlib ``Axes`` or on a new
pyplot figure for the notebook to show. ``digit_scrubber`` scrubs through the digits G made at
each training snapshot; ``digit_picker`` moves one digit through latent space (and picks its
class); ``interpolation`` walks the straight line between two latent points. G may be a
generator or a trained model with a ``.G`` (a GAN's generator, a VAE's decoder means); a widget
that runs G puts it in eval mode and gives it back in the mode it was in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..utils import whole_number
from . import _draw

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["show_digits", "digit_scrubber", "digit_picker", "interpolation"]

_NEIGHBOURS = 8  # digits in the picker's strip
_NEIGHBOUR_RADIUS = 0.5  # neighbour = z + 0.5 * noise (random z's are about 3x further apart)


def _label_texts(labels: Any, n: int) -> list[str] | None:
    """None, or one short string per image from a list, array or tensor of n labels."""
    if labels is None:
        return None
    if isinstance(labels, (torch.Tensor, np.ndarray)):
        labels = labels.tolist()
    if not isinstance(labels, (list, tuple)):
        raise TypeError(f"labels must be a list, array or tensor with one label per image (got {type(labels).__name__})")
    if len(labels) != n:
        raise ValueError(f"labels must have one entry per image: {n} (got {len(labels)})")
    return [f"{v:.2f}" if isinstance(v, float) else str(v) for v in labels]


def show_digits(x: Any, nrow: int = 10, labels: Any = None, ax: Axes | None = None, title: str | None = None) -> None:
    """Draw images x (N, 1, 8, 8) (tensor or array, pixels in [0, 1]) as a grid, ``nrow`` per row.

    Dark ink on white (cmap "gray_r", 0 = white, 1 = black), no ticks. ``labels`` (N,) (list,
    array or tensor: classes, scores...) are written small above each image. Draws on ``ax``
    (one digit per ``ax.images`` entry), or on a new pyplot figure sized to the grid.
    """
    imgs = _draw.digit_images(x)  # (N, 8, 8)
    nrow = _draw.positive_int(nrow, "nrow", "of images per row")
    texts = _label_texts(labels, len(imgs))
    ax = _draw.digits_axes(ax, _draw.grid_inches(len(imgs), nrow, texts is not None, title is not None))
    _draw.draw_digits(ax, imgs, nrow, texts)
    if title is not None:
        ax.set_title(title)


def digit_scrubber(snapshots: Any, nrow: int = 10) -> ipywidgets.VBox:
    """A slider (and Play button) over training snapshots of digits.

    snapshots: a ``gan.Snapshots`` or ``vae.SampleSnapshots`` callback after training (e.g. ``model.snapshots(every)``
    passed to ``model.fit``), or its ``.records``: a list of dicts ``{"step": int, "samples":
    (N, 1, 8, 8)}``. Shows the N digits G made from the same fixed noise at each recorded
    step, ``nrow`` per row, captioned "step S of T" (T = the last recorded step); a conditional
    G's fixed labels (``Snapshots.labels``) are written above the digits. The slider's value is
    the snapshot's index (0-based). The box has ``.slider``, ``.play``, ``.caption``, ``.image``
    and ``.render(i) -> bytes`` (PNG of snapshot i, cached).
    """
    records, _ = _draw.snapshot_records(snapshots)
    nrow = _draw.positive_int(nrow, "nrow", "of images per row")
    if not records:
        raise ValueError("no snapshots recorded: pass model.snapshots(every=...) to model.fit's callbacks")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or "step" not in rec or "samples" not in rec:
            raise ValueError(f"snapshot {i} must be a dict with 'step' and 'samples' (got {rec!r:.80})")
        shape = tuple(getattr(rec["samples"], "shape", ()))
        if len(shape) == 2 and shape[1] == 2:
            raise ValueError(f"snapshot {i} holds 2D points {shape}, not digits: use training_scrubber for 2D GANs")
        _draw.digit_images(rec["samples"], f"snapshot {i}'s samples")
    labels = getattr(snapshots, "labels", None)  # a conditional G's fixed classes (N,), or None
    texts = _label_texts(labels, len(labels)) if labels is not None else None
    last_step = records[-1]["step"]
    cache: dict[int, bytes] = {}

    def render(i: int) -> bytes:
        """PNG of snapshot i (0-based index into the records), cached."""
        if not 0 <= i < len(records):
            raise IndexError(f"snapshot index must be in 0..{len(records) - 1} (got {i})")
        if i not in cache:
            imgs = _draw.digit_images(records[i]["samples"], f"snapshot {i}'s samples")  # (N, 8, 8)
            fig = Figure(figsize=_draw.grid_inches(len(imgs), nrow, texts is not None), layout="compressed")
            _draw.draw_digits(fig.subplots(), imgs, nrow, texts if texts is not None and len(texts) == len(imgs) else None)
            cache[i] = _draw.render(fig)
        return cache[i]

    def caption_text(i: int) -> str:
        return f"step {records[i]['step']} of {last_step}"

    return _draw.scrubber(len(records), render, caption_text, readout=False)


def _strip_and_big(n: int, labelled: bool, width: float, big: float, strip_first: bool) -> tuple[Figure, Axes, Axes]:
    """A figure ``width`` inches wide: a strip of n digits across it and one big digit ``big`` inches square.

    Placed by hand (in inches) rather than by a layout engine, so the strip always fills the width.
    """
    margin, title = 0.1, 0.3  # inches
    _, _, w_px, h_px = _draw.grid_shape(n, n, labelled)
    strip_w = min(width - 2 * margin, 0.6 * n)  # at most about 0.6 inch per digit
    strip_h = strip_w * h_px / w_px  # the strip fills the width at its own aspect ratio
    height = 2 * title + strip_h + big + 2 * margin
    fig = Figure(figsize=(width, height))
    first_h, second_h = (strip_h, big) if strip_first else (big, strip_h)
    first_w, second_w = (strip_w, big) if strip_first else (big, strip_w)
    # rectangles [left, bottom, width, height] in figure fractions, measured from the bottom
    second = fig.add_axes(((width - second_w) / 2 / width, margin / height, second_w / width, second_h / height))
    bottom = (margin + second_h + title) / height
    first = fig.add_axes(((width - first_w) / 2 / width, bottom, first_w / width, first_h / height))
    return (fig, first, second) if strip_first else (fig, second, first)


def digit_picker(G: Any, sliders: int = 4, seed: int = 0, label: int = 7) -> ipywidgets.VBox:
    """Ask G for a digit and move it through latent space: "ask for a 7, move through the 7s".

    z (1, latent_dim) is ``G.sample_latent(1, generator=torch.Generator().manual_seed(seed))``;
    its first ``sliders`` coordinates (at most latent_dim) are FloatSliders in [-3, 3] (starting
    at z's values, rounded to 0.01), the others stay fixed. Shows G(z) large and, below it, 8
    neighbours G(z + 0.5 * noise) (fixed noise, same seed) that follow the sliders. A conditional G
    (num_classes > 0) gets a class picker (ToggleButtons 0..K-1, starting at ``label``); an
    unconditional one has none and ignores ``label``. G may also be a trained model (its
    ``.G`` is used). The box has ``.sliders`` (list), ``.label`` (the class picker, or None),
    ``.image`` and ``.render() -> bytes`` (PNG for the current settings, cached).
    """
    G = _draw.digit_generator(G)
    latent_dim, conditional = G.config.latent_dim, G.config.num_classes > 0
    if not isinstance(sliders, (int, np.integer)) or isinstance(sliders, bool) or sliders < 0:
        raise ValueError(f"sliders must be a whole number of latent coordinates, 0 or more (got {sliders!r})")
    sliders = min(int(sliders), latent_dim)  # asking for more than there are gives them all
    gen = torch.Generator().manual_seed(whole_number(seed, "seed"))
    z = G.sample_latent(1, generator=gen).cpu()  # (1, latent_dim)
    noise = torch.randn(_NEIGHBOURS, latent_dim, generator=gen)  # (8, latent_dim): the neighbours' directions
    codes = z.shape[1] - latent_dim  # a discrete one-hot code after the Gaussian part (gan.ConvGeneratorConfig.codes)
    noise = torch.cat([noise, torch.zeros(_NEIGHBOURS, codes)], dim=1)  # neighbours keep z's code
    picker = _draw.class_picker(G, label) if conditional else None
    coords, shown = _draw.coordinate_sliders(z, sliders, latent_dim, seed)
    cache: dict[tuple[Any, ...], bytes] = {}

    def render() -> bytes:
        """PNG for the sliders' and class picker's current values, cached."""
        key, probe = _draw.slider_code(z, coords, picker)
        values, y = key
        if key not in cache:
            batch = torch.cat([probe, probe + _NEIGHBOUR_RADIUS * noise])  # (1 + 8, latent_dim)
            imgs = _draw.generate_digits(G, batch, y)  # (9, 8, 8)
            fig, strip, big = _strip_and_big(_NEIGHBOURS, False, width=4.8, big=2.8, strip_first=False)
            _draw.draw_digits(big, imgs[:1], 1, gap=0.1)
            big.set_title("G(z)" if y is None else f"G(z, y={y})")
            _draw.draw_digits(strip, imgs[1:], _NEIGHBOURS)
            strip.set_title("neighbours: z + 0.5 x noise", fontsize=9)
            _draw.remember(cache, (values, y), fig)
        return cache[values, y]

    return _draw.latent_box(render, picker, coords, shown)


def interpolation(
    G: Any, steps: int = 10, seed_a: int = 0, seed_b: int = 1, label: int | None = None
) -> ipywidgets.VBox:
    """Walk the straight line from z_a to z_b in latent space: z(t) = (1 - t) z_a + t z_b.

    z_a and z_b (1, latent_dim) are ``G.sample_latent(1, generator=torch.Generator().manual_seed(s))``
    for the seeds in ``.seed_a`` and ``.seed_b`` (IntText boxes). Shows a strip of ``steps``
    digits at t = 0, 1/(steps-1), ..., 1, and G(z(t)) enlarged for the slider's t in [0, 1]
    (starting at 0.5; a red frame marks t on the strip). A conditional G gets a class picker
    ``.label`` (ToggleButtons, starting at ``label``, default 0) that holds the class fixed
    along the path; for an unconditional G ``.label`` is None and ``label`` must be None.
    G may also be a trained model (its ``.G`` is used). The box has ``.slider``,
    ``.seed_a``, ``.seed_b``, ``.label``, ``.image`` and ``.render() -> bytes`` (PNG, cached).
    """
    import ipywidgets as w
    from matplotlib.patches import Rectangle

    G = _draw.digit_generator(G)
    steps = _draw.positive_int(steps, "steps", "the digits along the path", least=2)
    picker = _draw.optional_class_picker(G, label)
    box_a = w.IntText(value=whole_number(seed_a, "seed_a"), description="seed a")
    box_b = w.IntText(value=whole_number(seed_b, "seed_b"), description="seed b")
    slider = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.01, description="t", continuous_update=True)
    ts = torch.linspace(0, 1, steps).unsqueeze(1)  # (steps, 1)
    cache: dict[tuple[Any, ...], bytes] = {}

    def render() -> bytes:
        """PNG for the current seeds, t and class, cached."""
        key = (box_a.value, box_b.value, round(slider.value, 6), picker.value if picker is not None else None)
        if key not in cache:
            a, b, t, y = key
            z_a = G.sample_latent(1, generator=torch.Generator().manual_seed(a)).cpu()  # (1, latent_dim)
            z_b = G.sample_latent(1, generator=torch.Generator().manual_seed(b)).cpu()
            # z(t) = (1 - t) z_a + t z_b
            path = torch.cat([(1 - ts) * z_a + ts * z_b, (1 - t) * z_a + t * z_b])  # (steps + 1, latent_dim)
            imgs = _draw.generate_digits(G, path, y)  # (steps + 1, 8, 8)
            fig, strip, big = _strip_and_big(steps, True, width=max(4.8, 0.6 * steps), big=2.8, strip_first=True)
            corners = _draw.draw_digits(strip, imgs[:steps], steps, [f"{float(v):.2f}" for v in ts[:, 0]])
            (left0, top), (left1, _) = corners[0], corners[-1]
            strip.add_patch(Rectangle((left0 + t * (left1 - left0), top), 8, 8, fill=False, edgecolor="C3", linewidth=2))
            strip.set_title(f"t from 0 (seed {a}) to 1 (seed {b})" + ("" if y is None else f", class {y}"), fontsize=9)
            _draw.draw_digits(big, imgs[steps:], 1, gap=0.1)
            big.set_title(f"t = {t:.2f}")
            _draw.remember(cache, key, fig)
        return cache[key]

    image = _draw.live_image(render, [slider, box_a, box_b, *([picker] if picker is not None else [])])
    controls = w.VBox([*([picker] if picker is not None else []), w.HBox([box_a, box_b]), slider])
    box = w.VBox([controls, image])
    box.slider, box.seed_a, box.seed_b, box.label, box.image, box.render = slider, box_a, box_b, picker, image, render
    return box
