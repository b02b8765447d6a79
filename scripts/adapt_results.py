#!/usr/bin/env python3
"""Lesson 14's comparison on three seeds: the README's "Keep learning: what each way of adapting costs".

    python scripts/adapt_results.py [--seeds 0 1 2] [--out runs/adapt]

For each seed s: the base `digits-0to8` (trained with seed s at its lesson defaults), the first
N = 5, 20, 100 training 9s of a seed-s order (``adapt.few_shot``), and the four methods at their
lesson settings (``adapt.AdaptConfig(seed=s)``), plus retraining from scratch on everything;
each judged by ``adapt.judge_adaptation`` (300 samples a class). Then the names model of
lesson 09 (seed s) learns Finnish from 50 names, against a model trained from scratch on them.

Writes DIR/report.md (Markdown tables: medians over the seeds with their min..max) and
DIR/results.json (every run). Times are this machine's, in seconds: noisy, quoted as medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from genai_course import adapt, models, threads, vae

SIZES = (5, 20, 100)
NAMES_CONFIG = {"steps": 300, "lr": 1e-3, "replay": 400}  # lesson 14's settings for the names model


def digits_runs(seed: int) -> list[dict]:
    base = models.train_model("digits-0to8", seed=seed, progress=False)
    rows = []
    for n in SIZES:
        shots = adapt.few_shot(n, seed=seed)
        before = adapt.judge_adaptation(base.vae, shots)
        for method in adapt.METHODS:
            a = adapt.adapt_vae(base.vae, shots, adapt.AdaptConfig(method=method, seed=seed))
            r = adapt.judge_adaptation(a.model, shots)
            rows.append({"seed": seed, "n": n, "method": method, "trainable": a.trainable, "bytes": a.adapter_bytes,
                         "seconds": a.seconds, "old_before": before.old_accuracy, **r.as_dict()})
        model, seconds = adapt.retrain_vae(shots, base.recipe.vae, base.recipe.train, seed=seed)
        r = adapt.judge_adaptation(model, shots)
        total = sum(p.numel() for p in model.parameters())
        rows.append({"seed": seed, "n": n, "method": "retrain", "trainable": total, "bytes": 4 * total,
                     "seconds": seconds, "old_before": before.old_accuracy, **r.as_dict()})
        print(f"seed {seed}, {n} examples: done", flush=True)
    return rows


def names_runs(seed: int) -> list[dict]:
    base = models.train_model("charlm-names", seed=seed, progress=False)
    vocab, k = base.data.vocab, len(base.data.locales)
    shots = adapt.few_names(vocab, k, 50, seed=seed)
    before = adapt.judge_names(base.model, vocab, shots, base.data.heldout)
    rows = []
    fresh = adapt.scratch_names(vocab, shots, base.recipe.model, adapt.AdaptConfig(seed=seed, **NAMES_CONFIG))
    r = adapt.judge_names(fresh.model, vocab, shots, None)
    rows.append({"seed": seed, "method": "scratch (50 names)", "trainable": fresh.trainable, "seconds": fresh.seconds,
                 "old_before": before.old_nll, **r.as_dict()})
    for method in adapt.METHODS:
        a = adapt.adapt_names(base.model, vocab, shots, adapt.AdaptConfig(method=method, seed=seed, **NAMES_CONFIG))
        r = adapt.judge_names(a.model, vocab, shots, base.data.heldout)
        rows.append({"seed": seed, "method": method, "trainable": a.trainable, "seconds": a.seconds,
                     "old_before": before.old_nll, **r.as_dict()})
    print(f"seed {seed}, names: done", flush=True)
    return rows


def spread(values: list[float], fmt: str) -> str:
    values = [v for v in values if v == v]
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1 or min(values) == max(values):
        return format(med, fmt)
    return f"{format(med, fmt)} ({format(min(values), fmt)}..{format(max(values), fmt)})"


def report(digits: list[dict], names: list[dict], seeds: list[int]) -> str:
    lines = [f"# Lesson 14 on seeds {', '.join(map(str, seeds))}: medians (min..max)", "",
             "Digits: a conditional VAE of 0-8 learns the 9s from N examples. Accuracy: the digit judge's share of "
             "300 samples a class put in the class asked for; distance: the feature (Fréchet) distance to the real "
             "digits of those classes (the 9s the model never saw); copies: 9s the memorization audit flags as "
             "copies of the N examples; 0-8 lost: accuracy points the old classes lost.", "",
             "| N | method | trainable | stored bytes | 9s accuracy | 9s distance | copies | 0-8 accuracy | 0-8 lost (points) | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for n in SIZES:
        for method in (*adapt.METHODS, "retrain"):
            rows = [r for r in digits if r["n"] == n and r["method"] == method]
            lost = [100 * (r["old_before"] - r["old_accuracy"]) for r in rows]
            lines.append(f"| {n} | {method} | {rows[0]['trainable']:,} | {rows[0]['bytes']:,} | "
                         f"{spread([100 * r['new_accuracy'] for r in rows], '.1f')}% | {spread([r['new_distance'] for r in rows], '.0f')} | "
                         f"{spread([100 * r['copies'] for r in rows], '.1f')}% | {spread([100 * r['old_accuracy'] for r in rows], '.1f')}% | "
                         f"{spread(lost, '.1f')} | {spread([r['seconds'] for r in rows], '.1f')} |")
    lines += ["", "Names: the names model of lesson 09 learns Finnish (fi_FI) from 50 names; held-out nats per character "
              "(lower is better) on the other Finnish names and on the old languages' held-out names.", "",
              "| method | trainable | Finnish nats/char | old languages nats/char (before) | seconds |", "|---|---|---|---|---|"]
    for method in ("scratch (50 names)", *adapt.METHODS):
        rows = [r for r in names if r["method"] == method]
        lines.append(f"| {method} | {rows[0]['trainable']:,} | {spread([r['new_nll'] for r in rows], '.3f')} | "
                     f"{spread([r['old_nll'] for r in rows], '.3f')} ({spread([r['old_before'] for r in rows], '.3f')}) | "
                     f"{spread([r['seconds'] for r in rows], '.1f')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs") / "adapt")
    args = parser.parse_args(argv)
    threads.use("command")
    start = time.perf_counter()
    digits = [row for s in args.seeds for row in digits_runs(s)]
    names = [row for s in args.seeds for row in names_runs(s)]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"digits": digits, "names": names}, indent=1))
    text = report(digits, names, args.seeds)
    (args.out / "report.md").write_text(text)
    print(text)
    print(f"{time.perf_counter() - start:.0f} s; wrote {args.out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
