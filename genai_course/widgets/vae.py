"""Pictures and widgets for the variational autoencoders of lesson 08.

``latent_traversal`` sweeps one latent coordinate per row (of any digits generator, a VAE's
decoder means included); ``latent_map`` lays a 2-latent VAE's codes and decodings side by side;
``reconstructions`` (and the still ``show_reconstructions``) shows digits next to what the VAE
makes of them. The digit grids are the same as ``show_digits``'; the network is put in eval
mode while it runs and given back in the mode it was in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .. import vae as vaelib
from ..loop import eval_mode
from ..utils import whole_number
from . import _draw

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["latent_traversal", "latent_map", "show_reconstructions", "reconstructions"]

_MAX_ROWS = 8  # latent coordinates the traversal shows by default (a row and a slider each)
_RECONSTRUCTION_ROWS = ("original", "reconstruction\n(decoder mean at mu)")
_DRAW_ROW = "z ~ q(z|x)"


def _span(value: Any) -> float:
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"span must be a positive number, the largest |z| shown (got {value!r})")
    return float(value)


def _short(v: float) -> str:
    """-2.25 -> "-2.25", 1.5 -> "1.5", -3.0 -> "-3", -1e-9 -> "0": a tick label."""
    return f"{round(v, 2) + 0.0:.2f}".rstrip("0").rstrip(".")


def _vae_network(model: Any, who: str) -> vaelib.VAE:
    """The vae.VAE itself, or a models.TrainedVAE's ``.vae``."""
    net = getattr(model, "vae", model)
    if not isinstance(net, vaelib.VAE):
        raise TypeError(f"{who} needs a VAE: a models.TrainedVAE or a vae.VAE (got {type(model).__name__})")
    return net


