"""One set of tests for every course model: ``genai-course evaluate`` and ``genai-course report``.

``evaluate_model`` draws samples from a trained model and runs the tests of ``metrics`` that
apply to its kind of data, so that a GAN, a VAE and a diffusion model of the same data are
judged on exactly the same protocol (lesson 11):

* **digits** (``DIGITS_N`` = 1,000 samples; conditional models draw every class in turn, a
  conditional diffusion model with its default guidance and DDIM with 50 steps): the judge's
  confident fraction, class entropy, label accuracy and feature distance; k-NN precision and
  recall on the judge's convolutional features (300 samples against the 300 held-out digits); the two-sample
  test (samples rounded to the data's 17 grey levels, against training digits); train on
  synthetic, test on real (conditional models); the memorization audit in pixels;
* **points** (2,500 samples): modes captured, high-quality fraction and reverse KL; precision
  and recall and the two-sample test against 2,500 fresh draws from the mixture;
* **names** (one sample per held-out name, 1,097, drawn for that name's language at
  temperature 1, the model's own distribution): held-out NLL per character; the language
  judge's accuracy (fitted on the training names) on all samples, on the new ones only, and on
  the real held-out names as the reference; novelty;
* every model: samples per second (the timed sampling above) and training steps per second
  (from the checkpoint: steps over the seconds its training took).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from . import data, metrics

__all__ = ["DIGITS_N", "POINTS_N", "COLUMNS", "Evaluation", "evaluate_model", "evaluate_checkpoint", "markdown_table", "report_markdown", "plot_report"]

DIGITS_N = 1000
POINTS_N = 2500
PR_N = 300  # precision and recall compare equal sets: the 300 held-out digits and 300 samples

# Every score a report can hold, in table order: key -> (header, format, what it means).
COLUMNS: dict[str, tuple[str, str, str]] = {
    "modes": ("modes", "{:.0f}", "modes captured (points)"),
    "high_quality": ("high-quality", "{:.1%}", "share of points within 3 std of a mode"),
    "reverse_kl": ("reverse KL", "{:.3f}", "KL(sample histogram over modes || uniform)"),
    "confident": ("confident", "{:.1%}", "share of digits the judge is more than 90% sure of"),
    "class_entropy": ("class entropy", "{:.3f}", "entropy of the judged classes / log 10"),
    "label_accuracy": ("label accuracy", "{:.1%}", "share judged as the class asked for"),
    "frechet": ("feature distance", "{:.1f}", "Fréchet distance of judge features to held-out digits (real training digits: about 26)"),
    "precision": ("precision", "{:.1%}", "k-NN precision (k = 3): samples that look real"),
    "recall": ("recall", "{:.1%}", "k-NN recall (k = 3): real examples the samples cover"),
    "two_sample": ("two-sample acc.", "{:.1%}", "held-out accuracy of a fresh discriminator (50% = indistinguishable)"),
    "tstr": ("train synth./test real", "{:.1%}", "accuracy on real held-out digits of a classifier trained on samples"),
    "tstr_reference": ("same, trained real", "{:.1%}", "the same classifier trained on as many real digits"),
    "nn_ratio": ("NN ratio", "{:.2f}", "median distance to the nearest training digit, samples / held-out real"),
    "copies": ("copies", "{:.1%}", "samples nearer a training digit than 99% of held-out digits are"),
    "heldout_nll": ("held-out NLL", "{:.3f}", "nats per character on held-out names"),
    "judge_accuracy": ("language judged", "{:.1%}", "share of names judged to be in the language asked for"),
    "judge_accuracy_new": ("new names judged", "{:.1%}", "the same for the names that are not training names"),
    "judge_real": ("real names judged", "{:.1%}", "the same judge on the real held-out names (the reference; it was fitted on the training names)"),
    "novelty": ("novelty", "{:.1%}", "share of names that are not training names"),
    "samples_per_s": ("samples/s", "{:,.0f}", "generation speed"),
    "train_steps_per_s": ("train steps/s", "{:.1f}", "training speed"),
    "train_seconds": ("training s", "{:.1f}", "training time"),
}


@dataclass
class Evaluation:
    """A model's scores (keys of ``COLUMNS``; None where a test does not apply) and how they were taken."""

    model: str
    seed: int
    kind: str  # "digits", "points" or "names"
    scores: dict[str, float | None] = field(default_factory=dict)
    protocol: str = ""  # how the samples were drawn
    seconds: float = 0.0  # time the evaluation took

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "seed": self.seed, "kind": self.kind, "protocol": self.protocol,
                "seconds": round(self.seconds, 2), "scores": self.scores}

    def __str__(self) -> str:
        lines = [f"{self.model} (seed {self.seed}; {self.protocol})"]
        for key, value in self.scores.items():
            if value is not None:
                header, fmt, meaning = COLUMNS[key]
                lines.append(f"  {header:>22}  {fmt.format(value):>9}   {meaning}")
        lines.append(f"evaluated in {self.seconds:.1f} s")
        return "\n".join(lines)


