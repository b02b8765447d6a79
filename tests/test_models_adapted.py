"""models.adapted: a registry model taught a new class or language, its whole or adapter checkpoint,
and the rebuild of an adapter on its base (tiny runs: a 200-step base, 50-step adaptations)."""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from genai_course import adapt, checkpoints, models
from genai_course.models import adapted

STEPS = 50


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A digits-0to8 cVAE trained 200 steps, saved: (model, path)."""
    model = models.build("digits-0to8")
    model.fit(steps=200, progress=False)
    path = tmp_path_factory.mktemp("adapted") / "base.pt"
    model.save(str(path))
    return model, path


@pytest.fixture(scope="module")
def runs(base):
    """Each method's adaptation of the base to class 9 from 20 examples."""
    model, _ = base
    return {m: adapted.adapt_model(model, 9, 20, adapted.adapt_config(model, m, steps=STEPS)) for m in adapt.METHODS}


def _samples(model, labels, seed=0):
    return model.sample(len(labels), torch.Generator().manual_seed(seed), labels=labels)


def test_the_adapted_model_is_a_registry_model_of_one_more_class(base, runs):
    model, _ = base
    for method, run in runs.items():
        m = run.model
        assert isinstance(m, models.TrainedVAE) and m.num_classes == 10, method
        assert m.name == "digits-0to8+9" and m.step == model.step + STEPS
        assert m.vae.config.num_classes == 10 and run.examples == 20 and run.method == method
        x = m.sample(6, labels=9)
        assert x.shape == (6, 1, 8, 8) and 0 <= float(x.min()) and float(x.max()) <= 1
    assert model.num_classes == 9  # the base is untouched


def test_the_merged_model_computes_what_the_trained_network_did(runs):
    for method, run in runs.items():
        z, y = torch.randn(40, 4, generator=torch.Generator().manual_seed(1)), torch.arange(40) % 10
        x = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            got, want = run.model.vae.decode(z, y), run.grown.decode(z, y)
            (mu, logvar), (mu0, logvar0) = run.model.vae.encoder(x, y), run.grown.encoder(x, y)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, msg=method)
        torch.testing.assert_close(torch.cat([mu, logvar]), torch.cat([mu0, logvar0]), rtol=1e-5, atol=1e-5, msg=method)


def test_the_lesson_settings_by_family(base):
    model, _ = base
    digits = adapted.adapt_config(model, "lora", rank=2, seed=3)
    assert (digits.steps, digits.lr, digits.replay, digits.rank, digits.seed) == (600, 3e-3, 900, 2, 3)
    names = adapted.adapt_config(models.build("charlm-names"), "replay", steps=7)
    assert (names.steps, names.lr, names.replay, names.rank) == (7, 1e-3, 400, 4)


@pytest.mark.parametrize("method", ["finetune", "replay"])
def test_finetune_and_replay_write_a_whole_course_checkpoint(base, runs, method, tmp_path):
    _, base_path = base
    path = adapted.save_adapted(runs[method], tmp_path / f"{method}.pt", base_path)
    ckpt = checkpoints.load_run(path)
    assert ckpt["extra"]["kind"] == "vae" and not adapted.is_adapter(ckpt)
    made = ckpt["extra"]["adapted"]
    assert made["method"] == method and made["new_class"] == 9 and made["examples"] == 20 and made["steps"] == STEPS
    assert made["base"]["sha256"] == checkpoints.sha256(base_path) and made["base"]["path"] == str(base_path)
    loaded = models.load_model(str(path))
    assert isinstance(loaded, models.TrainedVAE) and loaded.num_classes == 10 and loaded.recipe.vae.num_classes == 10
    y = torch.arange(30) % 10
    assert torch.equal(_samples(loaded, y), _samples(runs[method].model, y))
    assert adapted.adapted_from(loaded)["sha256"] == checkpoints.sha256(base_path)


