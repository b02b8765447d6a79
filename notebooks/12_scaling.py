# %% [markdown]
# # Lesson 12: Scaling up
#
# By the end of this lesson you can train any course model on more hardware without changing
# its code, and say what each lever buys you. You will see that a training step only needs
# the **mean gradient over its batch**, however that batch is cut: into micro-batches on one
# machine (**gradient accumulation**), or into shares on several processes (**data-parallel
# training**, with PyTorch's `DistributedDataParallel` under `torchrun`). You build
# accumulation by hand and check it against `genai_course.loop.Plan`, run two real processes
# and watch them take exactly the steps one process takes, measure **batch size** against the
# learning rate and **mixed precision** (bfloat16), search a recipe's settings with a
# measured study (**tuning**, with Optuna), and kill a training run to see it **resume**
# exactly.
#
# Run time: a few minutes on 2 CPU cores (short trainings of the digits VAE, a study of 12
# more, two runs of `torchrun`, and a training killed and resumed); each long cell prints how
# long it took.
#
# Where it sits: lessons 05-10 trained each model in one process on the CPU, lesson 11
# measured them. Everything here uses lesson 08's VAE (its held-out -ELBO is a smooth,
# repeatable measure of quality) and lesson 05's GAN, but the same switches work for every
# course model. Lesson 13 is about what can go wrong with the checkpoints that resuming
# depends on.
#
# This lesson has no `PRETRAINED` switch (lessons 05-11 and 13 have one): its trainings are
# what it measures.

# %%
import dataclasses
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import matplotlib.pyplot as plt
import torch
from torch import nn

from genai_course import checkpoints, data, loop, metrics, models, parallel, threads, tuning, utils

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
digits = data.load_digits()
workdir = TemporaryDirectory()
runs = Path(workdir.name)
print("training digits:", tuple(digits.x_train.shape), " held-out digits:", tuple(digits.x_test.shape))

# %% [markdown]
# ## Devices: the code follows the data
#
# PyTorch runs the same operations on a CPU, an NVIDIA GPU (`cuda`) or an Apple GPU (`mps`).
# The course asks for a device in one place, `utils.get_device`: `None` (the default) is the
# CPU, which is what every lesson is timed on; `"auto"` takes a GPU when there is one. Every
# other function takes the device from the tensors it is given (`x.device`), so the networks
# are moved once and nothing else changes. The next cell prints what this machine has; a
# model built with `device="auto"` would train there with the lessons' code.

# %%
# NBVAL_IGNORE_OUTPUT
print("this machine:", "CUDA GPU" if torch.cuda.is_available() else "no CUDA GPU", "|",
      "MPS" if torch.backends.mps.is_available() else "no MPS", "|", torch.get_num_threads(), "CPU threads")
print("get_device():", utils.get_device(), "  get_device('auto'):", utils.get_device("auto"))
print("bfloat16 instructions this CPU lists:", sorted({f for f in Path("/proc/cpuinfo").read_text().split() if f in ("avx512_bf16", "amx_bf16")}) if Path("/proc/cpuinfo").exists() else "unknown (no /proc/cpuinfo)")

# %%
vae_model = models.build("vae-digits", device=utils.get_device())
on_device = {p.device for p in vae_model.vae.parameters()}
print("the VAE's parameters live on:", on_device)
print("samples come back on the CPU, ready to plot:", vae_model.sample(4).device)

# %% [markdown]
# ## One step needs the mean gradient over its batch
#
# Each training step of the course's models minimises a **mean** over the $B$ examples of its
# batch, $L = \frac{1}{B}\sum_{i=1}^{B} \text{loss}_i$, where $\text{loss}_i$, the **per-example
# loss**, is the loss of example $i$ alone. Cut the batch into $k$ equal micro-batches
# $b_1, \dots, b_k$ of $B/k$ examples each, and the gradient splits with it:
#
# $$\nabla L = \frac{1}{B}\sum_{i=1}^{B} \nabla \text{loss}_i = \frac{1}{k}\sum_{j=1}^{k} \nabla L_{b_j},
# \qquad L_{b_j} = \frac{k}{B}\sum_{i \in b_j} \text{loss}_i .$$
#
# So a step can compute the micro-batches one after the other and add up $\nabla L_{b_j}/k$
# in `.grad` (**accumulation**: the memory of one micro-batch, the time of all of them), or
# hand them to $k$ processes that average their gradients (**data parallelism**: the time of
# one micro-batch, if there are $k$ devices). First, by hand, on a small digit classifier, a
# **multilayer perceptron** (MLP: linear layers with a nonlinearity between them, here
# 64 -> 64 -> 10), and a batch of $B = 128$ digits:

# %%
net = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
x, y = digits.x_train[:128], digits.y_train[:128]
loss_fn = nn.CrossEntropyLoss()  # the mean over the batch


def full_batch_grads() -> list[torch.Tensor]:
    net.zero_grad()
    loss_fn(net(x), y).backward()
    return [p.grad.clone() for p in net.parameters()]


def my_accumulated_grads(k: int) -> list[torch.Tensor]:
    net.zero_grad()  # once, before the first micro-batch
    for xb, yb in zip(x.chunk(k), y.chunk(k)):  # (B/k, 1, 8, 8), (B/k,)
        (loss_fn(net(xb), yb) / k).backward()  # .grad adds up: no zero_grad in between
    return [p.grad.clone() for p in net.parameters()]


full = full_batch_grads()
for k in (2, 4, 8):
    same = all(torch.allclose(a, b, atol=1e-6) for a, b in zip(full, my_accumulated_grads(k)))
    print(f"{k} micro-batches of {128 // k}: the full batch's gradient? {same}")
net.zero_grad()
x_odd = digits.x_train[:100]
pieces = [xb.shape[0] for xb in x_odd.chunk(3)]  # 34 + 34 + 32: the mean of the means is not the mean
print("unequal micro-batches", pieces, "would weigh some examples more than others")

# %% [markdown]
# The library does the same thing in `loop.Plan`: a plan cuts each step's batch into
# `world` processes x `accumulate` micro-batches (`world` is the number of processes that
# share one training run, 1 here). Each micro-batch has its own random
# **stream** (a `torch.Generator` for the examples and noise it draws), so that however the
# micro-batches are spread over processes, each one draws the same examples.
# `Plan.accumulate_grads` is the loop above. Same gradients:

# %%
plan = loop.Plan(accumulate=4)
streams = plan.make_streams(seed=0, generator=torch.Generator().manual_seed(0), batch_size=plan.micro_batch(128))
print("streams:", [(s.index, s.batch_size) for s in streams])


def loss_of(stream: loop.Stream) -> tuple[torch.Tensor, dict[str, float]]:
    xb, yb = x.chunk(stream.count)[stream.index], y.chunk(stream.count)[stream.index]
    loss = loss_fn(net(xb), yb)
    return loss, {"loss": loss.item()}


net.zero_grad()
plan.accumulate_grads(net, torch.device("cpu"), streams, loss_of)
print("library's accumulation equals mine:", all(torch.allclose(p.grad, m, atol=1e-6) for p, m in zip(net.parameters(), my_accumulated_grads(4))))
try:
    loop.Plan(accumulate=3).micro_batch(128)
except ValueError as e:
    print("ValueError:", e)

# %% [markdown]
# ## Batch size and learning rate
#
# What does a bigger batch buy? Its gradient is an average over more examples, so it is less
# noisy (its variance falls as $1/B$), and a computer does one big matrix product faster
# than many small ones. But it takes fewer steps through the same data. Here is the digits
# VAE trained on the same `EXAMPLES` examples (the next cell prints how many, and how many
# passes over the training digits that is), cut into batches of 32, 128 or 512. Quality is
# the held-out -ELBO in nats (lower is better); speed is examples per second. The VAE's own
# recipe is batch 128 at learning rate 0.003 (the next cell prints it); batch 512 is 4 times
# that batch, so at batch 512 the learning rate is also scaled up by $\sqrt{4} = 2$ (the
# square-root rule for Adam, Malladi et al., 2022) and by $4$ (the *linear scaling rule* of
# Goyal et al., 2017, found for **SGD**, stochastic gradient descent: a step of minus the
# learning rate times the batch's gradient, with none of Adam's running averages).

# %%
EXAMPLES = 131_072


def train_vae(batch_size: int, lr: float, plan: loop.Plan | None = None, seed: int = 0) -> dict[str, float]:
    """Lesson 08's VAE, trained on EXAMPLES examples in batches of batch_size; -ELBO and speed."""
    model = models.build("vae-digits", seed=seed)
    model.recipe.train = dataclasses.replace(model.recipe.train, batch_size=batch_size, lr=lr)
    steps = EXAMPLES // batch_size
    model.fit(steps=steps, progress=False, plan=plan)
    return {"batch": batch_size, "lr": lr, "steps": steps, "steps/s": steps / model.history.seconds,
            "examples/s": EXAMPLES / model.history.seconds, "-ELBO": model.evaluate(draws=5, k=50).neg_elbo}