def _vae_digits(net: vaelib.VAE, x: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images x (N, 1, 8, 8) float32 and labels y (N,) int64 or None; both None: the held-out digits."""
    if x is None:
        if y is not None:
            raise ValueError("y was given without x: pass the digits x (N, 1, 8, 8) with their labels")
        from ..data import load_digits

        held_out = load_digits()
        return held_out.x_test, held_out.y_test
    x = torch.from_numpy(_draw.digit_images(x, "x")[:, None]).float()  # (N, 1, 8, 8)
    k = net.config.num_classes
    if y is None:
        if k:
            raise ValueError(f"this VAE is conditional (num_classes={k}): pass the digits' labels y, shape ({len(x)},), with x")
        return x, None
    y = torch.as_tensor(y)
    if y.shape != (len(x),) or y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ValueError(f"y must hold one whole-number label per digit, shape ({len(x)},) (got {y.dtype} of shape {tuple(y.shape)})")
    return x, y.long()


def latent_traversal(
    G: Any, seed: int = 0, span: float = 3.0, steps: int = 9, label: int | None = None, max_rows: int = _MAX_ROWS
) -> ipywidgets.VBox:
    """What each latent coordinate does: row i sweeps z[i] while the other coordinates stay put.

    z (1, latent_dim) starts at ``G.sample_latent(1, generator=torch.Generator().manual_seed(seed))``;
    FloatSliders z[0], z[1], ... (in [-3, 3], starting at z's values rounded to 0.01) set it. Row i
    shows G(z) for z[i] = ``torch.linspace(-span, span, steps)`` and the other coordinates at the
    sliders' values; a red frame marks the slider's value of z[i] on its row (between two digits
    when it falls between them). Only the first ``max_rows`` coordinates get a row and a slider;
    the others stay at the seeded z's values. A conditional G gets a class picker ``.label``
    (starting at ``label``, default 0); an unconditional G takes no ``label``. G: a models.TrainedVAE
    (its ``.G``, the decoder's means), a vae.DecoderMeans, or a digits GAN's generator. The box
    has ``.sliders``, ``.label``, ``.image`` and ``.render() -> bytes`` (PNG, cached).
    """
    from matplotlib.patches import Rectangle

    G = _draw.digit_generator(G)
    span = _span(span)
    steps = _draw.positive_int(steps, "steps", "the digits along each row", least=2)
    rows = min(G.config.latent_dim, _draw.positive_int(max_rows, "max_rows", "of latent coordinates to show"))
    picker = _draw.optional_class_picker(G, label)
    z = G.sample_latent(1, generator=torch.Generator().manual_seed(whole_number(seed, "seed"))).cpu()  # (1, D)
    coords, shown = _draw.coordinate_sliders(z, rows, G.config.latent_dim, seed)
    sweep = torch.linspace(-span, span, steps)  # (steps,)
    cache: dict[tuple[Any, ...], bytes] = {}

    def render() -> bytes:
        """PNG for the sliders' and class picker's current values, cached."""
        key, base = _draw.slider_code(z, coords, picker)
        values, y = key
        if key not in cache:
            batch = base.repeat(rows * steps, 1)  # (rows * steps, D): row i is base with z[i] swept
            for i in range(rows):
                batch[i * steps : (i + 1) * steps, i] = sweep
            fig = Figure(figsize=_draw.grid_inches(rows * steps, steps, False, True, extra=(0.5, 0.3)), layout="compressed")
            ax = fig.subplots()
            corners = _draw.draw_digits(ax, _draw.generate_digits(G, batch, y), steps)
            left0, left1 = corners[0][0], corners[steps - 1][0]
            for i, v in enumerate(values):
                top = corners[i * steps][1]
                where = min(max((v + span) / (2 * span), 0.0), 1.0)  # the slider's place along the sweep
                ax.add_patch(Rectangle((left0 + where * (left1 - left0), top), 8, 8, fill=False, edgecolor="C3", linewidth=2))
            ax.set_xticks([c[0] + 4 for c in corners[:steps]], [_short(float(v)) for v in sweep], fontsize=7)
            ax.set_yticks([corners[i * steps][1] + 4 for i in range(rows)], [f"z[{i}]" for i in range(rows)], fontsize=8)
            ax.tick_params(length=0, top=True, labeltop=True, bottom=False, labelbottom=False)
            ax.set_title("row i sweeps z[i]; red = slider" + ("" if y is None else f", class {y}"), fontsize=9)
            _draw.remember(cache, (values, y), fig)
        return cache[values, y]

    return _draw.latent_box(render, picker, coords, shown)


def latent_map(model: Any, x: Any = None, y: Any = None, span: float = 3.0, resolution: int = 15) -> ipywidgets.VBox:
    """The 2-latent map of the digits: where the encoder puts them, and what the decoder draws there.

    model: a models.TrainedVAE or vae.VAE with latent_dim 2, unconditional. x (N, 1, 8, 8) and
    y (N,) (default: the 300 held-out digits) are encoded; left, their means mu(x) (N, 2) coloured
    by class (y None: one colour). Middle, the decoder's means on a ``resolution`` x ``resolution``
    grid of cell centres over [-span, span]^2, tiled into one image (z[0] to the right, z[1] up).
    Both panels show [-span, span]^2. Sliders z[0], z[1] in [-span, span] move a cross on both
    and show G(z) enlarged, right. The encodings and the tiled grid are computed once; a move
    redraws only the cross and the digit.
    The box has ``.sliders``, ``.image`` and ``.render() -> bytes`` (PNG, cached).
    """
    import ipywidgets as w

    net = _vae_network(model, "latent_map")
    fix = "build one with vae.VAE(vae.VAEConfig(latent_dim=2))"
    if net.config.latent_dim != 2:
        raise ValueError(f"latent_map draws a 2-latent VAE: this one has latent_dim={net.config.latent_dim}; {fix}")
    if net.config.num_classes:
        raise ValueError(f"latent_map draws an unconditional VAE: this one is conditional (num_classes={net.config.num_classes}); {fix}")
    span = _span(span)
    res = _draw.positive_int(resolution, "resolution", "of digits along each side of the map")
    x, y = _vae_digits(net, x, y)
    with torch.no_grad(), eval_mode(net) as device:
        mu = net.encoder(x.to(device))[0].cpu().numpy()  # (N, 2)
    G = net.as_generator()
    centres = (torch.arange(res) + 0.5) * (2 * span / res) - span  # (R,) cell centres, increasing
    z1, z0 = torch.meshgrid(centres.flip(0), centres, indexing="ij")  # (R, R): row 0 is the top (largest z[1])
    tiles = _draw.generate_digits(G, torch.stack([z0.flatten(), z1.flatten()], dim=1), None)  # (R*R, 8, 8)
    # tiles in a grid with a 1-pixel gap around each (NaN: shown in the axes' grey), rows from the top
    mosaic = np.full((res, 9, res, 9), np.nan)
    mosaic[:, 1:, :, 1:] = tiles.reshape(res, res, 8, 8).transpose(0, 2, 1, 3)
    mosaic = np.pad(mosaic.reshape(9 * res, 9 * res), ((0, 1), (0, 1)), constant_values=np.nan)  # (9R+1, 9R+1)

    fig = Figure(figsize=(9.6, 3.6), layout="constrained")  # "compressed" would shrink the maps to the digit panel
    scatter_ax, map_ax, big_ax = fig.subplots(1, 3, width_ratios=[1.25, 1, 0.45])
    if y is None:
        scatter_ax.scatter(mu[:, 0], mu[:, 1], s=8, c="C0", alpha=0.7, linewidths=0)
    else:
        dots = scatter_ax.scatter(mu[:, 0], mu[:, 1], s=8, c=y.numpy(), cmap="tab10", vmin=-0.5, vmax=9.5, linewidths=0)
        fig.colorbar(dots, ax=scatter_ax, ticks=range(10), label="digit", shrink=0.8)
    scatter_ax.set(xlim=(-span, span), ylim=(-span, span), aspect="equal", xlabel="z[0]", ylabel="z[1]")
    scatter_ax.set_title("encoder means mu(x)", fontsize=10)
    map_ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0, extent=(-span, span, -span, span), interpolation="nearest")
    map_ax.set_facecolor("0.85")
    map_ax.set(xlabel="z[0]")
    map_ax.set_title("decoder means G(z)", fontsize=10)
    crosses = [ax.scatter([0.0], [0.0], marker="X", s=150, c="C3", edgecolors="white", linewidths=1.2, zorder=4)
               for ax in (scatter_ax, map_ax)]
    _draw.draw_digits(big_ax, tiles[:1], 1, gap=0.1)
    sliders = [w.FloatSlider(value=0.0, min=-span, max=span, step=0.01, description=f"z[{i}]", continuous_update=True)
               for i in range(2)]
    cache: dict[tuple[float, ...], bytes] = {}

    def render() -> bytes:
        """PNG for the sliders' z, cached: only the crosses and the enlarged digit change."""
        key = tuple(round(s.value, 6) for s in sliders)
        if key not in cache:
            for cross in crosses:
                cross.set_offsets([key])
            big_ax.images[0].set_data(_draw.generate_digits(G, torch.tensor([key]), None)[0])
            big_ax.set_title(f"G(z) at\n({key[0]:.2f}, {key[1]:.2f})", fontsize=10)
            _draw.remember(cache, key, fig)
        return cache[key]

    image = _draw.live_image(render, sliders)
    box = w.VBox([w.HBox(sliders), image])
    box.sliders, box.image, box.render = sliders, image, render
    return box


def _reconstruction_inches(n: int, samples: int) -> tuple[float, float]:
    """Figure size for n digits in 2 + samples rows, with room for the row titles and the classes."""
    return _draw.grid_inches((2 + samples) * n, n, False, True, extra=(1.4, 0.0))


def show_reconstructions(
    model: Any, x: Any, y: Any = None, samples: int = 2, seed: int = 0, ax: Axes | None = None
) -> None:
    """Draw digits x (N, 1, 8, 8) above what the VAE makes of them, one column per digit.

    Rows: the originals; their reconstructions (decoder means at the encoder's mean mu(x));
    then ``samples`` rows of decoder means at draws z ~ q(z|x) = N(mu, exp(logvar)) (noise from a
    torch.Generator seeded ``seed``: the same call draws the same z). model: a models.TrainedVAE
    or vae.VAE; a conditional one needs the labels y (N,), which are also written above the
    columns. Draws on ``ax``, or on a new pyplot figure sized to the grid.
    """
    net = _vae_network(model, "show_reconstructions")
    if x is None:
        raise ValueError("show_reconstructions needs the digits x (N, 1, 8, 8), e.g. data.load_digits().x_test[:10]")
    samples = _draw.positive_int(samples, "samples", "the rows of draws z ~ q(z|x)", least=0)
    generator = torch.Generator().manual_seed(whole_number(seed, "seed"))
    x, y = _vae_digits(net, x, y)
    n = len(x)
    cond = y if net.config.num_classes else None
    with torch.no_grad(), eval_mode(net) as device:
        mu, logvar = net.encoder(x.to(device), cond)  # (N, L) each
        zs = [mu] + [vaelib.reparameterize(mu, logvar, generator) for _ in range(samples)]
        decoded = [net.decode(z, cond).cpu() for z in zs]  # each (N, 1, 8, 8)
    imgs = _draw.digit_images(torch.cat([x, *decoded]), "digits")  # ((2 + samples) * N, 8, 8)
    ax = _draw.digits_axes(ax, _reconstruction_inches(n, samples))
    corners = _draw.draw_digits(ax, imgs, n)
    titles = [*_RECONSTRUCTION_ROWS, *[_DRAW_ROW] * samples]
    ax.set_yticks([corners[r * n][1] + 4 for r in range(len(titles))], titles, fontsize=8)
    if y is not None:
        ax.set_xticks([c[0] + 4 for c in corners[:n]], [str(v) for v in y.tolist()], fontsize=7)
    ax.tick_params(length=0, top=True, labeltop=True, bottom=False, labelbottom=False)


def reconstructions(
    model: Any, x: Any = None, y: Any = None, n: int = 10, samples: int = 2, seed: int = 0
) -> ipywidgets.VBox:
    """Digits side by side with their reconstructions, batch by batch (``show_reconstructions`` live).

    x (N, 1, 8, 8) and y (N,) default to the 300 held-out digits; a conditional VAE needs y.
    The IntSlider ``.slider`` ("batch", 0..ceil(N/n)-1) picks digits [batch * n, (batch + 1) * n).
    Rows: originals, reconstructions (decoder means at mu), then ``samples`` rows of decoder means
    at z ~ q(z|x) (a generator seeded ``seed``: a batch always shows the same draws). The box has
    ``.slider``, ``.image`` and ``.render(i) -> bytes`` (PNG of batch i, cached).
    """
    import ipywidgets as w

    net = _vae_network(model, "reconstructions")
    n = _draw.positive_int(n, "n", "of digits per batch")
    samples = _draw.positive_int(samples, "samples", "the rows of draws z ~ q(z|x)", least=0)
    seed = whole_number(seed, "seed")
    x, y = _vae_digits(net, x, y)
    batches = -(-len(x) // n)
    slider = w.IntSlider(value=0, min=0, max=batches - 1, step=1, description="batch", continuous_update=True)
    cache: dict[int, bytes] = {}

    def render(i: int) -> bytes:
        """PNG of batch i (digits i*n to (i+1)*n - 1), cached."""
        if not 0 <= i < batches:
            raise IndexError(f"batch must be in 0..{batches - 1} (got {i})")
        if i not in cache:
            part = slice(i * n, (i + 1) * n)
            count = len(x[part])
            fig = Figure(figsize=_reconstruction_inches(count, samples), layout="compressed")
            show_reconstructions(net, x[part], None if y is None else y[part], samples, seed, ax=fig.subplots())
            _draw.remember(cache, i, fig)
        return cache[i]

    image = _draw.live_image(lambda: render(slider.value), [slider])
    box = w.VBox([slider, image])
    box.slider, box.image, box.render = slider, image, render
    return box
