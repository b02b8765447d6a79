"""What the server serves: a course checkpoint loaded safely, sampled for a batch of requests at once.

``load_servable(path)`` reads a checkpoint with the course's safe loader (``weights_only=True``,
its ``.sha256`` sidecar checked first), or decrypts an encrypted one (``sealed``) in memory and
reads that. A ``Servable`` knows its kind (digits, points or names), its labels and its output
formats, and ``run(jobs)`` draws every job of a batch in ONE call of the model's ``sample``: the
labels of all the jobs side by side, the samples split back per job. ``encode`` turns one job's
samples into the signed bytes the server returns.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import checkpoints
from . import sealed, signing

__all__ = ["Job", "Servable", "load_servable", "FORMATS", "MEDIA_TYPES"]

FORMATS = {"digits": ("png", "npz"), "points": ("npz", "json"), "names": ("json",)}  # the first is the default
MEDIA_TYPES = {"png": "image/png", "npz": "application/octet-stream", "json": "application/json"}


@dataclass(frozen=True)
class Job:
    """One request's share of a batch: ``n`` samples of ``label`` (None: every label in turn)."""

    n: int
    label: str | None = None


class Servable:
    """A loaded course model with what the server needs to know about it."""

    def __init__(self, model: Any, path: str, sha256: str, encrypted: bool, seed: int = 0) -> None:
        from .. import models

        self.model, self.path, self.sha256, self.encrypted = model, path, sha256, encrypted
        self.name = model.name
        if isinstance(model, models.TrainedCharLM):
            self.kind = "names"
            self.labels = list(model.data.locales)
        else:
            self.kind = "points" if getattr(model, "mixture", None) is not None else "digits"
            self.labels = [str(k) for k in range(getattr(model, "num_classes", 0))]
        self.generator = torch.Generator().manual_seed(seed)  # one stream for the server's life: each batch draws on
        self.lock = threading.Lock()

    @property
    def formats(self) -> tuple[str, ...]:
        return FORMATS[self.kind]

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "labels": self.labels, "formats": list(self.formats), "sha256": self.sha256}

    def check_label(self, label: str | None) -> str | None:
        """Why ``label`` cannot be asked of this model (one line), or None if it can."""
        if label is None:
            return None
        if not self.labels:
            return f"model {self.name} is not conditional: it takes no label"
        if label not in self.labels:
            shown = f"{self.labels[0]}..{self.labels[-1]}" if self.kind == "digits" else ", ".join(self.labels)
            return f"model {self.name} has no label {label!r} (its labels: {shown})"
        return None

    def _labels(self, job: Job) -> Any:
        if not self.labels:
            return None
        if self.kind == "names":
            return self.model.labels(job.label, job.n)
        return self.model.check_labels(None if job.label is None else int(job.label), job.n)

    def run(self, jobs: list[Job]) -> list[tuple[Any, Any]]:
        """Every job's (samples, labels), drawn in one forward pass of the model for all of them."""
        total = sum(j.n for j in jobs)
        labels = [self._labels(j) for j in jobs]
        together = None if labels[0] is None else torch.cat([torch.as_tensor(y) for y in labels])
        with self.lock, torch.inference_mode():
            more = {} if together is None else {"labels": together}  # the 2D GANs take no labels
            drawn = self.model.sample(total, generator=self.generator, **more)
        out, start = [], 0
        for job, y in zip(jobs, labels):
            part = drawn[start : start + job.n]
            out.append((part if isinstance(part, list) else part.numpy().astype(np.float32), y))
            start += job.n
        return out

    def encode(self, samples: Any, labels: Any, fmt: str, secret: bytes, job: Job) -> bytes:
        """One job's samples as the signed bytes of ``fmt`` (see ``signing``)."""
        about = {"model": self.name, "checkpoint_sha256": self.sha256, "n": job.n, "label": job.label}
        if self.kind == "names":
            langs = [self.model.data.locales[int(i)] for i in labels]
            return signing.sign_json({**about, "names": list(samples), "languages": langs}, secret)
        y = None if labels is None else np.asarray(labels, dtype=np.int64)
        if fmt == "png":
            return signing.sign_png(signing.png_bytes(samples), secret)
        if fmt == "json":
            return signing.sign_json({**about, "points": np.round(samples, 6).tolist()}, secret)
        arrays = {"x": samples, **({} if y is None else {"y": y}), "about": np.array(json.dumps(about, sort_keys=True))}
        return signing.sign_npz(signing.npz_bytes(arrays), secret)


def load_servable(path: str | Path, seed: int = 0) -> Servable:
    """Load the course checkpoint at ``path`` for serving: safely, its hash checked; an encrypted
    one (``sealed.encrypt``) with the key in ``$GENAI_COURSE_CHECKPOINT_KEY``. Raises
    ``checkpoints.CheckpointError`` or ``sealed.SealError`` with one line."""
    from .. import models

    path = str(path)
    if sealed.is_encrypted(path):
        plain, digest = sealed.decrypt(path)
        contents = checkpoints.load_bytes(plain, path, expected_sha256=digest)
        if models.adapted.is_adapter(contents):
            raise checkpoints.CheckpointError(f"{path}: an encrypted adapter checkpoint cannot be served; merge it into a whole model first")
        model = models.load_model(path, contents=contents)
        return Servable(model, path, digest, True, seed)
    model = models.load_model(path)  # the safe loader says in one line if the file is missing, a folder or not a checkpoint
    return Servable(model, path, checkpoints.sha256(path), False, seed)
