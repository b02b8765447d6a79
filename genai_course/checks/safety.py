"""Exercise checks for lesson 13 (safety).

13.1 hashing a file in chunks ``sha256_file``, 13.2 a restricted unpickler ``safe_load``. Lessons
call them through ``genai_course.checks``: ``checks.sha256_file(fn)``. Each is a probe (``def
name(fn, seen)``: runs the learner's code, records what it saw) and a judge (``@name.judge``: from
those observations to the verdict), see ``_protocol``.

The probes write their test files into a fresh temporary folder. The "malicious" pickles they
make are harmless stand-ins: unpickling one calls ``checkpoints.leave_marker`` (writes a marker
file into that folder), ``os.mkdir`` (makes a folder there) or ``eval`` of an expression that
writes a marker there, so that a learner's loader that runs them is seen to, and nothing else
happens. While the probe of 13.2 runs, ``collections`` also holds two such stand-ins and a
module named ``genai_course_untrusted`` can be imported (the probe counts its imports), so that
an allow-list that lets a whole module, a prefix or a bare name through, or that imports before it
checks, is seen to as well (``_pickles`` makes these files and stand-ins).
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import hashlib
import io
import json
import os
import pickle
import re
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

from ._pickles import IMPORTS, UNTRUSTED, canonical, crafted_file, error_types, fingerprint, render, stand_ins
from ._protocol import CheckFailed, Observed, _call, _exercise, _text, _with_advice
from .observations import observe

__all__ = ["sha256_file", "safe_load"]

# --------------------------------------------------------------------------- 13.1 hashing in chunks

_BIG = 3 * (1 << 20) + 12_345  # bytes: more than a few chunks of any usual size
_CHUNKS = (1024, 4096, 8192, 16384, 65536, 1 << 17, 1 << 20, 1 << 22)  # the chunk sizes learners pick
_SHA_CASES = (("empty", 0, 0), ("small", 100, 1), ("big", _BIG, 2))  # (key, size in bytes, seed)
_SUFFIX = {"empty": ".bin", "small": ".pt", "big": ".pt"}
_HASH_TYPES = tuple({type(hashlib.new(name)) for name in ("sha256", "md5", "sha1", "sha512", "blake2b")} | {type(hashlib.sha256())})


def _content(size: int, seed: int) -> bytes:
    """Bytes that are not valid UTF-8 and hold \\r\\n pairs, so text mode shows itself."""
    import random

    body = bytearray(random.Random(seed).randbytes(size))
    for at in range(0, size - 1, 997):
        body[at:at + 2] = b"\r\n"
    if size > 5:
        body[5] = 0xFF  # never valid UTF-8
    return bytes(body)


class _Watched(io.RawIOBase):
    """A file opened by the learner's code: records how much each read asked for."""

    def __init__(self, f: Any, reads: list[int | None]) -> None:
        self._f, self._reads = f, reads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def read(self, size: int | None = -1) -> Any:
        self._reads.append(None if size is None or size < 0 else size)
        return self._f.read(size)

    def readall(self) -> Any:
        self._reads.append(None)
        return self._f.read()

    def readinto(self, b: Any) -> Any:
        self._reads.append(len(b))
        return self._f.readinto(b)

    def readable(self) -> bool:
        return True

    def __iter__(self) -> Iterator[Any]:
        self._reads.append(-1)  # lines: of any length
        return iter(self._f)

    def close(self) -> None:
        self._f.close()
        super().close()


@contextlib.contextmanager
def _watch_reads(path: Path) -> Iterator[list[int | None]]:
    """While inside, files opened on ``path`` (open, io.open, Path.open) record their reads:
    the size each asked for, None for "all of it", -1 for iterating over lines. A file the
    learner's code leaves open is closed without a ResourceWarning."""
    reads: list[int | None] = []
    real_open = builtins.open

    def watched_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        f = real_open(file, *args, **kwargs)
        try:
            same = Path(os.fspath(file)).resolve() == path.resolve()
        except TypeError:
            same = False
        return _Watched(f, reads) if same and "b" in (args[0] if args else kwargs.get("mode", "r")) else f

    builtins.open, io.open = watched_open, watched_open
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            yield reads
    finally:
        builtins.open, io.open = real_open, real_open


