# %% [markdown]
# Generated from solutions/03_the_discriminator.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Exercises 03: The discriminator
#
# Two exercises on lesson 03 (`notebooks/03_the_discriminator.ipynb`): build a
# discriminator network that returns one logit per example, and measure how often a
# discriminator is right. Write your code where it says `TODO`, then run the check cell
# below it: it prints ✅ when your code is right, or says what is wrong. The notebook
# runs in a few seconds.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks, data, threads, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
ring = data.ring8()

# %% [markdown]
# ## Exercise 3.1: the discriminator network
#
# Write `make_discriminator(data_dim, hidden)` that returns an `nn.Module` $D$ mapping a
# batch of examples, shape `(B, data_dim)`, to **one logit per example**, shape `(B,)`.
#
# * Use two hidden layers of `hidden` units with `nn.LeakyReLU(0.2)` after each, then a
#   final `nn.Linear(hidden, 1)`.
# * Return **logits**: no sigmoid at the end (the losses take logits).
# * The last layer gives shape `(B, 1)`; drop the trailing axis. Inside an
#   `nn.Sequential`, `nn.Flatten(0)` does that; in your own `nn.Module`, use
#   `.squeeze(1)` in `forward`.


# %%
def make_discriminator(data_dim: int, hidden: int) -> nn.Module:
    """A discriminator D: (B, data_dim) -> logits (B,)."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.make_discriminator(make_discriminator)

# %% [markdown]
# ## Exercise 3.2: the discriminator's accuracy
#
# Write `discriminator_accuracy(D, real, fake)` that returns, as a Python `float`, the
# share of **all** examples that $D$ classifies correctly: a real example is right when
# its logit is $> 0$, a fake one when its logit is $\le 0$.
#
# * `real` is `(N_real, 2)` and `fake` is `(N_fake, 2)`; the two sizes may differ, so
#   count the correct examples and divide by $N_\text{real} + N_\text{fake}$ (don't
#   average the two accuracies).
# * No gradients are needed: work under `torch.no_grad()`. `.item()` turns a one-element
#   tensor into a Python number.


# %%
def discriminator_accuracy(D, real: torch.Tensor, fake: torch.Tensor) -> float:
    """Share of real and fake examples D gets right (logit > 0 means 'real')."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.discriminator_accuracy(discriminator_accuracy)

# %% [markdown]
# ## See your discriminator at work
#
# The cell below trains your network from exercise 3.1 for 500 steps to tell the ring
# of 8 from lesson 03's bad generator (a blob $\mathcal{N}(0, 0.6^2 I)$), then measures it
# with your function from exercise 3.2 and draws its decision surface (blue = real).

# %%
def blob(n: int, generator: torch.Generator) -> torch.Tensor:
    return 0.6 * torch.randn(n, 2, generator=generator)


try:
    torch.manual_seed(0)
    D = make_discriminator(2, 128)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.99))
    g = torch.Generator().manual_seed(0)
    for _ in range(500):
        real_logits, fake_logits = D(ring.sample(256, generator=g)), D(blob(256, g))
        loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones(256)) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros(256))
        opt.zero_grad()
        loss.backward()
        opt.step()
    g_test = torch.Generator().manual_seed(1000)
    real_test, fake_test = ring.sample(2000, generator=g_test), blob(2000, g_test)
    print("held-out accuracy above 0.9:", discriminator_accuracy(D, real_test, fake_test) > 0.9)
    grid = data.make_grid(2.0, 150)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    with torch.no_grad():
        widgets.plot_decision(ax, grid, D(grid), points=real_test[:300], size=8, title="your D after 500 steps")
    ax.scatter(fake_test[:300, 0], fake_test[:300, 1], s=3, c="gold", zorder=2)
    plt.show()
except NotImplementedError:
    print("(finish exercises 3.1 and 3.2 above to see the picture)")
