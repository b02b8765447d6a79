# %% [markdown]
# # Lesson 06: A convolutional GAN on real handwriting
#
# By the end of this lesson you can train on a laptop CPU a **DCGAN** (deep convolutional
# GAN; Radford, Metz and Chintala, 2016, [arXiv:1511.06434](https://arxiv.org/abs/1511.06434)),
# a GAN whose two networks are built from convolutions, that draws handwritten digits a
# digit classifier recognises, and say what each of its layers does. You build the
# **transposed convolution** (which grows an image) and **batch norm** (which keeps
# activations on a common scale) by hand, assemble the two networks, meet the judge that
# scores digits, and measure what one discrete choice in the generator's noise buys.
#
# Where it sits: lessons 02-05 built a GAN for points in the plane and its training loop;
# this lesson keeps the loop and the losses for images of 8x8 pixels. Lesson 07 adds a
# label: "draw me a 7".

# %%
# The one switch of this lesson, for slow laptops. False: every model trains here, as the
# lesson is written. True: each one is loaded instead from the runs `genai-course pretrain 06`
# (or `--all`) saved in runs/pretrained/: the same weights, losses and pictures, in seconds.
# A run that is missing or was trained with other settings is trained here, and says so.
PRETRAINED = False

# %%
import dataclasses
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import data, gan, metrics, models, threads, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
lesson_start = time.perf_counter()  # the last cell prints how long the whole lesson took

# %% [markdown]
# ## The data: real handwriting
#
# scikit-learn ships 1,797 handwritten digits of 8x8 pixels, so nothing is downloaded.
# Each pixel is a whole number from 0 (white) to 16 (full ink); `data.load_digits()`
# divides by 16, so pixels lie in $[0, 1]$, and shapes them `(N, 1, 8, 8)`: batch, channel
# (one, grey; channels are defined below), height, width. The course's fixed split: 1,497 digits to train on, 300
# held out to judge.

# %%
digits = data.load_digits()
print("training digits:", tuple(digits.x_train.shape), "labels:", tuple(digits.y_train.shape))
print("held-out digits:", tuple(digits.x_test.shape), "| all:", len(digits.x_train) + len(digits.x_test))
print("grey levels:", len(torch.unique(digits.x_train)), "from", digits.x_train.min().item(), "to", digits.x_train.max().item())
widgets.show_digits(digits.x_train[:40], labels=digits.y_train[:40], title="the first 40 training digits")
plt.show()

# %% [markdown]
# ## Why convolutions for images
#
# A **convolution** slides a small grid of weights, its **kernel**, over the image and at
# every position sums the pixels under it, weighted by the kernel: the sums form a new
# image, a **feature map**. A layer with several kernels makes several feature maps, its
# output **channels**; a **CNN** (convolutional neural network) is built mostly from such
# layers. Where an MLP weighs every pixel separately, a convolution builds in two facts
# about images: a stroke is a few neighbouring pixels (**locality**: the kernel sees a
# small patch), and a stroke is a stroke wherever it is (**shared weights**: one kernel
# serves every position).
#
# Below, a 3x3 kernel that responds to vertical edges: positive (red) where ink starts,
# negative (blue) where it ends. `padding=1` adds a border of zeros, so that the kernel
# also sits on the edge pixels and the output stays 8x8.

# %%
edge = torch.tensor([[-1.0, 0.0, 1.0]] * 3).view(1, 1, 3, 3)  # (C_out, C_in, 3, 3)
x0 = digits.x_train[:1]  # (1, 1, 8, 8)
response = F.conv2d(x0, edge, padding=1)  # (1, 1, 8, 8): the same 9 weights at all 64 positions

fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
axes[0].imshow(x0[0, 0], cmap="gray_r", vmin=0, vmax=1)
axes[0].set_title("a digit")
axes[1].imshow(edge[0, 0], cmap="RdBu_r", vmin=-1.5, vmax=1.5)
axes[1].set_title("a 3x3 kernel")
axes[2].imshow(response[0, 0], cmap="RdBu_r", vmin=-3, vmax=3)
axes[2].set_title("its response everywhere")
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %% [markdown]
# The **stride** is how far the kernel moves between positions: with stride 2 the feature
# map is half as wide. Shared weights make a network far smaller: the discriminator's first
# layer maps an 8x8 image to 32 maps of 4x4 with one 4x4 kernel per map, where a linear
# layer of the same sizes needs a weight for every (pixel, output) pair.

# %%
def n_params(module):
    return sum(p.numel() for p in module.parameters())


conv_layer = nn.Conv2d(1, 32, kernel_size=4, stride=2, padding=1)  # (B, 1, 8, 8) -> (B, 32, 4, 4)
dense_layer = nn.Linear(64, 32 * 4 * 4)  # (B, 64) -> (B, 512)
print(f"first layer:  convolution {n_params(conv_layer):,} parameters, linear {n_params(dense_layer):,}")
conv_d = gan.ConvDiscriminator(gan.ConvDiscriminatorConfig(channels=32))  # 32 maps at 4x4, 64 at 2x2
mlp_d = nn.Sequential(nn.Linear(64, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))  # same layer sizes
print(f"discriminator: convolutional {n_params(conv_d):,} parameters, MLP with the same layer sizes {n_params(mlp_d):,}")

