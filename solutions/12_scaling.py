# %% [markdown]
# # Exercises 12: Scaling up
#
# Five exercises from lesson 12 (`notebooks/12_scaling.ipynb`): the ideas that let training grow
# past one batch, one process and one uninterrupted run, written at the level of tensors and
# tiny models. One process plays every rank here, so no `torchrun` is needed. You write the
# shard of a global batch that one process of a data-parallel job computes; the all-reduce that
# leaves every process holding the same gradient; gradient accumulation, which gets a big
# batch's gradient from small micro-batches, here of unequal sizes; and the two halves of a checkpoint that resumes
# training exactly, with a learning rate changed on resuming. Replace each
# `raise NotImplementedError` with your code, then run the check cell below it: it prints ✅
# when your code is right, or says what is wrong.
#
# Notation: a batch `x` has $B$ rows (its first dimension); `world` is the number of processes
# $W$, each with a `rank` $r = 0, \dots, W - 1$; a loss is a **mean** over the rows of a batch,
# $L = \frac{1}{B} \sum_{i=1}^{B} \text{loss}_i$, where $\text{loss}_i$ is the loss of row $i$ alone.
#
# The model for the demonstrations is a small digit classifier on scikit-learn's 8x8 digits.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import copy
import io

import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks, data, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
digits = data.load_digits()
images, labels = digits.x_train.flatten(1), digits.y_train  # (N, 64) pixels in [0, 1], (N,) digits 0-9
print("training digits:", tuple(images.shape), "labels:", tuple(labels.shape))


