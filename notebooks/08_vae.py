# %% [markdown]
# # Lesson 08: Variational autoencoders
#
# By the end of this lesson you can build and train a **variational autoencoder** (VAE): a
# generator of 8x8 digits that also runs backwards, from an image to the latent code that
# could have made it, and that puts a number on how probable a held-out digit is, in nats
# (lesson 01's unit of a natural logarithm), which a GAN cannot do. You will write the encoder, the decoder, the Bernoulli likelihood,
# the reparameterization trick and the KL term by hand from plain torch, check each against
# `genai_course.vae`, train the course's VAE, measure it on held-out digits with two bounds
# (the ELBO, evidence lower bound, and the tighter IWAE bound, from the importance-weighted
# autoencoder), explore its latent space with widgets, set its samples
# beside a GAN's, and give it a label: a conditional VAE that draws the digit you ask for.
#
# Run time: within the course's budget on 2 CPU cores; each training cell prints its time.
#
# Where it sits: lessons 06-07 trained GANs on these digits. This lesson keeps the data and
# the split and changes the family of models: the generator becomes a probability model,
# trained by maximising a bound on the likelihood instead of by fooling a discriminator.
# Lesson 09 leaves images for text.

# %%
# The one switch of this lesson, for slow laptops. False: every model trains here, as the
# lesson is written. True: each one is loaded instead from the runs `genai-course pretrain 08`
# (or `--all`) saved in runs/pretrained/: the same weights, losses and pictures, in seconds.
# A run that is missing or was trained with other settings is trained here, and says so.
PRETRAINED = False

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import data, metrics, models, threads, vae, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)
digits = data.load_digits()
print("training digits:", tuple(digits.x_train.shape), " held-out digits:", tuple(digits.x_test.shape))

# %% [markdown]
# ## A generator that runs backwards
#
# Lesson 06's GAN learned a map $x = G(z)$ from noise to digits. It cannot answer two
# questions: *which $z$ made this digit?* (there is no way back from $x$ to $z$), and *how
# probable is this digit under the model?* (the GAN's distribution is only defined by
# sampling; nothing computes $p_G(x)$).
#
# A VAE (Kingma & Welling, 2014; Rezende, Mohamed & Wierstra, 2014) makes the generator a
# probability model. Draw a latent $z$ from the **prior** $p(z)$, the distribution of codes before
# any image is seen, then an image from the **decoder's**
# distribution:
#
# $$z \sim p(z) = \mathcal{N}(0, I), \qquad x \sim p_\theta(x \mid z).$$
#
# The probability of an image sums over every $z$ that could have made it,
#
# $$p_\theta(x) = \int p_\theta(x \mid z)\, p(z)\, dz,$$
#
# an integral we cannot compute: almost every $z$ drawn at random explains a given 3 badly.
# So a second network, the **encoder** $q_\phi(z \mid x)$, learns to guess which $z$ made
# $x$, and training maximises a lower bound on $\log p_\theta(x)$, the **ELBO** (evidence
# lower bound; the "evidence" is $\log p_\theta(x)$), that needs only $z$ drawn from that
# guess. The encoder is the way back; the bound is the number.
#
# The whole model, as the rest of the lesson builds it: the encoder reads $x$ and gives a mean
# and a log-variance for each latent; $z$ is drawn from that Gaussian by shifting and scaling
# noise $\varepsilon$ that comes from outside (dashed arrow; the *reparameterization*, below),
# so the gradient can flow back along the solid arrows; the decoder turns $z$ into one logit per pixel.

# %%
fig, ax = plt.subplots(figsize=(11, 2.6))
boxes = {  # name: (centre x, centre y, half width, text)
    "x": (0.6, 1.0, 0.6, "image x\n(B, 1, 8, 8)"),
    "enc": (2.4, 1.0, 0.45, "encoder\nq(z | x)\nMLP"),
    "stats": (4.4, 1.0, 0.85, "mu, log sigma^2\n(B, L) each"),
    "eps": (6.8, 2.1, 0.95, "noise eps ~ N(0, I)\n(B, L)"),
    "z": (6.8, 1.0, 0.95, "z = mu + sigma * eps\n(B, L)"),
    "dec": (9.0, 1.0, 0.45, "decoder\np(x | z)\nMLP"),
    "out": (10.8, 1.0, 0.6, "pixel logits\n(B, 1, 8, 8)"),
}
for name, (cx, cy, _, text) in boxes.items():
    ax.text(cx, cy, text, ha="center", va="center", fontsize=9,
            bbox=dict(boxstyle="round", fc="#fde2c8" if name == "eps" else "#dbe9f6", ec="0.3"))
for a, b in [("x", "enc"), ("enc", "stats"), ("stats", "z"), ("z", "dec"), ("dec", "out")]:
    ax.annotate("", xy=(boxes[b][0] - boxes[b][2] - 0.05, 1.0), xytext=(boxes[a][0] + boxes[a][2] + 0.05, 1.0),
                arrowprops=dict(arrowstyle="->", lw=1.5))
ax.annotate("", xy=(6.8, 1.3), xytext=(6.8, 1.8), arrowprops=dict(arrowstyle="->", lw=1.2, ls="--"))
ax.set(xlim=(-0.1, 11.5), ylim=(0.4, 2.6), title="a VAE: the noise enters from the side, so gradients pass from z back to mu and log sigma^2")
ax.axis("off")
plt.show()

# %% [markdown]
# ## The encoder $q_\phi(z \mid x)$
#
# The encoder's guess is a Gaussian with a diagonal covariance (independent latents, each
# with its own variance),
# $q_\phi(z \mid x) = \mathcal{N}\big(\mu_\phi(x), \operatorname{diag} \sigma^2_\phi(x)\big)$.
# An MLP reads the 64 pixels and outputs $2L$ numbers for $L$ latents: the first half is the
# mean $\mu$, the second the **log**-variance $\log \sigma^2$. Any real number is a valid
# log-variance, so the network needs no constraint; $\sigma^2 = e^{\log \sigma^2}$ is always
# positive. The layers sit in an `nn.Sequential` called `net`, like the library's, so that
# the library's encoder can load our weights.

# %%
class MyEncoder(nn.Module):
    def __init__(self, latent_dim=4, hidden=256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(64, hidden), nn.ReLU(),  # (B, 64) -> (B, H)
            nn.Linear(hidden, hidden), nn.ReLU(),  # (B, H) -> (B, H)
            nn.Linear(hidden, 2 * latent_dim),  # (B, H) -> (B, 2L)
        )

    def forward(self, x):
        h = self.net(x.flatten(1))  # (B, 1, 8, 8) -> (B, 64) -> (B, 2L)
        mu, logvar = h.chunk(2, dim=1)  # (B, L) each
        return mu, logvar


