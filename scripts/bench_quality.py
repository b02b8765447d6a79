"""The models' quality numbers: every model x seed, through the CLI (`make bench`'s "training" group).

    python scripts/bench_quality.py [--models gan-ring8 cgan-digits ...] [--seeds 0 1 2] [--json FILE] [--runs DIR]

For each model and seed: `genai-course train MODEL --seed S`, then `sample`, then score:
2D models on the PacGAN protocol (2,500 samples: modes, high-quality fraction, reverse KL),
digit models with the course's digit classifier (1,000 samples, every class in turn for the
conditional models: confident fraction, class entropy, label accuracy, feature distance beside
the real-vs-real one), VAEs also on the held-out digits' -ELBO and -IWAE (nats per image), and the
names model on held-out NLL per character (beside the bigram's) and on one name per held-out name,
drawn for its language at temperature 1 (`TrainedCharLM.evaluate`, generator seeded S), judged by
the language judge fitted on the training names beside the real held-out names (all samples and
the new ones only) and checked for copies of training names. Diffusion
models: points as the 2D GANs; digits on 1,000 samples without a label, and label accuracy of 100
per label without and with the recipe's classifier-free guidance.
Prints one Markdown table per kind and the quality targets each row must meet (training time is
in the tables too; `scripts/bench.py` holds it against its budget). With ``--runs DIR`` the
checkpoints are kept there and the run ends with lesson 11's comparison of all of them,
`genai-course report --runs DIR` (DIR/report.md and DIR/report.png).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from genai_course import data, metrics, models

TARGETS = {"hq_fraction": 0.90, "reverse_kl": 0.02}
# Issue 24 raised the targets (dcgan confident 0.85 -> 0.90, cgan label accuracy 0.95 -> 0.98, vae-digits -ELBO
# 23.5 -> 22.5 nats, ddpm-digits confident 0.80 -> 0.90); `make test` still holds the models to the earlier ones
# (tests/test_quality.py), which they meet. Its feature-distance targets are not scored here: the feature distance
# ranks real digits below the cGAN's samples even with a judge that saw neither (docs/tuning.md, scripts/yardstick.py).
DIGIT_TARGETS = {"confident": 0.90, "class_entropy": 0.98, "label_accuracy": 0.98, "cgan_confident": 0.85}
VAE_TARGETS = {"neg_elbo": 22.5, "confident": 0.80, "class_entropy": 0.98, "label_accuracy": 0.95}
TEXT_TARGETS = {"below_bigram": 0.15, "judge_real": 0.75, "judge_gap": 0.07, "novelty": 0.5}


def train_and_write(model: str, seed: int, n: int, workdir: Path, suffix: str) -> tuple[Path, float]:
    """`genai-course train MODEL --seed S`, then `sample -n N --seed S` into a ``suffix`` file: (it, training seconds)."""
    ckpt, samples = workdir / f"{model}-{seed}.pt", workdir / f"{model}-{seed}{suffix}"
    cli = [sys.executable, "-m", "genai_course"]
    subprocess.run([*cli, "train", model, "--seed", str(seed), "--out", str(ckpt), "--quiet"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*cli, "sample", str(ckpt), "-n", str(n), "--seed", str(seed), "--out", str(samples)], check=True, stdout=subprocess.DEVNULL)
    return samples, float(torch.load(ckpt, weights_only=True)["extra"]["seconds"])


def train_and_sample(model: str, seed: int, n: int, workdir: Path) -> tuple[dict, float]:
    """Images or points: (the .npz arrays, training seconds)."""
    samples, seconds = train_and_write(model, seed, n, workdir, ".npz")
    return dict(np.load(samples)), seconds


def _scores(model: str, seed: int, workdir: Path) -> tuple[dict, torch.Tensor | None, float]:
    """Digit models: the classifier's report on 1,000 samples (every class in turn if conditional)."""
    arrays, seconds = train_and_sample(model, seed, 1000, workdir)
    labels = torch.from_numpy(arrays["y"]) if "y" in arrays else None
    return metrics.digit_metrics(torch.from_numpy(arrays["x"]), labels).as_dict(), labels, seconds


