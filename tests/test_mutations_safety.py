"""The mutation table of lesson 13 (genai_course.checks.safety): each solution, mutated the ways learners
go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_LOOP = """    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):  # 1 MiB at a time: memory stays flat
            h.update(chunk)
"""
_REFUSE = 'raise pickle.UnpicklingError(f"refused {module}.{name}: not on the allow-list")'
_CHECK = "if (module, name) in ALLOWED:\n            return super().find_class(module, name)"

ROWS = [
    # 13.1 hashing in chunks: the digest's bytes, all at once, text mode, a hash per chunk, one chunk only, the wrong hash
    Mutant("sha256_file", "sha256_file", "return h.hexdigest()", "return h.digest()", ["the 32 raw bytes of the digest (.digest())", ".hexdigest()"]),
    Mutant("sha256_file", "sha256_file", "return h.hexdigest()", "return h", ["returned the hash object itself"]),
    Mutant("sha256_file", "sha256_file", "return h.hexdigest()", "return h.hexdigest().upper()", ["upper case"]),
    Mutant("sha256_file", "sha256_file", _LOOP, '    with open(path, "rb") as f:\n        h.update(f.read())\n',
           ["the hash is right, but the whole file was read at once", "f.read(1 << 20)"]),
    Mutant("sha256_file", "sha256_file", _LOOP, '    h.update(Path(path).read_bytes())\n', ["the whole file was read at once"]),
    Mutant("sha256_file", "sha256_file", _LOOP, '    with open(path, "rb") as f:\n        for line in f:\n            h.update(line)\n',
           ["iterated over the file's *lines*"]),
    Mutant("sha256_file", "sha256_file", 'with open(path, "rb") as f:', "with open(path) as f:", ["raised UnicodeDecodeError", "open the file with 'rb'"]),
    Mutant("sha256_file", "sha256_file", 'with open(path, "rb") as f:', 'with open(path, encoding="latin-1") as f:', ["'rb'", "hashlib takes bytes"]),
    Mutant("sha256_file", "sha256_file", "            h.update(chunk)\n", "            h = hashlib.sha256()\n            h.update(chunk)\n",
           ["only the last chunk counts", "make one before the loop"]),
    Mutant("sha256_file", "sha256_file", "while chunk := f.read(1 << 20):", "if chunk := f.read(1 << 20):",
           ["only the first 1048576 bytes were hashed", "returns b''"]),
    Mutant("sha256_file", "sha256_file", "h = hashlib.sha256()", "h = hashlib.md5()", ["that is the MD5 of the file, not its SHA-256"]),
    Mutant("sha256_file", "sha256_file", "            h.update(chunk)\n", "            h.update(str(path).encode())\n", ["the hash of the file's *name*"]),
    Mutant("sha256_file", "sha256_file", 'with open(path, "rb") as f:', 'with path.open("rb") as f:',
           ["sha256_file(str(path)) raised AttributeError", "accept a str as well as a Path"]),
    # 13.2 a restricted unpickler: pickle.load after all, a whole module, a bare name, a prefix, a deny-list, loading before
    # checking, returning instead of raising, swallowing the error, another error type, a message without the name
    Mutant("safe_load", "safe_load", "return RestrictedUnpickler(f).load()", "return pickle.load(f)",
           ["ran the code hidden in a file", "pickle.load trusts the file"]),
    Mutant("safe_load", "safe_load", "if (module, name) in ALLOWED:", "if module in {m for m, _ in ALLOWED}:",
           ["a call to collections.leave_marker", "allowing every name of a module (here collections", "(module, name) in ALLOWED"]),
    Mutant("safe_load", "safe_load", "if (module, name) in ALLOWED:", 'if module == "collections" or module == "builtins":',
           ["allowing every name of a module"]),
    Mutant("safe_load", "safe_load", "if (module, name) in ALLOWED:", "if name in {n for _, n in ALLOWED}:",
           ["a call to genai_course_untrusted.OrderedDict", "checking only the name"]),
    Mutant("safe_load", "safe_load", "if (module, name) in ALLOWED:", 'if f"{module}.{name}".startswith("collections.OrderedDict"):',
           ["a call to collections.OrderedDict_hook", "a prefix or substring test"]),
    Mutant("safe_load", "safe_load", "if (module, name) in ALLOWED:", 'if "OrderedDict" in name:', ["a call to genai_course_untrusted.OrderedDict", "checking only the name"]),
    Mutant("safe_load", "safe_load", "if (module, name) in ALLOWED:", 'if module not in {"os", "posix", "nt", "subprocess", "builtins"}:',
           ["a call to checkpoints.leave_marker", "a deny-list misses the names you did not think of"]),
    Mutant("safe_load", "safe_load", _CHECK, "found = super().find_class(module, name)\n        if (module, name) in ALLOWED:\n            return found",
           ["safe_load imported genai_course_untrusted", "before refusing it", "call super().find_class only for an allowed pair"]),
    Mutant("safe_load", "safe_load", _CHECK + "\n        " + _REFUSE, _CHECK, ["find_class returned None", "a missing raise?"]),
    Mutant("safe_load", "safe_load", _REFUSE, _REFUSE.replace("raise", "return"),
           ["('UnpicklingError' object is not callable)", "find_class returned the error instead of raising it"]),
    Mutant("safe_load", "safe_load", "return RestrictedUnpickler(f).load()",
           "try:\n            return RestrictedUnpickler(f).load()\n        except pickle.UnpicklingError:\n            return None",
           ["returned NoneType None for a file holding a call to checkpoints.leave_marker", "not be swallowed"]),
    Mutant("safe_load", "safe_load", "raise pickle.UnpicklingError(", "raise ValueError(", ["raised ValueError for a file holding", "raise pickle.UnpicklingError"]),
    Mutant("safe_load", "safe_load", _REFUSE, 'raise pickle.UnpicklingError("this global is not allowed")', ["does not say what was refused", "(here ...leave_marker)"]),
    Mutant("safe_load", "safe_load", 'ALLOWED = {("collections", "OrderedDict")}', 'ALLOWED = {"collections.OrderedDict"}',
           ["refused an OrderedDict (a state_dict's container)", "put ('collections', 'OrderedDict') on the allow-list"]),
    Mutant("safe_load", "safe_load", 'with open(path, "rb") as f:', "with open(path) as f:", ["open the file in binary mode, 'rb'"]),
    Mutant("safe_load", "safe_load", "return RestrictedUnpickler(f).load()", "return dict(RestrictedUnpickler(f).load())",
           ["returned dict", "expected the object that was pickled"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