# %% [markdown]
# ## The decoder $p_\theta(x \mid z)$
#
# The mirror image: an MLP from $L$ latents to 64 numbers, one per pixel, reshaped to an
# image. They are **logits** $\ell_i$, not pixels: the decoder's distribution says "pixel
# $i$ is ink with probability $p_i = \sigma(\ell_i)$", and the next section explains why
# we keep the logits.

# %%
class MyDecoder(nn.Module):
    def __init__(self, latent_dim=4, hidden=256):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ReLU(),  # (B, L) -> (B, H)
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, 64),  # (B, H) -> (B, 64)
        )

    def forward(self, z):
        return self.net(z).view(-1, 1, 8, 8)  # (B, 64) -> (B, 1, 8, 8): pixel logits


# %% [markdown]
# The lesson's sizes come from the library's `vae-digits` recipe: 4 latents and two hidden
# layers of 256 units. Same weights, same inputs: our networks and `vae.Encoder` /
# `vae.Decoder` agree.

# %%
recipe = models.get_recipe("vae-digits")
c = recipe.vae
print(c)
torch.manual_seed(0)
my_encoder, my_decoder = MyEncoder(c.latent_dim, c.hidden), MyDecoder(c.latent_dim, c.hidden)
lib_encoder, lib_decoder = vae.Encoder(c), vae.Decoder(c)
lib_encoder.load_state_dict(my_encoder.state_dict())
lib_decoder.load_state_dict(my_decoder.state_dict())

x = digits.x_test[:16]  # (16, 1, 8, 8)
mu, logvar = my_encoder(x)
print("mu:", tuple(mu.shape), " logvar:", tuple(logvar.shape))
print("same mu and logvar as vae.Encoder:", all(torch.allclose(a, b) for a, b in zip((mu, logvar), lib_encoder(x))))
z = torch.randn(16, c.latent_dim, generator=torch.Generator().manual_seed(0))  # (16, L)
print("logits:", tuple(my_decoder(z).shape))
print("same logits as vae.Decoder:", torch.allclose(my_decoder(z), lib_decoder(z)))

# %% [markdown]
# Untrained, the decoder's means $\sigma(\ell)$ are grey blobs: the logits are small, and
# $\sigma(0) = 0.5$.

# %%
with torch.no_grad():
    widgets.show_digits(torch.sigmoid(my_decoder(z)), nrow=16, title="an untrained decoder: sigmoid(logits)")
plt.show()

# %% [markdown]
# ## The likelihood: Bernoulli pixels, from logits
#
# Given $z$, the decoder treats the 64 pixels as independent coins: pixel $i$ is ink with
# probability $p_i = \sigma(\ell_i)$. For pixel values $x_i \in [0, 1]$ the log-likelihood is
#
# $$\log p_\theta(x \mid z) = \sum_{i=1}^{64} \Big[ x_i \log p_i + (1 - x_i) \log (1 - p_i) \Big],$$
#
# so $-\log p_\theta(x \mid z)$ is the **binary cross-entropy** summed over the pixels. From
# logits, $\log \sigma(\ell)$ and $\log(1 - \sigma(\ell)) = \log \sigma(-\ell)$ are both
# `F.logsigmoid`, which stays exact where $\sigma$ itself rounds to 0 or 1.
#
# Our digits have 17 grey levels, and on grey pixels this is not strictly a normalised
# density ("Going further"): the nats in this lesson compare models under this likelihood,
# not with a model scored another way.

# %%
def my_bernoulli_nll(logits, x):
    """logits, x: (B, 1, 8, 8) -> (B,): -log p(x | z), summed over the 64 pixels."""
    # -log p(x|z) = -sum_i [x_i log sigmoid(l_i) + (1 - x_i) log sigmoid(-l_i)]
    return -(x * F.logsigmoid(logits) + (1 - x) * F.logsigmoid(-logits)).flatten(1).sum(dim=1)


logits = lib_decoder(z)  # (16, 1, 8, 8)
nll = my_bernoulli_nll(logits, x)  # (16,)
print("one number per image:", tuple(nll.shape))
print("same as vae.bernoulli_nll:", torch.allclose(nll, vae.bernoulli_nll(logits, x)))
bce = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)
print("same as F.binary_cross_entropy_with_logits, summed per image:", torch.allclose(nll, bce))

# %% [markdown]
# Why logits: a confident decoder says $\ell = 20$ for a pixel that turns out white
# ($x = 0$). In float32, $\sigma(20) = 1 - 2 \cdot 10^{-9}$ rounds to exactly 1, and
# $-\log(1 - 1)$ is infinite; from the logit, the same term is $-\log \sigma(-20) = 20.0$
# nats, large but finite, with a useful gradient.

# %%
logit = torch.tensor(20.0)
print("from the probability:", (-torch.log(1 - torch.sigmoid(logit))).item(), "  from the logit:", round((-F.logsigmoid(-logit)).item(), 3))

# %% [markdown]
# **The floor is not zero.** For one pixel, $-[x \log p + (1 - x) \log(1 - p)]$ is smallest
# at $p = x$, where it equals the pixel's binary entropy
# $H(x) = -x \log x - (1 - x) \log (1 - x)$: 0 for a white or a black pixel, but
# $\log 2 \approx 0.69$ nats for a half-grey one. A decoder that predicted every pixel
# exactly would still pay $H(x_i)$ for every grey pixel.

# %%
p = torch.linspace(0.001, 0.999, 400)
fig, ax = plt.subplots(figsize=(6, 3.4))
for xv in (0.0, 0.25, 0.5, 1.0):
    ax.plot(p, -(xv * torch.log(p) + (1 - xv) * torch.log(1 - p)), label=f"pixel x = {xv:g}")
    floor_x = 0.0 if xv in (0.0, 1.0) else -(xv * math.log(xv) + (1 - xv) * math.log(1 - xv))
    ax.plot([min(max(xv, 0.001), 0.999)], [floor_x], "ko", ms=4)
ax.set(xlabel="decoder's probability of ink p", ylabel="-log p(x | z) for one pixel (nats)", ylim=(0, 3),
       title="each curve's minimum (dot) is at p = x, with value H(x)")
ax.legend()
plt.show()

# %% [markdown]
# Summed over the pixels of each held-out digit, that floor is:

# %%
def pixel_entropy(x):
    """(B, 1, 8, 8) -> (B,): sum over pixels of -x log x - (1 - x) log(1 - x), in nats."""
    return -(torch.xlogy(x, x) + torch.xlogy(1 - x, 1 - x)).flatten(1).sum(dim=1)


floor = pixel_entropy(digits.x_test).mean().item()
print(f"the grey pixels' entropy: {floor:.1f} nats per held-out digit")

# %% [markdown]
# About 13.6 of every held-out digit's nats are out of reach of any decoder under this
# likelihood: the reconstruction term can approach 13.6 but not go below it.

