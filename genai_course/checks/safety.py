"""Exercise checks for lesson 13 (safety).

13.1 hashing a file in chunks ``sha256_file``, 13.2 a restricted unpickler ``safe_load``. Lessons
call them through ``genai_course.checks``: ``checks.sha256_file(fn)``.

The checks write their test files into a fresh temporary folder. The "malicious" pickles they
make are harmless stand-ins: unpickling one calls ``checkpoints.leave_marker`` (writes a marker
file into that folder), ``os.mkdir`` (makes a folder there) or ``eval`` of an expression that
writes a marker there, so that a learner's loader that runs them is seen to, and nothing else
happens.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import hashlib
import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from .. import checkpoints
from ._protocol import CheckFailed, _call, _exercise, _NotAttempted, _with_advice

__all__ = ["sha256_file", "safe_load"]

# --------------------------------------------------------------------------- 13.1 hashing in chunks

_BIG = 3 * (1 << 20) + 12_345  # bytes: more than a few chunks of any usual size
_CHUNKS = (1024, 4096, 8192, 16384, 65536, 1 << 17, 1 << 20, 1 << 22)  # the chunk sizes learners pick


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
    """While inside, files opened on ``path`` (open, io.open, Path.open) record their reads."""
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
        yield reads
    finally:
        builtins.open, io.open = real_open, real_open


def _hex_slip(out: Any, content: bytes, path: Path) -> str | None:
    """What a wrong answer for ``content`` is, if it is a usual slip."""
    truth = hashlib.sha256(content).hexdigest()
    if isinstance(out, (bytes, bytearray)):
        if bytes(out) == hashlib.sha256(content).digest():
            return "returned the 32 raw bytes of the digest (.digest()): return the 64 hex digits, .hexdigest(), which is what sha256sum prints"
        return f"should return a str of 64 hex digits, but returned {type(out).__name__}"
    if hasattr(out, "hexdigest") and not isinstance(out, str):
        return "returned the hash object itself: return its .hexdigest()"
    if not isinstance(out, str):
        return f"should return a str of 64 hex digits, but returned {type(out).__name__}"
    if out == truth.upper():
        return "the hex digits are in upper case: sha256sum and hashlib write lower case (.hexdigest() as it comes)"
    for name in ("md5", "sha1", "sha512", "sha224", "sha384", "blake2b"):
        if out == hashlib.new(name, content).hexdigest():
            return f"that is the {name.upper()} of the file, not its SHA-256: use hashlib.sha256()"
    for text in (str(path), path.name, os.fspath(path.resolve())):
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


def _sha_cases(folder: Path) -> list[tuple[Path, bytes]]:
    cases = []
    for name, size, seed in (("empty.bin", 0, 0), ("small.pt", 100, 1), ("big.pt", _BIG, 2)):
        path = folder / name
        content = _content(size, seed)
        path.write_bytes(content)
        cases.append((path, content))
    return cases


@_exercise("13.1", "hashing a file in chunks")
def sha256_file(fn: Callable[..., str]) -> str:
    """fn(path) -> the SHA-256 of the file's bytes as 64 lowercase hex digits, reading it in chunks."""
    with tempfile.TemporaryDirectory() as tmp:
        for path, content in _sha_cases(Path(tmp)):
            what = f"sha256_file(path) for a file of {len(content):,} bytes"
            with _watch_reads(path) as reads:
                try:
                    out = _call(what, fn, path)
                except CheckFailed as e:
                    raise _with_advice(e, _READ_ADVICE) from None
            if out != hashlib.sha256(content).hexdigest():
                slip = _hex_slip(out, content, path)
                if isinstance(out, str) and len(content) == 0 and not out.strip():
                    slip = f"an empty file has a hash too, e3b0c442...: the hash of no bytes (got {out[:12]!r})"
                raise CheckFailed(f"{what}: {slip or 'differs from the SHA-256 of its bytes (compare with hashlib.sha256(data).hexdigest())'}")
            if len(content) == _BIG:
                if None in reads:
                    raise CheckFailed(f"{what}: the hash is right, but the whole file was read at once (read() with no size, or read_bytes()):"
                                      " read a fixed-size chunk at a time, e.g. f.read(1 << 20), so a 1 GB checkpoint needs 1 MB of memory")
                if -1 in reads:
                    raise CheckFailed(f"{what}: the hash is right, but you iterated over the file's *lines*: a binary file's 'lines' can be"
                                      " any length; read fixed-size chunks, f.read(1 << 20)")
                if reads and max(r for r in reads if r is not None) >= _BIG:
                    raise CheckFailed(f"{what}: the hash is right, but one read asked for the whole file: use chunks far smaller than a checkpoint")
        with open(Path(tmp) / "again.pt", "wb") as f:  # str paths too
            f.write(b"genai-course")
        try:
            out = _call("sha256_file(str(path))", fn, str(Path(tmp) / "again.pt"))
        except CheckFailed as e:
            raise _with_advice(e, [(("AttributeError",), "accept a str as well as a Path: open(path, 'rb') takes both")]) from None
        if out != hashlib.sha256(b"genai-course").hexdigest():
            raise CheckFailed("sha256_file(str(path)) differs from sha256_file(Path(path)): accept either (open() takes both)")
    return "matches hashlib and sha256sum on an empty, a small and a 3 MB file, read in chunks"


# --------------------------------------------------------------------------- 13.2 a restricted unpickler