# %% [markdown]
# ## Transposed convolution: growing an image
#
# A generator must *grow* a small grid of features into an image, the reverse of what
# strided convolutions do. The **transposed convolution** does it, and is simpler than its
# name:
#
# > every input pixel stamps a copy of the kernel, scaled by the pixel's value, into the
# > output; the stamps sit `stride` pixels apart and add up where they overlap; then
# > `padding` rows and columns are cropped from every border.
#
# (With several channels, each input channel stamps its own kernel into each output
# channel.) Input size $n$, stride $s$ and kernel size $k$ give a canvas of
# $(n - 1)s + k$ pixels, and cropping $p$ from each side leaves
#
# $$\text{out} = (n - 1)\,s - 2p + k .$$

# %%
def conv_transpose_by_hand(x, weight, bias, stride, padding):
    """x: (B, C_in, H, W), weight: (C_in, C_out, k, k), bias: (C_out,) -> (B, C_out, H_out, W_out)."""
    B, C_in, H, W = x.shape
    k = weight.shape[2]
    full = torch.zeros(B, weight.shape[1], (H - 1) * stride + k, (W - 1) * stride + k)  # the uncropped canvas
    for i in range(H):
        for j in range(W):
            # pixel (i, j) of every input channel stamps its scaled kernel: (B, C_in) x (C_in, C_out, k, k)
            stamp = torch.einsum("bc,cokl->bokl", x[:, :, i, j], weight)  # (B, C_out, k, k)
            full[:, :, i * stride : i * stride + k, j * stride : j * stride + k] += stamp
    out = full[:, :, padding : full.shape[2] - padding, padding : full.shape[3] - padding]  # crop the padding
    return out + bias.view(1, -1, 1, 1)


# %% [markdown]
# A 2x2 input, a 4x4 kernel, stride 2 and padding 1 (our generator's setting): each input
# pixel stamps its kernel on a 6x6 canvas, 2 pixels from its neighbours' stamps; they
# overlap in the middle; cropping 1 pixel from each border leaves the dashed square, 4x4:
# twice the input's size.

# %%
x_small = torch.tensor([[1.0, -0.5], [0.5, 1.0]]).view(1, 1, 2, 2)  # (B, C_in, 2, 2)
kernel = torch.tensor([[0.2, 0.5, 0.5, 0.2], [0.5, 1.0, 1.0, 0.5], [0.5, 1.0, 1.0, 0.5], [0.2, 0.5, 0.5, 0.2]]).view(1, 1, 4, 4)
no_bias = torch.zeros(1)

fig, axes = plt.subplots(1, 6, figsize=(16, 3))
for ax, (i, j) in zip(axes, [(0, 0), (0, 1), (1, 0), (1, 1)]):
    one_pixel = torch.zeros_like(x_small)
    one_pixel[0, 0, i, j] = x_small[0, 0, i, j]
    ax.imshow(conv_transpose_by_hand(one_pixel, kernel, no_bias, stride=2, padding=0)[0, 0], cmap="RdBu_r", vmin=-2, vmax=2)
    ax.set_title(f"stamp of x[{i},{j}] = {x_small[0, 0, i, j].item():g}", fontsize=10)
axes[4].imshow(conv_transpose_by_hand(x_small, kernel, no_bias, stride=2, padding=0)[0, 0], cmap="RdBu_r", vmin=-2, vmax=2)
axes[4].add_patch(plt.Rectangle((0.5, 0.5), 4, 4, fill=False, ls="--", lw=2))
axes[4].set_title("sum of the stamps: 6x6", fontsize=10)
axes[5].imshow(conv_transpose_by_hand(x_small, kernel, no_bias, stride=2, padding=1)[0, 0], cmap="RdBu_r", vmin=-2, vmax=2)
axes[5].set_title("padding 1 cropped: 4x4", fontsize=10)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %% [markdown]
# `nn.ConvTranspose2d` computes the same, here for the generator's two upsampling layers
# and an odd setting; the last column is the formula's size:

# %%
def transposed_size(n, kernel, stride, padding):
    return (n - 1) * stride - 2 * padding + kernel


for c_in, c_out, k, s, p, n in [(64, 32, 4, 2, 1, 2), (32, 1, 4, 2, 1, 4), (3, 2, 3, 3, 2, 4)]:
    layer = nn.ConvTranspose2d(c_in, c_out, kernel_size=k, stride=s, padding=p)
    x = torch.randn(5, c_in, n, n)
    mine = conv_transpose_by_hand(x, layer.weight, layer.bias, stride=s, padding=p)
    print(f"kernel {k}, stride {s}, padding {p}: {n}x{n} -> {mine.shape[-1]}x{mine.shape[-1]},",
          "same as nn.ConvTranspose2d:", torch.allclose(mine, layer(x), atol=1e-5), "| formula:", transposed_size(n, k, s, p))

# %% [markdown]
# With kernel 4, stride 2 and padding 1, $\text{out} = (n - 1) \cdot 2 - 2 + 4 = 2n$: each
# such layer doubles the size, so two take a 2x2 grid of features to an 8x8 image.