def classifier(seed: int = 0) -> nn.Module:
    """A 64 -> 32 -> 10 digit classifier with weights from `seed`."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))


# %% [markdown]
# ## Exercise 12.1: one process's shard of the batch
#
# In data-parallel training each of the $W$ processes holds a full copy of the model and computes
# on its own share of the global batch. Write `shard(x, rank, world)`: the **contiguous** block
# of rows that process `rank` computes,
#
# $$n = \frac{B}{W}, \qquad \text{shard}_r = \left(x_{rn},\; x_{rn+1},\; \dots,\; x_{(r+1)n - 1}\right)$$
#
# - `x`: (B, ...) any tensor, one example a row; `rank`: an int from 0 to `world - 1`; `world`: an int $\ge 1$.
#
# Return the rows of shape (n, ...), a slice of `x` (a view or a copy, either is fine). If $W$
# does not divide $B$, raise `ValueError` with a message that names both numbers: unequal shards
# would make the mean of the processes' gradients (exercise 12.2) weigh rows unequally.
# Concatenated in rank order, the shards give back `x`. (PyTorch's `DistributedSampler` deals a
# data set's indices out the other way, interleaved, `rank::world`; either works as long as every
# row goes to exactly one rank, but the contract here is contiguous blocks.) Hint: rank $r$'s
# block starts after the $r$ blocks of the ranks before it, and a Python slice leaves out its
# end.


# %%
def shard(x: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """x: (B, ...), 0 <= rank < world -> (B // world, ...): rows rank * n, ..., (rank + 1) * n - 1."""
    # BEGIN SOLUTION
    b = x.shape[0]
    if b % world != 0:
        raise ValueError(f"a batch of {b} rows does not split into {world} equal shards")
    n = b // world
    return x[rank * n:(rank + 1) * n]  # (n, ...)
    # END SOLUTION


# %%
checks.shard(shard)

# %% [markdown]
# A batch of 64 digits over 4 processes: 16 each, and together exactly the batch. A batch of 60
# over 8 processes is refused.

# %%
try:
    batch = images[:64]
    parts = [shard(batch, rank, 4) for rank in range(4)]
    print("shard shapes:", [tuple(p.shape) for p in parts])
    print("concatenated in rank order they give the batch:", torch.equal(torch.cat(parts), batch))
    try:
        shard(images[:60], 0, 8)
    except ValueError as e:
        print("60 rows over 8 processes: ValueError:", e)
except NotImplementedError:
    print("(finish exercise 12.1 to shard a batch)")

# %% [markdown]
# ## Exercise 12.2: the all-reduce of gradients
#
# After the backward pass every process holds the gradients of the loss on its own shard.
# `DistributedDataParallel` then runs an **all-reduce**: the processes exchange gradients until
# each one holds their element-wise mean, so every copy of the model takes the same step and the
# copies stay identical. Write `all_reduce_mean(grads)`, which computes what every rank holds
# afterwards,
#
# $$\bar g_p = \frac{1}{W} \sum_{r=0}^{W-1} g_{r,p} \qquad \text{for each gradient tensor } p$$
#
# - `grads`: a list of $W$ lists (one per rank); `grads[r]` is rank $r$'s list of $P$ gradient
#   tensors, one per parameter, and the shapes of `grads[r][p]` are the same for every $r$.
#
# Return one list of $P$ tensors, `result[p]` of the shape of `grads[0][p]`. Do not change the
# tensors you are given (they are the ranks' own). Hint: work one parameter at a time: gather
# that parameter's $W$ gradients, one from each rank, and average them element by element.
#
# Why the mean: with equal shards of $n = B / W$ rows, the mean of the shards' mean-loss gradients
# *is* the full batch's gradient,
#
# $$\frac{1}{W} \sum_{r} \nabla \frac{1}{n} \sum_{i \in \text{shard}_r} \text{loss}_i = \nabla \frac{1}{Wn} \sum_{i=1}^{B} \text{loss}_i = \nabla L$$
#
# so $W$ processes on $B/W$ rows each train exactly like one process on $B$ rows.


# %%
def all_reduce_mean(grads: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """grads: W lists of P tensors -> P tensors: the element-wise mean over the W ranks."""
    # BEGIN SOLUTION
    return [torch.stack(same).mean(dim=0) for same in zip(*grads)]  # zip(*grads): each parameter's W gradients
    # END SOLUTION


# %%
checks.all_reduce_mean(all_reduce_mean)

# %% [markdown]
# The key fact, on the digit classifier: four simulated ranks each take the gradient of the mean
# cross-entropy on their 16 digits; after the all-reduce every rank holds the gradient of the whole
# batch of 64. With *unequal* shards (30, 30 and 4 digits) the mean of the shards' gradients is
# no longer the batch's gradient: the 4 digits of the small shard weigh as much as 30 others.
# That is why `shard` refuses a batch that does not split evenly (and why `DistributedSampler`
# pads or drops examples to make the shards equal).

# %%
try:
    model = classifier()
    params = list(model.parameters())
    x, y = images[:64], labels[:64]
    full = torch.autograd.grad(F.cross_entropy(model(x), y), params)
    per_rank = [list(torch.autograd.grad(F.cross_entropy(model(shard(x, r, 4)), shard(y, r, 4)), params)) for r in range(4)]
    reduced = all_reduce_mean(per_rank)
    print("equal shards: mean of the ranks' gradients == full-batch gradient:",
          all(torch.allclose(a, b, atol=1e-6) for a, b in zip(reduced, full)))
    uneven = [list(torch.autograd.grad(F.cross_entropy(model(x[a:b]), y[a:b]), params)) for a, b in ((0, 30), (30, 60), (60, 64))]
    gap = max((a - b).abs().max().item() for a, b in zip(all_reduce_mean(uneven), full))
    print("shards of 30, 30 and 4: differs from the full-batch gradient by more than 1e-3:", gap > 1e-3)
except NotImplementedError:
    print("(finish exercises 12.1 and 12.2 to average the ranks' gradients)")

# %% [markdown]
# ## Exercise 12.3: gradient accumulation, with a smaller last micro-batch
#
# The lesson cut a batch into $k$ equal micro-batches and divided each micro-batch's mean loss by
# $k$. In practice what you know is how many rows fit in memory, $m$, and $m$ need not divide the
# batch: 12 rows with room for 5 give micro-batches of 5, 5 and 2. The lesson warned what goes
# wrong then (its micro-batches of 34, 34 and 32 digits): the mean of unequal micro-batches'
# means is not the batch's mean.
#
# Write `accumulate_gradients(model, loss_fn, x, y, micro_batch_size)`:
#
# - `model`: an `nn.Module`; `loss_fn(output, target)`: a mean loss such as `F.cross_entropy`;
#   `x`: (B, ...) inputs, `y`: (B, ...) targets; `micro_batch_size`: $m \ge 1$, the most rows one
#   forward pass may see.
#
# Run the batch through the model in micro-batches of at most $m$ rows, one at a time and in
# order, so that only one micro-batch's activations are ever in memory, and leave in every
# parameter's `.grad` exactly the gradient of the batch's mean loss
# $L = \frac{1}{B}\sum_{i=1}^{B} \text{loss}_i$ (`.grad` may hold a previous batch's gradient when you
# start). Return $L$ as a Python float. Do not step an optimizer: the training loop does, once
# per full batch.
#
# Hint: write $L$ as a sum over the micro-batches of their mean losses $L_j$, each times some
# weight, and ask what that weight is when micro-batch $j$ has $n_j$ rows; then check that your
# weights give the lesson's $1/k$ when the micro-batches are equal. Cut the inputs and the targets
# the same way, so that each micro-batch keeps its own targets.


# %%
def accumulate_gradients(model: nn.Module, loss_fn, x: torch.Tensor, y: torch.Tensor, micro_batch_size: int) -> float:
    """Fill .grad with the gradient of loss_fn(model(x), y) from micro-batches of at most micro_batch_size rows; return that loss."""
    # BEGIN SOLUTION
    model.zero_grad()
    b = x.shape[0]
    total = 0.0
    for x_j, y_j in zip(x.split(micro_batch_size), y.split(micro_batch_size)):  # the last one may be smaller
        loss = loss_fn(model(x_j), y_j) * (len(x_j) / b)  # L_j weighed by its share n_j / B of the rows
        loss.backward()  # adds to .grad
        total += loss.item()
    return total
    # END SOLUTION


# %%
checks.accumulate_gradients(accumulate_gradients)

# %% [markdown]
# A batch of 250 digits in micro-batches of at most 32 (seven of 32 and one of 26): the same
# gradient as the batch in one piece (up to float rounding), so one step of the optimizer from
# either lands on the same weights. Dividing each micro-batch's loss by their number instead, as
# for equal micro-batches, gives another gradient.

# %%
try:
    x, y = images[:250], labels[:250]
    whole, pieces = classifier(), classifier()
    whole.zero_grad()
    F.cross_entropy(whole(x), y).backward()
    loss = accumulate_gradients(pieces, F.cross_entropy, x, y, 32)
    print("micro-batches:", [len(x_j) for x_j in x.split(32)])
    print("returned loss == the batch's mean loss:", abs(loss - F.cross_entropy(whole(x), y).item()) < 1e-5)
    print("they give the gradient of the batch of 250:",
          all(torch.allclose(a.grad, b.grad, atol=1e-6) for a, b in zip(whole.parameters(), pieces.parameters())))
    naive = classifier()
    naive.zero_grad()
    for x_j, y_j in zip(x.split(32), y.split(32)):
        (F.cross_entropy(naive(x_j), y_j) / 8).backward()
    gap = max((a.grad - b.grad).abs().max().item() for a, b in zip(whole.parameters(), naive.parameters()))
    print(f"each loss divided by the number of micro-batches instead: off by up to {gap:.1e}")
    for m in (whole, pieces):
        torch.optim.SGD(m.parameters(), lr=0.5).step()
    print("one SGD step from the batch and from your micro-batches gives the same weights:",
          all(torch.allclose(a, b, atol=1e-6) for a, b in zip(whole.parameters(), pieces.parameters())))
except NotImplementedError:
    print("(finish exercise 12.3 to accumulate gradients)")

# %% [markdown]
# ## Exercise 12.4: saving the training state
#
# A long run is stopped (a time limit, a crash, a laptop closed) and continued later. For the
# continued run to be *exactly* the run that never stopped, the checkpoint needs everything the
# next steps depend on: the weights, the optimizer's state (Adam's running averages of the
# gradient and its square, a momentum buffer), the position of the random generator that draws
# the batches, and the step count. Write `save_state(model, optimizer, generator, step)` returning
#
# ```
# {"model": ..., "optimizer": ..., "generator": ..., "step": step}
# ```
#
# with the model's and the optimizer's state dictionaries and the generator's state at the
# moment of saving (each object has a method that returns its state). Two things to get right:
#
# - it is a **snapshot**: training goes on after the save, and a state dictionary holds
#   *references* to the live tensors, which every step updates in place; keep a copy that goes
#   all the way down to the tensors inside the nested dictionaries;
# - it loads with `torch.load(..., weights_only=True)` (lesson 13: loading an arbitrary object
#   can run code), which accepts tensors, numbers, strings and dicts and lists of them, but not
#   a `torch.Generator` or an `nn.Module`; the generator's state is a tensor.
#
# A seed is not enough: it says where the random stream started, not how far it has got.


# %%
def save_state(model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator, step: int) -> dict:
    """-> {"model", "optimizer", "generator", "step"}: a copy of everything the next steps depend on."""
    # BEGIN SOLUTION
    return {
        "model": copy.deepcopy(model.state_dict()),
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "generator": generator.get_state(),  # a new uint8 tensor: already a copy
        "step": step,
    }
    # END SOLUTION


# %%
checks.save_state(save_state)

# %% [markdown]
# ## Exercise 12.5: resuming exactly, with a new learning rate
#
# Resuming is also when settings get changed on purpose: a run whose loss has stopped falling is
# often continued at a lower learning rate. The continued run should then be exactly the run that
# never stopped and lowered its learning rate at the checkpoint's step: the same weights, the same
# running averages, the same random stream, and from then on the new learning rate.
#
# Write `restore_state(state, model, optimizer, generator, lr)`: load a state saved by
# `save_state` (as `torch.load(..., weights_only=True)` gives it back) into the objects you are
# given, a new process's freshly built model, optimizer and generator; make the optimizer use the
# learning rate `lr` from now on; and return the step to continue from.
#
# - `optimizer` may hold several **parameter groups** (lists of parameters that share settings,
#   such as weights with weight decay and biases without); every group takes the new learning
#   rate, and every other setting stays as the checkpoint saved it.
#
# Hint: before you write it, print the state dictionary of a small optimizer after one step and
# look at everything it holds, not only the running averages; then ask in which order the two
# changes to the optimizer must happen. Load into the objects passed in (one built inside your
# function is lost when it returns).


# %%
def restore_state(state: dict, model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator, lr: float) -> int:
    """Load state into model, optimizer and generator (in place), then train at lr from now on; return the step saved."""
    # BEGIN SOLUTION
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])  # brings back the running averages *and* the saved learning rate
    for group in optimizer.param_groups:  # so the new learning rate comes after it, in every group
        group["lr"] = lr
    generator.set_state(state["generator"])
    return state["step"]
    # END SOLUTION


