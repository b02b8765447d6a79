# %% [markdown]
# # Exercises 08: Variational autoencoders
#
# Three exercises from lesson 08 (`notebooks/08_vae.ipynb`): the pieces a variational
# autoencoder adds to a generator. You draw a latent sample with the reparameterization
# trick, compute the KL term of the ELBO in closed form, and write a conditional decoder
# that returns pixel logits. Replace each `raise NotImplementedError` with your code, then
# run the check cell below it: it prints ✅ when your code is right, or says what is wrong.
#
# Notation: the encoder gives, for each of $B$ images, the mean `mu` and the log-variance
# `logvar` of a diagonal Gaussian $q(z \mid x) = \mathcal{N}(\mu, \operatorname{diag} \sigma^2)$
# over $L$ = `latent_dim` latents, both of shape (B, L), with $\log \sigma^2$ = `logvar`
# (so $\sigma^2$ = `logvar.exp()` and $\sigma$ = `(logvar / 2).exp()`). Labels
# $y \in \{0, \dots, K-1\}$ are whole numbers (int64), $K$ = `num_classes`.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks, data, threads, vae

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)

# %% [markdown]
# ## Exercise 8.1: the reparameterization trick
#
# Write `reparameterize(mu, logvar, generator)`: draw one $z \sim q(z \mid x)$ per row, as a
# differentiable function of `mu` and `logvar`:
#
# $$z = \mu + \sigma \odot \varepsilon, \qquad \sigma = \exp\left(\tfrac{1}{2} \log \sigma^2\right), \qquad \varepsilon \sim \mathcal{N}(0, I)$$
#
# Return z of shape (B, L), the shape of `mu`. Draw the noise with the generator you are
# given, one standard-normal number per example and latent: the check compares your z with
# the library's for the same seed. Hints: `logvar` is the log of the *variance*; what scales
# the noise is the standard deviation, so work out how to get from one to the other. And keep
# the computation where autograd can see it: the whole point is that gradients reach `mu` and
# `logvar`.


# %%
def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """mu, logvar: (B, L) -> z: (B, L), one draw from N(mu, diag exp(logvar)) that gradients pass through."""
    # BEGIN SOLUTION
    eps = torch.randn(mu.shape, generator=generator)  # (B, L)
    return mu + torch.exp(0.5 * logvar) * eps
    # END SOLUTION


# %%
checks.reparameterize(reparameterize)

# %% [markdown]
# Many draws for one image with $\mu = (1, -1)$ and $\sigma = (1, 0.3)$: a cloud around $\mu$,
# wide along the first latent and narrow along the second.

# %%
try:
    mu = torch.tensor([[1.0, -1.0]]).repeat(2000, 1)  # (2000, 2)
    logvar = torch.log(torch.tensor([[1.0, 0.3]]) ** 2).repeat(2000, 1)  # log sigma^2
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    plt.figure(figsize=(4, 4))
    plt.scatter(z[:, 0], z[:, 1], s=2, alpha=0.3)
    plt.scatter([1.0], [-1.0], color="r", marker="x", label="mu")
    plt.axis("equal")
    plt.xlabel("z_1")
    plt.ylabel("z_2")
    plt.legend()
    plt.show()
except NotImplementedError:
    print("(finish exercise 8.1 to see the picture)")

# %% [markdown]
# ## Exercise 8.2: the KL term
#
# Write `gaussian_kl(mu, logvar)`: the KL (Kullback-Leibler) divergence from the encoder's
# Gaussian to the prior $p(z) = \mathcal{N}(0, I)$, one number per image, in closed form (no
# sampling). Build it from one latent: $\mathrm{KL} = \mathbb{E}_q[\log q(z) - \log p(z)]$ with
# $q = \mathcal{N}(\mu, \sigma^2)$, $p = \mathcal{N}(0, 1)$; write out both log-densities and use
# $\mathbb{E}_q[(z - \mu)^2] = \sigma^2$ and $\mathbb{E}_q[z^2] = \mu^2 + \sigma^2$ (lesson 08, "The KL
# term", does this step by step). The latents are independent, so their KLs add up.
#
# `mu` and `logvar` have shape (B, L); return shape (B,): one KL per example, summed over its
# latents but not over the batch (the training loss takes the mean over the batch later).
# Hints: mind which of your quantities are $\sigma$, $\sigma^2$ and $\log \sigma^2$. A KL is never
# negative, and it is 0 exactly when $\mu = 0$ and $\sigma = 1$: test your function there.


# %%
def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """mu, logvar: (B, L) -> (B,): KL(N(mu, diag exp(logvar)) || N(0, I)) in nats."""
    # BEGIN SOLUTION
    # KL = 1/2 * sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)
    # END SOLUTION


