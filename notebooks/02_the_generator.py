# %% [markdown]
# # Lesson 02: The generator
#
# By the end of this lesson you can build the generator of a GAN (generative adversarial
# network, lesson 01) from plain PyTorch: a small neural network $G$ that turns random
# noise $z$ into a data point $x = G(z)$. You will write it layer by layer with `nn.Linear`
# and `nn.ReLU`, follow the tensor shapes through it, draw it, count its parameters, and
# look at what an untrained $G$ does to the plane of noise (it warps and folds it). Then
# you load your weights into the library's `genai_course.gan.Generator`, check that the
# two agree, and sample from it without gradients. Nothing is trained.
#
# Where it sits: lesson 01 showed that a GAN is a *sampler*; this lesson builds the
# sampler's network. Lesson 03 builds the discriminator that will teach it.

# %%
import math

import matplotlib.pyplot as plt
import torch
from torch import nn

from genai_course import threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)  # seeds the weights of every network built below

# %% [markdown]
# ## Why a random input?
#
# A sampler must give a *different* point each time it runs, so its randomness has to
# come from somewhere. A GAN takes it from a simple distribution that is easy to sample,
# the standard normal in $d$ dimensions, and pushes it through a learned function:
#
# $$z \sim \mathcal{N}(0, I_d), \qquad x = G_\theta(z).$$
#
# $z$ is the **latent** vector ("hidden cause"), $d$ = `latent_dim`. The distribution of
# $x$ (the *pushforward* of $\mathcal{N}(0, I)$ through $G_\theta$) is the model $p_\theta$:
# we can sample it as often as we like, but never write down its density. Lesson 01's
# mixture sampler had the same form, $x = \mu_k + \sigma\varepsilon$ with random
# $(k, \varepsilon)$ ($\sigma$ the standard deviation of each mode); here the function is a
# neural network whose weights $\theta$ will be learned. For 2D data, $d = 2$ is enough and
# lets us draw the *latent space*, the space where $z$ lives (here a plane).
#
# In code, a `torch.Generator` is PyTorch's random-number generator, no relation to the
# network $G$ despite the name: seeding one makes the numbers it draws repeatable.

# %%
latent_dim = 2
B = 1000  # batch size: how many samples at once
z = torch.randn(B, latent_dim, generator=torch.Generator().manual_seed(1))  # (B, latent_dim)
print("z:", tuple(z.shape), z.dtype)

# %% [markdown]
# ## A generator, by hand
#
# $G$ is a multilayer perceptron (MLP): a stack of linear maps with a ReLU (rectified
# linear unit), $\mathrm{relu}(a) = \max(0, a)$ applied to each number, between them. The
# layers between the input and the output are its *hidden layers*. With three hidden
# layers of width $h$ (each outputs $h$ numbers per sample, its *units*),
#
# $$x = W_4\, \mathrm{relu}\big(W_3\, \mathrm{relu}(W_2\, \mathrm{relu}(W_1 z + b_1) + b_2) + b_3\big) + b_4,$$
#
# with $W_1 \in \mathbb{R}^{h \times d}$, $W_2, W_3 \in \mathbb{R}^{h \times h}$,
# $W_4 \in \mathbb{R}^{2 \times h}$. The last layer has no activation: a point in the
# plane can have any coordinates, negative ones included. `nn.Linear(n_in, n_out)` holds
# one $(W, b)$ pair and works on a whole batch at once, row by row.


# %%
class MyGenerator(nn.Module):
    """G(z): (B, latent_dim) -> (B, data_dim), an MLP with three hidden ReLU layers."""

    def __init__(self, latent_dim: int = 2, hidden: int = 128, data_dim: int = 2) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden),  # (B, latent_dim) -> (B, hidden)
            nn.ReLU(),  # (B, hidden), elementwise max(0, .)
            nn.Linear(hidden, hidden),  # (B, hidden) -> (B, hidden)
            nn.ReLU(),
            nn.Linear(hidden, hidden),  # (B, hidden) -> (B, hidden)
            nn.ReLU(),
            nn.Linear(hidden, data_dim),  # (B, hidden) -> (B, data_dim): no activation
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, latent_dim) -> (B, data_dim)


G_mine = MyGenerator(latent_dim=2, hidden=128, data_dim=2)

h = z
for i, layer in enumerate(G_mine.net):
    h = layer(h)
    print(f"layer {i}: {type(layer).__name__:6} -> {tuple(h.shape)}")

