"""Widgets for the reverse process of lesson 10's diffusion models.

``reverse_scrubber`` runs the reverse process once, keeping every state, and scrubs through
it from pure noise (t = T-1) to the sample (t = -1): 2D points moving onto the mixture's modes,
or digits appearing out of static. ``plot_reverse_process`` is its still picture (widgets do
not show in a static render of a notebook). Classifier-free guidance has its own module,
``guidance``, which shares this one's checks of the model (``trained_ddpm``, ``is_points``,
``sample_count``) and ``display_images``.

The model is a ``models.TrainedDDPM`` (checked by what it has, since the widgets stand below
``models``). Points are drawn with ``points.plot_points``, digits with the shared digit grid.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .. import diffusion
from ..utils import whole_number
from . import _draw
from .points import plot_points

if TYPE_CHECKING:
    import ipywidgets

__all__ = ["reverse_scrubber", "plot_reverse_process"]

_MAX_DIGITS = 100  # digits in one grid: more would not fit a notebook's width legibly
_MAX_POINTS = 20_000  # 2D points in one scatter
_PANELS = 6  # panels in plot_reverse_process by default
_NOISE_VIEW = 2.5  # the 2D view holds 2.5 std of the starting noise (in data units: the mixture's spread)


# ------------------------------------------------------------------------------ checks


def trained_ddpm(model: Any, who: str) -> Any:
    """model itself if it is a trained diffusion model (models.TrainedDDPM), or a clear error."""
    if isinstance(model, diffusion.DDPM):
        raise TypeError(
            f"{who} needs the trained model, models.TrainedDDPM (e.g. models.build('ddpm-digits')), not its "
            "network diffusion.DDPM: the trained model knows how to turn samples into data units"
        )
    if not isinstance(getattr(model, "ema", None), diffusion.DDPM) or not hasattr(model, "to_data"):
        raise TypeError(
            f"{who} needs a diffusion model, models.TrainedDDPM such as models.build('ddpm-grid25') or "
            f"models.build('ddpm-digits') (got {type(model).__name__})"
        )
    return model


def is_points(model: Any) -> bool:
    """Whether the model draws 2D points (it has a mixture) rather than digits."""
    return getattr(model, "mixture", None) is not None


def sample_count(n: Any, model: Any, name: str = "n") -> int:
    """n, a whole number of samples within what one picture can show, or a clear error."""
    most = _MAX_POINTS if is_points(model) else _MAX_DIGITS
    what = "points" if is_points(model) else "digits"
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 1 <= n <= most:
        raise ValueError(f"{name} must be a whole number of {what} from 1 to {most} (got {n!r})")
    return int(n)


def _noise_level(schedule: diffusion.NoiseSchedule, t: int) -> float:
    """sqrt(1 - abar_t), the share of x_t that is noise: about 1 for the starting noise (t = T-1;
    exactly 1 for a t of T or more), 0 for the sample (t = -1)."""
    if t >= schedule.T:
        return 1.0
    if t < 0:
        return 0.0
    return math.sqrt(1.0 - float(schedule.alpha_bars[t]))


def _what(schedule: diffusion.NoiseSchedule, t: int) -> str:
    """What the state at step t is, at the two ends of the reverse process ("" in between)."""
    return "pure noise" if t >= schedule.T - 1 else "the sample" if t < 0 else ""


def _step_text(schedule: diffusion.NoiseSchedule, t: int) -> str:
    """'t = 120: noise level sqrt(1 - abar_t) = 0.83', and what the state is at the ends."""
    what = _what(schedule, t)
    return f"t = {t}: {what + ', ' if what else ''}noise level sqrt(1 - abar_t) = {_noise_level(schedule, t):.2f}"


def _panel_title(schedule: diffusion.NoiseSchedule, t: int) -> str:
    """Two short lines for a panel of the still picture: t (with what it is at the ends) and the noise level."""
    what = _what(schedule, t)
    return f"t = {t}{': ' + what if what else ''}\nnoise level {_noise_level(schedule, t):.2f}"


def _outside(x: torch.Tensor, extent: float) -> int:
    """How many points (N, 2) lie outside the square view [-extent, extent]^2 (or are not finite)."""
    inside = torch.isfinite(x).all(1) & (x.abs() <= extent).all(1)
    return int((~inside).sum())


def _states(model: Any, trajectory: Any) -> tuple[list[int], list[torch.Tensor]]:
    """The trajectory's steps and its states in data units, checked against the model."""
    if not isinstance(trajectory, diffusion.Trajectory):
        raise TypeError(
            "trajectory must be a diffusion.Trajectory filled by model.sample(..., trajectory=...) "
            f"(got {type(trajectory).__name__})"
        )
    if not trajectory.x or len(trajectory.x) != len(trajectory.steps):
        raise ValueError(
            "the trajectory is empty (or its steps and states differ in number): pass a fresh diffusion.Trajectory() "
            "to model.sample(..., trajectory=...) first"
        )
    shape = tuple(model.ema.shape)
    got = tuple(trajectory.x[0].shape[1:])
    if got != shape:
        raise ValueError(f"the trajectory holds states of shape (N, {', '.join(map(str, got))}) but this model draws (N, {', '.join(map(str, shape))})")
    return [int(t) for t in trajectory.steps], [model.to_data(x).float().cpu() for x in trajectory.x]


