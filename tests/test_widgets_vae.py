"""VAE widgets (lesson 08): traversal, 2-latent map and reconstructions.

The VAEs are untrained (registry recipes, or tiny 2-latent ones): these tests check plumbing,
which z reaches the decoder, caching and the error messages, not the pictures' quality.
"""

from __future__ import annotations


import ipywidgets
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from genai_course import data, gan, models, vae, widgets
from shared import differ, renders

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def vae4() -> models.TrainedVAE:
    return models.build("vae-digits")


@pytest.fixture(scope="module")
def cvae() -> models.TrainedVAE:
    return models.build("cvae-digits")


def tiny(latent_dim: int = 2, num_classes: int = 0, seed: int = 0) -> vae.VAE:
    torch.manual_seed(seed)
    return vae.VAE(vae.VAEConfig(latent_dim=latent_dim, hidden=16, layers=1, num_classes=num_classes))


def calls(module: torch.nn.Module) -> list[tuple[torch.Tensor, ...]]:
    """Record the tensors every call of module gets (z and y for a decoder)."""
    seen: list[tuple[torch.Tensor, ...]] = []
    module.register_forward_pre_hook(lambda m, args: seen.append(tuple(a if a is None else a.clone() for a in args)))
    return seen


def descendants(w):
    yield w
    for child in getattr(w, "children", ()):
        yield from descendants(child)


# ---------------------------------------------------------------- latent_traversal


def test_traversal_sliders_start_at_the_seeded_z_and_change_the_picture(vae4, monkeypatch):
    z = vae4.G.sample_latent(1, generator=torch.Generator().manual_seed(3))[0]  # (4,)
    box = widgets.latent_traversal(vae4, seed=3)
    assert [s.description for s in box.sliders] == ["z[0]", "z[1]", "z[2]", "z[3]"]
    assert [(s.min, s.max, s.step) for s in box.sliders] == [(-3.0, 3.0, 0.01)] * 4
    assert [s.value for s in box.sliders] == pytest.approx(z.tolist(), abs=0.005)
    assert box.label is None and not any(isinstance(w, ipywidgets.ToggleButtons) for w in descendants(box))
    start = bytes(box.image.value)
    assert start.startswith(PNG) and box.image.format == "png" and start == box.render()
    counted = renders(monkeypatch)
    box.sliders[1].value = -2.5
    assert differ(start, bytes(box.image.value)) and box.image.value == box.render()
    box.sliders[1].value = round(z[1].item(), 2)
    assert box.image.value == start and len(counted) == 1  # back to the start: from the cache
    assert widgets.latent_traversal(vae4.G, seed=3).render() == start  # the DecoderMeans itself: same picture
    assert vae4.vae.training  # the widget leaves the network's mode as it found it


def test_traversal_row_i_sweeps_only_z_i(vae4):
    seen = calls(vae4.G)
    box = widgets.latent_traversal(vae4, seed=1, span=2.0, steps=5)
    box.sliders[2].value = 1.25
    (zs,) = seen[-1]  # (rows * steps, latent_dim)
    assert zs.shape == (4 * 5, 4)
    zs = zs.view(4, 5, 4)  # (row, step, coordinate)
    values = torch.tensor([s.value for s in box.sliders])
    for i in range(4):
        assert torch.allclose(zs[i, :, i], torch.linspace(-2.0, 2.0, 5))
        others = [j for j in range(4) if j != i]
        assert torch.allclose(zs[i][:, others], values[others].expand(5, 3))  # the rest at the sliders
    assert torch.allclose(zs[0, :, 2], torch.tensor(1.25))


def test_traversal_conditional_gets_a_class_picker(cvae):
    seen = calls(cvae.G)
    box = widgets.latent_traversal(cvae, label=3, steps=3)
    assert list(box.label.options) == list(range(10)) and box.label.value == 3
    assert seen[-1][1].tolist() == [3] * (4 * 3)  # every digit asked of class 3
    start = bytes(box.image.value)
    box.label.value = 8
    assert seen[-1][1].tolist() == [8] * 12 and differ(start, bytes(box.image.value))
    assert widgets.latent_traversal(cvae, steps=3).label.value == 0  # default class


def test_traversal_shows_at_most_max_rows_coordinates():
    torch.manual_seed(0)
    G = gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=10, channels=4))
    seen = calls(G)
    box = widgets.latent_traversal(G, steps=2)
    assert len(box.sliders) == 8 and seen[-1][0].shape == (8 * 2, 10)
    assert any(isinstance(w, ipywidgets.Label) and "z[8]..z[9] stay fixed" in w.value for w in descendants(box))
    assert len(widgets.latent_traversal(G, steps=2, max_rows=3).sliders) == 3


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"label": 3}, ValueError, r"this G is unconditional \(num_classes=0\).*leave label=None \(got 3\)"),
        ({"steps": 1}, ValueError, r"steps must be a whole number of at least 2, the digits along each row \(got 1\)"),
        ({"span": 0}, ValueError, r"span must be a positive number, the largest \|z\| shown \(got 0\)"),
        ({"span": -1.5}, ValueError, r"span must be a positive number.*\(got -1.5\)"),
        ({"max_rows": 0}, ValueError, r"max_rows must be a positive whole number of latent coordinates to show \(got 0\)"),
        ({"seed": "a"}, TypeError, r"seed must be a whole number \(got 'a'\)"),
    ],
)
def test_traversal_explains_bad_input(vae4, kwargs, error, message):
    with pytest.raises(error, match=message):
        widgets.latent_traversal(vae4, **kwargs)