# %% [markdown]
# The same network drawn from one forward pass of `z` (`widgets.draw_network` records each
# layer and the shape it outputs, the batch dimension left out): one box per linear layer,
# with the ReLU that follows it. The shape changes only twice: the first layer widens each
# 2-number $z$ to 128 numbers, and the last narrows 128 back to a 2-number point; every
# layer between keeps 128. Each box also gives its layer's weights and biases together,
# which the next section adds up.

# %%
from genai_course import widgets

widgets.draw_network(G_mine, z, title="MyGenerator")
plt.show()

# %% [markdown]
# ### How many parameters?
#
# The parameters are the numbers training will adjust. A linear layer from $n_\text{in}$ to
# $n_\text{out}$ units has $n_\text{in} n_\text{out}$ weights and $n_\text{out}$ biases;
# ReLU has none. So
# $(2 \cdot 128 + 128) + 2\,(128 \cdot 128 + 128) + (128 \cdot 2 + 2) = 33{,}666$.

# %%
for name, p in G_mine.named_parameters():
    print(f"{name:14} {str(tuple(p.shape)):11} {p.numel():6}")
n_params = sum(p.numel() for p in G_mine.parameters())
print("total:", n_params, "| by the formula:", (2 * 128 + 128) + 2 * (128 * 128 + 128) + (128 * 2 + 2))

# %% [markdown]
# ## What an untrained generator does to the plane
#
# Push the batch of $z$ through $G$ and colour every point by the angle of its $z$,
# $\operatorname{atan2}(z_2, z_1)$: points of one colour on the left land on points of the
# same colour on the right. The weights are random, so $G$ is just *some* continuous map:
# it squeezes the latent cloud into a small, skewed blob near the origin.

# %%
from genai_course import data

ring = data.ring8()
with torch.no_grad():  # we only look: no gradients needed (more on this below)
    x = G_mine(z)  # (B, 2)
angle = torch.atan2(z[:, 1], z[:, 0])  # (B,) in (-pi, pi]

fig, axes = plt.subplots(1, 3, figsize=(14, 4.4), layout="constrained")
axes[0].scatter(z[:, 0], z[:, 1], c=angle, cmap="hsv", s=5)
axes[0].set(title="latent z ~ N(0, I), colour = angle of z", xlabel="$z_1$", ylabel="$z_2$", aspect="equal")
axes[1].scatter(x[:, 0], x[:, 1], c=angle, cmap="hsv", s=5)
axes[1].set(title="G(z), zoomed in", xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
axes[2].scatter(ring.means[:, 0], ring.means[:, 1], marker="+", c="k", s=80, label="ring of 8 (the data)")
axes[2].scatter(x[:, 0], x[:, 1], c=angle, cmap="hsv", s=5)
axes[2].set(title="G(z) at the data's scale", xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), aspect="equal")
axes[2].legend(loc="lower left")
plt.show()
print("spread of G(z) (std per coordinate):", [round(s, 2) for s in x.std(0).tolist()], "| radius of the ring: 1.0")

# %% [markdown]
# Nearby $z$ still land near each other ($G$ is continuous: each colour forms a band),
# but the latent disc is squashed, stretched and folded over itself, so bands of
# different colours overlap: quite different $z$ can give almost the same $x$. And all
# of it lands in one small blob, nowhere near the ring: nothing in $G$ knows about the data yet.

# %% [markdown]
# ## Shapes: batch size and latent size
#
# The batch size $B$ is free: every layer works row by row, so $G$ maps $(B, d)$ to
# $(B, 2)$ for any $B$. The latent size $d$ is fixed when the network is built: it is the
# number of columns of the first layer's weight matrix $W_1$, shape $(h, d)$.

# %%
for batch in (1, 16, 1000):
    out = G_mine(torch.randn(batch, 2))
    print(f"z {(batch, 2)!s:11} -> G(z) {tuple(out.shape)}")

G8 = MyGenerator(latent_dim=8)
print("latent_dim 8: first weight", tuple(G8.net[0].weight.shape), "| z (5, 8) -> G(z)", tuple(G8(torch.randn(5, 8)).shape))

