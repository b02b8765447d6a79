"""genai-course tune: the search spaces, the validation splits, and the study (pruning, budget, resuming, tables).

Studies here train for a handful of steps: they test the machinery, not the recipes (``make bench``
measures the recipes the full studies found; docs/tuning.md keeps their tables).
"""

from __future__ import annotations

import math
import statistics

import optuna
import pytest
import torch

from genai_course import cli, data, models, tuning
from genai_course import text as textlib
from genai_course.tuning import spaces
from test_cli import run_main


# ----------------------------------------------------------------------------- recipes
def test_with_params_sets_nested_fields_on_a_copy():
    recipe = models.get_recipe("vae-digits")
    changed = tuning.with_params(recipe, {"train.lr": 0.0042, "vae.hidden": 384})
    assert (changed.train.lr, changed.vae.hidden) == (0.0042, 384)
    assert (recipe.train.lr, recipe.vae.hidden) == (3e-3, 256)  # the original is untouched
    assert tuning.flatten(changed.to_dict())["train.lr"] == 0.0042


def test_with_params_refuses_a_field_the_recipe_lacks():
    with pytest.raises(ValueError, match=r"^the recipe has no field 'train\.nope'$"):
        tuning.with_params(models.get_recipe("vae-digits"), {"train.nope": 1})


@pytest.mark.parametrize("name", list(tuning.SPACES))
def test_every_space_names_real_fields_and_holds_the_lessons_recipe(name):
    """Every searched field exists, and the lesson's own value lies in its range: trial 0 is the lesson's recipe."""
    space = tuning.get_space(name)
    recipe = tuning.flatten(models.get_recipe(name).to_dict())
    for p in space.params:
        assert p.path in recipe, p.path
        value = recipe[p.path]
        if p.choices:
            assert value in p.choices, (p.path, value)
        else:
            assert p.low <= value <= p.high, (p.path, value)
            if p.step:
                assert (value - p.low) % p.step == 0, (p.path, value)


def test_build_takes_a_recipe_of_the_same_kind_only():
    small = models.build("vae-digits", recipe=tuning.with_params(models.get_recipe("vae-digits"), {"vae.hidden": 64}))
    lesson = models.build("vae-digits")
    assert small.recipe.vae.hidden == 64
    assert sum(p.numel() for p in small.vae.parameters()) < sum(p.numel() for p in lesson.vae.parameters()) / 4
    with pytest.raises(ValueError, match="vae-digits is built from a VAERecipe, not a CharLMRecipe"):
        models.build("vae-digits", recipe=models.get_recipe("charlm-names"))


# ----------------------------------------------------------------------------- validation splits
def test_validation_digits_are_training_digits_and_never_held_out_ones():
    full, val = data.load_digits(), data.validation_digits()
    assert (len(val.x_train), len(val.x_test)) == (1197, 300)
    assert torch.equal(torch.cat([val.x_test, val.x_train]), full.x_train)  # the training split, cut in two
    assert torch.equal(torch.cat([val.y_test, val.y_train]), full.y_train)


def test_validation_names_come_from_the_training_names_only():
    names = textlib.load_names()
    val = textlib.validation_names(names)
    assert set(val.train.names) | set(val.heldout.names) == set(names.train.names)
    assert not set(val.train.names) & set(val.heldout.names)
    assert not set(val.heldout.names) & set(names.heldout.names)
    assert 0.19 < len(val.heldout) / len(names.train) < 0.21
    assert val.vocab is names.vocab
    with pytest.raises(ValueError, match=r"fraction must be between 0 and 1 \(got 1.5\)"):
        textlib.validation_names(names, 1.5)


@pytest.mark.parametrize("name, attr", [("vae-digits", "digits"), ("dcgan-digits", "digits"), ("ddpm-digits", "digits"),
                                        ("charlm-names", "data")])
def test_a_trial_trains_without_the_validation_part(name, attr):
    model = models.build(name)
    tuning.use_validation(model)
    if attr == "digits":
        assert model.digits is data.validation_digits()
    else:
        assert set(model.data.heldout.names) == set(textlib.validation_names(textlib.load_names()).heldout.names)


def test_a_model_without_a_validation_split_is_refused():
    with pytest.raises(ValueError, match="gan-ring8 has no validation split to tune on"):
        tuning.use_validation(models.build("gan-ring8"))


# ----------------------------------------------------------------------------- studies
def _lr_space(monkeypatch, reports: int = 4) -> None:
    """vae-digits searched over its learning rate alone, scored by the learning rate itself (lower is
    better, the same at every report): which trials the median rule must prune is then known."""
    space = tuning.Space("vae-digits", (tuning.Param("train.lr", 1e-3, 1e-2, log=True),), "the learning rate",
                         lambda model: model.recipe.train.lr * 1000, reports=reports)
    monkeypatch.setitem(spaces.SPACES, "vae-digits", space)