def run_digits(model: str, seed: int, workdir: Path) -> dict:
    r, labels, seconds = _scores(model, seed, workdir)
    t = DIGIT_TARGETS
    if labels is None:
        ok = r["confident"] >= t["confident"] and r["class_entropy"] >= t["class_entropy"]
    else:
        ok = r["confident"] >= t["cgan_confident"] and r["label_accuracy"] >= t["label_accuracy"]
    return {"model": model, "seed": seed, **r, "seconds": seconds, "ok": ok}


def run_vae(model: str, seed: int, workdir: Path) -> dict:
    r, labels, seconds = _scores(model, seed, workdir)
    held_out = models.load_model(str(workdir / f"{model}-{seed}.pt")).evaluate()
    t = VAE_TARGETS
    ok = r["confident"] >= t["confident"] and r["class_entropy"] >= t["class_entropy"]
    ok = ok and (held_out.neg_elbo <= t["neg_elbo"] if labels is None else r["label_accuracy"] >= t["label_accuracy"])
    return {"model": model, "seed": seed, **r, "neg_elbo": held_out.neg_elbo, "neg_iwae": held_out.neg_iwae,
            "kl": held_out.kl, "seconds": seconds, "ok": ok}


def run_text(model: str, seed: int, workdir: Path) -> dict:
    """`train` (and `sample -n 800`, the CLI's default draw), then the issue's protocol in-process:
    one name per held-out name, in its language, at temperature 1 (the CLI draws every language in turn)."""
    _, seconds = train_and_write(model, seed, 800, workdir, ".txt")
    trained = models.load_model(str(workdir / f"{model}-{seed}.pt"))
    r = trained.evaluate(seed=seed).as_dict()
    gap = abs(r["judge_accuracy"] - r["judge_real"])
    t = TEXT_TARGETS
    ok = r["below_bigram"] >= t["below_bigram"] and r["judge_real"] >= t["judge_real"] and gap <= t["judge_gap"]
    ok = ok and r["novelty"] >= t["novelty"]
    return {"model": model, "seed": seed, **r, "seconds": seconds, "ok": ok}


def run(model: str, seed: int, workdir: Path) -> dict:
    arrays, seconds = train_and_sample(model, seed, 2500, workdir)
    recipe = models.get_recipe(model)
    mixture = data.get_mixture(recipe.data if isinstance(recipe, models.DDPMRecipe) else recipe.mixture)
    report = metrics.mode_metrics(torch.from_numpy(arrays["x"]), mixture)
    ok = report.modes == report.n_modes and report.hq_fraction >= TARGETS["hq_fraction"] and report.reverse_kl <= TARGETS["reverse_kl"]
    return {"model": model, "seed": seed, **report.as_dict(), "seconds": seconds, "ok": ok}


DDPM_TARGETS = {"hq_fraction": 0.85, "reverse_kl": 0.02, "confident": 0.90, "class_entropy": 0.98, "label_accuracy": 0.95}


def run_ddpm(model: str, seed: int, workdir: Path) -> dict:
    """Points: 2,500 samples by mode_metrics. Digits: 1,000 samples without a label, then 100 of
    each label at guidance 0 and at the recipe's (in-process, as `sample --label K` draws them)."""
    t = DDPM_TARGETS
    if models.get_recipe(model).data != "digits":
        r = run(model, seed, workdir)
        ok = r["modes"] == r["n_modes"] and r["hq_fraction"] >= t["hq_fraction"] and r["reverse_kl"] <= t["reverse_kl"]
        return {**r, "ok": ok}
    r, _, seconds = _scores(model, seed, workdir)
    trained = models.load_model(str(workdir / f"{model}-{seed}.pt"))
    labels = torch.arange(10).repeat_interleave(100)
    accuracy = {}
    for w in (0.0, trained.recipe.guidance):
        x = torch.cat([trained.sample(100, torch.Generator().manual_seed(1000 * seed + k), labels=k, guidance=w) for k in range(10)])
        accuracy[w] = metrics.digit_metrics(x, labels).label_accuracy
    guided = accuracy[trained.recipe.guidance]
    ok = r["confident"] >= t["confident"] and r["class_entropy"] >= t["class_entropy"] and guided >= t["label_accuracy"]
    return {"model": model, "seed": seed, **r, "label_accuracy": guided, "unguided_accuracy": accuracy[0.0],
            "guidance": trained.recipe.guidance, "seconds": seconds, "ok": ok}


