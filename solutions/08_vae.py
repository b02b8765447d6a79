# %% [markdown]
# # Exercises 08: Variational autoencoders
#
# Three exercises from lesson 08 (`notebooks/08_vae.ipynb`): the pieces a variational
# autoencoder adds to a generator. You draw a latent sample with the reparameterization
# trick, derive the KL between two Gaussians (the lesson's KL term, with a prior of your
# own), and write a conditional decoder that returns pixel logits. Replace each `raise NotImplementedError` with your code, then
# run the check cell below it: it prints ✅ when your code is right, or says what is wrong.
#
# Notation: the encoder gives, for each of $B$ images, the mean `mu` and the log-variance
# `logvar` of a diagonal Gaussian $q(z \mid x) = \mathcal{N}(\mu, \operatorname{diag} \sigma^2)$
# over $L$ = `latent_dim` latents, both of shape (B, L), with $\log \sigma^2$ = `logvar`
# (the log of the variance, not of the standard deviation). Labels
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
# ## Exercise 8.2: the KL to a prior of your own
#
# The lesson's KL term compares the encoder's Gaussian with the standard normal prior
# $\mathcal{N}(0, I)$. A prior need not be standard: a conditional VAE can give each class a
# prior of its own, and some VAEs learn the prior's mean and variance along with the networks.
# Write `gaussian_kl(mu_q, logvar_q, mu_p, logvar_p)`: the KL (Kullback-Leibler divergence)
# $\mathrm{KL}(q \,\|\, p)$ from $q = \mathcal{N}(\mu_q, \operatorname{diag} \sigma_q^2)$ to
# $p = \mathcal{N}(\mu_p, \operatorname{diag} \sigma_p^2)$, one number per example, in closed form
# (no sampling).
#
# Derive it as the lesson does for one latent ("The KL term"):
# $\mathrm{KL} = \mathbb{E}_q[\log q(z) - \log p(z)]$; write out both log-densities, now with
# $p$'s own mean and variance where the lesson had 0 and 1, and take the expectation under $q$.
# Besides $\mathbb{E}_q[(z - \mu_q)^2] = \sigma_q^2$ you will need $\mathbb{E}_q[(z - \mu_p)^2]$:
# write $z - \mu_p = (z - \mu_q) + (\mu_q - \mu_p)$ and expand the square. The latents are
# independent, so their KLs add up.
#
# All four inputs have shape (B, L); return shape (B,): one KL per example, added up over its
# latents but not over the batch (the training loss takes the mean over the batch later).
# Gradients must reach all four inputs (a learned prior is trained too). Hints: test two cases
# before you run the check. With $\mu_p = 0$ and $\log \sigma_p^2 = 0$ your KL must be the
# lesson's (the cell after the check compares it with `vae.gaussian_kl`), and with $q = p$ it
# must be 0. Then swap $q$ and $p$: a KL is not symmetric, so mind which of the two the
# expectation is taken under.


# %%
def gaussian_kl(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor) -> torch.Tensor:
    """mu_q, logvar_q, mu_p, logvar_p: (B, L) -> (B,): KL(N(mu_q, diag exp(logvar_q)) || N(mu_p, diag exp(logvar_p))) in nats."""
    # BEGIN SOLUTION
    # per latent: 1/2 * (log sigma_p^2 - log sigma_q^2 + (sigma_q^2 + (mu_q - mu_p)^2) / sigma_p^2 - 1)
    spread = logvar_q.exp() + (mu_q - mu_p).pow(2)  # E_q[(z - mu_p)^2], (B, L)
    return 0.5 * (logvar_p - logvar_q + spread / logvar_p.exp() - 1.0).sum(dim=1)
    # END SOLUTION


# %%
checks.gaussian_kl(gaussian_kl)

# %% [markdown]
# With the standard normal as the prior, your KL is the lesson's KL term:

# %%
try:
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(16, 4, generator=g), torch.randn(16, 4, generator=g)  # (16, 4) each
    zeros = torch.zeros_like(mu)
    print("same as vae.gaussian_kl with mu_p = 0, logvar_p = 0:", torch.allclose(gaussian_kl(mu, logvar, zeros, zeros), vae.gaussian_kl(mu, logvar)))
    print("0 when q is the prior:", torch.allclose(gaussian_kl(mu, logvar, mu, logvar), torch.zeros(16), atol=1e-6))
except NotImplementedError:
    print("(finish exercise 8.2 to compare with the lesson's KL)")

# %% [markdown]
# A KL is not a distance: it changes when $q$ and $p$ swap. For one latent, take
# $q = \mathcal{N}(0, \sigma^2)$ and the prior $p = \mathcal{N}(0, 1)$. $\mathrm{KL}(q \,\|\, p)$,
# the ELBO's direction, averages over $q$ and charges a narrow $q$ little;
# $\mathrm{KL}(p \,\|\, q)$ averages over the wide prior and charges a narrow $q$ heavily for
# the $z$ it leaves out. A $q$ wider than the prior is charged the other way round.

# %%
try:
    logvar = torch.linspace(-4, 2, 121)[:, None]  # (121, 1): log sigma^2 of q
    zero = torch.zeros_like(logvar)
    q_to_p, p_to_q = gaussian_kl(zero, logvar, zero, zero), gaussian_kl(zero, zero, zero, logvar)
    for i in (0, -1):
        print(f"sigma^2 = {logvar[i, 0].exp().item():.2f}: KL(q || p) {q_to_p[i].item():.2f} nats, KL(p || q) {p_to_q[i].item():.2f} nats")
    plt.figure(figsize=(6, 3.5))
    plt.plot(logvar[:, 0].exp(), q_to_p, label="KL(q || p), the ELBO's")
    plt.plot(logvar[:, 0].exp(), p_to_q, label="KL(p || q)")
    plt.xscale("log")
    plt.xlabel("variance of q, sigma^2")
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
    kl = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar))  # (64,): the prior N(0, I)
    mine = vae.bernoulli_nll(model.decoder(z), x) + kl  # (64,) -ELBO per image
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
