"""Lesson 16's pictures and widget: flow matching's paths, its velocity field, and what a model
draws for a given number of network calls.

* ``plot_paths``: sampled paths from noise (grey dots) to samples (coloured dots), one panel per
  model, each titled with its number of steps and ``flow.straightness``;
* ``plot_velocity_field``: the arrows of a velocity field v(x, t) at one time t;
* ``calls_scrubber``: a slider over network calls per sample, one panel per model (points over
  the mixture's mode centres, or a digit grid), and its still picture ``plot_calls``.

Inputs are duck-typed (the widgets stand below ``models``): trajectories are
``flow.FlowTrajectory`` in model units, samples are tensors in data units, a velocity is any
function (x, t) -> v. Time runs from t = 0 (noise) to t = 1 (data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from .. import flow
from ..data import Mixture, make_grid
from ..metrics import nearest_mode
from ..utils import whole_number
from . import _draw
from .points import plot_points

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["plot_paths", "plot_velocity_field", "calls_scrubber", "plot_calls"]

_PANEL = 3.4  # inches a side of one square panel
_ROUNDING = 1e-6  # a straightness this small against the paths' squared length is float rounding: 0


# ------------------------------------------------------------------------------ checks


def _figure(fig: Any, size: tuple[float, float]) -> Figure:
    """fig itself if it is a Figure; for None, a new pyplot figure for the notebook to show."""
    if fig is None:
        import matplotlib.pyplot as plt  # a still picture for the notebook; the widgets never use pyplot

        return plt.figure(figsize=size, layout="compressed")
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, e.g. plt.figure() (got {type(fig).__name__})")
    return fig


def _mixture(mixture: Any) -> Mixture | None:
    if mixture is not None and not isinstance(mixture, Mixture):
        raise TypeError(f"mixture must be a data.Mixture such as data.grid25() (got {type(mixture).__name__})")
    return mixture


def _square(pts: np.ndarray) -> float:
    """Half-width of a square view holding every finite point (..., 2), never zero."""
    finite = pts[np.isfinite(pts).all(-1)]
    top = float(np.abs(finite).max()) if finite.size else 0.0
    return 1.05 * top if top > 0 else 1.0


def _paths(name: str, trajectory: Any) -> np.ndarray:
    """The trajectory's states as one array (S, N, 2) in model units, checked."""
    if not isinstance(trajectory, flow.FlowTrajectory):
        raise TypeError(
            f"trajectories[{name!r}] must be a flow.FlowTrajectory filled by model.sample(..., trajectory=...) "
            f"(got {type(trajectory).__name__})"
        )
    if len(trajectory.x) < 2 or len(trajectory.t) != len(trajectory.x):
        raise ValueError(
            f"trajectories[{name!r}] needs at least two states (the noise and the sample), one time each: pass a "
            "fresh flow.FlowTrajectory() to model.sample(..., trajectory=...) first"
        )
    states = [_draw.float_array(x, f"a state of trajectories[{name!r}]", "(N, 2)") for x in trajectory.x]
    first = states[0].shape
    for x in states:
        if x.ndim != 2 or x.shape[1] != 2 or x.shape != first or len(x) == 0:
            raise ValueError(
                f"trajectories[{name!r}] must hold states of shape (N, 2), 2D points, the same N in every state "
                f"(got {x.shape}{' after ' + str(first) if x.shape != first else ''})"
            )
    return np.stack(states)


def _straightness(trajectory: flow.FlowTrajectory, paths: np.ndarray) -> float:
    """flow.straightness, with float32 rounding (below a millionth of the mean squared displacement) shown as 0."""
    value = flow.straightness(trajectory)
    size = float(np.mean(np.sum((paths[-1] - paths[0]) ** 2, axis=-1)))
    return 0.0 if abs(value) <= _ROUNDING * size else value


# ------------------------------------------------------------------------------ paths


