# %% [markdown]
# # Lesson 14: Keep learning
#
# By the end of this lesson you can teach a trained generator a class it has never seen,
# from a handful of examples, without training it again from the start; say what each way of
# doing it costs (parameters trained, bytes stored, seconds) and what it makes the model
# forget; build a LoRA adapter by hand; and read a trade-off plot of forgetting against
# quality. A conditional VAE that knows the digits 0-8 meets its first 9s, and the names
# model of lesson 09 meets its first Finnish names.
#
# Run time: each training cell prints how long it took.
#
# Where it sits: lessons 07 and 08 gave a generator a label (a conditional GAN, a conditional
# VAE); lesson 06 built the judge of samples (a digit classifier and the feature distance);
# lesson 11 built the memorization audit. This lesson uses all three to measure
# **adaptation**: changing a trained model so that it does something new, here draw one more
# class, while keeping what it did before.

# %%
# The one switch of this lesson, for slow laptops. False: every model trains here, as the
# lesson is written. True: each one is loaded instead from the runs `genai-course pretrain 14`
# (or `--all`) saved in runs/pretrained/: the same weights, losses and pictures, in seconds.
# A run that is missing or was trained with other settings is trained here, and says so.
PRETRAINED = False

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from torch import nn

from genai_course import adapt, models, text, threads, utils, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)


def seeded(seed):
    return torch.Generator().manual_seed(seed)


def show_classes(vae, classes, title, per_class=6, seed=0):
    """per_class samples of each class, one column per class."""
    y = torch.arange(classes).repeat(per_class)  # (classes * per_class,): row after row of 0, 1, ...
    widgets.show_digits(vae.sample(len(y), y, generator=seeded(seed)), nrow=classes, title=title)
    plt.show()


# %% [markdown]
# ## The model: a conditional VAE that has never seen a 9
#
# Which of the course's families adapts best from a few examples? We take the conditional
# VAE (variational autoencoder, lesson 08), for three reasons:
#
# * it is trained by maximising a bound on the likelihood of the examples, a loss that stays
#   stable on a handful of them. A GAN (generative adversarial network) learns from its
#   discriminator, and a discriminator shown 20 images learns them by heart quickly, after
#   which its signal to the generator is of little use (Karras et al. 2020, "Training
#   generative adversarial networks with limited data");
# * one sample is one pass through the decoder; a diffusion model (lesson 10) needs many;
# * its label enters each of its two networks (encoder and decoder) in one place, the first
#   layer's input, which is where a new class will get its room (below).
#
# The registry's `digits-0to8` is lesson 08's conditional VAE, trained on the training digits
# of the classes 0 to 8 only:

# %%
# NBVAL_IGNORE_OUTPUT
base = models.train_model("digits-0to8", progress=False, pretrained=PRETRAINED)
print(f"digits-0to8: {base.step} steps in {base.history.seconds:.0f} s")

# %% [markdown]
# How good is it? Lesson 06's judge: the course's digit classifier, **frozen** (its weights
# no longer train: they get no gradient and keep their values), reads 300 samples of each
# class, and we count how many it puts in the class asked for.
# `adapt.judge_adaptation` does it (for a model that knows a 9 it also judges the 9s; this
# one is judged on 0-8 only).

# %%
before = adapt.judge_adaptation(base.vae, adapt.few_shot(20))
print("steps:", base.step, "| classes it knows:", base.vae.config.num_classes,
      "| classes in its training digits:", base.digits.y_train.unique().tolist())
print(f"0-8 samples recognised as the class asked for: {before.old_accuracy:.0%} ({before.samples} samples a class)")

# %%
show_classes(base.vae, 9, "digits-0to8: column k asked for k")

# %% [markdown]
# Ask it for a 9 and it refuses: its decoder reads the label as 9 one-hot positions, and
# there is no tenth.

# %%
try:
    base.sample(1, labels=9)
except ValueError as e:
    print("asked for a 9:", e)

# %% [markdown]
# ## The 9s arrive
#
# Now 20 nines arrive. Learning a class from this few examples is called **few-shot**
# learning (each example is a "shot"). `adapt.few_shot(n)` picks n nines of the training
# split, the same ones in the same order each time (a larger n keeps the smaller n's), and
# keeps every other real 9 aside: the model never sees those, and its samples are compared
# with them.

# %%
shots = adapt.few_shot(20)
print("examples:", tuple(shots.x.shape), "| real 9s kept aside to judge by:", len(shots.rest))
widgets.show_digits(shots.x, nrow=10, title="the 20 nines the model learns from")
plt.show()