def _timed(draw: Any, n: int, generator: torch.Generator) -> tuple[Any, float]:
    """``draw(n, generator)`` timed, after a 2-sample warm-up with its own generator (so the
    samples are the ones `genai-course sample --seed S` writes): (samples, samples per second)."""
    with torch.no_grad():
        draw(2, torch.Generator().manual_seed(1))
    return metrics.timed_sample(lambda k: draw(k, generator), n, warmup=0)


def _first(kwargs: dict[str, Any], k: int) -> dict[str, Any]:
    return {key: v[:k] if isinstance(v, torch.Tensor) else v for key, v in kwargs.items()}


def _training(model: Any) -> dict[str, float | None]:
    seconds = float(getattr(model.history, "seconds", 0.0) or 0.0)
    steps = int(getattr(model, "step", 0) or 0)
    return {"train_steps_per_s": steps / seconds if seconds > 0 and steps > 0 else None, "train_seconds": seconds or None}


def _digits(model: Any, n: int, seed: int) -> tuple[dict[str, float | None], str]:
    from .models import TrainedDDPM

    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % model.num_classes if model.conditional else None
    options: dict[str, Any] = {}
    protocol = f"{n} samples" + (", every class in turn" if labels is not None else "")
    if isinstance(model, TrainedDDPM):
        options = {"sampler": "ddim", "steps": 50}
        protocol += ", DDIM with 50 steps" + (f", guidance {model.recipe.guidance:g}" if labels is not None else "")
    kwargs = {"labels": labels} if labels is not None else {}
    draw = lambda k, gen: model.sample(k, generator=gen, **_first(kwargs, k), **options)  # noqa: E731
    x, speed = _timed(draw, n, g)
    x = x.detach().float().cpu().clamp(0, 1)
    digits = data.load_digits()
    judge = metrics.digit_classifier()
    report = metrics.digit_metrics(x, labels, classifier=judge)
    with torch.no_grad():
        pr = metrics.precision_recall(judge.conv_features(digits.x_test), judge.conv_features(x[:PR_N]))
    quantized = (x * 16).round() / 16  # the data's 17 grey levels: else the pixels' values alone give samples away
    two = metrics.two_sample_test(digits.x_train, quantized, seed=seed)
    tstr = metrics.train_on_synthetic(x, labels, seed=seed) if labels is not None else None
    memo = metrics.memorization(x, digits.x_train, digits.x_test)
    scores = {
        "confident": report.confident, "class_entropy": report.class_entropy, "label_accuracy": report.label_accuracy,
        "frechet": report.frechet, "precision": pr.precision, "recall": pr.recall, "two_sample": two.accuracy,
        "tstr": tstr.accuracy if tstr else None, "tstr_reference": tstr.reference if tstr else None,
        "nn_ratio": memo.ratio, "copies": memo.copies, "samples_per_s": speed,
    }
    return scores, protocol


def _points(model: Any, n: int, seed: int) -> tuple[dict[str, float | None], str]:
    mixture = model.mixture
    x, speed = _timed(lambda k, gen: model.sample(k, generator=gen), n, torch.Generator().manual_seed(seed))
    x = x.detach().float().cpu()
    real = mixture.sample(n, generator=torch.Generator().manual_seed(10_000 + seed))
    modes = metrics.mode_metrics(x, mixture)
    pr = metrics.precision_recall(real, x)
    two = metrics.two_sample_test(real, x, seed=seed)
    scores = {"modes": float(modes.modes), "high_quality": modes.hq_fraction, "reverse_kl": modes.reverse_kl,
              "precision": pr.precision, "recall": pr.recall, "two_sample": two.accuracy, "samples_per_s": speed}
    return scores, f"{n} samples against {n} fresh draws of {mixture.name}"


def _names(model: Any, n: int | None, seed: int) -> tuple[dict[str, float | None], str]:
    from .models.text import EVALUATE_TEMPERATURE

    lang = model.heldout_languages(n)  # (n,): the held-out names' languages (all of them for None)
    draw = lambda k, gen: model.sample(k, generator=gen, labels=lang[:k], temperature=EVALUATE_TEMPERATURE)  # noqa: E731
    names, speed = _timed(draw, len(lang), torch.Generator().manual_seed(seed))
    report = model.report(names, lang)
    scores = {"heldout_nll": report.heldout_nll, "judge_accuracy": report.judge_accuracy,
              "judge_accuracy_new": report.judge_accuracy_new, "judge_real": report.judge_real,
              "novelty": report.novelty, "samples_per_s": speed}
    which = "one per held-out name" if n is None else f"in the languages of {n} evenly spaced held-out names"
    return scores, f"{len(lang)} names at temperature {EVALUATE_TEMPERATURE:g}, {which}"