@pytest.mark.parametrize("method", ["lora", "embedding"])
def test_an_adapter_holds_only_the_trained_tensors_and_rebuilds_the_same_model(base, runs, method, tmp_path):
    model, base_path = base
    run = runs[method]
    path = adapted.save_adapted(run, tmp_path / f"{method}.pt", base_path)
    ckpt = checkpoints.load_run(path)
    state = adapt.adapter_state(run.grown)
    assert adapted.is_adapter(ckpt) and set(ckpt["weights"]) == {"adapter"}
    assert set(ckpt["weights"]["adapter"]) == set(state) == {n for n, p in run.grown.named_parameters() if p.requires_grad}
    assert sum(t.numel() for t in ckpt["weights"]["adapter"].values()) == run.trainable
    assert path.stat().st_size < adapt.state_bytes(state) + 16_384  # the tensors, plus the file's small overhead
    assert path.stat().st_size < base_path.stat().st_size / 10
    assert ckpt["config"]["method"] == method and ckpt["config"]["new_class"] == 9
    assert ckpt["config"]["rank"] == (4 if method == "lora" else None)
    assert ckpt["extra"]["base"] == {"model": "digits-0to8", "kind": "vae", "sha256": checkpoints.sha256(base_path),
                                     "path": str(base_path), "relative": os.path.relpath(base_path, tmp_path)}
    loaded = models.load_model(str(path))
    assert isinstance(loaded, models.TrainedVAE) and loaded.num_classes == 10 and loaded.name == "digits-0to8+9"
    for name, t in run.model.vae.state_dict().items():  # the rebuilt network is the merged one, bit for bit
        assert torch.equal(loaded.vae.state_dict()[name], t), name
    y = torch.arange(30) % 10
    assert torch.equal(_samples(loaded, y), _samples(run.model, y))
    assert adapted.adapted_from(loaded) == {"method": method, "model": "digits-0to8", "sha256": checkpoints.sha256(base_path),
                                            "checkpoint": str(base_path)}


def test_an_embedding_adapter_leaves_the_old_classes_bit_for_bit(base, runs, tmp_path):
    model, base_path = base
    loaded = models.load_model(str(adapted.save_adapted(runs["embedding"], tmp_path / "e.pt", base_path)))
    y = torch.arange(90) % 9
    for seed in (0, 1):
        assert torch.equal(_samples(loaded, y, seed), _samples(model, y, seed))
    assert not torch.equal(_samples(loaded, torch.full((20,), 9)), _samples(model, torch.full((20,), 8)))


def test_an_adapter_is_read_with_weights_only(base, runs, tmp_path, monkeypatch):
    _, base_path = base
    path = adapted.save_adapted(runs["lora"], tmp_path / "lora.pt", base_path)
    calls, load = [], torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    models.load_model(str(path))
    assert calls == [True, True]  # the adapter, then its base


def test_the_base_is_found_beside_the_adapter_or_as_given(base, runs, tmp_path):
    model, base_path = base
    made = tmp_path / "made"
    made.mkdir()
    model.save(str(made / "base.pt"))
    adapted.save_adapted(runs["embedding"], made / "e.pt", made / "base.pt")
    made.rename(tmp_path / "moved")  # the folder moved whole: the base is found beside the adapter
    moved = tmp_path / "moved"
    assert adapted.find_base(moved / "e.pt", checkpoints.load_run(moved / "e.pt")) == moved / "base.pt"
    path = adapted.save_adapted(runs["embedding"], tmp_path / "e.pt", base_path)
    alone = tmp_path / "alone"
    alone.mkdir()
    for f in (path, checkpoints.sidecar_path(path)):
        shutil.move(f, alone / f.name)
    ckpt = checkpoints.load_run(alone / "e.pt")  # the adapter moved alone: its base is found where it was given
    assert adapted.find_base(alone / "e.pt", ckpt) == base_path
    shutil.copy(base_path, alone / "copy.pt")
    assert adapted.find_base(alone / "e.pt", ckpt, alone / "copy.pt") == alone / "copy.pt"  # or where it is told
    assert isinstance(models.load_model(str(alone / "e.pt"), base=str(base_path)), models.TrainedVAE)


