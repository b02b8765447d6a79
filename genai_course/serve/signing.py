"""Signed outputs: every file the server returns carries an HMAC of its own bytes.

HMAC-SHA256 with the server's secret (``signing.key``, 32 random bytes) proves two things a
plain sha256 cannot: the file was made by a holder of the secret, and not one byte changed
since. Whoever lacks the secret cannot forge a signature for an altered file.

Three formats, each with the signature inside, so the file still opens as usual:

* ``.png``: a ``tEXt`` chunk ``genai-course-hmac`` just before ``IEND``; the signature covers
  every byte of the file except that chunk (image viewers skip unknown text chunks);
* ``.npz``: the zip archive's comment (the last bytes of the file); the signature covers every
  byte before it, the comment's length field included (``np.load`` ignores comments);
* ``.json``: ``{"payload": ..., "signature": ...}`` written canonically (sorted keys, no spaces);
  the signature covers the payload written the same way.

``verify`` rebuilds the signed form from the parts it finds and demands the exact same bytes,
so a flipped byte anywhere (the signature's own bytes, a chunk's checksum, a zip header) fails.
The signature names the secret by a short id (``key_id``): verifying with another server's
secret says so, rather than calling the file altered.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import secrets
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SigningError", "SIGNATURE_PREFIX", "new_secret", "read_secret", "key_id", "sign_png", "sign_npz", "sign_json",
    "png_bytes", "npz_bytes", "verify", "Verdict",
]

SIGNATURE_PREFIX = "genai-course-hmac-v1"  # then ":<key id>:<64 hex digits>"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_KEYWORD = b"genai-course-hmac"
_SIGNATURE_LENGTH = len(SIGNATURE_PREFIX) + 1 + 8 + 1 + 64  # the fixed length of "prefix:keyid:hex"


class SigningError(ValueError):
    """A secret or a file that cannot be signed or verified (unreadable, not a signed format)."""


def new_secret(path: str | os.PathLike[str]) -> Path:
    """Write a fresh 32-byte secret (64 hex digits) to ``path``, readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return path


