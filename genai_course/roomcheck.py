"""``genai-course check``: is this machine ready for the workshop?

One line per item, marked ✔ (ready), ! (works, but read the advice) or ✘ (not ready), then a
verdict. Exit code 0 when no item is ✘, 1 otherwise, so a room can be checked by script.

The items: Python, PyTorch (a CPU build of a release the course admits), JupyterLab, the
widgets (the Python package and the JupyterLab front end that draws them), matplotlib, the
Python kernel, the course's offline data, the CPU threads (too many threads for the cores,
or other programs already keeping the cores busy, make the small networks of the course
several times slower), the device, a smoke training of lesson 05's GAN for a few seconds
(how long lesson 05's main training would take here), and the pretrained runs, if any.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

__all__ = ["Item", "run_checks", "main", "LESSON_BUDGET_S"]

LESSON_BUDGET_S = 90.0  # no training cell may take longer on 2 cores (COURSE.md's budget)
OK, WARN, FAIL = "ok", "warn", "fail"
_MARKS = {OK: ("✔", "\x1b[32m"), WARN: ("!", "\x1b[33m"), FAIL: ("✘", "\x1b[31m")}


@dataclass(frozen=True)
class Item:
    """One line of the room check: status is "ok", "warn" or "fail"."""

    name: str
    status: str
    detail: str


def _version(module: str) -> str | None:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except Exception:
        return None


def _python() -> Item:
    v = sys.version_info
    ok = v >= (3, 11)
    return Item("Python", OK if ok else FAIL, sys.version.split()[0] + ("" if ok else " (the course needs 3.11 or newer)"))


def _torch() -> Item:
    version = _version("torch")
    if version is None:
        return Item("PyTorch", FAIL, "missing: run `make setup` (it installs the CPU build torch==2.13.0)")
    import torch

    major, minor = (int(p) for p in version.split("+")[0].split(".")[:2])
    build = "CUDA build" if torch.version.cuda else "CPU build"
    if (major, minor) < (2, 2) or (major, minor) >= (2, 14):
        return Item("PyTorch", FAIL, f"{version} ({build}): the course is tested on 2.2-2.13; run `make setup`")
    return Item("PyTorch", OK, f"{version} ({build})")


def _package(module: str, name: str, how: str) -> Item:
    version = _version(module)
    return Item(name, OK if version else FAIL, version or f"missing: {how}")


def _widget_front_end() -> Item:
    """The JupyterLab extension that draws ipywidgets: without it sliders show as plain text."""
    from jupyter_core.paths import jupyter_path

    for folder in jupyter_path("labextensions"):
        manifest = Path(folder) / "@jupyter-widgets" / "jupyterlab-manager" / "package.json"
        if manifest.is_file():
            version = json.loads(manifest.read_text()).get("version", "?")
            return Item("widgets front end", OK, f"@jupyter-widgets/jupyterlab-manager {version}")
    return Item("widgets front end", FAIL, "missing: pip install jupyterlab_widgets, then restart JupyterLab (sliders show as text without it)")


def _kernel() -> Item:
    from jupyter_client.kernelspec import find_kernel_specs

    specs = find_kernel_specs()
    if "python3" not in specs:
        return Item("Python kernel", FAIL, "no python3 kernel: python -m ipykernel install --user")
    return Item("Python kernel", OK, f"python3 ({specs['python3']})")


def _data() -> Item:
    try:
        from . import data, text

        digits = data.load_digits()
        names = text.load_names()
    except Exception as e:
        return Item("course data", FAIL, f"failed: {type(e).__name__}: {e}")
    return Item("course data", OK, f"{len(digits.x_train) + len(digits.x_test):,} digits, names in {len(names.locales)} languages (offline)")


def _threads(load: Callable[[], float] | None = None, cores: int | None = None,
             env: Mapping[str, str] | None = None) -> Item:
    """The threads a lesson's kernel will use (``threads.recommended("lesson")``), against the
    cores and what else keeps them busy (the 1-minute load average)."""
    from . import threads

    cores = threads.usable_cores() if cores is None else cores
    try:
        wanted = threads.recommended("lesson", cores, env)
    except ValueError as e:
        return Item("threads", FAIL, str(e))
    detail = threads.explain("lesson", cores, env)
    if wanted > cores:
        return Item("threads", WARN, f"{detail}: more threads than cores slows every step; unset it or set "
                    f"{threads.ENV}={threads.recommended('lesson', cores, {})}")
    try:
        busy = (load or (lambda: os.getloadavg()[0]))()
    except (AttributeError, OSError):  # no load average on Windows
        return Item("threads", OK, detail)
    if busy > cores - 0.5:
        return Item("threads", WARN, f"{detail}, but the load is already {busy:.1f}: other programs are using the CPU "
                    "(close them; training here would be several times slower)")
    return Item("threads", OK, f"{detail}, load {busy:.1f}")


def _device() -> Item:
    import torch

    extra = " (a GPU is there; the course runs on the CPU unless asked: --device auto)" if torch.cuda.is_available() else ""
    return Item("device", OK, f"cpu{extra}")


def _smoke(seconds: float, fallback: bool) -> Item:
    """Train lesson 05's GAN (gan-grid25) for ``seconds``, on the threads a lesson uses; estimate its whole lesson run."""
    try:
        from . import models, threads

        threads.use("lesson")

        model = models.build("gan-grid25", seed=0)
        lesson_steps = model.recipe.train.steps  # read now: fit(steps=...) below rewrites it
        model.fit(steps=20, progress=False)  # warm-up, not timed
        start, done = time.perf_counter(), model.step
        while time.perf_counter() - start < seconds:
            model.fit(steps=model.step + 50, progress=False)
        rate = (model.step - done) / (time.perf_counter() - start)
    except Exception as e:  # the room check must report, not crash
        return Item("smoke training", FAIL, f"failed: {type(e).__name__}: {e}")
    full = lesson_steps / rate
    detail = f"{rate:.0f} steps/s: lesson 05's {lesson_steps:,}-step training would take about {full:.0f} s"
    if full <= LESSON_BUDGET_S:
        return Item("smoke training", OK, detail)
    if full <= 2 * LESSON_BUDGET_S or fallback:
        return Item("smoke training", WARN, f"{detail} (budget {LESSON_BUDGET_S:.0f} s): use the pretrained runs, PRETRAINED = True")
    return Item("smoke training", FAIL, f"{detail}, over twice the {LESSON_BUDGET_S:.0f} s budget: "
                "copy in pretrained runs (`genai-course pretrain --all` on a faster machine) and set PRETRAINED = True")


