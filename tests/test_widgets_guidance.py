"""Classifier-free guidance widgets of lesson 10: the guidance slider and its still picture.

The models are trained for 5 steps and sample with 5 DDIM steps: these tests check plumbing
(which seed, labels and scales reach ``model.sample``; caching) and the messages, not the
pictures' quality. The digit classifier is a stub (the real one trains for about 10 s).
"""

from __future__ import annotations


import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from genai_course import metrics, models, widgets
from shared import ddpm_digits, ddpm_points, differ, renders, seeded  # noqa: F401 (fixtures)

PNG = b"\x89PNG"


class Judge(torch.nn.Module):
    """A stand-in digit classifier that sees a ``said`` in every image."""

    def __init__(self, said: int = 3) -> None:
        super().__init__()
        self.said = said

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(torch.full((x.shape[0],), self.said), 10).float()  # (N, 10)


def sample_calls(monkeypatch, model) -> list[dict]:
    """Record the keyword arguments of every model.sample call."""
    seen: list[dict] = []
    real = model.sample
    monkeypatch.setattr(model, "sample", lambda n, *args, **kw: seen.append(kw) or real(n, *args, **kw))
    return seen


# ---------------------------------------------------------------- guidance


def test_guidance_slider_draws_the_same_noise_at_each_scale_and_caches(digits, monkeypatch):
    def expected(**how) -> torch.Tensor:  # what the widget must show (not counted as the widget's call)
        return models.TrainedDDPM.sample(digits, 8, seeded(1), sampler="ddim", steps=5, **how)

    calls = sample_calls(monkeypatch, digits)
    counted = renders(monkeypatch)
    box = widgets.guidance_slider(digits, label=3, n=8, seed=1, scales=(4, 0, 1), classifier=Judge(3))
    assert [value for _, value in box.slider.options] == [0.0, 1.0, 4.0] and box.slider.value == 0.0
    assert box.label.value == 3 and list(box.label.options) == list(range(10))
    assert calls == [dict(generator=calls[0]["generator"], labels=3, guidance=0.0, sampler="ddim", steps=5)]
    assert torch.equal(box.samples, expected(labels=3, guidance=0.0))
    assert box.accuracy == 1.0 and box.caption.value == "class 3, w = 0: 8 of 8 (100%) judged a 3 by the digit classifier"
    plain, start = box.samples, bytes(box.image.value)
    box.slider.value = 4.0
    assert not torch.equal(box.samples, plain) and differ(start, box.image.value)
    assert torch.equal(box.samples, expected(labels=3, guidance=4.0))
    box.label.value = 5
    assert box.accuracy == 0.0 and box.caption.value == "class 5, w = 4: 0 of 8 (0%) judged a 5 by the digit classifier"
    assert [(c["labels"], c["guidance"]) for c in calls] == [(3, 0.0), (3, 4.0), (5, 4.0)]
    drawn, rendered = len(calls), len(counted)
    box.label.value = 3
    box.slider.value = 0.0  # both settings seen before: nothing sampled or drawn again
    assert bytes(box.image.value) == start and torch.equal(box.samples, plain)
    assert len(calls) == drawn and len(counted) == rendered == 3
    x, accuracy = box.draw(7, 1.0)
    assert x.shape == (8, 1, 8, 8) and accuracy == 0.0 and box.draw(7, 1.0)[0] is x


def test_guidance_slider_uses_the_course_classifier_by_default(digits, monkeypatch):
    monkeypatch.setattr(metrics, "digit_classifier", lambda: Judge(2))
    box = widgets.guidance_slider(digits, label=2, n=4, scales=(0, 2))
    assert box.accuracy == 1.0 and "4 of 4 (100%) judged a 2" in box.caption.value


def test_plot_guidance_shows_a_row_per_scale(digits):
    fig = Figure()
    widgets.plot_guidance(digits, label=7, scales=(0, 2), n=5, seed=3, classifier=Judge(7), fig=fig)
    assert [ax.get_title() for ax in fig.axes] == ["w = 0: 5 of 5 (100%) judged a 7", "w = 2: 5 of 5 (100%) judged a 7"]
    assert [len(ax.images) for ax in fig.axes] == [5, 5]
    row = digits.sample(5, seeded(3), labels=7, guidance=2.0, sampler="ddim", steps=5)
    assert np.array_equal(fig.axes[1].images[0].get_array(), row[0, 0].clamp(0, 1).numpy())


def test_guidance_errors_in_the_learners_terms(points, digits):
    judge = Judge()
    with pytest.raises(ValueError, match=r"needs a class-conditional digits model, such as models.build\('ddpm-digits'\); ddpm-grid25 is unconditional"):
        widgets.guidance_slider(points, classifier=judge)
    with pytest.raises(ValueError, match=r"plot_guidance needs a class-conditional digits model"):
        widgets.plot_guidance(points, fig=Figure(), classifier=judge)
    with pytest.raises(TypeError, match=r"needs a diffusion model, models.TrainedDDPM .* \(got str\)"):
        widgets.guidance_slider("ddpm-digits", classifier=judge)
    with pytest.raises(ValueError, match=r"label must be a digit class in 0..9 \(got 10\)"):
        widgets.guidance_slider(digits, label=10, classifier=judge)
    with pytest.raises(ValueError, match=r"n must be a whole number of digits from 1 to 100 \(got 0\)"):
        widgets.guidance_slider(digits, n=0, classifier=judge)
    with pytest.raises(ValueError, match=r"every guidance scale must be a number w >= 0 .* \(got -1\)"):
        widgets.guidance_slider(digits, scales=(0, -1), classifier=judge)
    with pytest.raises(TypeError, match="scales must be a list of guidance scales"):
        widgets.plot_guidance(digits, scales=(), classifier=judge, fig=Figure())
    with pytest.raises(TypeError, match="classifier must map digits"):
        widgets.guidance_slider(digits, classifier="judge")
    with pytest.raises(TypeError, match=r"^seed must be a whole number \(got 1.5\)$"):
        widgets.guidance_slider(digits, seed=1.5, classifier=judge)
    with pytest.raises(TypeError, match=r"^seed must be a whole number \(got None\)$"):
        widgets.plot_guidance(digits, seed=None, classifier=judge, fig=Figure())
