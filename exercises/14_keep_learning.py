# %% [markdown]
# Generated from solutions/14_keep_learning.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Exercises 14: Keep learning
#
# Three exercises from lesson 14 (`notebooks/14_keep_learning.ipynb`), each a variation on a
# piece the lesson builds. The lesson puts a LoRA adapter on a linear layer; you put one on an
# embedding table. The lesson trains the new class's label column as a parameter of its own, beside
# the frozen layer; you train one column of a layer's own weight, in place, and show that nothing
# else moves by a single bit. The lesson mixes replayed samples into training by repeating the
# few new examples; you build each batch with an exact share of new examples. Replace each
# `raise NotImplementedError` with your code, then run the check cell below it: it prints ✅
# when your code is right, or says what is wrong.
#
# Notation, as in the lesson: a linear layer computes $W h + b$ from its input $h$, with $W$
# of shape (out, in), so the **column** $W_{:, j}$ holds the weights from input $j$ to every
# output. An **embedding table** of $K$ rows of width $E$ is a matrix (K, E) whose row $i$ is
# looked up for index $i$ (`nn.Embedding`). A **rank**-$r$ update is a product $B A$ of two
# thin matrices.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import adapt, checks, data, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)

# %% [markdown]
# ## Exercise 14.1: a LoRA adapter for an embedding
#
# The lesson's `MyLoRALinear` (the library's `adapt.LoRALinear`) leaves a trained linear layer
# frozen and adds a trainable low-rank update $B A$ to its weight, with $B$ zero at the start so
# that the adapted layer starts as the trained one. Language models also keep many of their
# parameters in embedding tables: one row per token, or one per language in the lesson's names
# model. Looking row $i$ up is the same as multiplying the table, seen as a layer of $K$ inputs,
# by a one-hot vector of $i$; so the same adapter works on a table.
#
# Write `make_lora_embedding(table, rank, generator)`: an `nn.Module` that wraps the trained
# `table` (an `nn.Embedding` of $K$ rows of width $E$) and whose `forward(i)` maps indices $i$
# of shape (N,) to lookups of shape (N, E), where
#
# $$\text{lookup}(i) = W_i + (B A)_{:, i}, \qquad A \text{ of shape } (r, K), \quad B \text{ of shape } (E, r),$$
#
# $W_i$ the table's row $i$ and $(B A)_{:, i}$ the $i$-th column of the (E, K) update (no
# scale factor in this exercise).
#
# - Keep the two factors as parameters named `A` and `B`; they are the only numbers that
#   train, $r (K + E)$ of them. The table is frozen: its weight gets no gradient.
# - $B$ starts at zero. $A$ starts small and random, drawn with the `generator` you are given
#   (the lesson's adapter draws its $A$ the same way).
#
# The check starts your module, sets $B$ to random numbers as if it had trained, and compares
# the lookups with the formula. Hints: which entries of $A$ does index $i$ need, and what shape
# do they make with $B$? You never need the whole (E, K) product for a lookup of a few
# indices. Then ask why one of the two factors must start at zero and the other must not.