def plot_paths(
    trajectories: Mapping[str, Any],
    *,
    mixture: Mixture | None = None,
    scale: float = 1.0,
    n: int = 80,
    seed: int = 0,
    fig: Figure | None = None,
) -> Figure:
    """The paths the ODE took from noise to samples, one panel per model, side by side.

    ``trajectories``: {name: flow.FlowTrajectory} (states in model units; ``scale`` turns them into
    data units, e.g. a trained model's ``.scale``). Each panel draws the same ``n`` paths (a random
    subset fixed by ``seed``) as lines through the recorded states: the start (noise) as a small grey
    dot, the end (the sample) as a coloured dot, coloured by its nearest mode of ``mixture`` when given
    (whose mode centres are marked "+"). Titles: "name: K steps, straightness S", S from
    ``flow.straightness`` (0 = every path a straight line). One square view for every panel.
    Draws on ``fig``, or on a new pyplot figure. Returns the Figure.
    """
    if not isinstance(trajectories, Mapping) or not trajectories:
        raise TypeError(
            "trajectories must be a non-empty dict {name: flow.FlowTrajectory}, e.g. {'flow': traj} "
            f"(got {type(trajectories).__name__}{' with nothing in it' if isinstance(trajectories, Mapping) else ''})"
        )
    mixture = _mixture(mixture)
    n = _draw.positive_int(n, "n", "of paths to draw")
    seed = whole_number(seed, "seed")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"scale must be a positive number, model units -> data units (got {scale!r})")
    drawn = {}
    for name, trajectory in trajectories.items():
        paths = _paths(str(name), trajectory)  # (S, N, 2)
        pick = torch.randperm(paths.shape[1], generator=torch.Generator().manual_seed(seed))[:n].numpy()
        drawn[str(name)] = (paths[:, pick] * scale, _straightness(trajectory, paths))
    extent = max(_square(p) for p, _ in drawn.values())
    if mixture is not None:
        extent = max(extent, _draw.mixture_extent(mixture))
    fig = _figure(fig, (_PANEL * len(drawn), _PANEL + 0.3))
    axes = fig.subplots(1, len(drawn), squeeze=False)[0]
    for ax, (name, (paths, straight)) in zip(axes, drawn.items()):
        ends = paths[-1]  # (n, 2)
        if mixture is not None:
            k, _ = nearest_mode(torch.from_numpy(ends).float(), mixture)
            colors = _draw.mode_colors(mixture.n_modes)[k.numpy()]
            means = mixture.means.numpy()
            ax.scatter(means[:, 0], means[:, 1], marker="+", s=60, c="k", linewidths=1.0, zorder=4)
        else:
            colors = np.tile(np.array(colormaps["tab10"](1)), (len(ends), 1))
        faint = colors.copy()
        faint[:, 3] = 0.45
        ax.add_collection(LineCollection(list(paths.transpose(1, 0, 2)), colors=faint, linewidths=0.8, zorder=1))
        ax.scatter(paths[0, :, 0], paths[0, :, 1], s=4, c="0.55", linewidths=0, zorder=2)
        ax.scatter(ends[:, 0], ends[:, 1], s=12, c=colors, linewidths=0, zorder=3)
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
        ax.set_aspect("equal")
        ax.set_title(f"{name}: {len(paths) - 1} steps, straightness {straight:.3g}", fontsize=9)
    return fig


# ------------------------------------------------------------------------------ velocity field


def plot_velocity_field(
    velocity: Callable[[torch.Tensor, float], torch.Tensor],
    t: float,
    *,
    extent: float,
    grid: int = 17,
    ax: Axes | None = None,
    title: str | None = None,
    color: Any = "C0",
) -> Axes:
    """Arrows of the velocity field v(x, t) at one time t (0 = noise, 1 = data) on a ``grid`` x
    ``grid`` lattice over [-extent, extent]^2, each pointing where a point there moves next.

    ``velocity(x, t) -> v``: x (B, 2) float tensor, t a float, v (B, 2); e.g.
    ``lambda x, t: flow.gaussian_velocity(x, t, mean, std)`` or ``lambda x, t: model.ema.velocity(x, t)``
    (called once, under torch.no_grad()). Draws on ``ax``, or on a new pyplot figure. Returns the Axes.
    """
    if not callable(velocity):
        raise TypeError(
            "velocity must be a function (x, t) -> v, e.g. lambda x, t: model.ema.velocity(x, t) "
            f"(got {type(velocity).__name__})"
        )
    if isinstance(t, bool) or not isinstance(t, (int, float, np.floating, np.integer)) or not 0.0 <= float(t) <= 1.0:
        raise ValueError(f"t must be a time in [0, 1]: 0 is the noise, 1 the data (got {t!r})")
    if isinstance(extent, bool) or not isinstance(extent, (int, float, np.floating, np.integer)) or not float(extent) > 0:
        raise ValueError(f"extent must be a positive number, the half-width of the square view (got {extent!r})")
    grid = _draw.positive_int(grid, "grid", "of arrows along each side", least=2)
    x = make_grid(float(extent), grid)  # (grid*grid, 2)
    with torch.no_grad():
        v = velocity(x, float(t))
    shape = tuple(v.shape) if isinstance(v, torch.Tensor) else None
    if shape != tuple(x.shape):
        got = "a " + type(v).__name__ if shape is None else "(" + ", ".join("B" if d == len(x) else str(d) for d in shape) + ")"
        raise ValueError(
            f"velocity returned shape {got} for x of shape (B, 2) (B = {len(x)} points): it must return one "
            "2D velocity per point, a tensor (B, 2)"
        )
    ax = _draw.digits_axes(ax, (4.2, 4.2))
    pts, arrows = x.numpy(), v.detach().float().cpu().numpy()
    ax.quiver(pts[:, 0], pts[:, 1], arrows[:, 0], arrows[:, 1], color=color, angles="xy", pivot="tail", width=0.004)
    ax.set_xlim(-extent * 1.08, extent * 1.08)
    ax.set_ylim(-extent * 1.08, extent * 1.08)
    ax.set_aspect("equal")
    ax.set_title(f"velocity at t = {float(t):.2f}" if title is None else title, fontsize=9)
    return ax