recipe = models.build("vae-digits").recipe.train
print(f"the VAE's recipe: batch {recipe.batch_size}, learning rate {recipe.lr}")
print(f"EXAMPLES = {EXAMPLES:,}: {EXAMPLES / len(digits.x_train):.1f} passes over the {len(digits.x_train):,} training digits")
print(f"batch 512 is {512 // recipe.batch_size} times the recipe's batch: learning rate x {(512 // recipe.batch_size) ** 0.5:g} (sqrt rule)"
      f" or x {512 // recipe.batch_size} (linear rule)")


# %%
# NBVAL_IGNORE_OUTPUT
t0 = time.perf_counter()
sweep = [train_vae(32, 3e-3), train_vae(128, 3e-3), train_vae(512, 3e-3), train_vae(512, 6e-3), train_vae(512, 1.2e-2)]
for r in sweep:
    print(f"batch {r['batch']:4d}, lr {r['lr']:.4f}: {r['steps']:5d} steps, {r['steps/s']:6.0f} steps/s, "
          f"{r['examples/s']:8.0f} examples/s, held-out -ELBO {r['-ELBO']:.2f}")
print(f"a step at batch 512 costs {sweep[0]['steps/s'] / sweep[2]['steps/s']:.1f} times a step at batch 32 on this machine,"
      f" so batch 512 processes {sweep[2]['examples/s'] / sweep[0]['examples/s']:.1f} times as many examples per second")
print(f"({time.perf_counter() - t0:.0f} s)")

# %%
b32, b128, b512, b512_sqrt, b512_lin = sweep
print("batch 512 processes more examples per second than batch 32:", b512["examples/s"] > b32["examples/s"])
print("but on the same examples, fewer and bigger steps learn less:", b32["-ELBO"] < b128["-ELBO"] < b512["-ELBO"])
print("batch 512: a larger learning rate recovers some of it (sqrt rule better than none):", b512_sqrt["-ELBO"] < b512["-ELBO"])
print("... but does not reach batch 128's quality:", min(b512_sqrt["-ELBO"], b512_lin["-ELBO"]) > b128["-ELBO"])
print("batch 512: the linear rule (lr x 4) did worse than no raise at all:", b512_lin["-ELBO"] > b512["-ELBO"])

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for r in sweep:
    label = f"B={r['batch']}, lr={r['lr']:g}"
    axes[0].scatter(r["examples/s"], r["-ELBO"], s=50)
    axes[0].annotate(label, (r["examples/s"], r["-ELBO"]), textcoords="offset points", xytext=(5, 4), fontsize=8)
axes[0].set(xscale="log", xlabel="examples per second (log)", ylabel="held-out -ELBO (nats, lower is better)",
            title=f"the same {EXAMPLES:,} examples, cut differently")
axes[1].bar([f"B={r['batch']}\nlr={r['lr']:g}" for r in sweep], [r["-ELBO"] for r in sweep], color="tab:blue")
axes[1].set(ylim=(min(r["-ELBO"] for r in sweep) - 1, max(r["-ELBO"] for r in sweep) + 0.5), ylabel="held-out -ELBO",
            title="quality per example: small batches win")
plt.tight_layout()
plt.show()

# %% [markdown]
# Even on two CPU cores, a step at batch 512 costs far less than 16 times a step at batch 32
# while it holds 16 times the examples: the fixed costs (launching each operation, Adam's
# update of every weight) weigh a lot in small networks, so a big batch processes several
# times more examples per second (the sweep's cell printed both ratios on this machine).
# But on the same examples it takes 16 times fewer steps, and each step can only move the weights so far:
# quality per example is best with small batches. A larger learning rate makes each step
# count for more, up to a point: in this run (one seed) the square-root rule's raise (x 2)
# lowered batch 512's -ELBO, and the linear rule's (x 4) raised it above the run with no
# raise at all (the sweep printed all three). No rule makes 16 times fewer steps free. On a GPU, where a step
# at batch 512 can cost little more than one at batch 32, the same trade-off is what makes
# large batches pay: with the examples per second they buy, you train for more epochs
# (passes over the training data) in the same time.