def _ddpm_quality(r: dict) -> str:
    if "hq_fraction" in r:
        return f"{r['modes']}/{r['n_modes']} modes, high-quality {r['hq_fraction']:.1%}, reverse KL {r['reverse_kl']:.4f}"
    return (f"confident {r['confident']:.1%}, class entropy {r['class_entropy']:.3f}; label accuracy "
            f"{r['unguided_accuracy']:.1%} at w = 0, {r['label_accuracy']:.1%} at w = {r['guidance']:g}")


def _accuracy(r: dict) -> str:
    return "-" if r["label_accuracy"] is None else f"{r['label_accuracy']:.1%}"


@dataclass
class Table:
    """One kind of model: how to run a row, its columns (header -> cell text), medians and targets."""

    run: Callable[[str, int, Path], dict]
    columns: dict[str, Callable[[dict], str]]
    medians: dict[str, Callable[[float], str]]  # row key -> format of its median
    targets: str


_SECONDS = {"training s": lambda r: f"{r['seconds']:.1f}"}
TABLES = {
    "points": Table(
        run,
        {"modes": lambda r: f"{r['modes']}/{r['n_modes']}", "high-quality": lambda r: f"{r['hq_fraction']:.1%}",
         "reverse KL": lambda r: f"{r['reverse_kl']:.4f}", **_SECONDS},
        {"hq_fraction": "{:.1%}".format, "reverse_kl": "{:.4f}".format, "seconds": "{:.1f} s".format},
        f"all modes, high-quality >= {TARGETS['hq_fraction']:.0%}, reverse KL <= {TARGETS['reverse_kl']}",
    ),
    "digits": Table(
        run_digits,
        {"confident": lambda r: f"{r['confident']:.1%}", "class entropy": lambda r: f"{r['class_entropy']:.3f}",
         "label accuracy": _accuracy, "feature distance (real vs real)": lambda r: f"{r['frechet']:.1f} ({r['frechet_real']:.1f})", **_SECONDS},
        {"confident": "{:.1%}".format, "seconds": "{:.1f} s".format},
        f"dcgan: confident >= {DIGIT_TARGETS['confident']}, class entropy >= {DIGIT_TARGETS['class_entropy']}; cgan: label accuracy "
        f">= {DIGIT_TARGETS['label_accuracy']}, confident >= {DIGIT_TARGETS['cgan_confident']} (issue 24's feature-distance targets: "
        "not scored, see docs/tuning.md)",
    ),
    "vaes": Table(
        run_vae,
        {"held-out -ELBO": lambda r: f"{r['neg_elbo']:.2f}", "-IWAE(200)": lambda r: f"{r['neg_iwae']:.2f}", "KL": lambda r: f"{r['kl']:.2f}",
         "confident": lambda r: f"{r['confident']:.1%}", "class entropy": lambda r: f"{r['class_entropy']:.3f}",
         "label accuracy": _accuracy, **_SECONDS},
        {"neg_elbo": "{:.2f}".format, "confident": "{:.1%}".format, "seconds": "{:.1f} s".format},
        f"-ELBO <= {VAE_TARGETS['neg_elbo']} nats (vae), confident >= {VAE_TARGETS['confident']}, class entropy >= "
        f"{VAE_TARGETS['class_entropy']}, label accuracy >= {VAE_TARGETS['label_accuracy']} (cvae)",
    ),
    "text": Table(
        run_text,
        {"held-out NLL (bigram)": lambda r: f"{r['heldout_nll']:.3f} ({r['bigram_nll']:.3f})",
         "below bigram": lambda r: f"{r['below_bigram']:.1%}",
         "judge accuracy at T=1 (real held-out names)": lambda r: f"{r['judge_accuracy']:.3f} ({r['judge_real']:.3f})",
         "new names only": lambda r: f"{r['judge_accuracy_new']:.3f}",
         "novelty": lambda r: f"{r['novelty']:.3f}", **_SECONDS},
        {"heldout_nll": "{:.3f}".format, "judge_accuracy": "{:.3f}".format, "judge_accuracy_new": "{:.3f}".format,
         "seconds": "{:.1f} s".format},
        f"NLL >= {TEXT_TARGETS['below_bigram']:.0%} below the bigram's, the judge >= {TEXT_TARGETS['judge_real']} on real held-out "
        f"names and the samples within {TEXT_TARGETS['judge_gap']} of that, novelty >= {TEXT_TARGETS['novelty']}",
    ),
    "diffusion": Table(
        run_ddpm,
        {"samples (points: 2,500; digits: 1,000 without a label, 100 per label)": _ddpm_quality, **_SECONDS},
        {"seconds": "{:.1f} s".format},
        f"points: all modes, high-quality >= {DDPM_TARGETS['hq_fraction']:.0%}, reverse KL <= {DDPM_TARGETS['reverse_kl']}; digits: "
        f"confident >= {DDPM_TARGETS['confident']}, class entropy >= {DDPM_TARGETS['class_entropy']}, guided label accuracy >= "
        f"{DDPM_TARGETS['label_accuracy']}",
    ),
}


