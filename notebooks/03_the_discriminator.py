# %% [markdown]
# # Lesson 03: The discriminator
#
# By the end of this lesson you can build a GAN's discriminator from plain PyTorch: a
# classifier $D$ that looks at a point $x$ and says how sure it is that $x$ is real data
# rather than a generator's fake. You will see why $D$ outputs a *logit* instead of a
# probability, write $D$ layer by layer with `nn.Linear` and `nn.LeakyReLU`, check it
# against the library's `genai_course.gan.Discriminator`, and train it alone with Adam
# (an optimiser: the rule that turns gradients into weight updates, explained below) to
# tell the ring of 8 from a bad generator's blob, drawing its decision surface and
# measuring its accuracy. Last comes **packing**: a discriminator that judges
# two examples at once, and a small experiment that shows why that helps it spot a
# generator that has collapsed onto one mode. The cell before the summary prints how long
# the whole notebook took on your machine.
#
# Where it sits: lesson 02 built the generator $G$; this lesson builds the judge whose
# verdicts will teach it. Lesson 04 turns $D$'s logits into the loss functions of both
# players, and lesson 05 trains the two together.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import data, gan, threads, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)  # seeds the weights of every network built below
ring = data.ring8()
notebook_start = time.perf_counter()

# %% [markdown]
# ## What a discriminator does
#
# A discriminator is a **binary classifier**: a network that sorts its inputs into two
# classes, here "real" and "fake". It takes a batch of points $x$, shape $(B, 2)$,
# and returns one real number per point, shape $(B,)$: the **logit** $\ell = D(x)$.
# Large positive $\ell$ means "real", large negative $\ell$ means "fake", and $\ell = 0$
# means "can't tell". The logit becomes a probability through the **sigmoid**,
#
# $$P(\text{real} \mid x) = \sigma(\ell) = \frac{1}{1 + e^{-\ell}}, \qquad
# \ell = \log \frac{P(\text{real} \mid x)}{1 - P(\text{real} \mid x)}.$$
#
# $\sigma(\ell)$, with an argument, is the sigmoid; it is not the standard deviation
# $\sigma$ of lesson 01 (the ring's $\sigma = 0.01$): the argument tells them apart.
# The second formula says the logit is the **log-odds**, the logarithm of
# $P / (1 - P)$: the cell below prints the odds that $\ell = 2$ stands for. GAN papers
# write $D(x)$ for the *probability*; in code, and in this course, `D(x)` returns the
# logit and we apply $\sigma$ only when we want a probability.

# %%
l = torch.linspace(-8, 8, 200)
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(l, torch.sigmoid(l), "k")
ax.axhline(0.5, color="grey", lw=0.5)
ax.axvline(0, color="grey", lw=0.5)
ax.set(xlabel=r"logit $\ell$", ylabel=r"$\sigma(\ell)$ = P(real)", title="the sigmoid squashes a logit into (0, 1)")
plt.show()
p2 = torch.sigmoid(torch.tensor(2.0)).item()
print(f"logit 2: P(real) = {p2:.3f}, odds P / (1 - P) = {p2 / (1 - p2):.2f} to 1 (e^2 = {math.exp(2):.2f})")

# %% [markdown]
# ## Why we keep logits
#
# The sigmoid flattens out fast. In the table below, $\sigma(-20) \approx 2 \times 10^{-9}$,
# so $\sigma(20) = 1 - \sigma(-20)$; float32 (the 32-bit numbers PyTorch computes with)
# rounds that to exactly `1.0`, and $1 - \sigma(20)$ prints 0. The probability has
# forgotten *how* sure $D$ was; the logit still says 20.

# %%
for value in (-20.0, -5.0, 0.0, 5.0, 20.0):
    p = torch.sigmoid(torch.tensor(value))
    print(f"logit {value:6.1f}   sigmoid {p.item():<9.3g}   1 - sigmoid {(1 - p).item():.3g}")

# %% [markdown]
# That matters because the losses take logarithms of these probabilities. The
# discriminator's loss is the binary cross-entropy (BCE): for a point with label
# $y$ (1 = real, 0 = fake) it is $-y \log \sigma(\ell) - (1 - y) \log(1 - \sigma(\ell))$.
# Take a fake point ($y = 0$) that $D$ wrongly calls real with logit 30. The true loss is
# $-\log(1 - \sigma(30)) \approx 30$. Computed from the rounded probability it is
# $-\log 0 = \infty$, which PyTorch's `F.binary_cross_entropy` clamps to 100. Its twin
# `F.binary_cross_entropy_with_logits` takes the logit and computes the same formula in a
# form that never rounds to $\log 0$ (lesson 04 shows how). So $D$ returns logits and
# every loss in the course takes logits.

