"""Pictures and widgets for exploring GANs and VAEs.

2D lessons (01-05): samples over the true density, D's decision surface, a scrubber over
training snapshots and a latent-space explorer. Digits lessons (06-07): ``show_digits``
draws 8x8 images as a grid; ``digit_scrubber`` scrubs through training, ``digit_picker``
moves one digit through latent space (and picks its class), ``interpolation`` walks the
straight line between two latent points. VAE lesson (08): ``latent_traversal`` sweeps one
latent coordinate per row, ``latent_map`` lays a 2-latent VAE's codes and decodings side by
side, ``reconstructions`` (and the still ``show_reconstructions``) shows digits next to what
the VAE makes of them.

Widget figures are drawn with matplotlib's Agg canvas (never pyplot), rendered to PNG bytes
and shown in an ``ipywidgets.Image``, so nothing leaks into a notebook's inline backend
and a test can see the picture change. ``plot_points``, ``plot_decision`` and
``show_digits`` draw on any matplotlib ``Axes`` and are reused by the lessons (only
``show_digits`` without an ``ax`` makes a pyplot figure, for the notebook to show).
ipywidgets is imported only when a widget is built. A widget that runs G puts it in eval
mode (batch norm uses its running statistics) and gives it back in the mode it was in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import train
from . import vae as vaelib
from .data import Mixture
from .widgets_text import _render, name_generator, next_char_explorer  # the text widgets live there
from .widgets_diffusion import guidance_slider, plot_guidance, plot_reverse_process, reverse_scrubber  # the diffusion widgets live there

if TYPE_CHECKING:
    import ipywidgets

__all__ = [
    "plot_points", "plot_decision", "training_scrubber", "latent_explorer",
    "show_digits", "digit_scrubber", "digit_picker", "interpolation",
    "latent_traversal", "latent_map", "show_reconstructions", "reconstructions",
    "name_generator", "next_char_explorer",
    "reverse_scrubber", "plot_reverse_process", "guidance_slider", "plot_guidance",
]

_LOG_DENSITY_RANGE = 30.0  # shade log p(x) down to 30 nats below the peak: the narrow modes stay visible
_MAX_SLIDERS = 8  # latent dimensions beyond this stay at 0 in the explorer
_N_STD = 3.0  # a sample "hits" a mode within 3 std of its mean (the PacGAN high-quality rule)
_GAP = 1.0  # grey gap between digits in a grid, in pixels of the 8x8 images
_LABEL_ROOM = 4.0  # room above each digit for its label, in pixels
_INCH_PER_PIXEL = 0.07  # figure size for show_digits: an 8x8 digit is about 0.6 inch wide
_NEIGHBOURS = 8  # digits in the picker's strip
_NEIGHBOUR_RADIUS = 0.5  # neighbour = z + 0.5 * noise (random z's are about 3x further apart)


def _points(x: Any, what: str = "samples") -> np.ndarray:
    """Tensor or array-like (N, 2) -> float numpy array (N, 2), or a clear error."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    elif not isinstance(x, (np.ndarray, list, tuple)):
        raise TypeError(f"{what} must be a tensor or array of shape (N, 2) (got {type(x).__name__})")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"{what} must have shape (N, 2): one row per point, columns x and y (got {x.shape})")
    return x


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def _mixture_extent(mixture: Mixture) -> float:
    """Half-width of a square view that holds every mode with a margin (1.5 for ring8, 6 for grid25)."""
    return 1.5 * float(mixture.means.abs().max())


def _points_extent(pts: np.ndarray) -> float:
    """Half-width of a square view holding every finite point (N, 2), never zero."""
    finite = pts[np.isfinite(pts).all(1)]
    top = float(np.abs(finite).max()) if len(finite) else 0.0
    return 1.1 * top if top > 0 else 1.0


def _mode_colors(n_modes: int) -> np.ndarray:
    """One RGBA colour per mode: (K, 4)."""
    from matplotlib import colormaps

    if n_modes <= 10:
        return colormaps["tab10"](np.arange(n_modes))
    # many modes: spread hues, with a stride so neighbouring modes differ
    hues = (np.arange(n_modes) * 7 % n_modes) / n_modes
    return colormaps["hsv"](hues)


