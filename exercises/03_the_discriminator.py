# %% [markdown]
# Generated from solutions/03_the_discriminator.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Exercises 03: The discriminator
#
# Two exercises on lesson 03 (`notebooks/03_the_discriminator.ipynb`): build a *packed*
# discriminator by hand, and measure a discriminator's accuracy when it calls an example
# real only if it is sure enough. Write your code where it says `TODO`, then run the check
# cell below it: it prints ✅ when your code is right, or says what is wrong.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import time

import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks, data, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
ring = data.ring8()

# %% [markdown]
# ## Exercise 3.1: a packed discriminator
#
# The lesson wrote an unpacked discriminator by hand and took packing from the library.
# Now write the packing yourself: `make_discriminator(data_dim, hidden, pack)` returns an
# `nn.Module` $D$ that maps a batch of $B$ examples, shape `(B, data_dim)` with $B$ a
# multiple of `pack`, to **one logit per pack**, shape `(B // pack,)`. Pack $i$ is made of
# the `pack` consecutive examples $i \cdot \text{pack}, \dots, i \cdot \text{pack} +
# \text{pack} - 1$, as in the library; with `pack=1` it is the lesson's discriminator.
#
# * Two hidden layers of `hidden` units with `nn.LeakyReLU(0.2)` after each, then a final
#   linear layer with one output, and no activation after it: $D$ returns logits.
# * Packing adds no new kind of layer. What changes is what one row means: the first
#   layer must see all the examples of a pack side by side. Work out how many numbers
#   that row holds, and which shape the batch must take before the first layer.
# * The check tries `pack` = 1, 2 and 4.


# %%
def make_discriminator(data_dim: int, hidden: int, pack: int) -> nn.Module:
    """A packed discriminator D: (B, data_dim) -> logits (B // pack,), examples pack*i ... pack*i + pack - 1 form pack i."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.make_discriminator(make_discriminator)

# %% [markdown]
# ## Exercise 3.2: accuracy at a confidence threshold
#
# A cautious discriminator calls an example real only when it is more than $p$ sure:
# when its probability $\sigma(\ell)$ is above $p$ (the lesson's accuracy is the case
# $p = 0.5$). Write `discriminator_accuracy(D, real, fake, p)` that returns, as a Python
# `float`, the share of $D$'s verdicts that are right at threshold $p$: a verdict on real
# data is right when $D$ calls it real, a verdict on fakes when it does not.
#
# * $p$ is a probability and $D$ returns logits: make sure you compare like with like
#   (the lesson's first section relates the two).
# * $D$ may be packed, like yours from exercise 3.1: it gives one verdict per pack, not
#   one per row.
# * `real` and `fake` may differ in size: count the right verdicts over all verdicts
#   (don't average the two accuracies).
# * No gradients are needed (lesson 02 showed how to switch them off), and the answer is
#   a Python number, not a tensor.


# %%
def discriminator_accuracy(D, real: torch.Tensor, fake: torch.Tensor, p: float) -> float:
    """Share of D's verdicts that are right when D calls an example real only if sigmoid(logit) > p."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.discriminator_accuracy(discriminator_accuracy)

# %% [markdown]
# ## See your discriminators at work
#
# The lesson's experiment, with your code: the cell below trains two of your
# discriminators from exercise 3.1, unpacked and with `pack=2`, for 400 steps each to
# tell the ring of 8 from a generator collapsed onto mode 0, and prints how long that
# took.

# %%
# NBVAL_IGNORE_OUTPUT
def collapsed(n: int, generator: torch.Generator) -> torch.Tensor:
    """A mode-collapsed generator: all n points on mode 0 of the ring, (n, 2)."""
    return ring.means[0] + ring.std * torch.randn(n, 2, generator=generator)


trained = {}  # pack -> your trained discriminator
try:
    start = time.perf_counter()
    for pack in (1, 2):
        torch.manual_seed(0)
        D = make_discriminator(2, 64, pack)
        opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.99))
        g = torch.Generator().manual_seed(0)
        for _ in range(400):
            real_logits, fake_logits = D(ring.sample(256, generator=g)), D(collapsed(256, g))
            loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + F.binary_cross_entropy_with_logits(
                fake_logits, torch.zeros_like(fake_logits)
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        trained[pack] = D
    print(f"trained 2 discriminators, 400 steps each, in {time.perf_counter() - start:.1f} s")
except NotImplementedError:
    print("(finish exercise 3.1 above to train your discriminators)")

# %% [markdown]
# Your function from exercise 3.2 scores them on held-out data, at the lesson's
# threshold $p = 0.5$ and at a cautious $p = 0.99$. The lesson worked out the ceilings
# at $p = 0.5$: $15/16$ unpacked, $127/128$ packed. Raising $p$ from 0.5 to 0.99 changes
# only the verdicts on examples that $D$ scores between 0.5 and 0.99: called real before,
# they are now called fake. Real ones among them turn from right to wrong, fakes from
# wrong to right, so the change in accuracy is a net one: where it drops, $D$ had more
# real examples than fakes in that band.

# %%
try:
    g_test = torch.Generator().manual_seed(2)
    real_test, fake_test = ring.sample(5000, generator=g_test), collapsed(5000, g_test)
    for pack, D in trained.items():
        accs = [discriminator_accuracy(D, real_test, fake_test, p) for p in (0.5, 0.99)]
        print(f"pack={pack}: held-out accuracy {accs[0]:.2f} at p = 0.5, {accs[1]:.2f} at p = 0.99")
    if len(trained) == 2:
        print("the packed D beats the unpacked one's ceiling 15/16:", discriminator_accuracy(trained[2], real_test, fake_test, 0.5) > 15 / 16)
except NotImplementedError:
    print("(finish exercise 3.2 above to score your discriminators)")
