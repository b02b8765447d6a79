"""Checkpoint files: written atomically, read safely, checked against their hashes.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts, saved with
``torch.save``. It is always read back with ``torch.load(..., weights_only=True)``, which
refuses to run code hidden in a file (a plain ``torch.load(..., weights_only=False)``
unpickles arbitrary objects, and unpickling can execute anything: ``write_crafted_checkpoint``
makes a harmless file that shows it). Writing goes to a temporary file in the same folder,
then ``os.replace`` swaps it in, so a crash mid-write never leaves a half-written checkpoint.

Hashes. ``save`` also writes a sidecar ``PATH.sha256`` in ``sha256sum`` format
(``<64 hex digits>  <file name>``, so ``sha256sum -c PATH.sha256`` checks it from the file's
folder), and ``load`` refuses a file that no longer matches its sidecar. A sidecar guards
against accidents (a truncated copy, a flipped bit, the wrong file under the right name); it
does not prove where a file came from, since whoever swaps the file can swap its sidecar too.
For that, take the hash from somewhere you trust: ``load(path, expected_sha256=...)``, or a manifest
(``write_manifest`` / ``verify_manifest``: one ``sha256sum``-format line per file, names
relative to the manifest's folder, so ``cd FOLDER && sha256sum -c MANIFEST`` checks it too).

Provenance. Every checkpoint holds a ``provenance`` dict (course and torch versions, model,
seed, steps), and ``provenance(checkpoint, ...)`` is the record every file the command line
writes carries: which model, the sha256 of the checkpoint that made it, the seed and options.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import re
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any, Iterable

import torch

from . import __version__

__all__ = [
    "CheckpointError", "FORMAT", "VERSION", "MANIFEST", "save", "save_bytes", "load", "load_bytes", "sha256", "sidecar_path", "verify_sidecar",
    "write_manifest", "verify_manifest", "provenance", "write_crafted_checkpoint", "hidden_code", "leave_marker",
    "payload", "load_run",
]

FORMAT = "genai-course-checkpoint"  # marker stored in every file, so foreign files are recognised
VERSION = 1
CHUNK = 1 << 20  # bytes read at a time when hashing: memory stays flat whatever the file's size
MANIFEST = "SHA256SUMS"  # the usual name of a folder's manifest; `genai-course report` checks it when present

_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")  # one sha256sum line: text (two spaces) or binary (" *") mode


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable, corrupt, changed, or not one of the course's."""


def _atomic_tmp(path: Path, what: str) -> tuple[int, str]:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise CheckpointError(f"cannot write {what} {path}: folder {parent} does not exist")
    try:
        return tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise CheckpointError(f"cannot write {what} {path}: {e.strerror}") from None


