"""``genai-course pretrain``: train, ahead of a workshop, every model the lessons train.

Each lesson that trains starts with one switch, ``PRETRAINED = False``. Set to True, each
``model.fit(..., pretrained=PRETRAINED)`` (and ``models.train_model(..., pretrained=...)``)
loads its run from ``runs/pretrained/`` (see ``models.pretrained_folder``) instead of
training it: the same weights, losses, snapshots and random state as training it there,
because a run here is the same run. ``LESSON_RUNS`` lists every one, with the snapshot
callbacks its lesson attaches; a run whose settings differ from the lesson's is never
loaded (``TrainedGAN.run_fingerprint``), so a stale folder makes the lesson train, not lie.

Each checkpoint gets its sha256 sidecar, and the folder a ``SHA256SUMS`` manifest
(``cd runs/pretrained && sha256sum -c SHA256SUMS`` checks a copied folder).

Sits with ``evaluate`` and ``parallel`` between ``models`` and ``cli``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from . import checkpoints, gan, models, vae

__all__ = ["LessonRun", "LESSON_RUNS", "select", "is_current", "pretrain_run", "pretrain", "DEFAULT_FOLDER", "Background", "in_background"]

DEFAULT_FOLDER = Path("runs") / "pretrained"


def _no_callbacks(model: Any) -> list[Any]:
    return []


@dataclass(frozen=True)
class LessonRun:
    """One training run of one lesson: the model (a registry name, or a lesson's own recipe
    via ``build``), its length, and the snapshot callbacks the lesson attaches to it."""

    lesson: str  # the notebook's stem, e.g. "05_training_loop"
    model: str  # the model's name: a registry name, or the name the lesson gives its own recipe
    steps: int | None = None  # None: the recipe's (the lesson's default)
    callbacks: Callable[[Any], list[Any]] = _no_callbacks  # model -> the lesson's snapshot callbacks, fresh
    build: Callable[[], Any] | None = None  # the lesson's own model (untrained); None: models.build(model)
    seed: int = 0
    also: tuple[str, ...] = ()  # later lessons that load this same run (e.g. "14_keep_learning"): selected by their names too
    uses: tuple[str, ...] = ()  # files of the runs it learns from (lesson 16: a teacher, a VAE), taken from the folder when there

    @property
    def lessons(self) -> tuple[str, ...]:
        """Every lesson that loads this run: its own, then ``also``."""
        return (self.lesson, *self.also)

    def make(self) -> Any:
        """The untrained model, built as the lesson builds it."""
        return self.build() if self.build is not None else models.build(self.model, seed=self.seed)

    @property
    def total_steps(self) -> int:
        if self.steps is not None:
            return self.steps
        return self.make().recipe.train.steps if self.build is not None else models.get_recipe(self.model).train.steps

    @property
    def file(self) -> str:
        return models.pretrained_file(self.model, self.seed, self.total_steps)


# ----------------------------------------------------------------------------- the lessons' runs
# Each entry repeats what its lesson does; the fingerprints tie the two: if a lesson changes
# its recipe or its snapshots, its pretrained run is no longer loaded (and tests/test_pretrained.py
# says which).
def _vanilla_gan() -> models.TrainedGAN:  # lesson 05: the plainest recipe, before the cures
    recipe = models.get_recipe("gan-grid25")
    config = gan.TrainConfig(loss="nonsaturating", steps=3000, lr_g=1e-3, lr_d=1e-3)
    return models.TrainedGAN(dataclasses.replace(recipe, train=config), name="vanilla", seed=0)


def _no_decay_gan() -> models.TrainedGAN:  # lesson 05: the cure with a constant learning rate, to isolate the decay
    recipe = models.get_recipe("gan-grid25")
    return models.TrainedGAN(dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, lr_decay="none")), name="no-decay", seed=0)


def _packed_gan() -> models.TrainedGAN:  # lesson 05: the vanilla run with a packed discriminator (PacGAN)
    recipe = models.get_recipe("gan-grid25")
    config = gan.TrainConfig(loss="nonsaturating", steps=3000, lr_g=1e-3, lr_d=1e-3)
    return models.TrainedGAN(dataclasses.replace(recipe, train=config, discriminator=gan.DiscriminatorConfig(hidden=64, pack=4)),
                             name="packed", seed=0)


def _every(every: int) -> Callable[[Any], list[Any]]:
    return lambda model: [model.snapshots(every=every)]


def _digits_from_step_0(model: Any) -> list[Any]:  # lesson 06: 20 snapshots, and the untrained G as step 0
    snaps = model.snapshots(every=model.recipe.train.steps // 20)
    snaps.record(0, model.G, model.D)
    return [snaps]


def _dcgan_gaussian_z() -> models.TrainedGAN:  # lesson 06: the recipe without its discrete code, to measure what the code buys
    recipe = models.get_recipe("dcgan-digits")
    gaussian = dataclasses.replace(recipe, generator=dataclasses.replace(recipe.generator, codes=0))
    return models.TrainedDigitsGAN(gaussian, name="dcgan-gaussian-z", seed=0)


def _vae_from_step_0(model: Any) -> list[Any]:  # lesson 08: every 480 steps, and the untrained decoder as step 0
    snaps = model.snapshots(every=480)
    snaps.record(0, model.vae)
    return [snaps]


def _label_grid(model: Any) -> list[Any]:  # lesson 07: row k asks for k, column j uses z_j
    z_grid = torch.randn(10, model.recipe.generator.latent_dim, generator=torch.Generator().manual_seed(2)).repeat(10, 1)
    y_grid = torch.arange(10).repeat_interleave(10)
    return [gan.Snapshots(every=200, z=z_grid, labels=y_grid)]


def _vae_2d() -> models.TrainedVAE:  # lesson 08: two latents, a quarter of the steps, to draw the latent map
    return models.TrainedVAE(models.VAERecipe(vae.VAEConfig(latent_dim=2), vae.VAETrainConfig(steps=2400)), name="vae-2d")


LESSON_RUNS: tuple[LessonRun, ...] = (
    LessonRun("05_training_loop", "vanilla", callbacks=_every(200), build=_vanilla_gan),
    LessonRun("05_training_loop", "gan-grid25", callbacks=_every(400)),
    LessonRun("05_training_loop", "no-decay", callbacks=_every(400), build=_no_decay_gan),
    LessonRun("05_training_loop", "packed", build=_packed_gan),
    LessonRun("06_dcgan_digits", "dcgan-digits", callbacks=_digits_from_step_0),
    LessonRun("06_dcgan_digits", "dcgan-gaussian-z", build=_dcgan_gaussian_z),
    LessonRun("07_conditional_gan", "cgan-digits", callbacks=_label_grid),
    LessonRun("08_vae", "vae-digits", callbacks=_vae_from_step_0),
    LessonRun("08_vae", "vae-2d", build=_vae_2d),
    LessonRun("08_vae", "dcgan-digits", steps=1200),
    LessonRun("08_vae", "cvae-digits", steps=2400, also=("15_serving",)),  # lesson 15 serves it
    LessonRun("09_text", "charlm-names", also=("14_keep_learning", "15_serving")),  # lesson 14 teaches it a new language
    LessonRun("10_diffusion", "ddpm-grid25", also=("15_serving", "16_flow_matching")),  # lesson 16 counts its network calls
    LessonRun("10_diffusion", "ddpm-digits", also=("16_flow_matching",)),
    LessonRun("11_testing", "dcgan-digits", steps=1000),
    LessonRun("11_testing", "cgan-digits", steps=1000),
    LessonRun("11_testing", "vae-digits", steps=3000, also=("16_flow_matching",)),  # lesson 16 learns in its latents
    LessonRun("11_testing", "ddpm-digits", steps=700),
    LessonRun("13_safety", "dcgan-digits", steps=500),
    LessonRun("13_safety", "cvae-digits", steps=1500),
    LessonRun("14_keep_learning", "digits-0to8"),
    LessonRun("16_flow_matching", "flow-grid25"),
    LessonRun("16_flow_matching", "rectified-grid25", uses=(models.pretrained_file("flow-grid25", 0, 3000),)),
    LessonRun("16_flow_matching", "latent-flow-digits", uses=(models.pretrained_file("vae-digits", 0, 3000),)),
)


def select(names: Sequence[str], runs: Sequence[LessonRun] = LESSON_RUNS) -> list[LessonRun]:
    """The runs named: a lesson ("05" or "05_training_loop", with the runs of earlier lessons it
    loads too: ``LessonRun.also``), a model ("dcgan-digits": every run
    of it), or a file stem ("dcgan-digits-seed0-1200steps"). A course model or its default run
    that no lesson trains ("gan-ring8") is the run ``genai-course train`` makes (lesson "cli").
    ValueError naming what matched nothing."""
    chosen: list[LessonRun] = []
    for name in names:
        hits = [r for r in runs if name in (*r.lessons, *(lesson[:2] for lesson in r.lessons), r.model, r.file.removesuffix(".pt"), r.file)]
        if not hits:  # a course model no lesson trains at its defaults: the run `genai-course train NAME` makes
            hits = [r for r in (LessonRun("cli", m) for m in models.MODELS) if name in (r.model, r.file.removesuffix(".pt"), r.file)]
        if not hits:
            lessons = sorted({lesson[:2] for r in runs for lesson in r.lessons})
            raise ValueError(f"no lesson run is called {name!r}: give a lesson ({', '.join(lessons)}), a model "
                             f"({', '.join(dict.fromkeys(r.model for r in runs))}) or --all; --list shows every run")
        chosen += [r for r in hits if r not in chosen]
    return chosen


def is_current(run: LessonRun, folder: Path) -> bool:
    """True if ``folder`` already holds this run, intact (its sidecar matches) and with today's settings."""
    path = folder / run.file
    if not path.is_file():
        return False
    try:
        ckpt = checkpoints.load(path)
    except checkpoints.CheckpointError:
        return False
    record = ckpt.get("extra", {}).get("lesson") or {}
    model = run.make()
    saved = record.get("callbacks", {})
    have = {fp: entry.get("before_fit") for fp, entry in saved.items() if isinstance(entry, dict)}
    wanted = {models.callback_fingerprint(cb): len(cb.records) for cb in run.callbacks(model)}
    return record.get("fingerprint") == model.run_fingerprint(run.total_steps) and all(have.get(fp) == n for fp, n in wanted.items())