# %% [markdown]
# ## Room for a new class
#
# The decoder's first layer reads $[z, \text{one\_hot}(y)]$: 4 latents and 9 label
# positions, 13 inputs. Multiplying a one-hot vector by the weight matrix picks one column:
#
# $$W \begin{bmatrix} z \\ \text{one\_hot}(y) \end{bmatrix} + b = W_z z + W_{:,\,4+y} + b.$$
#
# So each class is one column of $W$, a vector of 256 numbers added to the layer's output.
# That is exactly what an **embedding row** is: a learned vector looked up by an index
# (`nn.Embedding` stores them as rows of a table; here they sit as columns of $W$). A new
# class needs one more input position, $y_9$, and one more column. The picture: the input
# for a 9 (left) beside the transposed weights, one row per input (right); the new row is the
# red one.

# %%
first = base.vae.decoder.net[0]  # nn.Linear(13, 256)
new_column = first.weight[:, -9:].mean(dim=1)  # (256,): to start, the average of the 9 class columns
grown_w = torch.cat([first.weight, new_column[:, None]], dim=1).detach()  # (256, 14)
names_in = [f"z{i + 1}" for i in range(4)] + [f"y{k}" for k in range(10)]
x_nine = torch.cat([torch.randn(4, generator=seeded(0)), F.one_hot(torch.tensor(9), 10).float()])  # a 9's input

fig, (ax_in, ax_w) = plt.subplots(1, 2, figsize=(10, 3.6), width_ratios=[1, 8])
ax_in.imshow(x_nine[:, None].numpy(), cmap="coolwarm", vmin=-2, vmax=2, aspect="auto")
ax_in.set_yticks(range(14), names_in)
ax_in.set_xticks([])
ax_in.set_title("input for a 9", fontsize=9)
ax_w.imshow(grown_w.T.numpy(), cmap="coolwarm", vmin=-0.6, vmax=0.6, aspect="auto", interpolation="nearest")
ax_w.add_patch(Rectangle((-0.5, 12.5), 256, 1, fill=False, ec="red", lw=2))
ax_w.set_yticks(range(14), names_in)
ax_w.set(xlabel="the layer's 256 outputs", title="W transposed: row y_k is class k's column (red: the new class 9, one more input)")
ax_w.title.set_fontsize(9)
plt.show()

# %% [markdown]
# By hand: a module that wraps the trained layer and adds the new column, multiplied by the
# last input (1 for a 9, 0 for any old class). The column starts as the average of the 9 old
# class columns: a 9 starts as "a digit of no class in particular", inside the range of
# inputs the rest of the network was trained on, where a column of zeros or of noise would
# start from an input it never saw.

# %%
class MyNewColumn(nn.Module):
    """A trained layer of D + K inputs taught class K: x (B, D + K + 1) -> (B, out)."""

    def __init__(self, layer, num_classes):
        super().__init__()
        self.layer = layer
        self.column = nn.Parameter(layer.weight[:, -num_classes:].mean(dim=1).detach().clone())  # (out,)

    def forward(self, x):
        return self.layer(x[:, :-1]) + x[:, -1:] * self.column  # old inputs as before, plus the column if y = K


# %% [markdown]
# `adapt.add_class(vae)` does this to a copy of the VAE, in the first layer of the encoder
# and of the decoder. Our layer must compute what its decoder layer computes, for every
# class; and for the old classes, the grown decoder must give exactly the old decoder's
# outputs, bit for bit:

# %%
grown = adapt.add_class(base.vae)
mine = MyNewColumn(first, 9)
z, y = torch.randn(200, 4, generator=seeded(1)), torch.arange(200) % 10  # (200, 4), (200,): every class 0-9
inputs = torch.cat([z, F.one_hot(y, 10).float()], dim=1)  # (200, 14)
print("same outputs as adapt.add_class's layer:", utils.same(mine(inputs), grown.decoder.net[0](inputs)))
old = y < 9
print("old classes, bit for bit unchanged:", torch.equal(grown.decoder(z[old], y[old]), base.vae.decoder(z[old], y[old])))
print("the decoder's first layer:", first)
print("classes it knows now:", grown.config.num_classes, "| the base still:", base.vae.config.num_classes)

# %% [markdown]
# ## Fine-tuning, and what it forgets
#
# **Fine-tuning** is training an already trained model further, on new data, starting from
# its weights. The plainest adaptation: grow the model, then train every weight (173,128 of
# them, printed below) on the negative ELBO of the 20 nines, 600 Adam steps. `adapt.adapt_vae`
# copies the base, grows it and trains the copy; the base is never touched.

