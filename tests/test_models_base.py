"""genai_course.models.base: what every trained model shares (the opening of fit, the checkpoint
it writes and reads, the fingerprint of its run)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch

from genai_course import checkpoints, models
from genai_course.gan import save_checkpoint


def same(a: Any, b: Any) -> bool:
    """Two checkpoint contents hold the same keys and values (tensors compared exactly)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_a_gan_checkpoint_holds_what_save_checkpoint_writes(tmp_path, tiny_recipe):
    """One checkpoint layout: the model's save and the GAN loop's save_checkpoint write the same contents."""
    model = models.TrainedGAN(tiny_recipe, name="tiny", seed=2)
    model.fit(steps=3, progress=False)
    model.save(str(tmp_path / "model.pt"))
    mine = checkpoints.load(tmp_path / "model.pt")
    save_checkpoint(str(tmp_path / "loop.pt"), model="tiny", config=model.recipe.to_dict(), G=model.G, D=model.D,
                    optimizers=model.optimizers, step=model.step, generator=model.generator, extra=mine["extra"])
    assert same(mine, checkpoints.load(tmp_path / "loop.pt"))
    assert set(mine["extra"]) == {"kind", "seed", "seconds"} and mine["extra"]["kind"] == "gan2d" and mine["extra"]["seed"] == 2


@pytest.mark.parametrize("name, weights, optimizers", [
    ("cgan-digits", {"G", "D", "G_ema"}, {"G", "D"}), ("vae-digits", {"vae"}, {"vae"}), ("charlm-names", {"model"}, None),
    ("ddpm-ring8", {"ddpm", "ema"}, {"ddpm"}),
])
def test_each_family_saves_the_course_checkpoint(tmp_path, name, weights, optimizers):
    model = models.build(name, seed=1)
    model.save(str(tmp_path / "m.pt"))
    ckpt = checkpoints.load(tmp_path / "m.pt")
    resumable = optimizers is not None
    assert set(ckpt) == {"format", "version", "model", "config", "step", "weights", "extra", "provenance"} | (
        {"optimizers", "rng"} if resumable else set())
    assert set(ckpt["weights"]) == weights and ckpt["model"] == name and ckpt["step"] == 0 and ckpt["config"] == model.recipe.to_dict()
    assert ckpt["extra"] == {"kind": model.kind, "seed": 1, "seconds": 0.0}
    if resumable:
        assert set(ckpt["optimizers"]) == optimizers and set(ckpt["rng"]) == {"torch", "generator"}


def test_payload_lays_out_a_checkpoint():
    w = {"G": {"w": torch.zeros(1)}}
    assert list(checkpoints.payload("m", {"a": 1}, 3, w)) == ["model", "config", "step", "weights", "extra"]
    full = checkpoints.payload("m", {"a": 1}, 3, w, optimizers={"G": {}}, rng={"torch": torch.zeros(1)}, extra={"kind": "gan2d"})
    assert list(full) == ["model", "config", "step", "weights", "optimizers", "rng", "extra"] and full["extra"] == {"kind": "gan2d"}


# Pretrained folders are matched by these: a change makes every folder that `genai-course
# pretrain` wrote before stale (the lessons then train instead of loading). Change them on purpose.
FINGERPRINTS = {
    "gan-grid25": "0f733d5242cbe0508f904a0b7ee3efbde5cbedc6799b2d1008a2498389f70e66",  # issue 24: TrainConfig gained ema
    "vae-digits": "42996369e3e72eebff1fca85998b03fd611277f4e5b561abb921b8c2d9ece459",
    "charlm-names": "af6eb44a9af33bcec843608eccff4d89c18c5e0adfde9c4d44cbb8a750a8b5ac",
    "ddpm-digits": "0186dd4d7e285cf5cb7f8672d0fee12e37ea3c04956a23eb91404ff43976beb5",
}


@pytest.mark.parametrize("name", list(FINGERPRINTS))
def test_run_fingerprints_stay_those_of_the_pretrained_runs(name):
    model = models.build(name)
    assert model.run_fingerprint() == FINGERPRINTS[name]
    assert model.run_fingerprint(7) != FINGERPRINTS[name] and model.recipe.train.steps != 7  # steps: of the run, not the recipe


def test_fit_sets_the_steps_and_plan_and_reads_callbacks_once(tiny_recipe):
    from genai_course.loop import Plan

    model = models.TrainedGAN(tiny_recipe)
    plan = Plan()
    snaps = model.snapshots(every=2, n=10, resolution=4)
    model.fit(steps=4, callbacks=(cb for cb in [snaps]), progress=False, plan=plan)  # any iterable of callbacks
    assert model.recipe.train.steps == 4 and model.plan is plan and model.step == 4
    assert [r["step"] for r in snaps.records] == [2, 4]


def test_a_model_that_trains_in_one_go_takes_no_stop_at():
    model = models.build("charlm-names")
    with pytest.raises(ValueError, match=re.escape("charlm-names trains in one go (its checkpoints hold the weights only): it takes no stop_at")):
        model.fit(steps=4, stop_at=2, progress=False)
    assert model.step == 0


@pytest.mark.parametrize("n", [0, -3, 2.5, True, "3"])
def test_check_n_message(n):
    with pytest.raises(ValueError, match=re.escape(f"n must be a positive whole number (got {n!r})")):
        models.TrainedModel.check_n(n)