# %%
def make_lora_embedding(table: nn.Embedding, rank: int, generator: torch.Generator | None = None) -> nn.Module:
    """table (K rows of E), rank r -> a module: indices (N,) -> (N, E), row i plus column i of B A; A (r, K), B (E, r)."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.lora_embedding(make_lora_embedding)

# %% [markdown]
# What the adapter saves: the numbers that train for a table of 50,000 rows of width 512
# (the size of a small language model's token table) at a few ranks, against the whole table.

# %%
try:
    big = nn.Embedding(50_000, 512)
    for r in (4, 16, 64):
        trainable = sum(p.numel() for p in make_lora_embedding(big, r, torch.Generator().manual_seed(0)).parameters() if p.requires_grad)
        print(f"rank {r:2d}: {trainable:9,d} trainable numbers, {trainable / big.weight.numel():.2%} of the table's {big.weight.numel():,d}")
except NotImplementedError:
    print("(finish exercise 14.1 to count its parameters)")

# %% [markdown]
# An adapter on a table is not the same as a new row. Below, a table of 10 rows is adapted so
# that row 9 reaches a target vector (300 Adam steps on row 9's lookup alone). Row 9 gets there,
# the table itself does not change by a bit, and yet the lookups of rows 0-8 moved too: every
# row's update is $B$ times its own column of $A$, and $B$ is shared. The lesson's "embedding"
# method, which trains the new row alone, cannot move the old rows; an adapter needs the old rows
# in its training (replay) to keep them.

# %%
try:
    g = torch.Generator().manual_seed(0)
    table = nn.Embedding.from_pretrained(torch.randn(10, 16, generator=g))  # 10 rows of 16, "trained"
    target = torch.randn(16, generator=g)
    kept = table.weight.clone()
    lora = make_lora_embedding(table, 2, torch.Generator().manual_seed(1))
    old = torch.arange(9)
    before = lora(old).detach()
    opt = torch.optim.Adam([p for p in lora.parameters() if p.requires_grad], lr=0.05)
    for step in range(300):
        opt.zero_grad()
        loss = (lora(torch.tensor([9]))[0] - target).pow(2).mean()
        loss.backward()
        opt.step()
    print(f"row 9's distance to the target: {(kept[9] - target).norm():.2f} before, {(lora(torch.tensor([9]))[0] - target).norm():.2f} after")
    print("the table unchanged, bit for bit:", torch.equal(table.weight, kept))
    print(f"rows 0-8: largest change of a lookup {(lora(old) - before).abs().max():.2f}")
except NotImplementedError:
    print("(finish exercise 14.1 to train the adapter)")

# %% [markdown]
# ## Exercise 14.2: training one column in place
#
# The lesson teaches the new class with a parameter of its own: the library's
# `adapt.NewClassInput` keeps the trained layer frozen and adds a separate column for the new
# label beside it. Here the layer already has the column (say it was built for 10 classes and
# only 0-8 ever trained), so you train that column of the layer's own weight, in place, and
# nothing else.
#
# Write `freeze_except_column(model, layer, column)`: after it runs, training `model` with an
# ordinary optimizer over `model.parameters()` moves the entries of `layer.weight[:, column]`,
# the weights from input `column` (for a one-hot label, from that class), and nothing else, bit
# for bit: not the other columns, not `layer`'s bias, not any other layer. `layer` is an
# `nn.Linear` inside `model`; the function returns nothing and must not change any weight
# itself.
#
# The check runs a few steps of Adam, of fused Adam (PyTorch's one-kernel version of it) and
# of SGD with momentum on your model, and compares every weight before and after. Hints: a
# whole tensor trains or does not, so part of one needs another tool: what does an optimizer do
# with an entry whose gradient is always exactly zero? PyTorch lets you change a tensor's
# gradient as it is computed (a **hook**: a function of yours that it calls with the gradient).
# And which axis of the weight is a column, when the weight has shape (out, in)?


# %%
def freeze_except_column(model: nn.Module, layer: nn.Linear, column: int) -> None:
    """Arrange that training model moves only layer.weight[:, column]; changes no weight itself."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.freeze_except_column(freeze_except_column)

# %% [markdown]
# A layer fed `[h, one_hot(y, 10)]`, as in the lesson's conditional networks, with 4 features
# $h$: class 9's column is input $4 + 9 = 13$. Trained for 100 Adam steps to move class 9's
# output, only that column's entries move, and the outputs for labels 0-8 stay exactly as they
# were.
#
# One optimizer breaks the arrangement: AdamW's weight decay shrinks every entry of a tensor
# that trains, whatever its gradient (the decay is not part of the gradient). The last line
# trains a fresh copy the same way with AdamW.


# %%
def one_hot_net(seed: int) -> nn.Sequential:
    """Linear(4 + 10, 8), tanh, Linear(8, 2): a small network fed [h, one_hot(y, 10)]."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4 + 10, 8), nn.Tanh(), nn.Linear(8, 2))


def moved_entries(optimizer_class) -> tuple[dict, bool]:
    """Train class 9's column for 100 steps: {parameter: entries that moved}, and whether labels 0-8 give what they gave."""
    net = one_hot_net(0)
    start = {name: p.detach().clone() for name, p in net.named_parameters()}
    g = torch.Generator().manual_seed(0)
    h, y = torch.randn(90, 4, generator=g), torch.arange(9).repeat(10)  # (90, 4), labels 0-8
    old_inputs = torch.cat([h, F.one_hot(y, 10).float()], dim=1)  # (90, 14)
    old_before = net(old_inputs).detach()
    freeze_except_column(net, net[0], 4 + 9)
    opt = optimizer_class(net.parameters(), lr=0.01)
    nines = torch.cat([torch.randn(32, 4, generator=g), F.one_hot(torch.full((32,), 9), 10).float()], dim=1)
    for step in range(100):
        opt.zero_grad()
        (net(nines) - torch.tensor([1.0, -1.0])).pow(2).mean().backward()
        opt.step()
    moved = {name: int((p.detach() != start[name]).sum()) for name, p in net.named_parameters()}
    return moved, torch.equal(net(old_inputs).detach(), old_before)