# %%
logit, label = torch.tensor([30.0]), torch.tensor([0.0])  # a fake that D calls real, very sure
print("BCE on the probability:", round(F.binary_cross_entropy(torch.sigmoid(logit), label).item(), 4))
print("BCE on the logit:      ", round(F.binary_cross_entropy_with_logits(logit, label).item(), 4))

# %% [markdown]
# ## Why LeakyReLU
#
# $D$ is an MLP (multilayer perceptron: linear layers with an activation function
# between them) like lesson 02's generator, with one change: between the linear layers it
# uses $\mathrm{leaky}(a) = \max(a, 0.2a)$ instead of $\mathrm{relu}(a) = \max(a, 0)$.
# The reason is the generator. $G$ learns from $D$'s gradient with respect to its
# *input*, $\nabla_x D(x)$ (lesson 05), and a ReLU passes no gradient at all where its
# input is negative. A LeakyReLU always passes at least 0.2 of it, so wherever a fake
# lands, some signal comes back.

# %%
a = torch.linspace(-3, 3, 601, requires_grad=True)
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
for act, name in ((nn.ReLU(), "ReLU"), (nn.LeakyReLU(0.2), "LeakyReLU(0.2)")):
    out = act(a)
    # torch.autograd: PyTorch's automatic differentiation (lesson 04), here d act / d a, elementwise
    (slope,) = torch.autograd.grad(out.sum(), a)
    axes[0].plot(a.detach(), out.detach(), label=name)  # .detach(): the numbers, without autograd's record
    axes[1].plot(a.detach(), slope, label=name)
axes[0].set(title="activation", xlabel="input $a$")
axes[1].set(title="its slope: the share of gradient passed back", xlabel="input $a$", ylim=(-0.1, 1.1))
axes[0].legend()
plt.show()

# %% [markdown]
# ## A discriminator, by hand
#
# Three hidden layers of width $h$ and a final linear layer with **one** output unit and
# no activation (a logit can be any real number):
#
# $$\ell = w_4^\top \mathrm{leaky}\big(W_3\, \mathrm{leaky}(W_2\, \mathrm{leaky}(W_1 x + b_1) + b_2) + b_3\big) + b_4.$$
#
# The last `nn.Linear(h, 1)` returns shape $(B, 1)$; `.squeeze(1)` drops the trailing
# axis so that we get one logit per example, $(B,)$, the shape the losses expect.


# %%
class MyDiscriminator(nn.Module):
    """D(x): (B, data_dim) -> logits (B,), an MLP with three hidden LeakyReLU layers."""

    def __init__(self, data_dim: int = 2, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(data_dim, hidden),  # (B, data_dim) -> (B, hidden)
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),  # (B, hidden) -> (B, hidden)
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),  # (B, hidden) -> (B, hidden)
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),  # (B, hidden) -> (B, 1): one logit, no activation
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)  # (B, 1) -> (B,)


D_mine = MyDiscriminator()
x = ring.sample(1000, generator=torch.Generator().manual_seed(1))  # (1000, 2) real points
print("input", tuple(x.shape), "-> logits", tuple(D_mine(x).shape))
print("parameters:", sum(p.numel() for p in D_mine.parameters()))

# %% [markdown]
# The picture is traced from one forward pass of `D_mine`, so it cannot disagree with
# the code. Shapes are per example (the batch axis is left out): 128 numbers after each
# hidden layer, `(1,)` after the last, and one number after `forward`'s `squeeze(1)`.

# %%
widgets.draw_network(D_mine, x, title="MyDiscriminator: one logit per point")
plt.show()

# %% [markdown]
# ## An untrained discriminator has no opinion
#
# Evaluate $D$ on a $200 \times 200$ grid of points covering the plane
# (`data.make_grid(extent, resolution)` gives it as a $(200^2, 2)$ batch) and colour
# each point by $\sigma(D(x))$: blue = "real", red = "fake", white = "can't tell". This
# map of $D$'s verdict over the plane is its **decision surface**. With random weights,
# the logits are small everywhere, so the whole plane is a pale 0.5.

