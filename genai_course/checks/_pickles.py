"""Lesson 13's stand-in malicious pickles, and plain-data fingerprints of what a pickle holds (for ``safety``).

A crafted file asks the unpickler to call a function that only creates a marker file, so a loader
that runs it is seen to. While ``stand_ins`` is entered, ``collections`` holds two such functions
(``leave_marker``, ``OrderedDict_hook``), ``datetime`` one (``datetime_hook``), and a module
``genai_course_untrusted`` can be imported, each import counted in ``IMPORTS``: a check can tell an allow-list that lets a whole module, a prefix
or a bare name through, or that imports a module before it refuses it. ``fingerprint`` writes what
a loader returned as plain data without running learner code; ``canonical``, ``render`` and
``error_types`` read fingerprints in the judge.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import importlib.abc
import importlib.util
import json
import os
import pickle
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator

from .. import checkpoints

UNTRUSTED = "genai_course_untrusted"  # a module only the probe's importer knows; importing it is counted
PLANTED = ("leave_marker", "OrderedDict_hook")  # stand-ins put into collections while the probe runs
PLANTED_DATETIME = "datetime_hook"  # and the one put into datetime
IMPORTS = [0]  # how many times the probe's importer ran UNTRUSTED's code


class _Call:
    """Pickles as a call to ``fn(*args)``: what a malicious file asks the unpickler to do."""

    def __init__(self, fn: Any, *args: Any) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (self.fn, self.args)


def global_call(module: str, name: str, arg: str, protocol: int) -> bytes:
    """A pickle of ``{"weights": module.name(arg)}``, written opcode by opcode (pickle.dumps would look the global up)."""
    def text(s: str) -> bytes:  # BINUNICODE
        return b"X" + len(s.encode()).to_bytes(4, "little") + s.encode()

    look_up = b"c" + f"{module}\n{name}\n".encode() if protocol < 4 else text(module) + text(name) + b"\x93"  # GLOBAL / STACK_GLOBAL
    return b"\x80" + bytes([protocol]) + b"}" + text("weights") + look_up + text(arg) + b"\x85Rs."


def crafted_file(key: str, marker: Path, protocol: int) -> bytes:
    """The pickle of crafted file ``key`` (leave_marker, mkdir, eval, collections, prefix,
    untrusted or datetime_hook): unpickling it
    calls a function (of that name, or from that module) that creates ``marker``."""
    if key == "leave_marker":
        return pickle.dumps({"step": 1, "x": checkpoints.hidden_code(marker)}, protocol=protocol)
    if key == "mkdir":
        return pickle.dumps([1, 2, _Call(os.mkdir, str(marker))], protocol=protocol)
    if key == "eval":
        expr = f"__import__('pathlib').Path({str(marker)!r}).write_text('eval ran')"
        return pickle.dumps({"weights": _Call(eval, expr)}, protocol=protocol)
    module, name = {"collections": ("collections", "leave_marker"), "prefix": ("collections", "OrderedDict_hook"),
                    "untrusted": (UNTRUSTED, "OrderedDict"), "datetime_hook": ("datetime", PLANTED_DATETIME)}[key]
    return global_call(module, name, str(marker), protocol)


class _Importer(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``UNTRUSTED`` (counting it in ``IMPORTS``: importing a module runs its code), whose
    ``OrderedDict`` is a stand-in that writes the marker it is given."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        return importlib.util.spec_from_loader(fullname, self) if fullname == UNTRUSTED else None

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        IMPORTS[0] += 1
        module.OrderedDict = checkpoints.leave_marker


@contextlib.contextmanager
def stand_ins() -> Iterator[None]:
    """While inside: collections holds the planted stand-ins, UNTRUSTED can be imported, and a file
    the learner's code leaves open is closed without a ResourceWarning."""
    importer = _Importer()
    for name in PLANTED:
        setattr(collections, name, checkpoints.leave_marker)
    setattr(datetime, PLANTED_DATETIME, checkpoints.leave_marker)
    sys.meta_path.insert(0, importer)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            yield
    finally:
        sys.meta_path.remove(importer)
        sys.modules.pop(UNTRUSTED, None)
        for name in PLANTED:
            with contextlib.suppress(AttributeError):
                delattr(collections, name)
        with contextlib.suppress(AttributeError):
            delattr(datetime, PLANTED_DATETIME)


def fingerprint(x: Any, depth: int = 0) -> Any:
    """Plain data that says what ``x`` is, for the containers a pickle holds; other objects by type only.
    Looks into exact builtin types only, so no learner code runs."""
    kind = type(x)
    if x is None or kind in (bool, int, float):
        return {"t": kind.__name__, "v": x}
    if kind is str:
        return {"t": "str", "v": x[:200]}
    if kind in (bytes, bytearray):
        return {"t": kind.__name__, "v": bytes(x[:200]).hex()}
    if kind is datetime.datetime:
        return {"t": "datetime", "v": x.isoformat()}
    if depth > 6:
        return {"t": kind.__name__}
    if kind in (list, tuple, set, frozenset):
        items = [fingerprint(i, depth + 1) for i in list(x)[:50]]
        if kind in (set, frozenset):
            items.sort(key=lambda i: json.dumps(i, sort_keys=True))
        return {"t": kind.__name__, "items": items}
    if kind in (dict, collections.OrderedDict):
        return {"t": kind.__name__, "items": [[fingerprint(k, depth + 1), fingerprint(v, depth + 1)] for k, v in list(dict.items(x))[:50]]}
    return {"t": kind.__name__}


def canonical(fp: Any) -> Any:
    """A fingerprint whose dicts' items are in key order (two dicts are equal in any order; OrderedDicts are not)."""
    if "items" not in fp:
        return fp
    if fp["t"] in ("dict", "OrderedDict"):
        pairs = [[canonical(k), canonical(v)] for k, v in fp["items"]]
        return {"t": fp["t"], "items": sorted(pairs, key=lambda p: json.dumps(p[0], sort_keys=True)) if fp["t"] == "dict" else pairs}
    return {"t": fp["t"], "items": [canonical(i) for i in fp["items"]]}


def render(fp: Any) -> str:
    """``fingerprint``'s value, written the way Python prints it."""
    t = fp["t"]
    if "v" in fp:
        return repr(bytes.fromhex(fp["v"])) if t in ("bytes", "bytearray") else repr(fp["v"])
    if "items" not in fp:
        return f"<{t}>"
    if t in ("dict", "OrderedDict"):
        return "{" + ", ".join(f"{render(k)}: {render(v)}" for k, v in fp["items"]) + "}"
    inner = ", ".join(render(i) for i in fp["items"])
    return {"list": f"[{inner}]", "tuple": f"({inner})"}.get(t, "{" + inner + "}")


def error_types(fp: Any) -> list[str]:
    """The names of the exception classes inside a returned value (find_class returned an error, not raised it)."""
    found = [fp["t"]] if fp["t"].endswith("Error") else []
    for item in fp.get("items", []):
        for part in item if isinstance(item, list) else [item]:
            found += error_types(part)
    return found
