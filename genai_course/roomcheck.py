"""``genai-course check``: is this machine ready for the workshop?

Prints one green or red line per item and returns 0 only if every item passed.
"""

from __future__ import annotations

import importlib
import os
import sys
import time

__all__ = ["main"]

GREEN, RED, RESET = "\x1b[32m", "\x1b[31m", "\x1b[0m"


def _line(ok: bool, item: str, detail: str) -> bool:
    mark = f"{GREEN}✔{RESET}" if ok else f"{RED}✘{RESET}"
    print(f"{mark} {item:<22} {detail}")
    return ok


def _version(module: str) -> str | None:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except Exception:
        return None


def main(smoke_seconds: float = 5.0) -> int:
    """Run every item; 0 if the room is ready, 1 if not."""
    results = [_line(sys.version_info >= (3, 10), "Python", sys.version.split()[0] + ("" if sys.version_info >= (3, 10) else " (need 3.10 or newer)"))]
    torch_version = _version("torch")
    results.append(_line(torch_version is not None, "PyTorch", torch_version or "missing: make setup (or pip install torch==2.13.0)"))
    for module, name in (("jupyterlab", "JupyterLab"), ("ipywidgets", "ipywidgets"), ("jupyterlab_widgets", "widgets front end"), ("matplotlib", "matplotlib")):
        version = _version(module)
        results.append(_line(version is not None, name, version or f"missing: pip install {module}"))
    if torch_version is None:
        return 1
    import torch

    results.append(_line(True, "threads", f"{torch.get_num_threads()} PyTorch threads on {os.cpu_count()} cores"))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    results.append(_line(True, "device", f"{device} (the course runs on the CPU)"))
    try:
        from . import models

        model = models.build("gan-ring8", seed=0)
        lesson_steps = model.recipe.train.steps  # read now: fit(steps=...) below rewrites it
        start, steps = time.perf_counter(), 0
        while time.perf_counter() - start < smoke_seconds:
            model.fit(steps=model.step + 50, progress=False)
            steps = model.step
        rate = steps / (time.perf_counter() - start)
        full = lesson_steps / rate if rate else float("inf")
        ok = full <= 180
        results.append(_line(ok, "smoke training", f"{rate:.0f} steps/s: a lesson-05 run takes about {full:.0f} s" + ("" if ok else " (slow: use the pretrained checkpoints)")))
    except Exception as e:  # the room check must report, not crash
        results.append(_line(False, "smoke training", f"failed: {type(e).__name__}: {e}"))
    ready = all(results)
    print(("room ready" if ready else "room NOT ready: fix the red lines above"))
    return 0 if ready else 1
