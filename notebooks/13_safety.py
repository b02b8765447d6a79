# %% [markdown]
# # Lesson 13: Safety
#
# By the end of this lesson you can load a model file without letting it run code on your
# machine, tell whether a checkpoint is the one you made, audit a generative model for copies
# of its training data, and trace any file the course writes back to the model, checkpoint and
# seed that made it. You will see, with a harmless crafted file, why `torch.load` with
# `weights_only=False` runs whatever a file asks for; build a restricted unpickler by hand
# and check it reads a real course checkpoint exactly as `genai_course.checkpoints.load`
# does; tamper with checkpoints and watch the hashes catch it; train two small digit models
# and look for training digits among their samples; and read back the provenance that
# `genai-course sample` stores in its output.
#
# Run time: the two training cells print how long they took; the rest runs in seconds.
#
# Where it sits: lesson 05 wrote the first checkpoints, lesson 11 built the memorization
# audit as a test of novelty, lesson 12 scaled training up. This lesson asks what can go
# wrong when model files and samples travel: between laptops in a workshop, from a download
# page, or out of a model trained on data that should stay private.

# %%
# The one switch of this lesson, for slow laptops. False: every model trains here, as the
# lesson is written. True: each one is loaded instead from the runs `genai-course pretrain 13`
# (or `--all`) saved in runs/pretrained/: the same weights, losses and pictures, in seconds.
# A run that is missing or was trained with other settings is trained here, and says so.
PRETRAINED = False

# %%
import hashlib
import io
import json
import pickle
import pickletools
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

from genai_course import checkpoints, data, metrics, models, threads, widgets
from genai_course.checkpoints import CheckpointError

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
work = Path(tempfile.mkdtemp(prefix="lesson13-"))  # every file of this lesson goes here


def shown(message):
    """An error message with this run's scratch folder written as WORK (it differs every run)."""
    return str(message).replace(str(work), "WORK")


digits = data.load_digits()
print("training digits:", tuple(digits.x_train.shape), " held-out digits:", tuple(digits.x_test.shape))

# %% [markdown]
# ## A pickle is a program
#
# `torch.save` writes a zip archive (its entries are listed further down). Inside it, `data.pkl` is a **pickle**: Python's format for
# any object. A pickle is not a table of numbers but a small program for a **stack machine**
# (one whose instructions push values onto a pile and take the top ones off), and
# `pickle.load` runs it. Most of its instructions build things: push a number, push a
# string, make a dict, set an item. Look at a small checkpoint-like dict:

# %%
state = {"step": 7, "sizes": [1, 2]}
pickletools.dis(pickle.dumps(state, protocol=2))

# %% [markdown]
# Two instructions are different. `GLOBAL 'module name'` looks up *any* importable name, and
# `REDUCE` calls what is on the stack with the arguments above it. That is how pickle rebuilds
# objects that are not plain containers: an object's `__reduce__` method tells pickle "to make
# me again, call this function with these arguments". A file can name any function: `os.system`
# with a shell command as easily as a constructor.
#
# The course ships a **harmless** stand-in: `checkpoints.hidden_code(marker)` is an object whose
# unpickling calls `checkpoints.leave_marker(marker)`, which writes one line into a file. Its
# pickle, disassembled:

# %%
marker = work / "code-ran"
crafted_bytes = pickle.dumps({"step": 7, "note": checkpoints.hidden_code(marker)}, protocol=2)
listing = io.StringIO()
pickletools.dis(crafted_bytes, out=listing)
print("\n".join(line.split(":", 1)[1] for line in listing.getvalue().splitlines() if "GLOBAL" in line or "REDUCE" in line))

# %% [markdown]
# Loading it with plain `pickle.loads` runs `leave_marker`, and the marker file appears: the
# code ran before we ever looked at what came back.

# %%
print("marker before loading:", marker.exists())
loaded = pickle.loads(crafted_bytes)
print("marker after pickle.loads:", marker.exists(), "| it says:", marker.read_text().strip())
marker.unlink()

