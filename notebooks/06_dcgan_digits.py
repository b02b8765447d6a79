# %% [markdown]
# # Lesson 06: A convolutional GAN on real handwriting
#
# By the end of this lesson you can train a GAN that draws handwritten digits which a
# digit classifier recognises, in about a minute on a laptop CPU, and you can say what each
# of its layers does. You will build the two pieces that make a GAN convolutional, the
# **transposed convolution** (which grows an image) and **batch norm** (which keeps
# activations on a common scale), by hand from plain torch, assemble a DCGAN-style
# generator and discriminator, check each against the library's `genai_course.gan`, meet
# the judge that scores generated digits, give the generator's noise one discrete choice,
# then train and watch the digits appear.
#
# Run time: about 1.5 minutes on 2 CPU cores (about a minute of training).
#
# Where it sits: lessons 02-05 built a GAN for points in the plane and a training loop that
# finds every mode. This lesson keeps the loop and the losses and moves to images: 1,797
# real handwritten digits of 8x8 pixels. Lesson 07 adds a label: "draw me a 7".

# %%
# The one switch of this lesson, for slow laptops. False: every model trains here, as the
# lesson is written. True: each one is loaded instead from the runs `genai-course pretrain 06`
# (or `--all`) saved in runs/pretrained/: the same weights, losses and pictures, in seconds.
# A run that is missing or was trained with other settings is trained here, and says so.
PRETRAINED = False

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import data, gan, metrics, models, threads, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)

# %% [markdown]
# ## The data: real handwriting
#
# scikit-learn ships 1,797 handwritten digits from 43 writers, scanned and shrunk to 8x8
# pixels, so nothing is downloaded. Each pixel is a whole number from 0 (white) to 16 (full
# ink); `data.load_digits()` divides by 16, so pixels lie in $[0, 1]$, and shapes them
# `(N, 1, 8, 8)`: batch, channel (one: grey), height, width. The split is fixed for the
# whole course: models train on 1,497 digits, and 300 are held out to judge them.

# %%
digits = data.load_digits()
print("training digits:", tuple(digits.x_train.shape), "labels:", tuple(digits.y_train.shape))
print("held-out digits:", tuple(digits.x_test.shape))
print("grey levels:", len(torch.unique(digits.x_train)), "from", digits.x_train.min().item(), "to", digits.x_train.max().item())

# %%
widgets.show_digits(digits.x_train[:40], labels=digits.y_train[:40], title="the first 40 training digits")
plt.show()

# %% [markdown]
# ## Why convolutions for images
#
# An MLP like those of lessons 02-03, given an 8x8 image, would treat its 64 pixels as 64
# unrelated numbers: every unit of the first layer looks at every pixel, with its own
# weight for each. Images have more structure than that.
#
# * **Locality**: a stroke is a few neighbouring pixels. A convolution's unit looks only at
#   a small patch (here 3x3 or 4x4 pixels).
# * **Shared weights**: a stroke is a stroke wherever it is. A convolution slides *one*
#   small kernel over every position, so what it learns at the top left also works at the
#   bottom right.
#
# Below, one 3x3 kernel that responds to vertical edges slides over a digit: its response
# is positive (red) where ink starts, on the left-hand edge of every stroke, and negative
# (blue) where ink ends, on the right-hand edge.

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
# Sharing weights makes a convolutional network far smaller. The first layer of the
# discriminator we build below maps an 8x8 image to 32 maps of 4x4 (512 numbers) with one 4x4
# kernel per map; a linear layer with the same input and output sizes needs a weight for
# every (pixel, output) pair. The same holds for the whole network:

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
# A discriminator *shrinks* an image to one number; strided convolutions do that. A
# generator must *grow* a small grid of features into an image. The **transposed
# convolution** is the layer for it, and it is simpler than its name:
#
# > every input pixel stamps a copy of the kernel, scaled by the pixel's value, into the
# > output; the stamps sit `stride` pixels apart and add up where they overlap; then
# > `padding` rows and columns are cropped from every border.
#
# With several channels, input channel $c$ of pixel $(i, j)$ stamps kernel $W_{c,o}$ into
# output channel $o$:
# $\;\text{full}[o,\, s i + a,\, s j + b] \mathrel{+}= x[c, i, j]\, W[c, o, a, b]$ for
# $a, b \in \{0, \dots, k-1\}$. An input of size $n$ gives a full canvas of
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
# The stamps of one small example: a 2x2 input with one channel, a 4x4 kernel, stride 2 and
# padding 1, the setting of every layer of our generator. Each input pixel puts its copy of
# the kernel on a 6x6 canvas, 2 pixels from its neighbours' copies; the stamps overlap in
# the middle; the dashed square is what is left after cropping 1 pixel from each border:
# 4x4, twice the input's size.

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
# PyTorch's `nn.ConvTranspose2d` computes the same thing (its weight is stored as
# `(C_in, C_out, k, k)`, just as we used it). With the same weights, the two agree, here for
# the generator's first upsampling layer and for an odd setting:

# %%
for c_in, c_out, k, s, p, n in [(64, 32, 4, 2, 1, 2), (3, 2, 3, 3, 2, 4)]:
    layer = nn.ConvTranspose2d(c_in, c_out, kernel_size=k, stride=s, padding=p)
    x = torch.randn(5, c_in, n, n)
    mine = conv_transpose_by_hand(x, layer.weight, layer.bias, stride=s, padding=p)
    print(f"kernel {k}, stride {s}, padding {p}: {n}x{n} -> {mine.shape[-1]}x{mine.shape[-1]},",
          "same as nn.ConvTranspose2d:", torch.allclose(mine, layer(x), atol=1e-5))

# %% [markdown]
# With kernel 4, stride 2 and padding 1, $\text{out} = (n - 1) \cdot 2 - 2 + 4 = 2n$: each
# layer doubles the size. Two such layers take a 2x2 grid of features to an 8x8 image:

# %%
def transposed_size(n, kernel, stride, padding):
    return (n - 1) * stride - 2 * padding + kernel


h = torch.randn(1, 64, 2, 2)  # (B, 2C, 2, 2)
for layer in [nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.ConvTranspose2d(32, 1, 4, 2, 1)]:
    out = layer(h)
    print(f"{tuple(h.shape)} -> {tuple(out.shape)}   formula: {transposed_size(h.shape[-1], 4, 2, 1)}")
    h = out

# %% [markdown]
# ## Batch norm: keeping activations on a common scale
#
# While a GAN trains, the weights of every layer grow or shrink, and with them the scale of
# what the next layer receives. **Batch normalisation** (Ioffe and Szegedy, 2015) removes
# that drift: for each channel $c$ it takes the mean and variance over the batch and over
# all positions,
#
# $$\mu_c = \frac{1}{B H W}\sum_{b, i, j} x_{b c i j}, \qquad
#   \sigma^2_c = \frac{1}{B H W}\sum_{b, i, j} (x_{b c i j} - \mu_c)^2,$$
#
# standardises, then lets the network choose the scale and shift it wants with two learned
# numbers per channel, $\gamma_c$ and $\beta_c$:
#
# $$y_{b c i j} = \gamma_c\, \frac{x_{b c i j} - \mu_c}{\sqrt{\sigma^2_c + \epsilon}} + \beta_c .$$

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
# What it buys: feed the generator's first upsampling layer inputs at three scales (as
# happens when the layer before it grows or shrinks its weights during training). Without
# batch norm, the activations' spread follows the input's over two orders of magnitude;
# with it, every channel comes out with mean 0 and standard deviation 1 (times
# $\gamma = 1$, plus $\beta = 0$ at the start).

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
# $\mu_c$ and $\sigma_c$). In **eval mode** (`net.eval()`) batch norm uses instead the running
# averages of $\mu_c$ and $\sigma^2_c$ it kept during training (`running_mean`,
# `running_var`), so one image no longer depends on the others; `model.sample` and the
# widgets put the generator in eval mode.

# %% [markdown]
# ## The generator, by hand
#
# A DCGAN-style generator (Radford et al., 2016) for 8x8 digits: a linear layer turns the
# noise $z$ into a 2x2 grid of 64 feature maps, and two transposed convolutions double it
# twice, 2x2 -> 4x4 -> 8x8, halving the channels: 64 -> 32 -> 1 (the recipe's G is wider,
# 96 -> 48 -> 1, with the same layers). Batch norm and ReLU follow
# each hidden layer; a sigmoid puts the pixels in $[0, 1]$, like the data. The blocks are
# named `project` and `up`, like the library's, so that their weights can be swapped.
#
# $z$ has the width this lesson's recipe uses, 26 numbers: 16 Gaussian ones, then 10 that
# hold one discrete choice (the section before training explains them). To the network they
# are just 26 inputs of its first linear layer, so for following the shapes any 26 numbers do.

