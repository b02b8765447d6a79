"""Checkpoints encrypted at rest: Fernet (AES-128-CBC with an HMAC-SHA256), key from the environment.

``encrypt(CKPT)`` writes ``CKPT.enc``: a header line ``genai-course-encrypted-v1 <sha256 of the
plain checkpoint>`` and the Fernet token of its bytes, plus the usual ``.sha256`` sidecar of the
encrypted file. ``decrypt`` checks the sidecar (an accident: a truncated copy), decrypts with the
key in ``$GENAI_COURSE_CHECKPOINT_KEY`` (Fernet refuses a wrong key or an altered token: it
authenticates before it decrypts) and returns the plain bytes, which never touch the disk; the
server reads them with ``checkpoints.load_bytes``, the safe loader, after checking the recorded
sha256. Someone who copies the encrypted file without the key learns nothing but its size.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .. import checkpoints

__all__ = ["KEY_ENV", "SealError", "new_key", "encrypt", "decrypt", "is_encrypted"]

KEY_ENV = "GENAI_COURSE_CHECKPOINT_KEY"
_HEADER = b"genai-course-encrypted-v1 "


class SealError(ValueError):
    """No key, a wrong key, or a file that is not an encrypted checkpoint: one line saying which."""


def new_key() -> str:
    """A fresh Fernet key (44 URL-safe base64 characters) to put in ``$GENAI_COURSE_CHECKPOINT_KEY``."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def _fernet(key: str | None):  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet

    key = os.environ.get(KEY_ENV) if key is None else key
    if not key:
        raise SealError(f"no key: set {KEY_ENV} to the key the checkpoint was encrypted with (make one with 'genai-course encrypt --new-key')")
    try:
        return Fernet(key.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SealError(f"{KEY_ENV} is not a Fernet key (44 URL-safe base64 characters, from 'genai-course encrypt --new-key')") from None


def is_encrypted(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts like a file ``encrypt`` wrote."""
    try:
        with open(path, "rb") as f:
            return f.read(len(_HEADER)) == _HEADER
    except OSError:
        return False


def encrypt(path: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, key: str | None = None) -> Path:
    """Encrypt the course checkpoint ``path`` (checked with the safe loader first) into ``out``
    (default ``PATH.enc``), with its sidecar; ``key`` defaults to ``$GENAI_COURSE_CHECKPOINT_KEY``."""
    fernet = _fernet(key)
    path = Path(path)
    checkpoints.load_run(path)  # only a readable course checkpoint, whose sidecar matches, is sealed
    plain = path.read_bytes()
    out = Path(out) if out is not None else path.with_name(path.name + ".enc")
    digest = checkpoints.sha256(path)
    sealed = _HEADER + digest.encode("ascii") + b"\n" + fernet.encrypt(plain)
    return checkpoints.save_bytes(out, sealed, "encrypted checkpoint")  # atomically, with its .sha256


def decrypt(path: str | os.PathLike[str], key: str | None = None) -> tuple[bytes, str]:
    """(the plain checkpoint's bytes, their recorded sha256) of an encrypted checkpoint, in memory."""
    from cryptography.fernet import InvalidToken

    path = Path(path)
    try:
        checkpoints.verify_sidecar(path)
        data = path.read_bytes()
    except checkpoints.CheckpointError as e:
        raise SealError(str(e)) from None
    except OSError as e:
        raise SealError(f"cannot read {path} ({e.strerror})") from None
    head, _, token = data.partition(b"\n")
    m = re.fullmatch(rb"genai-course-encrypted-v1 ([0-9a-f]{64})", head)
    if not m:
        raise SealError(f"{path} is not an encrypted course checkpoint (no genai-course-encrypted-v1 header)")
    try:
        plain = _fernet(key).decrypt(token)
    except InvalidToken:
        raise SealError(f"cannot decrypt {path}: {KEY_ENV} is not the key it was encrypted with, or the file was altered") from None
    return plain, m.group(1).decode("ascii")
