# %% [markdown]
# # Exercises 07: Customizable generation
#
# Three exercises from lesson 07 (`notebooks/07_conditional_gan.ipynb`), each a variation
# on a piece the lesson built: you give a discriminator the label as image channels (the
# concatenation the lesson only named), let a generator take its label through a learned
# embedding instead of a one-hot vector, and compute a projection discriminator's logits
# for every label at once. Replace each `raise NotImplementedError` with your code, then
# run the check cell below it: it prints ✅ when your code is right, or says what is wrong.
#
# Notation: a batch of $B$ noise vectors $z$ of size `latent_dim`, labels $y \in \{0, \dots, K-1\}$
# (whole numbers, int64) with $K$ = `num_classes`, and images of shape (B, C, H, W) with
# pixels in $[0, 1]$ (the digits: C = 1, H = W = 8).
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks, data, gan, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)

# %% [markdown]
# ## Exercise 7.1: the label as image channels
#
# The oldest way to show a discriminator the label is **concatenation**: the label joins
# the image as $K$ extra channels. Channel $k$ of the label part is all ones when $y = k$
# and all zeros otherwise, at every pixel, so that every position the convolutions look at
# sees the label.
#
# Write `append_label(x, y, num_classes)`: `x` has shape (B, C, H, W), `y` shape (B,).
# Return a tensor of shape (B, C + num_classes, H, W), of x's dtype: x's own channels
# first, unchanged, then the label's. Make it work for any C, H, W and number of classes.
#
# Hint: start from the lesson's one-hot vector (B, K). Each of its K numbers has to become
# a whole H x W channel filled with that number; then the two sets of channels are joined
# along the channel dimension.


# %%
def append_label(x: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """x: (B, C, H, W), y: (B,) int64 -> (B, C + num_classes, H, W)."""
    # BEGIN SOLUTION
    one_hot = F.one_hot(y, num_classes).to(x.dtype)  # (B, K)
    maps = one_hot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])  # (B, K, H, W): constant channels
    return torch.cat([x, maps], dim=1)  # (B, C + K, H, W)
    # END SOLUTION


# %%
checks.append_label(append_label)

# %% [markdown]
# What a concatenation discriminator receives for one real 7: the image, then ten label
# channels, of which only channel 7 is all ones (black).