# %% [markdown]
# ## The reparameterization trick
#
# The ELBO, coming next, holds an expectation over the encoder's guess,
# $\mathbb{E}_{z \sim q_\phi(z \mid x)}[\log p_\theta(x \mid z)]$, which we estimate with one
# draw of $z$ per image per step. To train the encoder we need the gradient of that
# expectation with respect to $\phi$, and a draw from a distribution is a number with no
# history: the gradient stops at it. The trick moves the randomness out of the way. Draw
# noise that does not depend on the encoder, then shift and scale it:
#
# $$z = \mu + \sigma \odot \varepsilon, \qquad \sigma = \exp\big(\tfrac{1}{2} \log \sigma^2\big), \qquad \varepsilon \sim \mathcal{N}(0, I).$$
#
# This $z$ has exactly the distribution $q_\phi(z \mid x)$, and it is a differentiable
# function of $\mu$ and $\log \sigma^2$.

# %%
def my_reparameterize(mu, logvar, generator=None):
    """mu, logvar: (B, L) -> z: (B, L), a draw from N(mu, exp(logvar)) that gradients pass through."""
    eps = torch.randn(mu.shape, generator=generator)  # (B, L): the randomness, independent of the encoder
    return mu + torch.exp(0.5 * logvar) * eps  # z = mu + sigma * eps


# %% [markdown]
# Push a reconstruction loss through it: the gradient reaches $\mu$, $\log \sigma^2$ and the
# encoder's first layer. Drawing $z$ directly with `torch.distributions.Normal(...).sample()`
# gives a $z$ with no gradient at all (PyTorch's `rsample()` is the reparameterized draw).

# %%
mu, logvar = my_encoder(x)  # (16, L) each
mu.retain_grad()
logvar.retain_grad()
loss = my_bernoulli_nll(my_decoder(my_reparameterize(mu, logvar)), x).mean()
loss.backward()
print("gradient reaches mu:", bool(mu.grad.abs().sum() > 0))
print("gradient reaches logvar:", bool(logvar.grad.abs().sum() > 0))
print("gradient reaches the encoder's first layer:", bool(my_encoder.net[0].weight.grad.abs().sum() > 0))
q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
print("z from q.sample() can carry a gradient:", q.sample().requires_grad, "  from q.rsample():", q.rsample().requires_grad)

# %% [markdown]
# The library's `vae.reparameterize` draws its noise the same way, so the same seed gives
# the same $z$:

# %%
mu, logvar = mu.detach(), logvar.detach()
same_z = torch.equal(my_reparameterize(mu, logvar, torch.Generator().manual_seed(1)),
                     vae.reparameterize(mu, logvar, torch.Generator().manual_seed(1)))
print("same z as vae.reparameterize:", same_z)

# %% [markdown]
# ## The KL term
#
# The second part of the ELBO measures, with the KL (Kullback-Leibler divergence, lesson 01's
# measure of how far one distribution is from another), how far the encoder's guess strays
# from the prior,
# $\mathrm{KL}\big(q_\phi(z \mid x) \,\|\, p(z)\big) = \mathbb{E}_q[\log q_\phi(z \mid x) - \log p(z)]$.
# For one latent, with $q = \mathcal{N}(\mu, \sigma^2)$ and $p = \mathcal{N}(0, 1)$: $\log q(z) =
# -\tfrac{1}{2}\log 2\pi\sigma^2 - \tfrac{(z - \mu)^2}{2\sigma^2}$ and $\log p(z) = -\tfrac12 \log 2\pi - \tfrac{z^2}{2}$; under $q$,
# $\mathbb{E}[(z - \mu)^2] = \sigma^2$ and $\mathbb{E}[z^2] = \mu^2 + \sigma^2$. Summed over
# the independent latents, the closed form is
#
# $$\mathrm{KL}\big(\mathcal{N}(\mu, \operatorname{diag} \sigma^2) \,\|\, \mathcal{N}(0, I)\big) = \frac{1}{2} \sum_{j=1}^{L} \big(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\big).$$
#
# No sampling: this term is exact.

# %%
def my_gaussian_kl(mu, logvar):
    """mu, logvar: (B, L) -> (B,): KL(N(mu, exp(logvar)) || N(0, I)) in nats."""
    # KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1)


kl = my_gaussian_kl(mu, logvar)  # (16,)
normal_q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
normal_p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
print("KL per image:", tuple(kl.shape))
print("same as torch.distributions.kl_divergence:", torch.allclose(kl, torch.distributions.kl_divergence(normal_q, normal_p).sum(-1)))
print("same as vae.gaussian_kl:", torch.allclose(kl, vae.gaussian_kl(mu, logvar)))

# %% [markdown]
# What the KL asks of the encoder, for one latent: it is 0 only when $q$ *is* the prior
# ($\mu = 0$, $\sigma = 1$), grows with $\mu^2$ as the guess moves away from the centre, and
# punishes a narrow guess too: $\sigma = 0.1$ costs 1.8 nats even at $\mu = 0$ (printed below). A code that
# pins $z$ down precisely, far from the centre, carries a lot of information about $x$, and
# the KL is the price of that information, in nats.

# %%
m = torch.linspace(-3, 3, 200)
fig, ax = plt.subplots(figsize=(6, 3.4))
for s in (0.1, 0.5, 1.0, 2.0):
    lv = torch.full_like(m, 2 * math.log(s))  # log sigma^2
    ax.plot(m, my_gaussian_kl(m[:, None], lv[:, None]), label=f"sigma = {s:g}")
ax.set(xlabel="mu", ylabel="KL(q || p) in nats", ylim=(0, 6), title="KL(N(mu, sigma^2) || N(0, 1)) for one latent")
ax.legend()
plt.show()
narrow = my_gaussian_kl(torch.zeros(1, 1), torch.full((1, 1), 2 * math.log(0.1))).item()  # mu = 0, sigma = 0.1
print(f"KL at mu = 0, sigma = 0.1: {narrow:.1f} nats")

# %% [markdown]
# ## The ELBO
#
# Now the bound. Write $p_\theta(x)$ as an expectation under the encoder's guess and move
# the log inside it (Jensen's inequality: $\log \mathbb{E} \ge \mathbb{E} \log$):
#
# $$\log p_\theta(x) = \log \mathbb{E}_{z \sim q_\phi}\left[\frac{p_\theta(x \mid z)\, p(z)}{q_\phi(z \mid x)}\right]
#   \ \ge\ \mathbb{E}_{z \sim q_\phi}\big[\log p_\theta(x \mid z)\big] - \mathrm{KL}\big(q_\phi(z \mid x) \,\|\, p(z)\big) = \mathrm{ELBO}(x).$$
#
# The gap is exact: $\log p_\theta(x) - \mathrm{ELBO}(x) = \mathrm{KL}\big(q_\phi(z \mid x) \,\|\, p_\theta(z \mid x)\big) \ge 0$,
# how far the encoder's guess is from the true posterior, the distribution of the $z$ that
# really made $x$. Maximising the ELBO over $\theta$ and $\phi$ together pushes the
# likelihood up *and* the guess towards the true posterior.
#
# Training minimises $-\mathrm{ELBO}$ = reconstruction + KL, in nats per image. The two terms
# pull against each other: the reconstruction term wants $z$ to say everything about $x$,
# the KL wants $q$ to be the prior, which says nothing. By hand, with one draw of $z$:

# %%
def my_neg_elbo(encoder, decoder, x, generator=None):
    """x: (B, 1, 8, 8) -> (B,): -ELBO = -log p(x | z) + KL(q(z | x) || p(z)), one z per image."""
    mu, logvar = encoder(x)  # (B, L) each
    z = my_reparameterize(mu, logvar, generator)  # (B, L)
    return my_bernoulli_nll(decoder(z), x) + my_gaussian_kl(mu, logvar)


lib_vae = vae.VAE(c)  # the library's encoder and decoder together, with our weights
lib_vae.encoder.load_state_dict(my_encoder.state_dict())
lib_vae.decoder.load_state_dict(my_decoder.state_dict())
terms = vae.elbo(lib_vae, x, generator=torch.Generator().manual_seed(2))  # vae.ELBO: .reconstruction, .kl (B,)
mine = my_neg_elbo(my_encoder, my_decoder, x, torch.Generator().manual_seed(2))
print("same -ELBO as vae.elbo:", torch.allclose(mine, terms.neg_elbo))

# %% [markdown]
# ## Two yardsticks
#
# What numbers to expect, in nats per held-out digit. A model that flips a fair coin for
# every pixel pays $64 \log 2 = 44.4$. A model with no latent at all, which knows how often
# each pixel is inked in the training digits but draws the pixels independently, pays:

# %%
ink = digits.x_train.mean(dim=0, keepdim=True).clamp(1e-3, 1 - 1e-3)  # (1, 1, 8, 8): each pixel's mean
independent = vae.bernoulli_nll(torch.logit(ink).expand_as(digits.x_test), digits.x_test).mean().item()
print(f"fair coins: {64 * math.log(2):.1f} nats per digit;  independent pixels: {independent:.1f}")

# %% [markdown]
# A VAE whose KL is 0 is exactly that second model: if $z$ says nothing about $x$, the best
# the decoder can do is each pixel's average. Everything a VAE gains beyond 27 nats, it gains
# through $z$, and pays for in KL.

# %% [markdown]
# ## Training
#
# `train_vae` in the library is the loop: each step takes a batch of training digits, computes
# `vae.elbo` (one reparameterized $z$ per digit) and takes an Adam step (lesson 03's optimizer) on the mean
# $-\mathrm{ELBO}$. The recipe `vae-digits` (the same one `genai-course train vae-digits` uses)
# sets the networks above and these training settings:

# %%
vae_model = models.build("vae-digits", seed=0)
print(vae_model.recipe.train)
t = vae_model.recipe.train
print(f"passes over the training digits: {t.steps * t.batch_size / len(digits.x_train):.0f}")

# %% [markdown]
# 9,600 steps of 128 digits, about 820 passes over the 1,497 training digits, with **cosine
# decay**: the learning rate falls from its starting value to 0 along half a cosine, slowly
# at first and at the end, fastest in the middle. (`input_noise` is in "Going further".)

# %% [markdown]
# We record the decoder's means for 100 fixed $z \sim p(z)$ every 480 steps, and once before
# training; the cell prints how long it took:

# %%
# NBVAL_IGNORE_OUTPUT
snaps = vae_model.snapshots(every=480)  # vae.SampleSnapshots: 100 fixed z from the prior
snaps.record(0, vae_model.vae)  # the untrained decoder too, as "step 0"
vae_model.fit(callbacks=[snaps], pretrained=PRETRAINED)
print(f"{vae_model.step} steps in {vae_model.history.seconds:.0f} s")

# %%
print("steps:", vae_model.step, "  snapshots:", len(snaps.records), "  losses logged:", len(vae_model.history.kl))

# %% [markdown]
# The two terms over training, on the training batches (averaged over 50 steps; note the
# logarithmic step axis). For the first hundred-odd steps (printed after the plot) the KL stays at 0 and the
# $-\mathrm{ELBO}$ sits on the no-latent line: the decoder learns each pixel's average and
# ignores $z$. Then the codes start to carry information: the KL rises to a few nats (what
# the encoder pays to tell the decoder which digit, in which style) and the reconstruction
# term drops by about twice as much (printed after the plot). It creeps down from there, well
# above the grey pixels' floor: what 4 numbers cannot say about a digit.

# %%
def smooth(values, window=50):
    """Moving average over `window` steps: (N,) -> (N - window + 1,)."""
    v = torch.tensor(values).cumsum(0)
    return (v[window - 1 :] - torch.cat([torch.zeros(1), v[:-window]])) / window


hist = vae_model.history
steps = torch.tensor(hist.step)[49:]
train_floor = pixel_entropy(digits.x_train).mean().item()
no_latent = vae.bernoulli_nll(torch.logit(ink).expand_as(digits.x_train), digits.x_train).mean().item()
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
axes[0].plot(steps, smooth(hist.loss), label="-ELBO = reconstruction + KL")
axes[0].plot(steps, smooth(hist.reconstruction), label="reconstruction -log p(x | z)")
axes[0].axhline(no_latent, color="C3", ls=":", lw=1.2, label="no latent: independent pixels")
axes[0].axhline(train_floor, color="k", ls="--", lw=0.8, label="grey pixels' entropy (floor)")
axes[0].set(xscale="log", xlabel="step", ylabel="nats per digit", ylim=(10, 45), title="-ELBO and its reconstruction term")
axes[0].legend(loc="upper right", fontsize=8)
axes[1].plot(steps, smooth(hist.kl), color="C2")
axes[1].set(xscale="log", xlabel="step", ylabel="nats per digit", ylim=(0, None), title="KL(q(z | x) || p(z))")
plt.show()

# %%
# NBVAL_IGNORE_OUTPUT
kl_end = smooth(hist.kl)[-1].item()  # the last 50 steps' mean
recon_drop = no_latent - smooth(hist.reconstruction)[-1].item()  # below the no-latent line
kl_starts = int(steps[(smooth(hist.kl) > 0.1).nonzero()[0, 0]])  # the first step whose 50-step mean KL passes 0.1 nats
print(f"the KL stays below 0.1 nats until step {kl_starts}")
print(f"at the end of training: KL {kl_end:.2f} nats, reconstruction {recon_drop:.2f} nats below the no-latent line "
      f"({recon_drop / kl_end:.1f} times the KL)")