# %%
grid = data.make_grid(2.0, 200)  # (40000, 2)
with torch.no_grad():
    p_grid = torch.sigmoid(D_mine(grid))  # (40000,)

fig, ax = plt.subplots(figsize=(4.5, 4.5))
widgets.plot_decision(ax, grid, D_mine(grid).detach(), points=x[:300], title="untrained D; black = real points")
plt.show()
print("every grid point has 0.4 < sigmoid(D(x)) < 0.6:", bool(((p_grid > 0.4) & (p_grid < 0.6)).all()))

# %% [markdown]
# ## The library version agrees
#
# `genai_course.gan.Discriminator` is the tested reference. It is built from a
# `DiscriminatorConfig` (here: points of size 2, 3 hidden layers of 128 units) and
# keeps the same stack of layers in `D.net`, so `load_state_dict` copies our weights
# straight in and the two must give the same logits.

# %%
D = gan.Discriminator(gan.DiscriminatorConfig(data_dim=2, hidden=128, layers=3))
print(D.net)

# %%
result = D.load_state_dict(D_mine.state_dict())  # copy our weights into the library's net
print("missing keys:", result.missing_keys, "| unexpected keys:", result.unexpected_keys)
print("output shape:", tuple(D(x).shape), "| same logits:", torch.allclose(D_mine(x), D(x)))

# %% [markdown]
# The library version also checks its input, and says what it expected:

# %%
for bad in (torch.randn(4, 3), torch.randn(2)):
    try:
        D(bad)
    except ValueError as e:
        print("ValueError:", e)

# %% [markdown]
# ## Training the discriminator alone
#
# Before $G$ can learn anything, $D$ must be able to tell real from fake. Let us check
# that it can, against a fixed **bad generator**: one that ignores the ring completely
# and draws from a blob around the origin, $x \sim \mathcal{N}(0, 0.6^2 I)$.
#
# The loss is the BCE from above with real points labelled 1 and fakes labelled 0, one
# mean over each batch, added:
#
# $$L_D = -\frac{1}{B}\sum_{i=1}^{B} \log \sigma(\ell^{\text{real}}_i)
#         -\frac{1}{B}\sum_{i=1}^{B} \log\big(1 - \sigma(\ell^{\text{fake}}_i)\big).$$
#
# Before training $\sigma(\ell) \approx 0.5$ everywhere, so each term is about $\log 2$
# and $L_D \approx 2 \log 2$; a perfect $D$ drives it to 0.

# %% [markdown]
# ### The optimiser: Adam
#
# Training repeats one **training step**: draw fresh batches, compute $L_D$, take its gradient
# with respect to every weight, and move the weights a little against it. The
# **optimiser** decides how far. We use **Adam** (Kingma & Ba, 2015,
# [arXiv:1412.6980](https://arxiv.org/abs/1412.6980)), the usual choice for GANs. For each
# weight it keeps a running average $m$ of the gradient $g$, and one, $v$, of its square:
#
# $$m \leftarrow \beta_1 m + (1 - \beta_1)\, g, \qquad
#   v \leftarrow \beta_2 v + (1 - \beta_2)\, g^2, \qquad
#   w \leftarrow w - \eta\, \frac{m}{\sqrt{v} + \epsilon}.$$
#
# $\eta$ is the **learning rate** (`lr`, here $10^{-3}$) and $\epsilon$ a tiny constant
# against dividing by zero (Adam also scales $m$ and $v$ up in the first steps, while
# they are still close to their starting value 0). The step is a *ratio*: $\sqrt{v}$
# grows with the gradient's size, so the size cancels and each weight moves by about
# $\eta$ per step, whether its gradient is tiny or huge.

# %% [markdown]
# ### Why GANs lower $\beta_1$
#
# The two `betas` set how far back each average looks, about $1 / (1 - \beta)$ steps.
# The average $m$ is **momentum**: it keeps a weight moving the way its recent gradients
# pointed. PyTorch's default, the paper's suggestion, is `betas=(0.9, 0.999)`. GAN code lowers
# $\beta_1$, because momentum carries stale directions: the best move for $D$ depends on
# where $G$ puts its samples, and $G$ keeps moving them (and the other way round). The
# cell below flips the sign of one weight's gradient after 20 steps, as when the other
# player has moved, and counts the steps in which Adam does not yet move the new way.

