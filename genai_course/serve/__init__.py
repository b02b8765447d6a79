"""Lesson 15: a generator behind a door. ``genai-course serve`` and what it is built from.

* ``scopes``: what a key may ask for (``model:``, ``label:``, ``max:``, ``admin``) and its quota;
* ``keys``: keys made once and stored only as salted hashes, checked in constant time, read on
  every request;
* ``quota``: the per-key token bucket behind 429 and ``Retry-After``;
* ``signing``: every returned file carries an HMAC of its own bytes (PNG, .npz, JSON);
* ``sealed``: checkpoints encrypted at rest (Fernet), decrypted in memory;
* ``audit``: one JSON line per request;
* ``engine``: a checkpoint loaded safely, and one forward pass for a whole batch of requests;
* ``batching``: the dynamic batcher (up to B samples or W ms);
* ``app`` (with ``page``, the web page): the FastAPI app, door after door;
* ``process``: the server as a child process that never outlives its starter;
* ``loadtest``: a bounded closed-loop load test against 127.0.0.1.

FastAPI, uvicorn and cryptography are imported only when a server starts or a file is sealed.
"""

from .audit import AuditLog, read_audit
from .batching import Batcher, QueueFull
from .keys import KEY_PREFIX, KeyFileError, KeyRecord, add_key, find, hash_key, list_keys, revoke_key
from .loadtest import LoadResult, run_load
from .process import ServerError, ServerProcess, free_port
from .quota import Quotas, TokenBucket
from .scopes import DEFAULT_MAX, ScopeError, Scopes, parse_quota, parse_scopes
from .sealed import KEY_ENV, SealError, decrypt, encrypt, is_encrypted, new_key
from .signing import SigningError, Verdict, key_id, new_secret, npz_bytes, png_bytes, read_secret, sign_json, sign_npz, sign_png, verify

__all__ = [
    "AuditLog", "read_audit", "Batcher", "QueueFull",
    "KEY_PREFIX", "KeyFileError", "KeyRecord", "add_key", "find", "hash_key", "list_keys", "revoke_key",
    "LoadResult", "run_load", "ServerError", "ServerProcess", "free_port", "Quotas", "TokenBucket",
    "DEFAULT_MAX", "ScopeError", "Scopes", "parse_quota", "parse_scopes",
    "KEY_ENV", "SealError", "decrypt", "encrypt", "is_encrypted", "new_key",
    "SigningError", "Verdict", "key_id", "new_secret", "npz_bytes", "png_bytes", "read_secret", "sign_json", "sign_npz",
    "sign_png", "verify",
]