def _nearest_mode(x: torch.Tensor, mixture: Mixture) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from .metrics import nearest_mode
    except ImportError:  # metrics is optional here: same rule, computed locally
        d, k = torch.cdist(x.float().cpu(), mixture.means).min(dim=1)
        return k, d
    return nearest_mode(x, mixture)


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

    The density is ``mixture.log_prob`` on ``train.make_grid(extent, resolution)``, shown
    as an image (darker = more likely), with each mode's centre marked "+". ``color`` is one
    colour or one per point (N, 3 or 4). ``extent`` is the half-width of the square view
    (default: from the mixture, else from the points). Works on any matplotlib Axes.
    """
    pts = _points(x)
    if mixture is not None and not isinstance(mixture, Mixture):
        raise TypeError(f"mixture must be a data.Mixture such as data.ring8() (got {type(mixture).__name__})")
    if extent is None:
        if mixture is not None:
            extent = _mixture_extent(mixture)
        else:
            extent = _points_extent(pts)
    if mixture is not None and density:
        grid = train.make_grid(extent, resolution)  # (R*R, 2)
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
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    if title is not None:
        ax.set_title(title)
    return ax


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

    grid: (M, 2) points from ``train.make_grid`` (M = R*R); d_logits: (M,) D's logits there,
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
        raise ValueError(f"grid must be square, from train.make_grid (got {g.shape[0]} points, not R*R)")
    prob = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))  # sigmoid, clipped so exp never overflows
    box = (g[:, 0].min(), g[:, 0].max(), g[:, 1].min(), g[:, 1].max())
    im = ax.imshow(prob.reshape(res, res), origin="lower", extent=box, cmap="RdBu", vmin=0.0, vmax=1.0)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="D(x) = P(real)", shrink=0.8)
    if points is not None:
        pts = _points(points)
        ax.scatter(pts[:, 0], pts[:, 1], s=size, c=color, alpha=0.7, linewidths=0, zorder=2)
    ax.set_xlim(box[0], box[1])
    ax.set_ylim(box[2], box[3])
    ax.set_aspect("equal")
    if title is not None:
        ax.set_title(title)
    return ax


def _remember(cache: dict[Any, bytes], key: Any, fig: Figure) -> None:
    """Store the figure's PNG under key, forgetting everything once 512 are kept (long sessions)."""
    if len(cache) > 512:
        cache.clear()
    cache[key] = _render(fig)


def _live_image(render: Callable[[], bytes], controls: list[Any]) -> Any:
    """An ipywidgets.Image showing render(), drawn again whenever one of the controls moves."""
    import ipywidgets as w

    image = w.Image(value=render(), format="png")

    def on_change(change: dict[str, Any]) -> None:
        image.value = render()

    for control in controls:
        control.observe(on_change, names="value")
    return image


def _snapshot_records(snapshots: Any) -> tuple[list[dict[str, Any]], Any]:
    if isinstance(snapshots, train.Snapshots):
        return snapshots.records, snapshots.grid
    if isinstance(snapshots, train.History):
        return snapshots.snapshots, None
    if isinstance(snapshots, (list, tuple)):
        return list(snapshots), None
    if isinstance(getattr(snapshots, "records", None), list):  # e.g. vae.SampleSnapshots
        return snapshots.records, None
    raise TypeError(
        "snapshots must be a train.Snapshots or vae.SampleSnapshots callback, or a list of dicts {'step', 'samples'} "
        f"(got {type(snapshots).__name__})"
    )


def training_scrubber(
    snapshots: Any,
    mixture: Mixture | None,
    *,
    grid: Any = None,
    figsize: tuple[float, float] = (8, 4),
) -> ipywidgets.VBox:
    """A slider (and Play button) over training snapshots.

    snapshots: a ``train.Snapshots`` callback after ``train_gan`` (its ``.records`` and
    ``.grid``), or a list of dicts ``{"step": int, "samples": (N, 2) in data units,
    optional "d_logits": (M,)}`` with ``grid`` (M, 2) given here. Left panel: samples over
    the true density; right panel (when D's logits were recorded): D's decision surface
    with the samples on top. Each picture is rendered once and cached.
    The box has ``.slider``, ``.play``, ``.label``, ``.image`` and ``.render(i) -> bytes``.
    """
    records, own_grid = _snapshot_records(snapshots)
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
        extent = _mixture_extent(mixture)
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
            cache[i] = _render(fig)
        return cache[i]

    def caption(i: int) -> str:
        return f"step {records[i]['step']} (snapshot {i + 1} of {len(records)})"

    box = _scrubber(len(records), render, caption)
    box.label = box.caption  # this widget's caption was first published as .label
    return box