# ------------------------------------------------------------------------------ samples by network calls


def _calls(k: int) -> str:
    return "1 call" if k == 1 else f"{k} calls"


def _table(samples: Any) -> tuple[dict[str, dict[int, np.ndarray]], bool]:
    """{name: {calls: samples as numpy (points (N, 2) or digits (N, 8, 8))}} and whether they are points."""
    if not isinstance(samples, Mapping) or not samples:
        raise TypeError(
            "samples must be a non-empty dict {model name: {network calls: samples}} "
            f"(got {type(samples).__name__}{' with nothing in it' if isinstance(samples, Mapping) else ''})"
        )
    table: dict[str, dict[int, np.ndarray]] = {}
    kinds: dict[bool, str] = {}
    for name, by_calls in samples.items():
        name = str(name)
        if not isinstance(by_calls, Mapping) or not by_calls:
            raise TypeError(f"samples[{name!r}] must be a non-empty dict {{network calls: samples}} (got {type(by_calls).__name__})")
        table[name] = {}
        for calls, x in by_calls.items():
            calls = _draw.positive_int(calls, f"each network-call count of samples[{name!r}]", "(a key of the dict)")
            where = f"samples[{name!r}][{calls}]"
            arr = _draw.float_array(x, where, "(N, 2) or (N, 1, 8, 8)")
            points = arr.ndim == 2 and arr.shape[1] == 2
            if not points and not (arr.ndim == 4 and arr.shape[1:] == (1, 8, 8)) or len(arr) == 0:
                raise ValueError(
                    f"{where} must be points (N, 2) or digits (N, 1, 8, 8), at least one (got shape {arr.shape})"
                )
            kinds.setdefault(points, where)
            table[name][calls] = arr if points else arr[:, 0].clip(0.0, 1.0)
    if len(kinds) > 1:
        raise ValueError(
            f"samples mix points and digits ({kinds[True]} holds points, {kinds[False]} digits): show one kind at a time"
        )
    return table, next(iter(kinds))


def _texts(labels: Any, table: dict[str, dict[int, np.ndarray]], points: bool) -> list[str] | None:
    """The classes written above every digit grid, checked against each grid's size."""
    if labels is None:
        return None
    if points:
        raise ValueError("labels are written above digits, and these samples are points: leave labels=None")
    y = _draw.float_array(labels, "labels", "(N,)")
    sizes = {len(x) for by_calls in table.values() for x in by_calls.values()}
    if y.ndim != 1 or sizes != {len(y)}:
        raise ValueError(f"labels must hold one class per digit, shape ({min(sizes)},) (got {y.shape}; the grids hold {sorted(sizes)} digits)")
    return [str(int(v)) for v in y]


def _counts(calls: Any) -> list[int]:
    if isinstance(calls, (int, np.integer)) and not isinstance(calls, bool):
        calls = [calls]
    if not isinstance(calls, Sequence) or isinstance(calls, str) or not calls:
        raise TypeError(f"calls must be a list of network-call counts, e.g. [1, 4, 16] (got {calls!r})")
    return [_draw.positive_int(k, "each of calls", "of network calls per sample") for k in calls]