# %% [markdown]
# ## Tuning: a measured search
#
# The sweep above changed two settings by hand. A recipe has many more: the learning rate,
# the batch size, the network's width, the number of latents, the noise on the encoder's
# input. These are **hyperparameters**: settings that training does not learn, that you
# choose before it starts. Trying them by hand is slow and biased towards what you expect;
# a **search** tries them by rule and keeps score.
#
# Two rules make a search honest. First, it never looks at the held-out digits that the
# course judges models on: it cuts a **validation set** out of the *training* digits, trains
# each try on the rest and scores it there (`data.validation_digits()`). A setting picked
# for its score on the held-out digits would be partly fitted to them, and its held-out score
# would flatter it. Second, it uses the same yardstick for every try: here the validation
# digits' -ELBO, lower is better.

# %%
validation = data.validation_digits()
print("tuning trains on:", tuple(validation.x_train.shape), " and scores on:", tuple(validation.x_test.shape),
      " (both cut from the", digits.x_train.shape[0], "training digits)")
print("the validation digits are the first", len(validation.x_test), "training digits:",
      torch.equal(validation.x_test, digits.x_train[: len(validation.x_test)]))

# %% [markdown]
# The search is an **Optuna study**. Each **trial** draws a value for every setting of the
# model's search space (`tuning.get_space`), trains the model with them and reports its
# validation score after each quarter of its training. Two ideas make it better than trying
# settings at random:
#
# * the **TPE sampler** (tree-structured Parzen estimator) draws the first 5 trials at
#   random, then splits the trials so far into good and bad ones and draws where the good
#   ones were more common than the bad: the search moves towards what worked;
# * the **median pruner** stops a trial whose score at a report is worse than the median
#   of the earlier *complete* trials' scores at the same report (once three trials have
#   completed): a poor setting usually shows it early, so it costs a quarter of a run
#   instead of a whole one.
#
# The first trial is always the lesson's own recipe: the settings to beat. A **search
# space** is a list of the recipe fields a study may set, each with its range. The course
# keeps a full one for each model (`tuning.get_space`); for a study that fits in a minute,
# here is a small one of lesson 08's VAE: two settings, 12 trials of 1,500 steps each.

# %%
full = tuning.get_space("vae-digits")
print("the full search of vae-digits sets:", ", ".join(p.path for p in full.params))
space = tuning.Space("vae-digits", (tuning.Param("train.lr", 1e-3, 1e-2, log=True), tuning.Param("train.input_noise", 0.0, 0.4)),
                     full.metric, full.score)
for p in space.params:
    print("  this study:", p.describe())
print("score:", space.metric, "(lower is better)")

# %%
# NBVAL_IGNORE_OUTPUT
t0 = time.perf_counter()
study = tuning.run_study("vae-digits", trials=12, seconds=80, steps=1500, path=runs / "vae-study.db", progress=False, space=space)
print(tuning.summary_table(study))
print(f"({time.perf_counter() - t0:.0f} s)")

# %%
trials = tuning.load_trials(study)
lesson_trial = trials[0]
best = min((t for t in trials if t.state == "complete"), key=lambda t: t.value)
print("some trials were pruned:", any(t.state == "pruned" for t in trials))

def worse_than_the_median(frozen) -> bool:
    """A pruned trial's score at its last report, against the median of the complete trials before it at that report."""
    k = max(frozen.intermediate_values)
    before = [u.intermediate_values[k] for u in study.trials[: frozen.number] if u.state.name == "COMPLETE"]
    return frozen.intermediate_values[k] > statistics.median(before)


print("every pruned trial was worse than the median of the complete ones before it, where it stopped:",
      all(worse_than_the_median(f) for f in study.trials if f.state.name == "PRUNED"))
print("the best trial beats the lesson's recipe at 1,500 steps:", best.value < lesson_trial.value)

# %% [markdown]
# The picture shows the study as the pruner saw it: each line is a trial's validation score
# after each quarter of its training; a cross marks where a trial was stopped.

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for frozen in study.trials:
    reported = frozen.intermediate_values
    quarters, scores = [k + 1 for k in sorted(reported)], [reported[k] for k in sorted(reported)]
    pruned = frozen.state.name == "PRUNED"
    axes[0].plot(quarters, scores, marker="o", ms=3, color="tab:red" if pruned else "tab:blue", alpha=0.7)
    if pruned:
        axes[0].plot(quarters[-1], scores[-1], "x", color="tab:red", ms=9, mew=2)
axes[0].plot([], [], color="tab:blue", label="complete")
axes[0].plot([], [], "x-", color="tab:red", label="pruned")
axes[0].set(xticks=[1, 2, 3, 4], xlabel="quarter of the training", ylabel="validation -ELBO (nats)",
            title="every trial, reported after each quarter")
axes[0].legend()
for t in trials:
    axes[1].scatter(t.params["train.lr"], t.value, color={"complete": "tab:blue", "pruned": "tab:red"}.get(t.state, "grey"), s=30)