# %%
checks.restore_state(restore_state)

# %% [markdown]
# The whole round trip, on the digit classifier with Adam: 40 steps in one go that lower the
# learning rate from 0.01 to 0.002 after step 20, against 20 steps, a checkpoint written to a file
# (an in-memory one here) and read back with `weights_only=True`, a "new process" with other
# weights, a new optimizer and another seed, then 20 more steps at 0.002. Done right, the two runs
# end on the same weights, bit for bit. Each of the other lines leaves out one piece, and the runs
# part.

# %%
def train(model, optimizer, generator, steps):
    for _ in range(steps):
        i = torch.randint(len(images), (64,), generator=generator)  # the batch depends on the generator
        optimizer.zero_grad()
        F.cross_entropy(model(images[i]), labels[i]).backward()
        optimizer.step()


def run(resume=None, steps=40, at=20, lr=0.01, new_lr=0.002):
    model = classifier(0)
    optimizer, generator = torch.optim.Adam(model.parameters(), lr=lr), torch.Generator().manual_seed(0)
    train(model, optimizer, generator, at)
    if resume is None:  # the uninterrupted run lowers its learning rate at step `at`
        for group in optimizer.param_groups:
            group["lr"] = new_lr
        train(model, optimizer, generator, steps - at)
        return model
    file = io.BytesIO()
    torch.save(save_state(model, optimizer, generator, at), file)
    file.seek(0)
    state = torch.load(file, weights_only=True)
    model = classifier(1)  # a new process: other weights, a new optimizer, another seed
    optimizer, generator = torch.optim.Adam(model.parameters(), lr=lr), torch.Generator().manual_seed(1)
    start = restore_state(state, model, optimizer, generator, new_lr)
    if resume == "without the optimizer's state":
        optimizer = torch.optim.Adam(model.parameters(), lr=new_lr)
    if resume == "without the generator's state":
        generator = torch.Generator().manual_seed(1)
    if resume == "at the checkpoint's learning rate":
        for group in optimizer.param_groups:
            group["lr"] = lr
    if resume == "from step 0 (training 40 more steps)":
        start = 0
    train(model, optimizer, generator, steps - start)
    return model


try:
    reference = run()
    for how in ("exactly", "without the optimizer's state", "without the generator's state", "at the checkpoint's learning rate",
                "from step 0 (training 40 more steps)"):
        resumed = run(how)
        same = all(torch.equal(a, b) for a, b in zip(reference.state_dict().values(), resumed.state_dict().values()))
        print(f"resumed {how}: same weights as the uninterrupted run: {same}")
except NotImplementedError:
    print("(finish exercises 12.4 and 12.5 to resume a run)")

# %% [markdown]
# These are the pieces behind lesson 12's `torchrun` runs: the data is sharded across processes
# (12.1), `DistributedDataParallel` averages the gradients during the backward pass (12.2), so the
# processes together take the step one process would take on the whole batch; accumulation
# (12.3) reaches the same batch with less memory; and a checkpoint with the optimizer's and the
# generator's state (12.4, 12.5) lets any of it stop and go on exactly, with the settings you
# choose to change changed and nothing else.
