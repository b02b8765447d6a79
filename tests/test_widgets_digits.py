"""Widgets of the 8x8 digits (lessons 06-07): the digit grid, the snapshot scrubber, the digit
picker and the interpolation. Pictures render to PNG, controls change them, the same settings
give the same bytes, bad input is explained.

Generators are tiny and untrained: these tests check plumbing (which z and class reach G),
not quality.
"""

from __future__ import annotations

import io
import types

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.image import imread

from genai_course import gan, models, vae, widgets

PNG = b"\x89PNG"


def tiny_conv(num_classes: int = 0, latent_dim: int = 6, seed: int = 0) -> gan.ConvGenerator:
    torch.manual_seed(seed)
    return gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=latent_dim, channels=4, num_classes=num_classes))


def digit_records(n_records: int = 3, n: int = 12) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    return [{"step": 10 * (i + 1), "samples": torch.rand(n, 1, 8, 8, generator=gen)} for i in range(n_records)]


def pixels(png: bytes) -> np.ndarray:
    assert png.startswith(PNG)
    return imread(io.BytesIO(png), format="png")


def differ(a: bytes, b: bytes) -> bool:
    """The two PNGs show different pictures (not just different bytes)."""
    pa, pb = pixels(a), pixels(b)
    return pa.shape != pb.shape or not np.array_equal(pa, pb)


def latents_seen(G: torch.nn.Module) -> list[torch.Tensor]:
    """Record every z (B, latent_dim) and y that G is called with."""
    seen: list[torch.Tensor] = []
    G.register_forward_pre_hook(lambda module, args: seen.append(tuple(a.clone() for a in args)))
    return seen


def test_show_digits_draws_one_image_per_digit_in_rows_of_nrow():
    ax = Figure().subplots()
    x = torch.rand(23, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert widgets.show_digits(x, nrow=5, labels=torch.arange(23), ax=ax, title="digits") is None
    assert len(ax.images) == 23
    assert np.allclose(np.asarray(ax.images[6].get_array()), x[6, 0].numpy())
    lefts = {im.get_extent()[0] for im in ax.images}
    tops = {im.get_extent()[3] for im in ax.images}
    assert len(lefts) == 5 and len(tops) == 5  # 5 per row, ceil(23 / 5) rows
    assert ax.images[5].get_extent()[0] == ax.images[0].get_extent()[0]  # image 5 starts row 2
    assert ax.images[5].get_extent()[3] > ax.images[0].get_extent()[3]  # further down the page
    first = ax.images[0]
    assert first.get_cmap().name == "gray_r" and first.get_clim() == (0.0, 1.0)  # dark ink on white
    assert [t.get_text() for t in ax.texts] == [str(i) for i in range(23)]
    assert len(ax.get_xticks()) == 0 and len(ax.get_yticks()) == 0
    assert ax.get_title() == "digits"


def test_show_digits_takes_numpy_and_makes_its_own_figure():
    import matplotlib.pyplot as plt

    plt.close("all")
    try:
        widgets.show_digits(np.zeros((3, 1, 8, 8)), labels=[0.5, 0.25, 1.0])
        (fig,) = [plt.figure(n) for n in plt.get_fignums()]
        (ax,) = fig.axes
        assert len(ax.images) == 3 and [t.get_text() for t in ax.texts] == ["0.50", "0.25", "1.00"]
        assert fig.get_size_inches()[0] < 3  # sized to a grid of 3 digits
    finally:
        plt.close("all")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"x": torch.zeros(5, 8, 8)}, ValueError, r"images must have shape \(N, 1, 8, 8\).*\(got \(5, 8, 8\)\): reshape"),
        ({"x": torch.zeros(4, 64)}, ValueError, r"\(got \(4, 64\)\): reshape with x.reshape\(-1, 1, 8, 8\)"),
        ({"x": torch.zeros(2, 3, 8, 8)}, ValueError, r"\(N, 1, 8, 8\): N images of 1 channel, 8x8 pixels \(got \(2, 3, 8, 8\)\)$"),
        ({"x": torch.zeros(0, 1, 8, 8)}, ValueError, r"images must hold at least one image \(got shape \(0, 1, 8, 8\)\)"),
        ({"x": "digits"}, TypeError, r"images must be a tensor or array of shape \(N, 1, 8, 8\) \(got str\)"),
        ({"labels": [1, 2]}, ValueError, r"labels must have one entry per image: 3 \(got 2\)"),
        ({"labels": 7}, TypeError, "labels must be a list, array or tensor with one label per image"),
        ({"nrow": 0}, ValueError, r"nrow must be a positive whole number of images per row \(got 0\)"),
        ({"ax": np.array([None, None])}, TypeError, r"ax must be one matplotlib Axes.*\(got ndarray\)"),
    ],
)
def test_show_digits_explains_bad_input(kwargs, error, message):
    kwargs = {"x": torch.zeros(3, 1, 8, 8), "ax": Figure().subplots(), **kwargs}
    with pytest.raises(error, match=message):
        widgets.show_digits(**kwargs)