axes[1].scatter(lesson_trial.params["train.lr"], lesson_trial.value, marker="*", s=200, color="gold", edgecolor="k",
                label="the lesson's recipe")
axes[1].set(xscale="log", xlabel="learning rate (log)", ylabel="validation -ELBO at its last report",
            title="score against one setting (red: pruned)")
axes[1].legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Read the table with care. Twelve short trials are a small sample: the best of them won at
# 1,500 steps, which says little about the recipe's full training (the best learning rate for
# a short run need not be the best for a long one). And a small difference between two
# trials' scores may be no more than another seed would change. That is why a real study runs whole
# trainings and many more trials, and its winner is then checked on three seeds and on the
# held-out digits before a recipe changes.
#
# `genai-course tune MODEL --trials N --seconds S` runs such a study from the command line
# (one SQLite file under `runs/tune/`; run the command again to continue it). The full
# studies of the course's models, their tables and what each found are kept in
# `docs/tuning.md`. Its summary:

# %%
# NBVAL_IGNORE_OUTPUT
notes = Path("..") / "docs" / "tuning.md"
if notes.is_file():
    lines = notes.read_text(encoding="utf-8").splitlines()
    summary = lines[lines.index("## Summary") + 1 :]
    kept = [line for line in summary[: next((i for i, x in enumerate(summary) if x.startswith("## ")), len(summary))] if line.startswith("- ")]
    print("\n".join(kept))
else:
    print("docs/tuning.md lies beside the notebooks folder in the course repository")

# %% [markdown]
# ## Gradient accumulation, measured
#
# When the batch you want does not fit in memory, accumulate: batch 128 as 4 micro-batches
# of 32. Each micro-batch draws from its own stream, so the run sees other examples than the
# plain batch-128 run: the quality should agree within the noise of training, not exactly.

# %%
# NBVAL_IGNORE_OUTPUT
acc = train_vae(128, 3e-3, plan=loop.Plan(accumulate=4))
print(f"batch 128 at once:         {b128['steps/s']:5.0f} steps/s, -ELBO {b128['-ELBO']:.2f}")
print(f"batch 128 as 4 x 32:       {acc['steps/s']:5.0f} steps/s, -ELBO {acc['-ELBO']:.2f}")

# %%
print("accumulating 4 x 32 learns as well as batch 128 (within 0.5 nats):", abs(acc["-ELBO"] - b128["-ELBO"]) < 0.5)

# %% [markdown]
# The training cell above printed the steps per second of both on this machine:
# accumulation runs four small passes instead of one big one, so it is not faster. What it
# saves is memory. A forward pass keeps the tensors that `backward` will need (the
# **activations**: each layer's inputs and intermediate results) until `backward` frees
# them; with accumulation only one micro-batch's are held at a time. The next cell counts
# the bytes of those saved tensors (weights excluded) for the classifier of the first
# section, on the batch of 128 and on one micro-batch of 32:

# %%
def saved_bytes(xb: torch.Tensor, yb: torch.Tensor) -> int:
    """Bytes of the tensors one forward pass of `net` keeps for backward, its own weights left out."""
    weights = {p.data_ptr() for p in net.parameters()}
    sizes = []

    def keep(t: torch.Tensor) -> torch.Tensor:
        if t.data_ptr() not in weights:
            sizes.append(t.numel() * t.element_size())
        return t

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        loss_fn(net(xb), yb)
    return sum(sizes)


whole_batch, micro = saved_bytes(x, y), saved_bytes(x[:32], y[:32])
print(f"activations kept for backward: {whole_batch:,} bytes for the batch of 128, {micro:,} for a micro-batch of 32"
      f" ({whole_batch / micro:.1f} times as much for the whole batch)")

# %% [markdown]
# A quarter of the batch, a quarter of the activations' memory: accumulation is the tool
# for *memory*, never for speed.
#
# ## Mixed precision: bfloat16
#
# A floating-point number is stored as a sign, an **exponent** (the power of two, which sets
# the range) and a **mantissa** (the significant binary digits, which set the precision). A
# float32 has 8 bits of exponent and 23 of mantissa; **bfloat16** keeps the 8 bits of
# exponent and only 7 of mantissa (the next cell prints both, from `torch.finfo`). Keeping the
# range means no **loss scaling** is needed: multiplying the loss by a large constant before
# `backward` (and dividing the gradients back) so that small gradients do not round to zero,
# which float16, with only 5 bits of exponent, requires. Under `torch.autocast`, matrix
# products and convolutions run in bfloat16 while the weights, their gradients and Adam's
# state stay float32. Whether that is faster depends on the hardware: GPUs and recent
# server CPUs have units that compute in bfloat16, and without them the conversions can cost
# what they save. `utils.autocast(device, "bf16")` is the switch, and
# `Plan(precision="bf16")` applies it to every micro-batch.