def read_secret(path: str | os.PathLike[str]) -> bytes:
    """The secret in ``path`` (64 hex digits), as bytes; ``SigningError`` in one line if unusable."""
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise SigningError(f"signing key {path} does not exist (the server makes one on its first start)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SigningError(f"cannot read signing key {path} ({getattr(e, 'strerror', None) or type(e).__name__})") from None
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = b""
    if len(secret) != 32:
        raise SigningError(f"signing key {path} should hold 64 hex digits (32 bytes)")
    return secret


def key_id(secret: bytes) -> str:
    """8 hex digits naming a secret without revealing it (the start of sha256 of 'key-id' + secret)."""
    return hashlib.sha256(b"key-id" + secret).hexdigest()[:8]


def _signature(secret: bytes, data: bytes) -> str:
    return f"{SIGNATURE_PREFIX}:{key_id(secret)}:{hmac.new(secret, data, hashlib.sha256).hexdigest()}"


# ----------------------------------------------------------------------------------------- PNG


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(images: np.ndarray, scale: int = 4) -> bytes:
    """A grayscale PNG of ``images`` (n, 1, h, w) or (n, h, w) floats in [0, 1]: one row of tiles,
    each ``scale`` times larger and 1 pixel apart (white gaps), written without Pillow."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 4:
        x = x[:, 0]
    if x.ndim != 3 or len(x) == 0:
        raise SigningError(f"images should be (n, 1, h, w) or (n, h, w) with n >= 1 (got shape {x.shape})")
    tiles = np.kron(np.clip(x, 0, 1), np.ones((scale, scale), dtype=np.float32))  # (n, h*s, w*s)
    n, h, w = tiles.shape
    canvas = np.ones((h, n * (w + 1) - 1), dtype=np.float32)
    for i in range(n):
        canvas[:, i * (w + 1) : i * (w + 1) + w] = 1.0 - tiles[i]  # ink dark on white, as the lessons draw digits
    pixels = np.round(canvas * 255).astype(np.uint8)
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", pixels.shape[1], pixels.shape[0], 8, 0, 0, 0, 0)  # 8-bit grayscale
    return _PNG_MAGIC + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def _sig_chunk(signature: str) -> bytes:
    return _chunk(b"tEXt", _PNG_KEYWORD + b"\x00" + signature.encode("ascii", errors="replace"))  # a damaged one too


def sign_png(png: bytes, secret: bytes) -> bytes:
    """``png`` (ending in its IEND chunk) with the signature chunk inserted before IEND."""
    if not png.startswith(_PNG_MAGIC) or png[-12:] != _chunk(b"IEND", b""):
        raise SigningError("not a PNG that ends in its IEND chunk")
    return png[:-12] + _sig_chunk(_signature(secret, png)) + png[-12:]


def _split_png(data: bytes) -> tuple[bytes, str]:
    """(the PNG without its signature chunk, the signature) of a signed PNG."""
    sig_len = 12 + len(_PNG_KEYWORD) + 1 + _SIGNATURE_LENGTH
    if len(data) < len(_PNG_MAGIC) + sig_len + 12:
        raise SigningError("too short to be a signed PNG")
    chunk, end = data[-12 - sig_len : -12], data[-12:]
    marker = b"tEXt" + _PNG_KEYWORD + b"\x00"
    if chunk[4 : 4 + len(marker)] != marker:
        raise SigningError("a PNG without the server's signature (no genai-course-hmac chunk before IEND)")
    signature = chunk[4 + len(marker) : -4].decode("ascii", errors="replace")
    return data[: -12 - sig_len] + end, signature


# ----------------------------------------------------------------------------------------- NPZ


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz archive (stored, not compressed) of ``arrays``, as bytes; ``np.load`` reads it
    without ``allow_pickle`` (no object arrays: strings go in as unicode arrays)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for name, array in arrays.items():
            a = np.asarray(array)
            if a.dtype == object:
                raise SigningError(f"array {name} holds Python objects; an .npz here holds numbers and text only")
            one = io.BytesIO()
            np.lib.format.write_array(one, a, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))  # fixed: the same arrays, the same bytes
            z.writestr(info, one.getvalue())
        z.comment = b"\x00" * _SIGNATURE_LENGTH  # the signature's place, filled by sign_npz
    return buffer.getvalue()


def sign_npz(npz: bytes, secret: bytes) -> bytes:
    """``npz`` (from ``npz_bytes``) with its comment replaced by the signature of every byte before it."""
    if len(npz) < 22 + _SIGNATURE_LENGTH or npz[-_SIGNATURE_LENGTH - 2 : -_SIGNATURE_LENGTH] != struct.pack("<H", _SIGNATURE_LENGTH):
        raise SigningError("not an archive from npz_bytes (its comment is not the signature's place)")
    body = npz[:-_SIGNATURE_LENGTH]
    return body + _signature(secret, body).encode("ascii")


# ---------------------------------------------------------------------------------------- JSON


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign_json(payload: Any, secret: bytes) -> bytes:
    """``{"payload": payload, "signature": ...}`` as canonical JSON bytes."""
    return _canonical({"payload": payload, "signature": _signature(secret, _canonical(payload))})


# -------------------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found: ``ok`` and one line saying why (format, key id, or what failed)."""

    ok: bool
    format: str
    message: str


def _split(data: bytes) -> tuple[str, bytes, str, bytes]:
    """(format, the signed bytes, the signature found, the file rebuilt from them)."""
    if data.startswith(_PNG_MAGIC):
        signed, signature = _split_png(data)
        return "png", signed, signature, signed[:-12] + _sig_chunk(signature) + signed[-12:]
    if data.startswith(b"PK"):
        body, signature = data[:-_SIGNATURE_LENGTH], data[-_SIGNATURE_LENGTH:].decode("ascii", errors="replace")
        return "npz", body, signature, body + signature.encode("ascii", errors="replace")
    if data.startswith(b"{"):
        try:
            whole = json.loads(data.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise SigningError("a file that starts like JSON but is not valid JSON") from None
        if not isinstance(whole, dict) or set(whole) != {"payload", "signature"} or not isinstance(whole["signature"], str):
            raise SigningError("JSON without the server's envelope ({\"payload\": ..., \"signature\": ...})")
        return "json", _canonical(whole["payload"]), whole["signature"], _canonical(whole)
    raise SigningError("neither a PNG, an .npz nor a JSON file from the server")


def verify(data: bytes, secret: bytes) -> Verdict:
    """Check a file the server signed: every byte, against ``secret``."""
    try:
        kind, signed, signature, rebuilt = _split(data)
    except SigningError as e:
        return Verdict(False, "unknown", str(e))
    parts = signature.split(":")
    if len(parts) != 3 or parts[0] != SIGNATURE_PREFIX or len(parts[2]) != 64:
        return Verdict(False, kind, f"the signature is damaged (it should read {SIGNATURE_PREFIX}:<key id>:<64 hex digits>)")
    if parts[1] != key_id(secret):
        return Verdict(False, kind, f"signed with another secret (key id {parts[1]}, this one is {key_id(secret)}): ask that server's owner")
    expected = _signature(secret, signed)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", errors="replace")) or rebuilt != data:
        return Verdict(False, kind, "the file was altered after it was signed: its bytes no longer match the signature")
    return Verdict(True, kind, f"signature valid ({kind}, key id {parts[1]}): made by the server and unchanged")
