"""What every command shares: UsageError, and the files a command writes.

An output path is checked before any work starts (a folder that does not exist or cannot be
written is one line, exit 2, not a traceback after minutes of training), and text files are
written whole: first to a temporary file, then swapped in.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["UsageError", "probe_folder", "writable", "write_texts"]


class UsageError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


def probe_folder(folder: Path, what: str, path: Any) -> None:
    """Create and remove a file in ``folder``: the one test of writability that also holds for root
    (os.access says yes to root everywhere, even in /proc) and for read-only mounts."""
    import tempfile

    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".genai-course-probe-")
        os.close(fd)
        os.unlink(name)
    except OSError as e:
        raise UsageError(f"cannot write {what} {path}: folder {folder} is not writable ({e.strerror or e})") from None


def writable(path: str, what: str) -> Path:
    """Check an output path can be written before spending time on work."""
    out = Path(path)
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise UsageError(f"{what} {path} is a folder; give a file name")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"cannot write {what} {path}: {folder} is a file, not a folder")
    if not folder.is_dir():
        raise UsageError(f"cannot write {what} {path}: folder {folder} does not exist")
    probe_folder(folder, what, path)
    return out


def write_texts(files: dict[Path, str]) -> None:
    """Write each text to a temporary file first, then swap them all in (nothing half-written is left)."""
    tmps = {path: path.with_name(f".{path.name}.tmp") for path in files}
    try:
        for path, text in files.items():
            tmps[path].write_text(text, encoding="utf-8")
        for path, tmp in tmps.items():
            os.replace(tmp, path)
    finally:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)
