# %% [markdown]
# # Exercises 02: The generator
#
# Two exercises from lesson 02 (`notebooks/02_the_generator.ipynb`): build a generator
# network, and draw samples from a generator without gradients. Replace each
# `raise NotImplementedError` with your code, then run the check cell below it: it prints
# ✅ when your function is right, or says what is wrong.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import matplotlib.pyplot as plt
import torch
from torch import nn

from genai_course import checks, data, gan, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)

# %% [markdown]
# ## Exercise 2.1: the generator network
#
# Write `make_generator(latent_dim, hidden, data_dim)` that returns an `nn.Module`
# mapping noise of shape `(B, latent_dim)` to examples of shape `(B, data_dim)` (float32):
# an MLP with hidden layers of `hidden` units and ReLU activations, and a final linear
# layer with no activation.
#
# Hints: `nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), ..., nn.Linear(hidden, data_dim))`.
# Two or three hidden layers are fine. Every layer you create must be used (the check
# follows the gradient back to each of them).


# %%
def make_generator(latent_dim: int, hidden: int, data_dim: int) -> nn.Module:
    """An MLP generator: (B, latent_dim) -> (B, data_dim)."""
    # BEGIN SOLUTION
    return nn.Sequential(
        nn.Linear(latent_dim, hidden),  # (B, latent_dim) -> (B, hidden)
        nn.ReLU(),
        nn.Linear(hidden, hidden),  # (B, hidden) -> (B, hidden)
        nn.ReLU(),
        nn.Linear(hidden, data_dim),  # (B, hidden) -> (B, data_dim)
    )
    # END SOLUTION


# %%
checks.make_generator(make_generator)

# %% [markdown]
# ## Exercise 2.2: generating samples
#
# Write `generate(G, n, generator)` for a library generator `G` (a `gan.Generator`):
# draw `n` latent vectors $z \sim \mathcal{N}(0, I)$ with
# `torch.randn(n, G.config.latent_dim, generator=generator)`, and return `G(z)`, shape
# `(n, data_dim)`, computed without tracking gradients.
#
# Hints: `torch.randn` (normal), not `torch.rand` (uniform); do the work inside
# `with torch.no_grad():`. The same seed must give the same samples.


# %%
def generate(G: gan.Generator, n: int, generator: torch.Generator) -> torch.Tensor:
    """n samples G(z), z ~ N(0, I) drawn with `generator`, without gradients: (n, data_dim)."""
    # BEGIN SOLUTION
    with torch.no_grad():
        z = torch.randn(n, G.config.latent_dim, generator=generator)  # (n, latent_dim)
        return G(z)  # (n, data_dim)
    # END SOLUTION


# %%
checks.generate(generate)

# %% [markdown]
# ## See your results
#
# Samples of an untrained library generator drawn with your `generate`, next to the
# images of a grid of latent lines under your own `make_generator(2, 64, 2)` network.

# %%
try:
    G = gan.Generator(gan.GeneratorConfig(latent_dim=2, hidden=64, layers=2))
    x = generate(G, 1000, torch.Generator().manual_seed(0))  # (1000, 2)
    mine = make_generator(2, 64, 2)
    t = torch.linspace(-3, 3, 200)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
    axes[0].scatter(x[:, 0], x[:, 1], s=3, alpha=0.5)
    axes[0].set(title="generate(G, 1000, generator): untrained G")
    with torch.no_grad():
        for c in torch.linspace(-3, 3, 9):
            for line, colour in ((torch.stack([t, torch.full_like(t, c)], 1), "C0"), (torch.stack([torch.full_like(t, c), t], 1), "C1")):
                image = mine(line)  # (200, 2)
                axes[1].plot(image[:, 0], image[:, 1], color=colour, lw=1)
    axes[1].set(title="your make_generator(2, 64, 2): images of latent grid lines")
    plt.show()
except NotImplementedError:
    print("(finish the exercises above to see the pictures)")
