"""Exercise checks for lesson 13 (safety).

13.1 checking a manifest of hashes ``check_manifest``, 13.2 a restricted unpickler with a longer
allow-list ``safe_load``. Lessons call them through ``genai_course.checks``: ``checks.check_manifest(fn)``. Each is a probe (``def
name(fn, seen)``: runs the learner's code, records what it saw) and a judge (``@name.judge``: from
those observations to the verdict), see ``_protocol``.

The probes write their test files into a fresh temporary folder. The "malicious" pickles they
make are harmless stand-ins: unpickling one calls ``checkpoints.leave_marker`` (writes a marker
file into that folder), ``os.mkdir`` (makes a folder there) or ``eval`` of an expression that
writes a marker there, so that a learner's loader that runs them is seen to, and nothing else
happens. While the probe of 13.2 runs, ``collections`` also holds two such stand-ins, ``datetime``
one, and a module named ``genai_course_untrusted`` can be imported (the probe counts its imports), so that
an allow-list that lets a whole module, a prefix or a bare name through, or that imports before it
checks, is seen to as well (``_pickles`` makes these files and stand-ins).
"""

from __future__ import annotations

import collections
import datetime
import hashlib
import json
import os
import pickle
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

from ._reads import content, watch_reads
from ._pickles import IMPORTS, UNTRUSTED, canonical, crafted_file, error_types, fingerprint, render, stand_ins
from ._protocol import CheckFailed, Observed, _NotAttempted, _call, _exercise, _text, _with_advice
from .observations import observe

__all__ = ["check_manifest", "safe_load"]

# --------------------------------------------------------------------------- 13.1 checking a manifest

_BIG = 3 * (1 << 20) + 12_345  # bytes: more than a few chunks of any usual size, and no multiple of any
_CHUNKS = (1024, 4096, 8192, 16384, 65536, 1 << 17, 1 << 18, 1 << 20, 1 << 22)  # the chunk sizes learners pick
# the shelf the check writes: (name, size in bytes, seed); "tampered.pt" then has one byte changed near its end
_SHELF = (("big.pt", _BIG, 2), ("empty.bin", 0, 0), ("run 2.pt", 300, 3), ("small.pt", 100, 1), ("tampered.pt", _BIG, 4))
_EXPECTED = {name: name != "tampered.pt" for name, _, _ in _SHELF}
_WATCHED = ("big.pt", "tampered.pt")  # the files whose reads are watched
_ALGOS = ("md5", "sha1", "sha224", "sha384", "sha512", "blake2b")