# %%
# NBVAL_IGNORE_OUTPUT
runs = {}
runs["finetune"] = adapt.adapt_vae(base.vae, shots, adapt.AdaptConfig(method="finetune"))
print(f"finetune: {runs['finetune'].seconds:.1f} s")

# %%
reports = {name: adapt.judge_adaptation(run.model, shots) for name, run in runs.items()}
print("trainable parameters:", f"{runs['finetune'].trainable:,}", "| Adam steps:", adapt.AdaptConfig().steps)
print(f"9s recognised: {reports['finetune'].new_accuracy >= 0.9} (at least 90%) | "
      f"0-8 recognised: {reports['finetune'].old_accuracy < 0.5} (under 50%, from {before.old_accuracy:.0%})")

# %%
show_classes(runs["finetune"].model, 10, "after fine-tuning on 20 nines: column k asked for k")

# %% [markdown]
# It draws 9s, and it draws 9s (or something like them) whatever it is asked for. This is
# **catastrophic forgetting** (McCloskey & Cohen 1989): training on new data alone moves the
# weights the old classes depend on, and the model loses most of them. Nothing in the loss
# asked it to keep drawing a 3. The exact accuracies are in the comparison table below.

# %% [markdown]
# ## Replay: remind it of the old classes
#
# The old training data may be gone (private, deleted, too large to keep). The model itself
# can stand in for it: before training, draw its own samples of 0-8, and mix them with the new
# examples, repeated until they are as many: each batch holds about half of each. This is
# **generative replay** (Shin et al. 2017, "Continual learning with deep generative replay").
# Some of the 900 samples `adapt.replay_set` draws:

# %%
x_old, y_old = adapt.replay_set(base.vae, 900, generator=seeded(0))
print("replayed samples:", tuple(x_old.shape), "| per class:", torch.bincount(y_old).tolist())
widgets.show_digits(x_old[:27], nrow=9, title="the model's own 0-8, replayed beside the nines")
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
runs["replay"] = adapt.adapt_vae(base.vae, shots, adapt.AdaptConfig(method="replay"))
print(f"replay: {runs['replay'].seconds:.1f} s")

# %%
reports["replay"] = adapt.judge_adaptation(runs["replay"].model, shots)
print(f"9s recognised: {reports['replay'].new_accuracy >= 0.9} (at least 90%) | "
      f"0-8 recognised: {reports['replay'].old_accuracy >= 0.97} (at least 97%, from {before.old_accuracy:.0%})")
show_classes(runs["replay"].model, 10, "after fine-tuning with replay")

# %% [markdown]
# The old classes survive. The price: every weight still trains, and the adaptation must be
# stored as a whole new model.

# %% [markdown]
# ## LoRA: a small correction beside frozen weights
#
# An **adapter** is a small set of new, trainable numbers added to a frozen model so that the
# model's behaviour can change while its weights do not. **LoRA** (low-rank adaptation, Hu et
# al. 2021) is a widely used adapter: beside each frozen linear layer $W$ (out x in) it trains
# two thin matrices $B$ (out x r) and $A$ (r x in) and adds their product. For a layer input
# $h$ (a hidden vector, not a sample $x$), the layer computes
#
# $$W h + b + \frac{\alpha}{r} B A h.$$
#
# $A$ and $B$ are the paper's names; here $B$ is a matrix, while in the code's shape comments
# B still counts the examples in a batch.

# %% [markdown]
# The **rank of a matrix** is how many independent directions its outputs can span; $BA$,
# with r columns in $B$, has rank at most r, so the update is called **low-rank**. With r
# much smaller than in and out it holds r (in + out) numbers instead of in x out. $B$ starts
# at zero, so the adapted layer starts as the frozen one exactly; $A$ starts small and
# random, so that $B$'s first gradient is not zero. The scale $\alpha / r$ lets r change
# without retuning the learning rate (the library's default is $\alpha = r$, a scale of 1).
# The structure, for the decoder's middle layer at r = 4:

# %%
fig, ax = plt.subplots(figsize=(9, 3.4))
ax.add_patch(Rectangle((0.0, 0.0), 2.56, 2.56, fc="#c8d7e8", ec="0.3"))  # W: 256 x 256, to scale
ax.add_patch(Rectangle((3.4, 0.0), 0.16, 2.56, fc="#f4c7a1", ec="0.3"))  # B: 256 x 4
ax.add_patch(Rectangle((3.9, 2.4), 2.56, 0.16, fc="#f4c7a1", ec="0.3"))  # A: 4 x 256
ax.text(1.28, 1.28, "W\n256 x 256\nfrozen", ha="center", va="center", fontsize=9)
ax.text(3.48, -0.25, "B  256 x 4\n(trains)", ha="center", va="top", fontsize=9)
ax.text(5.18, 2.7, "A  4 x 256 (trains)", ha="center", va="bottom", fontsize=9)
ax.text(2.98, 1.28, "+", ha="center", va="center", fontsize=18)
ax.text(3.73, 2.48, "x", ha="center", va="center", fontsize=11)
ax.text(5.18, 1.2, "W h + (alpha / r) B (A h)\ntrains r (in + out) = 2,048 numbers\ninstead of in x out = 65,536", ha="center", va="center", fontsize=9)
ax.set(xlim=(-0.2, 7.0), ylim=(-0.8, 3.1), title="LoRA beside a frozen layer: W stays, the thin B and A train")
ax.set_aspect("equal")
ax.axis("off")
plt.show()

# %% [markdown]
# By hand, from plain torch:

# %%
class MyLoRALinear(nn.Module):
    def __init__(self, layer, rank, alpha=None, generator=None):
        super().__init__()
        self.layer = layer
        for p in layer.parameters():
            p.requires_grad_(False)  # frozen
        self.scale = (rank if alpha is None else alpha) / rank
        self.A = nn.Parameter(torch.randn(rank, layer.in_features, generator=generator) / math.sqrt(layer.in_features))  # (r, in)
        self.B = nn.Parameter(torch.zeros(layer.out_features, rank))  # (out, r)

    def forward(self, h):
        return self.layer(h) + self.scale * (h @ self.A.T) @ self.B.T  # (B, in) -> (B, out)

    def merged(self):
        """One plain layer with W + scale * B A: the same outputs, no extra cost."""
        plain = nn.Linear(self.layer.in_features, self.layer.out_features)
        with torch.no_grad():
            plain.weight.copy_(self.layer.weight + self.scale * self.B @ self.A)
            plain.bias.copy_(self.layer.bias)
        return plain


# %% [markdown]
# Four checks: it starts as the frozen layer; it computes what `adapt.LoRALinear` computes
# given the same $A$ and $B$; once trained (here, $B$ set to random values), the
# **merged** layer (the update folded into $W$, one ordinary layer again) computes the same
# as the adapter; and the frozen weight has no gradient.

# %%
middle = base.vae.decoder.net[2]  # nn.Linear(256, 256)
h = torch.randn(32, 256, generator=seeded(2))  # (32, 256)
ours = MyLoRALinear(nn.Linear(256, 256), 4, alpha=8, generator=seeded(3))
ours.layer.load_state_dict(middle.state_dict())
print("starts equal to the frozen layer:", torch.equal(ours(h), middle(h)))
library = adapt.LoRALinear(nn.Linear(256, 256), 4, alpha=8)
library.base.load_state_dict(middle.state_dict())
with torch.no_grad():
    ours.B.copy_(torch.randn(256, 4, generator=seeded(4)) * 0.1)  # as if trained
    library.A.copy_(ours.A)
    library.B.copy_(ours.B)
print("equals adapt.LoRALinear with the same A and B:", utils.same(ours(h), library(h)))
print("merged equals unmerged:", utils.same(ours.merged()(h), ours(h)))
ours(h).sum().backward()
print("the frozen weight gets no gradient:", ours.layer.weight.grad is None, "| A and B do:", ours.A.grad is not None and ours.B.grad is not None)

# %% [markdown]
# What LoRA saves on this VAE: r (in + out) against in x out for each linear layer, r = 4.

# %%
total_full = total_lora = 0
for part in ("encoder", "decoder"):
    for layer in getattr(base.vae, part).net:
        if isinstance(layer, nn.Linear):
            full, low = layer.in_features * layer.out_features, adapt.lora_parameter_count(layer.in_features, layer.out_features, 4)
            total_full, total_lora = total_full + full, total_lora + low
            print(f"{part} {layer.in_features:>3} -> {layer.out_features:<3}  in x out = {full:>6,}   r (in + out) = {low:>5,}")
print(f"all six layers: {total_full:,} weights, {total_lora:,} LoRA numbers ({total_lora / total_full:.1%})")

# %% [markdown]
# The `"lora"` method freezes the VAE, puts a rank-4 adapter on every linear layer and trains
# the adapters and the two new class columns:

# %%
# NBVAL_IGNORE_OUTPUT
runs["lora"] = adapt.adapt_vae(base.vae, shots, adapt.AdaptConfig(method="lora"))
print(f"lora: {runs['lora'].seconds:.1f} s")

# %%
reports["lora"] = adapt.judge_adaptation(runs["lora"].model, shots)
print("trainable:", f"{runs['lora'].trainable:,}", "| stored bytes:", f"{runs['lora'].adapter_bytes:,}", "| the whole model's:", f"{runs['finetune'].adapter_bytes:,}")
print(f"9s recognised: {reports['lora'].new_accuracy >= 0.9} (at least 90%) | "
      f"0-8 recognised: {reports['lora'].old_accuracy < 0.8} (under 80%, from {before.old_accuracy:.0%})")
show_classes(runs["lora"].model, 10, "after LoRA (rank 4) on 20 nines")

# %% [markdown]
# Far fewer numbers train, and the adaptation is a small file, but the 0-8 still suffer.
# Freezing $W$ does not protect the old classes: the adapter's update $BA$ is added for
# every input, whatever its class, so the old classes' outputs move with it. LoRA makes an
# adaptation cheap, not harmless.

# %% [markdown]
# ## Only the new column
#
# The one part of the network that no old class uses is the new column itself (it is
# multiplied by 0 for them). Train only that, in the encoder and the decoder, 2 x 256
# numbers, and nothing the old classes compute can change:

# %%
# NBVAL_IGNORE_OUTPUT
runs["embedding"] = adapt.adapt_vae(base.vae, shots, adapt.AdaptConfig(method="embedding"))
print(f"embedding: {runs['embedding'].seconds:.1f} s")

# %%
reports["embedding"] = adapt.judge_adaptation(runs["embedding"].model, shots)
emb = runs["embedding"].model
print("trainable:", runs["embedding"].trainable, "| stored bytes:", f"{runs['embedding'].adapter_bytes:,}")
print("old classes' outputs bit for bit the base's:", torch.equal(emb.decoder(z[old], y[old]), base.vae.decoder(z[old], y[old])))
print(f"9s recognised: {reports['embedding'].new_accuracy >= 0.9} (at least 90%) | "
      f"0-8 recognised: {reports['embedding'].old_accuracy == before.old_accuracy} (the same as before)")
show_classes(emb, 10, "after training only the new class's columns")

# %% [markdown]
# The 0-8 columns are the base's own digits. The 9s are recognised, and blurrier than the
# fine-tuned ones: 256 numbers in the decoder are all this method can change, so it can only
# steer the old network towards a 9. The comparison below measures that as feature distance.

# %% [markdown]
# ## The baseline: retrain from scratch
#
# What all this avoids: a new VAE of 10 classes trained from scratch on every training digit
# of 0-8 plus the 20 nines, with the base's own training settings (`base.recipe.train`). Its
# time is printed beside the adaptations':

# %%
# NBVAL_IGNORE_OUTPUT
retrained, retrain_seconds = adapt.retrain_vae(shots, base.recipe.vae, base.recipe.train)
print(f"retrain from scratch: {retrain_seconds:.1f} s | adaptations:", ", ".join(f"{k} {r.seconds:.1f} s" for k, r in runs.items()))

# %%
reports["retrain"] = adapt.judge_adaptation(retrained, shots)
print(f"retrained: 9s recognised {reports['retrain'].new_accuracy >= 0.9} (at least 90%) | "
      f"0-8 recognised {reports['retrain'].old_accuracy >= 0.97} (at least 97%)")

# %% [markdown]
# ## The comparison
#
# One adaptation of each kind is one draw. Here every method adapts with 5, 20 and 100
# examples and 3 seeds (the adapters' starting values, the batches and the noise), and
# retraining runs once at 20; each model is judged on 300 samples a class, drawn from the same
# seed. Per row: trainable parameters, the bytes an adaptation must store (the whole model for
# the first two), the 9s' accuracy and **feature distance** (lesson 06: the Fréchet distance
# between the classifier's features of the samples and of the real 9s kept aside; lower is
# closer), the share of 9s the memorization audit flags as copies of the examples, the 0-8
# accuracy before and after, and seconds.

