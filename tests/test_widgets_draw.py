"""The widgets' drawing kit (genai_course/widgets/_draw.py): PNG bytes, caches, snapshot records.

The digit grid, the live image and the scrubber are exercised through the widgets that use
them (test_widgets_digits.py and the others); these are the pieces every widget leans on.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from genai_course import gan
from genai_course.widgets import _draw

PNG = b"\x89PNG"


def figure(value: float) -> Figure:
    fig = Figure(figsize=(1, 1))
    fig.subplots().imshow(np.full((2, 2), value), vmin=0, vmax=1)
    return fig


def test_render_gives_equal_bytes_for_equal_pictures():
    a, b, c = _draw.render(figure(0.2)), _draw.render(figure(0.2)), _draw.render(figure(0.8))
    assert a.startswith(PNG) and a == b and a != c  # no timestamp in the PNG


def test_remember_forgets_everything_once_the_cache_is_full():
    cache: dict[int, bytes] = {}
    fig = figure(0.5)
    for key in range(_draw.CACHE_SIZE + 1):
        cache[key] = b""
    _draw.remember(cache, "new", fig)
    assert list(cache) == ["new"] and cache["new"].startswith(PNG)


def test_snapshot_records_takes_callbacks_histories_and_lists():
    records = [{"step": 1, "samples": torch.zeros(3, 2)}]
    assert _draw.snapshot_records(records) == (records, None)
    assert _draw.snapshot_records(gan.History(snapshots=records)) == (records, None)
    snap = gan.Snapshots(every=1, z=torch.zeros(3, 2), grid=torch.zeros(4, 2))
    assert _draw.snapshot_records(snap) == ([], snap.grid)
    with pytest.raises(TypeError, match=r"^snapshots must be a gan.Snapshots or vae.SampleSnapshots callback.*\(got dict\)$"):
        _draw.snapshot_records({"step": 1})


@pytest.mark.parametrize(
    "value, least, message",
    [
        (0, 1, r"^n must be a positive whole number of things \(got 0\)$"),
        (-1, 0, r"^n must be a whole number of at least 0, of things \(got -1\)$"),
        (2.0, 1, r"^n must be a positive whole number of things \(got 2.0\)$"),
        (True, 1, r"^n must be a positive whole number of things \(got True\)$"),
    ],
)
def test_positive_int_names_the_argument_and_what_it_counts(value, least, message):
    with pytest.raises(ValueError, match=message):
        _draw.positive_int(value, "n", "of things", least=least)
    assert _draw.positive_int(np.int64(3), "n", "of things") == 3
