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


def test_charlm_report_judges_samples_beside_real_heldout_names():
    model = models.build("charlm-names")
    d = model.data
    report = model.evaluate(n=80)
    assert report.samples == 80 and 0.0 <= report.novelty <= 1.0
    assert report.bigram_nll == pytest.approx(2.50, abs=0.01)  # the yardstick: counts of pairs per language
    assert report.below_bigram < 0  # untrained: worse than counting
    assert report.heldout_nll == pytest.approx(math.log(len(model.data.vocab)), abs=0.5)  # untrained: about uniform
    # The judge is fitted on the training names only and never saw the held-out ones, on which it
    # scores 0.752 (fitted on the held-out names themselves it would score 0.955).
    judge = model.judge()
    assert judge.n == 4 and set(judge.grams) == {g for x in d.train.names for g in judge._grams(x)}
    assert not set(d.heldout.names) & set(d.train.names)
    assert report.judge_real == judge.accuracy(d.heldout.names, d.heldout.labels) == pytest.approx(0.752, abs=0.002)
    # An untrained model writes gibberish: far below real names, and every name new.
    assert report.judge_accuracy < 0.5 and report.novelty == 1.0 and report.judge_accuracy_new == report.judge_accuracy
    assert re.match(r"held-out NLL \d\.\d{3} nats/char", str(report)) and "\n" not in str(report)


def test_charlm_evaluate_draws_in_the_heldout_mix_of_languages_at_temperature_1():
    model = models.build("charlm-names")
    d = model.data
    assert torch.equal(model.heldout_languages(), d.heldout.labels)  # one per held-out name: 1,097
    share = lambda t: t.bincount(minlength=8).float() / len(t)  # noqa: E731
    assert torch.allclose(share(model.heldout_languages(200)), share(d.heldout.labels), atol=0.01)  # the same mix
    with pytest.raises(ValueError, match="n must be a positive whole number"):
        model.heldout_languages(0)
    names = model.sample(40, torch.Generator().manual_seed(5), model.heldout_languages(40), temperature=1.0)
    assert model.evaluate(n=40, seed=5) == model.report(names, model.heldout_languages(40))
    assert models.text.EVALUATE_TEMPERATURE == 1.0 and model.recipe.temperature == 0.8  # sample()'s default stays


def test_charlm_report_counts_the_new_names_apart():
    model = models.build("charlm-names")
    d = model.data
    copies = list(d.train.names[:3])  # training names in their own languages: judged by a judge that saw them
    report = model.report(copies + ["Ξξξξ"], torch.cat([d.train.labels[:3], torch.tensor([0])]))
    assert report.novelty == 0.25 and report.judge_accuracy_new == 0.0  # the one new name is not English
    only_copies = model.report(copies, d.train.labels[:3])
    assert only_copies.novelty == 0.0 and math.isnan(only_copies.judge_accuracy_new)