# %%
checks.gaussian_kl(gaussian_kl)

# %% [markdown]
# The KL of one latent as a function of $\mu$, for a few variances: the price the ELBO
# charges an encoder for moving away from the prior. It grows like $\mu^2 / 2$, and it
# rises when $\sigma^2$ is far from 1 either way; only $\mu = 0$, $\sigma^2 = 1$ costs nothing.

# %%
try:
    mu = torch.linspace(-3, 3, 121)[:, None]  # (121, 1): one latent per row
    plt.figure(figsize=(6, 3.5))
    for variance in (0.02, 0.25, 1.0, 4.0, 10.0):
        logvar = torch.full_like(mu, variance).log()
        plt.plot(mu[:, 0], gaussian_kl(mu, logvar), label=f"sigma^2 = {variance}")
    plt.xlabel("mu")
    plt.ylabel("KL (nats)")
    plt.legend()
    plt.show()
except NotImplementedError:
    print("(finish exercise 8.2 to see the picture)")

# %% [markdown]
# Your two functions put together give the library's negative ELBO, reconstruction plus KL,
# for an (untrained) VAE on 64 digits, with the same seed for the sample of z:

# %%
try:
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(latent_dim=4))
    x = data.load_digits().x_test[:64]  # (64, 1, 8, 8) in [0, 1]
    mu, logvar = model.encoder(x)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(1))
    mine = vae.bernoulli_nll(model.decoder(z), x) + gaussian_kl(mu, logvar)  # (64,) -ELBO per image
    library = vae.elbo(model, x, generator=torch.Generator().manual_seed(1)).neg_elbo
    print("same -ELBO as vae.elbo:", torch.allclose(mine, library))
except NotImplementedError:
    print("(finish exercises 8.1 and 8.2 to compare with the library)")

# %% [markdown]
# ## Exercise 8.3: a conditional decoder
#
# Write `make_conditional_decoder(latent_dim, num_classes)` returning an `nn.Module` whose
# `forward(z, y)` maps latents z (B, latent_dim) and labels y (B,) to pixel **logits** of
# shape (B, 1, 8, 8): the decoder of a conditional VAE, $p(x \mid z, y)$, a Bernoulli per
# pixel with probability
#
# $$p(x_i = 1 \mid z, y) = \operatorname{sigmoid}\big(\text{logit}_i(z, y)\big).$$
#
# Return the logits themselves, with no final sigmoid: the Bernoulli likelihood
# `vae.bernoulli_nll(logits, x)` applies the sigmoid inside the binary cross-entropy, which
# stays exact where a sigmoid would round to 0 or 1. (The pictures are `torch.sigmoid(logits)`.)
#
# Any architecture passes if its output depends on both z and y and the label enters as a
# one-hot vector (as one number, label 7 would be "more" than label 3). The simplest design is
# lesson 07's: give the network the latent and the label side by side, as one longer input
# vector, then a small MLP (multilayer perceptron) whose first layer is sized for that longer
# input and whose last layer gives one logit per pixel, reshaped to (B, 1, 8, 8).


# %%
def make_conditional_decoder(latent_dim: int, num_classes: int) -> nn.Module:
    """A decoder p(x | z, y): z (B, latent_dim), y (B,) -> pixel logits (B, 1, 8, 8)."""
    # BEGIN SOLUTION
    class ConditionalDecoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(latent_dim + num_classes, 128), nn.ReLU(),
                nn.Linear(128, 64),  # 64 pixel logits, no sigmoid
            )

        def forward(self, z, y):
            one_hot = F.one_hot(y, num_classes).to(z.dtype)  # (B, K)
            logits = self.net(torch.cat([z, one_hot], dim=1))  # (B, 64)
            return logits.view(-1, 1, 8, 8)  # (B, 1, 8, 8)

    return ConditionalDecoder()
    # END SOLUTION


# %%
checks.make_conditional_decoder(make_conditional_decoder)

# %% [markdown]
# What your (untrained) decoder draws, sigmoid of its logits, with one z per column and the
# labels 0 to 9 down the rows: grey blur for now. Lesson 08 trains a decoder like this, with
# an encoder and the ELBO, until row $k$ shows the digit $k$.

# %%
try:
    torch.manual_seed(0)
    decoder = make_conditional_decoder(4, 10)
    with torch.no_grad():
        logits = decoder(torch.randn(10, 4).repeat(10, 1), torch.arange(10).repeat_interleave(10))  # row k asks for k
    fig, axes = plt.subplots(10, 10, figsize=(4, 4))
    for ax, image in zip(axes.flat, torch.sigmoid(logits)):
        ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
    plt.show()
except NotImplementedError:
    print("(finish exercise 8.3 to see the picture)")
