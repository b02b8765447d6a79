# %% [markdown]
# Generated from solutions/07_conditional_gan.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Exercises 07: Customizable generation
#
# Three exercises from lesson 07 (`notebooks/07_conditional_gan.ipynb`): the pieces that
# let you ask a GAN for a particular digit. You append the label to the noise, write a
# generator that draws the class it is asked for, and compute a projection
# discriminator's logit. Replace each `raise NotImplementedError` with your code, then
# run the check cell below it: it prints ✅ when your code is right, or says what is wrong.
#
# Notation: a batch of $B$ noise vectors $z$ of size `latent_dim`, labels $y \in \{0, \dots, K-1\}$
# (whole numbers, int64) with $K$ = `num_classes`, and images of shape (B, 1, 8, 8) with
# pixels in $[0, 1]$.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks, gan, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)

# %% [markdown]
# ## Exercise 7.1: appending the label to z
#
# Write `append_label(z, y, num_classes)`: turn the labels `y` (shape (B,), int64) into
# one-hot vectors of `num_classes` entries (all 0 except a 1 at position $y$) and put
# them **after** z:
#
# $$\text{input} = [\,z\,;\ \mathrm{onehot}(y)\,] \in \mathbb{R}^{\text{latent\_dim} + K}$$
#
# Return a float32 tensor of shape (B, latent_dim + num_classes). Hint:
# `F.one_hot(y, num_classes)` returns whole numbers; convert them with `.float()` before
# `torch.cat([...], dim=1)`.


# %%
def append_label(z: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """z: (B, latent_dim), y: (B,) int64 -> (B, latent_dim + num_classes)."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.append_label(append_label)

# %% [markdown]
# What the generator's first layer receives, for one noise vector and the labels 0 to 9
# (one row each): the same z on the left, and the one-hot label on the right, a diagonal.

# %%
try:
    inputs = append_label(torch.randn(1, 16).repeat(10, 1), torch.arange(10), 10)  # (10, 26)
    plt.figure(figsize=(7, 3))
    plt.imshow(inputs, cmap="coolwarm", vmin=-2.5, vmax=2.5)
    plt.colorbar(shrink=0.6)
    plt.axvline(15.5, color="k")
    plt.xlabel("input entry: z (16) | one-hot label (10)")
    plt.ylabel("label y")
    plt.show()
except NotImplementedError:
    print("(finish exercise 7.1 to see the picture)")

# %% [markdown]
# ## Exercise 7.2: a conditional generator
#
# Write `make_conditional_generator(latent_dim, num_classes)` returning an `nn.Module`
# whose `forward(z, y)` maps noise (B, latent_dim) and labels (B,) to images
# (B, 1, 8, 8) with pixels in $[0, 1]$, and whose output depends on the label.
#
# Any architecture that does this passes. The simplest: append the one-hot label to z
# (your `append_label`), then an MLP, for example `Linear(latent_dim + K, 128)`, ReLU,
# `Linear(128, 64)`, a sigmoid (pixels in $[0, 1]$), and reshape the 64 numbers to
# (B, 1, 8, 8). (The lesson's generator does the same with transposed convolutions.)
#
# The check asks your generator for every label with the *same* z: if the images are
# identical, the generator ignores its label.


# %%
def make_conditional_generator(latent_dim: int, num_classes: int) -> nn.Module:
    """A generator G(z (B, latent_dim), y (B,)) -> images (B, 1, 8, 8) in [0, 1]."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.make_conditional_generator(make_conditional_generator)

# %% [markdown]
# Your (untrained) generator with one noise vector per column and the labels 0 to 9 down
# the rows: before training the rows differ only in meaningless ways. Lesson 07 trains
# a generator like this until row $k$ shows the digit $k$.

# %%
try:
    torch.manual_seed(0)
    G = make_conditional_generator(16, 10)
    with torch.no_grad():
        x = G(torch.randn(10, 16).repeat(10, 1), torch.arange(10).repeat_interleave(10))  # row k asks for k
    fig, axes = plt.subplots(10, 10, figsize=(4, 4))
    for ax, image in zip(axes.flat, x):
        ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
    plt.show()
except NotImplementedError:
    print("(finish exercises 7.1 and 7.2 to see the picture)")

# %% [markdown]
# ## Exercise 7.3: the projection discriminator's logit
#
# A projection discriminator computes features $h = \phi(x) \in \mathbb{R}^F$ of an image,
# then scores them twice: once for "is this a real digit at all" and once for "does it
# match the label $y$":
#
# $$D(x, y) = \underbrace{w^\top h + b}_{\texttt{head}(h)} + \underbrace{\langle e_y, h\rangle}_{\text{projection}}$$
#
# where $e_y$ is row $y$ of a learned table of class vectors, `embed(y)`.
#
# Write `projection_logits(h, y, embed, head)`: `h` has shape (B, F), `y` (B,), `embed`
# is an `nn.Embedding(K, F)` and `head` an `nn.Linear(F, 1)`. Return one logit per
# example, shape (B,). Hints: `head(h)` has shape (B, 1); the inner product of two
# (B, F) tensors, row by row, is `(a * b).sum(dim=1)`.


# %%
def projection_logits(h: torch.Tensor, y: torch.Tensor, embed: nn.Embedding, head: nn.Linear) -> torch.Tensor:
    """h: (B, F), y: (B,) -> logits (B,): head(h) + <embed(y), h>."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.projection_logits(projection_logits)

# %% [markdown]
# Your function with the library's discriminator's own layers gives the library's logits:

# %%
try:
    D = gan.ConvDiscriminator(gan.ConvDiscriminatorConfig(num_classes=10))
    x, y = torch.rand(8, 1, 8, 8), torch.arange(8)
    with torch.no_grad():
        mine = projection_logits(D.features(x), y, D.embed, D.head)
        print("same logits as gan.ConvDiscriminator:", torch.allclose(mine, D(x, y), atol=1e-6))
except NotImplementedError:
    print("(finish exercise 7.3 to compare with the library)")