# %% [markdown]
# ## The same inside a checkpoint
#
# `checkpoints.write_crafted_checkpoint(path, marker)` writes such an object into a file that
# looks like a course checkpoint: format marker, version, a model name, weights (the model is
# a DCGAN, a deep convolutional generative adversarial network, lesson 06). PyTorch
# before version 2.6 loaded every file with `weights_only=False` by default, and many scripts
# still pass it: it runs the hidden code.

# %%
crafted = checkpoints.write_crafted_checkpoint(work / "dcgan-digits.pt", marker)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    unsafe = torch.load(crafted, weights_only=False)
print("torch.load(weights_only=False): marker written:", marker.exists(), "| the file claims to be:", unsafe["model"])
marker.unlink()

# %% [markdown]
# With `weights_only=True` (PyTorch's default since 2.6) the unpickler accepts only tensors,
# numbers, strings, containers and a short list of torch types, and refuses the file before
# calling anything. The course's loader, `checkpoints.load`, always uses it, and says in one
# line what the file asked for; `models.load_model` and the command line go through it.

# %%
try:
    torch.load(crafted, weights_only=True)
except pickle.UnpicklingError as e:
    print("torch.load(weights_only=True) refused it:", "leave_marker" in str(e), "| marker written:", marker.exists())
for name, load in (("genai_course.checkpoints.load", checkpoints.load), ("genai_course.models.load_model", models.load_model)):
    try:
        load(str(crafted))
    except CheckpointError as e:
        print(f"{name}:", shown(e))
print("marker written:", marker.exists())

# %% [markdown]
# ## A restricted unpickler by hand
#
# How can an unpickler refuse? Every `GLOBAL` goes through one method, `find_class(module,
# name)`: override it to return only names on an **allow-list** and raise for everything else.
# A course checkpoint needs only a few names: `collections.OrderedDict` (a `state_dict`),
# `torch._utils._rebuild_tensor_v2` (a tensor from its storage, offset, shape and strides) and
# the storage types of the dtypes it holds (a **storage** is the flat block of bytes behind a
# tensor; the tensor says where in it its numbers start and how they are laid out). The
# tensors' bytes are not in the pickle: each storage is a *persistent id* (a reference the
# pickle hands to the loader instead of the data) `('storage', type, key, location, numel)`,
# and its bytes are the zip's entry `archive/data/KEY`.
# The entries of a real course checkpoint (an untrained DCGAN), read with `zipfile`:

# %%
course_file = work / "untrained.pt"
models.build("dcgan-digits").save(str(course_file))
with zipfile.ZipFile(course_file) as archive:
    names = archive.namelist()
print("not tensor bytes:", [n for n in names if "/data/" not in n])
stored = [n for n in names if "/data/" in n]
print("tensor bytes:", len(stored), "entries, from", stored[0], "to", stored[-1])

# %% [markdown]
# `data.pkl` is the pickle; `version`, `.format_version`, `.storage_alignment` and `byteorder`
# tell the loader how the bytes are laid out; `.data/serialization_id` is an identifier of
# this save. Our loader reads `data.pkl` and fetches each storage from `data/KEY`:

# %%
ALLOWED = {("collections", "OrderedDict"): __import__("collections").OrderedDict,
           ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2}
for kind in ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool"):
    ALLOWED[("torch", f"{kind}Storage")] = getattr(torch, f"{kind}Storage")


class CheckpointUnpickler(pickle.Unpickler):
    def __init__(self, file, archive, prefix):
        super().__init__(file)
        self.archive, self.prefix = archive, prefix

    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"refused {module}.{name}: not on the allow-list")

    def persistent_load(self, pid):
        _, storage_type, key, _, _ = pid  # ('storage', torch.FloatStorage, '0', 'cpu', numel)
        raw = self.archive.read(f"{self.prefix}/data/{key}")
        untyped = torch.UntypedStorage.from_buffer(raw, dtype=torch.uint8)
        with warnings.catch_warnings():  # TypedStorage is deprecated, but it is what _rebuild_tensor_v2 takes
            warnings.simplefilter("ignore")
            return torch.storage.TypedStorage(wrap_storage=untyped, dtype=storage_type.dtype, _internal=True)


