"""``genai-course serve``, ``keys``, ``verify`` and ``encrypt``: a checkpoint behind a door (lesson 15).

``serve`` loads every checkpoint first (safely, hashes checked, encrypted ones decrypted in
memory) and only then listens, on 127.0.0.1 unless told otherwise. The key file, the audit log
and the signing secret live together, by default in ``runs/serve/``. ``keys add`` prints the new
key alone on stdout (so ``KEY=$(genai-course keys add ...)`` works) and never again.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

from .files import UsageError

__all__ = ["cmd_serve", "cmd_keys", "cmd_verify", "cmd_encrypt", "DEFAULT_KEYS"]

DEFAULT_KEYS = Path("runs") / "serve" / "keys.json"


def _beside_keys(keys: str, given: str | None, name: str) -> Path:
    return Path(given) if given else Path(keys).parent / name


def _exit_when_stdin_closes() -> None:
    """Stop this server (as Ctrl-C would) when whoever started it goes away and our stdin closes."""
    import signal

    def watch() -> None:
        while sys.stdin.buffer.read(1024):
            pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="exit-with-stdin").start()


def cmd_serve(args: argparse.Namespace) -> int:
    from .. import checkpoints
    from ..serve import app as serving
    from ..serve import keys as keylib
    from ..serve import signing
    from ..serve.sealed import SealError

    config = serving.ServeConfig(
        checkpoints=list(args.checkpoints), keys=Path(args.keys), audit=_beside_keys(args.keys, args.audit, "audit.jsonl"),
        signing_key=_beside_keys(args.keys, args.signing_key, "signing.key"), max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms, max_queue=args.max_queue, seed=args.seed,
    )
    try:
        keylib.list_keys(config.keys)  # a damaged key file: say so now, not at the first request
        app = serving.create_app(config)  # the checkpoints first; then the secret and the audit log are made
    except (checkpoints.CheckpointError, SealError, keylib.KeyFileError, signing.SigningError, ValueError) as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"cannot use {e.filename}: {e.strerror}") from None
    import uvicorn

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"genai-course serve: listening on {args.host}: anyone who can reach this machine can try keys", file=sys.stderr)
    if args.exit_with_stdin:
        _exit_when_stdin_closes()
    batching = f"up to {args.max_batch} samples or {args.max_wait_ms:g} ms" if args.max_batch > 1 else "off"
    print(f"serving {', '.join(Path(c).name for c in args.checkpoints)} on http://{args.host}:{args.port} "
          f"(keys {config.keys}, audit {config.audit}, batching {batching})", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from ..serve import keys as keylib
    from ..serve.scopes import ScopeError

    try:
        if args.action == "add":
            key = keylib.add_key(args.keys, args.name, args.scopes, args.quota)
            print(f"key {args.name} added to {args.keys} (scopes: {args.scopes}; quota {args.quota}); "
                  "it is shown once, below: store it now", file=sys.stderr)
            print(key)
        elif args.action == "revoke":
            keylib.revoke_key(args.keys, args.name)
            print(f"key {args.name} revoked: from the next request on, it lets no one in")
        else:
            records = keylib.list_keys(args.keys)
            if not records:
                print(f"no keys in {args.keys}: add one with 'genai-course keys add NAME --scopes ...'")
            for r in records:
                print(f"{r.name:<16} {'revoked' if r.revoked else 'live':<8} {r.quota:>10}  {r.created}  {r.scopes}")
    except (keylib.KeyFileError, ScopeError) as e:
        raise UsageError(str(e)) from None
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from ..serve import signing

    try:
        secret = signing.read_secret(args.signing_key)
        data = Path(args.file).read_bytes()
    except signing.SigningError as e:
        raise UsageError(str(e)) from None
    except OSError as e:
        raise UsageError(f"cannot read {args.file} ({e.strerror})") from None
    verdict = signing.verify(data, secret)
    print(f"{args.file}: {'OK' if verdict.ok else 'FAILED'}: {verdict.message}")
    return 0 if verdict.ok else 1


def cmd_encrypt(args: argparse.Namespace) -> int:
    from .. import checkpoints
    from ..serve import sealed

    if args.new_key:
        if args.checkpoint:
            raise UsageError("--new-key makes a key and encrypts nothing: give no checkpoint with it")
        print(sealed.new_key())
        return 0
    if not args.checkpoint:
        raise UsageError("give the checkpoint to encrypt (or --new-key to make a key)")
    try:
        out = sealed.encrypt(args.checkpoint, args.out)
    except (sealed.SealError, checkpoints.CheckpointError) as e:
        raise UsageError(str(e)) from None
    print(f"wrote {out} (encrypted with ${sealed.KEY_ENV}; hash in {out.name}.sha256); serve it with the same key set")
    return 0
