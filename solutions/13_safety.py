# %% [markdown]
# # Exercises 13: Safety
#
# Two exercises from lesson 13 (`notebooks/13_safety.ipynb`): the two defences a checkpoint
# loader stands on, each a step beyond the lesson's code. You write `check_manifest`, which
# checks every file a `SHA256SUMS` manifest lists against its recorded hash, reading each in
# chunks; and `safe_load`, a restricted unpickler whose allow-list admits what a training run's
# log needs and refuses any other global, before it runs. Replace each
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
import datetime
import hashlib
import io
import pickle
import pickletools
import shutil
import tempfile
from collections import OrderedDict
from pathlib import Path

import torch

from genai_course import checkpoints, checks, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
work = Path(tempfile.mkdtemp(prefix="exercises13-"))  # scratch files for this notebook
print("scratch folder ready:", work.is_dir())

# %% [markdown]
# ## Exercise 13.1: checking a manifest
#
# The lesson hashed one file by hand, reading it in chunks, and let `checkpoints.verify_manifest`
# check a folder. Here you write that check. A **manifest** (`SHA256SUMS`) lists files with their
# hashes in the format of the `sha256sum` tool, one line per file: the 64 hex (hexadecimal,
# base-16) digits of the SHA-256 (Secure Hash Algorithm, 256-bit) hash, two spaces, then the
# file's name, relative to the manifest's folder. A name may hold spaces: everything after the two
# spaces is the name.
#
# Write `check_manifest(manifest)`: for every file the manifest lists, whether the SHA-256 of its
# bytes equals the recorded one, as a dict `{name: True or False}` keyed by the names as the
# manifest writes them.
#
# - `manifest`: the manifest's path, a `str` or a `pathlib.Path`. Every file it lists exists.
# - Read each file in chunks of a fixed size (say 1 MiB, 2^20 bytes): a checkpoint can be larger
#   than memory. The check's large files are no whole number of chunks long for any power-of-two
#   chunk size, so the last read of each comes back short.
#
# Hints: the lesson's `my_sha256` is one way to hash a file; the work here is around it. Which
# folder are the names relative to, and which part of a line is the name? The recorded digest is
# text: compare like with like. The manifest below lists three files, and one of them was changed
# after it was written.

# %%
shelf = work / "shelf"
shelf.mkdir()
(shelf / "weights.pt").write_bytes(bytes(range(256)) * 4000)
(shelf / "run 2.pt").write_bytes(b"a second run")
(shelf / "notes.txt").write_bytes(b"trained on digits\r\n")
(shelf / "SHA256SUMS").write_text("".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(shelf.glob("*.*"))))
(shelf / "notes.txt").write_bytes(b"trained on faces\r\n")  # changed after the manifest was written
print((shelf / "SHA256SUMS").read_text())


# %%
def check_manifest(manifest) -> dict:
    """manifest (str or Path) of sha256sum lines -> {name: True if the file's SHA-256 is the recorded one}."""
    # BEGIN SOLUTION
    folder = Path(manifest).parent
    result = {}
    for line in Path(manifest).read_text().splitlines():
        recorded, name = line.split("  ", 1)  # the name is everything after the two spaces
        h = hashlib.sha256()
        with open(folder / name, "rb") as f:
            while chunk := f.read(1 << 20):  # 1 MiB at a time: memory stays flat
                h.update(chunk)
        result[name] = h.hexdigest() == recorded
    return result
    # END SOLUTION


# %%
checks.check_manifest(check_manifest)

# %% [markdown]
# Your check on the manifest above, and the library's on the same folder: both point at
# `notes.txt`, the one file changed after the manifest was written.

# %%
try:
    print("check_manifest:", check_manifest(shelf / "SHA256SUMS"))
    try:
        checkpoints.verify_manifest(shelf / "SHA256SUMS")
    except checkpoints.CheckpointError as e:
        print("checkpoints.verify_manifest:", str(e).replace(str(work), "WORK").split(" (expected")[0])
except NotImplementedError:
    print("(finish exercise 13.1 to check the manifest)")

# %% [markdown]
# ## Exercise 13.2: a restricted unpickler for run logs
#
# A pickle is a small program for a stack machine: its instructions push numbers and strings,
# build lists and dicts, and also **look up a global by name** (`GLOBAL` or `STACK_GLOBAL`) and
# **call it** (`REDUCE`). `pickle.load` runs the program as it is, so a file can call any
# function it can name. The defence is in `pickle.Unpickler.find_class(module, name)`, the one
# place the unpickler looks a name up: refuse every name that is not on a short **allow-list**.
#
# The lesson's allow-list was for checkpoints. Yours is for the run logs a training script
# writes: a dict with the model's `state_dict`, the number of steps, and the moment the run
# started. Below, one such log and the part of its disassembly that names globals (protocol 4
# writes a global as two strings pushed before `STACK_GLOBAL`: the module, then the name).
#
# Write `find_class` of the `pickle.Unpickler` subclass below, and `safe_load(path)`, which loads a
# pickle file with it. Allow exactly the globals a run log needs, as pairs of module and name;
# for any other global, raise `pickle.UnpicklingError` with a message that names what was
# refused (e.g. `"refused posix.mkdir"`), before anything is looked up or called. Keep the
# allow-list inside `find_class`: the grader runs only the code inside the functions.
#
# Hints: which pairs does the disassembly show? An allowed pair may be looked up the way the
# parent class always does it. A whole module is too much to allow, and so is a name alone: a
# file names both, and both must match.

# %%
log = {"state": OrderedDict([("w", [0.5, 1.0])]), "steps": 500, "started": datetime.datetime(2026, 1, 5, 9, 30)}
log_bytes = pickle.dumps(log, protocol=4)
listing = io.StringIO()
pickletools.dis(log_bytes, out=listing)
lines = listing.getvalue().splitlines()
for i, line in enumerate(lines):
    if "STACK_GLOBAL" in line:  # the two strings pushed before it, then the look-up
        print("\n".join(l.split(":", 1)[1] for l in lines[i - 4:i + 1] if "UNICODE" in l or "STACK_GLOBAL" in l), end="\n\n")


# %%
class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles plain containers and run logs; refuses every other global, before it is looked up."""

    def find_class(self, module, name):
        # BEGIN SOLUTION
        allowed = {("collections", "OrderedDict"), ("datetime", "datetime")}  # a state_dict, a start time
        if (module, name) in allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused {module}.{name}: not on the allow-list")
        # END SOLUTION


def safe_load(path):
    """path -> the object pickled in the file; pickle.UnpicklingError if it asks for a global not allowed."""
    # BEGIN SOLUTION
    with open(path, "rb") as f:
        return RestrictedUnpickler(f).load()
    # END SOLUTION


# %%
checks.safe_load(safe_load)

# %% [markdown]
# Your loader on the run log and on the harmless crafted object of the lesson
# (`checkpoints.hidden_code`: its unpickling writes a marker file): the log loads, the crafted
# file is refused and the marker never appears. Plain `pickle.load` on the same file does write it.

# %%
try:
    marker = work / "code-ran"
    (work / "log.pkl").write_bytes(log_bytes)
    (work / "crafted.pkl").write_bytes(pickle.dumps({"step": 3, "note": checkpoints.hidden_code(marker)}))
    print("run log loads:", safe_load(work / "log.pkl") == log)
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
shutil.rmtree(work)
print("scratch folder removed:", not work.exists())