# %%
def steps_to_turn(beta1: float, flip_at: int = 20) -> int:
    """Adam on one weight whose gradient is +1 for flip_at steps, then -1: steps before it turns."""
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w], lr=0.1, betas=(beta1, 0.99))
    path = [0.0]  # the weight after every step
    for t in range(flip_at + 20):
        w.grad = torch.tensor([1.0 if t < flip_at else -1.0])
        opt.step()
        path.append(w.item())
    after = path[flip_at:]  # from the last step before the flip
    return next(k for k in range(1, len(after)) if after[k] > after[k - 1]) - 1


for beta1 in (0.9, 0.5, 0.0):
    print(f"beta1 = {beta1}: after the flip, {steps_to_turn(beta1)} step(s) still the old way (or standing still)")

# %% [markdown]
# Radford et al. (2016, section 4, [arXiv:1511.06434](https://arxiv.org/abs/1511.06434))
# found that $\beta_1 = 0.9$ made their GAN's training oscillate, and used 0.5. This
# course uses `betas=(0.5, 0.99)` ($\beta_2$ below the default, so $v$ forgets an old
# gradient size sooner), and lessons 06 and 07 go down to $\beta_1 = 0$, no momentum at
# all. `train_d` puts it together: `steps` times, a fresh real batch and a fresh fake
# batch, the loss, and one Adam step.

# %%
def blob(n: int, generator: torch.Generator) -> torch.Tensor:
    """The bad generator's samples: N(0, 0.6^2 I), (n, 2)."""
    return 0.6 * torch.randn(n, 2, generator=generator)


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE on logits: real labelled 1, fake labelled 0. (N,), (N,) -> scalar."""
    return F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + F.binary_cross_entropy_with_logits(
        fake_logits, torch.zeros_like(fake_logits)
    )


def train_d(D: nn.Module, sample_fake, steps: int, seed: int, batch_size: int = 256) -> list[float]:
    """Train D alone (Adam) on fresh real and fake batches; returns the loss of every step."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.99))
    history = []
    for _ in range(steps):
        real, fake = ring.sample(batch_size, generator=g), sample_fake(batch_size, g)  # (B, 2) each
        loss = d_loss(D(real), D(fake))
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    return history


# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(0)
D = gan.Discriminator()  # a fresh D
t0 = time.perf_counter()
history = train_d(D, blob, steps=500, seed=0)
print(f"{len(history)} steps in {time.perf_counter() - t0:.1f} s")

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(history)
ax.axhline(2 * math.log(2), color="grey", ls="--", lw=0.8, label="2 log 2: D guesses")
ax.set(xlabel="step", ylabel="$L_D$", title="D's loss, ring of 8 vs the blob", ylim=(0, 1.6))
ax.legend()
plt.show()
print("2 log 2 =", round(2 * math.log(2), 2), "| first loss:", round(history[0], 2),
      "| last 50 steps' mean loss below 0.4:", sum(history[-50:]) / 50 < 0.4)

# %% [markdown]
# ## What D has learned
#
# The decision surface after 500 steps, with **held-out** points (fresh samples that $D$
# never saw in training): real ones in black, fakes in gold.

# %%
g_test = torch.Generator().manual_seed(1000)  # held-out points, never seen in training
real_test, fake_test = ring.sample(2000, generator=g_test), blob(2000, g_test)
with torch.no_grad():
    grid_logits = D(grid)  # (40000,)

fig, ax = plt.subplots(figsize=(5, 5))
widgets.plot_decision(ax, grid, grid_logits, points=real_test[:500], size=8, colorbar=True, title="D after 500 steps")
ax.scatter(fake_test[:500, 0], fake_test[:500, 1], s=3, c="gold", zorder=2)
plt.show()

# %% [markdown]
# $D$ has carved a thin blue band along the ring and called everything else fake. It
# knows nothing about where the data *could* be: it only draws a line between the two
# samples it was shown. Inside the band it has not yet resolved the eight separate modes,
# so the blob points that happen to fall on the band are called real (the cell below
# counts them).
#
# Its **accuracy** is the share of all held-out examples that it classifies correctly,
# with $\ell > 0$ read as "real":

