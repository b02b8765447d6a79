"""The widgets' drawing kit: figures to PNG, live pictures, digit grids and digit generators.

Every widget draws on matplotlib's Agg canvas (never pyplot), turns the figure into PNG bytes
(``render``) and shows them in an ``ipywidgets.Image`` (``live_image``, ``scrubber``), so
nothing leaks into a notebook's inline backend and a test can see the picture change.
ipywidgets is imported only when a widget is built. Also here, because more than one family
of widgets draws them: the square view of a mixture, the checks that turn a tensor or array
into the (N, 8, 8) a digit grid needs, the grid itself (``draw_digits``) and its size, and a
digits generator's pieces (the check, eval-mode sampling, class picker, coordinate sliders).

Private to ``genai_course.widgets``: its modules import it, nothing else does.
"""

from __future__ import annotations

import io
from typing import Any, Callable

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..data import Mixture
from ..gan import History, Snapshots
from ..loop import eval_mode

GAP = 1.0  # grey gap between digits in a grid, in pixels of the 8x8 images
LABEL_ROOM = 4.0  # room above each digit for its label, in pixels
INCH_PER_PIXEL = 0.07  # figure size of a grid: an 8x8 digit is about 0.6 inch wide
CACHE_SIZE = 512  # pictures a widget keeps before it forgets them all (long sessions)

# ------------------------------------------------------------------------------ figures and widgets


def render(fig: Figure) -> bytes:
    """Figure -> PNG bytes on the Agg canvas (no timestamps: equal pictures give equal bytes)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, metadata={"Software": None})
    return buf.getvalue()


def remember(cache: dict[Any, bytes], key: Any, fig: Figure) -> None:
    """Store the figure's PNG under key, forgetting everything once ``CACHE_SIZE`` are kept."""
    if len(cache) > CACHE_SIZE:
        cache.clear()
    cache[key] = render(fig)


def live_image(draw: Callable[[], bytes], controls: list[Any]) -> Any:
    """An ipywidgets.Image showing draw(), drawn again whenever one of the controls moves."""
    import ipywidgets as w

    image = w.Image(value=draw(), format="png")

    def on_change(change: dict[str, Any]) -> None:
        image.value = draw()

    for control in controls:
        control.observe(on_change, names="value")
    return image


def scrubber(count: int, draw: Callable[[int], bytes], caption: Callable[[int], str], readout: bool = True) -> Any:
    """A play button and a slider over ``count`` snapshots, a caption and the picture draw(i).

    The box carries ``.slider``, ``.play``, ``.caption``, ``.image`` and ``.render`` (= draw).
    """
    import ipywidgets as w

    last = count - 1
    slider = w.IntSlider(value=0, min=0, max=last, step=1, description="snapshot", readout=readout, continuous_update=True)
    play = w.Play(value=0, min=0, max=last, step=1, interval=300, description="play")
    w.jslink((play, "value"), (slider, "value"))
    label = w.Label(caption(0))
    image = w.Image(value=draw(0), format="png")

    def on_change(change: dict[str, Any]) -> None:
        image.value = draw(change["new"])
        label.value = caption(change["new"])

    slider.observe(on_change, names="value")
    box = w.VBox([w.HBox([play, slider, label]), image])
    box.slider, box.play, box.caption, box.image, box.render = slider, play, label, image, draw
    return box


def snapshot_records(snapshots: Any) -> tuple[list[dict[str, Any]], Any]:
    """The records {'step', 'samples', ...} of a snapshots callback or list, and its grid (or None)."""
    if isinstance(snapshots, Snapshots):
        return snapshots.records, snapshots.grid
    if isinstance(snapshots, History):
        return snapshots.snapshots, None
    if isinstance(snapshots, (list, tuple)):
        return list(snapshots), None
    if isinstance(getattr(snapshots, "records", None), list):  # e.g. vae.SampleSnapshots
        return snapshots.records, None
    raise TypeError(
        "snapshots must be a gan.Snapshots or vae.SampleSnapshots callback, or a list of dicts {'step', 'samples'} "
        f"(got {type(snapshots).__name__})"
    )