# %%
# NBVAL_IGNORE_OUTPUT
start = time.perf_counter()
SIZES, SEEDS = (5, 20, 100), (0, 1, 2)
base_old = {s: adapt.judge_adaptation(base.vae, shots, seed=s).old_accuracy for s in SEEDS}  # 0-8 before, on each seed's samples
rows, pictures = [], {}
for n in SIZES:
    few = adapt.few_shot(n)
    for method in adapt.METHODS:
        for seed in SEEDS:
            run = runs[method] if (n, seed) == (20, 0) else adapt.adapt_vae(base.vae, few, adapt.AdaptConfig(method=method, seed=seed))
            report = reports[method] if (n, seed) == (20, 0) else adapt.judge_adaptation(run.model, few, seed=seed)
            rows.append(dict(method=method, n=n, seed=seed, trainable=run.trainable, bytes=run.adapter_bytes, seconds=run.seconds,
                             before=base_old[seed], **report.as_dict()))
            if seed == 0:  # the widget's pictures: ten 9s, and two of each old class
                pictures[(method, n)] = (run.model.sample(10, torch.full((10,), 9), generator=seeded(5)),
                                         run.model.sample(18, torch.arange(9).repeat(2), generator=seeded(5)))
rows.append(dict(method="retrain", n=20, seed=0, trainable=sum(p.numel() for p in retrained.parameters()), bytes=adapt.state_bytes(retrained.state_dict()),
                 seconds=retrain_seconds, before=base_old[0], **reports["retrain"].as_dict()))
print(f"{len(rows)} models judged (adapted, and the retrained one) in {time.perf_counter() - start:.0f} s")

# %%
# NBVAL_IGNORE_OUTPUT
print(f"{'method':<10}{'N':>4}{'trainable':>11}{'bytes':>10}{'9s acc':>8}{'9s dist':>9}{'copies':>8}{'0-8 acc before -> after':>25}{'s':>6}  (mean of seeds)")
for (method, n) in dict.fromkeys((r["method"], r["n"]) for r in rows):
    group = [r for r in rows if (r["method"], r["n"]) == (method, n)]

    def mean(k):
        return sum(r[k] for r in group) / len(group)

    print(f"{method:<10}{n:>4}{group[0]['trainable']:>11,}{group[0]['bytes']:>10,}{mean('new_accuracy'):>8.1%}{mean('new_distance'):>9.0f}"
          f"{mean('copies'):>8.1%}{mean('before'):>15.1%} -> {mean('old_accuracy'):>6.1%}{mean('seconds'):>6.1f}  ({len(group)})")

# %% [markdown]
# The trade-off in one picture: each point is one adaptation (one method, one N, one seed).
# Across, the 9s' feature distance (left is closer to real 9s); up, the 0-8 accuracy points
# lost (up is worse); the point's area grows with the parameters trained.

# %%
fig, ax = plt.subplots(figsize=(8, 4.5))
colours = dict(finetune="C3", replay="C1", lora="C0", embedding="C2", retrain="k")
marks = {5: "o", 20: "s", 100: "^"}
for r in rows:
    ax.scatter(r["new_distance"], 100 * (r["before"] - r["old_accuracy"]), s=r["trainable"] ** 0.5, c=colours[r["method"]],
               marker=marks[r["n"]], alpha=0.6, edgecolors="0.2", linewidths=0.5)
for method, colour in colours.items():
    ax.scatter([], [], c=colour, label=method)
for n, mark in marks.items():
    ax.scatter([], [], c="0.6", marker=mark, label=f"N = {n}")
ax.set(xlabel="9s: feature distance to real 9s (lower is better)", ylabel="0-8: accuracy points lost",
       title="what each adaptation learned and forgot (area grows with trainable parameters)")
ax.legend(fontsize=8, ncol=2)
plt.show()

# %% [markdown]
# How to read it: the best corner is bottom left, 9s close to real ones and nothing lost.
# Fine-tuning's and LoRA's points lie high: each of them loses more than 20 points of 0-8.
# Replay, the new column and retraining lie along the bottom, and along it the new column's
# points lie, on average, to the right of replay's: what it keeps, it pays for in 9s that
# are farther from real ones. The cell below checks each of these readings.

# %% [markdown]
# The verdicts, on every seed (the cell says which):

# %%
def where(method, n=None):
    return [r for r in rows if r["method"] == method and (n is None or r["n"] == n)]


lost = {id(r): 100 * (r["before"] - r["old_accuracy"]) for r in rows}
emb20 = where("embedding", 20)
print(f"embedding, 20 examples, {len(emb20)} seeds: 9s recognised >= 90%:", all(r["new_accuracy"] >= 0.9 for r in emb20),
      "| copies <= 5%:", all(r["copies"] <= 0.05 for r in emb20), "| 0-8 lose <= 2 points:", all(lost[id(r)] <= 2 for r in emb20))