def _pretrained(folder: Path | None) -> tuple[Item, bool]:
    """(the line, whether every lesson run is there and intact)."""
    from . import checkpoints, pretrained

    if folder is None or not folder.is_dir():
        return Item("pretrained runs", OK, "none (optional: `genai-course pretrain --all` for slow laptops)"), False
    manifest = folder / checkpoints.MANIFEST
    if not manifest.is_file():
        return Item("pretrained runs", FAIL, f"{folder} has no {checkpoints.MANIFEST}: rerun `genai-course pretrain --all`"), False
    try:
        checkpoints.verify_manifest(manifest)
    except checkpoints.CheckpointError as e:
        return Item("pretrained runs", FAIL, f"{e}"), False
    have = sum((folder / r.file).is_file() for r in pretrained.LESSON_RUNS)
    total = len(pretrained.LESSON_RUNS)
    status = OK if have == total else WARN
    more = "" if have == total else ": the others train in the lesson (`genai-course pretrain --all` adds them)"
    return Item("pretrained runs", status, f"{have} of {total} lesson runs in {folder}, manifest OK{more}"), have == total


def run_checks(smoke_seconds: float = 5.0, pretrained_folder: Path | None = None) -> list[Item]:
    """Every item, in order. ``pretrained_folder``: where the lessons would look (default: as they do)."""
    items = [_python(), _torch()]
    for module, name, how in (("jupyterlab", "JupyterLab", "pip install jupyterlab (make setup installs it)"),
                              ("ipywidgets", "ipywidgets", "pip install ipywidgets"),
                              ("matplotlib", "matplotlib", "pip install matplotlib")):
        items.append(_package(module, name, how))
    items += [_widget_front_end(), _kernel()]
    if items[1].status == FAIL:
        return items  # the rest needs PyTorch
    from . import models

    folder = pretrained_folder if pretrained_folder is not None else models.pretrained_folder(True)
    pre, complete = _pretrained(folder)
    items += [_data(), _threads(), _device(), _smoke(smoke_seconds, fallback=complete), pre]
    return items


def main(smoke_seconds: float = 5.0, pretrained_folder: Path | None = None) -> int:
    """Print the room check; 0 if the room is ready (no ✘), 1 if not."""
    color = sys.stdout.isatty()
    items = run_checks(smoke_seconds, pretrained_folder)
    for item in items:
        mark, code = _MARKS[item.status]
        print(f"{code}{mark}\x1b[0m" if color else mark, f"{item.name:<18} {item.detail}")
    failed = [i.name for i in items if i.status == FAIL]
    warned = [i.name for i in items if i.status == WARN]
    if failed:
        print(f"room NOT ready: fix the ✘ lines ({', '.join(failed)})")
    else:
        print("room ready" + (f", with advice on: {', '.join(warned)}" if warned else ""))
    return 1 if failed else 0
