"""API keys: made once, stored only as salted hashes, checked in constant time, read on every request.

A key is ``gck_`` and 43 random URL-safe characters (256 bits), shown once when it is made.
The key file (JSON, readable by its owner only) keeps for each key its name, a random salt,
``HMAC-SHA256(salt, key)``, its scopes, its quota and whether it was revoked; never the key. A
stolen key file therefore lets no one in. A fast hash is enough here because the keys are
random, not passwords people choose: there is nothing to guess from a dictionary.

``find`` reads the file every time it is called, so a key added or revoked while the server
runs counts from the next request (LitServe once read its key at import, and a key set later
let wrong keys through). It hashes the presented key with every entry's salt and compares with
``hmac.compare_digest``, whose time does not depend on where two strings first differ, and it
looks at every entry whatever it finds, so the time taken reveals neither a key's prefix nor
which entry matched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from .scopes import Scopes, parse_quota, parse_scopes

__all__ = ["KeyFileError", "KeyRecord", "KEY_PREFIX", "add_key", "revoke_key", "list_keys", "find", "hash_key"]

KEY_PREFIX = "gck_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_VERSION = 1


class KeyFileError(ValueError):
    """A key file or key request that cannot be used; the message is one line for the command line."""


@dataclass(frozen=True)
class KeyRecord:
    """One key as stored: never the key itself."""

    name: str
    salt: str  # 32 hex digits
    hash: str  # HMAC-SHA256(salt, key), 64 hex digits
    scopes: str  # as given to `keys add`, parsed by scopes.parse_scopes
    quota: str  # "N/min"
    created: str
    revoked: bool = False

    def parsed_scopes(self) -> Scopes:
        return parse_scopes(self.scopes)

    def per_minute(self) -> int:
        return parse_quota(self.quota)


def hash_key(key: str, salt: str) -> str:
    """HMAC-SHA256 of ``key`` under ``salt`` (hex): what the key file stores."""
    return hmac.new(bytes.fromhex(salt), key.encode("utf-8"), hashlib.sha256).hexdigest()


def _read(path: Path) -> list[KeyRecord]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as e:
        raise KeyFileError(f"cannot read key file {path} ({e.strerror})") from None
    try:
        data = json.loads(text)
        if data.get("version") != _VERSION:
            raise ValueError
        return [KeyRecord(**entry) for entry in data["keys"]]
    except (ValueError, TypeError, KeyError, AttributeError):
        raise KeyFileError(f"key file {path} is damaged: not the JSON that 'genai-course keys' writes") from None


def _write(path: Path, records: list[KeyRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:  # mkstemp: readable by the owner only
        json.dump({"version": _VERSION, "keys": [asdict(r) for r in records]}, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def add_key(path: str | os.PathLike[str], name: str, scopes: str, quota: str = "60/min") -> str:
    """Make a key called ``name`` with ``scopes`` and ``quota``; store its salted hash; return the key (shown once)."""
    path = Path(path)
    if not _NAME.match(name):
        raise KeyFileError(f"key name {name!r} should be 1-40 letters, digits, '.', '_' or '-', starting with a letter or digit")
    parse_scopes(scopes)  # refuse bad scopes now, not at the first request
    parse_quota(quota)
    records = _read(path)
    if any(r.name == name for r in records):
        raise KeyFileError(f"there is already a key called {name} in {path} (revoke it first, or choose another name)")
    key, salt = KEY_PREFIX + secrets.token_urlsafe(32), secrets.token_hex(16)
    from datetime import datetime, timezone

    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    records.append(KeyRecord(name, salt, hash_key(key, salt), scopes, quota, created))
    _write(path, records)
    return key


def revoke_key(path: str | os.PathLike[str], name: str) -> None:
    """Mark the key called ``name`` revoked: from the next request on, it lets no one in."""
    path = Path(path)
    records = _read(path)
    if not any(r.name == name and not r.revoked for r in records):
        known = ", ".join(r.name for r in records if not r.revoked) or "none"
        raise KeyFileError(f"no live key called {name} in {path} (live keys: {known})")
    _write(path, [KeyRecord(**{**asdict(r), "revoked": True}) if r.name == name else r for r in records])


def list_keys(path: str | os.PathLike[str]) -> list[KeyRecord]:
    """Every key in the file, revoked ones included (their hashes, never the keys)."""
    return _read(Path(path))


def find(path: str | os.PathLike[str], presented: str | None) -> KeyRecord | None:
    """The live key record that ``presented`` matches, read from the file now; None if none does."""
    records = _read(Path(path))
    if not presented:
        return None
    match: KeyRecord | None = None
    for record in records:  # every entry, whatever matched: the time does not say which one did
        same = hmac.compare_digest(hash_key(presented, record.salt), record.hash)
        if same and not record.revoked:
            match = record
    return match