class _Call:
    """Pickles as a call to ``fn(*args)``: what a malicious file asks the unpickler to do."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (self.fn, self.args)


def _benign() -> list[tuple[str, Any]]:
    return [
        ("a dict of numbers, strings and lists", {"step": 7, "lr": 0.001, "name": "dcgan-digits", "sizes": [1, 2, 3], "ok": True, "none": None}),
        ("nested tuples, bytes and a set", {"shape": (1, 8, 8), "raw": b"\x00\x01", "tags": {"a", "b"}, "deep": [{"x": [1.5, -2]}]}),
        ("an OrderedDict (a state_dict's container)", collections.OrderedDict([("w", [0.5, 1.0]), ("b", [0.0])])),
    ]


def _crafted(folder: Path) -> list[tuple[str, Any, Path, str]]:
    """(what it is, the object, the marker its unpickling would create, the name to refuse)."""
    marks = [folder / f"ran-{i}" for i in range(3)]
    expr = f"__import__('pathlib').Path({str(marks[2])!r}).write_text('eval ran')"
    return [
        ("a call to checkpoints.leave_marker", {"step": 1, "x": checkpoints.hidden_code(marks[0])}, marks[0], "leave_marker"),
        ("a call to os.mkdir", [1, 2, _Call(os.mkdir, str(marks[1]))], marks[1], "mkdir"),
        ("a call to eval", {"weights": _Call(eval, expr)}, marks[2], "eval"),
    ]


def _same_value(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _attempt(fn: Callable[..., Any], path: Path) -> tuple[Any, Exception | None]:
    """(what the learner's safe_load returned, or the exception it raised)."""
    try:
        return fn(path), None
    except NotImplementedError:
        raise _NotAttempted() from None
    except Exception as e:
        return None, e


def _reading_slip(what: str, e: Exception) -> CheckFailed | None:
    if isinstance(e, UnicodeDecodeError) or (isinstance(e, TypeError) and ("'str'" in str(e) or "bytes" in str(e))):
        return CheckFailed(f"safe_load on {what} raised {type(e).__name__}: {str(e)[:80]} (open the file in binary mode, 'rb': a pickle is bytes)")
    return None


@_exercise("13.2", "a restricted unpickler")
def safe_load(fn: Callable[..., Any]) -> str:
    """fn(path) -> the object in a pickle file, or pickle.UnpicklingError if it asks for a global not on the allow-list."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for protocol in (2, pickle.DEFAULT_PROTOCOL):  # GLOBAL and STACK_GLOBAL opcodes: both go through find_class
            for i, (what, obj) in enumerate(_benign()):
                if protocol < 3 and "bytes" in what:
                    continue  # protocol 2 has no opcodes for bytes and sets: it pickles them as calls to _codecs.encode and set
                path = folder / f"benign-{protocol}-{i}.pkl"
                path.write_bytes(pickle.dumps(obj, protocol=protocol))
                out, e = _attempt(fn, path)
                if e is not None:
                    slip = _reading_slip(what, e)
                    if slip:
                        raise slip
                    if isinstance(e, pickle.UnpicklingError) and "OrderedDict" in what:
                        raise CheckFailed(f"safe_load refused {what} ({str(e)[:60]}): put ('collections', 'OrderedDict') on the allow-list;"
                                          " plain dicts, lists, numbers and strings need no globals at all")
                    raise CheckFailed(f"safe_load on {what} raised {type(e).__name__}: {str(e)[:80]} (this file holds nothing to refuse:"
                                      " refuse in find_class, and only names not on the allow-list)")
                if not _same_value(out, obj):
                    raise CheckFailed(f"safe_load on {what} returned {type(out).__name__} {str(out)[:60]}, expected the object that was pickled")
            crafted = _crafted(folder)
            results = []
            for what, obj, marker, name in crafted:
                path = folder / f"crafted-{protocol}-{name}.pkl"
                path.write_bytes(pickle.dumps(obj, protocol=protocol))
                out, e = _attempt(fn, path)
                results.append((what, name, marker.exists(), out, e))
            ran = {name for _, name, did, _, _ in results if did}
            if ran:
                what = next(w for w, name, did, _, _ in results if did)
                if ran == {name for _, _, _, name in crafted}:
                    how = "pickle.load trusts the file: load with a pickle.Unpickler subclass whose find_class checks an allow-list"
                elif ran == {"eval"}:
                    how = "allowing the whole builtins module lets a file call eval, exec or getattr: allow exact (module, name) pairs"
                elif "leave_marker" in ran:
                    how = "a deny-list misses the names you did not think of: list what is allowed, refuse everything else"
                else:
                    how = "find_class must refuse every (module, name) not on the allow-list"
                raise CheckFailed(f"safe_load ran the code hidden in a file holding {what} (it created the marker file): {how}")
            for what, name, _, out, e in results:
                if e is None:
                    raise CheckFailed(f"safe_load returned {type(out).__name__} {str(out)[:40]} for a file holding {what}: the code did not run,"
                                      " but a refused file must raise pickle.UnpicklingError, not be swallowed into a return value")
                slip = _reading_slip(what, e)
                if slip:
                    raise slip
                if not isinstance(e, pickle.UnpicklingError):
                    raise CheckFailed(f"safe_load raised {type(e).__name__} for a file holding {what}: raise pickle.UnpicklingError"
                                      " (the error pickle's callers expect)")
                if name not in str(e):
                    raise CheckFailed(f"safe_load refused a file holding {what}, but its message {str(e)[:60]!r} does not say what was"
                                      f" refused: name the module and name find_class was given (here ...{name})")
    return "refuses leave_marker, os.mkdir and eval without running them; loads plain containers and an OrderedDict"