def my_load(path):
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("/data.pkl"))  # 'archive/data.pkl'
        return CheckpointUnpickler(io.BytesIO(archive.read(name)), archive, name.rsplit("/", 1)[0]).load()


# %% [markdown]
# On that course checkpoint (weights, optimizer states, random-number generator states, its
# recipe) our loader must give back exactly what `checkpoints.load` gives,
# tensor for tensor; on the crafted file it must refuse, naming the same function:

# %%
def same(a, b):
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


print("same contents as checkpoints.load:", same(my_load(course_file), checkpoints.load(course_file)))
try:
    my_load(crafted)
except pickle.UnpicklingError as e:
    try:
        checkpoints.load(crafted)
    except CheckpointError as library:
        print("crafted file: ours says", repr(str(e)))
        print("the library names the same function:", "genai_course.checkpoints.leave_marker" in str(library), "| marker written:", marker.exists())

# %% [markdown]
# An allow-list and not a deny-list: refusing `os`, `subprocess` and `eval` would have let
# `leave_marker` through, and whatever else you did not think of. The same hazard is in every
# format built on pickle: `pickle.load`, `joblib.load`, `numpy.load(allow_pickle=True)`,
# `pandas.read_pickle`. Formats that hold only numbers (`.npz` without objects, or
# safetensors, a file format of named tensors and nothing else) have no instructions to run.

# %% [markdown]
# ## Hashes: is this the file I made?
#
# The restricted loader stops code; it cannot tell a good checkpoint from a damaged or swapped
# one. A **hash** can. SHA-256 (Secure Hash Algorithm, 256-bit) maps any sequence of bytes to
# 256 bits, written as 64 hex (hexadecimal, base-16) digits: change one bit of the input and
# about half the output bits change (the cell below counts them), and nobody knows how to find
# two inputs with the same hash. So a file whose hash matches the one recorded when it was
# written is that file, byte for byte. By hand, reading in chunks (exercise 13.1 checks a whole
# folder this way):

# %%
def my_sha256(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):  # 1 MiB (2**20 bytes) at a time: memory stays flat for any file size
            h.update(block)
    return h.hexdigest()


print("same as checkpoints.sha256:", my_sha256(course_file) == checkpoints.sha256(course_file))
print("hex digits:", len(my_sha256(course_file)))
a, b = hashlib.sha256(b"genai-course").digest(), hashlib.sha256(b"genai-coursd").digest()  # 'e' -> 'd': one bit of the input
print("one input bit flipped: output bits that differ:", sum(bin(x ^ y).count("1") for x, y in zip(a, b)), "of 256")

# %% [markdown]
# Every `checkpoints.save` (so every `genai-course train`) writes a **sidecar** beside the
# checkpoint, `NAME.pt.sha256`, in the format of the `sha256sum` tool: the 64 hex digits, two
# spaces, the file name. So the tool can check it too, from the file's folder:

# %%
sidecar = checkpoints.sidecar_path(course_file)
line = sidecar.read_text()
print("sidecar:", sidecar.name, "| its hash is the file's:", line.split()[0] == checkpoints.sha256(course_file), "| names:", line.split()[1])
if shutil.which("sha256sum"):
    done = subprocess.run(["sha256sum", "-c", sidecar.name], cwd=work, capture_output=True, text=True)
    print("sha256sum -c:", done.stdout.strip())
else:
    print("sha256sum is not installed here (macOS: shasum -a 256 -c)")