def evaluate_model(model: Any, *, n: int | None = None, seed: int = 0) -> Evaluation:
    """Run every test that applies to a trained course model (see the module's docstring).

    ``n``: samples to draw (default 1,000 digits, 2,500 points, one name per held-out name: 1,097).
    """
    from .models import TrainedCharLM

    if n is not None and (not isinstance(n, int) or n < 20):
        raise ValueError(f"n must be a whole number of at least 20 samples (got {n!r})")
    t0 = time.perf_counter()
    if isinstance(model, TrainedCharLM):
        kind, (scores, protocol) = "names", _names(model, n, seed)
    elif getattr(model, "mixture", None) is not None:
        kind, (scores, protocol) = "points", _points(model, n or POINTS_N, seed)
    else:
        kind, (scores, protocol) = "digits", _digits(model, n or DIGITS_N, seed)
    scores.update(_training(model))
    return Evaluation(model.name, int(model.seed), kind, scores, protocol, time.perf_counter() - t0)


def evaluate_checkpoint(path: str | Path, *, n: int | None = None, seed: int = 0) -> Evaluation:
    """Load a checkpoint written by ``genai-course train`` and evaluate it."""
    from .models import load_model

    return evaluate_model(load_model(str(path)), n=n, seed=seed)


def _cell(key: str, value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return COLUMNS[key][1].format(value)


def markdown_table(evaluations: Sequence[Evaluation]) -> str:
    """One Markdown table of every evaluation, with the columns any of them has (in ``COLUMNS`` order)."""
    if not evaluations:
        raise ValueError("no evaluations to tabulate")
    keys = [k for k in COLUMNS if any(e.scores.get(k) is not None for e in evaluations)]
    lines = [
        "| model | seed | " + " | ".join(COLUMNS[k][0] for k in keys) + " |",
        "|---|---:|" + "---:|" * len(keys),
    ]
    for e in evaluations:
        lines.append(f"| {e.model} | {e.seed} | " + " | ".join(_cell(k, e.scores.get(k)) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def report_markdown(evaluations: Sequence[Evaluation], figure: str | None = None) -> str:
    """The report ``genai-course report`` writes: the table, the figure, what each column means
    and how each model's samples were drawn."""
    table = markdown_table(evaluations)
    used = {k for e in evaluations for k, v in e.scores.items() if v is not None}
    legend = "".join(f"- **{header}**: {meaning}\n" for key, (header, _, meaning) in COLUMNS.items() if key in used)
    protocols = "".join(f"- {e.model} (seed {e.seed}): {e.protocol}; evaluated in {e.seconds:.1f} s\n" for e in evaluations)
    picture = f"![precision against recall; two-sample accuracy against speed]({figure})\n\n" if figure else ""
    return f"# Course models compared\n\n{table}\n{picture}## Columns\n\n{legend}\n## Samples\n\n{protocols}"


def plot_report(evaluations: Sequence[Evaluation], path: str | Path | None = None) -> Any:
    """Two panels: precision against recall, and two-sample accuracy against samples per second
    (log scale), one point per model in the same colour in both, named in one legend. Saved to ``path`` (PNG) if given; returns the figure."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.4))
    markers = {"digits": "o", "points": "^", "names": "s"}
    colors = plt.get_cmap("tab10" if len(evaluations) <= 10 else "tab20")
    for i, e in enumerate(evaluations):  # one colour and marker per model in both panels, named in one legend
        s = e.scores
        style = {"marker": markers[e.kind], "color": colors(i % colors.N), "s": 40}
        if s.get("precision") is not None:
            ax1.scatter(s["recall"], s["precision"], label=f"{e.model} ({e.seed})", **style)
        if s.get("two_sample") is not None and s.get("samples_per_s"):
            ax2.scatter(s["samples_per_s"], s["two_sample"], label=None if s.get("precision") is not None else f"{e.model} ({e.seed})", **style)
    ax1.set(xlim=(0, 1.05), ylim=(0, 1.05), xlabel="recall (coverage of real examples)", ylabel="precision (samples that look real)",
            title="Quality against coverage (k-NN, k = 3)")
    ax1.plot([1], [1], "k*", ms=10, label="ideal")
    ax2.axhline(0.5, color="gray", ls="--", lw=1)
    ax2.set(xscale="log", ylim=(0.4, 1.02), xlabel="samples per second (log scale)", ylabel="two-sample test accuracy",
            title="Telling samples from real (0.5 = cannot)")
    handles = [h for ax in (ax1, ax2) for h in ax.get_legend_handles_labels()[0]]
    labels = [t for ax in (ax1, ax2) for t in ax.get_legend_handles_labels()[1]]
    fig.legend(handles, labels, loc="center right", fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 0.86, 1))
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
