# %% [markdown]
# Generated from solutions/01_what_generative_models_do.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Exercises 01: What a generative model does
#
# Two exercises from lesson 01 (`notebooks/01_what_generative_models_do.ipynb`): a
# sampler for the ring of 8 Gaussians and the log density of an equal-weight Gaussian
# mixture. Replace each `raise NotImplementedError` with your code, then run the check
# cell below it: it prints ✅ when your function is right, or says what is wrong.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import math

import matplotlib.pyplot as plt
import torch

from genai_course import checks, data, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)

# %% [markdown]
# ## Exercise 1.1: sampling the ring of 8
#
# Write `sample_ring8(n, generator)` that returns `n` points from the ring of 8 Gaussians
# as a float32 tensor of shape `(n, 2)`:
#
# * the means are $\mu_k = (\cos\frac{2\pi k}{8}, \sin\frac{2\pi k}{8})$ for $k = 0, \dots, 7$;
# * every point picks its mode uniformly at random, then adds Gaussian noise with std $\sigma = 0.01$:
#   $x = \mu_k + \sigma\,\varepsilon$ with $\varepsilon \sim \mathcal{N}(0, I)$.
#
# Hints: draw all mode indices at once with `torch.randint(8, (n,), generator=generator)`
# and all the noise with `torch.randn(n, 2, generator=generator)`; index the `(8, 2)` means
# with the `(n,)` indices to get an `(n, 2)` tensor. Pass `generator=` to *every* random
# call, so that the same seed gives the same points.


# %%
def sample_ring8(n: int, generator: torch.Generator) -> torch.Tensor:
    """n points from the ring of 8 Gaussians (std 0.01): returns (n, 2) float32."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.sample_ring8(sample_ring8)

# %% [markdown]
# ## Exercise 1.2: the mixture's log density
#
# Write `mixture_log_prob(x, means, std)` for points `x` of shape `(N, 2)`, mode centres
# `means` of shape `(K, 2)` and one std (a float), returning $\log p(x)$ of shape `(N,)` for
# the equal-weight mixture of round Gaussians:
#
# $$\log p(x) = \log \sum_{k=1}^{K} \exp\!\left(-\frac{\|x-\mu_k\|^2}{2\sigma^2}\right) - \log K - \log(2\pi\sigma^2).$$
#
# Hints: the squared distances of every point to every mean form an `(N, K)` tensor:
# `(x[:, None, :] - means[None, :, :]).pow(2).sum(-1)`. Do not take `torch.exp` and then
# `torch.log` yourself: with $\sigma = 0.01$ the exponentials underflow to 0; use
# `torch.logsumexp(..., dim=1)`.


# %%
def mixture_log_prob(x: torch.Tensor, means: torch.Tensor, std: float) -> torch.Tensor:
    """log p(x) of the equal-weight Gaussian mixture: x (N, 2), means (K, 2) -> (N,)."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.mixture_log_prob(mixture_log_prob)

# %% [markdown]
# ## See your results
#
# Your samples over your log density of the ring (darker = more likely; only the top 30
# nats are shaded).

# %%
try:
    ring = data.ring8()
    x = sample_ring8(2000, torch.Generator().manual_seed(0))  # (2000, 2)
    t = torch.linspace(-1.5, 1.5, 300)
    yy, xx = torch.meshgrid(t, t, indexing="ij")  # (300, 300) each
    logp = mixture_log_prob(torch.stack([xx.reshape(-1), yy.reshape(-1)], 1), ring.means, ring.std).reshape(300, 300)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(logp, origin="lower", extent=(-1.5, 1.5, -1.5, 1.5), cmap="Blues", vmin=logp.max().item() - 30)
    ax.scatter(x[:, 0], x[:, 1], s=2, c="C1", alpha=0.5)
    ax.set(title="your samples over your log density", aspect="equal")
    plt.show()
except NotImplementedError:
    print("(finish the exercises above to see the picture)")