def positive_int(value: Any, name: str, meaning: str, least: int = 1) -> int:
    """value as an int when it is a whole number >= least, else a ValueError naming it and its meaning."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
        bound = "a positive whole number" if least == 1 else f"a whole number of at least {least},"
        raise ValueError(f"{name} must be {bound} {meaning} (got {value!r})")
    return int(value)


def mixture_extent(mixture: Mixture) -> float:
    """Half-width of a square view that holds every mode with a margin (1.5 for ring8, 6 for grid25)."""
    return 1.5 * float(mixture.means.abs().max())


def mode_colors(n_modes: int) -> np.ndarray:
    """One RGBA colour per mode of a mixture: (K, 4); with many modes the hues are spread with a stride,
    so that neighbouring modes differ."""
    from matplotlib import colormaps

    if n_modes <= 10:
        return colormaps["tab10"](np.arange(n_modes))
    hues = (np.arange(n_modes) * 7 % n_modes) / n_modes
    return colormaps["hsv"](hues)


# ------------------------------------------------------------------------------ digit grids


def float_array(x: Any, what: str, shape: str) -> np.ndarray:
    """A tensor or array-like as a float64 numpy array, or a TypeError that says which ``shape``
    (e.g. "(N, 2)") ``what`` must have. The caller checks the shape itself."""
    if isinstance(x, torch.Tensor):
        return x.detach().float().cpu().numpy().astype(np.float64)
    if not isinstance(x, (np.ndarray, list, tuple)):
        raise TypeError(f"{what} must be a tensor or array of shape {shape} (got {type(x).__name__})")
    return np.asarray(x, dtype=np.float64)


def slider_code(z: torch.Tensor, coords: list[Any], picker: Any) -> tuple[tuple[Any, ...], torch.Tensor]:
    """What a latent widget draws now: the cache key (the sliders' values rounded to 1e-6, and the
    class picked, or None) and z (1, D) with its first len(coords) coordinates set to the sliders'."""
    values = tuple(round(s.value, 6) for s in coords)
    code = z.clone()
    code[0, : len(coords)] = torch.tensor(values, dtype=code.dtype)
    return (values, picker.value if picker is not None else None), code


def latent_box(render: Callable[[], bytes], picker: Any, coords: list[Any], shown: list[Any]) -> Any:
    """The widget of a latent explorer: the class picker (if any) and the sliders beside the live
    image that ``render`` draws; ``.sliders``, ``.label``, ``.image`` and ``.render`` for tests."""
    import ipywidgets as w

    controls: list[Any] = [] if picker is None else [picker]
    image = live_image(render, [*controls, *coords])
    box = w.VBox([w.HBox([w.VBox([*controls, *shown]), image])])
    box.sliders, box.label, box.image, box.render = coords, picker, image, render
    return box


def digit_images(x: Any, what: str = "images") -> np.ndarray:
    """Tensor or array (N, 1, 8, 8) -> float numpy array (N, 8, 8), or a clear error."""
    x = float_array(x, what, "(N, 1, 8, 8)")
    if x.ndim != 4 or x.shape[1:] != (1, 8, 8):
        hint = ": reshape with x.reshape(-1, 1, 8, 8)" if x.shape[1:] in ((64,), (8, 8)) else ""
        raise ValueError(
            f"{what} must have shape (N, 1, 8, 8): N images of 1 channel, 8x8 pixels (got {x.shape}){hint}"
        )
    if len(x) == 0:
        raise ValueError(f"{what} must hold at least one image (got shape {x.shape})")
    return x[:, 0]  # (N, 8, 8)