def _scrubber(count: int, render: Callable[[int], bytes], caption: Callable[[int], str], readout: bool = True) -> Any:
    """A play button and a slider over ``count`` snapshots, a caption and the rendered picture.

    The box carries ``.slider``, ``.play``, ``.caption``, ``.image`` and ``.render``.
    """
    import ipywidgets as w

    last = count - 1
    slider = w.IntSlider(value=0, min=0, max=last, step=1, description="snapshot", readout=readout, continuous_update=True)
    play = w.Play(value=0, min=0, max=last, step=1, interval=300, description="play")
    w.jslink((play, "value"), (slider, "value"))
    label = w.Label(caption(0))
    image = w.Image(value=render(0), format="png")

    def on_change(change: dict[str, Any]) -> None:
        image.value = render(change["new"])
        label.value = caption(change["new"])

    slider.observe(on_change, names="value")
    box = w.VBox([w.HBox([play, slider, label]), image])
    box.slider, box.play, box.caption, box.image, box.render = slider, play, label, image, render
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
    extent = _mixture_extent(mixture) if mixture is not None else None
    color: Any = "C1"
    plane = None
    if mixture is not None:
        colors = _mode_colors(mixture.n_modes)  # (K, 4)
        k, _ = _nearest_mode(torch.from_numpy(x), mixture)
        color = colors[k.numpy()]  # (n, 4): each sample in its nearest mode's colour
        if latent_dim == 2:
            res = 96
            zs = train.make_grid(3.0, res)  # (R*R, 2) latent plane
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
                axes[1].set(title="latent plane: colour = mode hit", xlabel="z[0]", ylabel="z[1]")
            _remember(cache, key, fig)
        return cache[key]

    image = _live_image(render, sliders)
    children: list[Any] = [w.VBox(sliders)]
    if latent_dim > n_sliders:
        children.append(w.Label(f"sliders move z[0]..z[{n_sliders - 1}]; z[{n_sliders}]..z[{latent_dim - 1}] stay 0"))
    box = w.VBox([*children, image])
    box.sliders, box.image, box.render = sliders, image, render
    return box


# ---------------------------------------------------------------------------------------
# 8x8 digits (lessons 06-07)
# ---------------------------------------------------------------------------------------


def _digit_images(x: Any, what: str = "images") -> np.ndarray:
    """Tensor or array (N, 1, 8, 8) -> float numpy array (N, 8, 8), or a clear error."""
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu().numpy()
    elif not isinstance(x, (np.ndarray, list, tuple)):
        raise TypeError(f"{what} must be a tensor or array of shape (N, 1, 8, 8) (got {type(x).__name__})")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4 or x.shape[1:] != (1, 8, 8):
        hint = ": reshape with x.reshape(-1, 1, 8, 8)" if x.shape[1:] in ((64,), (8, 8)) else ""
        raise ValueError(
            f"{what} must have shape (N, 1, 8, 8): N images of 1 channel, 8x8 pixels (got {x.shape}){hint}"
        )
    if len(x) == 0:
        raise ValueError(f"{what} must hold at least one image (got shape {x.shape})")
    return x[:, 0]  # (N, 8, 8)


def _positive_int(value: Any, name: str, meaning: str, least: int = 1) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
        bound = "a positive whole number" if least == 1 else f"a whole number of at least {least},"
        raise ValueError(f"{name} must be {bound} {meaning} (got {value!r})")
    return int(value)


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


