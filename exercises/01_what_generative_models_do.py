# %% [markdown]
# Generated from solutions/01_what_generative_models_do.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Exercises 01: What a generative model does
#
# Two exercises on lesson 01 (`notebooks/01_what_generative_models_do.ipynb`), each a
# variation on what the lesson built: a ring of 8 whose modes are *not* equally likely,
# the kind of output a generator gives when it has partly collapsed (all modes kept, some
# far more often than others). First its sampler, then its log density. Replace each
# `raise NotImplementedError` with your code, then run the check cell below it: it prints
# ✅ when your function is right, or says what is wrong.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import math

import matplotlib.pyplot as plt
import torch

from genai_course import checks, data, metrics, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)

# %% [markdown]
# ## Exercise 1.1: sampling a ring of 8 with unequal weights
#
# Write `sample_ring8(n, weights, generator)` that returns `n` points from the ring of 8
# Gaussians as a float32 tensor of shape `(n, 2)`, where mode $k$ is picked with
# probability $w_k$ = `weights[k]` (`weights`: shape `(8,)`, non-negative, summing to 1):
#
# * mode $k$ is the one at $\mu_k = (\cos\frac{2\pi k}{8}, \sin\frac{2\pi k}{8})$, $k = 0, \dots, 7$
#   (the check compares the share of points near each $\mu_k$ with $w_k$);
# * every point picks its mode on its own, with these probabilities, then adds Gaussian
#   noise with std $\sigma = 0.01$.
#
# Hints: of the lesson's two steps of ancestral sampling, only the first changes.
# `torch.randint` gives every index the same chance; PyTorch has a function that draws
# indices with the probabilities you give it (read its documentation before you call it).
# As in the lesson, every random draw must use the `generator` you are given, so that the
# same seed gives the same points.


# %%
def sample_ring8(n: int, weights: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """n points from the ring of 8 Gaussians (std 0.01), mode k picked with probability weights[k]: (n, 2) float32."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.sample_ring8(sample_ring8)

# %% [markdown]
# ## Exercise 1.2: the log density of a mixture with unequal weights
#
# Write `mixture_log_prob(x, means, std, weights)` for points `x` of shape `(N, 2)`, mode
# centres `means` of shape `(K, 2)`, one std (a float) and mode weights `weights` of shape
# `(K,)` (non-negative, summing to 1), returning $\log p(x)$ of shape `(N,)` for the mixture
#
# $$p(x) = \sum_{k=1}^{K} w_k\, \mathcal{N}(x;\, \mu_k,\, \sigma^2 I), \qquad \mathcal{N}(x;\, \mu_k,\, \sigma^2 I) = \frac{1}{2\pi\sigma^2}\exp\!\left(-\frac{\|x-\mu_k\|^2}{2\sigma^2}\right).$$
#
# Hints: in the lesson every weight was $1/K$, so it could leave the sum as $-\log K$; an
# unequal weight cannot. Write $w_k\,e^{a_k}$ as a single exponential, and the lesson's
# log-sum-exp applies again. The check also tries points far from every mode, where a
# plain `torch.exp` underflows to 0.


# %%
def mixture_log_prob(x: torch.Tensor, means: torch.Tensor, std: float, weights: torch.Tensor) -> torch.Tensor:
    """log p(x) of the Gaussian mixture with these mode weights: x (N, 2), means (K, 2), weights (K,) -> (N,)."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.mixture_log_prob(mixture_log_prob)

# %% [markdown]
# ## See your results
#
# Your sampler with weight $w_k = (k+1)/36$ for mode $k$ (mode 0 the lightest, mode 7 the
# heaviest), scored with the lesson's yardsticks. The cell also prints the exact reverse
# KL of these weights, $\sum_k w_k \log(8 w_k)$, which the sample's reverse KL estimates.
# Left, the share of your samples nearest each mode against its weight; right, your log
# density at each mode's centre: the heavier the mode, the higher its peak.

# %%
try:
    ring = data.ring8()
    weights = torch.arange(1, 9, dtype=torch.float32) / 36  # (8,) mode k has weight (k + 1) / 36
    x = sample_ring8(2500, weights, torch.Generator().manual_seed(0))  # (2500, 2)
    print(metrics.mode_metrics(x, ring))
    print("exact reverse KL of the weights:", round((weights * (8 * weights).log()).sum().item(), 3))
    share = torch.bincount(torch.cdist(x, ring.means).argmin(1), minlength=8) / len(x)  # (8,)
    peaks = mixture_log_prob(ring.means, ring.means, ring.std, weights)  # (8,) log p at each mode's centre
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
    axes[0].bar(range(8), share, color="C1", label="share of your samples")
    axes[0].plot(range(8), weights, "k_", markersize=20, label="weight $w_k$")
    axes[0].set(xlabel="mode k", ylabel="share", title="your sampler")
    axes[0].legend()
    axes[1].bar(range(8), peaks, color="C0")
    axes[1].set(xlabel="mode k", ylabel="log p (nats)", ylim=(peaks.min().item() - 1, peaks.max().item() + 0.5), title="your log density at each mode's centre")
    plt.show()
except NotImplementedError:
    print("(finish the exercises above to see the picture)")
