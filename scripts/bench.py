"""Benchmark the GAN lessons' quality numbers: every model x seed, through the CLI.

    python scripts/bench.py [--models gan-ring8 cgan-digits ...] [--seeds 0 1 2] [--json FILE]

For each model and seed: `genai-course train MODEL --seed S`, then `sample`, then score:
2D models on the PacGAN protocol (2,500 samples: modes, high-quality fraction, reverse KL),
digit models with the course's digit classifier (1,000 samples, every class in turn for the
conditional models: confident fraction, class entropy, label accuracy, feature distance beside
the real-vs-real one), and VAEs also on the held-out digits' -ELBO and -IWAE (nats per image).
Prints one Markdown table per kind and the targets each row must meet.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from genai_course import data, metrics, models

TARGETS = {"hq_fraction": 0.90, "reverse_kl": 0.02, "seconds": 90.0}
DIGIT_TARGETS = {"confident": 0.85, "class_entropy": 0.98, "label_accuracy": 0.95, "seconds": 90.0}
VAE_TARGETS = {"neg_elbo": 23.5, "confident": 0.80, "class_entropy": 0.98, "label_accuracy": 0.95, "seconds": 90.0}


def train_and_sample(model: str, seed: int, n: int, workdir: Path) -> tuple[dict, float]:
    """`genai-course train MODEL --seed S`, then `sample -n N --seed S`: (the .npz arrays, training seconds)."""
    ckpt, samples = workdir / f"{model}-{seed}.pt", workdir / f"{model}-{seed}.npz"
    cli = [sys.executable, "-m", "genai_course"]
    subprocess.run([*cli, "train", model, "--seed", str(seed), "--out", str(ckpt), "--quiet"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*cli, "sample", str(ckpt), "-n", str(n), "--seed", str(seed), "--out", str(samples)], check=True, stdout=subprocess.DEVNULL)
    return dict(np.load(samples)), float(torch.load(ckpt, weights_only=True)["extra"]["seconds"])


def run_digits(model: str, seed: int, workdir: Path) -> dict:
    arrays, seconds = train_and_sample(model, seed, 1000, workdir)
    labels = torch.from_numpy(arrays["y"]) if "y" in arrays else None
    report = metrics.digit_metrics(torch.from_numpy(arrays["x"]), labels)
    t = DIGIT_TARGETS
    ok = report.confident >= t["confident"] and seconds <= t["seconds"]
    ok = ok and (report.class_entropy >= t["class_entropy"] if labels is None else report.label_accuracy >= t["label_accuracy"])
    return {"model": model, "seed": seed, **report.as_dict(), "seconds": seconds, "ok": ok}


def run_vae(model: str, seed: int, workdir: Path) -> dict:
    arrays, seconds = train_and_sample(model, seed, 1000, workdir)
    labels = torch.from_numpy(arrays["y"]) if "y" in arrays else None
    report = metrics.digit_metrics(torch.from_numpy(arrays["x"]), labels)
    held_out = models.load_model(str(workdir / f"{model}-{seed}.pt")).evaluate()
    t = VAE_TARGETS
    ok = report.confident >= t["confident"] and report.class_entropy >= t["class_entropy"] and seconds <= t["seconds"]
    ok = ok and (held_out.neg_elbo <= t["neg_elbo"] if labels is None else report.label_accuracy >= t["label_accuracy"])
    return {"model": model, "seed": seed, **report.as_dict(), "neg_elbo": held_out.neg_elbo, "neg_iwae": held_out.neg_iwae,
            "kl": held_out.kl, "seconds": seconds, "ok": ok}


def run(model: str, seed: int, workdir: Path) -> dict:
    arrays, seconds = train_and_sample(model, seed, 2500, workdir)
    mixture = data.get_mixture(models.get_recipe(model).mixture)
    report = metrics.mode_metrics(torch.from_numpy(arrays["x"]), mixture)
    ok = report.modes == report.n_modes and report.hq_fraction >= TARGETS["hq_fraction"] and report.reverse_kl <= TARGETS["reverse_kl"] and seconds <= TARGETS["seconds"]
    return {"model": model, "seed": seed, **report.as_dict(), "seconds": seconds, "ok": ok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(models.MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    unknown = [m for m in args.models if m not in models.MODELS]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}: choose from {', '.join(models.MODELS)}")
    points = [m for m in args.models if isinstance(models.get_recipe(m), models.GANRecipe)]
    vaes = [m for m in args.models if isinstance(models.get_recipe(m), models.VAERecipe)]
    digits = [m for m in args.models if m not in points and m not in vaes]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if points:
            print("| model | seed | modes | high-quality | reverse KL | training s | meets targets |")
            print("|---|---|---|---|---|---|---|")
        for model in points:
            for seed in args.seeds:
                r = run(model, seed, Path(tmp))
                rows.append(r)
                print(f"| {model} | {seed} | {r['modes']}/{r['n_modes']} | {r['hq_fraction']:.1%} | {r['reverse_kl']:.4f} | {r['seconds']:.1f} | {'yes' if r['ok'] else 'NO'} |", flush=True)
        for model in points:
            mine = [r for r in rows if r["model"] == model]
            print(f"{model}: median high-quality {statistics.median(r['hq_fraction'] for r in mine):.1%}, "
                  f"median reverse KL {statistics.median(r['reverse_kl'] for r in mine):.4f}, "
                  f"median training {statistics.median(r['seconds'] for r in mine):.1f} s")
        if points:
            print(f"targets: all modes, high-quality >= {TARGETS['hq_fraction']:.0%}, reverse KL <= {TARGETS['reverse_kl']}, training <= {TARGETS['seconds']:.0f} s\n")
        if digits:
            print("| model | seed | confident | class entropy | label accuracy | feature distance (real vs real) | training s | meets targets |")
            print("|---|---|---|---|---|---|---|---|")
        for model in digits:
            for seed in args.seeds:
                r = run_digits(model, seed, Path(tmp))
                rows.append(r)
                acc = "-" if r["label_accuracy"] is None else f"{r['label_accuracy']:.1%}"
                print(f"| {model} | {seed} | {r['confident']:.1%} | {r['class_entropy']:.3f} | {acc} | {r['frechet']:.1f} ({r['frechet_real']:.1f}) | {r['seconds']:.1f} | {'yes' if r['ok'] else 'NO'} |", flush=True)
        for model in digits:
            mine = [r for r in rows if r["model"] == model]
            print(f"{model}: median confident {statistics.median(r['confident'] for r in mine):.1%}, "
                  f"median training {statistics.median(r['seconds'] for r in mine):.1f} s")
        if digits:
            t = DIGIT_TARGETS
            print(f"targets: confident >= {t['confident']}, class entropy >= {t['class_entropy']} (dcgan), "
                  f"label accuracy >= {t['label_accuracy']} (cgan), training <= {t['seconds']:.0f} s")
        if vaes:
            print("\n| model | seed | held-out -ELBO | -IWAE(200) | KL | confident | class entropy | label accuracy | training s | meets targets |")
            print("|---|---|---|---|---|---|---|---|---|---|")
        for model in vaes:
            for seed in args.seeds:
                r = run_vae(model, seed, Path(tmp))
                rows.append(r)
                acc = "-" if r["label_accuracy"] is None else f"{r['label_accuracy']:.1%}"
                print(f"| {model} | {seed} | {r['neg_elbo']:.2f} | {r['neg_iwae']:.2f} | {r['kl']:.2f} | {r['confident']:.1%} | {r['class_entropy']:.3f} | {acc} | {r['seconds']:.1f} | {'yes' if r['ok'] else 'NO'} |", flush=True)
        for model in vaes:
            mine = [r for r in rows if r["model"] == model]
            print(f"{model}: median -ELBO {statistics.median(r['neg_elbo'] for r in mine):.2f}, "
                  f"median confident {statistics.median(r['confident'] for r in mine):.1%}, "
                  f"median training {statistics.median(r['seconds'] for r in mine):.1f} s")
        if vaes:
            t = VAE_TARGETS
            print(f"targets: -ELBO <= {t['neg_elbo']} nats (vae), confident >= {t['confident']}, class entropy >= {t['class_entropy']}, "
                  f"label accuracy >= {t['label_accuracy']} (cvae), training <= {t['seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
