"""Lesson 16's pictures and widget: the paths of a flow model, its velocity field, and the samples
drawn with a given number of network calls (the scrubber and its still picture).

Nothing is trained: trajectories are built by hand or sampled from an untrained
``flow.FlowModel`` with a few steps. The tests check what is drawn (titles, straightness, the
dots and arrows), that the scrubber's picture follows its slider, and the messages.
"""

from __future__ import annotations

import ipywidgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

from genai_course import data, flow, widgets  # noqa: E402
from shared import differ, renders, seeded  # noqa: E402

PNG = b"\x89PNG"


def straight(n: int = 6, steps: int = 4) -> flow.FlowTrajectory:
    """Straight paths at constant speed from noise to the ring's modes: straightness 0."""
    x0 = torch.randn(n, 2, generator=seeded(1))
    x1 = data.ring8().means[torch.arange(n) % 8]
    ts = [i / steps for i in range(steps + 1)]
    return flow.FlowTrajectory(ts, [flow.interpolate(x0, x1, t) for t in ts])


def sampled(steps: int = 3, n: int = 40) -> flow.FlowTrajectory:
    torch.manual_seed(0)
    model = flow.FlowModel(flow.FlowConfig(width=32, depth=2))
    traj = flow.FlowTrajectory()
    model.sample(n, steps=steps, generator=seeded(2), trajectory=traj)
    return traj


def digits(n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=seeded(seed))


def points(n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 2, generator=seeded(seed))


# ---------------------------------------------------------------- plot_paths


def test_plot_paths_titles_carry_steps_and_straightness():
    line, curved = straight(), sampled(steps=3)
    fig = widgets.plot_paths({"straight": line, "untrained": curved}, fig=Figure())
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "straight: 4 steps, straightness 0"
    S = flow.straightness(curved)
    assert S > 0 and titles[1] == f"untrained: 3 steps, straightness {S:.3g}"
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim() == fig.axes[1].get_ylim()  # one square view


def test_plot_paths_draws_n_paths_from_the_noise_to_the_samples_in_data_units():
    traj = straight(n=6)
    fig = widgets.plot_paths({"a": traj}, mixture=data.ring8(), scale=2.0, n=4, seed=3, fig=Figure())
    ax = fig.axes[0]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = lines.get_segments()
    assert len(segments) == 4 and all(len(s) == 5 for s in segments)  # 4 paths through 5 states
    pick = torch.randperm(6, generator=seeded(3))[:4]
    assert np.allclose(np.stack(segments)[:, 0], traj.x[0][pick].numpy() * 2.0, atol=1e-6)  # starts: the noise
    assert np.allclose(np.stack(segments)[:, -1], traj.x[-1][pick].numpy() * 2.0, atol=1e-6)  # ends: the samples
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(dots) == 3 and len(dots[0].get_offsets()) == 8  # the mode centres "+", the starts, the ends
    ends = dots[2].get_facecolors()
    k = torch.arange(6)[pick] % 8  # each end sits on ring mode i % 8: coloured by it
    assert np.allclose(ends, matplotlib.colormaps["tab10"](k.numpy()))
    assert ax.get_xlim()[1] >= 1.5 * 1.0  # the view holds the mixture
    # n larger than the paths there are: all of them
    fig = widgets.plot_paths({"a": traj}, n=100, fig=Figure())
    assert len(fig.axes[0].collections[0].get_segments()) == 6


def test_plot_paths_makes_a_pyplot_figure_when_given_none():
    fig = widgets.plot_paths({"a": straight()})
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    plt.close("all")


def test_plot_paths_errors():
    with pytest.raises(TypeError, match=r"trajectories must be a non-empty dict \{name: flow.FlowTrajectory\}.*got list"):
        widgets.plot_paths([straight()])
    with pytest.raises(TypeError, match=r"got dict with nothing in it"):
        widgets.plot_paths({})
    with pytest.raises(TypeError, match=r"trajectories\['a'\] must be a flow.FlowTrajectory .*\(got Tensor\)"):
        widgets.plot_paths({"a": torch.zeros(3, 2)})
    digitsy = flow.FlowTrajectory([0.0, 1.0], [torch.zeros(4, 3), torch.ones(4, 3)])
    with pytest.raises(ValueError, match=r"trajectories\['d'\] must hold states of shape \(N, 2\).*got \(4, 3\)"):
        widgets.plot_paths({"d": digitsy})
    with pytest.raises(ValueError, match=r"trajectories\['e'\] needs at least two states"):
        widgets.plot_paths({"e": flow.FlowTrajectory()})
    with pytest.raises(ValueError, match=r"n must be a positive whole number of paths to draw \(got 0\)"):
        widgets.plot_paths({"a": straight()}, n=0)
    with pytest.raises(ValueError, match=r"scale must be a positive number"):
        widgets.plot_paths({"a": straight()}, scale=-1.0)
    with pytest.raises(TypeError, match=r"mixture must be a data.Mixture"):
        widgets.plot_paths({"a": straight()}, mixture="grid25")


