# %% [markdown]
# # Exercises 06: A convolutional GAN on real handwriting
#
# Three exercises from lesson 06 (`notebooks/06_dcgan_digits.ipynb`): the size formula of a
# transposed convolution, a convolutional generator and a convolutional discriminator for
# the 8x8 digits. Replace each `raise NotImplementedError` with your code, then run the
# check cell below it: it prints ✅ when your code is right, or says what is wrong.
#
# At the end, your two networks train against each other for a few hundred steps (about
# 10 seconds), so you can see your generator start to draw.
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

# %% [markdown]
# ## Exercise 6.1: the transposed convolution's output size
#
# Write `transposed_conv_size(size, kernel, stride, padding)`: the height (and width) of
# what `nn.ConvTranspose2d(..., kernel_size=kernel, stride=stride, padding=padding)` makes
# of a `size` x `size` input, as an `int`.
#
# Think of the lesson's picture: every input pixel stamps a `kernel` x `kernel` copy of the
# kernel, the stamps sit `stride` pixels apart, and then `padding` rows (and columns) are
# cropped from **each** border. Where does the last stamp start, and where does it end?
# (The check compares your answer with PyTorch on about 200 combinations.)


# %%
def transposed_conv_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output height of a transposed convolution on a size x size input."""
    # BEGIN SOLUTION
    # the last stamp starts at (size - 1) * stride and is kernel wide; crop padding from both sides
    return (size - 1) * stride - 2 * padding + kernel
    # END SOLUTION


# %%
checks.transposed_conv_size(transposed_conv_size)

# %% [markdown]
# With your formula: how a 2x2 grid grows through the generator's two layers (kernel 4,
# stride 2, padding 1), and what a kernel of 3 would do instead.

# %%
try:
    for kernel in (4, 3):
        sizes = [2]
        for _ in range(2):
            sizes.append(transposed_conv_size(sizes[-1], kernel, 2, 1))
        print(f"kernel {kernel}, stride 2, padding 1:", " -> ".join(f"{n}x{n}" for n in sizes))
except NotImplementedError:
    print("(finish exercise 6.1 to see the sizes)")

# %% [markdown]
# ## Exercise 6.2: a convolutional generator
#
# Write `make_conv_generator(latent_dim)` returning an `nn.Module` that maps noise of shape
# `(B, latent_dim)` to images of shape `(B, 1, 8, 8)` with pixels in $[0, 1]$, like the
# lesson's generator:
#
# 1. `nn.Linear(latent_dim, 64 * 2 * 2)`, batch norm (`nn.BatchNorm1d`), ReLU;
# 2. reshape to `(B, 64, 2, 2)`: a 2x2 grid of 64 feature maps (`nn.Unflatten(1, (64, 2, 2))`
#    does this inside an `nn.Sequential`; or write a class whose `forward` calls `.view`);
# 3. `nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1)` (2x2 -> 4x4),
#    `nn.BatchNorm2d(32)`, ReLU;
# 4. `nn.ConvTranspose2d(32, 1, kernel_size=4, stride=2, padding=1)` (4x4 -> 8x8), then a
#    sigmoid, so that every pixel lies in $[0, 1]$ like the data.
#
# (The check tries two values of `latent_dim` and two batch sizes, and makes sure the
# gradient reaches every layer.)


# %%
def make_conv_generator(latent_dim: int) -> nn.Module:
    """A generator: noise (B, latent_dim) -> images (B, 1, 8, 8) in [0, 1]."""
    # BEGIN SOLUTION
    return nn.Sequential(
        nn.Linear(latent_dim, 64 * 2 * 2), nn.BatchNorm1d(64 * 2 * 2), nn.ReLU(),
        nn.Unflatten(1, (64, 2, 2)),  # (B, 256) -> (B, 64, 2, 2)
        nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),  # -> (B, 32, 4, 4)
        nn.ConvTranspose2d(32, 1, kernel_size=4, stride=2, padding=1),  # -> (B, 1, 8, 8)
        nn.Sigmoid(),  # pixels in [0, 1]
    )
    # END SOLUTION


# %%
checks.make_conv_generator(make_conv_generator)

# %% [markdown]
# ## Exercise 6.3: a convolutional discriminator
#
# Write `make_conv_discriminator()` returning an `nn.Module` that maps images of shape
# `(B, 1, 8, 8)` to **logits** of shape `(B,)`, one per image:
#
# 1. `nn.Conv2d(1, 32, kernel_size=4, stride=2, padding=1)` (8x8 -> 4x4), `nn.LeakyReLU(0.2)`;
# 2. `nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1)` (4x4 -> 2x2), `nn.LeakyReLU(0.2)`;
# 3. flatten to `(B, 256)` and `nn.Linear(256, 1)`; then drop the last dimension, so the
#    output is `(B,)`, not `(B, 1)` (`nn.Flatten(0)` at the end of an `nn.Sequential`
#    does it, or `.squeeze(1)` in a `forward`).
#
# No sigmoid at the end: the losses take logits. And no batch norm: each image must be
# judged on its own, whatever else is in its batch (the check tests that).


# %%
def make_conv_discriminator() -> nn.Module:
    """A discriminator: images (B, 1, 8, 8) -> logits (B,)."""
    # BEGIN SOLUTION
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2),  # -> (B, 32, 4, 4)
        nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2),  # -> (B, 64, 2, 2)
        nn.Flatten(),  # -> (B, 256)
        nn.Linear(64 * 2 * 2, 1),  # -> (B, 1)
        nn.Flatten(0),  # -> (B,)
    )
    # END SOLUTION


# %%
checks.make_conv_discriminator(make_conv_discriminator)

# %% [markdown]
# ## See your GAN start to draw
#
# Your generator and discriminator, trained against each other for 400 steps with the
# loop of lesson 05 (non-saturating loss, Adam), about 10 seconds. That is a tenth of the
# lesson's run, without its R1 penalty and learning-rate decay: expect rough digits, often
# of only a few kinds (lesson 05's mode collapse, which the lesson's recipe cures).

# %%
try:
    digits = data.load_digits()
    torch.manual_seed(0)
    G, D = make_conv_generator(32), make_conv_discriminator()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.99))
    gen = torch.Generator().manual_seed(0)
    for step in range(400):
        real, _ = digits.sample(64, generator=gen)  # (64, 1, 8, 8)
        fake = G(torch.randn(64, 32, generator=gen))  # (64, 1, 8, 8)
        d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-D(fake)).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
    G.eval()  # batch norm: running statistics
    with torch.no_grad():
        x = G(torch.randn(40, 32, generator=torch.Generator().manual_seed(1)))
    widgets.show_digits(x, nrow=10, title="your generator after 400 steps")
    plt.show()
except NotImplementedError:
    print("(finish exercises 6.2 and 6.3 to see your GAN train)")
