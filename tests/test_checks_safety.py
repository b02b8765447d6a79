"""genai_course.checks.safety (lesson 13): correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations

import hashlib
import io
import pickle
from pathlib import Path

import pytest

from genai_course import checkpoints, checks
from genai_course.checks import safety as safety_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def check_manifest(manifest):
    folder, result = Path(manifest).parent, {}
    for line in Path(manifest).read_text().splitlines():
        recorded, name = line.split("  ", 1)
        h = hashlib.sha256()
        with open(folder / name, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        result[name] = h.hexdigest() == recorded
    return result


def check_by_file_digest(manifest):
    manifest = Path(manifest)
    result = {}
    with manifest.open() as lines:
        for line in lines:
            recorded, _, name = line.rstrip("\n").partition("  ")
            with (manifest.parent / name).open("rb") as f:
                result[name] = hashlib.file_digest(f, "sha256").hexdigest() == recorded.lower()
    return result


def check_with_the_library(manifest):
    folder = Path(manifest).parent
    pairs = [line.split("  ", 1) for line in Path(manifest).read_text().splitlines() if line]
    return {name: checkpoints.sha256(folder / name) == recorded for recorded, name in pairs}


ALLOWED = {("collections", "OrderedDict"), ("datetime", "datetime")}


class Restricted(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name}: not on the allow-list")


def safe_load(path):
    with open(path, "rb") as f:
        return Restricted(f).load()


def safe_load_from_bytes(path):
    import collections
    import datetime

    class Allow(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            if (module, name) == ("datetime", "datetime"):
                return datetime.datetime
            raise pickle.UnpicklingError(f"global '{module}.{name}' is forbidden")

    return Allow(io.BytesIO(Path(path).read_bytes())).load()


CORRECT = {
    "check_manifest": [check_manifest, check_by_file_digest, check_with_the_library],
    "safe_load": [safe_load, safe_load_from_bytes],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(safety_checks, {
        "check_manifest": "Exercise 13.1 (checking a manifest)",
        "safe_load": "Exercise 13.2 (a restricted unpickler)",
    })
    assert list(CORRECT) == safety_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


# --------------------------------------------------------------------------- typical mistakes: 13.1


def checker(*, chunk=1 << 20, fresh=False, once=False, algo="sha256", upper=False, whole=False, lines=False, text=False,
            name_only=False, raw=False, split=None, keep_newline=False, relative_to=None, keys=str, inverted=False):
    """A manifest checker written right (the defaults) or one of the usual wrong ways."""

    def digest_of(path):
        if name_only:
            return hashlib.sha256(str(path).encode()).hexdigest()
        h = hashlib.new(algo)
        if text:
            with open(path, encoding="latin-1") as f:  # no decoding error, but \r\n becomes \n
                h.update(f.read().encode("latin-1"))
        else:
            with open(path, "rb") as f:
                if whole:
                    h.update(f.read())
                elif lines:
                    for line in f:
                        h.update(line)
                elif once:
                    h.update(f.read(chunk))
                else:
                    while data := f.read(chunk):
                        if fresh:
                            h = hashlib.new(algo)
                        h.update(data)
        if raw:
            return h.digest()
        return h.hexdigest().upper() if upper else h.hexdigest()

    def fn(manifest):
        manifest = Path(manifest)
        folder = {None: manifest.parent, "cwd": Path("."), "file": manifest}[relative_to]
        result = {}
        source = manifest.read_text().splitlines(keepends=keep_newline)  # keepends: as iterating over the open file gives them
        for line in source:
            if split == "whitespace":
                recorded, name = line.split()[:2]
            elif split == "one space":
                recorded, name = line[:64], line[65:]
            else:
                recorded, name = line.split("  ", 1)
            ok = digest_of(folder / name) == recorded
            result[keys(name) if keys is not str else name] = (not ok) if inverted else ok
        return result

    return fn


def unpack_on_whitespace(manifest):
    folder, result = Path(manifest).parent, {}
    for line in Path(manifest).read_text().splitlines():
        recorded, name = line.split()
        result[name] = check_manifest_line(folder, recorded, name)
    return result


def check_manifest_line(folder, recorded, name):
    with open(folder / name, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest() == recorded


def split_on_newlines(manifest):
    folder, result = Path(manifest).parent, {}
    for line in Path(manifest).read_text().split("\n"):
        recorded, _, name = line.partition("  ")
        result[name] = check_manifest_line(folder, recorded, name)
    return result


SHA_MISTAKES = [
    (checker(name_only=True), ["the hash of big.pt's *name*, not of its contents"]),
    (checker(raw=True), ["said every file fails, untouched ones too", "in the form the manifest writes"]),
    (checker(upper=True), ["compared in upper case", "'A' is not 'a'"]),
    (checker(algo="md5"), ["that is the MD5 of each file, not its SHA-256"]),
    (checker(algo="sha1"), ["SHA1"]),
    (checker(text=True), ["read as text (their \\r\\n became \\n)", "the bytes exactly as they are stored"]),
    (checker(once=True), ["only the first 1048576 bytes of each file were hashed", "until a read gives back no bytes"]),
    (checker(chunk=4096, once=True), ["only the first 4096 bytes"]),
    (checker(chunk=1000, once=True), ["said", "was every byte of every file hashed, once and in order?"]),
    (checker(fresh=True), ["only the last chunk of each file counts", "a fresh hash was started for every chunk"]),
    (checker(chunk=8192, fresh=True), ["only the last chunk of each file counts"]),
    (checker(whole=True), ["the answers are right, but big.pt", "was read whole at once"]),
    (checker(lines=True), ["iterated over big.pt's *lines*"]),
    (checker(chunk=1 << 23), ["one read of big.pt asked for the whole file"]),
    (checker(inverted=True), ["the other way round"]),
    (checker(keys=lambda name: Path(name)), ["the keys should be the names as the manifest writes them", "PosixPath"]),
    (checker(relative_to="cwd"), ["raised FileNotFoundError", "relative to the manifest's folder, not to the folder Python runs in"]),
    (checker(relative_to="file"), ["raised NotADirectoryError", "relative to the manifest's *folder*"]),
    (checker(keep_newline=True), ["raised FileNotFoundError", "still ends with its line's newline"]),
    (unpack_on_whitespace, ["raised ValueError: too many values to unpack", "'run 2.pt', holds a space"]),
    (checker(split="whitespace"), ["raised FileNotFoundError", "'run 2.pt', holds a space"]),
    (checker(split="one space"), ["raised FileNotFoundError", "a name starts with a space", "followed by two spaces"]),
    (split_on_newlines, ["an empty line (the manifest ends with a newline) lists no file"]),
    (lambda m: [True, True], ["should return a dict", "but returned list"]),
    (lambda m: {name: True for name in check_manifest(m)}, ["a manifest that records 64 zeros", "has to be compared with the recorded one"]),
    (lambda m: {k: int(v) for k, v in check_manifest(m).items()}, ["should be True or False", "has a int"]),
    (lambda m: {str(Path(m).parent / k): v for k, v in check_manifest(m).items()}, ["the keys should be exactly the names the manifest lists"]),
    (lambda m: check_manifest(Path(m)) if isinstance(m, Path) else m.parent, ["check_manifest(str(manifest))", "AttributeError", "as a str as well"]),
]


# --------------------------------------------------------------------------- typical mistakes: 13.2


def unpickler(*, allowed=frozenset(ALLOWED), modules=frozenset(), names=frozenset(), prefixes=(), denied=None, load_first=False,
              error=pickle.UnpicklingError, say=True, swallow=False, give_none=False, give_error=False, mode="rb"):
    """A restricted loader written right (the defaults) or one of the usual wrong ways."""

    class U(pickle.Unpickler):
        def find_class(self, module, name):
            if load_first:  # looks the global up (importing its module), then checks
                found = super().find_class(module, name)
                if (module, name) in allowed:
                    return found
                raise error(f"refused {module}.{name}")
            if denied is not None:
                if module in denied or name in denied:
                    raise error(f"refused {module}.{name}" if say else "refused")
                return super().find_class(module, name)
            if (module, name) in allowed or module in modules or name in names or f"{module}.{name}".startswith(tuple(prefixes) or "\0"):
                return super().find_class(module, name)
            if give_none:
                return None
            if give_error:
                return error(f"refused {module}.{name}")
            raise error(f"refused {module}.{name}" if say else "not allowed")

    def fn(path):
        with open(path, mode) as f:
            try:
                return U(f).load()
            except pickle.UnpicklingError:
                if swallow:
                    return None
                raise

    return fn


def pickle_load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


LOAD_MISTAKES = [
    (pickle_load, ["ran the code hidden in a file", "pickle.load trusts the file", "through your restricted unpickler"]),
    (unpickler(modules={"builtins"}), ["ran the code hidden in a file holding a call to eval", "allowing the whole builtins module"]),
    (unpickler(denied={"os", "posix", "nt", "subprocess", "eval", "exec", "builtins"}),
     ["ran the code hidden in a file holding a call to checkpoints.leave_marker", "a deny-list misses the names you did not think of"]),
    (unpickler(swallow=True), ["returned NoneType None for a file holding a call to checkpoints.leave_marker", "not be swallowed"]),
    (unpickler(error=ValueError), ["raised ValueError for a file holding", "a refusal should be a pickle.UnpicklingError"]),
    (unpickler(say=False), ["does not say what was refused", "(here ...leave_marker)"]),
    (unpickler(allowed=frozenset()), ["refused an OrderedDict (a state_dict's container)", "a state_dict's container is a global too"]),
    (unpickler(allowed=frozenset({("collections", "OrderedDict")})),
     ["safe_load refused a run log (a state_dict and the time the run started)", "its disassembly shows every global it names"]),
    (unpickler(allowed=frozenset({("collections", "OrderedDict"), ("datetime", "date")})), ["refused a run log"]),
    (unpickler(allowed=frozenset({("collections", "OrderedDict")}), modules={"datetime"}),
     ["ran the code hidden in a file holding a call to datetime.datetime_hook", "allowing all of datetime"]),
    (unpickler(allowed=frozenset({("collections", "OrderedDict")}), prefixes=("datetime.datetime",)),
     ["datetime.datetime_hook", "every name that starts with 'datetime'"]),
    (unpickler(mode="r"), ["raised", "the file was read as text: a pickle is bytes"]),
    (lambda path: dict(safe_load(path)), ["returned dict", "expected the object that was pickled"]),
    (lambda path: pickle.load(open(path, "rb")), ["pickle.load trusts the file"]),  # leaves its file open, quietly
    (unpickler(modules={"collections"}), ["ran the code hidden in a file holding a call to collections.leave_marker",
                                          "allowing every name of a module (here collections", "allow exact pairs of module and name"]),
    (unpickler(modules={"builtins", "collections"}), ["allowing every name of a module"]),
    (unpickler(names={"OrderedDict"}), ["ran the code hidden in a file holding a call to genai_course_untrusted.OrderedDict",
                                        "checking only the name", "both must match the allow-list"]),
    (unpickler(prefixes=("collections.OrderedDict",)), ["holding a call to collections.OrderedDict_hook", "a prefix or substring test"]),
    (unpickler(prefixes=("collections",)), ["allowing every name of a module (here collections"]),
    (unpickler(load_first=True), ["safe_load imported genai_course_untrusted", "before refusing it", "compare the pair with the allow-list first"]),
    (unpickler(give_none=True), ["raised TypeError ('NoneType' object is not callable)", "find_class returned None", "a missing raise?"]),
    (unpickler(give_error=True), ["raised TypeError ('UnpicklingError' object is not callable) for a file holding a call to checkpoints.leave_marker",
                                  "find_class returned the error instead of raising it"]),
    (unpickler(give_error=True, error=lambda message: pickle.UnpicklingError),
     ["returned dict holding an UnpicklingError for a file holding a call to checkpoints.leave_marker", "returned the error instead of raising it"]),
]

MISTAKES = [("check_manifest", fn, fragments) for fn, fragments in SHA_MISTAKES] + [("safe_load", fn, fragments) for fn, fragments in LOAD_MISTAKES]


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys, tmp_path):
    assert_named_mistake(name, fn, fragments, capsys)


def test_the_unpickling_probe_leaves_collections_and_imports_as_they_were():
    import collections
    import datetime
    import sys

    meta_path = list(sys.meta_path)
    for fn in (safe_load, pickle_load, unpickler(load_first=True)):
        checks.REGISTRY["safe_load"].probe(fn)
    assert sys.meta_path == meta_path
    assert not hasattr(collections, "leave_marker") and not hasattr(collections, "OrderedDict_hook")
    assert not hasattr(datetime, "datetime_hook")
    assert "genai_course_untrusted" not in sys.modules


def test_the_checks_leave_no_files_behind_and_the_crafted_code_is_harmless(tmp_path, monkeypatch):
    """Even a loader that runs everything only writes marker files inside the check's own temporary folder."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(checks.CheckFailed):
        checks.safe_load(pickle_load)
    assert list(tmp_path.iterdir()) == []


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