# ---------------------------------------------------------------- plot_velocity_field


def test_velocity_field_draws_the_gaussian_field_on_the_grid():
    mean, std = torch.tensor([1.0, -0.5]), 0.5
    seen = []

    def velocity(x, t):
        seen.append((torch.is_grad_enabled(), x.shape, t))
        return flow.gaussian_velocity(x, t, mean, std)

    ax = widgets.plot_velocity_field(velocity, 0.5, extent=2.0, grid=5, ax=Figure().add_subplot())
    assert seen == [(False, torch.Size([25, 2]), 0.5)]  # once, on the grid, without gradients
    (arrows,) = [c for c in ax.collections if isinstance(c, Quiver)]
    x = data.make_grid(2.0, 5)
    assert np.allclose(arrows.U, flow.gaussian_velocity(x, 0.5, mean, std)[:, 0].numpy(), atol=1e-6)
    assert np.allclose(arrows.V, flow.gaussian_velocity(x, 0.5, mean, std)[:, 1].numpy(), atol=1e-6)
    assert ax.get_title() == "velocity at t = 0.50"
    model = flow.FlowModel(flow.FlowConfig(width=16, depth=1))
    ax = widgets.plot_velocity_field(lambda x, t: model.velocity(x, t), 1, extent=3, title="untrained", color="C3")
    assert ax.get_title() == "untrained" and model.calls == 1
    plt.close("all")


def test_velocity_field_errors():
    ok = lambda x, t: x  # noqa: E731
    with pytest.raises(ValueError, match=r"t must be a time in \[0, 1\]: 0 is the noise, 1 the data \(got 1.5\)"):
        widgets.plot_velocity_field(ok, 1.5, extent=1.0)
    with pytest.raises(ValueError, match=r"t must be a time in \[0, 1\].*\(got -0.1\)"):
        widgets.plot_velocity_field(ok, -0.1, extent=1.0)
    with pytest.raises(ValueError, match=r"velocity returned shape \(B, 3\) for x of shape \(B, 2\) \(B = 289 points\)"):
        widgets.plot_velocity_field(lambda x, t: torch.zeros(len(x), 3), 0.5, extent=1.0)
    with pytest.raises(ValueError, match=r"velocity returned shape a ndarray for x of shape \(B, 2\)"):
        widgets.plot_velocity_field(lambda x, t: x.numpy(), 0.5, extent=1.0)
    with pytest.raises(ValueError, match=r"extent must be a positive number, the half-width of the square view \(got 0\)"):
        widgets.plot_velocity_field(ok, 0.5, extent=0)
    with pytest.raises(TypeError, match=r"velocity must be a function \(x, t\) -> v"):
        widgets.plot_velocity_field(torch.zeros(2), 0.5, extent=1.0)
    with pytest.raises(ValueError, match=r"grid must be a whole number of at least 2, of arrows along each side \(got 1\)"):
        widgets.plot_velocity_field(ok, 0.5, extent=1.0, grid=1)


# ---------------------------------------------------------------- calls_scrubber and plot_calls


def point_samples() -> dict[str, dict[int, torch.Tensor]]:
    return {"ddpm": {4: points(50, 1), 16: points(50, 2)}, "flow": {1: points(50, 3), 4: points(50, 4)}}