# %%
print("the reconstruction term dropped by 1.5 to 3 times what the KL rose:", 1.5 * kl_end < recon_drop < 3 * kl_end)

# %% [markdown]
# Replay training: the decoder's means for the same 100 $z$ at every snapshot. Blobs, then
# an average digit, then digits.

# %%
# NBVAL_IGNORE_OUTPUT
widgets.digit_scrubber(snaps)

# %% [markdown]
# Five moments of it, as still pictures (the first 25 of the fixed $z$):

# %%
records = snaps.records
picks = [0, 1, 2, 5, len(records) - 1]
fig, axes = plt.subplots(1, 5, figsize=(16, 3.6))
for ax, i in zip(axes, picks):
    widgets.show_digits(records[i]["samples"][:25], nrow=5, ax=ax, title=f"step {records[i]['step']}")
plt.show()

# %% [markdown]
# ## How probable are the held-out digits?
#
# The number a GAN cannot give. `vae_model.evaluate()` scores the 300 held-out digits in
# nats per digit: $-\mathrm{ELBO}$ (its reconstruction term averaged over 10 draws of $z$)
# and $-\mathrm{IWAE}_{200}$, a tighter bound explained below. Both are *upper* bounds on
# $-\log p_\theta(x)$: lower is better. (The exact values depend a little on your machine's
# arithmetic: about 23.5 for the $-\mathrm{ELBO}$.)

# %%
# NBVAL_IGNORE_OUTPUT
report = vae_model.evaluate()
print(report)

# %%
print("VAE -ELBO below 24 nats per digit:", report.neg_elbo < 24.0)
print("at least 3 nats better than independent pixels:", report.neg_elbo < independent - 3)
print("-IWAE <= -ELBO (a tighter bound):", report.neg_iwae <= report.neg_elbo)
print("reconstruction above the grey pixels' floor:", report.reconstruction > floor)

# %% [markdown]
# Being $g$ nats below the no-latent model means that the VAE gives a typical held-out
# digit at least $e^{g}$ times the probability the no-latent model gives it (a geometric average over the digits, and a bound:
# the truth can only be better). And of each model's nats, the grey pixels' own entropy is
# out of reach: what is left above it is what each spends on the rest.

# %%
# NBVAL_IGNORE_OUTPUT
gain = independent - report.neg_elbo
print(f"{gain:.1f} nats below the no-latent model: at least {math.exp(gain):.0f} times its probability")
print(f"nats above the grey pixels' floor of {floor:.1f}: VAE {report.neg_elbo - floor:.1f}, no latent {independent - floor:.1f}")

# %% [markdown]
# ## A tighter bound: importance weighting
#
# The ELBO moves the log inside the expectation over *one* draw of $z$. Averaging $k$ draws
# first, then taking the log, gives the **IWAE bound**, named after the importance-weighted
# autoencoder (Burda, Grosse & Salakhutdinov, 2016, [arXiv:1509.00519](https://arxiv.org/abs/1509.00519)):
#
# $$\mathrm{IWAE}_k(x) = \mathbb{E}_{z_1, \dots, z_k \sim q_\phi}\left[\log \frac{1}{k} \sum_{i=1}^k \frac{p_\theta(x \mid z_i)\, p(z_i)}{q_\phi(z_i \mid x)}\right], \qquad
#   \mathrm{ELBO} = \mathrm{IWAE}_1 \le \mathrm{IWAE}_k \le \mathrm{IWAE}_{k+1} \le \log p_\theta(x),$$
#
# and $\mathrm{IWAE}_k \to \log p_\theta(x)$ as $k \to \infty$. The weights
# $p_\theta(x, z_i) / q_\phi(z_i \mid x)$ correct for the encoder's guess being only a guess:
# draws where the true posterior is larger than $q$ count more. `vae.iwae_bound` computes it
# per digit; here for $k$ = 1 to 1,000 on the held-out digits:

# %%
ks = [1, 10, 100, 1000]
with torch.no_grad():
    neg_iwae = [-vae.iwae_bound(vae_model.vae, digits.x_test, k=k, generator=torch.Generator().manual_seed(0)).mean().item() for k in ks]
print("tighter at every k:", all(b < a for a, b in zip(neg_iwae, neg_iwae[1:])))
print("k = 1000 at least 0.2 nats tighter than k = 1:", neg_iwae[-1] < neg_iwae[0] - 0.2)

# %%
# NBVAL_IGNORE_OUTPUT
print("-IWAE_k (nats per held-out digit):", ", ".join(f"k = {k}: {v:.2f}" for k, v in zip(ks, neg_iwae)))
print(f"the drop from k = 1 to k = 1000: {neg_iwae[0] - neg_iwae[-1]:.2f} nats")

# %%
fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(ks, neg_iwae, "o-", label="-IWAE_k (one estimate each)")
ax.axhline(report.neg_elbo, color="C1", ls="--", label="-ELBO (10 draws)")
ax.set(xscale="log", xlabel="importance samples k", ylabel="nats per held-out digit",
       title="upper bounds on -log p(x): they tighten as k grows")
ax.legend()
plt.show()

# %% [markdown]
# ($k = 1$ is a one-draw estimate of the ELBO, so it sits near the dashed line, a 10-draw
# estimate.) The bound drops fast from $k = 1$ to $k = 10$, then flattens (printed above).
# Flattening does not show how far it still is from $-\log p_\theta(x)$: $\mathrm{IWAE}_{1000}$
# is still a lower bound on $\log p_\theta(x)$. So the drop, a few tenths of a nat, is a lower
# bound on the ELBO's gap $\mathrm{KL}(q_\phi(z \mid x) \,\|\, p_\theta(z \mid x))$: the
# encoder's diagonal Gaussian is a good but not a perfect guess of the true posterior. The
# decoder is the model; the encoder only helps to train and to measure it.

# %% [markdown]
# ## Samples
#
# To draw a new digit: $z \sim \mathcal{N}(0, I)$, then the decoder's means $\sigma(\ell(z))$.
# 1,000 of them, judged by the course's digit classifier (lesson 06; trained the first time
# it is asked for):

# %%
# NBVAL_IGNORE_OUTPUT
samples = vae_model.sample(1000, generator=torch.Generator().manual_seed(0))  # (1000, 1, 8, 8) decoder means
vae_digits_report = metrics.digit_metrics(samples)
print(vae_digits_report)

# %%
print("confident fraction >= 0.8:", vae_digits_report.confident >= 0.8)
print("class entropy >= 0.98:", vae_digits_report.class_entropy >= 0.98)

# %%
widgets.show_digits(samples[:100], nrow=20, title="100 VAE samples: decoder means of z ~ N(0, I)")
plt.show()