# %% [markdown]
# ## Batch norm: keeping activations on a common scale
#
# As a GAN trains, each layer's weights grow or shrink, and with them the scale of the next
# layer's input. **Batch normalisation** (Ioffe and Szegedy, 2015,
# [arXiv:1502.03167](https://arxiv.org/abs/1502.03167)) removes that drift: for each
# channel $c$ it takes the mean and variance over the batch and all positions,
#
# $$\mu_c = \frac{1}{B H W}\sum_{b, i, j} x_{b c i j}, \qquad
#   \sigma^2_c = \frac{1}{B H W}\sum_{b, i, j} (x_{b c i j} - \mu_c)^2,$$
#
# standardises, then rescales and shifts with two learned numbers per channel, $\gamma_c$
# and $\beta_c$:
#
# $$y_{b c i j} = \gamma_c\, \frac{x_{b c i j} - \mu_c}{\sqrt{\sigma^2_c + \epsilon}} + \beta_c .$$
#
# $\epsilon$ ($10^{-5}$) keeps the division finite, like Adam's (lesson 03). Batch norm's
# $\gamma_c$ and $\beta_c$ are not R1's weight $\gamma$ (lesson 04) nor Adam's
# $\beta_1, \beta_2$.

# %%
def batch_norm_by_hand(x, gamma, beta, eps=1e-5):
    """x: (B, C, H, W); gamma, beta: (C,) -> (B, C, H, W), normalised per channel."""
    mu = x.mean(dim=(0, 2, 3), keepdim=True)  # (1, C, 1, 1): over batch and space
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)  # (1, C, 1, 1)
    return gamma.view(1, -1, 1, 1) * (x - mu) / torch.sqrt(var + eps) + beta.view(1, -1, 1, 1)


bn = nn.BatchNorm2d(32)
with torch.no_grad():  # non-trivial gamma and beta, so that the comparison tests them too
    bn.weight.uniform_(0.5, 2.0)
    bn.bias.uniform_(-1.0, 1.0)
x = 3 * torch.randn(16, 32, 4, 4) + 1
bn.train()  # training mode: the statistics of this batch
print("same as nn.BatchNorm2d in training mode:", torch.allclose(batch_norm_by_hand(x, bn.weight, bn.bias), bn(x), atol=1e-5))

# %% [markdown]
# What it buys: the generator's first upsampling layer, fed inputs at three scales. Without
# batch norm each channel's spread follows the input's; with it, every channel comes out
# with standard deviation 1 ($\gamma = 1$ and $\beta = 0$ at the start).

# %%
torch.manual_seed(0)
up1, bn1 = nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.BatchNorm2d(32)
h = torch.randn(256, 64, 2, 2)  # (B, 2C, 2, 2)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), sharey=True)
for scale in (0.1, 1.0, 10.0):
    with torch.no_grad():
        a = up1(scale * h)  # (B, C, 4, 4)
        std_before, std_after = a.std(dim=(0, 2, 3)), bn1(a).std(dim=(0, 2, 3))  # (C,) per channel
    axes[0].plot(std_before, "o-", ms=3, label=f"input x {scale:g}")
    axes[1].plot(std_after, "o-", ms=3, label=f"input x {scale:g}")
axes[0].set(yscale="log", xlabel="channel", ylabel="std of the channel's activations", title="without batch norm")
axes[1].set(yscale="log", xlabel="channel", title="with batch norm")
axes[1].legend(loc="lower right")
plt.show()

# %% [markdown]
# In training mode each image's output depends on the other images of its batch (through
# $\mu_c$ and $\sigma_c$). In **eval mode** (`net.eval()`) batch norm uses running averages
# of $\mu_c$ and $\sigma^2_c$ kept during training instead, so each image is on its own;
# `model.sample` and the widgets put the generator in eval mode.

# %% [markdown]
# ## The generator, by hand
#
# A linear layer followed by two transposed convolutions of kernel 4, stride 2 and padding
# 1. Batch norm and ReLU follow each hidden layer; a sigmoid puts the pixels in $[0, 1]$,
# like the data. For now $z$ is 16 Gaussian numbers; the recipe adds 10 more before
# training.

# %%
class MyConvGenerator(nn.Module):
    def __init__(self, z_dim=16, channels=32):
        super().__init__()
        # the blocks are named `project` and `up`, like the library's, so that weights can be swapped
        self.project = nn.Sequential(  # (B, z_dim) -> (B, 2C, 2, 2)
            nn.Linear(z_dim, 2 * channels * 2 * 2), nn.BatchNorm1d(2 * channels * 2 * 2), nn.ReLU(),
            nn.Unflatten(1, (2 * channels, 2, 2)),  # 256 numbers -> 64 maps of 2x2 (a reshape, no weights)
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, kernel_size=4, stride=2, padding=1),  # -> (B, C, 4, 4)
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, kernel_size=4, stride=2, padding=1),  # -> (B, 1, 8, 8)
            nn.Sigmoid(),  # pixels in [0, 1]
        )

    def forward(self, z):
        return self.up(self.project(z))