# %%
class MyConvGenerator(nn.Module):
    def __init__(self, z_dim=26, channels=32):
        super().__init__()
        self.channels = channels
        self.project = nn.Sequential(  # (B, z_dim) -> (B, 2C * 2 * 2)
            nn.Linear(z_dim, 2 * channels * 2 * 2), nn.BatchNorm1d(2 * channels * 2 * 2), nn.ReLU()
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * channels, channels, kernel_size=4, stride=2, padding=1),  # -> (B, C, 4, 4)
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, kernel_size=4, stride=2, padding=1),  # -> (B, 1, 8, 8)
            nn.Sigmoid(),  # pixels in [0, 1]
        )

    def forward(self, z):
        h = self.project(z).view(-1, 2 * self.channels, 2, 2)  # (B, 2C, 2, 2)
        return self.up(h)


torch.manual_seed(0)
my_G = MyConvGenerator()
z = torch.randn(16, 26, generator=torch.Generator().manual_seed(0))  # (B, z_dim): any 26 numbers, for the shapes
h = z
print(f"{'z':>16} {tuple(h.shape)}")
for layer in my_G.project:
    h = layer(h)
    print(f"{type(layer).__name__:>16} {tuple(h.shape)}")
h = h.view(-1, 64, 2, 2)
print(f"{'view':>16} {tuple(h.shape)}")
for layer in my_G.up:
    h = layer(h)
    print(f"{type(layer).__name__:>16} {tuple(h.shape)}")
print("parameters:", f"{n_params(my_G):,}")

# %% [markdown]
# The library's `gan.ConvGenerator` is the same network. Its config names the two parts of
# $z$: `latent_dim=16` Gaussian numbers and `codes=10`, so it takes $z$ of width
# `G.z_dim` = 16 + 10 = 26. Load our weights into it and feed both the same noise, in
# training mode (batch statistics) and in eval mode (running ones):

# %%
lib_G = gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=16, codes=10, channels=32))  # the recipe's G, at our width
print("the library G takes z of width", lib_G.z_dim)
lib_G.load_state_dict(my_G.state_dict())
print("training mode, same images:", torch.allclose(my_G.train()(z), lib_G.train()(z), atol=1e-6))
print("eval mode, same images:", torch.allclose(my_G.eval()(z), lib_G.eval()(z), atol=1e-6))

# %% [markdown]
# Untrained, it draws grey blobs (the sigmoid of small numbers is about 0.5):

# %%
with torch.no_grad():
    widgets.show_digits(my_G.eval()(z), nrow=8, title="an untrained generator")
plt.show()

# %% [markdown]
# ## The discriminator, by hand
#
# The mirror image: two strided convolutions (kernel 4, stride 2, padding 1) halve the
# size twice, 8x8 -> 4x4 -> 2x2, while the channels grow 1 -> 32 -> 64 (the recipe's D has
# the same), and a linear layer turns the 256 features
# into one logit. LeakyReLU (slope 0.2 for negative inputs) keeps a
# gradient flowing to G even where a unit is off. And **no batch norm**: the library's D
# step judges a batch of real and fake images in one pass, and with batch norm each score
# would depend on the other images of the batch; it would also break the R1 penalty, which
# needs the gradient of each image's own score.

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
h = x
print(f"{'image':>10} {tuple(h.shape)}")
for layer in [*my_D.features, my_D.head]:
    h = layer(h)
    print(f"{type(layer).__name__:>10} {tuple(h.shape)}")

lib_D = gan.ConvDiscriminator(gan.ConvDiscriminatorConfig(channels=32))
lib_D.load_state_dict(my_D.state_dict())
print("same logits as gan.ConvDiscriminator:", torch.allclose(my_D(x), lib_D(x), atol=1e-6))