def grid_shape(n: int, nrow: int, labelled: bool, gap: float = GAP) -> tuple[int, int, float, float]:
    """(columns, rows, width, height) of a grid of n digits, nrow per row, in pixels."""
    cols, rows = min(nrow, n), -(-n // nrow)
    pitch_y = 8 + gap + (LABEL_ROOM if labelled else 0.0)
    return cols, rows, cols * (8 + gap) + gap, rows * pitch_y + gap


def draw_digits(
    ax: Axes, imgs: np.ndarray, nrow: int, labels: list[str] | None = None, gap: float = GAP
) -> list[tuple[float, float]]:
    """Draw imgs (N, 8, 8) on ax as a grid, one AxesImage per digit; returns each one's (left, top).

    Axis units are pixels of the digits, with y pointing down the page; ``gap`` pixels of grey
    separate the digits and frame the grid. Dark ink on white (cmap "gray_r", 0 = white).
    """
    _, _, width, height = grid_shape(len(imgs), nrow, labels is not None, gap)
    pitch_x, pitch_y = 8 + gap, 8 + gap + (LABEL_ROOM if labels is not None else 0.0)
    corners = []
    for i, img in enumerate(imgs):
        row, col = divmod(i, nrow)
        left, top = col * pitch_x, row * pitch_y + (LABEL_ROOM if labels is not None else 0.0)
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


def grid_inches(n: int, nrow: int, labelled: bool, title: bool = False, extra: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float]:
    """Figure size (width, height) in inches for a grid of n digits, nrow per row, plus ``extra`` inches."""
    _, _, width, height = grid_shape(n, nrow, labelled)
    return max(width * INCH_PER_PIXEL, 1.5) + extra[0], height * INCH_PER_PIXEL + (0.3 if title else 0.0) + extra[1]


def digits_axes(ax: Any, size: tuple[float, float]) -> Axes:
    """ax itself if it is one Axes; for None, the Axes of a new pyplot figure of ``size`` inches."""
    if ax is None:
        import matplotlib.pyplot as plt  # a figure the notebook shows; the widgets never use pyplot

        return plt.figure(figsize=size, layout="compressed").add_subplot()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be one matplotlib Axes, e.g. axes[0] from plt.subplots (got {type(ax).__name__})")
    return ax


# ------------------------------------------------------------------------------ digits generators


def digit_generator(G: Any) -> torch.nn.Module:
    """G itself (or a trained model's ``.G``), checked to be a digits generator."""
    if not isinstance(G, torch.nn.Module) and isinstance(getattr(G, "G", None), torch.nn.Module):
        G = G.G  # a models.TrainedDigitsGAN or TrainedVAE: use its generator
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


@torch.no_grad()
def generate_digits(G: torch.nn.Module, z: torch.Tensor, label: int | None) -> np.ndarray:
    """G(z) or G(z, label) for z (B, latent_dim) -> numpy (B, 8, 8), with G in eval mode meanwhile."""
    with eval_mode(G) as device:
        if label is None:
            x = G(z.to(device))
        else:
            x = G(z.to(device), torch.full((z.shape[0],), label, dtype=torch.long, device=device))
    return digit_images(x, "G's outputs")  # (B, 8, 8)


def class_picker(G: torch.nn.Module, label: Any) -> Any:
    """ToggleButtons over G's classes 0..K-1 starting at ``label``, or a ValueError if it is no class."""
    import ipywidgets as w

    k = G.config.num_classes
    if not isinstance(label, (int, np.integer)) or isinstance(label, bool) or not 0 <= label < k:
        raise ValueError(f"label must be a class in 0..{k - 1} (got {label!r})")
    return w.ToggleButtons(options=list(range(k)), value=int(label), description="class", style={"button_width": "2.4em"})


def optional_class_picker(G: torch.nn.Module, label: Any) -> Any:
    """A class picker starting at ``label`` (default 0) for a conditional G; None for an unconditional one."""
    if G.config.num_classes == 0:
        if label is not None:
            raise ValueError(
                f"this G is unconditional (num_classes=0): it takes no class, so leave label=None (got {label!r})"
            )
        return None
    return class_picker(G, 0 if label is None else label)


def coordinate_sliders(z: torch.Tensor, count: int, latent_dim: int, seed: int) -> tuple[list[Any], list[Any]]:
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
