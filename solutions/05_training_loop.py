# %% [markdown]
# # Exercises 05: The training loop
#
# Three exercises from lesson 05 (`notebooks/05_training_loop.ipynb`): a discriminator step
# with the R1 penalty, a generator step that does no work for D's weights, and a loop that
# gives D several steps for each of G's. Replace each `raise NotImplementedError` with your code, then run the check
# cell below it: it prints ✅ when your function is right, or says what is wrong.
#
# Every function here uses the non-saturating loss on logits from lesson 04 (a logit ℓ is D's
# raw output; σ(ℓ), the sigmoid, is D's probability that the input is real):
# D minimises $\mathrm{softplus}(-\ell_\text{real}) + \mathrm{softplus}(\ell_\text{fake})$ and G minimises
# $\mathrm{softplus}(-\ell_\text{fake})$, each term averaged over its batch.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from genai_course import checks, data, gan, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)

# %% [markdown]
# ## Exercise 5.1: a discriminator step with the R1 penalty
#
# The lesson's recipe adds the R1 penalty to D's loss: D minimises
#
# $$L_D + \frac{\gamma}{2}\cdot\frac{1}{B}\sum_{i=1}^{B} \|\nabla_x D(x_i)\|^2,$$
#
# its loss $L_D$ plus $\gamma/2$ times the mean, over the real batch $x_1, \dots, x_B$, of the squared
# length of D's slope (the gradient of D's logit with respect to its input) at each example.
# `gan.d_step(..., r1_gamma=gamma)` does this for you; here you write it.
#
# Write `d_step(G, D, real, opt_d, gamma)`: draw `B = real.shape[0]` latent vectors, make B
# fakes with G, compute D's loss plus the penalty, take one step of `opt_d`, and return that
# total as a Python float.
#
# Think about where each gradient goes:
#
# * D's loss must change D only: no gradient may flow back through the fakes into G.
# * The penalty is itself a gradient, taken with respect to the input, not the weights. Autograd
#   can only take it if it tracks the real batch, and `backward()` can only carry the penalty on
#   to D's weights if the penalty keeps the graph it was computed with (exercise 4.3 took a
#   gradient of a gradient in the same way).
#
# The check steps D by plain gradient descent and reads, from how D's weights moved, how much
# of your step came from the loss and how much from the penalty.


# %%
def d_step(G: gan.Generator, D: gan.Discriminator, real: torch.Tensor, opt_d: torch.optim.Optimizer, gamma: float) -> float:
    """One update of D on real (B, 2) and B fresh fakes, with the R1 penalty weighted gamma / 2; returns the total loss."""
    # BEGIN SOLUTION
    z = torch.randn(real.shape[0], G.config.latent_dim)  # (B, latent_dim)
    fake = G(z).detach()  # (B, 2): no path back into G
    x = real.detach().requires_grad_(True)  # (B, 2): autograd tracks the input, for the slope
    real_logits = D(x)  # (B,)
    (slope,) = torch.autograd.grad(real_logits.sum(), x, create_graph=True)  # (B, 2), keeps its graph
    penalty = slope.pow(2).sum(dim=1).mean()  # squared length per example, averaged over the batch
    loss = F.softplus(-real_logits).mean() + F.softplus(D(fake)).mean() + gamma / 2 * penalty
    opt_d.zero_grad()
    loss.backward()
    opt_d.step()
    return loss.item()
    # END SOLUTION


# %%
checks.d_step(d_step)

# %% [markdown]
# ## Exercise 5.2: a generator step that spares D's weights
#
# The lesson's G step (`gan.g_step`) also computes a gradient for every weight of D: to reach
# G, `backward()` passes through D, and on the way it fills D's `.grad`, which nothing uses
# (only `opt_g` steps, and D's next step clears it). Write `g_step(G, D, batch_size, opt_g)`:
# make `batch_size` fresh fakes, compute the non-saturating G loss on D's logits and take one
# step of `opt_g`, **without computing any gradient for D's weights**. Return the loss as a
# Python float.
#
# * Why does autograd compute a gradient for D's weights at all? Whatever decides that can
#   be decided differently for the span of G's step.
# * The gradient with respect to D's *input* is still needed: it is how G learns what D
#   finds suspicious.
# * D's next step must be able to train D again.
#
# The check watches which weights get a gradient during your step.