def _kind(model: str) -> str:
    recipe = models.get_recipe(model)
    if isinstance(recipe, models.CharLMRecipe):
        return "text"
    if isinstance(recipe, models.DDPMRecipe):
        return "diffusion"
    return "points" if isinstance(recipe, models.GANRecipe) else "vaes" if isinstance(recipe, models.VAERecipe) else "digits"


def print_table(table: Table, names: list[str], seeds: list[int], workdir: Path, say: Callable[[str], None] = print) -> list[dict]:
    """Run every model x seed of one kind, saying a Markdown row as each finishes, then medians and targets."""
    headers = ["model", "seed", *table.columns, "meets targets"]
    say("| " + " | ".join(headers) + " |")
    say("|" + "---|" * len(headers))
    rows = []
    for model in names:
        for seed in seeds:
            r = table.run(model, seed, workdir)
            rows.append(r)
            cells = [model, str(seed), *(cell(r) for cell in table.columns.values()), "yes" if r["ok"] else "NO"]
            say("| " + " | ".join(cells) + " |")
    say("")
    for model in names:
        mine = [r for r in rows if r["model"] == model]
        medians = ", ".join(f"median {key} {fmt(statistics.median(r[key] for r in mine))}" for key, fmt in table.medians.items())
        say(f"{model}: {medians}")
    say(f"targets: {table.targets}")
    say("")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(models.MODELS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--runs", default=None, help="keep the checkpoints in this folder and end with `genai-course report` on it")
    args = parser.parse_args()
    unknown = [m for m in args.models if m not in models.MODELS]
    if unknown:
        parser.error(f"unknown model {unknown[0]!r}: choose from {', '.join(models.MODELS)}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.runs or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for kind, table in TABLES.items():
            names = [m for m in args.models if _kind(m) == kind]
            if names:
                rows += print_table(table, names, args.seeds, workdir)
        if args.runs:
            subprocess.run([sys.executable, "-m", "genai_course", "report", "--runs", args.runs], check=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
