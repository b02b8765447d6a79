"""Quality against network calls (lesson 16): draw samples of a trained diffusion or flow model with
a given number of network calls, score them with the course's measures, and time them.

A *network call* is one forward pass of the model's network over the whole batch (a guided call
runs the labelled and label-free inputs side by side in that one pass). K calls are K DDIM steps
for a DDPM, K Euler steps or K/2 midpoint steps for a flow model. Points are scored with lesson
01's mode measures (modes reached, high-quality fraction, reverse KL), digits with the digit
judge (confident fraction, label accuracy, Frechet distance of its features).

Sits on floor 4 (with ``evaluate``): it samples registry models (``models``) and scores them
(``metrics``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import torch

from . import metrics
from .flow import METHODS
from .models import TrainedDDPM, TrainedFlow

__all__ = ["CALLS", "StepRow", "samplers", "draw", "score", "sweep", "format_rows"]

CALLS = (1, 2, 4, 8, 16, 32, 100)  # the network calls lesson 16's table compares


@dataclass
class StepRow:
    """One model sampled one way: ``calls`` network calls per sample with ``sampler`` ("ddim-4",
    "euler-4", "midpoint-2", "ancestral-200"); the scores (points: modes, hq, reverse_kl; digits:
    confident, accuracy, frechet) and the seconds per 1,000 samples (one batch, wall clock)."""

    model: str
    sampler: str
    calls: int
    seconds_per_1000: float
    scores: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def samplers(model: Any, calls: int) -> list[tuple[str, dict[str, Any]]]:
    """The ways ``model`` can spend exactly ``calls`` network calls a sample, as (label, sample options):
    DDIM with ``calls`` steps (a DDPM; at most its T); Euler with ``calls`` steps and, for an even
    number, midpoint with ``calls`` / 2 (a flow model)."""
    if not isinstance(calls, int) or isinstance(calls, bool) or calls < 1:
        raise ValueError(f"calls must be a whole number >= 1 (got {calls!r})")
    if isinstance(model, TrainedDDPM):
        if calls > model.schedule.T:
            return []
        return [(f"ancestral-{calls}", {"sampler": "ancestral"})] if calls == model.schedule.T else [(f"ddim-{calls}", {"sampler": "ddim", "steps": calls})]
    if isinstance(model, TrainedFlow):
        out = [(f"euler-{calls}", {"method": "euler", "steps": calls})]
        if calls % METHODS["midpoint"] == 0:
            out.append((f"midpoint-{calls // 2}", {"method": "midpoint", "steps": calls // 2}))
        return out
    raise ValueError(f"{type(model).__name__} is neither a diffusion nor a flow model")


def draw(model: Any, n: int, options: dict[str, Any], *, seed: int = 0, labels: Any = None) -> tuple[torch.Tensor, float]:
    """n samples of ``model`` with the sample ``options`` (one batch, seeded) and the seconds they took."""
    given = {} if labels is None else {"labels": labels}
    t0 = time.perf_counter()
    x = model.sample(n, generator=torch.Generator().manual_seed(seed), **given, **options)
    return x, time.perf_counter() - t0


def score(model: Any, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
    """Points: modes reached, high-quality fraction and reverse KL (``metrics.mode_metrics``) on the
    model's mixture; digits: confident fraction, label accuracy and Frechet distance (``metrics.digit_metrics``)."""
    mixture = getattr(model, "mixture", None)
    if mixture is not None:
        r = metrics.mode_metrics(x, mixture)
        return {"modes": float(r.modes), "hq": float(r.hq_fraction), "reverse_kl": float(r.reverse_kl)}
    d = metrics.digit_metrics(x, labels)
    return {"confident": d.confident, "accuracy": float("nan") if d.label_accuracy is None else d.label_accuracy, "frechet": d.frechet}


def sweep(
    models: dict[str, Any], calls: Sequence[int] = CALLS, *, n: int = 2000, seed: int = 0, labels: Any = None,
    extra: dict[str, list[tuple[str, dict[str, Any]]]] | None = None,
) -> list[StepRow]:
    """Every model (name -> trained model) at every number of ``calls`` it can spend (``samplers``),
    n samples each (the same seed for all, so the same starting noise), scored and timed; ``extra``:
    more (label, options) per model name, e.g. lesson 10's 200-step ancestral sampler."""
    rows = []
    for name, model in models.items():
        ways = [(c, label, opts) for c in calls for label, opts in samplers(model, c)]
        for label, opts in (extra or {}).get(name, []):
            ways.append((_calls_of(model, opts), label, opts))
        for c, label, opts in ways:
            x, seconds = draw(model, n, opts, seed=seed, labels=labels)
            y = None if labels is None else model.check_labels(labels, n)  # one label for all, or n of them
            rows.append(StepRow(name, label, c, 1000 * seconds / n, score(model, x, y)))
    return rows


def _calls_of(model: Any, options: dict[str, Any]) -> int:
    if isinstance(model, TrainedDDPM):
        return model.schedule.T if options.get("sampler") == "ancestral" else int(options["steps"])
    return int(options["steps"]) * METHODS[options.get("method", model.recipe.method)]


def format_rows(rows: Sequence[StepRow], *, timing: bool = True) -> str:
    """The rows as a fixed-width table, one line each (scores to 3 decimals; modes as whole numbers)."""
    keys = list(rows[0].scores) if rows else []
    head = f"{'model':<20} {'sampler':<14} {'calls':>5} " + " ".join(f"{k:>10}" for k in keys) + (f" {'s/1000':>8}" if timing else "")
    lines = [head]
    for r in rows:
        vals = " ".join(f"{r.scores[k]:>10.0f}" if k == "modes" else f"{r.scores[k]:>10.3f}" for k in keys)
        lines.append(f"{r.model:<20} {r.sampler:<14} {r.calls:>5} {vals}" + (f" {r.seconds_per_1000:>8.3f}" if timing else ""))
    return "\n".join(lines)