def pretrain_run(run: LessonRun, folder: Path, progress: bool = True) -> Path:
    """Train one run as its lesson does, and write its checkpoint (and sidecar) into ``folder``."""
    model = run.make()
    for file in run.uses:  # e.g. rectified-grid25 reflows flow-grid25's run: the one in this folder, not a second one
        used = folder / file
        if used.is_file():
            model.use_run(models.load_model(str(used)))
    callbacks = run.callbacks(model)
    made_before = [len(cb.records) for cb in callbacks]  # records a lesson makes before fit (e.g. step 0)
    before = torch.get_rng_state()  # the lesson's state at fit(): its later cells draw from what training leaves
    model.fit(steps=run.steps, callbacks=callbacks, progress=progress)
    history = {f.name: getattr(model.history, f.name) for f in dataclasses.fields(model.history) if f.name != "snapshots"}
    model.lesson_record = {
        "lesson": run.lesson,
        "fingerprint": model.run_fingerprint(run.total_steps),
        "history": history,
        "callbacks": {models.callback_fingerprint(cb): {"before_fit": n, "records": cb.records} for cb, n in zip(callbacks, made_before)},
        "rng_before": before,
        "rng_after": torch.get_rng_state(),
    }
    path = folder / run.file
    model.save(str(path))
    return path