def test_the_median_rule_prunes_exactly_the_trials_worse_than_the_median(monkeypatch, tmp_path):
    _lr_space(monkeypatch)
    study = tuning.run_study("vae-digits", 12, 600, path=tmp_path / "s.db", steps=8, progress=False)
    trials = study.trials
    assert trials[0].params == {"train.lr": 3e-3} and trials[0].user_attrs["note"] == "the lesson's recipe"
    pruned = 0
    for t in trials:
        before = [u.intermediate_values[0] for u in trials[: t.number] if u.state == optuna.trial.TrialState.COMPLETE]
        should = len(before) >= 3 and t.intermediate_values[0] > statistics.median(before)
        assert (t.state == optuna.trial.TrialState.PRUNED) == should, (t.number, t.state, t.params)
        if t.state == optuna.trial.TrialState.PRUNED:
            pruned += 1
            assert len(t.intermediate_values) == 1 and t.user_attrs["note"] == "worse than the median"
        else:
            assert len(t.intermediate_values) == 4 and t.value == pytest.approx(t.params["train.lr"] * 1000)
    assert pruned >= 1
    assert study.best_value == min(t.value for t in trials if t.state == optuna.trial.TrialState.COMPLETE)
    diff = tuning.recipe_diff(study)
    assert diff == ([] if study.best_trial.number == 0 else [f"train.lr: 0.003 -> {tuning.study._fmt(study.best_trial.params['train.lr'])}"])


def test_a_trial_over_the_time_budget_is_stopped_after_its_first_part(monkeypatch, tmp_path):
    _lr_space(monkeypatch)
    study = tuning.run_study("vae-digits", 3, 600, path=tmp_path / "s.db", steps=8, budget=1e-9, progress=False)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.PRUNED] * 3
    assert all(t.user_attrs["note"] == "over the 1e-09 s budget" and len(t.intermediate_values) == 1 for t in study.trials)
    assert "| 0 | pruned at 1/4 |" in tuning.summary_table(study)


def test_a_study_resumes_from_its_file_and_refuses_other_settings(monkeypatch, tmp_path):
    _lr_space(monkeypatch)
    path = tmp_path / "s.db"
    first = tuning.run_study("vae-digits", 2, 600, path=path, steps=8, progress=False)
    params = [t.params for t in first.trials]
    again = tuning.run_study("vae-digits", 5, 600, path=path, steps=8, progress=False)
    assert len(again.trials) == 5 and [t.params for t in again.trials[:2]] == params
    assert len(tuning.run_study("vae-digits", 5, 600, path=path, steps=8, progress=False).trials) == 5  # nothing left to do
    with pytest.raises(ValueError, match=r"is a study with --steps 8; continue it with the same --steps, or give another --study file"):
        tuning.run_study("vae-digits", 6, 600, path=path, steps=9, progress=False)
    with pytest.raises(ValueError, match=r"holds a study of vae-digits, not charlm-names: give another --study file"):
        tuning.run_study("charlm-names", 1, 600, path=path, steps=8, progress=False)


def test_a_trial_left_running_by_a_killed_run_is_marked_failed(monkeypatch, tmp_path):
    _lr_space(monkeypatch)
    path = tmp_path / "s.db"
    tuning.run_study("vae-digits", 1, 600, path=path, steps=8, progress=False)
    optuna.load_study(study_name="vae-digits", storage=f"sqlite:///{path}").ask()  # started, never told: as if killed
    study = tuning.run_study("vae-digits", 3, 600, path=path, steps=8, progress=False)
    assert study.trials[1].state == optuna.trial.TrialState.FAIL and study.trials[1].user_attrs["note"] == "interrupted"
    assert sum(t.state.is_finished() for t in study.trials) == 3


def test_the_real_scores_of_the_vae_and_the_names_model(tmp_path):
    """The real spaces, a few steps: the VAE is scored in nats per image, the names model (trained in
    one go, scored by a callback) in nats per character, each reported four times."""
    vae = tuning.run_study("vae-digits", 1, 600, path=tmp_path / "v.db", steps=20, progress=False).trials[0]
    names = tuning.run_study("charlm-names", 1, 600, path=tmp_path / "n.db", steps=8, progress=False).trials[0]
    assert vae.state == names.state == optuna.trial.TrialState.COMPLETE
    assert sorted(vae.intermediate_values) == sorted(names.intermediate_values) == [0, 1, 2, 3]
    assert 24 < vae.value < 44.4  # 20 steps: below the 44.4 nats of fair coins, above a trained VAE's 23.5
    assert vae.intermediate_values[3] < vae.intermediate_values[0]
    assert math.log(40) - 1.5 < names.value < math.log(100)  # 8 steps: about a uniform guess over the characters
    assert names.intermediate_values[3] < names.intermediate_values[0]


