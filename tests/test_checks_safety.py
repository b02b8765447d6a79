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


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def sha256_by_file_digest(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def sha256_by_iter(path):
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(4096), b""):
            h.update(chunk)
    return h.hexdigest()


ALLOWED = {("collections", "OrderedDict")}


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

    class Allow(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "collections" and name == "OrderedDict":
                return collections.OrderedDict
            raise pickle.UnpicklingError(f"global '{module}.{name}' is forbidden")

    return Allow(io.BytesIO(Path(path).read_bytes())).load()


CORRECT = {
    "sha256_file": [sha256_file, sha256_by_file_digest, sha256_by_iter, checkpoints.sha256],
    "safe_load": [safe_load, safe_load_from_bytes],
}


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(safety_checks, {
        "sha256_file": "Exercise 13.1 (hashing a file in chunks)",
        "safe_load": "Exercise 13.2 (a restricted unpickler)",
    })
    assert list(CORRECT) == safety_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


# --------------------------------------------------------------------------- typical mistakes: 13.1


def hashed(*, chunk=1 << 20, fresh=False, once=False, algo="sha256"):
    def fn(path):
        h = hashlib.new(algo)
        with open(path, "rb") as f:
            if once:
                h.update(f.read(chunk))
            while not once and (data := f.read(chunk)):
                if fresh:
                    h = hashlib.new(algo)
                h.update(data)
        return h.hexdigest()

    return fn


def sha256_of_lines(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for line in f:
            h.update(line)
    return h.hexdigest()


def sha256_text_mode(path):
    with open(path, encoding="latin-1") as f:  # no decoding error, but \r\n becomes \n
        return hashlib.sha256(f.read().encode("latin-1")).hexdigest()


def sha256_text_mode_utf8(path):
    with open(path) as f:
        return hashlib.sha256(f.read().encode()).hexdigest()


def sha256_needs_a_path(path):
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


SHA_MISTAKES = [
    (lambda p: hashlib.sha256(str(p).encode()).hexdigest(), ["the hash of the file's *name*, not of its contents"]),
    (lambda p: hashlib.sha256(Path(p).name.encode()).hexdigest(), ["the hash of the file's *name*"]),
    (lambda p: hashlib.sha256(Path(p).read_bytes()).digest(), ["the 32 raw bytes of the digest (.digest())", ".hexdigest()"]),
    (lambda p: hashlib.sha256(Path(p).read_bytes()), ["returned the hash object itself"]),
    (lambda p: sha256_file(p).upper(), ["upper case"]),
    (hashed(algo="md5"), ["that is the MD5 of the file, not its SHA-256"]),
    (hashed(algo="sha1"), ["SHA1"]),
    (sha256_text_mode, ["read in text mode (its \\r\\n became \\n)", "'rb'"]),
    (sha256_text_mode_utf8, ["raised UnicodeDecodeError", "open the file with 'rb'"]),
    (hashed(once=True), ["only the first 1048576 bytes were hashed", "returns b''"]),
    (hashed(chunk=4096, once=True), ["only the first 4096 bytes"]),
    (hashed(fresh=True), ["only the last chunk counts", "make one before the loop"]),
    (hashed(chunk=8192, fresh=True), ["only the last chunk counts"]),
    (lambda p: hashlib.sha256(Path(p).read_bytes()).hexdigest(), ["the whole file was read at once", "f.read(1 << 20)"]),
    (lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest(), ["the whole file was read at once"]),
    (sha256_of_lines, ["iterated over the file's *lines*"]),
    (hashed(chunk=1 << 23), ["one read asked for the whole file"]),
    (lambda p: "" if Path(p).stat().st_size == 0 else sha256_file(p), ["an empty file has a hash too"]),
    (sha256_needs_a_path, ["sha256_file(str(path))", "raised AttributeError", "accept a str as well as a Path"]),
    (lambda p: None, ["should return a str of 64 hex digits, but returned NoneType"]),
    (lambda p: sha256_file(p)[:32], ["should be 64 hex digits, but has 32 characters"]),
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
    (pickle_load, ["ran the code hidden in a file", "pickle.load trusts the file", "find_class checks an allow-list"]),
    (unpickler(modules={"builtins"}), ["ran the code hidden in a file holding a call to eval", "allowing the whole builtins module"]),
    (unpickler(denied={"os", "posix", "nt", "subprocess", "eval", "exec", "builtins"}),
     ["ran the code hidden in a file holding a call to checkpoints.leave_marker", "a deny-list misses the names you did not think of"]),
    (unpickler(swallow=True), ["returned NoneType None for a file holding a call to checkpoints.leave_marker", "not be swallowed"]),
    (unpickler(error=ValueError), ["raised ValueError for a file holding", "raise pickle.UnpicklingError"]),
    (unpickler(say=False), ["does not say what was refused", "(here ...leave_marker)"]),
    (unpickler(allowed=frozenset()), ["refused an OrderedDict (a state_dict's container)", "put ('collections', 'OrderedDict') on the allow-list"]),
    (unpickler(mode="r"), ["raised", "open the file in binary mode, 'rb'"]),
    (lambda path: dict(safe_load(path)), ["returned dict", "expected the object that was pickled"]),
    (lambda path: pickle.load(open(path, "rb")), ["pickle.load trusts the file"]),  # leaves its file open, quietly
    (unpickler(modules={"collections"}), ["ran the code hidden in a file holding a call to collections.leave_marker",
                                          "allowing every name of a module (here collections", "(module, name) in ALLOWED"]),
    (unpickler(modules={"builtins", "collections"}), ["allowing every name of a module"]),
    (unpickler(names={"OrderedDict"}), ["ran the code hidden in a file holding a call to genai_course_untrusted.OrderedDict",
                                        "checking only the name", "(module, name) in ALLOWED"]),
    (unpickler(prefixes=("collections.OrderedDict",)), ["holding a call to collections.OrderedDict_hook", "a prefix or substring test"]),
    (unpickler(prefixes=("collections",)), ["allowing every name of a module (here collections"]),
    (unpickler(load_first=True), ["safe_load imported genai_course_untrusted", "before refusing it", "check (module, name) against the allow-list first"]),
    (unpickler(give_none=True), ["raised TypeError ('NoneType' object is not callable)", "find_class returned None", "a missing raise?"]),
    (unpickler(give_error=True), ["raised TypeError ('UnpicklingError' object is not callable) for a file holding a call to checkpoints.leave_marker",
                                  "find_class returned the error instead of raising it"]),
    (unpickler(give_error=True, error=lambda message: pickle.UnpicklingError),
     ["returned dict holding an UnpicklingError for a file holding a call to checkpoints.leave_marker", "returned the error instead of raising it"]),
]

MISTAKES = [("sha256_file", fn, fragments) for fn, fragments in SHA_MISTAKES] + [("safe_load", fn, fragments) for fn, fragments in LOAD_MISTAKES]


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys, tmp_path):
    assert_named_mistake(name, fn, fragments, capsys)


def test_the_unpickling_probe_leaves_collections_and_imports_as_they_were():
    import collections
    import sys

    meta_path = list(sys.meta_path)
    for fn in (safe_load, pickle_load, unpickler(load_first=True)):
        checks.REGISTRY["safe_load"].probe(fn)
    assert sys.meta_path == meta_path
    assert not hasattr(collections, "leave_marker") and not hasattr(collections, "OrderedDict_hook")
    assert "genai_course_untrusted" not in sys.modules


def test_the_checks_leave_no_files_behind_and_the_crafted_code_is_harmless(tmp_path, monkeypatch):
    """Even a loader that runs everything only writes marker files inside the check's own temporary folder."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(checks.CheckFailed):
        checks.safe_load(pickle_load)
    assert list(tmp_path.iterdir()) == []


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
