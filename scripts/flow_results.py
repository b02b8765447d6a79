#!/usr/bin/env python3
"""The README's quality-against-network-calls tables (lesson 16): DDPM/DDIM, flow matching and
reflowed rectified flow on the grid of 25; latent flow against the pixel-space DDPM on the digits.

    python scripts/flow_results.py [--seeds 0 1 2] [--n 2000] [--out runs/flow-bench]

For each seed: ddpm-grid25 (lesson 10), flow-grid25 and rectified-grid25 (reflowing that flow-grid25
run), each with its lesson recipe, swept over 1, 2, 4, 8, 16, 32 and 100 network calls
(`stepcount.sweep`, `--n` samples from the same noise; DDIM for the DDPM, Euler and midpoint for the
flows; the DDPM's 200-step ancestral sampler beside them) and scored with lesson 01's measures; then,
for seed 0, latent-flow-digits (in vae-digits' latents, 3,000 steps) against ddpm-digits (lesson 10),
500 digits, every label in turn, at 1, 4, 10 and 32 calls and the DDPM's 200. Seed 0's runs are the
lessons' pretrained ones when `genai-course pretrain 16` has made them; other seeds are trained here.
Seconds are wall clock for one batch; training seconds come from each run's history. Writes OUT/report.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--out", default=str(ROOT / "runs" / "flow-bench"))
    args = parser.parse_args()

    import torch

    from genai_course import models, stepcount, threads

    threads.use("lesson")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    rows_by_seed, trained = {}, {}
    for seed in args.seeds:
        pre = seed == 0  # the lessons' runs are seed 0
        ddpm = models.build("ddpm-grid25", seed=seed)
        ddpm.fit(pretrained=pre, progress=False)
        fm = models.build("flow-grid25", seed=seed)
        fm.fit(pretrained=pre, progress=False)
        rect = models.build("rectified-grid25", seed=seed)
        rect.use_teacher(fm)
        rect.fit(pretrained=pre, progress=False)
        trained[seed] = {m.name: m.history.seconds for m in (ddpm, fm, rect)}
        rows_by_seed[seed] = stepcount.sweep({"ddpm-grid25": ddpm, "flow-grid25": fm, "rectified-grid25": rect}, stepcount.CALLS, n=args.n,
                                             extra={"ddpm-grid25": [("ancestral-200", {"sampler": "ancestral"})]})
        print(f"seed {seed}: {time.time() - start:.0f} s", file=sys.stderr, flush=True)

    lines = ["# Quality against network calls (lesson 16)", "",
             f"`python scripts/flow_results.py --seeds {' '.join(map(str, args.seeds))} --n {args.n}`; {args.n} samples per row, "
             "the same starting noise for every row of a seed; modes reached of 25 / high-quality fraction / reverse KL"
             + (" (median over seeds, min..max)" if len(args.seeds) > 1 else "") + "; seconds per 1,000 samples (median).", ""]

    def cell(values: list[float], fmt: str) -> str:
        med = statistics.median(values)
        return format(med, fmt) if len(values) == 1 else f"{format(med, fmt)} ({format(min(values), fmt)}..{format(max(values), fmt)})"

    lines += ["| model | sampler | calls | modes | high-quality | reverse KL | s / 1,000 |", "|---|---|---|---|---|---|---|"]
    first = rows_by_seed[args.seeds[0]]
    for i, row in enumerate(first):
        rs = [rows_by_seed[s][i] for s in args.seeds]
        lines.append(f"| {row.model} | {row.sampler} | {row.calls} | {cell([r.scores['modes'] for r in rs], '.0f')} | "
                     f"{cell([r.scores['hq'] for r in rs], '.3f')} | {cell([r.scores['reverse_kl'] for r in rs], '.3f')} | "
                     f"{cell([r.seconds_per_1000 for r in rs], '.3f')} |")
    lines += ["", "Training seconds (from each run's history; seed 0's are the pretrained runs'): "
              + "; ".join(f"seed {s}: " + ", ".join(f"{k} {v:.1f}" for k, v in t.items()) for s, t in trained.items()), ""]

    vae = models.build("vae-digits")
    vae.fit(steps=3000, pretrained=True, progress=False)
    lat = models.build("latent-flow-digits")
    lat.use_vae(vae)
    lat.fit(pretrained=True, progress=False)
    ddpm_digits = models.build("ddpm-digits")
    ddpm_digits.fit(pretrained=True, progress=False)
    labels = torch.arange(500) % 10
    digit_rows = stepcount.sweep({"latent-flow-digits": lat, "ddpm-digits": ddpm_digits}, (1, 4, 10, 32), n=500, labels=labels,
                                 extra={"ddpm-digits": [("ancestral-200", {"sampler": "ancestral"})]})
    lines += ["Digits, 500 (every label in turn; latent flow guided at 1, the DDPM at 2, their recipes' scales): the digit judge's "
              "confident fraction, label accuracy, Frechet distance of its features (real test digits: lower is closer).", "",
              "| model | sampler | calls | confident | label accuracy | Frechet | s / 1,000 |", "|---|---|---|---|---|---|---|"]
    for r in digit_rows:
        lines.append(f"| {r.model} | {r.sampler} | {r.calls} | {r.scores['confident']:.3f} | {r.scores['accuracy']:.3f} | "
                     f"{r.scores['frechet']:.1f} | {r.seconds_per_1000:.3f} |")
    lines += ["", f"Training seconds: vae-digits (3,000 steps) {vae.history.seconds:.1f}, latent-flow-digits {lat.history.seconds:.1f}, "
              f"ddpm-digits {ddpm_digits.history.seconds:.1f}; {time.time() - start:.0f} s in all.", ""]
    (out / "report.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