def _grid_shape(n: int, nrow: int, labelled: bool, gap: float = _GAP) -> tuple[int, int, float, float]:
    """(columns, rows, width, height) of a grid of n digits, nrow per row, in pixels."""
    cols, rows = min(nrow, n), -(-n // nrow)
    pitch_y = 8 + gap + (_LABEL_ROOM if labelled else 0.0)
    return cols, rows, cols * (8 + gap) + gap, rows * pitch_y + gap


def _draw_digits(
    ax: Axes, imgs: np.ndarray, nrow: int, labels: list[str] | None = None, gap: float = _GAP
) -> list[tuple[float, float]]:
    """Draw imgs (N, 8, 8) on ax as a grid, one AxesImage per digit; returns each one's (left, top).

    Axis units are pixels of the digits, with y pointing down the page; ``gap`` pixels of grey
    separate the digits and frame the grid.
    """
    _, _, width, height = _grid_shape(len(imgs), nrow, labels is not None, gap)
    pitch_x, pitch_y = 8 + gap, 8 + gap + (_LABEL_ROOM if labels is not None else 0.0)
    corners = []
    for i, img in enumerate(imgs):
        row, col = divmod(i, nrow)
        left, top = col * pitch_x, row * pitch_y + (_LABEL_ROOM if labels is not None else 0.0)
        # extent = (left, right, bottom, top): with y down the page, "bottom" is the larger y
        ax.imshow(img, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest", extent=(left, left + 8, top + 8, top))
        if labels is not None:
            ax.text(left + 4, top - 0.4, labels[i], ha="center", va="bottom", fontsize=7)
        corners.append((left, top))
    ax.set_xlim(-gap, width - gap)
    ax.set_ylim(height - gap, -gap)  # inverted: row 0 at the top
    ax.set_aspect("equal")
    ax.set_facecolor("0.85")  # the gaps: light grey lines between white cells
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return corners


def _grid_inches(n: int, nrow: int, labelled: bool, title: bool = False, extra: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """Figure size (width, height) in inches for a grid of n digits, nrow per row, plus ``extra`` inches."""
    _, _, width, height = _grid_shape(n, nrow, labelled)
    return max(width * _INCH_PER_PIXEL, 1.5) + extra[0], height * _INCH_PER_PIXEL + (0.3 if title else 0.0) + extra[1]


def _digits_axes(ax: Any, size: tuple[float, float]) -> Axes:
    """ax itself if it is one Axes; for None, the Axes of a new pyplot figure of ``size`` inches."""
    if ax is None:
        import matplotlib.pyplot as plt  # a figure the notebook shows; the widgets never use pyplot

        return plt.figure(figsize=size, layout="compressed").add_subplot()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be one matplotlib Axes, e.g. axes[0] from plt.subplots (got {type(ax).__name__})")
    return ax


def show_digits(x: Any, nrow: int = 10, labels: Any = None, ax: Axes | None = None, title: str | None = None) -> None:
    """Draw images x (N, 1, 8, 8) (tensor or array, pixels in [0, 1]) as a grid, ``nrow`` per row.

    Dark ink on white (cmap "gray_r", 0 = white, 1 = black), no ticks. ``labels`` (N,) (list,
    array or tensor: classes, scores...) are written small above each image. Draws on ``ax``
    (one digit per ``ax.images`` entry), or on a new pyplot figure sized to the grid.
    """
    imgs = _digit_images(x)  # (N, 8, 8)
    nrow = _positive_int(nrow, "nrow", "of images per row")
    texts = _label_texts(labels, len(imgs))
    ax = _digits_axes(ax, _grid_inches(len(imgs), nrow, texts is not None, title is not None))
    _draw_digits(ax, imgs, nrow, texts)
    if title is not None:
        ax.set_title(title)


def digit_scrubber(snapshots: Any, nrow: int = 10) -> ipywidgets.VBox:
    """A slider (and Play button) over training snapshots of digits.

    snapshots: a ``train.Snapshots`` or ``vae.SampleSnapshots`` callback after training (e.g. ``model.snapshots(every)``
    passed to ``model.fit``), or its ``.records``: a list of dicts ``{"step": int, "samples":
    (N, 1, 8, 8)}``. Shows the N digits G made from the same fixed noise at each recorded
    step, ``nrow`` per row, captioned "step S of T" (T = the last recorded step); a conditional
    G's fixed labels (``Snapshots.labels``) are written above the digits. The slider's value is
    the snapshot's index (0-based). The box has ``.slider``, ``.play``, ``.caption``, ``.image``
    and ``.render(i) -> bytes`` (PNG of snapshot i, cached).
    """
    records, _ = _snapshot_records(snapshots)
    nrow = _positive_int(nrow, "nrow", "of images per row")
    if not records:
        raise ValueError("no snapshots recorded: pass model.snapshots(every=...) to model.fit's callbacks")
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or "step" not in rec or "samples" not in rec:
            raise ValueError(f"snapshot {i} must be a dict with 'step' and 'samples' (got {rec!r:.80})")
        shape = tuple(getattr(rec["samples"], "shape", ()))
        if len(shape) == 2 and shape[1] == 2:
            raise ValueError(f"snapshot {i} holds 2D points {shape}, not digits: use training_scrubber for 2D GANs")
        _digit_images(rec["samples"], f"snapshot {i}'s samples")
    labels = getattr(snapshots, "labels", None)  # a conditional G's fixed classes (N,), or None
    texts = _label_texts(labels, len(labels)) if labels is not None else None
    last_step = records[-1]["step"]
    cache: dict[int, bytes] = {}

    def render(i: int) -> bytes:
        """PNG of snapshot i (0-based index into the records), cached."""
        if not 0 <= i < len(records):
            raise IndexError(f"snapshot index must be in 0..{len(records) - 1} (got {i})")
        if i not in cache:
            imgs = _digit_images(records[i]["samples"], f"snapshot {i}'s samples")  # (N, 8, 8)
            fig = Figure(figsize=_grid_inches(len(imgs), nrow, texts is not None), layout="compressed")
            _draw_digits(fig.subplots(), imgs, nrow, texts if texts is not None and len(texts) == len(imgs) else None)
            cache[i] = _render(fig)
        return cache[i]

    def caption_text(i: int) -> str:
        return f"step {records[i]['step']} of {last_step}"

    return _scrubber(len(records), render, caption_text, readout=False)


def _digit_generator(G: Any) -> torch.nn.Module:
    """G itself (or a trained model's ``.G``), checked to be a digits generator."""
    if not isinstance(G, torch.nn.Module) and isinstance(getattr(G, "G", None), torch.nn.Module):
        G = G.G  # a models.TrainedDigitsGAN: use its generator
    config = getattr(G, "config", None)
    latent_dim, num_classes = getattr(config, "latent_dim", None), getattr(config, "num_classes", None)
    if (
        not isinstance(G, torch.nn.Module)
        or not isinstance(latent_dim, int) or latent_dim < 1
        or not isinstance(num_classes, int) or num_classes < 0
    ):
        raise TypeError(
            "G must be a digits generator with G.config.latent_dim and G.config.num_classes, such as "
            f"gan.ConvGenerator() or models.build('cgan-digits').G (got {type(G).__name__})"
        )
    return G


def _seed(value: Any, name: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a whole number (got {value!r})")
    return int(value)


def _class_label(G: torch.nn.Module, label: Any) -> int:
    k = G.config.num_classes
    if not isinstance(label, (int, np.integer)) or isinstance(label, bool) or not 0 <= label < k:
        raise ValueError(f"label must be a class in 0..{k - 1} (got {label!r})")
    return int(label)


def _class_picker(G: torch.nn.Module, label: int) -> Any:
    import ipywidgets as w

    return w.ToggleButtons(
        options=list(range(G.config.num_classes)), value=label, description="class", style={"button_width": "2.4em"}
    )


def _optional_class_picker(G: torch.nn.Module, label: Any) -> Any:
    """A class picker starting at ``label`` (default 0) for a conditional G; None for an unconditional one."""
    if G.config.num_classes == 0:
        if label is not None:
            raise ValueError(
                f"this G is unconditional (num_classes=0): it takes no class, so leave label=None (got {label!r})"
            )
        return None
    return _class_picker(G, _class_label(G, 0 if label is None else label))


def _coordinate_sliders(z: torch.Tensor, count: int, latent_dim: int, seed: int) -> tuple[list[Any], list[Any]]:
    """FloatSliders z[0]..z[count-1] in [-3, 3] starting at z (1, D)'s values (rounded to 0.01, clipped),
    and the widgets to show: the sliders, then a note when z[count]..z[latent_dim-1] stay fixed."""
    import ipywidgets as w

    sliders = [w.FloatSlider(
        value=min(max(round(float(z[0, i]), 2), -3.0), 3.0), min=-3.0, max=3.0, step=0.01,
        description=f"z[{i}]", continuous_update=True,
    ) for i in range(count)]
    shown: list[Any] = [w.VBox(sliders)]
    if latent_dim > count:
        shown.append(w.Label(f"z[{count}]..z[{latent_dim - 1}] stay fixed (seed {seed})"))
    return sliders, shown


def _strip_and_big(n: int, labelled: bool, width: float, big: float, strip_first: bool) -> tuple[Figure, Axes, Axes]:
    """A figure ``width`` inches wide: a strip of n digits across it and one big digit ``big`` inches square.

    Placed by hand (in inches) rather than by a layout engine, so the strip always fills the width.
    """
    margin, title = 0.1, 0.3  # inches
    _, _, w_px, h_px = _grid_shape(n, n, labelled)
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


@torch.no_grad()
def _generate_digits(G: torch.nn.Module, z: torch.Tensor, label: int | None) -> np.ndarray:
    """G(z) or G(z, label) for z (B, latent_dim) -> numpy (B, 8, 8), with G in eval mode meanwhile."""
    with train.eval_mode(G) as device:
        if label is None:
            x = G(z.to(device))
        else:
            x = G(z.to(device), torch.full((z.shape[0],), label, dtype=torch.long, device=device))
    return _digit_images(x, "G's outputs")  # (B, 8, 8)


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
    import ipywidgets as w

    G = _digit_generator(G)
    latent_dim, conditional = G.config.latent_dim, G.config.num_classes > 0
    if not isinstance(sliders, (int, np.integer)) or isinstance(sliders, bool) or sliders < 0:
        raise ValueError(f"sliders must be a whole number of latent coordinates, 0 or more (got {sliders!r})")
    sliders = min(int(sliders), latent_dim)  # asking for more than there are gives them all
    gen = torch.Generator().manual_seed(_seed(seed, "seed"))
    z = G.sample_latent(1, generator=gen).cpu()  # (1, latent_dim)
    noise = torch.randn(_NEIGHBOURS, latent_dim, generator=gen)  # (8, latent_dim): the neighbours' directions
    codes = z.shape[1] - latent_dim  # a discrete one-hot code after the Gaussian part (gan.ConvGeneratorConfig.codes)
    noise = torch.cat([noise, torch.zeros(_NEIGHBOURS, codes)], dim=1)  # neighbours keep z's code
    picker = _class_picker(G, _class_label(G, label)) if conditional else None
    coords, shown = _coordinate_sliders(z, sliders, latent_dim, seed)
    cache: dict[tuple[Any, ...], bytes] = {}

    def render() -> bytes:
        """PNG for the sliders' and class picker's current values, cached."""
        values = tuple(round(s.value, 6) for s in coords)
        y = picker.value if picker is not None else None
        if (values, y) not in cache:
            probe = z.clone()
            probe[0, :sliders] = torch.tensor(values, dtype=probe.dtype)
            batch = torch.cat([probe, probe + _NEIGHBOUR_RADIUS * noise])  # (1 + 8, latent_dim)
            imgs = _generate_digits(G, batch, y)  # (9, 8, 8)
            fig, strip, big = _strip_and_big(_NEIGHBOURS, False, width=4.8, big=2.8, strip_first=False)
            _draw_digits(big, imgs[:1], 1, gap=0.1)
            big.set_title("G(z)" if y is None else f"G(z, y={y})")
            _draw_digits(strip, imgs[1:], _NEIGHBOURS)
            strip.set_title("neighbours: z + 0.5 x noise", fontsize=9)
            _remember(cache, (values, y), fig)
        return cache[values, y]

    controls: list[Any] = [] if picker is None else [picker]
    image = _live_image(render, [*controls, *coords])
    box = w.VBox([w.HBox([w.VBox([*controls, *shown]), image])])
    box.sliders, box.label, box.image, box.render = coords, picker, image, render
    return box


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

    G = _digit_generator(G)
    steps = _positive_int(steps, "steps", "the digits along the path", least=2)
    picker = _optional_class_picker(G, label)
    box_a = w.IntText(value=_seed(seed_a, "seed_a"), description="seed a")
    box_b = w.IntText(value=_seed(seed_b, "seed_b"), description="seed b")
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
            imgs = _generate_digits(G, path, y)  # (steps + 1, 8, 8)
            fig, strip, big = _strip_and_big(steps, True, width=max(4.8, 0.6 * steps), big=2.8, strip_first=True)
            corners = _draw_digits(strip, imgs[:steps], steps, [f"{float(v):.2f}" for v in ts[:, 0]])
            (left0, top), (left1, _) = corners[0], corners[-1]
            strip.add_patch(Rectangle((left0 + t * (left1 - left0), top), 8, 8, fill=False, edgecolor="C3", linewidth=2))
            strip.set_title(f"t from 0 (seed {a}) to 1 (seed {b})" + ("" if y is None else f", class {y}"), fontsize=9)
            _draw_digits(big, imgs[steps:], 1, gap=0.1)
            big.set_title(f"t = {t:.2f}")
            _remember(cache, key, fig)
        return cache[key]

    image = _live_image(render, [slider, box_a, box_b, *([picker] if picker is not None else [])])
    controls = w.VBox([*([picker] if picker is not None else []), w.HBox([box_a, box_b]), slider])
    box = w.VBox([controls, image])
    box.slider, box.seed_a, box.seed_b, box.label, box.image, box.render = slider, box_a, box_b, picker, image, render
    return box


# ---------------------------------------------------------------------------------------
# Variational autoencoders (lesson 08)
# ---------------------------------------------------------------------------------------


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
        from .data import load_digits

        held_out = load_digits()
        return held_out.x_test, held_out.y_test
    x = torch.from_numpy(_digit_images(x, "x")[:, None]).float()  # (N, 1, 8, 8)
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
    G: Any, seed: int = 0, span: float = 3.0, steps: int = 9, label: int | None = None, max_rows: int = _MAX_SLIDERS
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
    import ipywidgets as w
    from matplotlib.patches import Rectangle

    G = _digit_generator(G)
    span = _span(span)
    steps = _positive_int(steps, "steps", "the digits along each row", least=2)
    rows = min(G.config.latent_dim, _positive_int(max_rows, "max_rows", "of latent coordinates to show"))
    picker = _optional_class_picker(G, label)
    z = G.sample_latent(1, generator=torch.Generator().manual_seed(_seed(seed, "seed"))).cpu()  # (1, D)
    coords, shown = _coordinate_sliders(z, rows, G.config.latent_dim, seed)
    sweep = torch.linspace(-span, span, steps)  # (steps,)
    cache: dict[tuple[Any, ...], bytes] = {}

    def render() -> bytes:
        """PNG for the sliders' and class picker's current values, cached."""
        values = tuple(round(s.value, 6) for s in coords)
        y = picker.value if picker is not None else None
        if (values, y) not in cache:
            base = z.clone()
            base[0, :rows] = torch.tensor(values, dtype=base.dtype)
            batch = base.repeat(rows * steps, 1)  # (rows * steps, D): row i is base with z[i] swept
            for i in range(rows):
                batch[i * steps : (i + 1) * steps, i] = sweep
            fig = Figure(figsize=_grid_inches(rows * steps, steps, False, True, extra=(0.5, 0.3)), layout="compressed")
            ax = fig.subplots()
            corners = _draw_digits(ax, _generate_digits(G, batch, y), steps)
            left0, left1 = corners[0][0], corners[steps - 1][0]
            for i, v in enumerate(values):
                top = corners[i * steps][1]
                where = min(max((v + span) / (2 * span), 0.0), 1.0)  # the slider's place along the sweep
                ax.add_patch(Rectangle((left0 + where * (left1 - left0), top), 8, 8, fill=False, edgecolor="C3", linewidth=2))
            ax.set_xticks([c[0] + 4 for c in corners[:steps]], [_short(float(v)) for v in sweep], fontsize=7)
            ax.set_yticks([corners[i * steps][1] + 4 for i in range(rows)], [f"z[{i}]" for i in range(rows)], fontsize=8)
            ax.tick_params(length=0, top=True, labeltop=True, bottom=False, labelbottom=False)
            ax.set_title("row i sweeps z[i]; red = slider" + ("" if y is None else f", class {y}"), fontsize=9)
            _remember(cache, (values, y), fig)
        return cache[values, y]

    controls: list[Any] = [] if picker is None else [picker]
    image = _live_image(render, [*controls, *coords])
    box = w.VBox([w.HBox([w.VBox([*controls, *shown]), image])])
    box.sliders, box.label, box.image, box.render = coords, picker, image, render
    return box


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
    res = _positive_int(resolution, "resolution", "of digits along each side of the map")
    x, y = _vae_digits(net, x, y)
    with torch.no_grad(), train.eval_mode(net) as device:
        mu = net.encoder(x.to(device))[0].cpu().numpy()  # (N, 2)
    G = net.as_generator()
    centres = (torch.arange(res) + 0.5) * (2 * span / res) - span  # (R,) cell centres, increasing
    z1, z0 = torch.meshgrid(centres.flip(0), centres, indexing="ij")  # (R, R): row 0 is the top (largest z[1])
    tiles = _generate_digits(G, torch.stack([z0.flatten(), z1.flatten()], dim=1), None)  # (R*R, 8, 8)
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
    _draw_digits(big_ax, tiles[:1], 1, gap=0.1)
    sliders = [w.FloatSlider(value=0.0, min=-span, max=span, step=0.01, description=f"z[{i}]", continuous_update=True)
               for i in range(2)]
    cache: dict[tuple[float, ...], bytes] = {}

    def render() -> bytes:
        """PNG for the sliders' z, cached: only the crosses and the enlarged digit change."""
        key = tuple(round(s.value, 6) for s in sliders)
        if key not in cache:
            for cross in crosses:
                cross.set_offsets([key])
            big_ax.images[0].set_data(_generate_digits(G, torch.tensor([key]), None)[0])
            big_ax.set_title(f"G(z) at\n({key[0]:.2f}, {key[1]:.2f})", fontsize=10)
            _remember(cache, key, fig)
        return cache[key]

    image = _live_image(render, sliders)
    box = w.VBox([w.HBox(sliders), image])
    box.sliders, box.image, box.render = sliders, image, render
    return box


_RECONSTRUCTION_ROWS = ("original", "reconstruction\n(decoder mean at mu)")
_DRAW_ROW = "z ~ q(z|x)"


def _reconstruction_inches(n: int, samples: int) -> tuple[float, float]:
    """Figure size for n digits in 2 + samples rows, with room for the row titles and the classes."""
    return _grid_inches((2 + samples) * n, n, False, True, extra=(1.4, 0.0))


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
    samples = _positive_int(samples, "samples", "the rows of draws z ~ q(z|x)", least=0)
    generator = torch.Generator().manual_seed(_seed(seed, "seed"))
    x, y = _vae_digits(net, x, y)
    n = len(x)
    cond = y if net.config.num_classes else None
    with torch.no_grad(), train.eval_mode(net) as device:
        mu, logvar = net.encoder(x.to(device), cond)  # (N, L) each
        zs = [mu] + [vaelib.reparameterize(mu, logvar, generator) for _ in range(samples)]
        decoded = [net.decode(z, cond).cpu() for z in zs]  # each (N, 1, 8, 8)
    imgs = _digit_images(torch.cat([x, *decoded]), "digits")  # ((2 + samples) * N, 8, 8)
    ax = _digits_axes(ax, _reconstruction_inches(n, samples))
    corners = _draw_digits(ax, imgs, n)
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
    n = _positive_int(n, "n", "of digits per batch")
    samples = _positive_int(samples, "samples", "the rows of draws z ~ q(z|x)", least=0)
    seed = _seed(seed, "seed")
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
            _remember(cache, i, fig)
        return cache[i]

    image = _live_image(lambda: render(slider.value), [slider])
    box = w.VBox([slider, image])
    box.slider, box.image, box.render = slider, image, render
    return box