def pretrain(runs: Sequence[LessonRun], folder: str | Path = DEFAULT_FOLDER, *, force: bool = False,
             progress: bool = True, log: Callable[[str], None] = print) -> list[Path]:
    """Train each run not already current in ``folder`` (all of them with ``force``), then write
    the folder's SHA256SUMS over every checkpoint in it. Returns the runs' checkpoint paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, run in enumerate(runs, 1):
        where = f"[{i}/{len(runs)}] {run.file} (lesson {run.lesson})"
        if not force and is_current(run, folder):
            log(f"{where}: up to date")
        else:
            t0 = time.perf_counter()
            pretrain_run(run, folder, progress=progress)
            log(f"{where}: trained in {time.perf_counter() - t0:.0f} s")
        paths.append(folder / run.file)
    everything = sorted(folder.glob("*.pt"))
    checkpoints.write_manifest(everything, folder / checkpoints.MANIFEST)
    log(f"{len(paths)} run(s) in {folder}; manifest {folder / checkpoints.MANIFEST} lists {len(everything)} checkpoint(s)")
    return paths


# ----------------------------------------------------------------------------- on the other core
class Background:
    """`genai-course pretrain NAMES --out FOLDER --quiet` running in a child process (see ``in_background``).

    A lesson kernel uses one PyTorch thread on 2 cores (``threads``); a run it needs but does not
    teach (lesson 16 compares against lesson 10's models) can train meanwhile on the other core.
    ``folder()`` waits for it and returns the folder to load from (``model.fit(pretrained=folder)``);
    ``folder(model)`` waits only for that model's runs; a failure raises with the child's last line. ``stop()`` ends it early; so does the end of the
    Python process that started it (the child is told to stop when its stdin closes)."""

    def __init__(self, names: Sequence[str], folder: str | Path) -> None:
        import subprocess
        import sys

        self.names, self.path = list(names), Path(folder)
        select(self.names)  # a name that matches no run fails here, in the lesson, not in the child
        self.path.mkdir(parents=True, exist_ok=True)
        self.log = self.path / "pretrain.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _CHILD, *self.names, "--out", str(self.path), "--quiet"],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
            )
        self.started = time.perf_counter()

    def running(self) -> bool:
        return self.process.poll() is None

    def folder(self, model: str | None = None, timeout: float = 1800.0) -> Path:
        """Wait (at most ``timeout`` s) for the runs and return their folder; RuntimeError if training failed.
        ``model``: return as soon as that model's runs are in the folder, current (the others may still train)."""
        import subprocess

        start = time.perf_counter()
        if model is not None:
            runs = [r for r in select(self.names) if r.model == model]
            if not runs:
                raise ValueError(f"{model} is not among the runs of {', '.join(self.names)}")
            while self.running() and time.perf_counter() - start < timeout:
                if all((self.path / r.file).is_file() for r in runs) and all(is_current(r, self.path) for r in runs):
                    return self.path
                time.sleep(0.5)
        try:
            code = self.process.wait(timeout=max(0.0, timeout - (time.perf_counter() - start)))
        except subprocess.TimeoutExpired:
            self.stop()
            raise RuntimeError(f"background training of {', '.join(self.names)} did not finish in {timeout:.0f} s; stopped") from None
        self._release()
        if code != 0:
            lines = self.log.read_text(errors="replace").strip().splitlines() or ["(no output)"]
            raise RuntimeError(f"background training of {', '.join(self.names)} failed (exit {code}): {lines[-1]}")
        return self.path

    def stop(self) -> None:
        if self.running():
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except Exception:
                self.process.kill()
                self.process.wait()
        self._release()

    def _release(self) -> None:
        """Close the pipe that keeps the child alive (it has ended)."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()


# The child: `genai-course pretrain` (threads by the course's rule for a command), ending itself when its parent's end closes its stdin.
_CHILD = """
import os, sys, threading
threading.Thread(target=lambda: (sys.stdin.read(), os._exit(3)), daemon=True).start()
from genai_course.cli import main
sys.exit(main(["pretrain", *sys.argv[1:]]))
"""


def in_background(names: Sequence[str], folder: str | Path) -> Background:
    """Train the lesson runs ``names`` (as ``select`` reads them: "10" is lesson 10's runs) into ``folder``
    in a child process on the other core, while this one goes on: a ``Background``."""
    return Background(names, folder)