def _write_bytes(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


# --------------------------------------------------------------------------- hashes


def sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits (what ``sha256sum`` prints), read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """Where ``save`` writes a checkpoint's hash: ``PATH.sha256``."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def _sha256sum_line(digest: str, name: str) -> str:
    return f"{digest}  {name}\n"


def _read_sum_file(path: Path, what: str) -> list[tuple[str, str]]:
    """(hex digest, file name) for each line of a sha256sum-format file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CheckpointError(f"cannot read {what} {path} ({getattr(e, 'strerror', None) or type(e).__name__})") from None
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if not match:
            raise CheckpointError(f"{what} {path} is not in sha256sum format (line {number} should read '<64 hex digits>  <file name>')")
        entries.append((match.group(1).lower(), match.group(2)))
    if not entries:
        raise CheckpointError(f"{what} {path} is empty: it should hold '<64 hex digits>  <file name>' lines")
    return entries


def _mismatch(path: Path, expected: str, got: str, source: str) -> str:
    return (
        f"{path} does not match {source}: expected sha256 {expected[:12]}..., got {got[:12]}... "
        f"(the file changed after its hash was taken: corrupted, truncated, tampered with, or another file under this name)"
    )


def verify_sidecar(path: str | os.PathLike[str]) -> str | None:
    """Check ``path`` against its ``PATH.sha256``: its hash if they match, None if there is no sidecar;
    ``CheckpointError`` if they differ."""
    path, side = Path(path), sidecar_path(path)
    if not side.is_file():
        return None
    expected = _read_sum_file(side, "hash file")[0][0]
    got = sha256(path)
    if got != expected:
        raise CheckpointError(
            _mismatch(path, expected, got, f"its hash file {side.name}")
            + f". If a save was interrupted (a training run killed while writing), the checkpoint itself is whole, only its"
            f" hash file is stale: train again, or if you made the file yourself and trust it, delete {side} to load it unchecked"
        )
    return got


def write_manifest(paths: Iterable[str | os.PathLike[str]], manifest_path: str | os.PathLike[str]) -> Path:
    """Write a sha256sum-format manifest of ``paths`` (files in the manifest's folder or below it), atomically."""
    manifest = Path(manifest_path)
    root = (manifest.parent if str(manifest.parent) else Path(".")).resolve()
    lines = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise CheckpointError(f"cannot list {p} in manifest {manifest}: it is {'a folder' if p.is_dir() else 'missing'}")
        try:
            name = p.resolve().relative_to(root).as_posix()
        except ValueError:
            raise CheckpointError(f"cannot list {p} in manifest {manifest}: it is not in the manifest's folder {root} (or below it)") from None
        lines.append(_sha256sum_line(sha256(p), name))
    if not lines:
        raise CheckpointError(f"manifest {manifest} would list no files")
    fd, tmp = _atomic_tmp(manifest, "manifest")
    try:
        _write_bytes(fd, "".join(lines).encode("utf-8"))
        os.replace(tmp, manifest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return manifest


def verify_manifest(manifest_path: str | os.PathLike[str]) -> list[Path]:
    """Check every file a manifest lists: their paths if all match; ``CheckpointError`` naming every
    missing or changed file if not."""
    manifest = Path(manifest_path)
    if not manifest.is_file():
        raise CheckpointError(f"manifest {manifest} does not exist" if not manifest.exists() else f"manifest {manifest} is a folder, not a file")
    root = manifest.parent if str(manifest.parent) else Path(".")
    entries = _read_sum_file(manifest, "manifest")
    problems, ok = [], []
    for expected, name in entries:
        p = root / name
        if Path(name).is_absolute() or ".." in Path(name).parts:
            problems.append(f"{name} is outside the manifest's folder")
        elif not p.is_file():
            problems.append(f"{name} is missing")
        elif (got := sha256(p)) != expected:
            problems.append(f"{name} changed (expected sha256 {expected[:12]}..., got {got[:12]}...)")
        else:
            ok.append(p)
    if problems:
        raise CheckpointError(f"manifest {manifest}: {len(problems)} of {len(entries)} files fail: " + "; ".join(problems))
    return ok


# --------------------------------------------------------------------------- provenance


def _checkpoint_provenance(payload: dict[str, Any]) -> dict[str, Any]:
    """What a checkpoint records about how it was made (kept as given if the payload has its own)."""
    extra = payload.get("extra") if isinstance(payload.get("extra"), dict) else {}
    made = {
        "made_by": f"genai-course {__version__}", "torch": str(torch.__version__), "python": platform.python_version(),
        "model": payload.get("model"), "seed": extra.get("seed"), "steps": payload.get("step"),
    }
    return {**made, **payload.get("provenance", {})}


def provenance(checkpoint: str | os.PathLike[str], *, model: str, seed: int | None, command: str, **options: Any) -> dict[str, Any]:
    """The record a file made from ``checkpoint`` carries: tool and versions, the command, the model's
    name, the checkpoint's path and sha256, the seed, and the command's options (None: the default)."""
    return {
        "made_by": f"genai-course {__version__}", "torch": str(torch.__version__), "command": command,
        "model": model, "checkpoint": str(checkpoint), "checkpoint_sha256": sha256(checkpoint),
        "seed": seed, "options": dict(options),
    }


# --------------------------------------------------------------------------- save and load


def save(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` (plus the format marker and provenance) to ``path`` atomically, and its hash to
    ``PATH.sha256``; returns the path."""
    data = {"format": FORMAT, "version": VERSION, **payload, "provenance": _checkpoint_provenance(payload)}
    return _write_with_sidecar(Path(path), "checkpoint", lambda f: torch.save(data, f))


def save_bytes(path: str | os.PathLike[str], data: bytes, what: str = "file") -> Path:
    """Write ``data`` to ``path`` atomically with its ``PATH.sha256``, as ``save`` does a checkpoint
    (e.g. an encrypted checkpoint, ``serve.sealed``); ``what`` names the file in errors."""
    return _write_with_sidecar(Path(path), what, lambda f: f.write(data))


def _write_with_sidecar(path: Path, what: str, write: Any) -> Path:
    """``write(f)`` into a temporary file beside ``path``, then it and its hash file swapped in."""
    fd, tmp = _atomic_tmp(path, what)
    side = sidecar_path(path)
    side_tmp = None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        side_fd, side_tmp = _atomic_tmp(side, "hash file")
        _write_bytes(side_fd, _sha256sum_line(sha256(tmp), path.name).encode("utf-8"))
        os.replace(tmp, path)  # the file, then at once its hash: the stale window is two renames wide
        os.replace(side_tmp, side)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        if side_tmp is not None:
            Path(side_tmp).unlink(missing_ok=True)
        raise
    return path


def _load_failure(e: Exception) -> str:
    """torch.load's error in one short line. Its weights-only message advises weights_only=False,
    the one thing not to do with a file you cannot trust: name what the file asked for instead."""
    text = str(e)
    refused = re.search(r"\bGLOBAL ([\w.]+)", text)  # "Unsupported global: GLOBAL m.f ..." or "unsupported GLOBAL m.f whose module m is blocked"
    if refused:
        name = refused.group(1) if "." in refused.group(1) else f"builtins.{refused.group(1)}"  # torch drops "builtins."
        return f"refused by the safe loader: the file asks to call {name}, which is no tensor, number, string or container"
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [type(e).__name__]
    if lines[0].startswith("Weights only load failed"):
        after = text.split("WeightsUnpickler error:", 1)[-1] if "WeightsUnpickler error:" in text else ""
        detail = [line.strip() for line in after.splitlines() if line.strip()][:1]
        return "refused by the safe loader" + (f": {detail[0][:160]}" if detail else "")
    return f"{type(e).__name__}: {lines[0][:160]}"


def _sniff(path: Path) -> str | None:
    """Why ``path`` cannot be a torch.save file, from its first bytes (None: it might be one)."""
    with open(path, "rb") as f:
        head = f.read(64)
    if not head:
        return "the file is empty"
    if head.startswith(b"PK"):  # a zip archive: torch.save's format since PyTorch 1.6
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError):
            return "a damaged or cut-short zip archive: the end of the file, where a zip lists its contents, is missing"
        if not any(n.endswith("/data.pkl") for n in names):
            kind = "NumPy arrays (an .npz file?)" if names and all(n.endswith(".npy") for n in names) else "other files"
            return f"a zip archive of {kind}, not one torch.save wrote: it holds {', '.join(names[:3]) or 'nothing'}"
        return None
    if head[0] == 0x80:  # a pickle (a legacy torch file, or pickle.dump's): the safe unpickler decides
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c.isspace() for c in text):
        return f"a text file, not a torch.save file: it starts {text[:20]!r}"
    return f"neither a zip archive nor a pickle: it starts with the bytes {head[:8].hex(' ')}"


def load(path: str | os.PathLike[str], *, expected_sha256: str | None = None) -> dict[str, Any]:
    """Read a course checkpoint with ``weights_only=True``; raise ``CheckpointError`` if it is not one.

    The file is first checked against its ``PATH.sha256`` if there is one, and against
    ``expected_sha256`` (64 hex digits from a source you trust) if given, before a byte of it is unpickled."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder, not a file")
    got = verify_sidecar(path)
    if expected_sha256 is not None:
        expected = str(expected_sha256).strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", expected):
            raise CheckpointError(f"expected sha256 for {path} should be 64 hex digits (got {expected_sha256!r})")
        got = got or sha256(path)
        if got != expected:
            raise CheckpointError(_mismatch(path, expected, got, "the sha256 you gave"))
    not_torch = _sniff(path)
    if not_torch:
        raise CheckpointError(f"{path} is not a readable course checkpoint ({not_torch})")
    return _unpickle(path, path)


def load_bytes(data: bytes, name: str, *, expected_sha256: str) -> dict[str, Any]:
    """``load`` for a checkpoint held in memory (e.g. just decrypted): ``data`` must hash to
    ``expected_sha256`` before a byte of it is unpickled; ``name`` is what errors call it."""
    got = hashlib.sha256(data).hexdigest()
    if got != str(expected_sha256).strip().lower():
        raise CheckpointError(_mismatch(Path(name), str(expected_sha256).lower(), got, "the sha256 recorded with it"))
    if not data.startswith(b"PK"):
        raise CheckpointError(f"{name} is not a readable course checkpoint (not the zip archive torch.save writes)")
    return _unpickle(io.BytesIO(data), Path(name))


def _unpickle(source: Any, path: Path) -> dict[str, Any]:
    """torch.load with ``weights_only=True``, and the course's marker and version checked."""
    try:
        with warnings.catch_warnings():  # e.g. torch's note on pickle protocols: noise before a clear error
            warnings.simplefilter("ignore")
            data = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, zip errors, refused globals ...
        raise CheckpointError(f"{path} is not a readable course checkpoint ({_load_failure(e)})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a genai-course checkpoint (no '{FORMAT}' marker)")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {data.get('version')!r}; this course reads version {VERSION}")
    return data


# --------------------------------------------------------------------------- a harmless crafted file


def leave_marker(marker: str | os.PathLike[str]) -> str:
    """The crafted checkpoint's hidden "payload": writes one line to ``marker``. Harmless, and visible."""
    Path(marker).write_text("code hidden in a checkpoint ran when the file was unpickled\n", encoding="utf-8")
    return "code ran here"


class _HiddenCode:
    """Unpickling this calls ``leave_marker(marker)``: ``__reduce__`` tells pickle to rebuild the
    object by calling a function, and a file can name any importable function (``os.system``
    as easily as this one)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (leave_marker, (self.marker,))


def hidden_code(marker: str | os.PathLike[str]) -> Any:
    """An object whose unpickling calls ``leave_marker(marker)``: put it in anything you pickle."""
    return _HiddenCode(str(marker))


def write_crafted_checkpoint(path: str | os.PathLike[str], marker: str | os.PathLike[str]) -> Path:
    """Write a stand-in for a malicious checkpoint: a course-looking file (marker, version, model)
    whose unpickling calls ``leave_marker(marker)``. ``torch.load(path, weights_only=False)`` runs
    it; ``load`` refuses it. No sidecar: an attacker would not leave a mismatching one."""
    path = Path(path)
    torch.save({"format": FORMAT, "version": VERSION, "model": "dcgan-digits", "step": 0, "config": {},
                "weights": {"w": torch.zeros(2)}, "note": hidden_code(marker)}, path)
    return path


def payload(
    model: str, config: dict[str, Any], step: int, weights: dict[str, Any], *,
    optimizers: dict[str, Any] | None = None, rng: dict[str, torch.Tensor] | None = None, extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A course checkpoint's contents, for ``checkpoints.save``: the model's name, its recipe as a
    dict, the step, the networks' state dicts by name, then (if the run can resume) the optimizers'
    state dicts and the random states, and ``extra`` (kind, seed, training seconds, plan, ...)."""
    more = {"optimizers": optimizers} if optimizers is not None else {}
    more |= {"rng": rng} if rng is not None else {}
    return {"model": model, "config": config, "step": int(step), "weights": weights, **more, "extra": extra or {}}


def load_run(path: str | os.PathLike[str], data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read a course training checkpoint (one laid out by ``payload``), safely (``load``), with a
    clear error when it is not one; ``data``: its contents already read (``load_bytes``), checked the same way."""
    data = load(path) if data is None else data
    missing = [k for k in ("model", "config", "step", "weights") if k not in data]
    if missing:
        raise CheckpointError(f"{path} is missing {', '.join(missing)}: not a course training checkpoint")
    return data