# %% [markdown]
# ## The fabric picture
#
# A ReLU network is *piecewise linear*: each ReLU is either off (output 0) or on
# (output = input), and in each region of the plane where the on/off pattern stays the
# same, $G$ is one affine map (a linear map plus a constant shift, $Az + c$). So a straight
# line in latent space comes out as a chain of straight segments with a kink wherever some
# unit switches. Draw a grid of lines in $z$ and their images: $G$ stretches, shears and
# folds the latent "fabric". Training will move these folds so that the fabric lands on
# the data's modes.

# %%
ticks = torch.linspace(-3, 3, 13)  # 13 lines each way
t = torch.linspace(-3, 3, 400)  # 400 points along each line
horizontal = torch.stack([torch.stack([t, torch.full_like(t, c)], dim=1) for c in ticks])  # (13, 400, 2): z_2 = c
vertical = torch.stack([torch.stack([torch.full_like(t, c), t], dim=1) for c in ticks])  # (13, 400, 2): z_1 = c

fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
with torch.no_grad():
    for lines, cmap in ((horizontal, plt.cm.Blues), (vertical, plt.cm.Oranges)):
        images = G_mine(lines.reshape(-1, 2)).reshape(lines.shape)  # (13*400, 2) -> back to (13, 400, 2)
        for i in range(len(ticks)):
            colour = cmap(0.35 + 0.65 * i / (len(ticks) - 1))
            axes[0].plot(lines[i, :, 0], lines[i, :, 1], color=colour, lw=1)
            axes[1].plot(images[i, :, 0], images[i, :, 1], color=colour, lw=1)