# %% [markdown]
# **Why they look blurry.** The decoder's output for one $z$ is a distribution over images,
# and what we show is its mean. Given $z$, many strokes are plausible (a little thicker, a
# little to the left), and their average has soft edges. An actual draw from
# $p_\theta(x \mid z)$ flips each pixel's coin on its own: the pixels are independent given
# $z$, so all the structure a digit has must come through $z$, and what $z$ does not pin
# down comes out as speckle.

# %%
means = samples[:20]
draws = torch.bernoulli(means, generator=torch.Generator().manual_seed(0))  # one coin per pixel
fig, axes = plt.subplots(1, 3, figsize=(15, 2.4))
widgets.show_digits(means, nrow=10, ax=axes[0], title="decoder means (what we show)")
widgets.show_digits(draws, nrow=10, ax=axes[1], title="Bernoulli draws of the same z")
widgets.show_digits(digits.x_test[:20], nrow=10, ax=axes[2], title="real held-out digits")
plt.show()

# %% [markdown]
# ## Reconstructions: the way back
#
# The encoder takes a digit to its code, the decoder takes the code back to a digit. Each
# column below is one held-out digit: the original, its **reconstruction** (the decoder's
# means at the encoder's mean $\mu(x)$), and two draws $z \sim q_\phi(z \mid x)$. The
# slider moves through the 300 held-out digits.

# %%
# NBVAL_IGNORE_OUTPUT
widgets.reconstructions(vae_model)

# %%
widgets.show_reconstructions(vae_model, digits.x_test[:15], digits.y_test[:15])
plt.show()

# %% [markdown]
# Does the code keep the digit's identity? The classifier reads the 300 reconstructions
# almost as well as the originals (the cell after prints both fractions):

# %%
with torch.no_grad():
    judge = metrics.digit_classifier()
    reconstructed = vae_model.vae.reconstruct(digits.x_test)  # (300, 1, 8, 8): decoder means at mu(x)
    kept = (judge(reconstructed).argmax(dim=1) == digits.y_test).float().mean().item()
print("reconstructions classified as the original's label, >= 90%:", kept >= 0.9)

# %%
# NBVAL_IGNORE_OUTPUT
with torch.no_grad():
    kept_original = (judge(digits.x_test).argmax(dim=1) == digits.y_test).float().mean().item()
print(f"classified as their label: originals {kept_original:.1%}, reconstructions {kept:.1%}")

# %% [markdown]
# ## Walking the latent space
#
# What does each of the 4 latents do? Row $i$ sweeps $z_i$ from -3 to 3 while the others
# stay put; the sliders move the starting point.

# %%
# NBVAL_IGNORE_OUTPUT
widgets.latent_traversal(vae_model)

# %% [markdown]
# As a still picture, from the centre of the prior, $z = 0$:

# %%
sweep = torch.linspace(-3, 3, 9)
rows = []
for i in range(c.latent_dim):
    zs = torch.zeros(len(sweep), c.latent_dim)  # (9, L): the centre of the prior
    zs[:, i] = sweep  # row i moves z_i only
    rows.append(zs)
with torch.no_grad():
    traversal = vae_model.G(torch.cat(rows))  # (36, 1, 8, 8): vae_model.G is the decoder's means
widgets.show_digits(traversal, nrow=9, title="row i: z_i from -3 to 3, the others at 0")
plt.show()

# %% [markdown]
# With four latents and ten classes, no coordinate is "the class": each direction turns one
# digit into another *and* changes its style. The VAE has no reason to line its axes up with
# anything we would name.
#
# The KL splits over the latents, one term per coordinate, so we can see how many nats each
# one carries, on average over the held-out digits:

# %%
with torch.no_grad():
    mu_test, logvar_test = vae_model.vae.encoder(digits.x_test)  # (300, L) each
kl_per_latent = (0.5 * (mu_test.pow(2) + logvar_test.exp() - 1 - logvar_test)).mean(dim=0)  # (L,)
print("the latents' KLs add up to the KL:", torch.allclose(kl_per_latent.sum(), vae.gaussian_kl(mu_test, logvar_test).mean()))
print("the least-used latent carries less than half the nats of the most-used one:",
      bool(kl_per_latent.min() < 0.5 * kl_per_latent.max()))
print("two latents or more in use (KL > 0.5 nats):", int((kl_per_latent > 0.5).sum()) >= 2)

# %%
# NBVAL_IGNORE_OUTPUT
print("KL per latent (nats per digit):", [round(v, 2) for v in kl_per_latent.tolist()])

# %%
fig, ax = plt.subplots(figsize=(5, 2.8))
ax.bar([f"z_{i}" for i in range(c.latent_dim)], kl_per_latent)
ax.set(ylabel="KL (nats per digit)", title="what each latent carries, held-out digits")
plt.show()

# %% [markdown]
# Here three latents carry about a nat each and the fourth far less (printed above); with
# other arithmetic it may carry nothing at all, its $q(z_i \mid x)$ the prior for every digit
# and its row in the traversal flat. That extreme is *posterior collapse* of the coordinate,
# the KL term at work: a latent is used only if the nats it saves in reconstruction exceed
# the nats it costs.

# %% [markdown]
# The straight line between two latent points, $z(t) = (1 - t)\, z_a + t\, z_b$ (the widget
# of lessons 06-07, with seeds picking $z_a$ and $z_b$):

# %%
# NBVAL_IGNORE_OUTPUT
widgets.interpolation(vae_model)

# %% [markdown]
# The encoder lets us start and end at *real* digits: encode two held-out digits, walk from
# one code to the other, decode. A GAN cannot do this without searching for the $z$ of each
# digit.

# %%
def first_of(k):
    return int((digits.y_test == k).nonzero()[0])  # index of the first held-out digit of class k


t = torch.linspace(0, 1, 10).unsqueeze(1)  # (10, 1)
paths = []
with torch.no_grad():
    for a, b in [(3, 8), (1, 7), (0, 6), (4, 9)]:
        ends = digits.x_test[[first_of(a), first_of(b)]]  # (2, 1, 8, 8)
        mu_ends = vae_model.vae.encoder(ends)[0]  # (2, L): the codes of a real a and a real b
        paths.append(vae_model.G((1 - t) * mu_ends[0] + t * mu_ends[1]))  # (10, 1, 8, 8)
widgets.show_digits(torch.cat(paths), nrow=10, title="from a real digit's code (left) to another's (right): 3-8, 1-7, 0-6, 4-9")
plt.show()

# %% [markdown]
# ## Two latents: the whole space at once
#
# Four dimensions cannot be drawn. A VAE with **two** latents can: every held-out digit
# becomes a point in the plane, and the decoder can be asked for a digit at every point of a
# grid. We build one with the library's pieces (`models.TrainedVAE` with a custom
# `models.VAERecipe`) and train it for 2,400 steps, a quarter of the 4-latent VAE's 9,600:

# %%
# NBVAL_IGNORE_OUTPUT
small = models.TrainedVAE(models.VAERecipe(vae.VAEConfig(latent_dim=2), vae.VAETrainConfig(steps=2400)), name="vae-2d")
small.fit(progress=False, pretrained=PRETRAINED)
small_report = small.evaluate()
print(f"{small.step} steps in {small.history.seconds:.0f} s;", small_report)

# %% [markdown]
# Left, where the encoder puts the held-out digits, coloured by their class; middle, what the
# decoder draws on a grid over the same square; the sliders move a cross over both.

# %%
# NBVAL_IGNORE_OUTPUT
widgets.latent_map(small)

# %% [markdown]
# The same two maps as a still picture:

# %%
with torch.no_grad():
    mu_small = small.vae.encoder(digits.x_test)[0]  # (300, 2)
    centres = torch.linspace(-3, 3, 15)
    z1, z0 = torch.meshgrid(centres.flip(0), centres, indexing="ij")  # row 0 at the top: z_1 = 3
    tiles = small.G(torch.stack([z0.flatten(), z1.flatten()], dim=1))  # (225, 1, 8, 8)
fig, axes = plt.subplots(1, 2, figsize=(11, 5), width_ratios=[1.2, 1])
dots = axes[0].scatter(mu_small[:, 0], mu_small[:, 1], c=digits.y_test, cmap="tab10", vmin=-0.5, vmax=9.5, s=10)
fig.colorbar(dots, ax=axes[0], ticks=range(10), label="digit")
axes[0].set(xlim=(-3.2, 3.2), ylim=(-3.2, 3.2), aspect="equal", xlabel="z_0", ylabel="z_1", title="encoder means of the 300 held-out digits")
widgets.show_digits(tiles, nrow=15, ax=axes[1], title="decoder means on a 15 x 15 grid over [-3, 3]^2")
plt.show()

# %%
print("2 latents: KL below the 4-latent VAE's:", small_report.kl < report.kl)
print("2 latents: -ELBO worse than the 4-latent VAE's:", small_report.neg_elbo > report.neg_elbo)

# %%
# NBVAL_IGNORE_OUTPUT
for name, m, r in [("2 latents", small, small_report), ("4 latents", vae_model, report)]:
    print(f"{name}: {m.step} steps, -ELBO {r.neg_elbo:.2f} nats, KL {r.kl:.2f} nats")

# %% [markdown]
# The classes form regions, and the map between them is filled: every point of the square
# decodes to something digit-like, because the KL term keeps the codes packed around the
# origin with no holes. Neighbouring classes meet at blends (a 4 fading into a 9). Its
# $-\mathrm{ELBO}$ is worse and its KL smaller (printed side by side above), but it also
# trained for a quarter of the steps, so part of the gap may be the shorter run, not the two
# latents. What two numbers hold, you can see whole.

# %% [markdown]
# ## VAE or GAN?
#
# Same data, two families. For the comparison we train lesson 06's `dcgan-digits` recipe
# briefly, for 1,200 steps instead of lesson 06's (printed):

# %%
# NBVAL_IGNORE_OUTPUT
print("lesson 06's steps:", models.get_recipe("dcgan-digits").train.steps)
gan_model = models.train_model("dcgan-digits", steps=1200, progress=False, pretrained=PRETRAINED)
print(f"{gan_model.step} steps in {gan_model.history.seconds:.0f} s")

# %% [markdown]
# We judge 1,000 samples of each, and measure sharpness as the fraction of pixels within 0.1
# of white or black (real digits have many grey pixels too, so they are the reference):

# %%
# NBVAL_IGNORE_OUTPUT
gan_samples = gan_model.sample(1000, generator=torch.Generator().manual_seed(0))
gan_digits_report = metrics.digit_metrics(gan_samples)


def sharpness(x):
    """Fraction of pixels within 0.1 of 0 or 1."""
    return ((x < 0.1) | (x > 0.9)).float().mean().item()


sharp = {"real": sharpness(digits.x_test), "VAE": sharpness(samples), "GAN": sharpness(gan_samples)}
print("VAE:", vae_digits_report)
print("GAN:", gan_digits_report)
print("sharpness:", ", ".join(f"{k} {v:.2f}" for k, v in sharp.items()))

# %%
print("both recognisable (confident fraction >= 0.8):", vae_digits_report.confident >= 0.8 and gan_digits_report.confident >= 0.8)
print("GAN sharper than the VAE by 0.05 or more:", sharp["GAN"] > sharp["VAE"] + 0.05)
print("VAE blurrier than real digits by 0.05 or more:", sharp["VAE"] < sharp["real"] - 0.05)
print("GAN's feature distance smaller than the VAE's:", gan_digits_report.frechet < vae_digits_report.frechet)

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
widgets.show_digits(samples[:50], nrow=10, ax=axes[0], title=f"VAE (decoder means): sharpness {sharp['VAE']:.2f}")
widgets.show_digits(gan_samples[:50], nrow=10, ax=axes[1], title=f"GAN, 1,200 steps: sharpness {sharp['GAN']:.2f}")
plt.show()

# %% [markdown]
# The GAN's digits are crisp, as sharp as real ones, and their classifier features sit closer
# to the real digits'; the VAE's are soft. Both are recognisable. What each gives:
#
# | | VAE | GAN |
# |---|---|---|
# | samples | soft (the mean of many strokes) | crisp |
# | a number for how probable a digit is | yes: bounds on $\log p(x)$, in nats | no |
# | from image to code | yes: the encoder | no (only by searching for $z$) |
# | training | one loss that goes down; stable | a two-player game; needs care (lessons 04-05) |
#
# The blur is not a bug of training but a consequence of the model: independent pixels given
# $z$, a likelihood that punishes a confident wrong pixel severely, and a small $z$. Later
# models combine the two ideas (a VAE's encoder with an adversarial or perceptual loss);
# lesson 10's diffusion models reach sharp samples another way, through many small
# denoising steps trained with a mean-squared error.

# %% [markdown]
# ## The conditional VAE: draw me a 7
#
# As in lesson 07, the label goes in as a one-hot vector, here into **both** networks:
# $q_\phi(z \mid x, y)$ and $p_\theta(x \mid z, y)$. The decoder's first layer takes
# $[\,z\,;\ \mathrm{onehot}(y)\,]$, $L + 10$ numbers; the encoder's takes the 64 pixels and
# the one-hot, 74 numbers. Since the decoder is told the class, the code $z$ no longer has to
# carry it, and is free to hold the style. The conditional decoder, by hand:

# %%
class MyConditionalDecoder(MyDecoder):
    def __init__(self, latent_dim=4, hidden=256, num_classes=10):
        super().__init__(latent_dim + num_classes, hidden)  # the first layer takes L + K inputs
        self.num_classes = num_classes

    def forward(self, z, y):
        zy = torch.cat([z, F.one_hot(y, self.num_classes).float()], dim=1)  # (B, L + K)
        return super().forward(zy)  # (B, 1, 8, 8) logits