def _candidates(content: bytes, names: list[str]) -> list[tuple[str, str]]:
    """(slip, the digest a function with that slip computes for ``content``): the usual wrong hashes of big.pt, after a
    digest nobody computes (a function that accepts it says True whatever the file holds)."""
    out = [("anything", "0" * 64), ("upper", hashlib.sha256(content).hexdigest().upper())]  # "anything" first: a control
    out += [(f"algo:{a}", hashlib.new(a, content).hexdigest()) for a in _ALGOS]
    out += [("name", hashlib.sha256(n.encode()).hexdigest()) for n in names]
    out.append(("text", hashlib.sha256(content.replace(b"\r\n", b"\n").replace(b"\r", b"\n")).hexdigest()))
    out += [(f"first:{k}", hashlib.sha256(content[:k]).hexdigest()) for k in _CHUNKS if k < len(content)]
    out += [(f"last:{k}", hashlib.sha256(content[(len(content) - 1) // k * k:]).hexdigest()) for k in _CHUNKS if k < len(content)]
    return out


def _verdicts(out: Any) -> dict[str, Any]:
    """What check_manifest returned, as plain data: its type and, for a dict, [key type, key text, value type, value]."""
    if type(out) is not dict:
        return {"type": type(out).__name__, "items": None}
    items = []
    for k, v in list(out.items())[:20]:
        key = str(k) if isinstance(k, (str, os.PathLike)) and type(k).__str__ in (str.__str__, type(Path()).__str__) else None
        items.append([type(k).__name__, key, type(v).__name__, v if type(v) is bool else None])
    return {"type": "dict", "items": items}


@_exercise("13.1", "checking a manifest")
def check_manifest(fn: Callable[..., Any], seen: dict) -> None:
    """fn(manifest) -> {name: whether the file's SHA-256 equals the one the manifest records}, reading files in chunks."""
    with tempfile.TemporaryDirectory() as tmp:
        shelf = Path(tmp) / "shelf"
        shelf.mkdir()
        lines = []
        for name, size, seed in _SHELF:
            body = content(size, seed)
            lines.append(f"{hashlib.sha256(body).hexdigest()}  {name}\n")
            if name == "tampered.pt":
                body = body[:-10] + bytes([body[-10] ^ 0x04]) + body[-9:]
            (shelf / name).write_bytes(body)
        manifest = shelf / "SHA256SUMS"
        manifest.write_text("".join(lines))
        big = shelf / "big.pt"
        seen["shelf"] = str(shelf)
        with watch_reads([shelf / n for n in _WATCHED]) as reads:
            out = _call("check_manifest(manifest)", fn, manifest)
        seen["main.out"] = _verdicts(out)
        seen["main.reads"] = reads
        seen["slip"] = None  # the first usual slip whose digest of big.pt the learner's code accepts, if any
        right = type(out) is dict and out.get("big.pt") is True and out.get("tampered.pt") is False
        for i, (slip, digest) in enumerate([] if right else _candidates(content(_BIG, 2), [str(big), "big.pt", os.fspath(big.resolve())])):
            one = shelf / f"ONE-{i}"
            one.write_text(f"{digest}  big.pt\n")
            with watch_reads([]):
                try:
                    answer = fn(one)
                except NotImplementedError:
                    raise _NotAttempted() from None
                except Exception:
                    answer = None
            if type(answer) is dict and answer.get("big.pt") is True:
                seen["slip"] = slip
                break
        with watch_reads([]):
            seen["str.out"] = _verdicts(_call("check_manifest(str(manifest))", fn, str(manifest)))


_MANIFEST_ADVICE = [
    (("too many values to unpack", "/run'", "/2.pt'"), "one listed name, 'run 2.pt', holds a space: in this format the digest"
     " is followed by two spaces, and everything after them is the name"),
    (("/ ",), "a name starts with a space: the digest is followed by two spaces, not one"),
    (("\\n'",), "a name still ends with its line's newline character: a file name stops before it"),
    (("IsADirectoryError", "not enough values to unpack"), "an empty line (the manifest ends with a newline) lists no file"),
    (("NotADirectoryError",), "names are relative to the manifest's *folder*, not to the manifest file itself"),
    (("FileNotFoundError",), "names in a manifest are relative to the manifest's folder, not to the folder Python runs in"),
    (("UnicodeDecodeError", "Unicode"), "a checkpoint is no text: open it so that you read its bytes as stored"),
    (("Unicode-objects must be encoded", "Strings must be encoded", "'str'"), "a hash takes bytes, not str: read the file as bytes"),
]

_SLIPS = {
    "anything": "it also said big.pt matches a manifest that records 64 zeros for it: the file's digest has to be compared with the recorded one",
    "upper": "the digests are compared in upper case: the manifest writes lower-case hex (hexadecimal) digits, and 'A' is not 'a'",
    "name": "that is the hash of big.pt's *name*, not of its contents",
    "text": "the files were read as text (their \\r\\n became \\n): a hash is of the bytes exactly as they are stored",
    "first": "only the first {k} bytes of each file were hashed: keep reading until a read gives back no bytes",
    "last": "only the last chunk of each file counts: a fresh hash was started for every chunk, so the chunks before it are lost",
    "algo": "that is the {k} of each file, not its SHA-256",
}


@check_manifest.judge
def _judge_check_manifest(seen: Observed) -> str:
    try:
        rec = seen["main.out"]
    except CheckFailed as e:
        raise _with_advice(e, _MANIFEST_ADVICE) from None
    what = "check_manifest(manifest) for a manifest of " + ", ".join(repr(n) for n in _EXPECTED)
    if rec["type"] != "dict":
        raise CheckFailed(f"{what}: should return a dict (each listed name -> True or False), but returned {rec['type']}")
    keys = [key for _, key, _, _ in rec["items"]]
    kinds = {kind for kind, _, _, _ in rec["items"]}
    if kinds - {"str"}:
        raise CheckFailed(f"{what}: the keys should be the names as the manifest writes them (str, e.g. 'big.pt'), but some are {sorted(kinds - {'str'})}")
    if set(keys) != set(_EXPECTED):
        raise CheckFailed(f"{what}: the keys should be exactly the names the manifest lists, {list(_EXPECTED)}, but are {keys}")
    values = {key: value for _, key, _, value in rec["items"]}
    odd = [(key, vt) for _, key, vt, _ in rec["items"] if vt != "bool"]
    if odd:
        raise CheckFailed(f"{what}: each value should be True or False, but {odd[0][0]!r} has a {odd[0][1]}")
    if values != _EXPECTED:
        if values == {k: not v for k, v in _EXPECTED.items()}:
            raise CheckFailed(f"{what}: said {values}: the other way round (True means the file's bytes hash to the recorded digest)")
        slip = seen["slip"]
        if slip:
            kind, _, k = slip.partition(":")
            raise CheckFailed(f"{what}: said {values}: " + _SLIPS[kind].format(k=k.upper() if kind == "algo" else k))
        if not any(values.values()):
            raise CheckFailed(f"{what}: said every file fails, untouched ones too: is your digest compared in the form the manifest writes"
                              " (64 lower-case hex digits, as text)?")
        wrong = next(k for k in _EXPECTED if values[k] != _EXPECTED[k])
        truth = "one byte of it, near its end, differs from the file the manifest recorded" if wrong == "tampered.pt" else "its bytes hash to the recorded digest"
        raise CheckFailed(f"{what}: said {wrong!r} -> {values[wrong]}, but {truth}: was every byte of every file hashed, once and in order?")
    for name, reads in seen["main.reads"].items():
        if None in reads:
            raise CheckFailed(f"{what}: the answers are right, but {name} ({_BIG:,} bytes) was read whole at once: read it a fixed-size chunk at a"
                              " time, so that a 1 GB checkpoint needs only one chunk's memory")
        if -1 in reads:
            raise CheckFailed(f"{what}: the answers are right, but you iterated over {name}'s *lines*: a binary file's 'lines' can be any"
                              " length; read fixed-size chunks")
        if reads and max(reads) >= _BIG:
            raise CheckFailed(f"{what}: the answers are right, but one read of {name} asked for the whole file: use chunks far smaller than a checkpoint")
    try:
        rec = seen["str.out"]
    except CheckFailed as e:
        raise _with_advice(e, [(("AttributeError",), "accept the manifest's path as a str as well as a Path")]) from None
    if rec["type"] != "dict" or {key: value for _, key, _, value in rec["items"]} != _EXPECTED:
        raise CheckFailed("check_manifest(str(manifest)) differs from check_manifest(Path(manifest)): accept either")
    return "finds the one changed file among five (an empty one, one with a space in its name, two of 3 MB), reading in chunks"


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
    ("datetime_hook", "a call to datetime.datetime_hook", "datetime_hook"),
)


def _benign() -> list[tuple[str, Any]]:
    return [
        ("a dict of numbers, strings and lists", {"step": 7, "lr": 0.001, "name": "dcgan-digits", "sizes": [1, 2, 3], "ok": True, "none": None}),
        ("nested tuples, bytes and a set", {"shape": (1, 8, 8), "raw": b"\x00\x01", "tags": {"a", "b"}, "deep": [{"x": [1.5, -2]}]}),
        ("an OrderedDict (a state_dict's container)", collections.OrderedDict([("w", [0.5, 1.0]), ("b", [0.0])])),
        ("a run log (a state_dict and the time the run started)",
         {"state": collections.OrderedDict([("w", [0.5])]), "started": datetime.datetime(2026, 1, 5, 9, 30, 15), "steps": 500}),
    ]


def _skipped(protocol: int, what: str) -> bool:
    """Protocol 2 has no opcodes for bytes: it pickles bytes, sets and a datetime's state as calls to _codecs.encode and set."""
    return protocol < 3 and ("bytes" in what or "run log" in what)


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
                if _skipped(protocol, what):
                    continue
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
        return CheckFailed(f"safe_load on {what} raised {raised['type']}: {message[:80]} (the file was read as text: a pickle is bytes)")
    return None


def _ran_how(ran: list[str]) -> tuple[str, str]:
    """(the crafted file to name, why a loader that ran the crafted files ``ran`` (their keys) let them through)."""
    if set(ran) == {key for key, _, _ in _CRAFTED}:
        return "leave_marker", "pickle.load trusts the file: the loading has to go through your restricted unpickler"
    if set(ran) == {"eval"}:
        return "eval", "allowing the whole builtins module lets a file call eval, exec or getattr: allow exact pairs of module and name"
    if "leave_marker" in ran:
        return "leave_marker", "a deny-list misses the names you did not think of: list what is allowed, refuse everything else"
    if "untrusted" in ran:
        return "untrusted", (f"checking only the name lets an OrderedDict from any module through (here from {UNTRUSTED}, a module the"
                             " check made): a file names the module too, and both must match the allow-list")
    if "collections" in ran:
        return "collections", ("allowing every name of a module (here collections, where the check put a leave_marker) lets a file call"
                               " whatever that module holds: allow exact pairs of module and name")
    if "prefix" in ran:
        return "prefix", ("a prefix or substring test ('OrderedDict' in name, startswith) lets other names through, here one the check"
                          " put into collections: compare the exact pair of module and name")
    if "datetime_hook" in ran:
        return "datetime_hook", ("allowing all of datetime, or every name that starts with 'datetime', lets other names through (here"
                                 " datetime.datetime_hook, which the check put into datetime): allow exact pairs of module and name")
    return ran[0], "find_class must refuse every (module, name) not on the allow-list"


@safe_load.judge
def _judge_safe_load(seen: Observed) -> str:
    for protocol in _PROTOCOLS:
        for i, (what, obj) in enumerate(_benign()):
            if _skipped(protocol, what):
                continue
            result = seen[f"p{protocol}.benign{i}"]
            raised = result["raised"]
            if raised is not None:
                slip = _reading_slip(what, raised)
                if slip:
                    raise slip
                if _UNPICKLING_ERROR in raised["classes"] and "run log" in what:
                    raise CheckFailed(f"safe_load refused {what} ({raised['message'][:60]}): a file your own training writes must load;"
                                      " its disassembly shows every global it names, and each one it needs must be on the allow-list")
                if _UNPICKLING_ERROR in raised["classes"] and "OrderedDict" in what:
                    raise CheckFailed(f"safe_load refused {what} ({raised['message'][:60]}): a state_dict's container is a global too, and must"
                                      " be allowed; plain dicts, lists, numbers and strings need no globals at all")
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
                                  " compare the pair with the allow-list first, and look a name up only once it has passed")
        for key, what, name, result in results:
            raised = result["raised"]
            if raised is None:
                value = json.loads(result["value"])
                errors = error_types(value)
                if errors:
                    article = "an" if errors[0][0] in "AEIOU" else "a"
                    raise CheckFailed(f"safe_load returned {result['out']['type']} holding {article} {errors[0]} for a file holding {what}:"
                                      " find_class returned the error instead of raising it")
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
                                  " find_class returned the error instead of raising it")
            if _UNPICKLING_ERROR not in raised["classes"]:
                raise CheckFailed(f"safe_load raised {raised['type']} for a file holding {what}: a refusal should be a"
                                  " pickle.UnpicklingError, the error pickle's callers expect")
            if name not in raised["message"]:
                raise CheckFailed(f"safe_load refused a file holding {what}, but its message {raised['message'][:60]!r} does not say what was"
                                  f" refused: name the module and name find_class was given (here ...{name})")
    return "refuses leave_marker, os.mkdir, eval and look-alike names without running them; loads plain containers and a run log"  # as solutions/13_safety.ipynb shows