# %%
def g_step(G: gan.Generator, D: gan.Discriminator, batch_size: int, opt_g: torch.optim.Optimizer) -> float:
    """One update of G with batch_size fresh fakes, computing no gradient for D's weights; returns G's loss."""
    # BEGIN SOLUTION
    D.requires_grad_(False)  # D's weights need no gradient; the gradient still flows through D to G
    z = torch.randn(batch_size, G.config.latent_dim)  # (B, latent_dim)
    loss = F.softplus(-D(G(z))).mean()  # -log σ(D(G(z)))
    opt_g.zero_grad()
    loss.backward()
    opt_g.step()
    D.requires_grad_(True)  # D's own step needs its gradients again
    return loss.item()
    # END SOLUTION


# %%
checks.g_step(g_step)

# %% [markdown]
# ## Exercise 5.3: several D steps per G step
#
# Some recipes give D more than one update for each update of G, so that G always learns
# from a discriminator that has caught up with its latest fakes (the library's
# `TrainConfig(d_steps=...)`; WGAN-GP takes 5: Gulrajani et al., 2017,
# [arXiv:1704.00028](https://arxiv.org/abs/1704.00028), Algorithm 1).
#
# Write `train(G, D, sample_real, steps, opt_g, opt_d, gamma, d_steps)`: `steps` G steps,
# each preceded by `d_steps` D steps. Each D step sees a fresh batch of 128 real examples
# from `sample_real(128)` and uses your `d_step` with R1 weight `gamma`; each G step uses
# your `g_step` with 128 fakes. Record one pair `(d_loss, g_loss)` per G step, `d_loss`
# being the loss of the last D step before it, and return the list of pairs.
#
# The check runs your loop several times. With `d_steps=3` it logs which optimizer steps, in what
# order, and how many real batches your loop draws; with `d_steps=2` it trains a small GAN
# on the ring of 8 (its order is logged too) and measures whether the samples moved onto
# the ring.


# %%
def train(G, D, sample_real, steps: int, opt_g, opt_d, gamma: float, d_steps: int) -> list[tuple[float, float]]:
    """steps G steps, each after d_steps D steps on fresh real batches; returns [(d_loss, g_loss), ...], one per G step."""
    # BEGIN SOLUTION
    history = []
    for _ in range(steps):
        for _ in range(d_steps):
            d_loss = d_step(G, D, sample_real(128), opt_d, gamma)
        g_loss = g_step(G, D, 128, opt_g)
        history.append((d_loss, g_loss))
    return history
    # END SOLUTION


# %%
checks.train_loop(train)

# %% [markdown]
# ## See your GAN learn
#
# Your loop, for 1,000 G steps of 2 D steps each, on the ring of 8 with small networks and
# R1 with $\gamma = 0.1$ (the penalty weighted $\gamma/2$). Expect most samples to gather near
# the modes, and some to stay strung along the ring between them: lesson 05 explains why,
# and what the decaying learning rate of the library's recipe adds.

# %%
try:
    ring = data.ring8()
    torch.manual_seed(1)
    G = gan.Generator(gan.GeneratorConfig(hidden=64, layers=2))
    D = gan.Discriminator(gan.DiscriminatorConfig(hidden=64, layers=2))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.99))
    history = train(G, D, lambda n: ring.sample(n), 1000, opt_g, opt_d, gamma=0.1, d_steps=2)
    x = G.sample(1000)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4))
    ax1.plot([h[0] for h in history], label="D loss")
    ax1.plot([h[1] for h in history], label="G loss")
    ax1.set_xlabel("G step")
    ax1.legend()
    ax2.scatter(ring.means[:, 0], ring.means[:, 1], marker="+", s=200, c="k", label="modes")
    ax2.scatter(x[:, 0], x[:, 1], s=3, alpha=0.5, label="your G")
    ax2.set_aspect("equal")
    ax2.legend()
    plt.show()
except NotImplementedError:
    print("(finish the exercises above to see your GAN train)")