def test_digit_scrubber_steps_through_the_records():
    box = widgets.digit_scrubber(digit_records(), nrow=4)
    assert (box.slider.min, box.slider.max, box.slider.value) == (0, 2, 0)
    assert box.play.max == box.slider.max
    assert box.image.format == "png" and box.caption.value == "step 10 of 30"
    first = bytes(box.image.value)
    box.slider.value = 2
    assert differ(first, bytes(box.image.value)) and box.image.value == box.render(2)
    assert box.caption.value == "step 30 of 30"
    box.slider.value = 0
    assert box.image.value == first  # same snapshot, same bytes
    assert widgets.digit_scrubber(digit_records(), nrow=4).render(0) == first  # and a new widget agrees
    with pytest.raises(IndexError, match=r"0\.\.2 \(got 3\)"):
        box.render(3)


def test_digit_scrubber_from_a_conditional_snapshots_callback():
    G = tiny_conv(num_classes=10)
    snap = gan.Snapshots(every=5, z=G.sample_latent(20, generator=torch.Generator().manual_seed(0)), labels=torch.arange(20) % 10)
    for step in (5, 10):
        snap(step, G, None, {})
        with torch.no_grad():
            G.up[-2].bias += 1.0  # "training": the next snapshot is darker
    box = widgets.digit_scrubber(snap)
    assert box.slider.max == 1 and box.caption.value == "step 5 of 10"
    assert differ(box.render(0), box.render(1))
    assert differ(box.render(0), widgets.digit_scrubber(snap.records).render(0))  # the labels are drawn


def test_digit_scrubber_explains_bad_input():
    with pytest.raises(ValueError, match=r"no snapshots recorded: pass model.snapshots\(every=\.\.\.\) to model.fit's callbacks"):
        widgets.digit_scrubber([])
    with pytest.raises(ValueError, match=r"snapshot 0 holds 2D points \(50, 2\), not digits: use training_scrubber"):
        widgets.digit_scrubber([{"step": 10, "samples": torch.zeros(50, 2)}])
    bad = digit_records()
    bad[1]["samples"] = torch.zeros(12, 8, 8)
    with pytest.raises(ValueError, match=r"snapshot 1's samples must have shape \(N, 1, 8, 8\).*got \(12, 8, 8\)"):
        widgets.digit_scrubber(bad)
    with pytest.raises(ValueError, match="snapshot 0 must be a dict with 'step' and 'samples'"):
        widgets.digit_scrubber([{"step": 3}])
    with pytest.raises(ValueError, match=r"nrow must be a positive whole number of images per row \(got -1\)"):
        widgets.digit_scrubber(digit_records(), nrow=-1)
    with pytest.raises(TypeError, match=r"gan.Snapshots or vae.SampleSnapshots callback, or a list of dicts.*got str"):
        widgets.digit_scrubber("snapshots")


def test_digit_picker_conditional_sliders_and_class_change_the_picture():
    G = tiny_conv(num_classes=10)
    z = G.sample_latent(1, generator=torch.Generator().manual_seed(3))[0]  # (latent_dim,)
    box = widgets.digit_picker(G, sliders=4, seed=3, label=7)
    assert len(box.sliders) == 4
    assert [(s.min, s.max) for s in box.sliders] == [(-3.0, 3.0)] * 4
    assert [s.value for s in box.sliders] == pytest.approx(z[:4].tolist(), abs=0.005)  # start at the seeded z
    assert list(box.label.options) == list(range(10)) and box.label.value == 7
    start = bytes(box.image.value)
    assert box.image.format == "png" and start == box.render()
    box.sliders[2].value = 2.5
    moved = bytes(box.image.value)
    assert differ(start, moved) and moved == box.render()
    box.label.value = 1
    assert differ(moved, bytes(box.image.value))
    box.label.value, box.sliders[2].value = 7, round(z[2].item(), 2)
    assert box.image.value == start  # back to the start: the same bytes
    assert widgets.digit_picker(G, sliders=4, seed=3, label=7).render() == start  # same settings, same picture
    assert differ(widgets.digit_picker(G, sliders=4, seed=4, label=7).render(), start)


def test_digit_picker_moves_the_first_coordinates_and_fixes_the_rest():
    G = tiny_conv(num_classes=10)
    z = G.sample_latent(1, generator=torch.Generator().manual_seed(0))  # (1, latent_dim)
    seen = latents_seen(G)
    box = widgets.digit_picker(G, sliders=2, seed=0, label=4)
    box.sliders[0].value, box.sliders[1].value = -3.0, 1.25
    zs, ys = seen[-1]  # (9, latent_dim): the big digit, then 8 neighbours
    assert zs.shape == (9, 6) and ys.tolist() == [4] * 9
    assert zs[0, :2].tolist() == [-3.0, 1.25]
    assert torch.equal(zs[0, 2:], z[0, 2:])  # the other coordinates: the seeded z's
    assert 0 < (zs[1:] - zs[:1]).norm(dim=1).min()  # neighbours near, not on, the digit


