# %% [markdown]
# Generated from solutions/05_training_loop.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Exercises 05: The training loop
#
# Three exercises from lesson 05 (`notebooks/05_training_loop.ipynb`): one discriminator
# step, one generator step, and the loop that alternates them. Replace each
# `raise NotImplementedError` with your code, then run the check cell below it: it prints
# ✅ when your function is right, or says what is wrong.
#
# Every function here uses the non-saturating loss on logits from lesson 04:
# D minimises $\mathrm{softplus}(-l_\text{real}) + \mathrm{softplus}(l_\text{fake})$ and G minimises
# $\mathrm{softplus}(-l_\text{fake})$ (averaged over the batch).
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from genai_course import checks, data, gan, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)

# %% [markdown]
# ## Exercise 5.1: a discriminator step
#
# Write `d_step(G, D, real, opt_d)`: draw `B = real.shape[0]` latent vectors
# (`torch.randn(B, G.config.latent_dim)`), make fakes with G, compute D's loss on the
# real batch and the fakes, and take one step of `opt_d`. Return the loss as a Python
# float.
#
# The one thing that matters most: this step must train D **only**. Detach the fakes
# (`G(z).detach()`) so the loss's gradient stops at D's input and never reaches G's
# weights. (The check watches whether any gradient reaches G's weights during your step.)


# %%
def d_step(G: gan.Generator, D: gan.Discriminator, real: torch.Tensor, opt_d: torch.optim.Optimizer) -> float:
    """One update of D on real (B, 2) and B fresh fakes; returns D's loss."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.d_step(d_step)

# %% [markdown]
# ## Exercise 5.2: a generator step
#
# Write `g_step(G, D, batch_size, opt_g)`: make `batch_size` fresh fakes **without**
# detaching them, compute the non-saturating G loss on D's logits, and take one step of
# `opt_g` only. Return the loss as a Python float.
#
# The gradient flows through D into G; that is how G learns what D finds suspicious.
# D's weights must not change here: only `opt_g` steps. (D's `.grad` fills up, but
# `opt_d.zero_grad()` in the next D step clears it.)


# %%
def g_step(G: gan.Generator, D: gan.Discriminator, batch_size: int, opt_g: torch.optim.Optimizer) -> float:
    """One update of G with batch_size fresh fakes; returns G's loss."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.g_step(g_step)

# %% [markdown]
# ## Exercise 5.3: the training loop
#
# Write `train(G, D, sample_real, steps, opt_g, opt_d)`: for each of `steps` steps, draw a
# batch of 128 real examples with `sample_real(128)`, take one D step, then one G step
# with 128 fakes, and record the pair `(d_loss, g_loss)`. Return the list of pairs.
#
# Use your `d_step` and `g_step` from above. The check trains a small GAN on the ring of
# 8 for 600 steps and measures whether the samples moved onto the ring.


# %%
def train(G, D, sample_real, steps: int, opt_g, opt_d) -> list[tuple[float, float]]:
    """Alternate one D step and one G step, `steps` times; returns [(d_loss, g_loss), ...]."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.train_loop(train)

# %% [markdown]
# ## See your GAN learn
#
# Your loop, for 1,500 steps on the ring of 8 with small networks (a few seconds).
# Expect the samples to reach the ring, many of them strung between modes rather than on
# them: lesson 05 explains why, and what the library's recipe adds.

# %%
try:
    ring = data.ring8()
    torch.manual_seed(1)
    G = gan.Generator(gan.GeneratorConfig(hidden=64, layers=2))
    D = gan.Discriminator(gan.DiscriminatorConfig(hidden=64, layers=2))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.99))
    history = train(G, D, lambda n: ring.sample(n), 1500, opt_g, opt_d)
    x = G.sample(1000)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
    ax1.plot([h[0] for h in history], label="D loss")
    ax1.plot([h[1] for h in history], label="G loss")
    ax1.set_xlabel("step")
    ax1.legend()
    ax2.scatter(ring.means[:, 0], ring.means[:, 1], marker="+", s=200, c="k", label="modes")
    ax2.scatter(x[:, 0], x[:, 1], s=3, alpha=0.5, label="your G")
    ax2.set_aspect("equal")
    ax2.legend()
    plt.show()
except NotImplementedError:
    print("(finish the exercises above to see your GAN train)")