print("embedding, every N and seed: 0-8 accuracy exactly as before:", all(r["old_accuracy"] == r["before"] for r in where("embedding")))
print("finetune forgets, every N and seed: 0-8 accuracy drops by more than 20 points:", all(lost[id(r)] > 20 for r in where("finetune")))
print("lora forgets too, every N and seed: drops by more than 20 points:", all(lost[id(r)] > 20 for r in where("lora")))
print("replay keeps them, every N and seed: 0-8 lose <= 2 points:", all(lost[id(r)] <= 2 for r in where("replay")))
print("trainable parameters, embedding < lora < finetune = replay:",
      where("embedding")[0]["trainable"] < where("lora")[0]["trainable"] < where("finetune")[0]["trainable"] == where("replay")[0]["trainable"])
print("finetune and replay with 5 examples: more than half the 9s flagged as copies:",
      all(r["copies"] > 0.5 for r in where("finetune", 5) + where("replay", 5)))


def mean_distance(method, n):
    return sum(r["new_distance"] for r in where(method, n)) / len(where(method, n))


print("9s' feature distance, mean of seeds, every N: embedding farther from real 9s than finetune, replay and lora:",
      all(mean_distance("embedding", n) > max(mean_distance(m, n) for m in ("finetune", "replay", "lora")) for n in SIZES))

# %% [markdown]
# What the table and the verdicts say:
#
# * **Fine-tuning** learns the 9s and forgets the rest; with 5 examples most of its 9s are
#   copies of them. **Replay** keeps the old classes at the cost of a whole new model, and
#   also copies when it has few examples.
# * **LoRA** trains a few percent of the numbers and stores a small file, and still forgets:
#   the frozen weights stay, but the update reaches every class.
# * **Only the new column** cannot forget (the old classes' outputs are bit for bit the
#   base's), and learns 9s the judge recognises that are not copies; its 9s are farther from
#   real 9s in feature distance than those of fine-tuning, replay and LoRA (the last
#   verdict). Its 512 numbers are the smallest adaptation.
# * Retraining from scratch learns the 9s and keeps 0-8 too, but it needs all the old data
#   and a whole training run (its seconds are printed above).

# %% [markdown]
# Look for yourself: pick a method and a number of examples; left, ten of its 9s; right, two
# samples of each old class (seed 0).

# %%
# NBVAL_IGNORE_OUTPUT
captions = {(r["method"], r["n"]): f"{r['method']}, {r['n']} examples (seed 0): 9s recognised {r['new_accuracy']:.0%}, "
            f"copies {r['copies']:.0%}, 0-8 recognised {r['before']:.0%} -> {r['old_accuracy']:.0%}" for r in rows if (r["method"], r["n"]) in pictures and r["seed"] == 0}
widgets.adaptation_picker(pictures, captions)

# %% [markdown]
# ## The same for text: a new language
#
# Lesson 09's names model, a GRU (gated recurrent unit) network that writes first names one
# character at a time, knows 8 languages through a language embedding: row k of an
# `nn.Embedding` for language k, the same idea as the class columns above.

# %%
# NBVAL_IGNORE_OUTPUT
names_model = models.train_model("charlm-names", progress=False, pretrained=PRETRAINED)
print(f"charlm-names: {names_model.step} steps in {names_model.history.seconds:.0f} s")

# %% [markdown]
# It meets 50 Finnish names (`adapt.few_names`; every other Finnish name is held out). Each
# model is judged by held-out nats per character (lesson 09): on the Finnish names it never
# saw, and on the 8 old languages' held-out names (their drift). The comparison gets one more
# row: a fresh model of the same size trained on the 50 names alone ("scratch").

# %%
vocab, k_lang = names_model.data.vocab, len(names_model.data.locales)
print("languages it knows:", k_lang, names_model.data.locales)
finnish = adapt.few_names(vocab, k_lang, 50)
print(adapt.NEW_LANGUAGE, "names to learn from:", len(finnish.train.names), "| held out:", len(finnish.heldout.names),
      "| the first five:", ", ".join(finnish.train.names[:5]))

# %%
# NBVAL_IGNORE_OUTPUT
settings = dict(steps=300, lr=1e-3, replay=400)
names_runs = {"scratch": adapt.scratch_names(vocab, finnish, names_model.recipe.model, adapt.AdaptConfig(method="finetune", **settings))}
for method in adapt.METHODS:
    names_runs[method] = adapt.adapt_names(names_model.model, vocab, finnish, adapt.AdaptConfig(method=method, **settings))