def test_scrubber_moves_over_the_union_of_call_counts(monkeypatch):
    counted = renders(monkeypatch)
    box = widgets.calls_scrubber(point_samples(), mixture=data.grid25())
    assert isinstance(box, ipywidgets.VBox) and bytes(box.image.value).startswith(PNG)
    assert [value for _, value in box.slider.options] == box.counts == [1, 4, 16] and box.slider.value == 1
    assert box.slider.description == "network calls" and box.play.max == 2
    assert box.caption.value == "1 network call per sample (no sampler: ddpm)"
    first = bytes(box.image.value)
    box.slider.value = 4
    assert differ(first, box.image.value) and box.caption.value == "4 network calls per sample"
    assert bytes(box.image.value) == box.render(4) and len(counted) == 2
    box.slider.value = 16
    assert box.caption.value == "16 network calls per sample (no sampler: flow)"
    box.slider.value = 1  # drawn already: from the cache
    assert bytes(box.image.value) == first == box.render(1) and len(counted) == 3
    with pytest.raises(ValueError, match=r"calls must be one of the network-call counts 1, 4, 16 \(got 8\)"):
        box.render(8)


def test_scrubber_draws_digits_with_their_labels():
    samples = {"latent flow": {2: digits(6, 1), 8: digits(6, 2)}, "ddpm": {8: digits(6, 3)}}
    box = widgets.calls_scrubber(samples, labels=torch.arange(6), nrow=3)
    first = bytes(box.image.value)
    box.slider.value = 8
    assert differ(first, box.image.value) and bytes(box.image.value) == box.render(8)
    unlabelled = widgets.calls_scrubber(samples, nrow=3)
    assert differ(unlabelled.render(8), box.render(8))


def test_plot_calls_rows_are_models_columns_the_counts():
    fig = widgets.plot_calls(point_samples(), [1, 4], mixture=data.grid25(), fig=Figure())
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["ddpm, 1 call", "ddpm, 4 calls", "flow, 1 call", "flow, 4 calls"]
    assert [t.get_text() for t in axes[0].texts] == ["no sampler"] and not axes[0].collections
    assert len(axes[1].collections[-1].get_offsets()) == 50  # the samples over the mode centres
    assert axes[1].get_xlim() == axes[3].get_xlim() == (-6.0, 6.0)  # one view: grid25's
    fig = widgets.plot_calls({"flow": {2: digits(4, 1)}}, 2, labels=[3, 1, 4, 1])
    (ax,) = fig.axes
    assert len(ax.images) == 4 and [t.get_text() for t in ax.texts] == ["3", "1", "4", "1"]
    plt.close("all")


def test_calls_errors():
    with pytest.raises(TypeError, match=r"samples must be a non-empty dict \{model name: \{network calls: samples\}\}"):
        widgets.calls_scrubber({})
    with pytest.raises(ValueError, match=r"samples mix points and digits \(samples\['a'\]\[1\] holds points, samples\['b'\]\[2\] digits\)"):
        widgets.calls_scrubber({"a": {1: points(4, 0)}, "b": {2: digits(4, 0)}})
    with pytest.raises(ValueError, match=r"each network-call count of samples\['a'\] must be a positive whole number .*\(got 0\)"):
        widgets.calls_scrubber({"a": {0: points(4, 0)}})
    with pytest.raises(ValueError, match=r"each network-call count of samples\['a'\] must be a positive whole number .*\(got 2.0\)"):
        widgets.plot_calls({"a": {2.0: points(4, 0)}}, [2])
    with pytest.raises(ValueError, match=r"samples\['a'\]\[4\] must be points \(N, 2\) or digits \(N, 1, 8, 8\).*\(got shape \(4, 64\)\)"):
        widgets.calls_scrubber({"a": {4: torch.zeros(4, 64)}})
    with pytest.raises(TypeError, match=r"samples\['a'\] must be a non-empty dict \{network calls: samples\}"):
        widgets.calls_scrubber({"a": points(4, 0)})
    with pytest.raises(ValueError, match=r"labels must hold one class per digit, shape \(4,\)"):
        widgets.calls_scrubber({"a": {1: digits(4, 0)}}, labels=[1, 2])
    with pytest.raises(ValueError, match=r"labels are written above digits, and these samples are points"):
        widgets.calls_scrubber({"a": {1: points(4, 0)}}, labels=[1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"a mixture goes with points, and these samples are digits"):
        widgets.plot_calls({"a": {1: digits(4, 0)}}, [1], mixture=data.ring8())
    with pytest.raises(ValueError, match=r"each of calls must be a positive whole number of network calls per sample \(got -1\)"):
        widgets.plot_calls({"a": {1: points(4, 0)}}, [1, -1])
    with pytest.raises(TypeError, match=r"calls must be a list of network-call counts, e.g. \[1, 4, 16\]"):
        widgets.plot_calls({"a": {1: points(4, 0)}}, [])