def test_a_different_or_missing_base_is_refused(base, runs, tmp_path):
    model, base_path = base
    copy = tmp_path / "b.pt"
    model.save(str(copy))
    path = adapted.save_adapted(runs["lora"], tmp_path / "lora.pt", copy)
    want = checkpoints.sha256(copy)
    other = models.build("digits-0to8", seed=1)
    other.save(str(copy))  # another run under the base's name
    got = checkpoints.sha256(copy)
    with pytest.raises(checkpoints.CheckpointError) as e:
        models.load_model(str(path))
    assert str(e.value) == (f"{path} was adapted from a base with sha256 {want[:12]}..., but {copy} has {got[:12]}...: "
                            "pass the checkpoint it was adapted from")
    copy.unlink()
    with pytest.raises(checkpoints.CheckpointError) as e:
        models.load_model(str(path))
    assert str(e.value) == (f"{path} is an adapter of digits-0to8 (sha256 {want[:12]}...), whose checkpoint is missing: "
                            f"looked for {tmp_path / 'b.pt'}; pass it with --base PATH")


def test_an_adapter_that_does_not_fit_its_base_is_refused(base, runs, tmp_path):
    _, base_path = base
    path = adapted.save_adapted(runs["embedding"], tmp_path / "e.pt", base_path)
    ckpt = checkpoints.load_run(path)
    ckpt["weights"]["adapter"]["decoder.net.0.column"] = torch.zeros(3)
    with pytest.raises(checkpoints.CheckpointError, match=r"is not a usable adapter of digits-0to8 \(ValueError: tensor "
                       r"decoder.net.0.column has shape \(3,\), expected \(256,\)\)"):
        adapted.apply_adapter(base[0], ckpt, path)


def test_a_whole_model_takes_no_base(base):
    _, base_path = base
    with pytest.raises(checkpoints.CheckpointError, match=r"holds a whole model \(digits-0to8\), not an adapter: it takes no base checkpoint"):
        models.load_model(str(base_path), base=str(base_path))


@pytest.mark.parametrize("new, message", [
    (8, "digits-0to8 knows the digits 0-8: the class it can learn next is 9 (got 8)"),
    ("9", "digits-0to8 knows the digits 0-8: the class it can learn next is 9 (got '9')"),
])
def test_only_the_next_class_can_be_taught(base, new, message):
    model, _ = base
    with pytest.raises(ValueError) as e:
        adapted.adapt_model(model, new, 20, adapted.adapt_config(model, "embedding", steps=1))
    assert str(e.value) == message


def test_the_names_model_learns_a_new_language(tmp_path):
    model = models.build("charlm-names")
    model.fit(steps=20, progress=False)
    model.save(str(tmp_path / "names.pt"))
    run = adapted.adapt_model(model, "fi_FI", 50, adapted.adapt_config(model, "embedding", steps=10))
    assert isinstance(run.model, models.TrainedCharLM) and run.model.data.locales == (*model.data.locales, "fi_FI")
    assert run.trainable == model.recipe.model.embed and run.examples == 50
    now, before = adapted.judge(run)
    assert now.old_nll == before.old_nll and now.new_nll > 0  # an embedding row moves nothing else
    path = adapted.save_adapted(run, tmp_path / "fi.pt", tmp_path / "names.pt")
    loaded = models.load_model(str(path))
    assert loaded.data.locales[-1] == "fi_FI" and loaded.name == "charlm-names+fi_FI"
    for m in (run.model, loaded):  # the base's split of its names, exactly, and the new language's examples and the rest
        assert m.data.train.names == model.data.train.names + run.shots.train.names and m.data.vocab is model.data.vocab
        assert m.data.heldout.names == model.data.heldout.names + run.shots.heldout.names
        assert m.data.heldout.labels.tolist() == model.data.heldout.labels.tolist() + [8] * len(run.shots.heldout)
    names = loaded.sample(8, torch.Generator().manual_seed(0), labels="fi_FI")
    assert names == run.model.sample(8, torch.Generator().manual_seed(0), labels="fi_FI") and all(isinstance(n, str) for n in names)
    old = loaded.sample(16, torch.Generator().manual_seed(0), labels=torch.arange(16) % 8)
    assert old == model.sample(16, torch.Generator().manual_seed(0), labels=torch.arange(16) % 8)
    with pytest.raises(ValueError, match="charlm-names already knows de_DE"):
        adapted.adapt_model(model, "de_DE", 50, adapted.adapt_config(model, "embedding", steps=1))
    with pytest.raises(ValueError, match="unknown locale 'finnish': give a faker locale such as fi_FI"):
        adapted.adapt_model(model, "finnish", 50, adapted.adapt_config(model, "embedding", steps=1))
