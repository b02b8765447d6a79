"""``genai-course adapt``: teach a trained model a new class or language from a few examples (lesson 14).

A conditional digits VAE (``genai-course train digits-0to8``) learns the next class with
``--new-class K``; the names model (``charlm-names``) learns a faker locale with
``--new-language LOCALE``. finetune and replay write a whole course checkpoint; lora and
embedding an adapter checkpoint that names its base by sha256 (``models.adapted``). One summary
line: the method, what trained, the bytes written, and the judged result, beside the base's.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .files import UsageError, writable

__all__ = ["cmd_adapt"]


def cmd_adapt(args: argparse.Namespace) -> int:
    from .. import models
    from ..checkpoints import CheckpointError
    from ..models import adapted

    if (args.new_class is None) == (args.new_language is None):
        raise UsageError("say what to teach: --new-class K (a conditional digits VAE) or --new-language LOCALE (the names model)")
    if args.rank is not None and args.method != "lora":
        raise UsageError(f"--rank is the LoRA adapters' rank: for --method lora only (got --method {args.method})")
    out = writable(args.out, "checkpoint")
    if Path(args.checkpoint).exists() and out.exists() and os.path.samefile(out, args.checkpoint):
        raise UsageError(f"--out {args.out} is the checkpoint being adapted: write the adaptation to another file")
    try:
        base = models.load_model(args.checkpoint)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    new: int | str
    if args.new_class is not None:
        if not isinstance(base, models.TrainedVAE) or not base.conditional:
            what = "an unconditional VAE" if isinstance(base, models.TrainedVAE) else "not a VAE"
            hint = " (a new language is --new-language LOCALE)" if isinstance(base, models.TrainedCharLM) else ""
            raise UsageError(f"--new-class takes a conditional digits VAE (a cVAE such as digits-0to8); {args.checkpoint} holds "
                             f"{base.name}, {what}{hint}")
        new = args.new_class
    else:
        if not isinstance(base, models.TrainedCharLM):
            raise UsageError(f"--new-language takes the names model (charlm-names); {args.checkpoint} holds {base.name}, not a names model")
        new = args.new_language
    try:
        config = adapted.adapt_config(base, args.method, steps=args.steps, rank=args.rank, seed=args.seed)
        result = adapted.adapt_model(base, new, args.examples, config, progress=not args.quiet)
    except ValueError as e:  # the class or locale, the examples, the rank: what adapt and its library refuse
        raise UsageError(str(e)) from None
    now, before = adapted.judge(result)
    try:
        adapted.save_adapted(result, out, args.checkpoint)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    print(_summary(result, now, before, out, args.checkpoint))
    return 0


def _summary(result: Any, now: Any, before: Any, out: Path, base_path: str) -> str:
    """One line: what was taught and how, what trained, what was written where, and the judged result beside the base's."""
    from ..models import adapted

    what = f"class {result.new}" if isinstance(result.new, int) else f"language {result.new}"
    c = result.config
    how = f"{c.method}{f' (rank {c.rank})' if c.method == 'lora' else ''}, {result.examples} examples, {c.steps} steps, seed {c.seed}"
    if hasattr(now, "new_accuracy"):
        judged = (f"new class {result.new}: accuracy {now.new_accuracy:.1%}; old classes: accuracy {now.old_accuracy:.1%} "
                  f"(base {before.old_accuracy:.1%})")
    else:
        judged = (f"new language {result.new}: {now.new_nll:.3f} nats/char; old languages: {now.old_nll:.3f} nats/char "
                  f"(base {before.old_nll:.3f})")
    kind = "whole model" if c.method in adapted.WHOLE_METHODS else f"adapter of {base_path}"
    return (f"adapted {result.base.name} to {what} by {how} in {result.seconds:.1f} s: {result.trainable:,} trainable parameters; "
            f"{judged}; {os.path.getsize(out):,} bytes ({kind}) written to {out}")
