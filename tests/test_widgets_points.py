"""Widgets of the 2D GANs (lessons 01-05): points over a density, D's decision map, the training
scrubber and the latent explorer. Pictures render to PNG, sliders change them, caches hold, bad
input is explained.

Networks are tiny and untrained (the scrubber's trains 20 steps): these tests check plumbing,
not quality.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from genai_course import data, gan, widgets
from genai_course.widgets import _draw

PNG = b"\x89PNG"


def tiny_generator(latent_dim: int = 2, seed: int = 0) -> gan.Generator:
    torch.manual_seed(seed)
    return gan.Generator(gan.GeneratorConfig(latent_dim=latent_dim, hidden=8, layers=1))


@pytest.fixture(scope="module")
def snapshots() -> gan.Snapshots:
    """A real Snapshots callback after 20 steps of train_gan (4 records)."""
    G = tiny_generator()
    D = gan.Discriminator(gan.DiscriminatorConfig(hidden=8, layers=1))
    z = G.sample_latent(64, generator=torch.Generator().manual_seed(1))
    snap = gan.Snapshots(every=5, z=z, grid=data.make_grid(1.5, 16))
    config = gan.TrainConfig(steps=20, batch_size=32, lr_g=1e-2, lr_d=1e-2)
    gan.train_gan(G, D, data.ring8().sample, config, callbacks=[snap], progress=False)
    return snap


def fake_records(n: int = 3, with_d: bool = False) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    records = []
    for i in range(n):
        rec = {"step": 10 * (i + 1), "samples": torch.randn(50, 2, generator=gen) * (i + 1) * 0.3}
        if with_d:
            rec["d_logits"] = torch.randn(64, generator=gen)
        records.append(rec)
    return records


# ---------------------------------------------------------------- plot_points / plot_decision


def test_plot_points_draws_density_centres_and_samples_on_any_axes():
    ax = Figure().subplots()
    mixture = data.ring8()
    out = widgets.plot_points(ax, mixture.sample(100), mixture, title="ring")
    assert out is ax
    assert len(ax.images) == 1  # the density
    assert len(ax.collections) == 2  # mode centres, samples
    assert ax.get_title() == "ring"
    assert ax.get_xlim() == pytest.approx((-1.5, 1.5))


def test_plot_points_takes_numpy_per_point_colours_and_no_density():
    ax = Figure().subplots()
    x = np.random.default_rng(0).normal(size=(30, 2))
    widgets.plot_points(ax, x, data.grid25(), density=False, color=np.tile([0.0, 0.0, 1.0, 1.0], (30, 1)))
    assert len(ax.images) == 0
    widgets.plot_points(Figure().subplots(), np.zeros((5, 2)))  # no mixture, all at the origin: no warning


@pytest.mark.parametrize("bad", [torch.zeros(10, 3), torch.zeros(10), np.zeros((2, 5, 2))])
def test_plot_points_rejects_points_not_n_by_2(bad):
    with pytest.raises(ValueError, match=r"samples must have shape \(N, 2\).*got"):
        widgets.plot_points(Figure().subplots(), bad)


def test_plot_points_rejects_wrong_types():
    with pytest.raises(TypeError, match="samples must be a tensor or array"):
        widgets.plot_points(Figure().subplots(), "points")
    with pytest.raises(TypeError, match="mixture must be a data.Mixture"):
        widgets.plot_points(Figure().subplots(), torch.zeros(3, 2), "ring8")


def test_plot_decision_follows_make_grid_layout():
    grid = data.make_grid(1.0, 8)  # (64, 2)
    logits = 5 * grid[:, 0]  # D says "real" on the right (x > 0)
    ax = Figure().subplots()
    widgets.plot_decision(ax, grid, logits, points=torch.zeros(4, 2), colorbar=True, title="D")
    image = ax.images[0]
    prob = np.asarray(image.get_array())
    assert prob.shape == (8, 8)
    assert prob[0, -1] > 0.99 and prob[0, 0] < 0.01  # columns are x
    assert np.allclose(prob[0], prob[-1])  # rows (y) do not matter here
    assert image.origin == "lower"
    assert list(image.get_extent()) == pytest.approx([-1, 1, -1, 1])
    assert image.get_clim() == (0.0, 1.0)  # 0.5 sits at the colormap's centre
    assert len(ax.figure.axes) == 2  # the colorbar


def test_plot_decision_rejects_mismatched_logits_and_non_square_grid():
    grid = data.make_grid(1.0, 8)
    with pytest.raises(ValueError, match=r"one logit per grid point, M = 64 \(got \(63,\)\)"):
        widgets.plot_decision(Figure().subplots(), grid, torch.zeros(63))
    with pytest.raises(ValueError, match="grid must be square"):
        widgets.plot_decision(Figure().subplots(), grid[:63], torch.zeros(63))


# ---------------------------------------------------------------- training_scrubber


def test_scrubber_from_snapshots_callback(snapshots):
    assert [r["step"] for r in snapshots.records] == [5, 10, 15, 20]
    box = widgets.training_scrubber(snapshots, data.ring8())
    assert box.slider.min == 0 and box.slider.max == 3 and box.slider.continuous_update
    assert box.play.max == box.slider.max
    assert box.image.format == "png" and bytes(box.image.value).startswith(PNG)
    assert "step 5" in box.label.value
    first = bytes(box.image.value)
    box.slider.value = 3
    assert box.image.value != first
    assert box.image.value == box.render(3)
    assert "step 20" in box.label.value
    box.slider.value = 0
    assert box.image.value == first  # cached: the same index gives the same bytes


def test_scrubber_renders_once_per_index(snapshots, monkeypatch):
    box = widgets.training_scrubber(snapshots, data.ring8())
    calls = []
    real_render = _draw.render
    monkeypatch.setattr(_draw, "render", lambda fig: calls.append(1) or real_render(fig))
    a = box.render(2)
    b = box.render(2)
    assert a == b and a.startswith(PNG) and len(calls) == 1
    with pytest.raises(IndexError, match=r"0\.\.3"):
        box.render(4)


def test_scrubber_from_list_with_and_without_discriminator():
    one_panel = widgets.training_scrubber(fake_records(), data.ring8())
    two_panels = widgets.training_scrubber(fake_records(with_d=True), data.ring8(), grid=data.make_grid(1.5, 8))
    assert one_panel.render(0).startswith(PNG) and two_panels.render(0).startswith(PNG)
    assert one_panel.render(0) != two_panels.render(0)
    no_mixture = widgets.training_scrubber(fake_records(), None)
    no_mixture.slider.value = 2
    assert no_mixture.image.value == no_mixture.render(2)


def test_scrubber_explains_bad_input():
    with pytest.raises(ValueError, match=r"no snapshots recorded: pass Snapshots\(every=\.\.\.\) to train_gan's callbacks"):
        widgets.training_scrubber([], data.ring8())
    with pytest.raises(ValueError, match="no snapshots recorded"):
        widgets.training_scrubber(gan.Snapshots(every=5, z=torch.zeros(4, 2)), data.ring8())
    bad = fake_records()
    bad[1]["samples"] = torch.zeros(50, 3)
    with pytest.raises(ValueError, match=r"snapshot 1's samples must have shape \(N, 2\).*got \(50, 3\)"):
        widgets.training_scrubber(bad, data.ring8())
    with pytest.raises(ValueError, match="snapshot 0 must be a dict with 'step' and 'samples'"):
        widgets.training_scrubber([{"samples": torch.zeros(5, 2)}], data.ring8())
    with pytest.raises(ValueError, match="logits but no grid: pass grid="):
        widgets.training_scrubber(fake_records(with_d=True), data.ring8())
    with pytest.raises(ValueError, match="snapshot 0 has 64 logits but the grid has 256 points"):
        widgets.training_scrubber(fake_records(with_d=True), data.ring8(), grid=data.make_grid(1.5, 16))
    with pytest.raises(TypeError, match=r"gan.Snapshots or vae.SampleSnapshots callback, or a list of dicts.*got int"):
        widgets.training_scrubber(3, data.ring8())


# ---------------------------------------------------------------- latent_explorer


def test_latent_explorer_2d_sliders_move_the_probe():
    G = tiny_generator()
    box = widgets.latent_explorer(G, mixture=data.ring8(), n=100)
    assert len(box.sliders) == 2
    s = box.sliders[0]
    assert (s.min, s.max, s.step, s.value, s.continuous_update) == (-3.0, 3.0, 0.1, 0.0, True)
    start = bytes(box.image.value)
    assert start.startswith(PNG) and box.image.format == "png"
    box.sliders[1].value = 2.0
    moved = bytes(box.image.value)
    assert moved != start and moved == box.render()
    box.sliders[1].value = 0.0
    assert box.image.value == start  # cached per slider position
    assert G.training  # the explorer leaves G's mode as it found it


def test_latent_explorer_many_dims_transform_and_many_modes():
    G = tiny_generator(latent_dim=10)
    box = widgets.latent_explorer(G, transform=lambda x: 3 * x, mixture=data.grid25(), n=50, seed=1)
    assert len(box.sliders) == 8
    assert any("stay 0" in getattr(child, "value", "") for child in box.children)
    start = bytes(box.image.value)
    box.sliders[7].value = -3.0
    assert box.image.value != start
    same = widgets.latent_explorer(G, transform=lambda x: 3 * x, mixture=data.grid25(), n=50, seed=1)
    assert same.image.value == start  # same seed, same picture


def test_latent_explorer_without_mixture():
    box = widgets.latent_explorer(tiny_generator(), n=20)
    start = bytes(box.image.value)
    box.sliders[0].value = 1.5
    assert start.startswith(PNG) and box.image.value != start


def test_latent_explorer_explains_bad_input():
    with pytest.raises(TypeError, match=r"G must be a generator with G.config.latent_dim.*got Linear"):
        widgets.latent_explorer(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"G's outputs \(after transform\) must have shape \(N, 2\).*got \(500, 4\)"):
        widgets.latent_explorer(tiny_generator(), transform=lambda x: x.repeat(1, 2))
    with pytest.raises(ValueError, match="n must be a positive whole number"):
        widgets.latent_explorer(tiny_generator(), n=0)
