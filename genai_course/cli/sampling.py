"""``genai-course sample``: samples of a checkpoint, points and images into an .npz, names into a .txt.

Every file carries its provenance (``checkpoints.provenance``): inside the .npz, or beside the
.txt in ``FILE.provenance.json``; a model made by ``genai-course adapt`` adds ``adapted_from``
(its base's name, checkpoint and sha256, and the method). ``-n`` is drawn ``arguments.SAMPLE_CHUNK`` at a time, so
memory stays flat, and the first chunk is the same draw as a run of that size.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .. import arguments as arg
from .files import UsageError, writable, write_texts

__all__ = ["cmd_sample"]


def cmd_sample(args: argparse.Namespace) -> int:
    from .. import models
    from ..checkpoints import CheckpointError

    out = writable(args.out, "output file")
    try:
        model = models.load_model(args.checkpoint, base=args.base)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    diffusion_options = [o for o, v in (("--guidance", args.guidance), ("--sampler", args.sampler), ("--steps", args.steps)) if v is not None]
    if diffusion_options and not isinstance(model, (models.TrainedDDPM, models.TrainedFlow)):
        raise UsageError(f"{', '.join(diffusion_options)}: for diffusion and flow models only; {model.name} is neither")
    if isinstance(model, models.TrainedCharLM):
        return _sample_text(model, out, args)
    if args.temperature is not None or args.top_k is not None:
        raise UsageError(f"--temperature and --top-k are for text models; {model.name} draws {'points' if _is_2d(model) else 'images'}")
    return _sample_images(model, out, args)


def _is_2d(model: Any) -> bool:
    return getattr(model, "mixture", None) is not None


def _sample_text(model: Any, out: Path, args: argparse.Namespace) -> int:
    import torch

    if out.suffix != ".txt":
        raise UsageError(f"output file {args.out} should end in .txt (one name a line) for {model.name}")
    generator = torch.Generator().manual_seed(args.seed)
    try:
        languages = model.labels(args.label, args.n)  # one language for all, or every one in turn
        names = []
        for start in range(0, args.n, arg.SAMPLE_CHUNK):  # one chunk for -n up to SAMPLE_CHUNK
            names += model.sample(
                min(arg.SAMPLE_CHUNK, args.n - start), generator=generator, labels=languages[start : start + arg.SAMPLE_CHUNK],
                temperature=args.temperature, top_k=args.top_k,  # None: the model's default
            )
    except ValueError as e:
        raise UsageError(str(e)) from None
    record = _provenance_sidecar(out)
    text = {out: "".join(f"{name}\n" for name in names), record: _provenance_json(
        args.checkpoint, model, args.seed, "sample", n=args.n, label=args.label, temperature=args.temperature, top_k=args.top_k) + "\n"}
    write_texts(text)
    print(f"wrote {args.n} names of {model.name} to {out} (UTF-8, one a line; provenance in {record.name})")
    return 0


def _provenance_sidecar(out: Path) -> Path:
    """Where a text output's provenance goes: FILE.provenance.json (the file itself stays one sample a line)."""
    return out.with_name(out.name + ".provenance.json")


def _provenance_json(checkpoint: str, model: Any, seed: int, command: str, **options: Any) -> str:
    """The provenance record of a file made from ``checkpoint`` (checkpoints.provenance), as JSON."""
    import json

    from .. import checkpoints
    from ..models import adapted

    record = checkpoints.provenance(checkpoint, model=model.name, seed=seed, command=command, **options)
    base = adapted.adapted_from(model)
    if base is not None:  # an adapted model: the base it was adapted from too (an adapter's samples need both files)
        record["adapted_from"] = base
    return json.dumps(record, sort_keys=True)


def _sample_images(model: Any, out: Path, args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from .. import models

    if out.suffix != ".npz":
        raise UsageError(f"output file {args.out} should end in .npz")
    num_classes = getattr(model, "num_classes", 0)
    generator = torch.Generator().manual_seed(args.seed)
    arrays: dict[str, np.ndarray] = {}
    label = args.label
    if label is not None:
        try:
            label = int(label)
        except ValueError:
            raise UsageError(f"--label must be a whole number for {model.name} (got {label!r})") from None
    options: dict[str, Any] = {}
    if isinstance(model, models.TrainedDDPM):
        if args.guidance is not None and (label is None or not num_classes):
            raise UsageError(f"--guidance needs --label (a class to guide towards) and a conditional model; {model.name} {'is not conditional' if not num_classes else 'was given no --label'}")
        if args.sampler == "ancestral" and args.steps not in (None, model.schedule.T):
            raise UsageError(f"the ancestral sampler takes all {model.schedule.T} steps; use --sampler ddim for fewer")
        if args.steps is not None and args.steps > model.schedule.T:
            raise UsageError(f"--steps must be at most the model's {model.schedule.T} diffusion steps (got {args.steps})")
        if args.sampler in ("euler", "midpoint"):
            raise UsageError(f"--sampler {args.sampler} is a flow model's; {model.name} is a diffusion model: 'ancestral' or 'ddim'")
        options = {"guidance": args.guidance, "sampler": args.sampler, "steps": args.steps}  # --steps alone: DDIM
    elif isinstance(model, models.TrainedFlow):
        if args.guidance is not None and (label is None or not num_classes):
            raise UsageError(f"--guidance needs --label (a class to guide towards) and a conditional model; {model.name} {'is not conditional' if not num_classes else 'was given no --label'}")
        if args.sampler in ("ancestral", "ddim"):
            raise UsageError(f"--sampler {args.sampler} is a diffusion model's; {model.name} is a flow model: 'euler' or 'midpoint'")
        if args.steps is not None and args.steps > arg.MAX_FLOW_STEPS:
            raise UsageError(f"--steps must be at most {arg.MAX_FLOW_STEPS} ODE steps for a flow model (got {args.steps})")
        options = {"guidance": args.guidance, "method": args.sampler, "steps": args.steps}  # None: the model's
    labels = None
    if num_classes:
        if label is not None and not 0 <= label < num_classes:
            raise UsageError(f"--label must be a class from 0 to {num_classes - 1} for {model.name} (got {label})")
        if label is not None or not isinstance(model, models.TrainedDDPM):  # a DDPM without a label: its unconditional branch
            labels = model.check_labels(label, args.n)  # one class for all, or every class in turn
            arrays["y"] = labels.numpy().astype(np.int64)
    elif label is not None:
        raise UsageError(f"model {model.name} is not conditional: it takes no --label")
    chunks = []
    for start in range(0, args.n, arg.SAMPLE_CHUNK):  # one chunk for -n up to SAMPLE_CHUNK, the same draws as one call
        size = min(arg.SAMPLE_CHUNK, args.n - start)
        given = {} if labels is None else {"labels": labels[start : start + size]}
        chunks.append(model.sample(size, generator=generator, **given, **options).numpy().astype(np.float32))
    arrays["x"] = np.concatenate(chunks)
    described = ", ".join(f"array {k}, shape {v.shape}" for k, v in sorted(arrays.items()))
    # provenance: a JSON string in a 0-d unicode array, so np.load reads it without allow_pickle
    record = _provenance_json(args.checkpoint, model, args.seed, "sample", n=args.n, label=label, **options)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    np.savez(tmp, **arrays, provenance=np.array(record))
    os.replace(tmp, out)
    print(f"wrote {args.n} samples of {model.name} to {out} ({described})")
    return 0
