"""genai_course.pretrained and the lessons' switch: a loaded run is the run trained here.

A pretrained checkpoint is only worth loading if a lesson then shows exactly what training
would have shown: the weights, the losses it plots, the snapshots its scrubber replays, and the
random state its later cells draw from. Anything else (another recipe, other snapshots, a
tampered file, no folder) must make the lesson train, and say why in one line.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genai_course import checkpoints, models, pretrained
from genai_course.pretrained import LessonRun
from genai_course.utils import weights_sha256


def _every(every):
    return lambda model: [model.snapshots(every=every)]


def _tiny_gan(tiny_recipe):
    return lambda: models.TrainedGAN(dataclasses.replace(tiny_recipe), name="tiny", seed=0)


# One short run of each kind of model (GAN on points, conditional conv GAN, VAE, names, DDPM).
RUNS = {
    "cgan-digits": LessonRun("99_test", "cgan-digits", steps=12, callbacks=_every(4)),
    "vae-digits": LessonRun("99_test", "vae-digits", steps=20, callbacks=_every(5)),
    "charlm-names": LessonRun("99_test", "charlm-names", steps=8),
    "ddpm-ring8": LessonRun("99_test", "ddpm-ring8", steps=20),
}


def _state(model) -> dict[str, torch.Tensor]:
    nets = {"TrainedGAN": ("G", "D"), "TrainedDigitsGAN": ("G", "D"), "TrainedVAE": ("vae",),
            "TrainedCharLM": ("model",), "TrainedDDPM": ("ddpm", "ema")}[type(model).__name__]
    return {f"{n}.{k}": v for n in nets for k, v in getattr(model, n).state_dict().items()}


def _trained_here_and_loaded(run: LessonRun, folder: Path, capsys):
    """(trained here, loaded from folder, what the load printed, the two RNG states after fit)."""
    here = run.make()
    here_cbs = run.callbacks(here)
    here.fit(steps=run.steps, callbacks=here_cbs, progress=False)
    rng_here = torch.get_rng_state()
    capsys.readouterr()
    loaded = run.make()
    loaded_cbs = run.callbacks(loaded)
    loaded.fit(steps=run.steps, callbacks=loaded_cbs, progress=False, pretrained=folder)
    rng_loaded = torch.get_rng_state()
    return (here, here_cbs), (loaded, loaded_cbs), capsys.readouterr().out, (rng_here, rng_loaded)


def _assert_same_run(here, loaded, rngs):
    (a, a_cbs), (b, b_cbs) = here, loaded
    sa, sb = _state(a), _state(b)
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa), [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert a.step == b.step
    ha = {f.name: getattr(a.history, f.name) for f in dataclasses.fields(a.history) if f.name not in ("seconds", "snapshots")}
    hb = {f.name: getattr(b.history, f.name) for f in dataclasses.fields(b.history) if f.name not in ("seconds", "snapshots")}
    assert ha == hb and len(next(iter(ha.values()))) > 0
    for ca, cb in zip(a_cbs, b_cbs, strict=True):
        assert [r["step"] for r in ca.records] == [r["step"] for r in cb.records] and ca.records
        assert all(torch.equal(ra["samples"], rb["samples"]) for ra, rb in zip(ca.records, cb.records))
    assert torch.equal(*rngs), "a later cell drawing from torch's global RNG would see another state"


def test_a_loaded_gan_run_equals_training_it_here(tiny_recipe, tmp_path, capsys):
    run = LessonRun("99_test", "tiny", build=_tiny_gan(tiny_recipe), callbacks=lambda m: [m.snapshots(every=10, n=50, resolution=8)])
    pretrained.pretrain([run], tmp_path, progress=False, log=lambda line: None)
    here, loaded, printed, rngs = _trained_here_and_loaded(run, tmp_path, capsys)
    assert printed.startswith(f"loaded pretrained tiny (40 steps, trained in 0 s) from {tmp_path / 'tiny-seed0-40steps.pt'}")
    _assert_same_run(here, loaded, rngs)
    assert "d_logits" in loaded[1][0].records[0]  # the decision surface the lesson-05 scrubber shows
    g = torch.Generator().manual_seed(5)
    assert torch.equal(here[0].sample(64, generator=g), loaded[0].sample(64, generator=torch.Generator().manual_seed(5)))
    # and it can go on training exactly like the run trained here: optimizer and noise states came back too
    here[0].fit(steps=60, progress=False)
    loaded[0].fit(steps=60, progress=False)
    assert all(torch.equal(v, _state(loaded[0])[k]) for k, v in _state(here[0]).items())


@pytest.mark.parametrize("name", list(RUNS))
def test_every_kind_of_model_loads_the_run_it_would_train(name, tmp_path, capsys):
    run = RUNS[name]
    pretrained.pretrain([run], tmp_path, progress=False, log=lambda line: None)
    here, loaded, printed, rngs = _trained_here_and_loaded(run, tmp_path, capsys)
    assert printed.startswith(f"loaded pretrained {name} ({run.steps} steps")
    _assert_same_run(here, loaded, rngs)


def test_train_model_takes_the_switch_too(tmp_path, capsys):
    run = LessonRun("99_test", "vae-digits", steps=20)
    pretrained.pretrain([run], tmp_path, progress=False, log=lambda line: None)
    model = models.train_model("vae-digits", steps=20, progress=False, pretrained=tmp_path)
    assert "loaded pretrained vae-digits (20 steps" in capsys.readouterr().out
    assert model.step == 20


def _fallback(run: LessonRun, capsys, **fit) -> tuple[str, object]:
    model = run.make()
    model.fit(steps=run.steps, callbacks=run.callbacks(model), progress=False, **fit)
    return capsys.readouterr().out, model


def test_a_run_with_other_settings_is_trained_not_loaded(tiny_recipe, tmp_path, capsys):
    run = LessonRun("99_test", "tiny", build=_tiny_gan(tiny_recipe))
    pretrained.pretrain([run], tmp_path, progress=False, log=lambda line: None)
    other = dataclasses.replace(tiny_recipe, train=dataclasses.replace(tiny_recipe.train, lr_g=tiny_recipe.train.lr_g / 2))
    changed = LessonRun("99_test", "tiny", build=lambda: models.TrainedGAN(other, name="tiny"))
    out, model = _fallback(changed, capsys, pretrained=tmp_path)
    assert out == "pretrained: tiny-seed0-40steps.pt was trained with other settings than this run's; training here instead\n"
    assert model.step == 40 and model.history.seconds > 0
    # another length is another run (another file), and another seed too
    out, _ = _fallback(dataclasses.replace(run, steps=30), capsys, pretrained=tmp_path)
    assert out == f"pretrained: {tmp_path} has no tiny-seed0-30steps.pt (`genai-course pretrain` writes it); training here instead\n"


def test_a_snapshot_the_run_never_recorded_makes_the_lesson_train(tiny_recipe, tmp_path, capsys):
    run = LessonRun("99_test", "tiny", build=_tiny_gan(tiny_recipe), callbacks=lambda m: [m.snapshots(every=10, n=50, resolution=8)])
    pretrained.pretrain([run], tmp_path, progress=False, log=lambda line: None)
    other = dataclasses.replace(run, callbacks=lambda m: [m.snapshots(every=20, n=50, resolution=8)])
    out, model = _fallback(other, capsys, pretrained=tmp_path)
    assert out == ("pretrained: tiny-seed0-40steps.pt holds no record of this Snapshots callback (another `every`, noise or grid?); "
                   "training here instead\n")
    plain = dataclasses.replace(run, callbacks=lambda m: [lambda *args: None])  # not a snapshot: cannot be replayed
    out, _ = _fallback(plain, capsys, pretrained=tmp_path)
    assert "holds no record of this function callback" in out


def test_a_tampered_checkpoint_is_refused_and_the_lesson_trains(tiny_recipe, tmp_path, capsys):
    run = LessonRun("99_test", "tiny", build=_tiny_gan(tiny_recipe))
    [path] = pretrained.pretrain([run], tmp_path, progress=False, log=lambda line: None)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    out, model = _fallback(run, capsys, pretrained=tmp_path)
    assert out.startswith("pretrained: ") and "sha256" in out and out.endswith("; training here instead\n"), out
    assert model.step == 40
    assert not pretrained.is_current(run, tmp_path)
    with pytest.raises(checkpoints.CheckpointError, match="SHA256SUMS"):
        checkpoints.verify_manifest(tmp_path / checkpoints.MANIFEST)


def test_the_folder_is_found_from_the_notebooks_folder_or_named_by_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(models.PRETRAINED_ENV, raising=False)
    (tmp_path / "runs" / "pretrained").mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")  # lessons run with their own folder as cwd
    assert models.pretrained_folder(True) == tmp_path / "runs" / "pretrained"
    monkeypatch.setenv(models.PRETRAINED_ENV, str(tmp_path / "elsewhere"))
    assert models.pretrained_folder(True) == tmp_path / "elsewhere"
    assert models.pretrained_folder("some/folder") == Path("some/folder")
    with pytest.raises(TypeError, match=re.escape("pretrained must be True, False or a folder (got 1 of type int)")):
        models.pretrained_folder(1)


def test_no_folder_and_a_model_already_trained_are_said_in_one_line(tiny_recipe, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(models.PRETRAINED_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    run = LessonRun("99_test", "tiny", build=_tiny_gan(tiny_recipe))
    out, model = _fallback(run, capsys, pretrained=True)
    assert out == ("pretrained: no runs/pretrained folder here or above (make one with `genai-course pretrain --all`); "
                   "training here instead\n")
    model.fit(steps=50, progress=False, pretrained=True)
    assert capsys.readouterr().out == ("pretrained: tiny is already at step 40, and pretrained runs start at step 0; "
                                       "training here instead\n")
    assert model.step == 50


def test_pretrain_keeps_current_runs_and_writes_a_manifest(tiny_recipe, tmp_path):
    run = LessonRun("99_test", "tiny", build=_tiny_gan(tiny_recipe))
    lines: list[str] = []
    [path] = pretrained.pretrain([run], tmp_path, progress=False, log=lines.append)
    first = path.stat().st_mtime_ns
    pretrained.pretrain([run], tmp_path, progress=False, log=lines.append)
    assert path.stat().st_mtime_ns == first and lines[2] == "[1/1] tiny-seed0-40steps.pt (lesson 99_test): up to date"
    pretrained.pretrain([run], tmp_path, force=True, progress=False, log=lines.append)
    assert path.stat().st_mtime_ns != first
    assert checkpoints.verify_manifest(tmp_path / checkpoints.MANIFEST) == [path]
    done = subprocess.run(["sha256sum", "-c", checkpoints.MANIFEST], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "tiny-seed0-40steps.pt: OK\n"


def test_select_names_lessons_models_and_runs():
    assert [r.file for r in pretrained.select(["05"])] == [
        "vanilla-seed0-3000steps.pt", "gan-grid25-seed0-12000steps.pt", "no-decay-seed0-12000steps.pt", "packed-seed0-3000steps.pt"]
    assert pretrained.select(["05_training_loop"]) == pretrained.select(["05"])
    assert [r.file for r in pretrained.select(["dcgan-digits"])] == [
        "dcgan-digits-seed0-2750steps.pt", "dcgan-digits-seed0-1200steps.pt", "dcgan-digits-seed0-1000steps.pt", "dcgan-digits-seed0-500steps.pt"]
    assert [r.file for r in pretrained.select(["dcgan-digits-seed0-1200steps", "06", "dcgan-digits-seed0-1200steps.pt"])] == [
        "dcgan-digits-seed0-1200steps.pt", "dcgan-digits-seed0-2750steps.pt", "dcgan-gaussian-z-seed0-2750steps.pt"]
    assert [r.file for r in pretrained.select(["14"])] == [  # lesson 14 loads lesson 09's names model too
        "charlm-names-seed0-3000steps.pt", "digits-0to8-seed0-2400steps.pt"]
    assert pretrained.select(["14_keep_learning"]) == pretrained.select(["14"])
    assert [r.file for r in pretrained.select(["15"])] == [  # lesson 15 serves the runs of lessons 08, 09 and 10
        "cvae-digits-seed0-2400steps.pt", "charlm-names-seed0-3000steps.pt", "ddpm-grid25-seed0-4000steps.pt"]
    assert pretrained.select(["15_serving"]) == pretrained.select(["15"])
    assert [r.file for r in pretrained.select(["16"])] == [  # lesson 16 compares against lesson 10's runs, in lesson 11's VAE
        "ddpm-grid25-seed0-4000steps.pt", "ddpm-digits-seed0-2000steps.pt", "vae-digits-seed0-3000steps.pt",
        "flow-grid25-seed0-3000steps.pt", "rectified-grid25-seed0-4000steps.pt", "latent-flow-digits-seed0-1000steps.pt"]
    [ring] = pretrained.select(["gan-ring8"])  # no lesson trains it: the run `genai-course train gan-ring8` makes
    assert (ring.lesson, ring.file) == ("cli", "gan-ring8-seed0-12000steps.pt")
    with pytest.raises(ValueError, match=re.escape("no lesson run is called '04': give a lesson (05, 06, 07, 08, 09, 10, 11, 13, 14, 15, 16), a model (vanilla, ")):
        pretrained.select(["04"])


def test_every_lesson_run_is_a_different_file_and_names_a_real_lesson():
    files = [r.file for r in pretrained.LESSON_RUNS]
    assert len(files) == len(set(files))
    root = Path(__file__).resolve().parents[1]
    for run in pretrained.LESSON_RUNS:
        for lesson in run.lessons:
            source = (root / "notebooks" / f"{lesson}.py").read_text()
            assert re.search(r"^PRETRAINED = False\b", source, re.M), f"{lesson} has no PRETRAINED switch"
            assert "pretrained=PRETRAINED" in source, f"{lesson} never passes the switch on"


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genai_course", "pretrain", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_cli_lists_every_run_and_refuses_bad_requests_in_one_line(tmp_path):
    listed = _cli("--list")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == len(pretrained.LESSON_RUNS)
    assert listed.stdout.splitlines()[1].split() == ["05_training_loop", "gan-grid25-seed0-12000steps.pt", "12,000", "steps"]
    names = [line for line in listed.stdout.splitlines() if "charlm-names" in line]
    assert len(names) == 1 and names[0].startswith("09_text") and names[0].endswith("(loaded by 14_keep_learning, 15_serving too)")
    for args, message in [
        ((), "say what to train: --all, or lessons (05), models (dcgan-digits) or runs; --list shows them"),
        (("--all", "05"), "say what to train: --all, or lessons (05), models (dcgan-digits) or runs; --list shows them"),
        (("12",), "no lesson run is called '12'"),
    ]:
        done = _cli(*args)
        assert done.returncode == 2 and done.stdout == "" and done.stderr.startswith(f"genai-course pretrain: error: {message}"), done.stderr
        assert len(done.stderr.splitlines()) == 1
    (tmp_path / "file").write_text("x")
    done = _cli("05", "--out", str(tmp_path / "file"))
    assert done.returncode == 2 and done.stderr == f"genai-course pretrain: error: --out {tmp_path / 'file'} is a file, not a folder\n"


def test_a_pretrained_run_trains_the_weights_genai_course_train_trains(tmp_path):
    """Snapshots only look: the run with the lesson's callbacks equals a plain `train` of the same length."""
    run = RUNS["cgan-digits"]  # batch norm in G: snapshots sample it in eval mode, then put it back
    [path] = pretrained.pretrain([run], tmp_path, progress=False, log=lambda line: None)
    plain = models.build("cgan-digits", seed=0)
    plain.fit(steps=run.steps, progress=False)
    loaded = models.load_model(str(path))
    assert all(torch.equal(v, _state(loaded)[k]) for k, v in _state(plain).items())