try:
    moved, same_old = moved_entries(torch.optim.Adam)
    print("entries that moved, Adam:", moved, "| labels 0-8 unchanged:", same_old)
    moved, same_old = moved_entries(torch.optim.AdamW)
    print("entries that moved, AdamW:", moved, "| labels 0-8 unchanged:", same_old)
except NotImplementedError:
    print("(finish exercise 14.2 to train one column)")

# %% [markdown]
# ## Exercise 14.3: a batch of new and replayed examples
#
# **Replay** keeps a model from forgetting its old classes: while it learns the new one, part of
# every batch holds examples of the old ones (in the lesson, the model's own samples of them, so
# no old data needs to be kept). The lesson (`adapt.adapt_vae`) mixes them by repeating the 20
# new examples until they are as many as the replayed ones, then draws batches from the mixture,
# so each batch holds *about* half of each. Here you build each batch with an exact share.
#
# Write `mixed_batch(new_x, new_y, old_x, old_y, batch_size, new_fraction, generator)`, returning
# the pair `(x, y)` of one training batch:
#
# - `new_x` (n, 1, 8, 8) and `new_y` (n,) are the new examples and their labels; `old_x`
#   (m, 1, 8, 8) and `old_y` (m,) the replay set. Labels are int64.
# - The batch holds exactly `new_fraction` times `batch_size` new examples, rounded to the nearest
#   whole number (Python's `round`), drawn at random with replacement (a batch may need more than
#   the few there are); the rest of its `batch_size` rows are drawn at random from the replay set.
# - Every image keeps its own label, and the batch is shuffled: new and replayed rows are spread
#   through it, so that any slice of it (a micro-batch, lesson 12) holds the same mix.
# - All randomness comes from the `generator` you are given: the same seed gives the same batch.
#
# Hints: draw *which* examples first, as positions, and let the positions pick images and
# labels alike; what does shuffling two tensors separately do to the pairs?


# %%
def mixed_batch(new_x, new_y, old_x, old_y, batch_size: int, new_fraction: float, generator: torch.Generator | None = None):
    """-> (x (batch_size, 1, 8, 8), y (batch_size,)): a share new_fraction of new examples, the rest replayed, shuffled."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.mixed_batch(mixed_batch)

# %% [markdown]
# One batch of 32 with `new_fraction = 0.3`, from the lesson's 20 examples of 9 and, standing in
# for the replay set, 900 real digits of 0-8 (the lesson replays the model's own samples instead:
# `adapt.replay_set`). Each title is the label that goes with the image.

# %%
try:
    shots = adapt.few_shot(20, new_class=9, seed=0)  # the lesson's 20 examples of 9
    digits = data.load_digits()
    old = digits.y_train < 9
    old_x, old_y = digits.x_train[old][:900], digits.y_train[old][:900]
    new_y = torch.full((20,), 9)
    x, y = mixed_batch(shots.x, new_y, old_x, old_y, 32, 0.3, torch.Generator().manual_seed(0))
    print("new examples in the batch:", int((y == 9).sum()), "of", len(y))
    fig, axes = plt.subplots(4, 8, figsize=(6, 3.6))
    for ax, image, label in zip(axes.flat, x, y):
        ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(str(int(label)), fontsize=8)
        ax.axis("off")
    plt.tight_layout()
    plt.show()
    counts = [int((mixed_batch(shots.x, new_y, old_x, old_y, 32, 0.3, torch.Generator().manual_seed(s))[1] == 9).sum()) for s in range(200)]
    print("new examples per batch over 200 batches: from", min(counts), "to", max(counts))
except NotImplementedError:
    print("(finish exercise 14.3 to see a batch)")