def _sample(model: Any, n: int, seed: int, **how: Any) -> tuple[diffusion.Trajectory, torch.Tensor]:
    """model.sample(n, ...) from a generator seeded ``seed``, keeping the trajectory; the samples (data units)."""
    traj = diffusion.Trajectory()
    x = model.sample(n, generator=torch.Generator().manual_seed(seed), trajectory=traj, **how)
    return traj, x.float().cpu()


def _view(model: Any) -> float:
    """Half-width of the square 2D view: every mode, and most of the starting noise (2.5 std)."""
    return max(_draw.mixture_extent(model.mixture), _NOISE_VIEW * float(model.scale))


def display_images(x: torch.Tensor) -> np.ndarray:
    """(N, 1, 8, 8) -> (N, 8, 8) clamped to [0, 1] for display (noisy states leave the range)."""
    return x.clamp(0.0, 1.0).numpy()[:, 0]


def _labels_for_display(model: Any, labels: Any, n: int) -> list[str] | None:
    """The class written above each digit, when the model was asked for classes."""
    if labels is None or not getattr(model, "conditional", False):
        return None
    y = model.check_labels(labels, n)  # (n,)
    return [str(v) for v in y.tolist()]


# ------------------------------------------------------------------------------ reverse process


def reverse_scrubber(
    model: Any,
    n: int | None = None,
    labels: Any = None,
    guidance: float | None = None,
    seed: int = 0,
    sampler: str | None = None,
    steps: int | None = None,
    *,
    nrow: int = 8,
) -> ipywidgets.VBox:
    """Scrub through the reverse process, from pure noise (t = T-1) to the sample (t = -1).

    Runs ``model.sample(n, generator=torch.Generator().manual_seed(seed), labels=labels,
    guidance=guidance, sampler=sampler, steps=steps, trajectory=...)`` once (None: the model's
    defaults; ``n`` defaults to 500 points or 16 digits) and shows the recorded states in data
    units. 2D models: the points over the mixture's mode centres ("+"), in one fixed view.
    Digits: a grid of the n images, ``nrow`` per row, clamped to [0, 1] for display (the noisy
    states leave that range), with the asked classes above them. The caption gives t and the
    noise level sqrt(1 - abar_t) (1.00 at the start, 0 at t = -1).

    Controls: ``.slider`` (SelectionSlider whose values are the recorded steps T-1, ..., -1, left to
    right; the ancestral sampler records every step, DDIM only those it visits) and ``.play``
    (linked to the slider's index). The box also has ``.caption``, ``.image``, ``.steps`` (list
    of int), ``.states`` (list of tensors in data units, one per step; the last is the returned
    sample), ``.samples`` (the sample, what ``model.sample`` returns), ``.trajectory`` (the
    diffusion.Trajectory, model units: for ``plot_reverse_process``) and ``.render(i) -> bytes``
    (PNG of state i, 0-based; each drawn once, then cached).
    """
    import ipywidgets as w

    model = trained_ddpm(model, "reverse_scrubber")
    points = is_points(model)
    n = sample_count((500 if points else 16) if n is None else n, model)
    nrow = _draw.positive_int(nrow, "nrow", "of digits per row")
    traj, samples = _sample(model, n, whole_number(seed, "seed"), labels=labels, guidance=guidance, sampler=sampler, steps=steps)
    ts, states = _states(model, traj)
    states[-1] = samples  # the sample exactly as model.sample returns it (clamped for digits)
    schedule = model.schedule

    # one figure, drawn once; each state only moves the points or swaps the images
    if points:
        fig = Figure(figsize=(4.6, 4.6), layout="compressed")
        ax = fig.subplots()
        extent = _view(model)
        plot_points(ax, states[0], model.mixture, density=False, extent=extent, size=5.0)
        dots = ax.collections[-1]  # the samples' scatter (the mode centres were drawn first)
        away = ax.text(0.98, 0.02, "", transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="0.3")

        def show(i: int) -> None:
            dots.set_offsets(states[i].numpy())
            out = _outside(states[i], extent)
            away.set_text(f"{out} of {n} points outside the view" if out else "")
    else:
        texts = _labels_for_display(model, labels, n)
        width, height = _draw.grid_inches(n, nrow, texts is not None, True)
        fig = Figure(figsize=(max(width, 3.0), height), layout="compressed")  # room for the title
        ax = fig.subplots()
        _draw.draw_digits(ax, display_images(states[0]), nrow, texts)

        def show(i: int) -> None:
            for image, img in zip(ax.images, display_images(states[i])):
                image.set_data(img)

    cache: dict[int, bytes] = {}

    def render(i: int) -> bytes:
        """PNG of state i (0-based: 0 is the starting noise, the last the sample), cached."""
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < len(states):
            raise IndexError(f"state index must be in 0..{len(states) - 1} (got {i!r})")
        if i not in cache:
            show(int(i))
            ax.set_title(_panel_title(schedule, ts[i]).replace("\n", ", "), fontsize=9)
            cache[int(i)] = _draw.render(fig)
            fig.set_layout_engine("none")  # laid out once: the frames differ only in their data and title
        return cache[int(i)]

    def caption(i: int) -> str:
        return f"{_step_text(schedule, ts[i])}  (state {i + 1} of {len(states)})"

    slider = w.SelectionSlider(options=[(str(t), t) for t in ts], value=ts[0], description="t", continuous_update=True)
    play = w.Play(value=0, min=0, max=len(ts) - 1, step=1, interval=120, description="play")
    w.jslink((play, "value"), (slider, "index"))
    label = w.Label(caption(0))
    image = w.Image(value=render(0), format="png")

    def on_change(change: dict[str, Any]) -> None:
        i = slider.index
        image.value = render(i)
        label.value = caption(i)

    slider.observe(on_change, names="value")
    box = w.VBox([w.HBox([play, slider]), label, image])
    box.slider, box.play, box.caption, box.image, box.render = slider, play, label, image, render
    box.steps, box.states, box.samples, box.trajectory = ts, states, samples, traj
    return box


