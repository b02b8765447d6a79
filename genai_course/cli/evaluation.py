"""``genai-course evaluate`` and ``genai-course report``: every test that applies to a trained model, for one
checkpoint or for a folder of them (one Markdown table, a figure, and the provenance of both)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .files import UsageError, writable, write_texts

__all__ = ["cmd_evaluate", "cmd_report"]


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from .. import evaluate, models
    from ..checkpoints import CheckpointError

    try:
        model = models.load_model(args.checkpoint, base=args.base)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    try:
        result = evaluate.evaluate_model(model, n=args.n, seed=args.seed)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.json:
        from .. import checkpoints

        record = checkpoints.provenance(args.checkpoint, model=model.name, seed=args.seed, command="evaluate", n=args.n)
        print(json.dumps({**result.as_dict(), "provenance": record}, indent=2))
    else:
        print(result)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .. import evaluate, models
    from ..checkpoints import CheckpointError

    folder = Path(args.runs)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--runs {folder} is a file, not a folder of checkpoints")
    if not folder.is_dir():
        raise UsageError(f"no folder {folder}: train models first (genai-course train MODEL writes runs/MODEL-seedS.pt)")
    paths = sorted(folder.glob("*.pt"))
    if not paths:
        raise UsageError(f"no checkpoints (*.pt) in {folder}: train models first with 'genai-course train MODEL'")
    out = writable(args.out or str(folder / "report.md"), "report")
    figure = writable(args.figure or str(out.with_suffix(".png")), "figure")
    if figure.suffix != ".png":
        raise UsageError(f"figure {figure} should end in .png")
    from .. import checkpoints

    manifest = folder / checkpoints.MANIFEST
    if manifest.is_file():  # a folder handed out with a manifest (pretrained checkpoints): every file must match
        try:
            checkpoints.verify_manifest(manifest)
        except CheckpointError as e:
            raise UsageError(str(e)) from None
    loaded, skipped = [], []
    for path in paths:
        try:
            loaded.append((path, models.load_model(str(path))))
        except CheckpointError as e:
            skipped.append(f"skipped {path}: {e}")
    if not loaded:
        raise UsageError(f"none of the checkpoints in {folder} could be read ({skipped[0].removeprefix('skipped ')})")
    for line in skipped:
        print(line, file=sys.stderr)
    order = list(models.MODELS)  # the course's order: GANs, VAEs, names, diffusion
    loaded.sort(key=lambda pm: (order.index(pm[1].name) if pm[1].name in order else len(order), pm[1].name, pm[1].seed))
    results = []
    for path, model in loaded:
        result = evaluate.evaluate_model(model, seed=args.seed)
        print(f"evaluated {path} ({model.name}, seed {model.seed}) in {result.seconds:.1f} s", flush=True)
        results.append(result)
    records = [checkpoints.provenance(path, model=model.name, seed=args.seed, command="report") for path, model in loaded]
    text = evaluate.report_markdown(results, figure.name) + _provenance_markdown(loaded, records, args.seed)
    write_texts({out: text})
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = evaluate.plot_report(results)
    tmp = figure.with_name(f".{figure.name}.tmp")
    try:  # PNG text chunks: what made the figure travels with it
        fig.savefig(tmp, dpi=110, format="png", metadata={
            "Software": records[0]["made_by"], "Provenance": json.dumps(records, sort_keys=True)})
        os.replace(tmp, figure)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    print(evaluate.markdown_table(results), end="")
    print(f"wrote {out} and {figure} ({len(results)} models)")
    return 0


def _provenance_markdown(loaded: list[tuple[Path, Any]], records: list[dict[str, Any]], seed: int) -> str:
    """The report's last section: what made it, and every checkpoint with its sha256."""
    first = records[0]
    rows = "".join(
        f"| {r['checkpoint']} | {model.name} | {model.seed} | {model.step} | `{r['checkpoint_sha256']}` |\n"
        for (_, model), r in zip(loaded, records)
    )
    return (
        f"\n## Provenance\n\nMade by {first['made_by']} (torch {first['torch']}) with `genai-course report --seed {seed}` "
        f"from these checkpoints (check one with `sha256sum FILE`):\n\n"
        f"| checkpoint | model | trained with seed | steps | sha256 |\n|---|---|---:|---:|---|\n{rows}"
    )