torch.manual_seed(0)
my_G = MyConvGenerator()
z = torch.randn(16, 16, generator=torch.Generator().manual_seed(0))  # (B, z_dim)
widgets.draw_network(my_G, z, title="MyConvGenerator")
plt.show()

# %% [markdown]
# From $z$ at the top down to the image: the linear layer makes 256 numbers per $z$,
# `Unflatten` arranges them as 64 maps of 2x2, the first transposed convolution doubles
# them to 4x4 (32 channels), the second to 8x8 with one channel. Batch norm, ReLU and the
# sigmoid, drawn in the boxes of the layers they follow, change no shape; each box also
# gives its layer's number of parameters. The library's `gan.ConvGenerator` is the same
# network, in training and in eval mode:

# %%
lib_G = gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=16, channels=32))  # the recipe's G without the code, at our width
lib_G.load_state_dict(my_G.state_dict())
print("training mode, same images:", torch.allclose(my_G.train()(z), lib_G.train()(z), atol=1e-6))
print("eval mode, same images:", torch.allclose(my_G.eval()(z), lib_G.eval()(z), atol=1e-6))

# %% [markdown]
# ## The discriminator, by hand
#
# The mirror image, with two differences. LeakyReLU (slope 0.2 for negative inputs) keeps
# a gradient flowing to G where a unit is off. And **no batch norm**: D judges real and
# fake images in one batch, and each score must not depend on the others; R1 (lesson 04)
# also needs the gradient of each image's own score.

# %%
class MyConvDiscriminator(nn.Module):
    def __init__(self, channels=32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=4, stride=2, padding=1),  # (B, 1, 8, 8) -> (B, C, 4, 4)
            nn.LeakyReLU(0.2),
            nn.Conv2d(channels, 2 * channels, kernel_size=4, stride=2, padding=1),  # -> (B, 2C, 2, 2)
            nn.LeakyReLU(0.2),
            nn.Flatten(),  # -> (B, 2C * 4)
        )
        self.head = nn.Linear(2 * channels * 4, 1)

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)  # (B,): one logit per image


torch.manual_seed(0)
my_D = MyConvDiscriminator()
x = digits.x_train[:16]
widgets.draw_network(my_D, x, title="MyConvDiscriminator")
plt.show()
lib_D = gan.ConvDiscriminator(gan.ConvDiscriminatorConfig(channels=32))
lib_D.load_state_dict(my_D.state_dict())
print("same logits as gan.ConvDiscriminator:", torch.allclose(my_D(x), lib_D(x), atol=1e-6))

# %% [markdown]
# From the top: two strided convolutions take 8x8 to 4x4 to 2x2 while the channels go 1 ->
# 32 -> 64; `Flatten` lays the maps out as 256 features, and the linear layer makes one
# logit of them. The box "reshaped in forward()" is the `squeeze(1)` that turns `(B, 1)`
# into `(B,)`. With batch norm, the same real digit would score differently in a batch of
# digits and in a batch of noise:

# %%
torch.manual_seed(0)
bn_D = nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(32 * 16, 1))
noise = torch.rand(15, 1, 8, 8, generator=torch.Generator().manual_seed(0))
with torch.no_grad():
    score_among_digits = bn_D(digits.x_train[:16])[0]
    score_among_noise = bn_D(torch.cat([digits.x_train[:1], noise]))[0]
    plain = (my_D(digits.x_train[:16])[0], my_D(torch.cat([digits.x_train[:1], noise]))[0])
print("with batch norm, digit 0's score depends on its batch-mates:", not torch.allclose(score_among_digits, score_among_noise))
print("without (our D), it does not:", torch.allclose(*plain, atol=1e-6))

# %% [markdown]
# ## The judge: a digit classifier
#
# Points in the plane let us count modes; images need a judge, a classifier trained on
# real data. Image GANs are usually judged by the **Inception network** (Szegedy et al.,
# 2016, [arXiv:1512.00567](https://arxiv.org/abs/1512.00567)), a CNN trained to sort
# photographs into 1,000 classes. For 8x8 digits the course has its own judge,
# `metrics.digit_classifier()`, a small CNN trained on the training digits and shipped with
# the package, so every machine judges alike.

# %% [markdown]
# `metrics.digit_metrics(x)` reports three numbers:
#
# * **confident fraction**: the share of images put in one class with probability above
#   0.9;
# * **class entropy**: the entropy of the histogram of predicted classes over $\log 10$,
#   $\;H = -\sum_k p_k \log p_k / \log 10$: 1 when all ten digits are equally common, 0
#   when the generator draws only one (a mode collapse);
# * **feature distance**: how far the images' features lie from real digits' (next cell).