def test_records_a_lesson_makes_before_training_must_be_the_runs_own(tiny_recipe, tmp_path, capsys):
    """Lessons 06 and 08 record the untrained model as step 0 before fit: a run made without it is not theirs."""
    def with_step_0(model):
        snaps = model.snapshots(every=10, n=50, resolution=8)
        snaps.record(0, model.G, model.D)
        return [snaps]

    plain = LessonRun("99_test", "tiny", build=_tiny_gan(tiny_recipe), callbacks=lambda m: [m.snapshots(every=10, n=50, resolution=8)])
    pretrained.pretrain([plain], tmp_path, progress=False, log=lambda line: None)
    out, model = _fallback(dataclasses.replace(plain, callbacks=with_step_0), capsys, pretrained=tmp_path)
    assert out == ("pretrained: this Snapshots callback's records before training differ from tiny-seed0-40steps.pt's (1 against 0); "
                   "training here instead\n")
    lesson = dataclasses.replace(plain, callbacks=with_step_0)
    pretrained.pretrain([lesson], tmp_path, force=True, progress=False, log=lambda line: None)
    here, loaded, printed, rngs = _trained_here_and_loaded(lesson, tmp_path, capsys)
    assert printed.startswith("loaded pretrained tiny") and [r["step"] for r in loaded[1][0].records] == [0, 10, 20, 30, 40]
    _assert_same_run(here, loaded, rngs)


