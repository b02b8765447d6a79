"""Pictures and widgets for the 2D GANs of lessons 01-05.

``plot_points`` draws samples over the true mixture's density and ``plot_decision`` D's
decision surface, on any matplotlib ``Axes`` (the lessons reuse both). ``training_scrubber``
scrubs through training snapshots (samples, and D's verdict when it was recorded);
``latent_explorer`` moves a probe through G's latent space with one slider per coordinate.
A widget that runs G puts it in eval mode and gives it back in the mode it was in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..data import Mixture, make_grid
from . import _draw

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["plot_points", "plot_decision", "training_scrubber", "latent_explorer"]

_LOG_DENSITY_RANGE = 30.0  # shade log p(x) down to 30 nats below the peak: the narrow modes stay visible
_MAX_SLIDERS = 8  # latent dimensions beyond this stay at 0 in the explorer
_N_STD = 3.0  # a sample "hits" a mode within 3 std of its mean (the PacGAN high-quality rule)


def _points(x: Any, what: str = "samples") -> np.ndarray:
    """Tensor or array-like (N, 2) -> float numpy array (N, 2), or a clear error."""
    x = _draw.float_array(x, what, "(N, 2)")
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"{what} must have shape (N, 2): one row per point, columns x and y (got {x.shape})")
    return x


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _points_extent(pts: np.ndarray) -> float:
    """Half-width of a square view holding every finite point (N, 2), never zero."""
    finite = pts[np.isfinite(pts).all(1)]
    top = float(np.abs(finite).max()) if len(finite) else 0.0
    return 1.1 * top if top > 0 else 1.0


def _nearest_mode(x: torch.Tensor, mixture: Mixture) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from ..metrics import nearest_mode
    except ImportError:  # metrics is optional here: same rule, computed locally
        d, k = torch.cdist(x.float().cpu(), mixture.means).min(dim=1)
        return k, d
    return nearest_mode(x, mixture)


def _frame(ax: Axes, box: tuple[float, float, float, float], title: str | None) -> Axes:
    """Show exactly ``box`` (x0, x1, y0, y1) at equal scale, with ``title`` if given."""
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect("equal")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_points(
    ax: Axes,
    x: Any,
    mixture: Mixture | None = None,
    *,
    density: bool = True,
    title: str | None = None,
    color: Any = "C1",
    extent: float | None = None,
    size: float = 4.0,
    resolution: int = 200,
) -> Axes:
    """Scatter samples x (N, 2) (tensor or array) over the true mixture's density.

    The density is ``mixture.log_prob`` on ``data.make_grid(extent, resolution)``, shown
    as an image (darker = more likely), with each mode's centre marked "+". ``color`` is one
    colour or one per point (N, 3 or 4). ``extent`` is the half-width of the square view
    (default: from the mixture, else from the points). Works on any matplotlib Axes.
    """
    pts = _points(x)
    if mixture is not None and not isinstance(mixture, Mixture):
        raise TypeError(f"mixture must be a data.Mixture such as data.ring8() (got {type(mixture).__name__})")
    if extent is None:
        if mixture is not None:
            extent = _draw.mixture_extent(mixture)
        else:
            extent = _points_extent(pts)
    if mixture is not None and density:
        grid = make_grid(extent, resolution)  # (R*R, 2)
        logp = mixture.log_prob(grid).reshape(resolution, resolution).numpy()  # (R, R): rows = y
        top = float(logp.max())
        ax.imshow(
            logp, origin="lower", extent=(-extent, extent, -extent, extent), cmap="Blues",
            vmin=top - _LOG_DENSITY_RANGE, vmax=top + 0.5 * _LOG_DENSITY_RANGE, interpolation="bilinear",
        )
    if mixture is not None:
        means = mixture.means.numpy()
        ax.scatter(means[:, 0], means[:, 1], marker="+", s=60, c="k", linewidths=1.0, zorder=3)
    ax.scatter(pts[:, 0], pts[:, 1], s=size, c=color, alpha=0.7, linewidths=0, zorder=2)
    return _frame(ax, (-extent, extent, -extent, extent), title)


def plot_decision(
    ax: Axes,
    grid: Any,
    d_logits: Any,
    *,
    points: Any = None,
    colorbar: bool = False,
    title: str | None = None,
    color: Any = "k",
    size: float = 3.0,
) -> Axes:
    """D's decision surface: sigmoid(d_logits) on a square grid, as an image.

    grid: (M, 2) points from ``data.make_grid`` (M = R*R); d_logits: (M,) D's logits there,
    so ``d_logits.reshape(R, R)`` has rows = y and columns = x. Blue = D says real (1),
    red = fake (0), white = unsure (0.5). ``points`` (N, 2) are drawn on top.
    """
    g = _points(grid, "grid")
    logits = _numpy(d_logits)
    if logits.ndim != 1 or logits.shape[0] != g.shape[0]:
        raise ValueError(
            f"d_logits must have shape (M,) with one logit per grid point, M = {g.shape[0]} (got {logits.shape})"
        )
    res = int(round(np.sqrt(g.shape[0])))
    if res * res != g.shape[0]:
        raise ValueError(f"grid must be square, from data.make_grid (got {g.shape[0]} points, not R*R)")
    prob = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))  # sigmoid, clipped so exp never overflows
    box = (g[:, 0].min(), g[:, 0].max(), g[:, 1].min(), g[:, 1].max())
    im = ax.imshow(prob.reshape(res, res), origin="lower", extent=box, cmap="RdBu", vmin=0.0, vmax=1.0)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="D(x) = P(real)", shrink=0.8)
    if points is not None:
        pts = _points(points)
        ax.scatter(pts[:, 0], pts[:, 1], s=size, c=color, alpha=0.7, linewidths=0, zorder=2)
    return _frame(ax, box, title)


def training_scrubber(
    snapshots: Any,
    mixture: Mixture | None,
    *,
    grid: Any = None,
    figsize: tuple[float, float] = (8, 4),
) -> ipywidgets.VBox:
    """A slider (and Play button) over training snapshots.

    snapshots: a ``gan.Snapshots`` callback after ``gan.train_gan`` (its ``.records`` and
    ``.grid``), or a list of dicts ``{"step": int, "samples": (N, 2) in data units,
    optional "d_logits": (M,)}`` with ``grid`` (M, 2) given here. Left panel: samples over
    the true density; right panel (when D's logits were recorded): D's decision surface
    with the samples on top. Each picture is rendered once and cached.
    The box has ``.slider``, ``.play``, ``.label``, ``.image`` and ``.render(i) -> bytes``.
    """
    records, own_grid = _draw.snapshot_records(snapshots)
    if grid is None:
        grid = own_grid
    if not records:
        raise ValueError("no snapshots recorded: pass Snapshots(every=...) to train_gan's callbacks")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or "step" not in rec or "samples" not in rec:
            raise ValueError(f"snapshot {i} must be a dict with 'step' and 'samples' (got {rec!r:.80})")
        _points(rec["samples"], f"snapshot {i}'s samples")
    has_d = all("d_logits" in rec for rec in records)
    if has_d and grid is None:
        raise ValueError("snapshots hold D's logits but no grid: pass grid=, the same grid given to Snapshots")
    if grid is not None:
        grid = _points(grid, "grid")  # (M, 2)
    if has_d:
        for i, rec in enumerate(records):
            if _numpy(rec["d_logits"]).size != grid.shape[0]:
                raise ValueError(
                    f"snapshot {i} has {_numpy(rec['d_logits']).size} logits but the grid has {grid.shape[0]} points"
                )
    if grid is not None:
        extent = float(np.abs(grid).max())
    elif mixture is not None:
        extent = _draw.mixture_extent(mixture)
    else:  # one view for every frame, so the picture does not jump while scrubbing
        extent = _points_extent(np.concatenate([_points(rec["samples"]) for rec in records]))
    cache: dict[int, bytes] = {}

    def render(i: int) -> bytes:
        """PNG of snapshot i (0-based index into the records), cached."""
        if not 0 <= i < len(records):
            raise IndexError(f"snapshot index must be in 0..{len(records) - 1} (got {i})")
        if i not in cache:
            rec = records[i]
            fig = Figure(figsize=figsize if has_d else (figsize[1], figsize[1]), layout="compressed")
            axes = fig.subplots(1, 2 if has_d else 1, squeeze=False)[0]
            plot_points(axes[0], rec["samples"], mixture, extent=extent, title=f"G's samples, step {rec['step']}")
            if has_d:
                plot_decision(axes[1], grid, rec["d_logits"], points=rec["samples"], colorbar=True,
                              title="D's verdict: blue = real")
            cache[i] = _draw.render(fig)
        return cache[i]

    def caption(i: int) -> str:
        return f"step {records[i]['step']} (snapshot {i + 1} of {len(records)})"

    box = _draw.scrubber(len(records), render, caption)
    box.label = box.caption  # this widget's caption was first published as .label
    return box


def latent_explorer(
    G: torch.nn.Module,
    *,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    mixture: Mixture | None = None,
    n: int = 500,
    seed: int = 0,
    figsize: tuple[float, float] = (8, 4),
) -> ipywidgets.VBox:
    """Explore G's latent space with one slider per latent coordinate.

    Draws n fixed latent points z (n, latent_dim) (seeded), shows transform(G(z)) (n, 2) over
    the mixture's density, and a probe point whose z is set by the sliders (-3..3; the first
    8 dimensions, the rest stay 0). With latent_dim == 2 a second panel shows the latent
    plane coloured by the mode each z lands nearest to (faded where it misses every mode by
    more than 3 std), with the probe marked. The box has ``.sliders``, ``.image`` and
    ``.render() -> bytes``.
    """
    import ipywidgets as w

    latent_dim = getattr(getattr(G, "config", None), "latent_dim", None)
    if not isinstance(G, torch.nn.Module) or not isinstance(latent_dim, int) or latent_dim < 1:
        raise TypeError(
            "G must be a generator with G.config.latent_dim, such as gan.Generator(gan.GeneratorConfig()) "
            f"(got {type(G).__name__} without a latent_dim)"
        )
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive whole number of samples (got {n!r})")
    to_data = transform or (lambda x: x)
    device = next(G.parameters(), torch.empty(0)).device

    @torch.no_grad()
    def generate(z: torch.Tensor) -> np.ndarray:  # (B, latent_dim) -> (B, 2) in data units
        was_training = G.training
        G.eval()  # a single probe point must not meet BatchNorm's batch statistics
        try:
            x = to_data(G(z.to(device))).float().cpu()
        finally:
            G.train(was_training)
        return _points(x, "G's outputs (after transform)")

    z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))  # (n, latent_dim)
    x = generate(z)  # (n, 2)
    extent = _draw.mixture_extent(mixture) if mixture is not None else None
    color: Any = "C1"
    plane = None
    if mixture is not None:
        colors = _draw.mode_colors(mixture.n_modes)  # (K, 4)
        k, _ = _nearest_mode(torch.from_numpy(x), mixture)
        color = colors[k.numpy()]  # (n, 4): each sample in its nearest mode's colour
        if latent_dim == 2:
            res = 96
            zs = make_grid(3.0, res)  # (R*R, 2) latent plane
            k, d = _nearest_mode(torch.from_numpy(generate(zs)), mixture)
            plane = colors[k.numpy()].copy()  # (R*R, 4)
            plane[(d > _N_STD * mixture.std).numpy(), 3] = 0.3
            plane = plane.reshape(res, res, 4)  # rows = z[1], columns = z[0]

    n_sliders = min(latent_dim, _MAX_SLIDERS)
    sliders = [
        w.FloatSlider(value=0.0, min=-3.0, max=3.0, step=0.1, description=f"z[{i}]", continuous_update=True)
        for i in range(n_sliders)
    ]
    cache: dict[tuple[float, ...], bytes] = {}

    def render() -> bytes:
        """PNG for the sliders' current probe z, cached by slider values."""
        key = tuple(round(s.value, 6) for s in sliders)
        if key not in cache:
            probe = torch.zeros(1, latent_dim)
            probe[0, :n_sliders] = torch.tensor(key)
            px = generate(probe)  # (1, 2)
            fig = Figure(figsize=figsize if plane is not None else (figsize[1], figsize[1]), layout="compressed")
            axes = fig.subplots(1, 2 if plane is not None else 1, squeeze=False)[0]
            plot_points(axes[0], x, mixture, color=color, extent=extent, title="G(z) for fixed z; star = probe")
            axes[0].scatter(px[:, 0], px[:, 1], marker="*", s=250, c="gold", edgecolors="k", zorder=4)
            if plane is not None:
                axes[1].imshow(plane, origin="lower", extent=(-3, 3, -3, 3))
                axes[1].scatter([key[0]], [key[1]], marker="*", s=250, c="gold", edgecolors="k", zorder=4)
                axes[1].set(title="latent plane: colour = nearest mode (faded: missed)", xlabel="z[0]", ylabel="z[1]")
            _draw.remember(cache, key, fig)
        return cache[key]

    image = _draw.live_image(render, sliders)
    children: list[Any] = [w.VBox(sliders)]
    if latent_dim > n_sliders:
        children.append(w.Label(f"sliders move z[0]..z[{n_sliders - 1}]; z[{n_sliders}]..z[{latent_dim - 1}] stay 0"))
    box = w.VBox([*children, image])
    box.sliders, box.image, box.render = sliders, image, render
    return box
