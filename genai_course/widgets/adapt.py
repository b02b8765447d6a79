"""Lesson 14's widget: what each way of adapting a digits model did, side by side.

``adaptation_picker`` takes sample grids computed beforehand (nothing trains or samples here):
for each (method, number of examples), the adapted model's samples of the new class and its
samples of the old classes. A dropdown picks the method, toggle buttons the number of
examples; the picture shows the new class on the left and the old classes on the right, so
what a method learned and what it forgot sit in one view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
from matplotlib.figure import Figure

from . import _draw

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["adaptation_picker"]

Key = tuple[str, int]  # (method, number of examples)


def _keys(results: Any) -> tuple[list[str], list[int]]:
    """The methods (in first-seen order) and example counts (sorted) of ``results``, which must
    hold every combination of them; a clear error otherwise."""
    if not isinstance(results, Mapping) or not results:
        raise TypeError("results must be a non-empty dict {(method, examples): (new_samples, old_samples)} "
                        f"(got {type(results).__name__ if not isinstance(results, Mapping) else 'an empty dict'})")
    for key in results:
        if (not isinstance(key, tuple) or len(key) != 2 or not isinstance(key[0], str)
                or not isinstance(key[1], (int, np.integer)) or isinstance(key[1], bool)):
            raise TypeError(f"every key of results must be (method, examples), e.g. ('lora', 20) (got {key!r})")
    methods = list(dict.fromkeys(method for method, _ in results))
    sizes = sorted({int(n) for _, n in results})
    missing = [(m, n) for m in methods for n in sizes if (m, n) not in results]
    if missing:
        raise ValueError(f"results must hold every method for every number of examples: missing {missing}")
    return methods, sizes


def _grids(results: Mapping[Key, Any]) -> dict[Key, tuple[np.ndarray, np.ndarray]]:
    """Each entry's (new (N, 8, 8), old (M, 8, 8)) images as numpy, checked."""
    grids = {}
    for key, pair in results.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"results[{key!r}] must be a pair (new_samples, old_samples), each (N, 1, 8, 8) "
                            f"(got {type(pair).__name__})")
        new, old = pair
        grids[(key[0], int(key[1]))] = (_draw.digit_images(new, f"results[{key!r}]'s new samples"),
                                       _draw.digit_images(old, f"results[{key!r}]'s old samples"))
    return grids


def adaptation_picker(results: Mapping[Key, Any], captions: Mapping[Key, str] | None = None, *,
                      nrow_new: int = 5, nrow_old: int = 9) -> ipywidgets.VBox:
    """Pick an adaptation and see its samples: the new class (left) beside the old classes (right).

    ``results`` maps (method, examples) to (new_samples, old_samples), each a tensor or array
    (N, 1, 8, 8) with pixels in [0, 1], for every method and every number of examples (the full
    grid). ``captions`` (optional) maps the same keys to one line each (e.g. the accuracies),
    shown under the controls. The new samples are drawn ``nrow_new`` per row, the old ones
    ``nrow_old`` per row (one column per old class when they come class by class).

    Controls: ``.method`` (Dropdown, in the order of ``results``) and ``.examples``
    (ToggleButtons, sorted; both start at the first). The box also has ``.caption``, ``.image``,
    ``.key`` (the current (method, examples)) and ``.render() -> bytes`` (PNG of the current
    choice; each one is drawn once, then cached).
    """
    import ipywidgets as w

    methods, sizes = _keys(results)
    grids = _grids(results)
    captions = dict(captions or {})
    for key, text in captions.items():
        if key not in grids or not isinstance(text, str):
            raise ValueError(f"captions must map keys of results to strings (got {key!r}: {text!r})")
    nrow_new = _draw.positive_int(nrow_new, "nrow_new", "of new-class samples per row")
    nrow_old = _draw.positive_int(nrow_old, "nrow_old", "of old-class samples per row")
    pngs: dict[Key, bytes] = {}

    method = w.Dropdown(options=methods, value=methods[0], description="method")
    examples = w.ToggleButtons(options=sizes, value=sizes[0], description="examples", style={"button_width": "3em"})
    caption = w.Label()
    box = w.VBox()

    def render() -> bytes:
        """PNG of the current method and number of examples, cached."""
        key = (method.value, examples.value)
        box.key = key
        caption.value = captions.get(key, f"{key[0]}, {key[1]} examples")
        if key not in pngs:
            new, old = grids[key]
            w_new, h_new = _draw.grid_inches(len(new), nrow_new, False, True)
            w_old, h_old = _draw.grid_inches(len(old), nrow_old, False, True)
            fig = Figure(figsize=(w_new + w_old + 0.3, max(h_new, h_old)), layout="compressed")
            left, right = fig.subplots(1, 2, width_ratios=[w_new, w_old])
            _draw.draw_digits(left, new, nrow_new)
            left.set_title(f"{key[0]}, {key[1]} examples: the new class", fontsize=9)
            _draw.draw_digits(right, old, nrow_old)
            right.set_title("the old classes", fontsize=9)
            pngs[key] = _draw.render(fig)
        return pngs[key]

    image = _draw.live_image(render, [method, examples])
    box.children = [w.HBox([method, examples]), caption, image]
    box.method, box.examples, box.caption, box.image, box.render = method, examples, caption, image, render
    return box