def test_traversal_checks_the_class_and_the_generator(cvae):
    with pytest.raises(ValueError, match=r"label must be a class in 0\.\.9 \(got 10\)"):
        widgets.latent_traversal(cvae, label=10)
    with pytest.raises(TypeError, match="G must be a digits generator"):
        widgets.latent_traversal(torch.nn.Linear(2, 2))


# ---------------------------------------------------------------- latent_map


def test_latent_map_encodes_once_and_redraws_only_the_cross(monkeypatch):
    net = tiny()
    encoded, decoded = calls(net.encoder), calls(net.decoder)
    box = widgets.latent_map(net, span=2.0, resolution=4)
    assert [(s.description, s.min, s.max, s.value) for s in box.sliders] == [("z[0]", -2.0, 2.0, 0.0), ("z[1]", -2.0, 2.0, 0.0)]
    x = encoded[0][0]
    assert len(encoded) == 1 and torch.equal(x, data.load_digits().x_test)  # the held-out digits, encoded once
    grid, _ = decoded[0]
    grid = grid.view(4, 4, 2)  # rows of the map from the top, columns from the left
    assert grid[0, :, 0].tolist() == pytest.approx([-1.5, -0.5, 0.5, 1.5])  # z[0] increases to the right
    assert grid[:, 0, 1].tolist() == pytest.approx([1.5, 0.5, -0.5, -1.5])  # z[1] increases upwards
    start = bytes(box.image.value)
    assert start.startswith(PNG) and start == box.render()
    counted = renders(monkeypatch)
    box.sliders[0].value, box.sliders[1].value = 1.0, -0.5
    assert differ(start, bytes(box.image.value)) and box.image.value == box.render()
    assert decoded[-1][0].tolist() == [[1.0, -0.5]]  # the enlarged digit: the sliders' z
    assert len(encoded) == 1 and len(decoded) == 1 + 3  # the grid once, then one digit per picture
    box.sliders[1].value, box.sliders[0].value = 0.0, 0.0  # back the way it came: (1, 0), then (0, 0)
    assert box.image.value == start and len(counted) == 2  # both cached
    assert net.training


def test_latent_map_takes_a_trained_vae_and_digits_without_labels():
    model = models.TrainedVAE(models.VAERecipe(vae.VAEConfig(latent_dim=2, hidden=16, layers=1)))
    x = data.load_digits().x_test[:20]
    with_labels = widgets.latent_map(model, x, torch.arange(20) % 10, resolution=3).render()
    without = widgets.latent_map(model, x.numpy(), resolution=3).render()  # one colour, no colour bar
    assert with_labels.startswith(PNG) and differ(with_labels, without)


@pytest.mark.parametrize(
    "model, kwargs, error, message",
    [
        (lambda: models.build("vae-digits"), {}, ValueError,
         r"^latent_map draws a 2-latent VAE: this one has latent_dim=4; build one with vae.VAE\(vae.VAEConfig\(latent_dim=2\)\)$"),
        (lambda: tiny(num_classes=10), {}, ValueError,
         r"latent_map draws an unconditional VAE: this one is conditional \(num_classes=10\)"),
        (lambda: gan.ConvGenerator(), {}, TypeError, r"latent_map needs a VAE: a models.TrainedVAE or a vae.VAE \(got ConvGenerator\)"),
        (tiny, {"span": 0.0}, ValueError, r"span must be a positive number"),
        (tiny, {"resolution": 0}, ValueError, r"resolution must be a positive whole number of digits along each side"),
        (tiny, {"x": torch.zeros(5, 64)}, ValueError, r"x must have shape \(N, 1, 8, 8\).*reshape"),
        (tiny, {"y": torch.zeros(5)}, ValueError, r"y was given without x"),
        (tiny, {"x": torch.zeros(5, 1, 8, 8), "y": torch.zeros(5)}, ValueError,
         r"y must hold one whole-number label per digit, shape \(5,\) \(got torch.float32 of shape \(5,\)\)"),
    ],
)
def test_latent_map_explains_bad_input(model, kwargs, error, message):
    with pytest.raises(error, match=message):
        widgets.latent_map(model(), **kwargs)


# ---------------------------------------------------------------- reconstructions


