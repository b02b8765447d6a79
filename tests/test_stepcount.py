"""stepcount: the ways a model spends exactly K network calls, and the sweep's rows."""

from __future__ import annotations

import math

import pytest
import torch

from genai_course import models, stepcount


@pytest.fixture(scope="module")
def pair():
    ddpm, fm = models.build("ddpm-grid25"), models.build("flow-grid25")
    return ddpm, fm


def test_each_sampler_spends_exactly_the_calls_it_is_listed_under(pair):
    ddpm, fm = pair
    assert stepcount.samplers(ddpm, 4) == [("ddim-4", {"sampler": "ddim", "steps": 4})]
    assert stepcount.samplers(ddpm, 200) == [("ancestral-200", {"sampler": "ancestral"})]
    assert stepcount.samplers(ddpm, 201) == []
    assert stepcount.samplers(fm, 1) == [("euler-1", {"method": "euler", "steps": 1})]
    assert stepcount.samplers(fm, 4) == [("euler-4", {"method": "euler", "steps": 4}), ("midpoint-2", {"method": "midpoint", "steps": 2})]
    for calls in (1, 2, 3, 8):
        for label, options in stepcount.samplers(fm, calls):
            fm.ema.calls = 0
            fm.sample(7, **options)
            assert fm.ema.calls == calls, label
    counted = []
    handle = ddpm.ema.net.register_forward_hook(lambda *a: counted.append(1))
    for calls in (1, 4, 16):
        counted.clear()
        ddpm.sample(7, **stepcount.samplers(ddpm, calls)[0][1])
        assert len(counted) == calls
    handle.remove()
    with pytest.raises(ValueError, match=r"calls must be a whole number >= 1 \(got 0\)"):
        stepcount.samplers(fm, 0)
    with pytest.raises(ValueError, match="VAE is neither a diffusion nor a flow model"):
        stepcount.samplers(models.build("vae-digits").vae, 4)


def test_the_sweep_scores_every_way_from_the_same_noise(pair):
    ddpm, fm = pair
    rows = stepcount.sweep({"ddpm": ddpm, "fm": fm}, (1, 2), n=200, extra={"ddpm": [("ddim-3", {"sampler": "ddim", "steps": 3})]})
    assert [(r.model, r.sampler, r.calls) for r in rows] == [
        ("ddpm", "ddim-1", 1), ("ddpm", "ddim-2", 2), ("ddpm", "ddim-3", 3), ("fm", "euler-1", 1), ("fm", "euler-2", 2), ("fm", "midpoint-1", 2)]
    for r in rows:
        assert set(r.scores) == {"modes", "hq", "reverse_kl"} and 0 <= r.scores["hq"] <= 1 and r.seconds_per_1000 > 0
    x, _ = stepcount.draw(fm, 200, {"method": "euler", "steps": 1})
    assert stepcount.score(fm, x) == rows[3].scores  # seed 0 by default: the row is this draw
    table = stepcount.format_rows(rows, timing=False).splitlines()
    assert table[0].split() == ["model", "sampler", "calls", "modes", "hq", "reverse_kl"] and len(table) == 7


def test_digits_are_scored_by_the_judge_with_the_labels_asked():
    lat = models.build("latent-flow-digits")
    labels = torch.arange(40) % 10
    rows = stepcount.sweep({"lat": lat}, (1,), n=40, labels=labels)
    assert set(rows[0].scores) == {"confident", "accuracy", "frechet"}
    assert 0 <= rows[0].scores["accuracy"] <= 1 and not math.isnan(rows[0].scores["accuracy"])
