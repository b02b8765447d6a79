# %% [markdown]
# # Exercises 13: Safety
#
# Two exercises from lesson 13 (`notebooks/13_safety.ipynb`): the two defences a checkpoint
# loader stands on. You write `sha256_file`, the fingerprint of a file's bytes that a manifest
# or a `.sha256` sidecar records, computed in chunks so that a checkpoint of any size needs
# only a little memory; and `safe_load`, a restricted unpickler that loads plain containers
# and refuses any file that asks to call a function, before it runs. Replace each
# `raise NotImplementedError` with your code, then run the check cell below it: it prints ✅
# when your code is right, or says what is wrong.
#
# Everything here is harmless: the "malicious" files the checks make only write a marker
# file into a temporary folder, so that you can see whether your loader ran them.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import hashlib
import os
import pickle
import tempfile
from pathlib import Path

import torch

from genai_course import checkpoints, checks, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
work = Path(tempfile.mkdtemp(prefix="exercises13-"))  # scratch files for this notebook
print("scratch folder ready:", work.is_dir())

# %% [markdown]
# ## Exercise 13.1: hashing a file in chunks
#
# A SHA-256 (Secure Hash Algorithm, 256-bit) hash maps any sequence of bytes to 256 bits, written as 64 hex digits. Change
# one bit of the input and about half of the output bits change; nobody knows how to find two
# inputs with the same hash. So if a file's hash equals the one you wrote down when you made
# it, the file is the one you made, byte for byte.
#
# Write `sha256_file(path)`: the SHA-256 of the file's bytes, as the 64 lowercase hex digits
# `sha256sum` prints. Read the file in chunks (say 1 MiB, `1 << 20` bytes): a checkpoint can
# be larger than memory, and a hash does not need all of it at once.
#
# - `path`: a `str` or a `pathlib.Path`.
#
# Hints: `hashlib` gives you one hash object that you can feed bytes piece by piece; feeding
# it in pieces gives the same result as feeding everything at once. A hash is of bytes, so
# open the file in binary mode, and stop reading when a read gives back nothing.


# %%
def sha256_file(path) -> str:
    """path (str or Path) -> the SHA-256 of the file's bytes, as 64 lowercase hex digits."""
    # BEGIN SOLUTION
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):  # 1 MiB at a time: memory stays flat
            h.update(chunk)
    return h.hexdigest()
    # END SOLUTION


# %%
checks.sha256_file(sha256_file)

# %% [markdown]
# Your hash against the library's (`checkpoints.sha256`, which `genai-course` writes into every
# `.sha256` sidecar) on a checkpoint of an untrained model: equal. Then one flipped bit in the
# middle of the file, and the hash is unrecognisable.

# %%
try:
    from genai_course import models

    path = work / "model.pt"
    models.build("gan-ring8").save(str(path))  # writes model.pt and model.pt.sha256
    print("same as checkpoints.sha256:", sha256_file(path) == checkpoints.sha256(path))
    print("same as the sidecar:", sha256_file(path) == (work / "model.pt.sha256").read_text().split()[0])
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01  # one bit
    changed = work / "changed.pt"
    changed.write_bytes(bytes(content))
    a, b = sha256_file(path), sha256_file(changed)
    differing = sum(x != y for x, y in zip(bin(int(a, 16))[2:].zfill(256), bin(int(b, 16))[2:].zfill(256)))
    print("one bit of the file flipped: about half of the hash's 256 bits changed (100 to 156 of them):", 100 <= differing <= 156)
except NotImplementedError:
    print("(finish exercise 13.1 to hash a checkpoint)")

# %% [markdown]
# ## Exercise 13.2: a restricted unpickler
#
# A pickle is a small program for a stack machine: its instructions push numbers and strings,
# build lists and dicts, and also **look up a global by name** (`GLOBAL 'posix mkdir'`) and
# **call it** (`REDUCE`). `pickle.load` runs the program as it is, so a file can call any
# function it can name. The defence is in `pickle.Unpickler.find_class(module, name)`, the
# one place the unpickler looks a name up: refuse every name that is not on a short
# **allow-list**, and a file can still hold numbers, strings, lists, dicts and tuples (which
# need no globals) but can call nothing.
#
# Write `safe_load(path)`, which loads a pickle file the way `pickle.load` does but allows
# only the globals in `ALLOWED` (here just `collections.OrderedDict`, the container of a
# `state_dict`). For any other global, raise `pickle.UnpicklingError` with a message that
# names what was refused, e.g. `"refused posix.mkdir"`: before anything is called.
#
# Fill in `find_class(self, module, name)` of the `pickle.Unpickler` subclass below: an
# allowed pair may be looked up the way the parent class always does it; any other must fail
# before anything is returned. Then `safe_load` hands the file, opened as bytes, to your
# unpickler. Allow exact `(module, name)` pairs: a deny-list ("no `os`, no `eval`") misses
# what you did not think of, and allowing all of `builtins` allows `eval`.

# %%
ALLOWED = {("collections", "OrderedDict")}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain containers; refuses every global not in ALLOWED, before it is called."""

    def find_class(self, module, name):
        # BEGIN SOLUTION
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name}: not on the allow-list")
        # END SOLUTION


def safe_load(path):
    """path -> the object pickled in the file; pickle.UnpicklingError if it asks for a global not in ALLOWED."""
    # BEGIN SOLUTION
    with open(path, "rb") as f:
        return RestrictedUnpickler(f).load()
    # END SOLUTION


# %%
checks.safe_load(safe_load)

# %% [markdown]
# Your loader on the harmless crafted object of the lesson (`checkpoints.hidden_code`: its
# unpickling writes a marker file) beside a plain dict: the dict loads, the crafted file is
# refused and the marker never appears. Plain `pickle.load` on the same file does write it.

# %%
try:
    marker = work / "code-ran"
    (work / "plain.pkl").write_bytes(pickle.dumps({"step": 3, "sizes": [1, 2]}))
    (work / "crafted.pkl").write_bytes(pickle.dumps({"step": 3, "note": checkpoints.hidden_code(marker)}))
    print("plain dict loads:", safe_load(work / "plain.pkl") == {"step": 3, "sizes": [1, 2]})
    try:
        safe_load(work / "crafted.pkl")
        print("the crafted file loaded: safe_load should refuse it")
    except pickle.UnpicklingError as e:
        print("crafted file refused, names what it asked for:", "leave_marker" in str(e), "| marker written:", marker.exists())
    with open(work / "crafted.pkl", "rb") as f:
        pickle.load(f)  # the unsafe way
    print("after plain pickle.load, marker written:", marker.exists())
except NotImplementedError:
    print("(finish exercise 13.2 to load and refuse pickles)")

# %% [markdown]
# A torch checkpoint is a zip archive whose `data.pkl` is such a pickle (the tensors' bytes are
# stored beside it). `torch.load(path, weights_only=True)` is a restricted unpickler like yours
# with a longer allow-list (tensors, storages, `OrderedDict`, a few torch types), and the
# course's `checkpoints.load` adds the hash check of exercise 13.1 on top.

# %%
for p in (work / "model.pt", work / "model.pt.sha256", work / "changed.pt", work / "plain.pkl", work / "crafted.pkl", work / "code-ran"):
    p.unlink(missing_ok=True)
work.rmdir()
print("scratch folder removed:", not work.exists())
