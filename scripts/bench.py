"""Benchmark the GAN lessons' quality numbers: every model x seed, through the CLI.

    python scripts/bench.py [--models gan-ring8 gan-grid25] [--seeds 0 1 2] [--json FILE]

For each model and seed: `genai-course train MODEL --seed S`, then `sample -n 2500`, then
the PacGAN-protocol metrics. Prints a Markdown table (modes, high-quality fraction,
reverse KL, training seconds) and the targets each row must meet.
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


def run(model: str, seed: int, workdir: Path) -> dict:
    ckpt, samples = workdir / f"{model}-{seed}.pt", workdir / f"{model}-{seed}.npz"
    cli = [sys.executable, "-m", "genai_course"]
    subprocess.run([*cli, "train", model, "--seed", str(seed), "--out", str(ckpt), "--quiet"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*cli, "sample", str(ckpt), "-n", "2500", "--seed", str(seed), "--out", str(samples)], check=True, stdout=subprocess.DEVNULL)
    mixture = data.get_mixture(models.get_recipe(model).mixture)
    report = metrics.mode_metrics(torch.from_numpy(np.load(samples)["x"]), mixture)
    seconds = float(torch.load(ckpt, weights_only=True)["extra"]["seconds"])
    ok = report.modes == report.n_modes and report.hq_fraction >= TARGETS["hq_fraction"] and report.reverse_kl <= TARGETS["reverse_kl"] and seconds <= TARGETS["seconds"]
    return {"model": model, "seed": seed, **report.as_dict(), "seconds": seconds, "ok": ok}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(models.MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = []
    print("| model | seed | modes | high-quality | reverse KL | training s | meets targets |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            for seed in args.seeds:
                r = run(model, seed, Path(tmp))
                rows.append(r)
                print(f"| {model} | {seed} | {r['modes']}/{r['n_modes']} | {r['hq_fraction']:.1%} | {r['reverse_kl']:.4f} | {r['seconds']:.1f} | {'yes' if r['ok'] else 'NO'} |", flush=True)
    for model in args.models:
        mine = [r for r in rows if r["model"] == model]
        print(f"{model}: median high-quality {statistics.median(r['hq_fraction'] for r in mine):.1%}, "
              f"median reverse KL {statistics.median(r['reverse_kl'] for r in mine):.4f}, "
              f"median training {statistics.median(r['seconds'] for r in mine):.1f} s")
    print(f"targets: all modes, high-quality >= {TARGETS['hq_fraction']:.0%}, reverse KL <= {TARGETS['reverse_kl']}, training <= {TARGETS['seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
