"""The mutation table of lesson 13 (genai_course.checks.safety): each solution, mutated the ways learners
go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_LOOP = """        with open(folder / name, "rb") as f:
            while chunk := f.read(1 << 20):  # 1 MiB at a time: memory stays flat
                h.update(chunk)
"""
_SPLIT = 'recorded, name = line.split("  ", 1)'
_COMPARE = "result[name] = h.hexdigest() == recorded"
_REFUSE = 'raise pickle.UnpicklingError(f"refused {module}.{name}: not on the allow-list")'
_CHECK = "if (module, name) in allowed:\n            return super().find_class(module, name)"
_ALLOW = 'allowed = {("collections", "OrderedDict"), ("datetime", "datetime")}'

ROWS = [
    # 13.1 checking a manifest: the digest's bytes, upper case, all at once, by lines, text mode, a hash per chunk, one chunk only,
    # the wrong hash, the name hashed, the names split wrong or relative to the wrong folder, the answer the other way round
    Mutant("check_manifest", "check_manifest", _COMPARE, "result[name] = h.digest() == recorded", ["said every file fails, untouched ones too"]),
    Mutant("check_manifest", "check_manifest", _COMPARE, "result[name] = h.hexdigest().upper() == recorded", ["compared in upper case"]),
    Mutant("check_manifest", "check_manifest", _COMPARE, "result[name] = h.hexdigest() != recorded", ["the other way round"]),
    Mutant("check_manifest", "check_manifest", _LOOP, '        with open(folder / name, "rb") as f:\n            h.update(f.read())\n',
           ["the answers are right, but big.pt", "was read whole at once"]),
    Mutant("check_manifest", "check_manifest", _LOOP, "        h.update((folder / name).read_bytes())\n", ["was read whole at once"]),
    Mutant("check_manifest", "check_manifest", _LOOP, '        with open(folder / name, "rb") as f:\n            for line_ in f:\n                h.update(line_)\n',
           ["iterated over big.pt's *lines*"]),
    Mutant("check_manifest", "check_manifest", 'with open(folder / name, "rb") as f:', "with open(folder / name) as f:",
           ["raised UnicodeDecodeError", "a checkpoint is no text"]),
    Mutant("check_manifest", "check_manifest", 'with open(folder / name, "rb") as f:', 'with open(folder / name, encoding="latin-1") as f:',
           ["a hash takes bytes, not str"]),
    Mutant("check_manifest", "check_manifest", "                h.update(chunk)\n", "                h = hashlib.sha256()\n                h.update(chunk)\n",
           ["only the last chunk of each file counts"]),
    Mutant("check_manifest", "check_manifest", "while chunk := f.read(1 << 20):", "if chunk := f.read(1 << 20):",
           ["only the first 1048576 bytes of each file were hashed"]),
    Mutant("check_manifest", "check_manifest", "h = hashlib.sha256()", "h = hashlib.md5()", ["that is the MD5 of each file, not its SHA-256"]),
    Mutant("check_manifest", "check_manifest", _LOOP, "        h.update(str(folder / name).encode())\n",
           ["the hash of big.pt's *name*"]),
    Mutant("check_manifest", "check_manifest", _SPLIT, "recorded, name = line.split()", ["too many values to unpack", "'run 2.pt', holds a space"]),
    Mutant("check_manifest", "check_manifest", _SPLIT, "recorded, name = line.split()[:2]", ["'run 2.pt', holds a space"]),
    Mutant("check_manifest", "check_manifest", _SPLIT, "recorded, name = line[:64], line[65:]", ["a name starts with a space"]),
    Mutant("check_manifest", "check_manifest", "folder = Path(manifest).parent", "folder = Path()",
           ["raised FileNotFoundError", "not to the folder Python runs in"]),
    Mutant("check_manifest", "check_manifest", "folder = Path(manifest).parent", "folder = Path(manifest)", ["raised NotADirectoryError"]),
    Mutant("check_manifest", "check_manifest", "for line in Path(manifest).read_text().splitlines():", 'for line in Path(manifest).read_text().split("\\n"):',
           ["an empty line (the manifest ends with a newline) lists no file"]),
    Mutant("check_manifest", "check_manifest", "folder = Path(manifest).parent", "folder = manifest.parent",
           ["check_manifest(str(manifest)) raised AttributeError", "as a str as well as a Path"]),
    # 13.2 a restricted unpickler: pickle.load after all, a whole module, a bare name, a prefix, a deny-list, loading before
    # checking, returning instead of raising, swallowing the error, another error type, a message without the name
    Mutant("safe_load", "safe_load", "return RestrictedUnpickler(f).load()", "return pickle.load(f)",
           ["ran the code hidden in a file", "pickle.load trusts the file"]),
    Mutant("safe_load", "safe_load", "if (module, name) in allowed:", "if module in {m for m, _ in allowed}:",
           ["a call to collections.leave_marker", "allowing every name of a module (here collections", "allow exact pairs"]),
    Mutant("safe_load", "safe_load", "if (module, name) in allowed:", 'if module in ("collections", "datetime", "builtins"):',
           ["allowing every name of a module"]),
    Mutant("safe_load", "safe_load", "if (module, name) in allowed:", 'if (module, name) in allowed or module == "datetime":',
           ["a call to datetime.datetime_hook", "allowing all of datetime"]),
    Mutant("safe_load", "safe_load", _ALLOW, 'allowed = {("collections", "OrderedDict")}',
           ["safe_load refused a run log", "its disassembly shows every global it names"]),
    Mutant("safe_load", "safe_load", _ALLOW, 'allowed = {("collections", "OrderedDict"), ("datetime", "date")}', ["refused a run log"]),
    Mutant("safe_load", "safe_load", "if (module, name) in allowed:", "if name in {n for _, n in allowed}:",
           ["a call to genai_course_untrusted.OrderedDict", "checking only the name"]),
    Mutant("safe_load", "safe_load", "if (module, name) in allowed:",
           'if f"{module}.{name}".startswith(("collections.OrderedDict", "datetime.datetime")):',
           ["a call to collections.OrderedDict_hook", "a prefix or substring test"]),
    Mutant("safe_load", "safe_load", "if (module, name) in allowed:", 'if "OrderedDict" in name or "datetime" in name:', ["a call to genai_course_untrusted.OrderedDict", "checking only the name"]),
    Mutant("safe_load", "safe_load", "if (module, name) in allowed:", 'if module not in {"os", "posix", "nt", "subprocess", "builtins"}:',
           ["a call to checkpoints.leave_marker", "a deny-list misses the names you did not think of"]),
    Mutant("safe_load", "safe_load", _CHECK, "found = super().find_class(module, name)\n        if (module, name) in allowed:\n            return found",
           ["safe_load imported genai_course_untrusted", "before refusing it", "look a name up only once it has passed"]),
    Mutant("safe_load", "safe_load", _CHECK + "\n        " + _REFUSE, _CHECK, ["find_class returned None", "a missing raise?"]),
    Mutant("safe_load", "safe_load", _REFUSE, _REFUSE.replace("raise", "return"),
           ["('UnpicklingError' object is not callable)", "find_class returned the error instead of raising it"]),
    Mutant("safe_load", "safe_load", "return RestrictedUnpickler(f).load()",
           "try:\n            return RestrictedUnpickler(f).load()\n        except pickle.UnpicklingError:\n            return None",
           ["returned NoneType None for a file holding a call to checkpoints.leave_marker", "not be swallowed"]),
    Mutant("safe_load", "safe_load", "raise pickle.UnpicklingError(", "raise ValueError(",
           ["raised ValueError for a file holding", "a refusal should be a pickle.UnpicklingError"]),
    Mutant("safe_load", "safe_load", _REFUSE, 'raise pickle.UnpicklingError("this global is not allowed")', ["does not say what was refused", "(here ...leave_marker)"]),
    Mutant("safe_load", "safe_load", _ALLOW, 'allowed = {"collections.OrderedDict", "datetime.datetime"}',
           ["refused an OrderedDict (a state_dict's container)", "a state_dict's container is a global too"]),
    Mutant("safe_load", "safe_load", 'with open(path, "rb") as f:', "with open(path) as f:", ["the file was read as text"]),
    Mutant("safe_load", "safe_load", "return RestrictedUnpickler(f).load()", "return dict(RestrictedUnpickler(f).load())",
           ["returned dict", "expected the object that was pickled"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