# %% [markdown]
# ## Tampering, and what notices it
#
# Flip one bit in one weight of the checkpoint and load it with the course's loader,
# `models.load_model`, *without* its sidecar: nothing notices, not even `torch.load` underneath
# (a zip stores a CRC-32 checksum per entry, and this load shows PyTorch's reader does not
# check it), and the model silently has a different weight. With the sidecar, the same loader
# (through `checkpoints.load`) checks the file's hash and refuses the file before unpickling
# any of it. The catch is the course loader's hash check, not `torch.load`.

# %%
model = models.build("dcgan-digits")
tampered = work / "tampered.pt"
model.save(str(tampered))
first_weight = next(iter(model.G.state_dict().values()))  # the weight of the generator's first layer, a Linear one
print("the weight we change:", next(iter(model.G.state_dict())), tuple(first_weight.shape))
content = bytearray(tampered.read_bytes())
at = content.find(first_weight.numpy().tobytes())
content[at + 2] ^= 0x40  # one bit of one float
tampered.write_bytes(bytes(content))

try:
    models.load_model(str(tampered))
except CheckpointError as e:
    print("with its sidecar:", shown(e).split(": expected")[0])
    print("and what to do if a save was interrupted:", "If a save was interrupted" in str(e))
checkpoints.sidecar_path(tampered).unlink()
changed = models.load_model(str(tampered))
diff = (next(iter(changed.G.state_dict().values())) - first_weight).abs()
print("without it: loads; weights that differ:", int((diff > 0).sum()), "of", diff.numel())

# %% [markdown]
# The sidecar message also says what to do if the reason is innocent. `save` writes the
# checkpoint, then swaps in its new hash right after (each is written to a temporary file and
# then renamed over the old one, as lesson 12 described); a training run killed between those two
# renames leaves a whole checkpoint beside the previous hash. Then: train again, or, for a file
# you made yourself, delete the stale sidecar.
#
# What a sidecar cannot do: whoever can replace the file can replace its sidecar too. It
# catches accidents (a cut-short copy, a flipped bit, the wrong file under the right name),
# not an attacker. Against that, the hash has to come from somewhere you trust: written down
# when you trained the model, published beside a download, or in a **manifest** that travels
# separately. `checkpoints.write_manifest` lists a folder's checkpoints with their hashes
# (`sha256sum` format again, names relative to the manifest's folder), `verify_manifest`
# checks every one, and `genai-course report` checks a folder's `SHA256SUMS` before it reads
# anything. Two checkpoints, one manifest, then one file replaced by another model's:

# %%
shelf = work / "shelf"
shelf.mkdir()
for name in ("dcgan-digits", "cvae-digits"):
    models.build(name).save(str(shelf / f"{name}.pt"))
manifest = checkpoints.write_manifest(sorted(shelf.glob("*.pt")), shelf / checkpoints.MANIFEST)
print(manifest.name, "lists:", [line.split()[1] for line in manifest.read_text().splitlines()])
print("verified:", [p.name for p in checkpoints.verify_manifest(manifest)])
(shelf / "dcgan-digits.pt").write_bytes((shelf / "cvae-digits.pt").read_bytes())  # swapped, with a consistent sidecar too
shutil.copy(shelf / "cvae-digits.pt.sha256", shelf / "dcgan-digits.pt.sha256")
try:
    checkpoints.verify_manifest(manifest)
except CheckpointError as e:
    print(shown(e).split(" (expected")[0])

# %% [markdown]
# And a hash you were given can be checked at load time: `checkpoints.load(path,
# expected_sha256=...)`. The swapped file above passes its own (copied) sidecar but not the
# hash we recorded before:

# %%
recorded = {name: digest for digest, name in (line.split() for line in manifest.read_text().splitlines())}  # file name -> hash
print("passes its own sidecar, and loads as:", checkpoints.load(shelf / "dcgan-digits.pt")["model"])
try:
    checkpoints.load(shelf / "dcgan-digits.pt", expected_sha256=recorded["dcgan-digits.pt"])