# %% [markdown]
# The **feature distance** is the **FID** (Fréchet inception distance; Heusel et al., 2017,
# [arXiv:1706.08500](https://arxiv.org/abs/1706.08500)) with our classifier in place of
# Inception. Fit a Gaussian to the classifier's last hidden features of the images ($a$)
# and another to those of the held-out digits ($b$); the distance between them is
#
# $$\lVert \mu_a - \mu_b \rVert^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b - 2(\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2})^{1/2}\big),$$
#
# with $\mu$ the **mean vector** (the average feature vector), $\Sigma$ the **covariance**
# matrix (entry $(i, j)$: the average product of features $i$ and $j$'s deviations from
# their means), $\operatorname{tr}$ the **trace** (the sum of the diagonal) and $M^{1/2}$
# the **matrix square root** (the symmetric matrix with no negative eigenvalues whose
# square is $M$). The first term compares where the two sets of features lie, the second
# how they spread. The yardstick is the same distance for the *training* digits
# (`frechet_real`).

# %% [markdown]
# The held-out digits (feature distance 0: they are the reference) and uniform noise; the
# exact numbers vary with your machine's arithmetic, so the next cell checks what they say:

# %%
# NBVAL_IGNORE_OUTPUT
metrics.digit_classifier()  # loaded from the package on first use, then kept for the session
real_report = metrics.digit_metrics(digits.x_test)
noise_report = metrics.digit_metrics(torch.rand(1000, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
print("held-out digits:", real_report)
print("uniform noise:  ", noise_report)

# %%
print("held-out digits: confident fraction >= 0.9:", real_report.confident >= 0.9)
print("held-out digits: class entropy >= 0.98:", real_report.class_entropy >= 0.98)
print("noise: classified 'confidently' more than three times in ten:", noise_report.confident > 0.3)
print("noise: spread over the classes too (entropy > 0.7):", noise_report.class_entropy > 0.7)
print("noise: feature distance more than 10 times the real yardstick:", noise_report.frechet > 10 * noise_report.frechet_real)

# %% [markdown]
# A classifier puts *every* input in some class, and is often confidently wrong on inputs
# unlike its training data: noise passes the confidence test about four times in ten
# (printed above). The feature distance compares whole *distributions* and puts noise far
# away, so the three numbers go together. The lesson's targets for generated digits:
# confident fraction at least 0.90, class entropy at least 0.98, feature distance under 3
# times the yardstick.

# %% [markdown]
# ## One discrete choice in the latent
#
# $G$ is continuous and the Gaussian latent space $\mathbb{R}^{16}$ is connected (any two
# points are joined by a path), so the images of a purely Gaussian $z$ form one connected
# piece. Real digits do not: between a 3 and an 8 there is nothing digit-like. $G$'s images
# must pass through blends between classes, and since every region of $z$ has some
# probability, some samples land on blends.

# %% [markdown]
# So the recipe gives $G$ a **discrete code**: 16 Gaussian numbers followed by a
# **one-hot** vector (zeros but for one entry) for one of 10 choices, drawn uniformly:
#
# $$z = \big[\, u \,;\ \sqrt{d}\; e_k \,\big], \qquad
#   u \sim \mathcal{N}(0, I_d), \quad k \sim \text{Uniform}\{0, \dots, 9\},$$
#
# with $u$ the Gaussian part, $d = 16$ and $e_k$ the one-hot vector with a 1 at position
# $k$. The latent space is now 10 separate copies of $\mathbb{R}^{16}$ whose images need
# not touch: $G$ can switch digits by switching the code, which no label ties to a digit.
# The factor $\sqrt{d}$ gives the code the Gaussian part's average squared length, so that
# the two weigh alike in the first layer. By hand, against the library's `sample_latent`:

# %%
def sample_z(n, latent_dim=16, codes=10, generator=None):
    """(n, latent_dim + codes): Gaussian numbers, then a one-hot code scaled by sqrt(latent_dim)."""
    u = torch.randn(n, latent_dim, generator=generator)  # (n, d): the Gaussian part
    k = torch.randint(codes, (n,), generator=generator)  # (n,): each z's code, uniform over 0..codes-1
    code = F.one_hot(k, codes).float() * latent_dim**0.5  # (n, codes): sqrt(d) at position k, 0 elsewhere
    return torch.cat([u, code], dim=1)  # (n, d + codes)


coded_G = gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=16, codes=10))
z_mine = sample_z(1000, generator=torch.Generator().manual_seed(0))  # (1000, 26)
u_part, code_part = z_mine[:, :16], z_mine[:, 16:]  # (1000, 16), (1000, 10)
print("z:", tuple(z_mine.shape), "| G with a code takes z of width", coded_G.z_dim)
print("code entries that are on, per z:", (code_part != 0).sum(dim=1).unique().tolist(),
      "| their value:", code_part.max(dim=1).values.unique().tolist())
print(f"mean squared length: Gaussian part {(u_part**2).sum(dim=1).mean():.0f}, code {(code_part**2).sum(dim=1).mean():.0f}")
print("same z as the library's sample_latent:", torch.equal(z_mine, coded_G.sample_latent(1000, generator=torch.Generator().manual_seed(0))))