axes[0].set(title="a grid of lines in latent space", xlabel="$z_1$", ylabel="$z_2$", aspect="equal")
axes[1].set(title="their images under the untrained G", xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
plt.show()

# %% [markdown]
# ## The library version agrees
#
# `genai_course.gan.Generator` is the tested reference. It is built from a
# `GeneratorConfig` and keeps the same stack of layers in `G.net` (an `nn.Sequential` of
# Linear/ReLU pairs, then a final Linear), so its parameters have the same names as ours
# and `load_state_dict` copies our weights straight in (a module's *state dict* maps each
# parameter's name, such as `net.0.weight`, to its tensor).

# %%
from genai_course import gan

G = gan.Generator(gan.GeneratorConfig(latent_dim=2, hidden=128, layers=3))
print(G)

# %%
print("same parameter names and shapes:", {k: v.shape for k, v in G.state_dict().items()} == {k: v.shape for k, v in G_mine.state_dict().items()})
result = G.load_state_dict(G_mine.state_dict())  # copy our weights into the library's net
print("missing keys:", result.missing_keys, "| unexpected keys:", result.unexpected_keys)
print("same outputs:", torch.allclose(G_mine(z), G(z)))

# %% [markdown]
# The library version also checks its input, and says what it expected:

# %%
for bad in (torch.randn(4, 3), torch.randn(2)):
    try:
        G(bad)
    except ValueError as e:
        print("ValueError:", e)

# %% [markdown]
# ## Sampling without gradients
#
# A tensor's `requires_grad` flag says whether PyTorch records the operations that use it,
# so that it can later compute gradients with respect to it. Our $z$ does not have the
# flag, but $G$'s weights $\theta$ do (every parameter of a layer does), so every
# operation that combines them with $z$ is recorded, and $G(z)$ carries the flag too: it
# was made by recorded operations. When we only want samples (to look at them, to score them), that
# record is wasted time and memory, so `G.sample(n, generator=)` draws
# $z \sim \mathcal{N}(0, I)$ with the given `torch.Generator` and runs $G$ under
# `torch.no_grad()`, which switches the recording off. The same seed gives the same samples.

# %%
x1 = G.sample(500, generator=torch.Generator().manual_seed(7))  # (500, 2)
x2 = G.sample(500, generator=torch.Generator().manual_seed(7))
x3 = G.sample(500, generator=torch.Generator().manual_seed(8))
print("shape:", tuple(x1.shape), "| seed 7 twice, identical samples:", torch.equal(x1, x2), "| seeds 7 and 8, identical samples:", torch.equal(x1, x3))
print("z requires_grad:", z.requires_grad, "| G's weights:", all(p.requires_grad for p in G.parameters()))
print("G(z) recorded for gradients (requires_grad):", G(z).requires_grad)
print("G.sample(500) recorded for gradients (requires_grad):", x1.requires_grad)

with torch.no_grad():
    by_hand = G_mine(torch.randn(500, 2, generator=torch.Generator().manual_seed(7)))
print("G.sample(n, generator) == G(torch.randn(n, latent_dim, generator)):", torch.allclose(x1, by_hand))

# %% [markdown]
# ## Explore the latent space
#
# The explorer's left panel shows $G(z)$ for a fixed, seeded batch of $z$ over the ring's
# density, each sample in the colour of its nearest mode, and a gold star for the one $z$
# you set with the sliders. Move the sliders and watch the star crawl across the small blob.
#
# The right panel is the latent plane itself, coloured by where $G$ sends each point:
# each $z$ takes the colour of the mode $G(z)$ lands nearest to (the same
# colours as on the left; mode 7's is grey), at full strength where $G(z)$ hits that mode,
# within $3\sigma$ of it (three standard deviations of a mode: lesson 01's radius for a
# high-quality sample), and faded where it misses every mode. This untrained $G$ hits no
# mode, so the whole plane is faded: the pale regions (here blue, grey and pink) only say
# which mode each $G(z)$ is nearest to.

# %%
# NBVAL_IGNORE_OUTPUT
explorer = widgets.latent_explorer(G, mixture=ring)
explorer

# %% [markdown]
# The explorer's current picture as a still image (what you see above when the widget is live):

# %%
from IPython.display import Image

Image(explorer.render())

# %% [markdown]
# ## An untrained generator knows nothing about the data
#
# Score it with lesson 01's yardsticks: modes captured, the high-quality fraction (samples
# within $3\sigma$ of a mode), and the reverse KL, the Kullback-Leibler divergence
# $\mathrm{KL}(\hat p \,\|\, u)$ of the shares $\hat p_k$ of samples nearest each mode from
# equal shares $u_k = 1/8$ ("reverse" because the model's distribution comes first): $0$ when
# every mode is nearest to an eighth of the samples, $\log 8$ when one mode takes them all.

# %%
from genai_course import metrics

samples = G.sample(2500, generator=torch.Generator().manual_seed(0))  # (2500, 2)
print(metrics.mode_metrics(samples, ring))
k, d = metrics.nearest_mode(samples, ring)  # each sample's nearest mode (2500,) and its distance to it (2500,)
print("share of samples nearest each mode:", [round(share, 3) for share in (torch.bincount(k, minlength=8) / len(k)).tolist()])
print(f"closest any sample gets to a mode: {d.min():.2f} | 3σ = {3 * ring.std:.2f} | log 8 = {math.log(8):.2f}")

# %% [markdown]
# The untrained $G$ captures no mode and no sample is of high quality: its blob near the
# origin is nearest to only three of the eight modes, and even its closest sample is far
# outside $3\sigma$ of a mode. The reverse KL of 1.401 sits between $0$ (equal shares) and
# $\log 8$ (one mode takes every sample), since one mode gets most of them.
# %% [markdown]
# To learn, $G$ needs a signal that says *which way* to move each sample. There is no
# density to maximise, so the signal will come from a second network, the
# **discriminator**, which learns to tell real points from $G$'s points; $G$ then
# follows the discriminator's gradient towards "more real". Lesson 03 builds it.

# %% [markdown]
# ## Summary
#
# * A generator is a function $x = G_\theta(z)$ of random latent noise $z \sim \mathcal{N}(0, I)$; the randomness of the samples comes from $z$.
# * Ours is an MLP: Linear/ReLU pairs and a final Linear, mapping $(B, d)$ to $(B, 2)$ for any batch size $B$; $d$ is fixed by the first weight matrix. Drawn, its shape changes only at the first and the last layer.
# * A ReLU network is piecewise linear: it stretches and folds the latent plane; training will move the folds onto the data.
# * `gan.Generator` holds the same layers in `G.net`: with our weights it gives the same outputs; `G.sample(n, generator=)` samples under `torch.no_grad()`, same seed same samples.
# * Untrained, $G$ scores 0 modes: it knows nothing about the data yet.
#
# ## Exercises
#
# Open `exercises/02_the_generator.ipynb`. You will write `make_generator(latent_dim,
# hidden, data_dim, layers)`, a generator with any number of hidden layers, and
# `generate(G, z0, z1, steps)`, which follows a straight line of latent space through $G$
# without gradients; a check cell after each tells you at once whether it is right.
#
# Next: **lesson 03, the discriminator**.