# %%
try:
    digits = data.load_digits()
    seven = digits.x_train[digits.y_train == 7][:1]  # (1, 1, 8, 8)
    stacked = append_label(seven, torch.tensor([7]), 10)[0]  # (11, 8, 8)
    fig, axes = plt.subplots(1, 11, figsize=(11, 1.6))
    for k, (ax, channel) in enumerate(zip(axes, stacked)):
        ax.imshow(channel, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title("image" if k == 0 else f"label {k - 1}", fontsize=8)
        ax.set(xticks=[], yticks=[])
    plt.show()
except NotImplementedError:
    print("(finish exercise 7.1 to see the picture)")

# %% [markdown]
# ## Exercise 7.2: a generator with a label embedding
#
# The lesson's generator appends a one-hot label to $z$, and its first layer's weights
# then pick out one learned vector per class. An `nn.Embedding(K, E)` holds such a table
# directly: a learned vector of $E$ numbers for each of the $K$ classes, looked up by label.
#
# Write `make_conditional_generator(latent_dim, num_classes)` returning an `nn.Module`
# whose `forward(z, y)` maps noise (B, latent_dim) and labels (B,) to images
# (B, 1, 8, 8) with pixels in $[0, 1]$, and takes the label through an `nn.Embedding` with
# one row per class (you choose $E$). Any layers after that pass: a few linear layers are
# enough; the check does not train your generator.
#
# Hint: once the label's vector joins $z$, count how many numbers the next layer receives.
# The check asks your generator for every label with the *same* $z$: if the images are
# identical, the generator ignores its label.


# %%
def make_conditional_generator(latent_dim: int, num_classes: int) -> nn.Module:
    """A generator G(z (B, latent_dim), y (B,)) -> images (B, 1, 8, 8) in [0, 1], the label through nn.Embedding."""
    # BEGIN SOLUTION
    class EmbeddingGenerator(nn.Module):
        def __init__(self, embed_dim=8):
            super().__init__()
            self.embed = nn.Embedding(num_classes, embed_dim)  # one learned vector per class
            self.net = nn.Sequential(
                nn.Linear(latent_dim + embed_dim, 128), nn.ReLU(),
                nn.Linear(128, 64), nn.Sigmoid(),  # 64 pixels in [0, 1]
            )

        def forward(self, z, y):
            x = self.net(torch.cat([z, self.embed(y)], dim=1))  # (B, 64)
            return x.view(-1, 1, 8, 8)  # (B, 1, 8, 8)

    return EmbeddingGenerator()
    # END SOLUTION


# %%
checks.make_conditional_generator(make_conditional_generator)

# %% [markdown]
# Your (untrained) generator with one noise vector per column and the labels 0 to 9 down
# the rows: before training the rows differ only in meaningless ways. Trained like the
# lesson's, it would learn to draw the digit $k$ in row $k$.

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
    print("(finish exercise 7.2 to see the picture)")

# %% [markdown]
# ## Exercise 7.3: the projection logits for every label
#
# The lesson's projection discriminator scores an image $x_i$ under the one label it is
# given, from the image's features $h_i \in \mathbb{R}^M$:
#
# $$D(x_i, k) = \langle w, h_i\rangle + b + \langle e_k, h_i\rangle,$$
#
# with $\langle w, h_i\rangle + b$ = `head(h_i)`, $e_k$ = row $k$ of `embed`, and
# $\langle a, h\rangle = \sum_j a_j h_j$ the inner product (dot product) of two vectors.
# Here you score every image under *every* label at once.
#
# Write `projection_logits(h, embed, head)`: `h` has shape (B, M), `embed` is an
# `nn.Embedding(K, M)` and `head` an `nn.Linear(M, 1)`. Return a (B, K) tensor whose entry
# $[i, k]$ is $D(x_i, k)$, and keep the gradient flowing to `head` and `embed` (a
# discriminator's logits are trained).
#
# Hint: each entry $[i, k]$ needs an inner product of two vectors you already hold;
# look for one operation that gives all of them together. Then compare the shapes of the
# two terms before you add them.


# %%
def projection_logits(h: torch.Tensor, embed: nn.Embedding, head: nn.Linear) -> torch.Tensor:
    """h: (B, M) -> logits (B, K): entry [i, k] = head(h_i) + <e_k, h_i>."""
    # BEGIN SOLUTION
    return head(h) + h @ embed.weight.T  # (B, 1) + (B, K) -> (B, K)
    # END SOLUTION


# %%
checks.projection_logits(projection_logits)

# %% [markdown]
# Your function with the library's discriminator's own layers gives, in column $k$, the
# library's logits for the label $k$. Within a row only the class term changes. That term
# is not a classifier's score: by the lesson's "Going further", $\langle e_k, h\rangle$
# estimates $\log p_\text{data}(k \mid x) / p_G(k \mid x)$ (up to a term shared by all
# labels), how much more often the data than $G$ pair such an image with $k$, a ratio
# that flattens as $G$ learns to draw every class.

# %%
try:
    D = gan.ConvDiscriminator(gan.ConvDiscriminatorConfig(num_classes=10))
    x = torch.rand(8, 1, 8, 8)
    with torch.no_grad():
        mine = projection_logits(D.features(x), D.embed, D.head)  # (8, 10)
        library = torch.stack([D(x, torch.full((8,), k)) for k in range(10)], dim=1)  # (8, 10): one label at a time
    print("shape:", tuple(mine.shape))
    print("same logits as gan.ConvDiscriminator, label by label:", torch.allclose(mine, library, atol=1e-5))
except NotImplementedError:
    print("(finish exercise 7.3 to compare with the library)")