def _pick(ts: list[int], at: Any, T: int) -> list[int]:
    """Indices into ts of the recorded steps nearest to each asked step (default: evenly spaced)."""
    if at is None:
        count = min(_PANELS, len(ts))
        return sorted({round(v) for v in np.linspace(0, len(ts) - 1, count)})
    if isinstance(at, (int, np.integer)) and not isinstance(at, bool):
        at = (at,)
    if not isinstance(at, (list, tuple)) or not at:
        raise TypeError(f"at must be a list of steps from {T - 1} (noise) down to -1 (the sample), e.g. ({T - 1}, {T // 2}, 0, -1) (got {at!r})")
    chosen = []
    for t in at:
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not -1 <= t < T:
            raise ValueError(f"at must hold whole steps from {T - 1} (noise) down to -1 (the sample) (got {t!r})")
        chosen.append(int(np.argmin([abs(s - int(t)) for s in ts])))  # nearest recorded step (DDIM skips some)
    return chosen


def plot_reverse_process(
    model: Any,
    trajectory: diffusion.Trajectory | None = None,
    at: Sequence[int] | None = None,
    *,
    n: int | None = None,
    labels: Any = None,
    guidance: float | None = None,
    seed: int = 0,
    sampler: str | None = None,
    steps: int | None = None,
    fig: Figure | None = None,
) -> None:
    """The reverse process as a row of panels, from noise (left) to the sample (right).

    ``trajectory``: a diffusion.Trajectory filled by ``model.sample`` (e.g. a scrubber's
    ``.trajectory``); None runs ``model.sample`` as ``reverse_scrubber`` does, with ``n``
    (default 500 points or 16 digits), ``labels``, ``guidance``, ``seed``, ``sampler`` and
    ``steps``. ``at``: the steps to show, from T-1 to -1 (default: 6 evenly spaced recorded
    steps, the first and last included); each panel shows the recorded state nearest the asked
    step and is titled with its own t and noise level. 2D: the points over the mode centres in
    one fixed view; digits: a square grid per panel, clamped to [0, 1]. Draws on ``fig`` (a
    matplotlib Figure), or on a new pyplot figure for the notebook to show.
    """
    model = trained_ddpm(model, "plot_reverse_process")
    points = is_points(model)
    if trajectory is None:
        n = sample_count((500 if points else 16) if n is None else n, model)
        trajectory, _ = _sample(model, n, whole_number(seed, "seed"), labels=labels, guidance=guidance, sampler=sampler, steps=steps)
        texts = None if points else _labels_for_display(model, labels, n)
    else:
        texts = None
    ts, states = _states(model, trajectory)
    chosen = _pick(ts, at, model.schedule.T)
    if fig is None:
        import matplotlib.pyplot as plt  # a figure the notebook shows; the widgets never use pyplot

        fig = plt.figure(figsize=(2.3 * len(chosen), 2.7), layout="compressed")
    elif not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, e.g. plt.figure() (got {type(fig).__name__})")
    axes = fig.subplots(1, len(chosen), squeeze=False)[0]
    extent = _view(model) if points else 0.0
    for ax, i in zip(axes, chosen):
        title = _panel_title(model.schedule, ts[i])
        if points:
            plot_points(ax, states[i], model.mixture, density=False, extent=extent, size=3.0)
            out = _outside(states[i], extent)
            if out:
                ax.text(0.98, 0.02, f"{out} outside", transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="0.3")
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            imgs = display_images(states[i])
            _draw.draw_digits(ax, imgs, math.ceil(math.sqrt(len(imgs))), texts)
        ax.set_title(title, fontsize=9)