def _hex_slip(rec: dict[str, Any], raw: str | None, hash_object: bool, content: bytes, names: list[str]) -> str | None:
    """What a wrong answer (``rec``, its bytes as hex ``raw`` if it returned bytes) for ``content`` is, if it is a usual slip."""
    truth = hashlib.sha256(content).hexdigest()
    if raw is not None:
        if raw == truth:
            return "returned the 32 raw bytes of the digest (.digest()): return the 64 hex digits, .hexdigest(), which is what sha256sum prints"
        return f"should return a str of 64 hex digits, but returned {rec['type']}"
    if hash_object:
        return "returned the hash object itself: return its .hexdigest()"
    if rec["type"] != "str":
        return f"should return a str of 64 hex digits, but returned {rec['type']}"
    out = rec["value"]
    if out == truth.upper():
        return "the hex digits are in upper case: sha256sum and hashlib write lower case (.hexdigest() as it comes)"
    for name in ("md5", "sha1", "sha512", "sha224", "sha384", "blake2b"):
        if out == hashlib.new(name, content).hexdigest():
            return f"that is the {name.upper()} of the file, not its SHA-256: use hashlib.sha256()"
    for text in names:
        if out == hashlib.sha256(text.encode()).hexdigest():
            return "that is the hash of the file's *name*, not of its contents: open(path, 'rb') and hash the bytes you read"
    if out == hashlib.sha256(content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")).hexdigest():  # universal newlines
        return "the file was read in text mode (its \\r\\n became \\n): open it with 'rb', hashes are of bytes"
    for k in _CHUNKS:
        if len(content) > k and out == hashlib.sha256(content[:k]).hexdigest():
            return f"only the first {k} bytes were hashed: keep reading until f.read(...) returns b'' (an empty bytes object)"
        if len(content) > k:
            last = content[(len(content) - 1) // k * k:]
            if out == hashlib.sha256(last).hexdigest():
                return "only the last chunk counts: you made a new hashlib.sha256() for every chunk; make one before the loop and .update() it"
    if len(out) != 64:
        return f"should be 64 hex digits, but has {len(out)} characters"
    return None


_READ_ADVICE = [
    (("UnicodeDecodeError", "Unicode"), "open the file with 'rb': a hash is of bytes, and a checkpoint is no text"),
    (("Unicode-objects must be encoded", "Strings must be encoded", "'str'"), "open the file with 'rb' (binary): hashlib takes bytes, not str"),
]


@_exercise("13.1", "hashing a file in chunks")
def sha256_file(fn: Callable[..., str], seen: dict) -> None:
    """fn(path) -> the SHA-256 of the file's bytes as 64 lowercase hex digits, reading it in chunks."""
    with tempfile.TemporaryDirectory() as tmp:
        for key, size, seed in _SHA_CASES:
            path = Path(tmp) / f"{key}{_SUFFIX[key]}"
            path.write_bytes(_content(size, seed))
            seen[f"{key}.names"] = [str(path), path.name, os.fspath(path.resolve())]
            with _watch_reads(path) as reads:
                out = _call(f"sha256_file(path) for a file of {size:,} bytes", fn, path)
            seen[f"{key}.out"] = observe(out)
            seen[f"{key}.bytes"] = bytes(out).hex() if type(out) in (bytes, bytearray) else None
            seen[f"{key}.hash_object"] = type(out) in _HASH_TYPES
            seen[f"{key}.reads"] = list(reads)
        again = Path(tmp) / "again.pt"  # str paths too
        again.write_bytes(b"genai-course")
        with _watch_reads(again):
            seen["str.out"] = observe(_call("sha256_file(str(path))", fn, str(again)))


@sha256_file.judge
def _judge_sha256_file(seen: Observed) -> str:
    for key, size, seed in _SHA_CASES:
        content = _content(size, seed)
        what = f"sha256_file(path) for a file of {size:,} bytes"
        names = seen[f"{key}.names"]
        try:
            rec = seen[f"{key}.out"]
        except CheckFailed as e:
            raise _with_advice(e, _READ_ADVICE) from None
        if not (rec["type"] == "str" and rec["value"] == hashlib.sha256(content).hexdigest()):
            slip = _hex_slip(rec, seen[f"{key}.bytes"], seen[f"{key}.hash_object"], content, names)
            if rec["type"] == "str" and size == 0 and not rec["value"].strip():
                slip = f"an empty file has a hash too, e3b0c442...: the hash of no bytes (got {rec['value'][:12]!r})"
            raise CheckFailed(f"{what}: {slip or 'differs from the SHA-256 of its bytes: was every byte hashed, once and in order?'}")
        if size == _BIG:
            reads = seen[f"{key}.reads"]
            if None in reads:
                raise CheckFailed(f"{what}: the hash is right, but the whole file was read at once (read() with no size, or read_bytes()):"
                                  " read a fixed-size chunk at a time, e.g. f.read(1 << 20), so a 1 GB checkpoint needs 1 MB of memory")
            if -1 in reads:
                raise CheckFailed(f"{what}: the hash is right, but you iterated over the file's *lines*: a binary file's 'lines' can be"
                                  " any length; read fixed-size chunks, f.read(1 << 20)")
            if reads and max(r for r in reads if r is not None) >= _BIG:
                raise CheckFailed(f"{what}: the hash is right, but one read asked for the whole file: use chunks far smaller than a checkpoint")
    try:
        rec = seen["str.out"]
    except CheckFailed as e:
        raise _with_advice(e, [(("AttributeError",), "accept a str as well as a Path: open(path, 'rb') takes both")]) from None
    if not (rec["type"] == "str" and rec["value"] == hashlib.sha256(b"genai-course").hexdigest()):
        raise CheckFailed("sha256_file(str(path)) differs from sha256_file(Path(path)): accept either (open() takes both)")
    return "matches hashlib and sha256sum on an empty, a small and a 3 MB file, read in chunks"


# --------------------------------------------------------------------------- 13.2 a restricted unpickler

_PROTOCOLS = (2, 4)  # GLOBAL and STACK_GLOBAL opcodes: both go through find_class

# (key, what the file holds, the name a refusal's message must say): in the order the judge reports them
_CRAFTED = (
    ("leave_marker", "a call to checkpoints.leave_marker", "leave_marker"),
    ("mkdir", "a call to os.mkdir", "mkdir"),
    ("eval", "a call to eval", "eval"),
    ("collections", "a call to collections.leave_marker", "leave_marker"),
    ("prefix", "a call to collections.OrderedDict_hook", "OrderedDict_hook"),
    ("untrusted", f"a call to {UNTRUSTED}.OrderedDict", "OrderedDict"),
)


def _benign() -> list[tuple[str, Any]]:
    return [
        ("a dict of numbers, strings and lists", {"step": 7, "lr": 0.001, "name": "dcgan-digits", "sizes": [1, 2, 3], "ok": True, "none": None}),
        ("nested tuples, bytes and a set", {"shape": (1, 8, 8), "raw": b"\x00\x01", "tags": {"a", "b"}, "deep": [{"x": [1.5, -2]}]}),
        ("an OrderedDict (a state_dict's container)", collections.OrderedDict([("w", [0.5, 1.0]), ("b", [0.0])])),
    ]


def _attempt(fn: Callable[..., Any], path: Path) -> tuple[Any, Exception | None]:
    """(what the learner's safe_load returned, or the exception it raised); NotImplementedError goes on to _call."""
    try:
        return fn(path), None
    except NotImplementedError:
        raise
    except Exception as e:
        return None, e


def _outcome(fn: Callable[..., Any], path: Path, what: str) -> dict[str, Any]:
    """What safe_load(path) did: "raised" (type, its classes as module.name, message), or returned "out" (observe) and
    "value" (its ``fingerprint`` as JSON text: pickles nest deeper than observations may)."""
    out, e = _call(f"safe_load on {what}", _attempt, fn, path)
    if e is not None:
        mro = [f"{c.__module__}.{c.__qualname__}" for c in type(e).__mro__]
        return {"raised": {"type": type(e).__name__, "classes": mro, "message": _text(e)[:200]}, "out": None, "value": None}
    return {"raised": None, "out": observe(out), "value": json.dumps(fingerprint(out))[:20_000]}


@_exercise("13.2", "a restricted unpickler")
def safe_load(fn: Callable[..., Any], seen: dict) -> None:
    """fn(path) -> the object in a pickle file, or pickle.UnpicklingError if it asks for a global not on the allow-list."""
    with tempfile.TemporaryDirectory() as tmp, stand_ins():
        folder = Path(tmp)
        for protocol in _PROTOCOLS:
            for i, (what, obj) in enumerate(_benign()):
                if protocol < 3 and "bytes" in what:
                    continue  # protocol 2 has no opcodes for bytes and sets: it pickles them as calls to _codecs.encode and set
                path = folder / f"benign-{protocol}-{i}.pkl"
                path.write_bytes(pickle.dumps(obj, protocol=protocol))
                seen[f"p{protocol}.benign{i}"] = _outcome(fn, path, what)
            for key, what, _ in _CRAFTED:
                marker = folder / f"ran-{protocol}-{key}"
                path = folder / f"crafted-{protocol}-{key}.pkl"
                path.write_bytes(crafted_file(key, marker, protocol))
                imports = IMPORTS[0]
                result = _outcome(fn, path, f"a file holding {what}")
                sys.modules.pop(UNTRUSTED, None)  # so that the next file's import runs its code again
                seen[f"p{protocol}.{key}"] = {**result, "ran": marker.exists(), "imported": IMPORTS[0] > imports}


_UNPICKLING_ERROR = f"{pickle.UnpicklingError.__module__}.{pickle.UnpicklingError.__qualname__}"


def _reading_slip(what: str, raised: dict[str, Any]) -> CheckFailed | None:
    message = raised["message"]
    if "builtins.UnicodeDecodeError" in raised["classes"] or ("builtins.TypeError" in raised["classes"] and ("'str'" in message or "bytes" in message)):
        return CheckFailed(f"safe_load on {what} raised {raised['type']}: {message[:80]} (open the file in binary mode, 'rb': a pickle is bytes)")
    return None


def _ran_how(ran: list[str]) -> tuple[str, str]:
    """(the crafted file to name, why a loader that ran the crafted files ``ran`` (their keys) let them through)."""
    if set(ran) == {key for key, _, _ in _CRAFTED}:
        return "leave_marker", "pickle.load trusts the file: load with a pickle.Unpickler subclass whose find_class checks an allow-list"
    if set(ran) == {"eval"}:
        return "eval", "allowing the whole builtins module lets a file call eval, exec or getattr: allow exact (module, name) pairs"
    if "leave_marker" in ran:
        return "leave_marker", "a deny-list misses the names you did not think of: list what is allowed, refuse everything else"
    if "untrusted" in ran:
        return "untrusted", (f"checking only the name lets an OrderedDict from any module through (here from {UNTRUSTED}, a module the"
                             " check made): a file names the module too; check the pair, (module, name) in ALLOWED")
    if "collections" in ran:
        return "collections", ("allowing every name of a module (here collections, where the check put a leave_marker) lets a file call"
                               " whatever that module holds: allow exact (module, name) pairs, (module, name) in ALLOWED")
    if "prefix" in ran:
        return "prefix", ("a prefix or substring test ('OrderedDict' in name, startswith) lets other names through, here one the check"
                          " put into collections: compare the exact pair, (module, name) in ALLOWED")
    return ran[0], "find_class must refuse every (module, name) not on the allow-list"


@safe_load.judge
def _judge_safe_load(seen: Observed) -> str:
    for protocol in _PROTOCOLS:
        for i, (what, obj) in enumerate(_benign()):
            if protocol < 3 and "bytes" in what:
                continue
            result = seen[f"p{protocol}.benign{i}"]
            raised = result["raised"]
            if raised is not None:
                slip = _reading_slip(what, raised)
                if slip:
                    raise slip
                if _UNPICKLING_ERROR in raised["classes"] and "OrderedDict" in what:
                    raise CheckFailed(f"safe_load refused {what} ({raised['message'][:60]}): put ('collections', 'OrderedDict') on the allow-list;"
                                      " plain dicts, lists, numbers and strings need no globals at all")
                raise CheckFailed(f"safe_load on {what} raised {raised['type']}: {raised['message'][:80]} (this file holds nothing to refuse:"
                                  " refuse in find_class, and only names not on the allow-list)")
            value = json.loads(result["value"])
            if canonical(value) != canonical(json.loads(json.dumps(fingerprint(obj)))):
                raise CheckFailed(f"safe_load on {what} returned {result['out']['type']} {render(value)[:60]}, expected the object that was pickled")
        results = [(key, what, name, seen[f"p{protocol}.{key}"]) for key, what, name in _CRAFTED]
        ran = [key for key, _, _, result in results if result["ran"]]
        if ran:
            named, how = _ran_how(ran)
            what = next(w for key, w, _, _ in results if key == named)
            raise CheckFailed(f"safe_load ran the code hidden in a file holding {what} (it created the marker file): {how}")
        for key, what, name, result in results:
            if result["imported"]:
                raise CheckFailed(f"safe_load imported {UNTRUSTED} for a file holding {what} before refusing it: importing a module runs its code;"
                                  " check (module, name) against the allow-list first, and call super().find_class only for an allowed pair")
        for key, what, name, result in results:
            raised = result["raised"]
            if raised is None:
                value = json.loads(result["value"])
                errors = error_types(value)
                if errors:
                    article = "an" if errors[0][0] in "AEIOU" else "a"
                    raise CheckFailed(f"safe_load returned {result['out']['type']} holding {article} {errors[0]} for a file holding {what}:"
                                      " find_class returned the error instead of raising it (raise pickle.UnpicklingError(...))")
                raise CheckFailed(f"safe_load returned {result['out']['type']} {render(value)[:40]} for a file holding {what}: the code did not run,"
                                  " but a refused file must raise pickle.UnpicklingError, not be swallowed into a return value")
            slip = _reading_slip(what, raised)
            if slip:
                raise slip
            called = re.fullmatch(r"'(\w+)' object is not callable", raised["message"]) if "builtins.TypeError" in raised["classes"] else None
            if called and called[1] == "NoneType":
                raise CheckFailed(f"safe_load raised TypeError ('NoneType' object is not callable) for a file holding {what}: find_class returned None"
                                  " for a name not on the allow-list (a missing raise?); raise pickle.UnpicklingError naming it")
            if called and called[1].endswith(("Error", "Exception")):
                raise CheckFailed(f"safe_load raised TypeError ('{called[1]}' object is not callable) for a file holding {what}:"
                                  " find_class returned the error instead of raising it (raise pickle.UnpicklingError(...))")
            if _UNPICKLING_ERROR not in raised["classes"]:
                raise CheckFailed(f"safe_load raised {raised['type']} for a file holding {what}: raise pickle.UnpicklingError"
                                  " (the error pickle's callers expect)")
            if name not in raised["message"]:
                raise CheckFailed(f"safe_load refused a file holding {what}, but its message {raised['message'][:60]!r} does not say what was"
                                  f" refused: name the module and name find_class was given (here ...{name})")
    return "refuses leave_marker, os.mkdir and eval without running them; loads plain containers and an OrderedDict"  # as solutions/13_safety.ipynb shows