# %%
# NBVAL_IGNORE_OUTPUT
def accuracy(D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> float:
    """Share of all judgements D gets right: logit > 0 means 'real'."""
    with torch.no_grad():
        real_logits, fake_logits = D(real), D(fake)  # one logit per judgement
    correct = (real_logits > 0).sum() + (fake_logits <= 0).sum()
    return correct.item() / (real_logits.numel() + fake_logits.numel())


acc = accuracy(D, real_test, fake_test)
with torch.no_grad():
    real_missed = int((D(real_test) <= 0).sum())
    fake_missed = int((D(fake_test) > 0).sum())
print(f"held-out accuracy: {acc:.3f} | above 0.9: {acc > 0.9}")
print(f"real points called fake: {real_missed} of {len(real_test)}")
print(f"fakes called real: {fake_missed} of {len(fake_test)}")

# %% [markdown]
# The exact counts depend on the machine: another CPU rounds D's 500 Adam steps
# differently, and a few blob points near the edge of the band change sides. What does
# not change:

# %%
with torch.no_grad():
    fooled = fake_test[D(fake_test) > 0]  # (fake_missed, 2): the fakes called real
radius = fooled.norm(dim=1)  # the ring has radius 1
print("held-out accuracy above 0.9:", acc > 0.9)
print("every real point called real:", real_missed == 0)
print("every fake called real lies within 0.3 of the ring:", bool(((radius - 1).abs() < 0.3).all()))

# %% [markdown]
# Every real point is recognised; the mistakes are fakes that lie on the ring, where
# the blob and the data overlap. That is all we need from $D$ at the start of a GAN: it
# clearly prefers the data, and its gradient with respect to the input, $\nabla_x D(x)$
# (the direction in which its logit grows fastest), points from the blob towards the
# band. The arrows below show that direction on a coarse grid of points, each drawn the
# same length, since only the direction matters here.

# %%
tails = data.make_grid(2.0, 15).requires_grad_(True)  # (225, 2) where the arrows start
(grad_x,) = torch.autograd.grad(D(tails).sum(), tails)  # (225, 2): each logit depends on its own point only
direction = grad_x / grad_x.norm(dim=1, keepdim=True)  # (225, 2) unit length
tails = tails.detach()

fig, ax = plt.subplots(figsize=(5, 5))
widgets.plot_decision(ax, grid, grid_logits, title="D's gradient: the way to look more real")
ax.quiver(tails[:, 0], tails[:, 1], direction[:, 0], direction[:, 1], angles="xy", scale=20, width=0.004)
plt.show()
inside = tails.norm(dim=1) < 0.8  # arrow tails well inside the ring
outward = (direction * tails).sum(1) > 0  # the arrow points away from the centre
print(f"arrows inside the ring pointing outward: {int((outward & inside).sum())} of {int(inside.sum())}")

# %% [markdown]
# Inside the ring nearly every arrow points outward (the count above; near the centre
# the band is about equally far in every direction), and outside the ring the arrows
# point back in: a fake that follows them ends up on the band. Lesson 05's generator
# learns from exactly this gradient.

# %% [markdown]
# ## Packing: judging several examples at once
#
# A generator can cheat a one-at-a-time judge. Suppose $G$ suffers mode collapse
# (lesson 01: it covers only some of the modes) and puts *every* sample on one mode of
# the ring. Each sample on its own looks perfectly real: real data has points there too.
# What gives $G$ away is the **lack of diversity**: a batch of its samples are all alike,
# which real batches almost never are.
#
# **Packing** (PacGAN, Lin et al., 2018, [arXiv:1712.04086](https://arxiv.org/abs/1712.04086))
# lets $D$ see this: it feeds $D$ `pack` examples at once, side by side in one input row,
# so $D$ maps $(B, 2)$ to $(B/\text{pack},)$, one verdict per pack. Real packs are made of
# real examples only, fake packs of fakes only. In the library,
# `DiscriminatorConfig(pack=2)` does it: `forward` reshapes $(B, 2)$ to $(B/2, 4)$, so
# examples $2i$ and $2i+1$ form pack $i$, and the first layer takes $2 \times 2 = 4$ inputs.
# Our unpacked `D_mine` and the packed library $D$, traced on the same 8 points:

# %%
D_pack = gan.Discriminator(gan.DiscriminatorConfig(pack=2))
x8 = ring.sample(8, generator=torch.Generator().manual_seed(2))  # (8, 2)
fig, axes = plt.subplots(1, 2, figsize=(11, 5))
widgets.draw_network(D_mine, x8, ax=axes[0], title="unpacked: one logit per point")
widgets.draw_network(D_pack, x8, ax=axes[1], title="pack=2: one logit per pair of points")
plt.show()

# %% [markdown]
# They differ in two places: the dashed arrow into the first layer, marked "from input
# 0, reshaped in forward()", where the reshape puts each pair of points in one row, and
# that layer's 4 inputs instead of 2. From the reshape on, a row is a pack, so the packed
# $D$'s "one number each" at the bottom is one logit per pair. The cell below checks the
# reshape, and a batch that does not split into whole packs.

# %%
print("input", tuple(x8.shape), "-> packed", tuple(x8.reshape(4, 4).shape), "-> logits", tuple(D_pack(x8).shape))
print("same as the net on the reshaped batch:", torch.allclose(D_pack(x8), D_pack.net(x8.reshape(4, 4)).squeeze(1)))
try:
    D_pack(x8[:7])
except ValueError as e:
    print("ValueError:", e)

# %% [markdown]
# ### A collapsed generator
#
# Our fake now comes from a generator that found one mode perfectly and forgot the
# other seven: every sample is mode 0, $(1, 0)$, plus the same $\sigma = 0.01$ noise
# as the data.

# %%
def collapsed(n: int, generator: torch.Generator) -> torch.Tensor:
    """A mode-collapsed generator: all n points on mode 0 of the ring, (n, 2)."""
    return ring.means[0] + ring.std * torch.randn(n, 2, generator=generator)


fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
g_show = torch.Generator().manual_seed(3)
widgets.plot_points(axes[0], ring.sample(500, generator=g_show), ring, title="real: the ring of 8")
widgets.plot_points(axes[1], collapsed(500, g_show), ring, title="fake: all on mode 0")
plt.show()

# %% [markdown]
# What is the best an unpacked $D$ could do? A real point at mode 0 looks *exactly* like
# a fake, and since fakes are eight times as dense there, the best verdict for anything
# at mode 0 is "fake". So with equally many real and fake examples, $D$ is at best wrong
# on the $\frac18$ of real points that sit on mode 0: accuracy at most
# $\frac12(\frac78 + 1) = \frac{15}{16} \approx 0.94$, however long it trains.
#
# A packed $D$ sees pairs. A fake pair is always (mode 0, mode 0); a real pair is that
# only $\frac{1}{64}$ of the time. Its ceiling is $\frac12(\frac{63}{64} + 1) =
# \frac{127}{128} \approx 0.99$. Let us train both, with the same loss and the same number
# of steps, and see whether they reach these limits.

# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(0)
D_single = gan.Discriminator(gan.DiscriminatorConfig(pack=1))
D_packed = gan.Discriminator(gan.DiscriminatorConfig(pack=2))
t0 = time.perf_counter()
history_single = train_d(D_single, collapsed, steps=400, seed=0)
history_packed = train_d(D_packed, collapsed, steps=400, seed=0)
print(f"2 x 400 steps in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# `accuracy` counts logits, not rows, so it scores the packed $D$ unchanged, one verdict
# per pack:

# %%
g_test = torch.Generator().manual_seed(2)  # held-out
real_test, fake_test = ring.sample(5000, generator=g_test), collapsed(5000, g_test)
acc_single = accuracy(D_single, real_test, fake_test)  # over 10000 single examples
acc_packed = accuracy(D_packed, real_test, fake_test)  # over 5000 packs of 2
print(f"unpacked D: held-out accuracy {acc_single:.2f} (its ceiling 15/16 = {15 / 16:.2f})")
print(f"packed D:   held-out accuracy {acc_packed:.2f} (its ceiling 127/128 = {127 / 128:.2f})")

# %%
# The lowest loss any D can reach: at the optimum D says sigmoid(l) = p_real / (p_real + p_fake).
# Unpacked, that is 1/9 on mode 0 (real density 1/8 there, fake density 1); packed, 1/65 on (mode 0, mode 0).
floor_single = (1 / 8) * math.log(9) + math.log(9 / 8)  # real points on mode 0 + all fakes
floor_packed = (1 / 64) * math.log(65) + math.log(65 / 64)  # real pairs on (0, 0) + all fake pairs
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(history_single, label="unpacked D")
ax.plot(history_packed, label="packed D (pack=2)")
ax.axhline(floor_single, color="C0", ls="--", lw=1, label="lowest possible, unpacked")
ax.axhline(floor_packed, color="C1", ls="--", lw=1, label="lowest possible, packed")
ax.set(xlabel="step", ylabel="$L_D$", title="ring of 8 vs a collapsed generator", ylim=(0, 1.6))
ax.legend()
plt.show()
print(f"lowest possible loss: unpacked {floor_single:.2f}, packed {floor_packed:.2f} ({floor_single / floor_packed:.1f} times lower)")
print(f"mean loss of the last 50 steps: unpacked {sum(history_single[-50:]) / 50:.2f}, packed {sum(history_packed[-50:]) / 50:.2f}")

# %% [markdown]
# Both reach the best their input allows. The dashed lines are the lowest loss any
# discriminator can reach, computed from the two densities $p_\text{real}$ and
# $p_\text{fake}$ (the best $D$ says $\sigma(\ell) = p_\text{real} / (p_\text{real} +
# p_\text{fake})$ at each input; lesson 04 comes back to it). The unpacked $D$ sits on its
# floor, far above zero, because it cannot tell a real point at mode 0 from a fake; the
# packed $D$'s floor is several times lower, and the last line printed above shows
# how close each $D$ ends to its floor.
#
# The pictures show where each one says "fake". For the packed $D$ we fix one member
# of the pair (the gold star) and move the other over the plane.

# %%
grid = data.make_grid(1.5, 200)  # (40000, 2)
shown = ring.sample(400, generator=torch.Generator().manual_seed(5))
fig, axes = plt.subplots(1, 3, figsize=(14, 4.8))
with torch.no_grad():
    widgets.plot_decision(axes[0], grid, D_single(grid), points=shown, title="unpacked D")
    for ax, mode in zip(axes[1:], (2, 0)):
        partner = ring.means[mode].expand_as(grid)  # (40000, 2): the same partner for every grid point
        pairs = torch.stack([grid, partner], dim=1).reshape(-1, 2)  # (80000, 2): rows 2i, 2i+1 = one pack
        widgets.plot_decision(ax, grid, D_packed(pairs), points=shown, title=f"packed D, partner on mode {mode}")
        ax.scatter(*ring.means[mode], marker="*", s=250, c="gold", edgecolors="k", zorder=4)
plt.show()

# %% [markdown]
# * The **unpacked** $D$ can only reject the fakes *where they pile up*: it paints
#   mode 0 red, real points there included.
# * The **packed** $D$ calls a point on mode 0 real when its partner sits on another
#   mode (middle), and fake only when both are on mode 0 (right): it has learned
#   "two points on the same mode is suspicious", a statement about *diversity* that no
#   one-at-a-time judge can make.
#
# In training, a packed $D$'s gradient can tell a collapsing $G$ "your samples are too
# alike", not only "this spot is overcrowded"; Lin et al. (2018) measured that this
# reduces mode collapse on the grid of 25, and lesson 05 lets you try it. The price is
# small: the first layer takes `pack` times as many inputs, and batches must be a
# multiple of `pack`.

# %%
# NBVAL_IGNORE_OUTPUT
print(f"this notebook ran top to bottom in {time.perf_counter() - notebook_start:.0f} s")

# %% [markdown]
# ## Summary
#
# * A discriminator maps a batch $(B, 2)$ to one **logit** per example $(B,)$; $\sigma(\ell)$ is its probability that the example is real.
# * We keep logits because probabilities round to exactly 0 or 1; the losses take logits (`F.binary_cross_entropy_with_logits`) and stay exact.
# * Ours is an MLP with LeakyReLU(0.2), which always passes gradient back to the input; `gan.Discriminator` holds the same layers in `D.net` and gives the same logits with our weights.
# * Adam moves each weight by about the learning rate per step, the ratio of two running averages (of the gradient and of its square); GAN code lowers $\beta_1$, the momentum, because the other player keeps moving.
# * Trained alone for a few hundred steps with BCE, $D$ separates the ring from a blob; its decision surface shows it only learns a boundary between the samples it saw.
# * **Packing** (`DiscriminatorConfig(pack=2)`, $(B, 2) \to (B/2,)$) lets $D$ judge diversity: against a generator collapsed onto one mode, the unpacked $D$'s accuracy is capped at $15/16$, the packed one's at $127/128$.
#
# ## Exercises
#
# Open `exercises/03_the_discriminator.ipynb`. You will write a packed discriminator by
# hand, and its accuracy when it calls an example real only if it is more than $p$ sure;
# a check cell after each tells you at once whether it is right.
#
# Next: **lesson 04, loss functions**: what $D$ and $G$ each minimise, and why the
# generator's loss from the original GAN paper barely moves it at the start.
