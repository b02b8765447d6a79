"""Checkpoint files: written atomically, read safely.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, saved with
``torch.save``. It is always read back with ``torch.load(..., weights_only=True)``, which
refuses to run code hidden in a file (a plain ``torch.load`` unpickles arbitrary objects,
and unpickling can execute anything). Writing goes to a temporary file in the same folder,
then ``os.replace`` swaps it in, so a crash mid-write never leaves a half-written checkpoint.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointError", "FORMAT", "save", "load"]

FORMAT = "genai-course-checkpoint"  # marker stored in every file, so foreign files are recognised
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, corrupt, or not one of the course's."""


def save(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus the format marker) to ``path`` atomically; returns the path."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CheckpointError(f"cannot write checkpoint {path}: folder {parent} does not exist")
    data = {"format": FORMAT, "version": VERSION, **payload}
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a course checkpoint with ``weights_only=True``; raise ``CheckpointError`` if it is not one."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder, not a file")
    try:
        with warnings.catch_warnings():  # e.g. torch's note on pickle protocols: noise before a clear error
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, zip errors, refused globals ...
        lines = [line.strip() for line in str(e).splitlines() if line.strip()] or [type(e).__name__]
        reason = lines[0]
        if reason.startswith("Weights only load failed"):
            # torch's first line suggests weights_only=False; name what was refused instead
            detail = [line for line in lines[1:] if not line.startswith(("Please file an issue", "Check the documentation"))]
            reason = "refused by the safe loader" + (f": {detail[0]}" if detail else "")
        raise CheckpointError(f"{path} is not a readable course checkpoint ({reason[:200]})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a genai-course checkpoint (no '{FORMAT}' marker)")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {data.get('version')!r}; this course reads version {VERSION}")
    return data