except CheckpointError as e:
    print("against the recorded hash:", shown(e).split(": expected")[0])

# %% [markdown]
# The course's tests (`tests/test_checkpoints.py`) try more kinds of bad file (truncated,
# empty, random, another model's checkpoint, weights of the wrong shape) on `checkpoints.load`,
# `models.load_model` and `genai-course sample`, and expect a message like these for each.

# %% [markdown]
# ## The memorization audit: does a model give away its training data?
#
# A generative model learns from its training data. If it learned *too* well, its samples are
# copies, and then it leaks whatever the training data holds: faces, medical images, private
# messages. Lesson 11's **memorization audit** measures it: for each sample, the distance to
# its nearest training example,
#
# $$d(x) = \min_{t \in \text{train}} \lVert x - t \rVert,$$
#
# compared with the same distance for real **held-out** examples the model never saw. A sample
# nearer than the 1% quantile of the held-out distances (the distance only 1% of them fall
# below) is flagged as a possible copy: closer
# than new real data almost ever comes. Two more figures sum a model up: the **median
# distance** of its samples (half of them are nearer their nearest training digit than that),
# and its **ratio to held-out**, that median divided by the held-out digits' own median (1: as
# far from the training digits as new real digits; well below 1: hugging them).
#
# Two small course models, trained with the course's recipes for fewer steps than in their
# lessons: a convolutional GAN (generative adversarial network), which never sees a training
# digit directly (only the discriminator's opinion of its fakes), and a conditional VAE
# (variational autoencoder, lesson 08; cVAE for short), which is trained to reconstruct
# training digits.

# %%
# NBVAL_IGNORE_OUTPUT
trained = {}
trained["dcgan-digits"] = models.train_model("dcgan-digits", steps=500, progress=False, pretrained=PRETRAINED)
print(f"dcgan-digits: {trained['dcgan-digits'].step} steps in {trained['dcgan-digits'].history.seconds:.0f} s")

# %%
# NBVAL_IGNORE_OUTPUT
trained["cvae-digits"] = models.train_model("cvae-digits", steps=1500, progress=False, pretrained=PRETRAINED)
print(f"cvae-digits: {trained['cvae-digits'].step} steps in {trained['cvae-digits'].history.seconds:.0f} s")

# %%
print({name: m.step for name, m in trained.items()})

# %% [markdown]
# And a deliberately **memorizing** "model", the worst case: it returns training digits (with a
# touch of noise, so that it is not even an exact copy).

# %%
class Memorizer:
    """A stand-in for a model that learned its training set by heart."""

    name = "memorizer"

    def sample(self, n, generator=None):
        index = torch.randint(len(digits.x_train), (n,), generator=generator)  # (n,)
        noise = 0.02 * torch.randn(n, 1, 8, 8, generator=generator)
        return (digits.x_train[index] + noise).clamp(0, 1)  # (n, 1, 8, 8)


candidates = {**trained, "memorizer": Memorizer()}
samples = {name: m.sample(1000, generator=torch.Generator().manual_seed(3)).clamp(0, 1) for name, m in candidates.items()}
audit = {name: metrics.memorization(x, digits.x_train, digits.x_test) for name, x in samples.items()}
held = metrics.memorization(digits.x_test, digits.x_train, digits.x_test)
print({name: tuple(x.shape) for name, x in samples.items()})

# %%
# NBVAL_IGNORE_OUTPUT
for name, report in {**audit, "held-out digits": held}.items():
    print(f"{name:16} flagged {report.copies:6.1%}   median distance {report.sample_distance:.2f}   ratio to held-out {report.ratio:.2f}")