def test_digit_picker_unconditional_has_no_class_picker_and_restores_g():
    import ipywidgets

    G = tiny_conv(num_classes=0, latent_dim=3)
    running_mean = G.project[1].running_mean.clone()
    assert G.training
    box = widgets.digit_picker(G, sliders=3, label=12)  # label is ignored without classes
    assert box.label is None and len(box.sliders) == 3

    def descendants(w):
        yield w
        for child in getattr(w, "children", ()):
            yield from descendants(child)

    assert not any(isinstance(w, ipywidgets.ToggleButtons) for w in descendants(box))
    start = bytes(box.image.value)
    box.sliders[0].value = -2.0
    assert differ(start, bytes(box.image.value))
    assert G.training  # put back in training mode...
    assert torch.equal(G.project[1].running_mean, running_mean)  # ...and batch norm's statistics untouched
    G.eval()
    assert len(widgets.digit_picker(G, sliders=4).sliders) == 3  # all of z, no more
    assert not G.training  # eval stays eval
    assert widgets.digit_picker(types.SimpleNamespace(G=G), sliders=3).render() == widgets.digit_picker(G, sliders=3).render()


def test_digit_picker_explains_bad_input():
    with pytest.raises(TypeError, match=r"G must be a digits generator with G.config.latent_dim and G.config.num_classes.*got Linear"):
        widgets.digit_picker(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"G must be a digits generator.*got Generator"):
        widgets.digit_picker(gan.Generator())  # the 2D generator
    with pytest.raises(ValueError, match=r"sliders must be a whole number of latent coordinates, 0 or more \(got -1\)"):
        widgets.digit_picker(tiny_conv(), sliders=-1)
    with pytest.raises(ValueError, match=r"label must be a class in 0\.\.9 \(got 10\)"):
        widgets.digit_picker(tiny_conv(num_classes=10), label=10)
    with pytest.raises(TypeError, match=r"seed must be a whole number \(got 'a'\)"):
        widgets.digit_picker(tiny_conv(), seed="a")


def test_interpolation_walks_the_straight_line_between_two_seeds():
    G = tiny_conv(num_classes=10)
    z_a = G.sample_latent(1, generator=torch.Generator().manual_seed(2))
    z_b = G.sample_latent(1, generator=torch.Generator().manual_seed(5))
    seen = latents_seen(G)
    box = widgets.interpolation(G, steps=5, seed_a=2, seed_b=5, label=3)
    assert (box.slider.min, box.slider.max, box.slider.value) == (0.0, 1.0, 0.5)
    assert (box.seed_a.value, box.seed_b.value, box.label.value) == (2, 5, 3)
    zs, ys = seen[-1]  # (steps + 1, latent_dim): the strip, then the enlarged point
    assert ys.tolist() == [3] * 6
    assert torch.allclose(zs[0], z_a[0]) and torch.allclose(zs[4], z_b[0])
    assert torch.allclose(zs[2], (z_a[0] + z_b[0]) / 2) and torch.allclose(zs[5], zs[2])
    box.slider.value = 0.25
    assert torch.allclose(seen[-1][0][5], 0.75 * z_a[0] + 0.25 * z_b[0], atol=1e-6)
    assert G.training


def test_interpolation_controls_change_the_picture():
    G = tiny_conv(num_classes=10)
    box = widgets.interpolation(G)
    assert box.label.value == 0  # default class
    start = bytes(box.image.value)
    assert box.image.format == "png" and start == box.render()
    for control, value in ((box.slider, 0.9), (box.seed_b, 7), (box.seed_a, 4), (box.label, 8)):
        before = bytes(box.image.value)
        control.value = value
        assert differ(before, bytes(box.image.value)), control.description
    box.slider.value, box.seed_a.value, box.seed_b.value, box.label.value = 0.5, 0, 1, 0
    assert box.image.value == start
    assert widgets.interpolation(G).render() == start  # same settings, same picture


def test_interpolation_unconditional_and_bad_input():
    G = tiny_conv()
    box = widgets.interpolation(G, steps=3)
    assert box.label is None and box.render().startswith(PNG)
    with pytest.raises(ValueError, match=r"this G is unconditional \(num_classes=0\).*leave label=None \(got 3\)"):
        widgets.interpolation(G, label=3)
    with pytest.raises(ValueError, match=r"steps must be a whole number of at least 2.*\(got 1\)"):
        widgets.interpolation(G, steps=1)
    with pytest.raises(ValueError, match=r"label must be a class in 0\.\.9 \(got -1\)"):
        widgets.interpolation(tiny_conv(num_classes=10), label=-1)
    with pytest.raises(TypeError, match=r"seed_b must be a whole number \(got 1.5\)"):
        widgets.interpolation(G, seed_b=1.5)
    with pytest.raises(TypeError, match="G must be a digits generator"):
        widgets.interpolation(None)


def test_digit_scrubber_takes_vae_sample_snapshots():
    model = models.build("vae-digits")
    snaps = model.snapshots(every=2, n=10)
    snaps.record(0, model.vae)
    model.fit(steps=4, callbacks=[snaps], progress=False)
    box = widgets.digit_scrubber(snaps)
    assert isinstance(snaps, vae.SampleSnapshots) and box.slider.max == 2
    assert box.caption.value == "step 0 of 4"
