"""Diffusion widgets of lesson 10: the reverse-process scrubber and its still picture.

The models are trained for 5 steps and sample with 5 DDIM steps: these tests check plumbing
(which seed and labels reach ``model.sample``; that the frames are the recorded states;
caching) and the messages, not the pictures' quality.
"""

from __future__ import annotations

import math

import ipywidgets
import pytest
import torch
from matplotlib.figure import Figure

from genai_course import diffusion, models, widgets
from shared import ddpm_digits, ddpm_points, differ, renders, seeded  # noqa: F401 (fixtures)

PNG = b"\x89PNG"


# ---------------------------------------------------------------- reverse_scrubber


def test_scrubber_spans_the_reverse_process_from_noise_to_the_sample(points, monkeypatch):
    counted = renders(monkeypatch)
    box = widgets.reverse_scrubber(points, n=64, seed=4)
    T = points.schedule.T
    assert isinstance(box, ipywidgets.VBox) and bytes(box.image.value).startswith(PNG)
    assert box.steps == box.trajectory.steps and box.steps[0] == T - 1 and box.steps[-1] == -1 and len(box.steps) == 6
    assert [value for _, value in box.slider.options] == box.steps and box.slider.value == T - 1
    assert box.caption.value.startswith(f"t = {T - 1}: pure noise, noise level sqrt(1 - abar_t) = 1.00")
    # the first frame is the starting noise, the last what model.sample draws with the same seed
    assert torch.equal(box.states[0], points.to_data(torch.randn((64, 2), generator=seeded(4))))
    assert torch.equal(box.states[-1], points.sample(64, seeded(4))) and torch.equal(box.samples, box.states[-1])
    assert all(s.shape == (64, 2) for s in box.states)
    start = bytes(box.image.value)
    box.slider.value = -1
    assert differ(start, box.image.value) and box.caption.value.startswith("t = -1: the sample, noise level sqrt(1 - abar_t) = 0.00")
    box.slider.value = 100
    level = math.sqrt(1 - float(points.schedule.alpha_bars[100]))
    assert box.caption.value.startswith(f"t = 100: noise level sqrt(1 - abar_t) = {level:.2f}") and "state 3 of 6" in box.caption.value
    assert len(counted) == 3
    box.slider.value = T - 1  # back to a state already drawn: from the cache
    assert bytes(box.image.value) == start and len(counted) == 3 and box.render(0) == start
    with pytest.raises(IndexError, match=r"state index must be in 0..5 \(got 6\)"):
        box.render(6)


def test_scrubber_records_every_step_of_the_ancestral_sampler(points):
    box = widgets.reverse_scrubber(points, n=8, sampler="ancestral")
    T = points.schedule.T
    assert box.steps == list(range(T - 1, -2, -1)) and len(box.states) == T + 1
    assert torch.equal(box.samples, points.sample(8, seeded(0), sampler="ancestral"))


def test_scrubber_draws_digits_and_their_classes(digits):
    box = widgets.reverse_scrubber(digits, n=6, labels=[0, 1, 2, 3, 4, 5], guidance=1.0, seed=2, nrow=3)
    assert box.states[0].shape == (6, 1, 8, 8)
    noise = digits.to_data(torch.randn((6, 1, 8, 8), generator=seeded(2)))
    assert torch.equal(box.states[0], noise) and (noise.min() < 0 or noise.max() > 1)  # drawn clamped to [0, 1]
    same = digits.sample(6, seeded(2), labels=[0, 1, 2, 3, 4, 5], guidance=1.0)
    assert torch.equal(box.samples, same) and 0 <= float(same.min()) and float(same.max()) <= 1
    start = bytes(box.image.value)
    box.slider.value = -1
    assert differ(start, box.image.value)


def test_plot_reverse_process_draws_the_chosen_steps(points, digits):
    fig = Figure()
    widgets.plot_reverse_process(points, n=32, fig=fig)
    T = points.schedule.T
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 6 and titles[0] == f"t = {T - 1}: pure noise\nnoise level 1.00" and titles[-1] == "t = -1: the sample\nnoise level 0.00"
    box = widgets.reverse_scrubber(digits, n=4)
    fig = Figure()
    widgets.plot_reverse_process(digits, box.trajectory, at=(T - 1, 120, -1), fig=fig)
    titles = [ax.get_title().split("\n")[0] for ax in fig.axes]
    assert titles == [f"t = {T - 1}: pure noise", "t = 100", "t = -1: the sample"]  # 120 was skipped: the nearest drawn state
    assert [len(ax.images) for ax in fig.axes] == [4, 4, 4]
    with pytest.raises(ValueError, match=rf"at must hold whole steps from {T - 1} \(noise\) down to -1 \(the sample\) \(got {T}\)"):
        widgets.plot_reverse_process(digits, box.trajectory, at=(T, 0), fig=Figure())
    with pytest.raises(TypeError, match="trajectory must be a diffusion.Trajectory"):
        widgets.plot_reverse_process(digits, [box.states[0]], fig=Figure())
    with pytest.raises(ValueError, match="the trajectory is empty"):
        widgets.plot_reverse_process(digits, diffusion.Trajectory(), fig=Figure())
    with pytest.raises(ValueError, match=r"holds states of shape \(N, 1, 8, 8\) but this model draws \(N, 2\)"):
        widgets.plot_reverse_process(points, box.trajectory, fig=Figure())


def test_scrubber_errors_in_the_learners_terms(points, digits):
    with pytest.raises(TypeError, match=r"needs a diffusion model, models.TrainedDDPM .* \(got TrainedGAN\)"):
        widgets.reverse_scrubber(models.build("gan-ring8"))
    with pytest.raises(TypeError, match="not its network diffusion.DDPM"):
        widgets.reverse_scrubber(points.ema)
    with pytest.raises(ValueError, match=r"n must be a whole number of points from 1 to 20000 \(got 0\)"):
        widgets.reverse_scrubber(points, n=0)
    with pytest.raises(ValueError, match=r"n must be a whole number of digits from 1 to 100 \(got 500\)"):
        widgets.reverse_scrubber(digits, n=500)
    with pytest.raises(ValueError, match="is not conditional: it takes no labels"):
        widgets.reverse_scrubber(points, n=4, labels=1)
    with pytest.raises(ValueError, match=r"labels must lie in 0..9 \(got 12..12\)"):
        widgets.reverse_scrubber(digits, n=4, labels=12)
    with pytest.raises(TypeError, match=r"^seed must be a whole number \(got 0.5\)$"):
        widgets.reverse_scrubber(digits, n=4, seed=0.5)
    with pytest.raises(TypeError, match=r"^seed must be a whole number \(got '0'\)$"):
        widgets.plot_reverse_process(points, seed="0", fig=Figure())
