"""What a check's probe saw, as plain data: records of the learner's values, and their files.

A probe (``checks._protocol``) calls the learner's code and keeps what it saw as *observations*:
a dict from names to plain data (None, bools, numbers, strings, lists, dicts) and tensors. The
learner's own return values are kept as *records* (``observe``) that say what the value was
without keeping the object itself: an object whose ``==`` is always true, a tensor subclass or a
float subclass with a forged ``__float__`` becomes a record of its type name, nothing more.

Grading carries observations from the learner's sandboxed process to the grader's as files
(``save``, ``load``): one JSON file, and one ``.npy`` file per tensor, read back with
``allow_pickle=False``, so a forged file can hold wrong data but can never run code. ``load``
refuses anything that is not plain data, and more than ``MAX_BYTES`` of it.

A record (``observe``):

    {"type": "Tensor", "shape": [B, 2], "dtype": "torch.float32", "requires_grad": False, "value": tensor}
    {"type": "float", "value": 0.5}      (also int, bool, str; numpy scalars: "float64", "int64", ...)
    {"type": "list", "length": 3, "items": [record, ...]}   (also tuple; dict: "items" by str key)
    {"type": "NoneType"}                 every other object: {"type": its class name}
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["observe", "save", "load", "MAX_ITEMS", "MAX_BYTES", "MalformedObservations"]

MAX_ITEMS = 10_000  # a list or dict record keeps at most this many items (its "length" is the true one)
MAX_BYTES = 64 * 2**20  # load refuses observations larger than this, files together
_STORED = {torch.float32, torch.float64, torch.int64, torch.int32, torch.uint8, torch.bool, torch.int16, torch.int8}
_ARRAY = "$array"


class MalformedObservations(ValueError):
    """An observations file that is not what a probe writes (forged, cut short or too large)."""


def _tensor_record(x: torch.Tensor) -> dict[str, Any]:
    value = x.detach().cpu().clone()
    if value.dtype not in _STORED:  # bfloat16, float16, complex, ...: kept as float32, the dtype is in the record
        value = (value.real if value.is_complex() else value).to(torch.float32)
    return {"type": "Tensor", "shape": list(x.shape), "dtype": str(x.dtype), "requires_grad": bool(x.requires_grad), "value": value}


def observe(x: Any, depth: int = 0) -> dict[str, Any]:
    """A record of the learner's value ``x`` (see the module's docstring): its type, and its
    contents where it is a tensor, a number, a string or a container of them."""
    kind = type(x)
    if kind in (torch.Tensor, torch.nn.Parameter):
        return _tensor_record(x)
    if kind is bool or kind is np.bool_:
        return {"type": "bool", "value": bool(x)}
    if kind is int:
        return {"type": "int", "value": int.__index__(x)}
    if kind is float:
        return {"type": "float", "value": float.__float__(x)}
    if isinstance(x, (np.integer, np.floating)) and kind.__module__ == "numpy":
        return {"type": kind.__name__, "value": x.item()}
    if kind is str:
        return {"type": "str", "value": x[:2000]}
    if x is None:
        return {"type": "NoneType"}
    if kind in (list, tuple) and depth < 4:
        items = list.__getitem__(list(x), slice(0, MAX_ITEMS)) if kind is list else tuple.__getitem__(x, slice(0, MAX_ITEMS))
        return {"type": kind.__name__, "length": len(x), "items": [observe(i, depth + 1) for i in items]}
    if kind is dict and depth < 4:
        items = list(dict.items(x))[:MAX_ITEMS]
        return {"type": "dict", "length": len(x), "items": {str(k) if type(k) is str else repr(k)[:100]: observe(v, depth + 1) for k, v in items}}
    return {"type": kind.__name__}


# --------------------------------------------------------------------------- files


def _plain(x: Any, arrays: list[torch.Tensor]) -> Any:
    """JSON-able form of observations: each tensor becomes {"$array": index} into ``arrays``."""
    if isinstance(x, torch.Tensor):
        arrays.append(x.detach().cpu())
        return {_ARRAY: len(arrays) - 1}
    if isinstance(x, dict):
        return {str(k): _plain(v, arrays) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v, arrays) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return {"$float": repr(float(x))}
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    return {"type": type(x).__name__}


def save(seen: dict[str, Any], folder: str | Path, stem: str) -> None:
    """Write observations as ``stem.json`` and ``stem.<k>.npy`` in ``folder``; the JSON last, by rename,
    so a reader sees all of it or none."""
    folder = Path(folder)
    arrays: list[torch.Tensor] = []
    text = json.dumps(_plain(seen, arrays), ensure_ascii=True)
    for k, a in enumerate(arrays):
        value = a if a.dtype in _STORED else a.to(torch.float32)
        np.save(folder / f"{stem}.{k}.npy", value.numpy(), allow_pickle=False)
    tmp = folder / f".{stem}.json.tmp"
    tmp.write_text(text, encoding="ascii")
    os.replace(tmp, folder / f"{stem}.json")


def _restore(x: Any, folder: Path, stem: str, budget: list[int], depth: int = 0) -> Any:
    if depth > 12:
        raise MalformedObservations("nested too deep")
    if isinstance(x, dict):
        if set(x) == {_ARRAY}:
            k = x[_ARRAY]
            if type(k) is not int or k < 0:
                raise MalformedObservations("a bad array reference")
            path = folder / f"{stem}.{k}.npy"
            if path.is_symlink() or not path.is_file():
                raise MalformedObservations(f"array {k} is missing")
            budget[0] -= path.stat().st_size
            if budget[0] < 0:
                raise MalformedObservations("larger than the grader reads")
            try:
                a = np.load(path, allow_pickle=False)
            except Exception as e:
                raise MalformedObservations(f"array {k} is unreadable ({type(e).__name__})") from None
            if a.dtype.kind not in "biuf":
                raise MalformedObservations(f"array {k} holds {a.dtype}")
            return torch.from_numpy(a.copy(order="C"))  # (np.ascontiguousarray would make a 0-dim array 1-dim)
        if set(x) == {"$float"}:
            if x["$float"] not in ("nan", "inf", "-inf"):
                raise MalformedObservations("a bad float")
            return float(x["$float"])
        return {k: _restore(v, folder, stem, budget, depth + 1) for k, v in x.items()}
    if isinstance(x, list):
        return [_restore(v, folder, stem, budget, depth + 1) for v in x]
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    raise MalformedObservations(f"holds a {type(x).__name__}")


def load(folder: str | Path, stem: str) -> dict[str, Any] | None:
    """The observations ``save`` wrote as ``stem`` in ``folder``; None if there are none.
    MalformedObservations if the files are not plain data of the shape ``save`` writes."""
    folder = Path(folder)
    path = folder / f"{stem}.json"
    if not path.exists():
        return None
    if path.is_symlink() or not path.is_file():
        raise MalformedObservations("not a plain file")
    budget = [MAX_BYTES - path.stat().st_size]
    if budget[0] < 0:
        raise MalformedObservations("larger than the grader reads")
    try:
        raw = json.loads(path.read_text(encoding="ascii"))
    except (ValueError, UnicodeDecodeError) as e:
        raise MalformedObservations(f"not JSON ({type(e).__name__})") from None
    if not isinstance(raw, dict):
        raise MalformedObservations("not a JSON object")
    return _restore(raw, folder, stem, budget)
