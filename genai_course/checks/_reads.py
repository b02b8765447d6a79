"""Lesson 13.1's test files and a watch on how the learner's code reads them (for ``safety``).

``content`` makes bytes that show a file read as text; ``watch_reads`` records, for the files it is
given, the size of every read the learner's code asks for, so that the judge can tell a file read
in chunks from one read whole or line by line.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import warnings
from pathlib import Path
from typing import Any, Iterator


def content(size: int, seed: int) -> bytes:
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
def watch_reads(paths: list[Path]) -> Iterator[dict[str, list[int | None]]]:
    """While inside, files opened in binary mode on one of ``paths`` (open, io.open, Path.open) record their
    reads, by file name: the size each asked for, None for "all of it", -1 for iterating over lines. A file
    the learner's code leaves open is closed without a ResourceWarning."""
    reads: dict[str, list[int | None]] = {p.name: [] for p in paths}
    watched = {p.resolve(): p.name for p in paths}
    real_open = builtins.open

    def watched_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        f = real_open(file, *args, **kwargs)
        try:
            name = watched.get(Path(os.fspath(file)).resolve())
        except TypeError:
            name = None
        return _Watched(f, reads[name]) if name and "b" in (args[0] if args else kwargs.get("mode", "r")) else f

    builtins.open, io.open = watched_open, watched_open
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            yield reads
    finally:
        builtins.open, io.open = real_open, real_open
