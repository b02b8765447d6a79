"""genai_course.models.text: the names model's build/fit/sample/save/load round trip and its report."""

from __future__ import annotations

import math
import re

import pytest
import torch

from genai_course import models


def test_charlm_fit_sample_save_load_round_trip(tmp_path):
    model = models.build("charlm-names", seed=3)
    assert isinstance(model, models.TrainedCharLM) and model.num_classes == 8
    model.fit(steps=20, progress=False)
    assert model.step == 20 and len(model.history.heldout_nll) == 1
    path = tmp_path / "names.pt"
    model.save(str(path))
    again = models.load_model(str(path))
    assert isinstance(again, models.TrainedCharLM) and again.step == 20 and again.seed == 3
    assert again.recipe.to_dict() == model.recipe.to_dict()
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert again.sample(10, g(), "tr_TR") == model.sample(10, g(), "tr_TR")
    assert model.sample(10, g(), None) == model.sample(10, g(), [k % 8 for k in range(10)])


def test_charlm_steps_add_up_over_fits():
    model = models.build("charlm-names")
    model.fit(steps=3, progress=False)
    model.fit(steps=2, progress=False)  # from the current weights, in one go
    assert model.step == 5 and model.history.step == [1, 2]


def test_charlm_labels_speak_plainly():
    model = models.build("charlm-names")
    with pytest.raises(ValueError, match="unknown language 'fr_FR': choose one of en_US"):
        model.sample(3, labels="fr_FR")
    with pytest.raises(ValueError, match="got 2 languages for 3 names"):
        model.sample(3, labels=["de_DE", "el_GR"])
    with pytest.raises(ValueError, match="n must be a positive whole number"):
        model.sample(0)
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        model.sample(3, temperature=0.0)
    assert model.conditional and torch.equal(model.check_labels("el_GR", 2), model.labels(["el_GR", "el_GR"], 2))


def test_charlm_report_judges_samples_against_real_names():
    model = models.build("charlm-names")
    report = model.evaluate(per_language=10)
    assert report.samples == 80 and 0.0 <= report.novelty <= 1.0
    assert report.bigram_nll == pytest.approx(2.50, abs=0.01)  # the yardstick: counts of pairs per language
    assert report.below_bigram < 0  # untrained: worse than counting
    assert 0.4 < report.judge_ceiling < 0.7  # the same judge on real names it never saw
    assert report.heldout_nll == pytest.approx(math.log(len(model.data.vocab)), abs=0.5)  # untrained: about uniform
    assert re.match(r"held-out NLL \d\.\d{3} nats/char", str(report))