# %%
layer = nn.Linear(64, 64)
with utils.autocast("cpu", "bf16"):
    out = layer(torch.randn(8, 64))
print("inside autocast a linear layer computes in", out.dtype, "; its weights stay", layer.weight.dtype)
for dtype in (torch.float32, torch.bfloat16, torch.float16):
    info = torch.finfo(dtype)
    mantissa = -round(math.log2(info.eps))
    print(f"{str(dtype):15s} {info.bits - mantissa - 1} bits of exponent, {mantissa} bits of mantissa, largest value {info.max:.3g}")
print("bfloat16 keeps 2 to 3 significant decimal digits: 1 + 1/256 ->", torch.tensor(1 + 1 / 256).to(torch.bfloat16).item(),
      " 1 + 1/128 ->", torch.tensor(1 + 1 / 128).to(torch.bfloat16).item())

# %%
# NBVAL_IGNORE_OUTPUT
bf16 = train_vae(128, 3e-3, plan=loop.Plan(precision="bf16"))
print(f"float32:  {b128['steps/s']:5.0f} steps/s, -ELBO {b128['-ELBO']:.2f}")
print(f"bfloat16: {bf16['steps/s']:5.0f} steps/s, -ELBO {bf16['-ELBO']:.2f}  (speed-up {bf16['steps/s'] / b128['steps/s']:.2f}x on this machine)")

# %%
print("bfloat16 training reaches float32's quality (within 0.5 nats):", abs(bf16["-ELBO"] - b128["-ELBO"]) < 0.5)

# %% [markdown]
# The speed-up printed above is this machine's (the one that ran this notebook), not a
# property of bfloat16: it depends on whether the hardware computes in bfloat16 natively, as
# GPUs with bfloat16 units and CPUs with the `avx512_bf16` or `amx_bf16` instructions do (the
# cell near the start that printed this machine's devices also printed which of these this
# CPU lists). It is also one noisy pair of timings, float32's from the sweep and bfloat16's
# from a later run: on a machine busy with other work it can come out below 1 even on such
# hardware.

# %% [markdown]
# ## Several processes: DistributedDataParallel
#
# `torchrun --nproc_per_node=N` starts N copies of a program, numbered by their **rank**,
# and tells each how to reach the others. Each copy builds the same model from the same seed,
# wraps its networks in `DistributedDataParallel` (DDP), and computes its own **shard** of
# every batch (the contiguous block of the batch's rows that one process computes). During `backward`, DDP **all-reduces** the gradients: every process ends up with
# the mean over all shards, that is, the full batch's gradient, and takes the same optimizer
# step. The processes talk through a communication library: on CPUs **gloo** (PyTorch's
# library for exchanging tensors between processes over the network or shared memory); on
# NVIDIA GPUs **NCCL** (the NVIDIA Collective Communications Library, which moves tensors
# directly between GPUs), one GPU a process. The picture below draws one step for two ranks
# and the lesson's batch of 128 digits, cut with the same `chunk` as the micro-batches above.

# %%
shards = [torch.arange(128).chunk(2)[rank] for rank in range(2)]  # the rows each rank computes
for rank, rows in enumerate(shards):
    print(f"rank {rank}: rows {rows[0].item()}-{rows[-1].item()} ({len(rows)} digits)")
fig, ax = plt.subplots(figsize=(9, 3.2))
ax.text(4, 3.35, "the step's batch of 128 digits, cut into one shard per rank", ha="center", va="center")
for rank, rows in enumerate(shards):
    x0 = rank * 4.2
    ax.add_patch(plt.Rectangle((rows[0].item() / 16, 2.6), len(rows) / 16, 0.6, fc=("tab:blue", "tab:orange")[rank], alpha=0.4, ec="k"))
    ax.text((rows[0].item() + len(rows) / 2) / 16, 2.9, f"shard {rank}", ha="center", va="center")
    ax.add_patch(plt.Rectangle((x0, 1.4), 3.8, 0.8, fc=("tab:blue", "tab:orange")[rank], alpha=0.4, ec="k"))
    ax.text(x0 + 1.9, 1.8, f"rank {rank}: rows {rows[0].item()}-{rows[-1].item()}\nits own copy of the model\n-> gradient $g_{rank}$",
            ha="center", va="center", fontsize=9)
    ax.annotate("", (x0 + 1.9, 2.2), (rows.float().mean().item() / 16, 2.6), arrowprops={"arrowstyle": "->"})
    ax.annotate("", (4, 0.7), (x0 + 1.9, 1.4), arrowprops={"arrowstyle": "->"})
