# %% [markdown]
# # Exercises 02: The generator
#
# Two exercises from lesson 02 (`notebooks/02_the_generator.ipynb`): build a generator
# network of any depth, and follow a straight line of latent space through a generator.
# Replace each `raise NotImplementedError` with your code, then run the check cell below
# it: it prints ✅ when your function is right, or says what is wrong.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import matplotlib.pyplot as plt
import torch
from torch import nn

from genai_course import checks, gan, threads, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)

# %% [markdown]
# ## Exercise 2.1: the generator network
#
# The lesson's `MyGenerator` has three hidden layers, written out one by one; the library's
# `GeneratorConfig` has a `layers` field instead. Write `make_generator(latent_dim, hidden,
# data_dim, layers)` that returns an `nn.Module` mapping noise of shape `(B, latent_dim)` to
# examples of shape `(B, data_dim)` (float32) for any `layers` $\ge 1$: `layers` hidden
# layers of `hidden` units, each a linear layer (with its bias) followed by a ReLU, then a
# linear output layer with no activation.
#
# Hints: the first hidden layer and the later ones do not take inputs of the same size.
# Every hidden layer needs weights of its own: one layer object used twice is one layer.
# The check counts your parameters (the lesson's "How many parameters?" tells you how many
# to expect) and looks for the gradient in every layer you created.


# %%
def make_generator(latent_dim: int, hidden: int, data_dim: int, layers: int) -> nn.Module:
    """An MLP generator with `layers` hidden ReLU layers of width `hidden`: (B, latent_dim) -> (B, data_dim)."""
    # BEGIN SOLUTION
    blocks: list[nn.Module] = []
    width = latent_dim  # the input size of the next layer
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.ReLU()]  # (B, width) -> (B, hidden): a new layer each time
        width = hidden
    blocks.append(nn.Linear(width, data_dim))  # (B, hidden) -> (B, data_dim): no activation
    return nn.Sequential(*blocks)
    # END SOLUTION


# %%
checks.make_generator(make_generator)

# %% [markdown]
# ## Exercise 2.2: generating along a latent line
#
# The lesson's fabric picture showed that a straight line in latent space comes out of $G$
# bent. Write `generate(G, z0, z1, steps)` for a library generator `G` and two latent
# vectors `z0`, `z1` of shape `(latent_dim,)`: it returns $G$ at `steps` evenly spaced points
# of the straight segment from `z0` to `z1`, the first point $G(z_0)$ and the last $G(z_1)$,
# shape `(steps, data_dim)`, computed without tracking gradients.
#
# Hints: $G$ takes a batch, one latent vector per row, so build all the points of the
# segment as one batch. The segment is straight in latent space, not in data space. Leave
# `z0` and `z1` as they were given.


# %%
def generate(G: gan.Generator, z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    """G at `steps` evenly spaced points from z0 to z1 (both ends), without gradients: (steps, data_dim)."""
    # BEGIN SOLUTION
    with torch.no_grad():
        t = torch.linspace(0, 1, steps)[:, None]  # (steps, 1): 0 at z0, 1 at z1
        z = (1 - t) * z0 + t * z1  # (steps, latent_dim): one point of the segment per row
        return G(z)  # (steps, data_dim)
    # END SOLUTION


# %%
checks.generate(generate)

# %% [markdown]
# ## See your results
#
# Your `make_generator` for one to four hidden layers, its parameter count next to the
# library's `gan.Generator` of the same size, and your network with two hidden layers
# drawn from one forward pass; then the path your `generate` draws from $G(z_0)$ to
# $G(z_1)$ under an untrained library generator, next to the straight segment between its ends.

# %%
try:
    for layers in (1, 2, 3, 4):
        mine = make_generator(2, 64, 2, layers)
        library = gan.Generator(gan.GeneratorConfig(latent_dim=2, hidden=64, layers=layers))
        print(f"layers={layers}: your parameters {sum(p.numel() for p in mine.parameters()):6,} | library's {sum(p.numel() for p in library.parameters()):6,}")
    widgets.draw_network(make_generator(2, 64, 2, 2), torch.randn(8, 2), title="make_generator(2, 64, 2, 2)")
    plt.show()
except NotImplementedError:
    print("(finish exercise 2.1 to see your network)")

# %%
try:
    G = gan.Generator(gan.GeneratorConfig(latent_dim=2, hidden=64, layers=2))
    z0, z1 = torch.tensor([-2.5, -1.0]), torch.tensor([2.5, 1.5])
    path = generate(G, z0, z1, 200)  # (200, 2)
    fig, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
    ax.plot(path[:, 0], path[:, 1], lw=1.5, label="generate(G, z0, z1, 200)")
    ax.plot(path[[0, -1], 0], path[[0, -1], 1], "k--", lw=1, label="straight segment between the ends")
    ax.scatter(path[[0, -1], 0], path[[0, -1], 1], c="k", s=20, zorder=3)
    for point, name in ((path[0], " G(z0)"), (path[-1], " G(z1)")):
        ax.annotate(name, point.tolist())
    ax.set(title="the image of a straight latent segment", xlabel="$x_1$", ylabel="$x_2$")
    ax.legend()
    plt.show()
except NotImplementedError:
    print("(finish exercise 2.2 to see your path)")