# %% [markdown]
# ## Training
#
# The loop is lesson 05's: one D step, then one G step, non-saturating loss, R1 on D. The
# recipe `dcgan-digits` sets the rest; the settings that matter here:
#
# * `channels`: feature maps at 4x4, 48 for G and 32 for D: the networks above, G wider;
# * `lr_g`, `lr_d`: Adam's learning rates, which fall in a straight line to 0 (lesson 05);
# * `beta1 = 0`: Adam without momentum (lesson 03; `beta2` as there): in a game, momentum
#   keeps pushing the way that suited an earlier opponent. StyleGAN2, a much larger image
#   GAN, does the same (Karras et al., 2020, [arXiv:1912.04958](https://arxiv.org/abs/1912.04958));
# * `r1_gamma`, `r1_every`: R1's weight and its lazy schedule (lesson 04);
# * `ema`: a moving average of G's weights (below).
#
# An automatic search over settings found the learning rates and R1's weight, hence their
# unround values (`docs/tuning.md`).

# %%
model = models.build("dcgan-digits", seed=0)
recipe = model.recipe
print(f"G: latent_dim {recipe.generator.latent_dim}, codes {recipe.generator.codes}, channels {recipe.generator.channels}"
      f" (G takes z of shape (B, {model.G.z_dim})) | D: channels {recipe.discriminator.channels}")
train = recipe.train
print(f"{train.steps} steps, batches of {train.batch_size} | lr_g {train.lr_g}, lr_d {train.lr_d}, lr_decay {train.lr_decay!r} to {train.lr_final}"
      f" | beta1 {train.beta1}, beta2 {train.beta2} | r1_gamma {train.r1_gamma}, r1_every {train.r1_every} | ema {train.ema}")
every = train.steps // 20  # 20 snapshots of G's digits from fixed noise, every 137 steps

# %%
# NBVAL_IGNORE_OUTPUT
snaps = model.snapshots(every=every)
snaps.record(0, model.G, model.D)  # the untrained G too, as "step 0"
model.fit(callbacks=[snaps], pretrained=PRETRAINED)
snaps.record(model.step, model.G, model.D)  # and G as its last step left it (2750 is no multiple of 137)
print(f"{model.step} steps in {model.history.seconds:.0f} s")

# %% [markdown]
# ## The trained generator, judged
#
# `model.sample` draws from a copy of G whose weights are an **exponential moving
# average** (EMA) of G's: after every G step, $\bar\theta \leftarrow 0.99\, \bar\theta + 0.01\, \theta$,
# roughly the last $1 / (1 - 0.99) = 100$ steps. The idea is that while the learning rate
# is large, G jitters, chasing the discriminator of the moment, and an average smooths that
# out; here the rate decays to zero, so by the end there may be little left to smooth. The average and G after
# its last step, judged on the same 1,000 noise vectors:

# %%
# NBVAL_IGNORE_OUTPUT
z_same = model.sampler.sample_latent(1000, generator=torch.Generator().manual_seed(0))  # (1000, z_dim)
with torch.no_grad():
    samples = model.sampler.eval()(z_same)  # (1000, 1, 8, 8): the moving average, what model.sample draws
    from_last_step = model.G.eval()(z_same)
report, last_report = metrics.digit_metrics(samples), metrics.digit_metrics(from_last_step)
print(f"the moving average:    {report}")
print(f"G after its last step: {last_report}")

# %%
print("confident fraction >= 0.90:", report.confident >= 0.90)
print("class entropy >= 0.98:", report.class_entropy >= 0.98)
print("feature distance < 3 x the real yardstick:", report.frechet < 3 * report.frechet_real)
print("and more than 5 times closer than noise:", 5 * report.frechet < noise_report.frechet)
print("G after its last step within 3 points of confident digits:", abs(report.confident - last_report.confident) < 0.03)
widgets.show_digits(samples[:60], nrow=15, title="60 samples from the trained generator")
plt.show()

# %% [markdown]
# Both pass the lesson's targets, and on this seed the average does not win (the two lines
# before the checks). One seed cannot say which is better in general; the recipe, average
# included, was checked on three seeds (`docs/tuning.md`). The rest of the lesson samples
# from the average, as `model.sample` does.

# %% [markdown]
# ## What the code learned
#
# Row $k$, column $j$ holds $G\big([u_j \,;\ \sqrt{16}\, e_k]\big)$: each column keeps one
# Gaussian part, each row one code.

# %%
G = model.sampler.eval()  # the moving average of G's weights
d, n_codes = G.config.latent_dim, G.config.codes  # 16, 10
u = torch.randn(10, d, generator=torch.Generator().manual_seed(0))  # (10, d): one Gaussian part per column
rows = []
for k in range(n_codes):
    code = F.one_hot(torch.full((10,), k), n_codes).float() * d**0.5  # (10, codes): code k, scaled
    rows.append(torch.cat([u, code], dim=1))  # (10, z_dim)
with torch.no_grad():
    by_code = G(torch.cat(rows))  # (100, 1, 8, 8): row k drawn with code k
widgets.show_digits(by_code, nrow=10, title="rows: code 0 to 9; columns: the same Gaussian part")
plt.show()

# %% [markdown]
# How well does each code stick to one class? 200 samples per code, judged by the
# classifier:

# %%
# NBVAL_IGNORE_OUTPUT
judge = metrics.digit_classifier()
majority, share, pooled = [], [], torch.zeros(10)
for k in range(n_codes):
    u_k = torch.randn(200, d, generator=torch.Generator().manual_seed(k))  # (200, d)
    code = F.one_hot(torch.full((200,), k), n_codes).float() * d**0.5  # (200, codes): code k
    with torch.no_grad():
        counts = torch.bincount(judge(G(torch.cat([u_k, code], dim=1))).argmax(dim=1), minlength=10)  # (10,) per class
    pooled += counts  # all codes' samples together
    top = counts.topk(2)
    majority.append(int(top.indices[0]))
    share.append(float(top.values[0]) / 200)
    print(f"code {k}: class {top.indices[0]} in {share[-1]:.0%} of samples, then class {top.indices[1]} in {float(top.values[1]) / 200:.0%}")
print(f"all codes together: the most common class in {float(pooled.max() / pooled.sum()):.0%} of samples")

# %%
print("the codes' majority classes cover at least 8 of the 10 digits:", len(set(majority)) >= 8)
print("on average a code draws its majority class in more than half of its samples:", sum(share) / n_codes > 0.5)
print("while all codes' samples together hold no class more than once in five:", float(pooled.max() / pooled.sum()) < 0.2)

# %% [markdown]
# $G$ saw no labels, yet the codes split the digits among them: their majority classes
# cover most of the ten digits, and a code draws its own class in more than half of its
# samples on average, where a code that meant nothing would draw its commonest class no
# more often than all codes together do (printed under the table: little more than one
# in ten). The table shows the rest: some codes split between two classes, and a digit
# can be the majority of two codes while another is no code's. Which code takes which digit, and how cleanly, changes from one training run to
# the next, even from one machine's rounding to another's. That is how $G$ can draw every
# digit with fewer blends.

# %% [markdown]
# ## What the code buys
#
# The same recipe, seed and number of steps with a purely Gaussian $z$ (`codes=0`):

# %%
# NBVAL_IGNORE_OUTPUT
gaussian_recipe = dataclasses.replace(recipe, generator=dataclasses.replace(recipe.generator, codes=0))
gaussian = models.TrainedDigitsGAN(gaussian_recipe, name="dcgan-gaussian-z", seed=0)
gaussian.fit(pretrained=PRETRAINED)
gaussian_report = metrics.digit_metrics(gaussian.sample(1000, generator=torch.Generator().manual_seed(0)))
print(f"{gaussian.step} steps in {gaussian.history.seconds:.0f} s")
print(f"Gaussian z:         {gaussian_report}")
print(f"with the code:      {report}")

# %%
print("the code adds at least 5 points of confident digits:", report.confident >= gaussian_report.confident + 0.05)
print("both spread over all ten classes (entropy >= 0.98):", min(report.class_entropy, gaussian_report.class_entropy) >= 0.98)

# %% [markdown]
# Each generator was trained once and judged on one draw of 1,000 samples. How much do the
# scores move when only the samples are redrawn?

# %%
# NBVAL_IGNORE_OUTPUT
draws = {"with the code": model, "Gaussian z": gaussian}
redrawn = {name: [metrics.digit_metrics(m.sample(1000, generator=torch.Generator().manual_seed(s))) for s in (1, 2)] for name, m in draws.items()}
for name, (r1, r2) in redrawn.items():
    print(f"{name:14s} draw 1: {r1}\n{name:14s} draw 2: {r2}")
with torch.no_grad():
    x1, x2 = (model.sample(1000, generator=torch.Generator().manual_seed(s)) for s in (1, 2))
    floor = metrics.frechet_distance(judge.features(x1), judge.features(x2))  # same G, two draws
print(f"feature distance between draws 1 and 2 of the generator with the code: {floor:.1f}")

# %%
code_runs = [report, *redrawn["with the code"]]
gauss_runs = [gaussian_report, *redrawn["Gaussian z"]]
print("more confident digits with the code in every draw:", min(r.confident for r in code_runs) > max(r.confident for r in gauss_runs))


def moves(values: list[float]) -> float:
    """How far a score moves across draws, relative to its size: (max - min) / mean."""
    return (max(values) - min(values)) / (sum(values) / len(values))


print("for each generator, the feature distance moves across its three draws, relative to its size,")
print("  more than 3 times as much as the confident fraction:",
      all(moves([r.frechet for r in runs]) > 3 * moves([r.confident for r in runs]) for runs in (code_runs, gauss_runs)))

# %% [markdown]
# In every draw the generator with the code drew more confident digits: that gain is not
# luck of the draw. The feature distance is noisier: two draws of one generator lie the
# distance printed last apart, and relative to its size it moves across draws several
# times as much as the confident fraction, so a gap of a few points between two single
# draws says little (nor does the moving average's gap above). A draw can also come close
# to the real digits' own distance: that yardstick is measured on the training digits,
# not on 1,000 samples, and draws of one generator differ by the noise floor printed
# last, so only gaps well beyond that floor mean anything. All of it is one training seed
# per generator; other seeds would add their own spread.
#
# The Gaussian generator's 20 samples the judge is least sure of, with its two likeliest
# classes above each:

# %%
x_gauss = gaussian.sample(1000, generator=torch.Generator().manual_seed(0))  # the draw judged above
with torch.no_grad():
    probs = judge(x_gauss).softmax(dim=1)  # (1000, 10)