class _Panels:
    """What one panel shows: the samples of a model at a number of calls, in one view for all."""

    def __init__(self, samples: Any, mixture: Any, labels: Any, nrow: int) -> None:
        self.table, self.points = _table(samples)
        self.mixture = _mixture(mixture)
        if self.mixture is not None and not self.points:
            raise ValueError("a mixture goes with points, and these samples are digits: leave mixture=None")
        self.texts = _texts(labels, self.table, self.points)
        self.nrow = _draw.positive_int(nrow, "nrow", "of digits per row")
        self.counts = sorted({k for by_calls in self.table.values() for k in by_calls})
        if self.points:
            every = np.concatenate([x for by_calls in self.table.values() for x in by_calls.values()])
            self.extent = _draw.mixture_extent(self.mixture) if self.mixture is not None else _square(every)
        most = max(len(x) for by_calls in self.table.values() for x in by_calls.values())
        width, height = _draw.grid_inches(most, self.nrow, self.texts is not None, True)
        self.size = (_PANEL, _PANEL) if self.points else (max(width, 2.2), height + 0.2)

    def draw(self, ax: Axes, name: str, calls: int, missing: str, title: str) -> None:
        x = self.table[name].get(calls)
        if x is None:
            ax.text(0.5, 0.5, missing, ha="center", va="center", transform=ax.transAxes, fontsize=9, color="0.4")
            ax.set_xticks([])
            ax.set_yticks([])
        elif self.points:
            plot_points(ax, x, self.mixture, density=False, extent=self.extent, size=4.0)
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            _draw.draw_digits(ax, x, self.nrow, self.texts)
        ax.set_title(title, fontsize=9)


def calls_scrubber(
    samples: Mapping[str, Mapping[int, Any]],
    *,
    mixture: Mixture | None = None,
    labels: Any = None,
    nrow: int = 10,
) -> ipywidgets.VBox:
    """Move a slider over the number of network calls per sample and see what each model draws.

    ``samples``: {model name: {network calls (int): samples}} with samples in data units, either
    points (N, 2) (drawn over ``mixture``'s mode centres, in one fixed view) or digits (N, 1, 8, 8)
    in [0, 1] (a grid, ``nrow`` per row, with ``labels`` (N,) above them when given). One panel per
    model; a model without a sampler of that many calls says so.

    Controls: ``.slider`` (SelectionSlider over the sorted call counts of every model) and ``.play``
    (linked to its index). The box also has ``.caption``, ``.image``, ``.counts`` (list of int) and
    ``.render(calls) -> bytes`` (PNG; each count drawn once, then cached).
    """
    import ipywidgets as w

    panels = _Panels(samples, mixture, labels, nrow)
    names, counts = list(panels.table), panels.counts
    cache: dict[int, bytes] = {}

    def render(calls: int) -> bytes:
        """PNG of every model's samples with ``calls`` network calls, cached."""
        if isinstance(calls, bool) or calls not in counts:
            raise ValueError(f"calls must be one of the network-call counts {', '.join(map(str, counts))} (got {calls!r})")
        if calls not in cache:
            fig = Figure(figsize=(panels.size[0] * len(names), panels.size[1]), layout="compressed")
            for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names):
                panels.draw(ax, name, calls, f"no sampler with {_calls(calls)}", f"{name}, {_calls(calls)}")
            _draw.remember(cache, int(calls), fig)
        return cache[int(calls)]

    def caption(calls: int) -> str:
        without = [name for name in names if calls not in panels.table[name]]
        return f"{calls} network call{'s' if calls != 1 else ''} per sample" + (f" (no sampler: {', '.join(without)})" if without else "")

    slider = w.SelectionSlider(
        options=[(str(k), k) for k in counts], value=counts[0], description="network calls",
        continuous_update=True, style={"description_width": "initial"},
    )
    play = w.Play(value=0, min=0, max=len(counts) - 1, step=1, interval=700, description="play")
    w.jslink((play, "value"), (slider, "index"))
    label = w.Label(caption(counts[0]))
    image = w.Image(value=render(counts[0]), format="png")

    def on_change(change: dict[str, Any]) -> None:
        image.value = render(slider.value)
        label.value = caption(slider.value)

    slider.observe(on_change, names="value")
    box = w.VBox([w.HBox([play, slider]), label, image])
    box.slider, box.play, box.caption, box.image, box.render, box.counts = slider, play, label, image, render, counts
    return box


def plot_calls(
    samples: Mapping[str, Mapping[int, Any]],
    calls: Sequence[int],
    *,
    mixture: Mixture | None = None,
    labels: Any = None,
    fig: Figure | None = None,
) -> Figure:
    """The still picture of ``calls_scrubber``'s data: one row per model, one column per count in
    ``calls``, each panel titled "name, K calls" (empty, saying "no sampler", when that model has
    none with K calls). Draws on ``fig``, or on a new pyplot figure. Returns the Figure."""
    counts = _counts(calls)
    panels = _Panels(samples, mixture, labels, 10)
    names = list(panels.table)
    fig = _figure(fig, (panels.size[0] * 0.8 * len(counts), panels.size[1] * 0.8 * len(names)))
    axes = fig.subplots(len(names), len(counts), squeeze=False)
    for row, name in zip(axes, names):
        for ax, k in zip(row, counts):
            panels.draw(ax, name, k, "no sampler", f"{name}, {_calls(k)}")
    return fig