def test_the_gan_score_is_a_feature_distance_to_the_validation_digits():
    model = models.build("dcgan-digits")
    tuning.use_validation(model)
    untrained = tuning.get_space("dcgan-digits").score(model)
    real = spaces._feature_distance(data.validation_digits().x_train[:1000], model)
    assert real < 30 < untrained  # real digits lie close to the validation digits, an untrained G's blobs far


# ----------------------------------------------------------------------------- the command
def test_tune_prints_the_table_the_best_trial_and_the_recipe_changes(monkeypatch, tmp_path, capsys):
    _lr_space(monkeypatch)
    path = tmp_path / "s.db"
    code, out, err = run_main(["tune", "vae-digits", "--trials", "6", "--seconds", "600", "--steps", "8", "--study", str(path), "--quiet"], capsys)
    assert (code, err) == (0, "")
    assert out.startswith(f"study {path}: 6 trials of vae-digits (")
    assert "| trial | state | the learning rate | training s | train.lr | note |" in out
    assert "| 0 | complete |" in out or "| **0** | **complete** |" in out
    study = optuna.load_study(study_name="vae-digits", storage=f"sqlite:///{path}")
    assert f"best: trial {study.best_trial.number}, {study.best_value:.4g}" in out
    assert ("train.lr: 0.003 -> " in out) == (study.best_trial.number != 0)


def test_tune_help_documents_the_command(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["tune", "--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0 and out.startswith("usage: genai-course tune ")
    for words in ("Optuna", "TPE", "median pruning", "validation", "--trials", "--seconds", "--steps", "--budget", "--study", "SQLite"):
        assert words in " ".join(out.split()), words


class _Real:
    """A stand-in model that 'samples' real held-out digits (of the class asked for, when asked)."""

    def __init__(self, noise: bool = False) -> None:
        self.noise, self.d = noise, data.load_digits()

    def sample(self, n, generator=None, labels=None, **_):
        if self.noise:
            return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0))
        if labels is None:
            return self.d.x_test[torch.arange(n) % len(self.d.x_test)]
        pools = [self.d.x_test[self.d.y_test == c] for c in range(10)]
        return torch.stack([pools[int(c)][i % len(pools[int(c)])] for i, c in enumerate(labels)])


def test_the_cgan_and_ddpm_scores_tell_real_digits_from_noise():
    label_error, unsure = tuning.get_space("cgan-digits").score, tuning.get_space("ddpm-digits").score
    assert label_error(_Real()) < 0.03 and label_error(_Real(noise=True)) > 0.6
    assert unsure(_Real()) < 0.06 and unsure(_Real(noise=True)) > 0.4


def test_a_misspelt_field_is_refused_before_any_trial_runs(tmp_path):
    space = tuning.Space("vae-digits", (tuning.Param("train.rl", 1e-3, 1e-2, log=True),), "x", lambda model: 0.0)
    with pytest.raises(ValueError, match=r"^the vae-digits recipe has no field 'train.rl': its fields are vae.latent_dim, .*train.lr, "):
        tuning.run_study("vae-digits", 2, 60, path=tmp_path / "s.db", steps=4, progress=False, space=space)
    assert not (tmp_path / "s.db").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({}, r"train.lr: give choices=\(...\) or a range with low < high \(got low=None, high=None\)"),
    ({"low": 0.1, "high": 0.01}, r"train.lr: give choices=\(...\) or a range with low < high \(got low=0.1, high=0.01\)"),
    ({"low": 0.0, "high": 0.1, "log": True}, r"train.lr: a log-scale range must start above 0 \(got low=0.0\)"),
])
def test_a_param_needs_a_range_or_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tuning.Param("train.lr", **kwargs)


def test_a_failed_trial_says_why_and_the_study_goes_on(tmp_path):
    def broken(model):
        raise ValueError("the score broke\nsecond line")

    space = tuning.Space("vae-digits", (tuning.Param("train.lr", 1e-3, 1e-2, log=True),), "x", broken)
    study = tuning.run_study("vae-digits", 2, 60, path=tmp_path / "s.db", steps=4, progress=False, space=space)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL] * 2
    assert all(t.user_attrs["note"] == "failed: the score broke" for t in study.trials)
    assert "| 0 | fail | - | - | 0.003 | failed: the score broke |" in tuning.summary_table(study)