top2 = probs.topk(2, dim=1)
unsure = top2.values[:, 0].argsort()[:20]  # the 20 lowest top probabilities
widgets.show_digits(x_gauss[unsure], nrow=10, labels=[f"{a}/{b}" for a, b in top2.indices[unsure].tolist()],
                    title="the 20 Gaussian-z samples the judge is least sure of")
plt.show()

# %% [markdown]
# Many look like a mix of the two digits the judge hesitates between: the blends that a
# connected latent space cannot avoid entirely.

# %% [markdown]
# ## Watching the digits appear
#
# Scrub through training: the same fixed noise vectors, drawn by G at each snapshot.

# %%
print(f"{len(snaps.z)} noise vectors, drawn at steps", [r["step"] for r in snaps.records])

# %%
# NBVAL_IGNORE_OUTPUT
widgets.digit_scrubber(snaps)

# %% [markdown]
# The first 25 noise vectors as stills. The untrained G draws grey (the sigmoid of small
# numbers is about 0.5). By the first snapshot it draws dark strokes in digit-like shapes,
# some not yet any one digit; later snapshots refine them, and a few noise vectors still
# change digit on the way.

# %%
records = snaps.records
picks = [0, 1, 2, len(records) // 4, len(records) - 1]  # the start, the first two snapshots, about a quarter, the end
fig, axes = plt.subplots(1, 5, figsize=(16, 3.6))
for ax, i in zip(axes, picks):
    widgets.show_digits(records[i]["samples"][:25], nrow=5, ax=ax, title=f"step {records[i]['step']}")
plt.show()

# %% [markdown]
# ## Exploring the latent space
#
# Move the sliders to change the first four Gaussian coordinates of one $z$ (its code stays
# fixed) and watch the digit and eight neighbours change.

# %%
# NBVAL_IGNORE_OUTPUT
widgets.digit_picker(model.sampler)

# %% [markdown]
# Walking the straight line $z(t) = (1 - t)\, z_a + t\, z_b$, $t$ from 0 to 1, between two
# noise vectors morphs one digit into another. The walk moves the code too: between two
# different codes the middle of the path holds a mix of both, a $z$ that sampling never
# draws, and that is where blends appear.

# %%
# NBVAL_IGNORE_OUTPUT
widgets.interpolation(model.sampler)

# %%
t = torch.linspace(0, 1, 10).unsqueeze(1)  # (10, 1)
paths = []
for a, b in [(0, 1), (2, 3), (4, 5), (6, 7)]:
    z_a = G.sample_latent(1, generator=torch.Generator().manual_seed(a))  # (1, z_dim), code included
    z_b = G.sample_latent(1, generator=torch.Generator().manual_seed(b))
    paths.append((1 - t) * z_a + t * z_b)  # (10, z_dim)
with torch.no_grad():
    walk = G(torch.cat(paths))  # (40, 1, 8, 8)
widgets.show_digits(walk, nrow=10, title="rows: from seed a (left) to seed b (right), for 4 pairs of seeds")
plt.show()

# %% [markdown]
# ## Summary
#
# * A convolution's kernel sees a small patch and serves every position, so the networks
#   are small and what they learn holds everywhere.
# * A transposed convolution grows an image: each input pixel stamps a scaled kernel,
#   stride apart, then the padding is cropped; kernel 4, stride 2, padding 1 doubles it.
# * Batch norm keeps G's activations on a common scale; D goes without, so each image is
#   judged on its own.
# * A classifier's confident fraction, class entropy and feature distance tell digits from
#   noise.
# * A discrete code in $z$ lets G switch digits with fewer blends (some codes still mix two
#   classes), and gave more confident digits.
#
# ## Going further
#
# * The **Inception score** (Salimans et al., 2016, [arXiv:1606.03498](https://arxiv.org/abs/1606.03498)):
#   high when the Inception network puts each sample confidently in one class and the
#   samples spread over all classes.
# * InfoGAN (Chen et al., 2016, [arXiv:1606.03657](https://arxiv.org/abs/1606.03657)) adds
#   a network that guesses the code from the image, tying each code to something visible.
# * Other cures for blends: several generators with a learned prior over them (Khayatkhoei,
#   Singh and Elgammal, 2018, [arXiv:1806.00880](https://arxiv.org/abs/1806.00880));
#   rejecting the samples where G stretches $z$ the most (Tanielian et al., 2020,
#   [arXiv:2006.04596](https://arxiv.org/abs/2006.04596)).
# * A moving average of G's weights in GAN training: Yazıcı et al., 2019,
#   [arXiv:1806.04498](https://arxiv.org/abs/1806.04498).
#
# ## Exercises
#
# Open `exercises/06_dcgan_digits.ipynb`: the transposed convolution's size with two more
# of its settings, a generator that grows images without transposed convolutions, and a
# discriminator of convolutions only, each with a check; then your two networks train
# against each other.
#
# Next: lesson 07, conditional generation: pass a label to G and D, and ask for a 7.

# %%
# NBVAL_IGNORE_OUTPUT
print(f"the whole lesson ran in {time.perf_counter() - lesson_start:.0f} s")