def test_a_run_that_learns_from_another_takes_the_one_in_its_folder(tmp_path):
    """rectified-grid25 reflows the flow-grid25 run already pretrained beside it (LessonRun.uses), not a second one."""
    teacher = models.build("flow-grid25")
    teacher.fit(steps=5, progress=False)
    teacher.save(str(tmp_path / "teacher.pt"))

    def small() -> models.TrainedFlow:
        recipe = models.get_recipe("rectified-grid25")
        return models.TrainedFlow(dataclasses.replace(recipe, pairs=64, train=dataclasses.replace(recipe.train, steps=3)), name="rectified-grid25")

    run = pretrained.LessonRun("16_flow_matching", "rectified-grid25", build=small, uses=("teacher.pt", "absent.pt"))
    path = pretrained.pretrain_run(run, tmp_path, progress=False)
    made = models.load_model(str(path))
    assert made.teacher_record["weights_sha256"] == weights_sha256(models.load_model(str(tmp_path / "teacher.pt")).ema)
    assert made.recipe.teacher_recipe["train"]["steps"] == 5  # the run it really reflowed, not the lesson's 3,000-step one


def test_runs_train_in_the_background_and_load_from_its_folder(tmp_path):
    """Lesson 16 trains lesson 10's runs on the other core: the child's folder is one `fit` loads from."""
    bg = pretrained.in_background(["vae-2d"], tmp_path / "bg")
    assert bg.running() or bg.process.returncode == 0
    folder = bg.folder(timeout=600)
    assert (folder / "vae-2d-seed0-2400steps.pt").is_file() and (folder / checkpoints.MANIFEST).is_file()
    model = pretrained.select(["vae-2d"])[0].make()
    model.fit(pretrained=folder, progress=False)  # loaded, not trained: the same run
    assert model.step == 2400 and "trained in" in (folder / "pretrain.log").read_text()


def test_a_background_run_says_what_failed_and_stops_with_its_parent(tmp_path):
    with pytest.raises(ValueError, match="no lesson run is called 'nope'"):
        pretrained.in_background(["nope"], tmp_path)
    bg = pretrained.in_background(["10"], tmp_path / "stopped")
    bg.process.stdin.close()  # what the end of the lesson's kernel does
    assert bg.process.wait(timeout=60) == 3
    with pytest.raises(RuntimeError, match=r"background training of 10 failed \(exit 3\)"):
        bg.folder()
    bg = pretrained.in_background(["10"], tmp_path / "stopped2")
    bg.stop()
    assert not bg.running()


def test_a_background_folder_is_ready_for_one_model_before_the_others(tmp_path):
    bg = pretrained.in_background(["13"], tmp_path / "bg")  # dcgan-digits (500 steps), then cvae-digits (1,500)
    try:
        folder = bg.folder("dcgan-digits", timeout=600)
        first, second = pretrained.select(["13"])
        assert pretrained.is_current(first, folder) and bg.running() and not (folder / second.file).exists()
        with pytest.raises(ValueError, match="ddpm-grid25 is not among the runs of 13"):
            bg.folder("ddpm-grid25")
    finally:
        bg.stop()