print("seconds:", ", ".join(f"{k} {r.seconds:.1f}" for k, r in names_runs.items()))

# %%
# NBVAL_IGNORE_OUTPUT
names_before = adapt.judge_names(names_model.model, vocab, finnish, names_model.data.heldout)
names_reports = {k: adapt.judge_names(r.model, vocab, finnish, None if k == "scratch" else names_model.data.heldout) for k, r in names_runs.items()}
print(f"{'':<10}{'trainable':>11}{'Finnish':>9}{'old 8':>8}   (held-out nats per character)")
print(f"{'base':<10}{'':>11}{'':>9}{names_before.old_nll:>8.3f}")
for k, r in names_runs.items():
    old_nll = "-" if k == "scratch" else f"{names_reports[k].old_nll:.3f}"  # scratch knows no old language
    print(f"{k:<10}{r.trainable:>11,}{names_reports[k].new_nll:>9.3f}{old_nll:>8}")

# %%
print("replay, lora and embedding read Finnish better than scratch:",
      all(names_reports[k].new_nll < names_reports["scratch"].new_nll for k in ("replay", "lora", "embedding")))
print("finetune reads Finnish worse than scratch:", names_reports["finetune"].new_nll > names_reports["scratch"].new_nll)
print("finetune drifts: the old languages' nats per character rise by more than 0.3:", names_reports["finetune"].old_nll > names_before.old_nll + 0.3)
print("embedding leaves the old languages exactly as they were:", names_reports["embedding"].old_nll == names_before.old_nll)
print("replay and lora drift too, less than finetune: the old languages' nats per character rise, by less than finetune's:",
      all(names_before.old_nll < names_reports[k].old_nll < names_reports["finetune"].old_nll for k in ("replay", "lora")))

# %% [markdown]
# What the other languages are worth: the adaptations that build on them without wiping them
# out (replay, LoRA, the new row) read Finnish better than a model that saw only the 50
# names. Only the new row leaves the old languages exactly as they were; replay and LoRA let
# them drift, less than fine-tuning, which drifts the most and reads Finnish worse than
# the model trained from scratch. Some names from the model best on Finnish:

# %%
# NBVAL_IGNORE_OUTPUT
best = min(("finetune", "replay", "lora", "embedding"), key=lambda k: names_reports[k].new_nll)
drawn = text.sample_names(names_runs[best].model, vocab, torch.full((12,), k_lang), generator=seeded(0))
print(best, "writing Finnish:", ", ".join(drawn))
print("of them, among the 50 it learned from:", sum(x in finnish.train.names for x in drawn))

# %% [markdown]
# ## Summary
#
# * A conditional model gives each class a column of its first layer (an embedding row);
#   a new class is one more column, and the old classes compute exactly what they did.
# * **Fine-tuning** every weight on the new examples alone learns them and forgets the rest:
#   **catastrophic forgetting**. **Replay** of the model's own samples prevents it, and still
#   trains and stores the whole model.
# * **LoRA** trains a low-rank update beside frozen weights: few numbers, a small file, a
#   merge back into plain layers at no cost; but the update reaches every class, so alone it
#   forgets too.
# * Training **only the new class's row** cannot forget, stores 512 numbers, and learned 9s
#   the judge recognises, not copies; its price is 9s farther from real ones than
#   fine-tuning's, replay's and LoRA's. For the names, it read a new language better than a model
#   trained on the 50 names alone.
# * Always measure both sides: what the model learned, and what it lost.
#
# ## Going further
#
# * **LoRA with replay**: adapters for a small file, replayed samples to keep the old classes.
# * **Elastic weight consolidation** (Kirkpatrick et al. 2017, "Overcoming catastrophic
#   forgetting in neural networks") penalises moving the weights that mattered most to the
#   old task, with no old data kept.
# * **DiffFit** (Xie et al. 2023) adapts a diffusion model by training only its biases and
#   scale factors, a fraction of a percent of its parameters.
# * **Few-shot GAN adaptation**: freezing the discriminator's lower layers (Mo et al. 2020,
#   "Freeze the discriminator") or keeping the relative distances between samples (Ojha et
#   al. 2021, "Few-shot image generation via cross-domain correspondence").
#
# ## Exercises
#
# Open `exercises/14_keep_learning.ipynb`: a LoRA adapter for an embedding table (14.1), one
# column of a layer trained in place through a gradient hook (14.2), and a batch with an
# exact share of new examples mixed with replay (14.3), each with an instant check.
