# %% [markdown]
# # Exercises 08: Variational autoencoders
#
# Three exercises from lesson 08 (`notebooks/08_vae.ipynb`), each a variation on a piece of
# the lesson: you draw $k$ reparameterized latents per example (what the IWAE bound averages
# over), derive the KL between two Gaussians (the lesson's KL term, with a prior of your own),
# and write the conditional VAE's other network, the encoder $q(z \mid x, y)$. Replace each
# `raise NotImplementedError` with your code, then run the check cell below it: it prints ✅
# when your code is right, or says what is wrong.
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
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks, data, threads, vae

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)

# %% [markdown]
# ## Exercise 8.1: $k$ draws per example
#
# The lesson's IWAE bound averages over $k$ draws $z_1, \dots, z_k \sim q(z \mid x)$ for
# every image, where the ELBO takes one. Write `reparameterize(mu, logvar, k, generator)`:
# $k$ independent reparameterized draws for each of the $B$ examples,
#
# $$z_i = \mu + \sigma \odot \varepsilon_i, \qquad \varepsilon_1, \dots, \varepsilon_k \sim \mathcal{N}(0, I) \text{ independent},$$
#
# with $\sigma$ the standard deviation of $q(z \mid x)$ (you are given its log-variance),
# returned as one tensor of shape (k, B, L): `z[i]` is the $i$-th draw for the whole batch, a
# (B, L) batch the decoder takes as it is. Draw the noise with the generator you are given, so
# that the same seed gives the same z; gradients must reach `mu` and `logvar`, as in the
# lesson.
#
# The check does not compare your z with one particular draw: it draws many times per example
# and tests what makes the draws right (different for each $i$, centred on $\mu$, spread by
# $\sigma$, repeatable for a seed). Hints: `mu` has shape (B, L) and z has one more axis in
# front; work out which axes the noise needs, and how a (B, L) tensor combines with a
# (k, B, L) one (PyTorch lines shapes up from the right). Then ask what the $k$ draws would
# be worth if they shared one noise.


# %%
def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """mu, logvar: (B, L) -> z: (k, B, L), k independent draws from N(mu, diag exp(logvar)) per example that gradients pass through."""
    # BEGIN SOLUTION
    eps = torch.randn((k, *mu.shape), generator=generator)  # (k, B, L): noise of its own for every draw
    return mu + torch.exp(0.5 * logvar) * eps  # mu and sigma (B, L) line up with the last two axes
    # END SOLUTION


# %%
checks.reparameterize(reparameterize)

# %% [markdown]
# 2,000 draws for one image with $\mu = (1, -1)$ and $\sigma = (1, 0.3)$: a cloud around $\mu$,
# wide along the first latent and narrow along the second.

# %%
try:
    mu = torch.tensor([[1.0, -1.0]])  # (1, 2): one image
    logvar = torch.log(torch.tensor([[1.0, 0.3]]) ** 2)  # log sigma^2
    z = reparameterize(mu, logvar, 2000, torch.Generator().manual_seed(0))[:, 0]  # (2000, 2): its 2,000 draws
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
# Besides $\mathbb{E}_q[(z - \mu_q)^2] = \sigma_q^2$ you will need the expected value of
# $(z - \mu_p)^2$ under $q$: what is it, when $q$ is centred on $\mu_q$, not $\mu_p$? The latents are
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
# for an (untrained) VAE on 64 digits, with one draw of z per image and the same seed as the
# library's:

# %%
try:
    torch.manual_seed(0)
    model = vae.VAE(vae.VAEConfig(latent_dim=4))
    x = data.load_digits().x_test[:64]  # (64, 1, 8, 8) in [0, 1]
    mu, logvar = model.encoder(x)
    z = reparameterize(mu, logvar, 1, torch.Generator().manual_seed(1))[0]  # (64, 4): one draw per image
    kl = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar))  # (64,): the prior N(0, I)
    mine = vae.bernoulli_nll(model.decoder(z), x) + kl  # (64,) -ELBO per image
    library = vae.elbo(model, x, generator=torch.Generator().manual_seed(1)).neg_elbo
    print("same -ELBO as vae.elbo:", torch.allclose(mine, library))
except NotImplementedError:
    print("(finish exercises 8.1 and 8.2 to compare with the library)")

# %% [markdown]
# With $k$ draws per image your 8.1 gives the IWAE bound: the log of the average of the $k$
# weights $p(x \mid z_i)\, p(z_i) / q(z_i \mid x)$ (lesson 08, "A tighter bound: importance weighting"). Here on
# the held-out digits, for a VAE trained for 600 steps, beside the library's bound, which
# draws its own noise:

# %%
# NBVAL_IGNORE_OUTPUT
torch.manual_seed(0)
digits = data.load_digits()
trained = vae.VAE(vae.VAEConfig(latent_dim=4))
vae.train_vae(trained, digits.x_train, None, vae.VAETrainConfig(steps=600), progress=False)
x, n, neg_iwae = digits.x_test, len(digits.x_test), []  # -IWAE_k, nats per held-out digit
try:
    with torch.no_grad():
        mu, logvar = trained.encoder(x)  # (n, 4) each
        for k in (1, 10, 100):
            z = reparameterize(mu, logvar, k, torch.Generator().manual_seed(1))  # (k, n, 4)
            log_q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)  # (k, n): log q(z_i | x)
            log_prior = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)  # (k, n): log p(z_i)
            log_lik = -vae.bernoulli_nll(trained.decoder(z.flatten(0, 1)), x.repeat(k, 1, 1, 1)).view(k, n)  # log p(x | z_i)
            neg_iwae.append(-(torch.logsumexp(log_lik + log_prior - log_q, dim=0) - math.log(k)).mean().item())
            library = -vae.iwae_bound(trained, x, k=k, generator=torch.Generator().manual_seed(2)).mean().item()
            print(f"k = {k:3d}: -IWAE {neg_iwae[-1]:.2f} nats per digit (the library's: {library:.2f})")
except NotImplementedError:
    print("(finish exercise 8.1 to compute the bound)")

# %%
if neg_iwae:
    print("tighter with 100 draws than with 1:", neg_iwae[-1] < neg_iwae[0])

# %% [markdown]
# ## Exercise 8.3: a conditional encoder
#
# The lesson's conditional VAE gives the label to both networks, $q(z \mid x, y)$ and
# $p(x \mid z, y)$, and builds the decoder by hand. Write the other one:
# `make_conditional_encoder(latent_dim, num_classes)` returning an `nn.Module` whose
# `forward(x, y)` maps images x (B, 1, 8, 8) and labels y (B,) to the pair `(mu, logvar)`, the
# mean and the log-variance of $q(z \mid x, y) = \mathcal{N}(\mu, \operatorname{diag} \sigma^2)$,
# each of shape (B, latent_dim).
#
# Any architecture passes if
#
# * both outputs depend on the image and on the label, and the label enters as a one-hot
#   vector (as one number, label 7 would be "more" than label 3);
# * `mu` and `logvar` come from outputs of their own;
# * both can take any real value: the check trains two fresh copies of your encoder for a few
#   steps, one to raise the means and lower the log-variances, the other the other way round,
#   and watches how far they go.
#
# Hints: the lesson's unconditional encoder and the way its conditional decoder takes the
# label are the two pieces to combine. Before you add anything after the last layer, ask
# which values a log-variance must reach: what variance is $\log \sigma^2 = -4$, and when
# would the encoder need it?


# %%
def make_conditional_encoder(latent_dim: int, num_classes: int) -> nn.Module:
    """An encoder q(z | x, y): x (B, 1, 8, 8), y (B,) -> (mu, logvar), each (B, latent_dim)."""
    # BEGIN SOLUTION
    class ConditionalEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(64 + num_classes, 128), nn.ReLU(),  # 64 pixels and the one-hot label
                nn.Linear(128, 2 * latent_dim),  # L means, then L log-variances, unbounded
            )

        def forward(self, x, y):
            one_hot = F.one_hot(y, num_classes).to(x.dtype)  # (B, K)
            h = self.net(torch.cat([x.flatten(1), one_hot], dim=1))  # (B, 2L)
            mu, logvar = h.chunk(2, dim=1)  # (B, L) each
            return mu, logvar

    return ConditionalEncoder()
    # END SOLUTION


# %%
checks.make_conditional_encoder(make_conditional_encoder)

# %% [markdown]
# Your encoder in the library's conditional VAE, beside its decoder, trained for 600 steps;
# then digits drawn from the prior, row $k$ asking for a $k$. The $-$ELBO on the held-out
# digits is printed before and after training.

# %%
# NBVAL_IGNORE_OUTPUT
try:
    torch.manual_seed(0)
    cvae = vae.VAE(vae.VAEConfig(latent_dim=4, num_classes=10))
    cvae.encoder = make_conditional_encoder(4, 10)  # yours, in place of the library's
    neg_elbo = []  # on the held-out digits, before and after training
    for steps in (0, 600):
        if steps:
            vae.train_vae(cvae, digits.x_train, digits.y_train, vae.VAETrainConfig(steps=steps), progress=False)
        neg_elbo.append(vae.elbo(cvae, digits.x_test, digits.y_test, generator=torch.Generator().manual_seed(0)).neg_elbo.mean().item())
    print(f"-ELBO on held-out digits: {neg_elbo[0]:.1f} nats untrained, {neg_elbo[1]:.1f} after 600 steps")
    with torch.no_grad():
        images = cvae.sample(100, y=torch.arange(10).repeat_interleave(10), generator=torch.Generator().manual_seed(0))  # row k asks for k
    fig, axes = plt.subplots(10, 10, figsize=(4, 4))
    for ax, image in zip(axes.flat, images):
        ax.imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
        ax.axis("off")
    plt.show()
except NotImplementedError:
    print("(finish exercise 8.3 to train your encoder)")