ax.add_patch(plt.Rectangle((0.8, 0.1), 6.4, 0.6, fc="honeydew", ec="k"))
ax.text(4, 0.4, "all-reduce: every rank receives $(g_0 + g_1) / 2$ and takes the same step", ha="center", va="center", fontsize=9)
ax.set(xlim=(-0.2, 8.2), ylim=(0, 3.6))
ax.axis("off")
plt.show()

# %% [markdown]
# Each rank computes on its shard only, yet ends the step holding the gradient of the whole
# batch, so the two copies of the model take the same step and stay identical. The course's
# entry point runs any course model:
#
#     torchrun --standalone --nproc_per_node=2 -m genai_course.parallel vae-digits --steps 1000
#
# Two processes of the digits VAE here, each computing its half of the 128 digits a step
# (the first line the next cell prints says how many each). Rank 1
# draws the same examples as stream 1 of a one-process run that accumulates 2 micro-batches,
# so the two runs must take *exactly* the same steps.

# %%
def run(*args: str) -> str:
    """Run a command of the course (from this notebook's Python environment); return its last line."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}  # one thread a process, as torchrun sets
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-2000:])
    return result.stdout.strip().splitlines()[-1]


torchrun = str(Path(sys.executable).parent / "torchrun")

# %%
# NBVAL_IGNORE_OUTPUT
print(run(torchrun, "--standalone", "--nproc_per_node=2", "-m", "genai_course.parallel", "vae-digits",
          "--steps", "1000", "--out", str(runs / "ddp.pt"), "--quiet"))
print(run(sys.executable, "-m", "genai_course", "train", "vae-digits", "--steps", "1000", "--accumulate", "2",
          "--out", str(runs / "one.pt"), "--quiet"))

# %%
ddp_model, one_model = models.load_model(str(runs / "ddp.pt")), models.load_model(str(runs / "one.pt"))
print("2 processes and 1 process accumulating the same 2 micro-batches: identical weights?",
      torch.equal(parallel.flat_parameters(ddp_model), parallel.flat_parameters(one_model)))
print("held-out -ELBO after 1,000 steps, both:", f"{ddp_model.evaluate(draws=5, k=50).neg_elbo:.1f}", "nats")

# %% [markdown]
# Bit for bit: the only difference is who computes which half. (With more than one
# micro-batch per process the gradients are added in another order, $(a+b)+(c+d)$ against
# $((a+b)+c)+d$, and the weights agree only up to float rounding; `tests/test_parallel.py`
# checks both.) Compare the seconds the two runs printed on this machine: on a few CPU cores
# two processes are usually no faster than one, because for a network this small, sending
# every gradient to the other process (and starting a second one) costs as much as the half
# of the work it saves, or more. DDP pays off when each process has a device of its own,
# GPUs or machines, and enough work per step to hide the all-reduce. Two things to know when
# you use it on a real model:
#
# * **Batch norm's running statistics are not parameters.** Each process updates them from
#   its own share, and DDP copies rank 0's to the others at every forward pass. The course's
#   runner gives every process rank 0's statistics at the end.
# * **Every process must run the same collective operations in the same order** (a
#   collective operation, like the all-reduce, is one that all processes must call together),
#   or they wait for each other forever; and each must end cleanly (a **barrier**, a call
#   that returns only once every process has reached it, then
#   `destroy_process_group()`), or one of them can abort at exit.
#
# ## Checkpoints and exact resume
#
# Long trainings get interrupted. A checkpoint that lets a run continue *exactly* must hold
# everything the next step depends on: the weights, the optimizer's state (Adam's running
# averages), the step number (the learning-rate schedule), and the state of every random
# generator (which examples and noise come next). `genai-course train --checkpoint-every K`
# writes all of that every K steps, atomically (a temporary file, then a rename), so a run
# killed at any moment leaves its last whole checkpoint. Here a GAN training is killed with
# SIGKILL, the signal no program can catch, and resumed. The resumed run's line counts steps
# from 0, so it reports all 1,200, though it trained only those after the checkpoint it
# resumed from (the line before it prints that step):

# %%
# NBVAL_IGNORE_OUTPUT
common = ["-m", "genai_course", "train", "gan-ring8", "--steps", "1200", "--quiet"]
print(run(sys.executable, *common, "--out", str(runs / "whole.pt")))

killed = runs / "killed.pt"
proc = subprocess.Popen([sys.executable, *common, "--checkpoint-every", "100", "--out", str(killed)],
                        env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def step_of(path: Path) -> int:
    try:
        return int(checkpoints.load(path)["step"])
    except checkpoints.CheckpointError:  # not written yet
        return 0


while step_of(killed) < 400 and proc.poll() is None:
    time.sleep(0.02)
proc.send_signal(signal.SIGKILL)
proc.wait()
killed_at = step_of(killed)
print(f"killed by signal {-proc.returncode} with its last checkpoint at step {killed_at}")
print(run(sys.executable, *common, "--checkpoint-every", "100", "--resume", "--out", str(killed)))

# %%
print("the run was killed before the end:", proc.returncode == -signal.SIGKILL and 400 <= killed_at < 1200)
whole, resumed = models.load_model(str(runs / "whole.pt")), models.load_model(str(killed))
print("resumed run at step", resumed.step, "- identical to the uninterrupted run?",
      torch.equal(parallel.flat_parameters(whole), parallel.flat_parameters(resumed)))

# %%
samples = resumed.sample(2000, generator=torch.Generator().manual_seed(0))
report = metrics.mode_metrics(samples, data.get_mixture("ring8"))
plt.figure(figsize=(4, 4))
plt.scatter(*samples.T, s=2, alpha=0.5)
plt.title(f"resumed GAN after 1,200 steps: {report.modes}/8 modes, {report.hq_fraction:.0%} on a mode")
plt.gca().set_aspect("equal")
plt.show()

# %% [markdown]
# Leave out any one piece and the runs part: without the optimizer's state, Adam restarts its
# averages and takes larger steps; without the generator's state, the resumed run draws other
# noise; without the step, a schedule's learning rate (this GAN's decays linearly) jumps back
# to its start. The exercise set shows each of these runs part, and has you resume at a new
# learning rate on purpose.
#
# ## Summary
#
# * A step needs the **mean gradient over its batch**. Cut the batch into equal
#   micro-batches and average their gradients: one after another (**accumulation**, for
#   memory) or on several processes (**DDP**, for speed once each has its own device), with each micro-batch drawn from
#   its own random stream. The weights come out the same.
# * **Devices** come from one helper, `utils.get_device`; everything else follows the data.
# * **Batch size**: bigger batches process more examples per second, fewer and bigger steps
#   learn less from the same examples; here (one seed) raising the learning rate by the
#   square root of the batch's growth (x 2) helped and the linear rule's x 4 hurt; no rule
#   makes fewer steps free.
# * **Tuning** is a search, measured: an Optuna study draws settings (TPE), stops poor trials
#   early (the median pruner) and scores every trial on a validation set cut from the training
#   data, never on the held-out data; its winner still has to hold on more seeds.
# * **bfloat16** keeps float32's range with 2 to 3 significant digits: the same quality
#   here; whether it is faster depends on the hardware (the lesson printed this machine's
#   speed-up).
# * **Exact resume** needs the weights, the optimizer, the step and every random state, and a
#   checkpoint written atomically.
#
# ## Exercises
#
# `exercises/12_scaling.ipynb` takes this lesson's ideas apart at the level of tensors and a
# tiny model, with one process playing every rank: **12.1** `shard(x, rank, world)`, the
# contiguous block of the global batch that one process computes; **12.2**
# `all_reduce_mean(grads)`, what DDP's all-reduce leaves on every rank, and why the mean of
# equal shards' gradients is exactly the full batch's gradient (and unequal shards' is not);
# **12.3** `accumulate_gradients(model, loss_fn, x, y, m)`, the full batch's gradient from
# micro-batches of at most m rows when m does not divide the batch; **12.4**
# `save_state(...)`, a checkpoint that `torch.load(weights_only=True)` reads, and **12.5**
# `restore_state(..., lr)`, which resumes from it bit for bit at a new learning rate chosen on
# purpose: what must a checkpoint hold for that, and in which order do you restore it? Each
# check cell prints ✅ or says what is wrong; `genai-course grade exercises/12_scaling.ipynb`
# grades them all. Solutions are in `solutions/12_scaling.ipynb`.
#
# Next: lesson 13, safety: why loading a checkpoint can run code, hashes and manifests, the
# memorization audit and the provenance of every file the course writes.
