"""``genai-course train`` and ``genai-course pretrain``: a course model trained from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .files import UsageError, probe_folder, writable

__all__ = ["cmd_train", "cmd_pretrain"]


def cmd_train(args: argparse.Namespace) -> int:
    from .. import models

    if args.model not in models.MODELS:
        raise UsageError(f"unknown model {args.model!r}: choose one of {', '.join(models.MODELS)}")
    from ..checkpoints import CheckpointError
    from ..loop import Plan
    from ..utils import get_device

    if args.out is None:
        Path("runs").mkdir(exist_ok=True)
    out = writable(args.out or f"runs/{args.model}-seed{args.seed}.pt", "checkpoint")
    try:
        device = get_device(args.device)
        plan = Plan(accumulate=args.accumulate, precision=args.precision)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if (args.checkpoint_every or args.resume) and not models.get_class(args.model).resumable:
        raise UsageError(f"{args.model} trains in one go: its checkpoint holds the weights only, so --checkpoint-every and --resume do not apply")
    if args.resume and out.exists():
        try:
            model = models.load_model(str(out), device=device)
        except CheckpointError as e:
            raise UsageError(f"cannot resume: {e}") from None
        if (model.name, model.seed) != (args.model, args.seed):
            raise UsageError(f"cannot resume: {out} holds {model.name} seed {model.seed}, not {args.model} seed {args.seed}")
        if model.plan.accumulate != args.accumulate:
            raise UsageError(f"cannot resume: {out} was trained with --accumulate {model.plan.accumulate}, not {args.accumulate}")
        model.plan.precision = args.precision
        planned = model.recipe.train.steps
        if args.steps and args.steps != planned:
            print(f"note: {out}'s learning-rate schedule was planned for {planned} steps; going on to {args.steps} changes it, "
                  f"so this is not the run '--steps {args.steps}' would have been", file=sys.stderr)
        print(f"resuming {args.model} from step {model.step} of {out}", flush=True)
    else:
        model = models.build(args.model, seed=args.seed, device=device)
        model.plan = plan
    if args.source is not None:
        _learn_from(model, args.source, device)
    total = args.steps or model.recipe.train.steps
    if model.step > total:
        raise UsageError(f"cannot resume: {out} is already at step {model.step}, past --steps {total}")
    try:
        if not model.resumable:
            model.fit(steps=total, progress=not args.quiet)
            model.save(str(out))
        while model.resumable:
            stop = min(total, model.step + args.checkpoint_every) if args.checkpoint_every else total
            model.fit(steps=total, stop_at=stop, progress=not args.quiet)
            model.save(str(out))  # atomic: a run killed at any moment leaves the last whole checkpoint
            if model.step >= total:
                break
    except ValueError as e:  # e.g. a batch that does not cut into --accumulate micro-batches
        raise UsageError(str(e)) from None
    how = f", {args.accumulate} micro-batches a step" if args.accumulate > 1 else ""
    how += ", bf16 autocast" if args.precision == "bf16" else ""
    where = f", on {device}" if device.type != "cpu" else ""
    print(f"trained {args.model} (seed {args.seed}, {model.step} steps, {model.history.seconds:.1f} s{how}{where}); checkpoint written to {out}")
    return 0


def _learn_from(model: object, source: str, device: object) -> None:
    """``--from CKPT``: the trained model a reflow or latent run learns from, checked to be the one it names."""
    from .. import models
    from ..checkpoints import CheckpointError

    learns = getattr(getattr(model, "recipe", None), "teacher", None) or getattr(getattr(model, "recipe", None), "vae", None)
    if not isinstance(model, models.TrainedFlow) or learns is None:
        raise UsageError(f"--from is for the models that learn from another (rectified-grid25, latent-flow-digits); {model.name} learns from data")  # type: ignore[attr-defined]
    try:
        other = models.load_model(source, device=device)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    try:
        model.use_run(other)
    except ValueError as e:
        raise UsageError(f"--from {source}: {e}") from None


def cmd_pretrain(args: argparse.Namespace) -> int:
    from .. import pretrained

    if args.list:
        width = max(len(r.file) for r in pretrained.LESSON_RUNS)
        for r in pretrained.LESSON_RUNS:
            also = f"  (loaded by {', '.join(r.also)} too)" if r.also else ""
            print(f"{r.lesson:<20} {r.file:<{width}}  {r.total_steps:>6,} steps{also}")
        return 0
    if bool(args.all) == bool(args.names):
        raise UsageError("say what to train: --all, or lessons (05), models (dcgan-digits) or runs; --list shows them")
    try:
        runs = list(pretrained.LESSON_RUNS) if args.all else pretrained.select(args.names)
    except ValueError as e:
        raise UsageError(str(e)) from None
    folder = Path(args.out)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot make the folder {folder} ({e.strerror or e})") from None
    probe_folder(folder, "pretrained runs into", folder)
    pretrained.pretrain(runs, folder, force=args.force, progress=not args.quiet, log=lambda line: print(line, flush=True))
    print(f"lessons load these when their first cell says PRETRAINED = True; check a copy with: cd {folder} && sha256sum -c SHA256SUMS")
    return 0