# %%
print("memorizer: more than 90% flagged:", audit["memorizer"].copies > 0.9)
print("dcgan-digits: at most 2% flagged (held-out digits: 1%, by construction):", audit["dcgan-digits"].copies <= 0.02)
print("cvae-digits: more than 1% but under 10% flagged:", 0.01 < audit["cvae-digits"].copies < 0.1)
print("course models' samples at least 0.7 times as far as held-out digits:", all(audit[k].ratio >= 0.7 for k in trained))

# %% [markdown]
# The pictures: a dozen samples of each (top row, with the distance to the nearest training
# digit) above that nearest training digit (bottom row). The course models draw new
# handwriting; the memorizer hands back its training set.

# %%
fig, axes = plt.subplots(3, 1, figsize=(9, 4.6))
for ax, (name, x) in zip(axes, samples.items()):
    dist, nearest = metrics.nearest_neighbours(x[:12], digits.x_train)
    widgets.show_digits(torch.cat([x[:12], digits.x_train[nearest]]), nrow=12, ax=ax, labels=[f"{d:.1f}" for d in dist.tolist()] + [""] * 12)
    ax.set_title(f"{name}: samples (top), nearest training digit (bottom)", fontsize=9, loc="left")
plt.show()

# %% [markdown]
# The GAN is clean; its ratio above 1 says its samples are farther from the training digits than
# new real digits are, so "clean" here may partly mean "less lifelike". The conditional VAE has
# more of its samples flagged than the 1% that held-out digits get by construction (the cells
# above printed both): worth a look. Which classes, and which training digits are they near?

# %%
# NBVAL_IGNORE_OUTPUT
dist, nearest = metrics.nearest_neighbours(samples["cvae-digits"], digits.x_train)
flagged = dist < audit["cvae-digits"].threshold  # (1000,) bool
asked = torch.arange(1000) % 10  # the cVAE drew every class in turn
near = sorted(set(nearest[flagged].tolist()))
classes, counts = asked[flagged].unique(return_counts=True)
print("flagged samples:", int(flagged.sum()), "| their classes:", dict(zip(classes.tolist(), counts.tolist())),
      "| distinct training digits they are near:", len(near))

# %%
print("the flagged samples crowd around at most 10 training digits:", len(near) <= 10)
fig, ax = plt.subplots(figsize=(9, 1.6))
pick = flagged.nonzero().squeeze(1)[:12]
widgets.show_digits(torch.cat([samples["cvae-digits"][pick], digits.x_train[nearest[pick]]]), nrow=12, ax=ax)
ax.set_title("cvae-digits: flagged samples (top), their nearest training digits (bottom)", fontsize=9, loc="left")
plt.show()

# %% [markdown]
# The flags are not spread over the training set: they crowd around six training digits of two
# classes (the cells above counted them). A likely reason: the cVAE is trained to reconstruct
# training digits, and its smooth "average" digits of those two classes may land almost on
# top of a few of them. The audit's job
# is to point at such samples, and a person's to judge them: here harmless; for faces, a
# model whose "average face" is one real person's face would not be.
#
# The distances as histograms: the memorizer's samples sit near zero, left of the threshold
# (dashed); the course models' spread like those of new real digits.

# %%
fig, ax = plt.subplots(figsize=(7, 3))
bins = torch.linspace(0, 3, 61).tolist()
for name, x in {**samples, "held-out digits": digits.x_test}.items():
    d, _ = metrics.nearest_neighbours(x, digits.x_train)
    ax.hist(d.tolist(), bins=bins, alpha=0.5, density=True, label=name)
ax.axvline(held.threshold, color="k", lw=1, ls="--", label="threshold (1% of held-out)")
ax.set(xlabel="distance to the nearest training digit (pixels)", ylabel="density")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## What it says about the privacy of training data
#
# Suppose someone has your model (or only its samples) and a digit, and wants to know whether
# that digit was in your training set. For a person's photo or medical record, that alone can
# be private: being in the training set of a hospital's model says you were a patient. This
# is **membership inference**. The simplest attack uses the audit's own distance: draw many
# samples, score each digit by its distance to the nearest sample, and call a digit a
# *member* if its score is below the median of all the scores. Here: 300 training digits
# (members) and the 300 held-out digits (non-members), each scored by the distance to its
# nearest of 3,000 samples, so the median of the 600 scores calls half of them members:

# %%
members, outsiders = digits.x_train[:300], digits.x_test


def membership_accuracy(x):
    """Share of the 600 digits the attack gets right: members nearer to the samples than the median."""
    d_in, _ = metrics.nearest_neighbours(members, x)  # (300,)
    d_out, _ = metrics.nearest_neighbours(outsiders, x)  # (300,)
    cut = torch.cat([d_in, d_out]).median()
    return float(((d_in < cut).sum() + (d_out >= cut).sum()) / 600)


many = {name: m.sample(3000, generator=torch.Generator().manual_seed(4)).clamp(0, 1) for name, m in candidates.items()}
attack = {name: membership_accuracy(x) for name, x in many.items()}

# %%
# NBVAL_IGNORE_OUTPUT
for name, accuracy in attack.items():
    print(f"{name:14} membership guessed right for {accuracy:.0%} of the 600 digits (50% = a coin flip), p = {metrics.binomial_p_value(round(accuracy * 600), 600):.2g}")

# %%
print("memorizer: the attack is right at least 75% of the time:", attack["memorizer"] >= 0.75)
print("course models: p above 0.05 (not told apart from coin flips):", all(metrics.binomial_p_value(round(attack[k] * 600), 600) > 0.05 for k in trained))
_, source = metrics.nearest_neighbours(many["memorizer"], digits.x_train)  # (3000,) the training digit each sample came from
print(f"members among the memorizer's 3,000 draws: {torch.isin(torch.arange(300), source).float().mean():.0%}; expected, 1 - (1 - 1/{len(digits.x_train)})^3000 = {1 - (1 - 1 / len(digits.x_train)) ** 3000:.0%}")

# %% [markdown]
# The p printed beside each accuracy is lesson 11's: the chance that coin flips get at least
# that many of the 600 right. Against the memorizer the attack works (p is tiny): every digit
# it returns is a training digit, so the members it drew sit close to its samples. Not all of
# them, though: 3,000 draws from 1,497 training digits miss some, and the cell above printed
# the share of the 300 members drawn (83%) beside what chance predicts (87%). A member never
# drawn looks like an outsider, which is why the attack is right for 86% of the digits and not
# all: an audit by samples needs several times as many samples as there are training examples. Against
# these two models the attack is not told apart from coin flips (p of about 0.09 and 0.2, above
# the usual 0.05): on these 600 digits their samples are no nearer to the training digits than
# to new ones. That is what a clean audit buys, and what it does not:
#
# * it is evidence, not proof. A model can memorize a few rare examples (an unusual face, a
#   name that appears once) while its typical samples look new; the median and the 1% flags
#   can miss them. Audit the **nearest** samples one by one, and for rare data more samples.
# * distance in pixels sees copies, not paraphrases. Real audits also search in a feature
#   space (lesson 11's classifier features) and, for text, look for long exact substrings.
# * the risk grows with training: more steps on fewer examples, and a model moves from
#   learning the data's shape to learning the examples. Stronger attacks use the model itself
#   (its likelihood or loss on a candidate) rather than samples. The defence with a guarantee
#   is **differential privacy**: a promise, bought with noise added during training, that the
#   model comes out almost the same with or without any one example, so no attack can tell
#   much about membership (see "Going further" for how).

# %% [markdown]
# ## Provenance: which model made this file?
#
# A file of samples far from the model that made it raises the question in reverse: which
# model, which checkpoint, which seed? Every file `genai-course` writes says so. `sample` to
# an `.npz` stores a `provenance` entry (a JSON string, readable by `np.load` without
# `allow_pickle`); a `.txt` of names gets a sidecar `NAME.txt.provenance.json` (the names file
# stays one name a line); `report` writes a provenance section into its Markdown and the same
# record into its PNG's text chunks; and every checkpoint holds its own record (course and
# torch versions, model, seed, steps). The command line, as a learner would run it:

# %%
ckpt = work / "dcgan-digits.pt"
trained["dcgan-digits"].save(str(ckpt))  # replaces the crafted file of the same name, with a sidecar
out = work / "dcgan-samples.npz"
command = [sys.executable, "-m", "genai_course", "sample", str(ckpt), "-n", "16", "--seed", "4", "--out", str(out)]
done = subprocess.run(command, capture_output=True, text=True, cwd=work)
print("exit code:", done.returncode, "|", shown(done.stdout.strip()))

# %%
with np.load(out) as npz:  # no allow_pickle: a 0-d array of text
    print("arrays:", npz.files)
    record = json.loads(str(npz["provenance"]))
    x = torch.from_numpy(npz["x"])
print("keys:", sorted(record))
print("model, seed, command, options:", record["model"], record["seed"], record["command"], record["options"])
print("the checkpoint's hash:", record["checkpoint_sha256"] == checkpoints.sha256(ckpt))
print("the same samples as the library's:", torch.equal(x, trained["dcgan-digits"].sample(16, generator=torch.Generator().manual_seed(4))))
print("the checkpoint's own record:", {k: checkpoints.load(ckpt)["provenance"][k] for k in ("model", "seed", "steps")})

# %% [markdown]
# So a file of samples names the exact checkpoint that made it (by hash, not by a file name
# that can change), and a checkpoint names the recipe, seed and length of its training: enough
# to regenerate the samples, or to find out which model leaked a training digit. The two
# records hold different seeds: 4 in the samples' file is the seed `sample` drew with, 0 in the
# checkpoint's is the seed its training started from.

# %%
shutil.rmtree(work)
print("scratch folder removed:", not work.exists())

# %% [markdown]
# ## Summary
#
# * A pickle is a program, and `pickle.load` runs it: a model file can call any function it
#   names. Load untrusted files only with a restricted unpickler, `torch.load(...,
#   weights_only=True)`, as `checkpoints.load` always does: an **allow-list** in `find_class`,
#   never a deny-list.
# * A **SHA-256** hash identifies a file byte for byte. The sidecar `NAME.pt.sha256` catches
#   damaged and swapped files before they are read; a hash from a trusted place (a manifest,
#   `expected_sha256=`) catches a file replaced together with its sidecar.
# * The **memorization audit** compares samples' distances to the training set with those of
#   held-out data. A model that copies is flagged, and leaks its training set to a simple
#   **membership inference** attack; the course's GAN is clean, the cVAE's flags point at a
#   few training digits of two classes, and that attack tells neither one's members from
#   new digits better than coin flips do (p above 0.05).
# * **Provenance**: every file the course writes records the model, the checkpoint's hash and
#   the seed that made it.

# %% [markdown]
# ## Going further
#
# * **Differential privacy** (Dwork et al., 2006, "Calibrating noise to sensitivity in private
#   data analysis") makes that guarantee precise: what a training procedure produces is almost
#   equally likely whether or not any one example was in the training set.
# * **DP-SGD** (differentially private stochastic gradient descent; Abadi et al., 2016,
#   [arXiv:1607.00133](https://arxiv.org/abs/1607.00133)) trains with that guarantee: it clips
#   each example's gradient to a fixed length and adds random noise to their sum before every
#   step, at some cost in sample quality.

# %% [markdown]
# ## Exercises
#
# In `exercises/13_safety.ipynb` you take the two defences a step further: `check_manifest`
# (13.1: checks every file a `SHA256SUMS` manifest lists, reading each in chunks) and
# `safe_load` (13.2: a restricted unpickler whose allow-list admits what a training run's log
# holds and still refuses the crafted files before they run). Each has a check cell that
# prints ✅ or says which slip it found.