# %% [markdown]
# What batch norm would do to D: the same real digit, judged in a batch of real digits and
# in a batch of noise, gets a different score.

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
# With points in the plane we could count modes. For digits we need a judge, and we use
# the standard trick (as in the Inception score and FID): a classifier trained on real
# data. `metrics.digit_classifier()` is a small CNN trained on the 1,497 training digits
# (`metrics.train_digit_classifier()`); the course trained it once and keeps its weights in
# the package, so every lesson and every machine judges with the same classifier.
# `metrics.digit_metrics(x)` then reports, for images `x`:
#
# * **confident fraction**: the share of images the classifier puts in one class with
#   probability above 0.9 (does it look like *some* digit?);
# * **class entropy**: the entropy of the histogram of predicted classes divided by
#   $\log 10$, $\;H = -\sum_k p_k \log p_k / \log 10$: 1 when all ten digits are equally
#   common, 0 when the generator draws only one digit (a mode collapse);
# * **feature distance**: the Fréchet distance between Gaussians fitted to the classifier's
#   128 hidden features of the images and of the held-out digits,
#   $\;\lVert \mu_a - \mu_b \rVert^2 + \operatorname{tr}\big(\Sigma_a + \Sigma_b - 2(\Sigma_a^{1/2} \Sigma_b \Sigma_a^{1/2})^{1/2}\big)$.
#   It has no natural unit, so it comes with a yardstick: the same distance between the
#   *training* digits and the held-out ones (`frechet_real`).
#
# First, how the judge scores the real held-out digits (their feature distance is 0: they
# are the reference) and uniform noise:

# %%
# NBVAL_IGNORE_OUTPUT
metrics.digit_classifier()  # loaded from the package on first use, then kept for the session
real_report = metrics.digit_metrics(digits.x_test)
noise_report = metrics.digit_metrics(torch.rand(1000, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
print("held-out digits:", real_report)
print("uniform noise:  ", noise_report)

# %% [markdown]
# The exact numbers depend on your machine's arithmetic, but not what they say:

# %%
print("held-out digits: confident fraction >= 0.9:", real_report.confident >= 0.9)
print("held-out digits: class entropy >= 0.98:", real_report.class_entropy >= 0.98)
print("noise: classified 'confidently' more than one time in ten:", noise_report.confident > 0.1)
print("noise: spread over the classes too (entropy > 0.7):", noise_report.class_entropy > 0.7)
print("noise: feature distance more than 10 times the real yardstick:", noise_report.frechet > 10 * noise_report.frechet_real)

# %% [markdown]
# A classifier has to put *every* input in some class, and on inputs unlike anything it was
# trained on it is often confidently wrong: uniform noise passes the confidence test
# surprisingly often, and spreads over the classes too. Neither number alone says "these
# are digits". That is why the confident fraction always comes with the class entropy and
# the feature distance, which compares the whole *distribution* of features and puts noise
# far away from real digits. For generated digits the targets of this lesson are a
# confident fraction of at least 0.90, a class entropy of at least 0.98, and a feature
# distance within a small multiple of the real yardstick.

# %% [markdown]
# ## One discrete choice in the latent
#
# One more change before training, and it is to $z$, not to the networks. $G$ is a continuous
# function, and the Gaussian latent space $\mathbb{R}^{16}$ is connected: any two points are
# joined by a path. A continuous map of a connected set gives a connected set, so the images
# a generator with a purely Gaussian $z$ can draw form one connected piece. Real digits do
# not: a 3 and an 8 are separate groups, with nothing digit-like between them. To reach both,
# $G$'s images must pass through blends between classes (a 3 morphing into an 8), and since
# the Gaussian gives every region of $z$ some probability, some samples land on those blends,
# and the judge is unsure of them. Training can squeeze the blends into a thin region of $z$,
# but not remove them.
#
# So we give $G$ one discrete choice. $z$ becomes 16 Gaussian numbers followed by a one-hot
# code for one of 10 choices, drawn uniformly:
#
# $$z = \big[\, \varepsilon \,;\ \sqrt{d}\; e_k \,\big], \qquad
#   \varepsilon \sim \mathcal{N}(0, I_d), \quad k \sim \text{Uniform}\{0, \dots, 9\},$$
#
# with $d = 16$ (`latent_dim`) and $e_k$ the one-hot vector with a 1 at position $k$. The
# latent space is now 10 separate copies of $\mathbb{R}^{16}$, and their images need not
# touch: $G$ can jump from one digit to another by switching the code, instead of morphing
# through blends. No label is involved: the code is noise, like $\varepsilon$, only
# discrete, and nothing tells $G$ which code should mean which digit.
#
# Why the factor $\sqrt{d}$ (here 4): the Gaussian part has squared length $d$ on average,
# $\mathbb{E}\,\lVert \varepsilon \rVert^2 = d$. A plain 0/1 one-hot, of length 1, would enter
# the first layer as a small nudge beside it, one that $G$ learns to ignore. Scaled by
# $\sqrt{d}$, the code has squared length $d$ too, and weighs as much as the Gaussian part.
#
# Measured while tuning this recipe (seeds 0 and 1, otherwise the same recipe), the confident
# fraction was 0.84 with a purely Gaussian $z$ (after 5,000 steps), 0.82-0.84 with an unscaled
# 0/1 code (after 4,000-5,000 steps), and 0.89-0.94 with the scaled code after 3,000 steps.
# The idea of a discrete code in the latent comes from InfoGAN (Chen et al., 2016), which adds
# an extra loss to tie each code to something visible in the image: a second network guesses
# the code from the image, and $G$ is rewarded when the guess is right (a bound on the mutual
# information between code and image). We don't use that loss: here the code is plain noise,
# and the GAN loss alone decides what $G$ does with it.
#
# By hand, and compared with the library's `G.sample_latent`, which draws the same two parts
# from the same random stream:

# %%
def sample_z(n, latent_dim=16, codes=10, generator=None):
    """(n, latent_dim + codes): Gaussian numbers, then a one-hot code scaled by sqrt(latent_dim)."""
    eps = torch.randn(n, latent_dim, generator=generator)  # (n, d)
    k = torch.randint(codes, (n,), generator=generator)  # (n,): each z's code, uniform over 0..codes-1
    code = F.one_hot(k, codes).float() * latent_dim**0.5  # (n, codes): sqrt(d) at position k, 0 elsewhere
    return torch.cat([eps, code], dim=1)  # (n, d + codes)


z_mine = sample_z(1000, generator=torch.Generator().manual_seed(0))  # (1000, 26)
eps_part, code_part = z_mine[:, :16], z_mine[:, 16:]  # (1000, 16), (1000, 10)
print("z:", tuple(z_mine.shape), "  code entries that are on, per z:", (code_part != 0).sum(dim=1).unique().tolist(),
      "  their value:", code_part.max(dim=1).values.unique().tolist())
print(f"mean squared length: Gaussian part {(eps_part**2).sum(dim=1).mean():.0f}, code {(code_part**2).sum(dim=1).mean():.0f}")
print("same z as the library's G.sample_latent:",
      torch.equal(z_mine, lib_G.sample_latent(1000, generator=torch.Generator().manual_seed(0))))

# %% [markdown]
# ## Training
#
# The training loop is lesson 05's: `gan.d_step` and `gan.g_step` alternate, with the
# non-saturating loss, an R1 penalty on D and a learning rate that decays to zero. The
# recipe `dcgan-digits` (the same one `genai-course train dcgan-digits` uses) sets the
# networks' sizes, $z$'s two parts among them, and the training settings (among them Adam
# with `beta1=0`: no momentum):

# %%
model = models.build("dcgan-digits", seed=0)
print(model.recipe.generator)
print(model.recipe.discriminator)
print(model.recipe.train)
print(f"G takes z of shape (B, {model.G.z_dim})")
every = model.recipe.train.steps // 20  # 20 snapshots of G's digits from fixed noise

# %%
# NBVAL_IGNORE_OUTPUT
snaps = model.snapshots(every=every)
snaps.record(0, model.G, model.D)  # the untrained G too, as "step 0"
model.fit(callbacks=[snaps], pretrained=PRETRAINED)
print(f"{model.step} steps in {model.history.seconds:.0f} s")

# %% [markdown]
# ## A moving average of G's weights
#
# The recipe keeps one more network while it trains: a copy of G whose weights follow a
# **moving average** of G's (an *exponential* moving average, EMA). After every G step, each
# of its weights $\bar\theta$ moves 1% of the way towards G's weight $\theta$:
#
# $$\bar\theta \leftarrow 0.99\, \bar\theta + 0.01\, \theta,$$
#
# so it averages roughly the last $1 / (1 - 0.99) = 100$ steps, older ones counting less and
# less. A GAN's G never settles while its learning rate is large: every step chases the
# discriminator of the moment, and its digits jitter from one step to the next; the average
# keeps what the last hundred steps agree on. `model.sampler` is the average (`model.G_ema`),
# and `model.sample` draws from it. The search that chose this recipe (lesson 12 shows how
# such a search works; `docs/tuning.md` keeps this one) kept the average in its best trials.
# How much does it change at the end of training? The same 1,000 noise vectors through G as
# its last step left it and through the average, judged by the digit classifier:

# %%
z_same = model.G.sample_latent(1000, generator=torch.Generator().manual_seed(0))  # (1000, z_dim)
with torch.no_grad():
    from_last_step = model.G.eval()(z_same)  # (1000, 1, 8, 8)
    from_average = model.sampler.eval()(z_same)
last_report, average_report = metrics.digit_metrics(from_last_step), metrics.digit_metrics(from_average)
print(f"G after its last step: {last_report}")
print(f"the moving average:    {average_report}")

# %%
print("at the end, the two are within 3 points of confident digits:", abs(average_report.confident - last_report.confident) < 0.03)
fig, axes = plt.subplots(1, 2, figsize=(10, 2.6))
widgets.show_digits(from_last_step[:20], nrow=10, ax=axes[0], title="G after its last step")
widgets.show_digits(from_average[:20], nrow=10, ax=axes[1], title="the moving average of its weights")
plt.show()

# %% [markdown]
# Nearly the same digits: the learning rate has decayed to zero, so G has stopped jittering
# by the end, and the average has caught up with it. The average is a cheap safeguard for
# runs that stop while the steps are still large (one more copy of G, and one multiply-add
# per weight per step); here the decaying learning rate already does most of its work. The
# scrubber below shows G itself as it trained.

# %% [markdown]
# 1,000 samples (from the average), judged:

# %%
# NBVAL_IGNORE_OUTPUT
samples = model.sample(1000, generator=torch.Generator().manual_seed(0))
report = metrics.digit_metrics(samples)
print(report)

# %%
print("confident fraction >= 0.90:", report.confident >= 0.90)
print("class entropy >= 0.98:", report.class_entropy >= 0.98)
print("feature distance < 3 x the real yardstick:", report.frechet < 3 * report.frechet_real)
print("and more than 5 times closer than noise:", 5 * report.frechet < noise_report.frechet)

# %%
widgets.show_digits(samples[:60], nrow=15, title="60 samples from the trained generator")
plt.show()

# %% [markdown]
# ## What the code learned
#
# Now the code's effect. Each column keeps one Gaussian part $\varepsilon_j$; each row sets
# the code to one value, so the digit in row $k$, column $j$ is
# $G\big([\varepsilon_j \,;\ \sqrt{16}\, e_k]\big)$: the same Gaussian part down each column,
# the same code along each row.

# %%
G = model.sampler.eval()  # the moving average of G's weights (see above)
d, n_codes = G.config.latent_dim, G.config.codes  # 16, 10
eps = torch.randn(10, d, generator=torch.Generator().manual_seed(0))  # (10, d): one Gaussian part per column
rows = []
for k in range(n_codes):
    code = F.one_hot(torch.full((10,), k), n_codes).float() * d**0.5  # (10, codes): code k, scaled
    rows.append(torch.cat([eps, code], dim=1))  # (10, z_dim)
with torch.no_grad():
    by_code = G(torch.cat(rows))  # (100, 1, 8, 8): row k drawn with code k
widgets.show_digits(by_code, nrow=10, title="rows: code 0 to 9; columns: the same Gaussian part")
plt.show()

# %% [markdown]
# Along a row, the code is fixed and the digits tend to be of one class, drawn in different
# styles; down a column, the Gaussian part is fixed and changing the code tends to change
# the class. Nobody told $G$ which code means which digit, and it saw no labels: splitting
# the classes among the codes is simply how it can draw every digit without blends between
# them. The match need not be perfect: a code may draw two classes, or two codes one.

# %% [markdown]
# ## Watching the digits appear
#
# Scrub through training: the same 100 noise vectors, drawn by G at each snapshot. Blobs
# first, then strokes, then digits; the decaying learning rate makes the last snapshots
# change less and less.

# %%
# NBVAL_IGNORE_OUTPUT
widgets.digit_scrubber(snaps)

# %% [markdown]
# The same, as still pictures: the first 25 of the fixed noise vectors at five moments of
# training.

# %%
records = snaps.records
picks = [0, 1, 2, len(records) // 4, len(records) - 1]  # the start, the first two snapshots, a quarter, the end
fig, axes = plt.subplots(1, 5, figsize=(16, 3.6))
for ax, i in zip(axes, picks):
    widgets.show_digits(records[i]["samples"][:25], nrow=5, ax=ax, title=f"step {records[i]['step']}")
plt.show()

# %% [markdown]
# ## Exploring the latent space
#
# Every digit G draws comes from a point $z$ of the latent space, drawn by
# `G.sample_latent`: 16 Gaussian numbers, then the code. Move the sliders to change the
# first four Gaussian coordinates of one $z$ (its code stays fixed) and watch the digit, and
# eight neighbours near it, change: some directions thicken strokes, others may turn the
# digit into another.

# %%
# NBVAL_IGNORE_OUTPUT
widgets.digit_picker(model.sampler)

# %% [markdown]
# As a still picture: each row moves one Gaussian coordinate of the same $z$ from -3 to 3.

# %%
z0 = G.sample_latent(1, generator=torch.Generator().manual_seed(0))  # (1, z_dim): the picker's z, code included
values = torch.linspace(-3, 3, 9)
rows = []
for i in range(4):
    zs = z0.repeat(len(values), 1)  # (9, z_dim)
    zs[:, i] = values  # coordinates 0-3 are in the Gaussian part; the code is untouched
    rows.append(zs)
with torch.no_grad():
    sweep = G(torch.cat(rows))  # (36, 1, 8, 8)
widgets.show_digits(sweep, nrow=9, title="rows: z[0], z[1], z[2], z[3] from -3 to 3")
plt.show()

# %% [markdown]
# Walking the straight line between two noise vectors,
# $z(t) = (1 - t)\, z_a + t\, z_b$ for $t$ from 0 to 1, morphs one digit into another. A GAN
# whose path passes only through digit-like images has learned a smooth map, not a lookup
# table of training digits. The walk moves the code too: between two different codes, the
# middle of the path holds a mix of both, a $z$ that sampling never draws, so that is where
# a blend between two digits can still appear.

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
# * Convolutions suit images: a small kernel looks at a patch and is shared by every
#   position, so the networks are small and what they learn holds everywhere.
# * A transposed convolution grows an image: every input pixel stamps a scaled kernel,
#   stride apart, and the padding is cropped; out $= (n - 1)s - 2p + k$, which doubles
#   the size for kernel 4, stride 2, padding 1.
# * Batch norm standardises each channel over the batch and space, then rescales; it keeps
#   the generator's activations on a common scale. The discriminator goes without it, so
#   each image is judged on its own.
# * A continuous map of a connected latent space draws a connected set of images, so a
#   generator with a purely Gaussian $z$ must draw some blends between digits. One discrete
#   choice in $z$, a one-hot code scaled by $\sqrt{d}$ to weigh as much as the Gaussian part,
#   lets it jump between digits instead, and each code tends to pick a class, without labels.
# * A moving average of G's weights (decay 0.99: about the last 100 steps) draws the samples:
#   it keeps what the last steps agree on and forgets their jitter.
# * A classifier is the judge: the confident fraction, the class entropy and the feature
#   distance together tell digits from noise and from a generator that draws only a few
#   kinds of digit. The lesson-05 loop, unchanged, trains a DCGAN in about a minute of CPU,
#   and the three numbers say how close its digits come to real ones.
#
# ## Exercises
#
# Open `exercises/06_dcgan_digits.ipynb`: compute a transposed convolution's output size,
# then write a convolutional generator and a convolutional discriminator for 8x8 digits,
# each with an instant check.
#
# Next: lesson 07, conditional generation: pass a label to G and D, and ask for a 7.