def test_show_reconstructions_draws_originals_reconstructions_and_draws():
    net = tiny(latent_dim=3)
    x, y = data.load_digits().x_test[:6], data.load_digits().y_test[:6]
    decoded = calls(net.decoder)
    ax = Figure().subplots()
    assert widgets.show_reconstructions(net, x, y, samples=2, seed=5, ax=ax) is None
    assert len(ax.images) == (2 + 2) * 6
    assert np.allclose(np.asarray(ax.images[1].get_array()), x[1, 0].numpy())  # row 0: the originals
    assert [t.get_text() for t in ax.get_yticklabels()] == ["original", "reconstruction\n(decoder mean at mu)", "z ~ q(z|x)", "z ~ q(z|x)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(v) for v in y.tolist()]
    mu, logvar = net.encoder(x)
    generator = torch.Generator().manual_seed(5)
    expected = [mu] + [vae.reparameterize(mu, logvar, generator) for _ in range(2)]
    assert len(decoded) == 3
    for (z, _), want in zip(decoded, expected):
        assert torch.allclose(z, want)  # the mean, then draws z ~ q(z|x) from the seeded generator
    assert np.allclose(np.asarray(ax.images[6].get_array()), net.reconstruct(x)[0, 0].numpy(), atol=1e-6)


def test_show_reconstructions_makes_its_own_figure_and_checks_its_input():
    import matplotlib.pyplot as plt

    plt.close("all")
    try:
        widgets.show_reconstructions(tiny(), torch.rand(3, 1, 8, 8), samples=0)
        (fig,) = [plt.figure(n) for n in plt.get_fignums()]
        assert len(fig.axes[0].images) == 2 * 3 and not fig.axes[0].get_xticklabels()  # no labels, no class ticks
    finally:
        plt.close("all")
    with pytest.raises(ValueError, match=r"show_reconstructions needs the digits x"):
        widgets.show_reconstructions(tiny(), None)
    with pytest.raises(TypeError, match="ax must be one matplotlib Axes"):
        widgets.show_reconstructions(tiny(), torch.rand(3, 1, 8, 8), ax="axes")


def test_reconstructions_slider_walks_the_held_out_digits(vae4, monkeypatch):
    box = widgets.reconstructions(vae4)
    assert (box.slider.description, box.slider.min, box.slider.max, box.slider.value) == ("batch", 0, 29, 0)
    start = bytes(box.image.value)
    assert start.startswith(PNG) and start == box.render(0)
    counted = renders(monkeypatch)
    box.slider.value = 29
    assert differ(start, bytes(box.image.value)) and box.image.value == box.render(29)
    box.slider.value = 0
    assert box.image.value == start and len(counted) == 1  # cached per batch
    assert widgets.reconstructions(vae4).render(0) == start  # same seed, same draws
    assert differ(widgets.reconstructions(vae4, seed=1).render(0), start)
    with pytest.raises(IndexError, match=r"batch must be in 0\.\.29 \(got 30\)"):
        box.render(30)
    assert widgets.reconstructions(vae4, n=7).slider.max == 42  # ceil(300 / 7) - 1


def test_reconstructions_conditional_uses_the_labels(cvae):
    decoded = calls(cvae.vae.decoder)
    box = widgets.reconstructions(cvae, n=4, samples=1)
    assert box.render(0).startswith(PNG)
    assert decoded[-1][1].tolist() == data.load_digits().y_test[:4].tolist()
    x, y = data.load_digits().x_test[:5], data.load_digits().y_test[:5]
    last = widgets.reconstructions(cvae, x, y, n=2)
    assert last.slider.max == 2 and last.render(2).startswith(PNG)  # a last batch of one digit
    with pytest.raises(ValueError, match=r"this VAE is conditional \(num_classes=10\): pass the digits' labels y, shape \(5,\), with x"):
        widgets.reconstructions(cvae, x)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"n": 0}, ValueError, r"n must be a positive whole number of digits per batch \(got 0\)"),
        ({"samples": -1}, ValueError, r"samples must be a whole number of at least 0, the rows of draws z ~ q\(z\|x\) \(got -1\)"),
        ({"seed": 0.5}, TypeError, r"seed must be a whole number \(got 0.5\)"),
        ({"x": torch.zeros(4, 8, 8)}, ValueError, r"x must have shape \(N, 1, 8, 8\)"),
        ({"x": torch.zeros(4, 1, 8, 8), "y": [1, 2]}, ValueError, r"y must hold one whole-number label per digit, shape \(4,\)"),
    ],
)
def test_reconstructions_explains_bad_input(vae4, kwargs, error, message):
    with pytest.raises(error, match=message):
        widgets.reconstructions(vae4, **kwargs)
    with pytest.raises(TypeError, match=r"reconstructions needs a VAE.*\(got Generator\)"):
        widgets.reconstructions(gan.Generator())