cvae_config = models.get_recipe("cvae-digits").vae
print(cvae_config, "  default steps:", models.get_recipe("cvae-digits").train.steps)
torch.manual_seed(0)
my_cond_decoder = MyConditionalDecoder(cvae_config.latent_dim, cvae_config.hidden, cvae_config.num_classes)
lib_cond_decoder = vae.Decoder(cvae_config)
lib_cond_decoder.load_state_dict(my_cond_decoder.state_dict())
y = torch.arange(16) % 10
print("same logits as vae.Decoder with num_classes=10:", torch.allclose(my_cond_decoder(z, y), lib_cond_decoder(z, y)))

# %% [markdown]
# Drawn: $z$ (4 numbers) and $y$ meet in `forward()`, where $y$ becomes a one-hot vector
# appended to $z$; the first layer reads $4 + 10 = 14$ numbers, the rest is the
# unconditional decoder.

# %%
widgets.draw_network(my_cond_decoder, z, y, title="MyConditionalDecoder: the label joins z before the first layer")
plt.show()

# %% [markdown]
# The `cvae-digits` recipe trains it like the VAE. The command line's default is the full
# 9,600 steps (printed above); 2,400 are enough here:

# %%
# NBVAL_IGNORE_OUTPUT
cvae = models.train_model("cvae-digits", steps=2400, progress=False, pretrained=PRETRAINED)
cvae_report = cvae.evaluate()
print(f"{cvae.step} steps in {cvae.history.seconds:.0f} s;", cvae_report)

# %% [markdown]
# 100 digits of each class, judged:

# %%
# NBVAL_IGNORE_OUTPUT
labels = torch.arange(10).repeat_interleave(100)  # (1000,): 100 of each class
cvae_samples = cvae.sample(1000, generator=torch.Generator().manual_seed(0), labels=labels)
cvae_digits_report = metrics.digit_metrics(cvae_samples, labels)
print(cvae_digits_report)

# %%
print("label accuracy >= 0.95:", cvae_digits_report.label_accuracy >= 0.95)
print("confident fraction >= 0.9:", cvae_digits_report.confident >= 0.9)
print("the label lets the code carry less (smaller KL than the VAE's):", cvae_report.kl < report.kl)

# %%
# NBVAL_IGNORE_OUTPUT
for name, m, r in [("cVAE", cvae, cvae_report), ("VAE", vae_model, report)]:
    print(f"{name}: {m.step} steps, KL {r.kl:.2f} nats")

# %% [markdown]
# The cVAE's KL is the smaller, but it trained for a quarter of the VAE's steps and the KL
# grows during training, so part of that gap may be the shorter run.

# %% [markdown]
# Lesson 07's grid: row $k$ asks for a $k$, column $j$ uses the same $z_j$ in every row.
# Every row is its class. The style varies little along a row: the codes carry only about a
# nat (printed above), so $z_j$ holds a little slant and thickness, and the decoder's means
# average over the rest.

# %%
z_grid = torch.randn(10, cvae_config.latent_dim, generator=torch.Generator().manual_seed(2)).repeat(10, 1)  # column j: z_j
y_grid = torch.arange(10).repeat_interleave(10)  # row k asks for k
with torch.no_grad():
    widgets.show_digits(cvae.G(z_grid, y_grid), nrow=10, title="conditional VAE: row k asked for k, column j the same z_j")
plt.show()

# %% [markdown]
# Ask for a 7 and move through the 7s: the class picker sets $y$, the sliders move $z$.

# %%
# NBVAL_IGNORE_OUTPUT
widgets.digit_picker(cvae, label=7)

# %%
widgets.show_digits(cvae.sample(20, generator=torch.Generator().manual_seed(7), labels=7), nrow=10, title="asked for a 7")
plt.show()

# %% [markdown]
# ## Summary
#
# * A VAE draws $z \sim \mathcal{N}(0, I)$ and $x \sim p_\theta(x \mid z)$, with an encoder
#   $q_\phi(z \mid x)$ that guesses which $z$ made $x$: a generator that runs backwards.
# * Training minimises $-\mathrm{ELBO}$, a binary cross-entropy from logits (floor: the grey
#   pixels' 13.6 nats) plus a closed-form KL; the ELBO is a lower bound on $\log p_\theta(x)$,
#   and $z = \mu + \sigma \odot \varepsilon$ lets the gradient reach the encoder.
# * Held-out digits score about 23.5 nats ($-\mathrm{ELBO}$), a few tenths less with the IWAE
#   bound; samples are recognisable but softer than a GAN's, which gives no likelihood and no encoder.
# * With the label in both networks, a conditional VAE draws the digit you ask for.

# %% [markdown]
# ## Going further
#
# **The $\beta$ knob.** One number changes the balance of the two terms: minimise reconstruction $+\ \beta \cdot$ KL
# (the $\beta$-VAE of Higgins et al., 2017). With $\beta > 1$ the codes pay more for every nat
# of information, so they carry less: the latent space is smoother and closer to the prior,
# and its directions tend to line up with separate factors of variation, at the price of
# blurrier reconstructions and a worse ELBO. With $\beta < 1$ reconstructions sharpen, but
# the codes spread out and leave holes in the prior where samples decode to nothing. Only
# $\beta = 1$ gives the ELBO, a bound on $\log p(x)$, so `evaluate` always reports the
# $\beta = 1$ numbers. In the library it is `vae.VAETrainConfig(beta=...)`, for example
# `models.TrainedVAE(models.VAERecipe(vae.VAEConfig(), vae.VAETrainConfig(beta=4.0)))`: try
# it, and compare the reconstructions and the latent traversal with this lesson's.
#
# **A denoising encoder.** The recipe's `input_noise=0.2` adds a little Gaussian noise to each
# digit the encoder sees in training while the decoder must still explain the clean digit;
# the result is still a lower bound, since the ELBO's derivation holds for any $q$, and
# evaluation feeds clean digits.
#
# **Grey pixels.** On grey pixels the Bernoulli log-likelihood is the usual choice for these
# digits, as in most VAE papers on such data, but strictly it is not a normalised density over
# grey images; the *continuous Bernoulli* (Loaiza-Ganem & Cunningham, 2019,
# [arXiv:1907.06845](https://arxiv.org/abs/1907.06845)) adds the missing normaliser.
#
# ## Exercises
#
# Open `exercises/08_vae.ipynb`: draw $k$ reparameterized latents per example, as the IWAE
# bound needs (8.1), derive the KL between two Gaussians, for a prior of your own (8.2), and
# write the conditional VAE's encoder $q(z \mid x, y)$ (8.3), each with an instant check.
#
# Next: lesson 09, generating text: character-level models from counts to a tiny transformer.
