# %% [markdown]
# Generated from solutions/06_dcgan_digits.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Exercises 06: A convolutional GAN on real handwriting
#
# Three variations on what lesson 06 (`notebooks/06_dcgan_digits.ipynb`) built: the
# transposed convolution's size with two more of its settings, a generator that grows its
# images without transposed convolutions, and a discriminator made of convolutions only.
# Replace each `raise NotImplementedError` with your code, then run the check cell below
# it: it prints ✅ when your code is right, or says what is wrong. At the end, your two
# networks train against each other, so you can see your generator start to draw.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks, data, threads, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)

# %% [markdown]
# ## Exercise 6.1: the transposed convolution's size, all its settings
#
# The lesson's size formula covers kernel, stride and padding. `nn.ConvTranspose2d` takes
# two more settings:
#
# * `dilation`: the kernel's taps sit `dilation` pixels apart instead of side by side, with
#   holes between them (a dilated kernel sees a wider area with the same weights);
# * `output_padding`: extra rows (and columns) added on one side of the output, after the
#   cropping. A transposed convolution is used to undo the size change of an ordinary
#   convolution, and with a stride above 1 the ordinary one sends two input sizes to the
#   same output size: with kernel 3, stride 2 and padding 1, a 7x7 and an 8x8 image both
#   become 4x4 (the cell below shows it). Going back from 4x4, `output_padding` says which
#   of the two to return.
#
# %%
conv = nn.Conv2d(1, 1, 3, stride=2, padding=1)  # the ordinary convolution: kernel 3, stride 2, padding 1
for n in (7, 8):
    print(f"{n}x{n} ->", "x".join(map(str, conv(torch.zeros(1, 1, n, n)).shape[-2:])))

# %% [markdown]
# Write `transposed_conv_size(size, kernel, stride, padding, dilation, output_padding)`: the
# height (and width) of what `nn.ConvTranspose2d` makes of a `size` x `size` input, as an
# `int`.
#
# Go back to the lesson's picture of the stamps: how wide is one stamp when its taps are
# `dilation` apart, and where does the last stamp end? The check compares your answer with
# PyTorch's and, if they differ, says which setting moves your size the wrong way.


# %%
def transposed_conv_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1, output_padding: int = 0) -> int:
    """Output height of nn.ConvTranspose2d on a size x size input."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.transposed_conv_size(transposed_conv_size)

# %% [markdown]
# With your function: a kernel of 3 with stride 2 and padding 1 does not quite double a
# 2x2 grid; one row of output padding makes it double, as a kernel of 4 does.

# %%
try:
    for kernel, output_padding in [(3, 0), (3, 1), (4, 0)]:
        sizes = [2]
        for _ in range(2):
            sizes.append(transposed_conv_size(sizes[-1], kernel, 2, 1, 1, output_padding))
        print(f"kernel {kernel}, stride 2, padding 1, output_padding {output_padding}:", " -> ".join(f"{n}x{n}" for n in sizes))
except NotImplementedError:
    print("(finish exercise 6.1 to see the sizes)")

# %% [markdown]
# ## Exercise 6.2: a generator without transposed convolutions
#
# A common alternative to the transposed convolution grows an image in two steps:
# `nn.Upsample(scale_factor=2)` repeats every pixel into a 2x2 block (no weights), then an
# ordinary `nn.Conv2d` mixes the enlarged feature maps. It avoids the checkerboard patterns
# that unevenly overlapping stamps can leave (Odena, Dumoulin and Olah, 2016,
# [Distill](https://distill.pub/2016/deconv-checkerboard/)).
#
# Write `make_conv_generator(latent_dim)` returning an `nn.Module` that maps noise of shape
# `(B, latent_dim)` to images of shape `(B, 1, 8, 8)` with pixels in $[0, 1]$, using no
# `nn.ConvTranspose2d`. Its feature maps must go through these shapes (the channel counts
# `C1` and `C2` are yours to choose; the lesson's hand-built generator used 64 and 32):
#
# | after | shape |
# |---|---|
# | a linear layer, reshaped | `(B, C1, 2, 2)` |
# | upsampling, then a convolution | `(B, C2, 4, 4)` |
# | upsampling, then a convolution | `(B, 1, 8, 8)`, in $[0, 1]$ |
#
# Batch norm and ReLU after the hidden layers help it train, as in the lesson. Each
# convolution must keep the height and width it is given: which padding does that for your
# kernel size? (The lesson's edge detector kept an 8x8 digit 8x8.) The check follows the
# sizes of your feature maps and makes sure the gradient reaches every layer.


# %%
def make_conv_generator(latent_dim: int) -> nn.Module:
    """A generator: noise (B, latent_dim) -> images (B, 1, 8, 8) in [0, 1], without transposed convolutions."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.make_conv_generator(make_conv_generator)

# %% [markdown]
# ## Exercise 6.3: a discriminator made of convolutions only
#
# The lesson's discriminator ends with a linear layer on 256 flattened features. Write
# `make_conv_discriminator()` returning an `nn.Module` that maps images of shape
# `(B, 1, 8, 8)` to **logits** of shape `(B,)`, one per image, with **no `nn.Linear`**:
# convolutions (and activations) only. Its feature maps must go through these sizes (channel
# counts are yours to choose):
#
# 8x8 (the image) -> 4x4 -> 2x2 -> 1x1 (one channel: the logit) -> shape `(B,)`
#
# The first two steps are the lesson's strided convolutions. For the last one, picture the
# kernel sliding over a 2x2 map without padding: which kernel fits there in exactly one
# position? No sigmoid at the end: the losses take logits. And no batch norm: each image
# must be judged on its own, whatever else is in its batch (the check tests that).


# %%
def make_conv_discriminator() -> nn.Module:
    """A discriminator: images (B, 1, 8, 8) -> logits (B,), with convolutions only."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.make_conv_discriminator(make_conv_discriminator)

# %% [markdown]
# ## See your GAN start to draw
#
# Your two networks, trained against each other for 400 steps with lesson 05's loop
# (non-saturating loss, Adam without momentum as in the lesson's recipe), without the
# recipe's R1 penalty and learning-rate decay: expect rough digits, some not yet any one
# digit.

# %%
# NBVAL_IGNORE_OUTPUT
try:
    digits = data.load_digits()
    torch.manual_seed(0)
    G, D = make_conv_generator(32), make_conv_discriminator()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.0, 0.99))  # beta1 = 0: no momentum
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.0, 0.99))
    gen = torch.Generator().manual_seed(0)
    start = time.perf_counter()
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
    print(f"400 steps in {time.perf_counter() - start:.0f} s")
    G.eval()  # batch norm: running statistics
    with torch.no_grad():
        x = G(torch.randn(40, 32, generator=torch.Generator().manual_seed(1)))
    widgets.show_digits(x, nrow=10, title="your generator after 400 steps")
    plt.show()
except NotImplementedError:
    print("(finish exercises 6.2 and 6.3 to see your GAN train)")
