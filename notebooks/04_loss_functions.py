# %% [markdown]
# # Lesson 04: Loss functions
#
# By the end of this lesson you can write the losses that drive a GAN (generative
# adversarial network), for both players, as one-line functions of the discriminator's
# logits: the original game's, the *non-saturating* generator loss (which does not go flat
# where the original one does), least squares, Wasserstein and hinge. You will check each
# against the library's `genai_course.losses`, compute the log of lesson 03's sigmoid
# without ever producing $-\infty$, measure why the original generator loss gives almost no
# gradient exactly when the discriminator rejects the fakes, build by hand a *gradient
# penalty* (a loss term that holds the discriminator's slope down), and watch another one,
# R1, make the smallest possible GAN settle instead of circling. No network is trained.
#
# Where it sits: lesson 03 built the discriminator $D$, which returns one logit per
# example. This lesson decides what $D$ and the generator $G$ each minimise; lesson 05
# puts both into a training loop.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from genai_course import data, gan, losses, threads, widgets

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)  # seeds the weights of every network built below
ring = data.ring8()

# %% [markdown]
# ## The game
#
# As in lesson 03, $D(x)$ is the discriminator's logit $\ell$ and $\sigma(D(x))$ its
# probability that $x$ is real, with $\sigma(\ell) = 1 / (1 + e^{-\ell})$ the sigmoid (not
# the standard deviation $\sigma$ of lesson 01: the argument tells them apart). Goodfellow
# et al. (2014, [arXiv:1406.2661](https://arxiv.org/abs/1406.2661)) set up a two-player
# **minimax** game, in which one player minimises the very value that the other maximises
# (the paper's $D(x)$ is our $\sigma(D(x))$):
#
# $$\min_G \max_D \; V(D, G) = \mathbb{E}_{x \sim p_\text{data}}\big[\log \sigma(D(x))\big]
#   + \mathbb{E}_{z \sim \mathcal{N}(0, I)}\big[\log\big(1 - \sigma(D(G(z)))\big)\big].$$
#
# $D$ maximises $V$, i.e. minimises lesson 03's binary cross-entropy (BCE) with real
# labelled 1 and fake labelled 0. $G$ appears only in the second term and minimises it: it
# wants $D$ to call its fakes real.

# %% [markdown]
# For a fixed $G$ the best discriminator $D^*$ gives the probability
# $\sigma(D^*(x)) = p_\text{data}(x) / (p_\text{data}(x) + p_G(x))$ (lesson 03's "lowest
# possible loss" used it), and plugging it in gives
# $V(D^*, G) = -\log 4 + 2\,\mathrm{JSD}(p_\text{data} \,\|\, p_G)$. The **Jensen-Shannon
# divergence** $\mathrm{JSD}(p \,\|\, q) = \tfrac12 \mathrm{KL}(p \,\|\, m) + \tfrac12 \mathrm{KL}(q \,\|\, m)$,
# with $m = \tfrac12 (p + q)$, is the average Kullback-Leibler divergence (lesson 01) of
# each distribution from their half-and-half mixture: symmetric, never negative, and zero
# only when $p = q$. Against the best $D$, $G$ minimises it, so the game's best $G$ has
# $p_G = p_\text{data}$.

# %% [markdown]
# ## Everything in logits
#
# Our $D$ returns $\ell$, not $\sigma(\ell)$, so we rewrite the two logarithms with
# $\mathrm{softplus}(a) = \log(1 + e^a)$ and $1 - \sigma(\ell) = \sigma(-\ell)$:
#
# $$\log \sigma(\ell) = -\log(1 + e^{-\ell}) = -\mathrm{softplus}(-\ell), \qquad
#   \log(1 - \sigma(\ell)) = \log \sigma(-\ell) = -\mathrm{softplus}(\ell).$$
#
# `F.softplus` is computed exactly for any $\ell$ (exercise 4.2 asks you how), while
# $\sigma(\ell)$ rounds to exactly 0 or 1 in float32 once $|\ell|$ is large, and its
# logarithm is then $-\infty$ or 0:

# %%
l = torch.tensor([-100.0, -20.0, 0.0, 20.0, 100.0])
rows = {
    "log sigmoid(l), naive": torch.log(torch.sigmoid(l)),
    "-softplus(-l)": -F.softplus(-l),
    "log(1 - sigmoid(l)), naive": torch.log(1 - torch.sigmoid(l)),
    "-softplus(l)": -F.softplus(l),
}
print(f"{'l =':28}" + "".join(f"{v:>11.0f}" for v in l.tolist()))
for name, values in rows.items():
    print(f"{name:28}" + "".join(f"{v:>11.4f}" for v in values.tolist()))

# %% [markdown]
# The naive forms fail in both directions: $\log \sigma(-100)$ comes out $-\infty$ (the
# true value is $-100$), and $\log(1 - \sigma(\ell))$ already at $\ell = 20$, where
# $\sigma(20)$ rounds to 1. One such example makes the batch mean $-\infty$. The gradient
# is worse. PyTorch's **autograd** (automatic differentiation) records the operations that
# produced a number and computes its gradient by **backpropagation**, the chain rule
# applied from the loss back through those operations; that computation is the **backward
# pass**. Here it multiplies $\frac{1}{\sigma(\ell)} = \infty$ by $\sigma'(\ell) = 0$ and
# gets `nan` (not a number), which then spreads to every weight of $D$.

# %%
l = torch.tensor(-100.0, requires_grad=True)
(naive_grad,) = torch.autograd.grad(torch.log(torch.sigmoid(l)), l)
(stable_grad,) = torch.autograd.grad(-F.softplus(-l), l)
print("d/dl log sigmoid(l) at l = -100:  naive", naive_grad.item(), "| softplus", stable_grad.item(), "(exact: sigmoid(100) = 1)")

# %% [markdown]
# ## Five loss families
#
# A loss **family** is a pair of losses, one per player, written per example (each loss is
# the batch mean) from the logits on a real batch, $\ell_r = D(x)$, and on a fake batch,
# $\ell_f = D(G(z))$; $G$'s uses only $\ell_f$, since the real batch does not depend on
# $G$. $\mathrm{relu}(a) = \max(a, 0)$ is lesson 03's.
#
# | family | $D$ minimises | $G$ minimises |
# |---|---|---|
# | minimax | $\mathrm{softplus}(-\ell_r) + \mathrm{softplus}(\ell_f)$ | $-\mathrm{softplus}(\ell_f)$ |
# | non-saturating | same as minimax | $\mathrm{softplus}(-\ell_f)$ |
# | least squares | $\frac12(\ell_r - 1)^2 + \frac12 \ell_f^2$ | $\frac12(\ell_f - 1)^2$ |
# | Wasserstein | $\ell_f - \ell_r$ | $-\ell_f$ |
# | hinge | $\mathrm{relu}(1 - \ell_r) + \mathrm{relu}(1 + \ell_f)$ | $-\ell_f$ |
#
# In the last three, $D$'s output never goes through a sigmoid: it is a raw score, still
# written $\ell$.


# %%
def my_minimax_d(real_logits, fake_logits):  # -log sigmoid(l_r) - log(1 - sigmoid(l_f))
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def my_minimax_g(fake_logits):  # log(1 - sigmoid(l_f))
    return -F.softplus(fake_logits).mean()


def my_nonsaturating_g(fake_logits):  # -log sigmoid(l_f)
    return F.softplus(-fake_logits).mean()


def my_least_squares_d(real_logits, fake_logits):  # (l_r - 1)^2 / 2 + l_f^2 / 2
    return 0.5 * (real_logits - 1).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()


def my_least_squares_g(fake_logits):  # (l_f - 1)^2 / 2
    return 0.5 * (fake_logits - 1).pow(2).mean()


def my_wasserstein_d(real_logits, fake_logits):  # mean(l_f) - mean(l_r)
    return fake_logits.mean() - real_logits.mean()


def my_wasserstein_g(fake_logits):  # -mean(l_f)
    return -fake_logits.mean()


def my_hinge_d(real_logits, fake_logits):  # relu(1 - l_r) + relu(1 + l_f)
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


mine = {
    "minimax": (my_minimax_d, my_minimax_g),
    "nonsaturating": (my_minimax_d, my_nonsaturating_g),
    "least_squares": (my_least_squares_d, my_least_squares_g),
    "wasserstein": (my_wasserstein_d, my_wasserstein_g),
    "hinge": (my_hinge_d, my_wasserstein_g),  # hinge's G loss is the Wasserstein one
}

# %% [markdown]
# ## The library version agrees
#
# `genai_course.losses.get_loss(name)` returns the library's pair `(d, g)`. On logits
# spread over a wide range, each of ours gives the same number:

# %%
g = torch.Generator().manual_seed(0)
real_logits = 4 * torch.randn(256, generator=g)  # (256,)
fake_logits = 4 * torch.randn(256, generator=g) - 2  # (256,)

print(f"{'family':15} {'D loss equal':>13} {'G loss equal':>13}")
for name, (my_d, my_g) in mine.items():
    lib = losses.get_loss(name)
    same_d = torch.allclose(my_d(real_logits, fake_logits), lib.d(real_logits, fake_logits))
    same_g = torch.allclose(my_g(fake_logits), lib.g(fake_logits))
    print(f"{name:15} {str(same_d):>13} {str(same_g):>13}")

# %% [markdown]
# The BCE-based losses are also PyTorch's `F.binary_cross_entropy_with_logits` with the
# right labels. The non-saturating $G$ loss is $D$'s loss on the fakes with the label
# **flipped** to "real": $G$ trains on its fakes as if they were real.

# %%
bce = F.binary_cross_entropy_with_logits
ones, zeros = torch.ones(256), torch.zeros(256)
print("D loss == BCE(real, 1) + BCE(fake, 0): ", torch.allclose(losses.minimax_d(real_logits, fake_logits), bce(real_logits, ones) + bce(fake_logits, zeros)))
print("non-saturating G loss == BCE(fake, 1): ", torch.allclose(losses.nonsaturating_g(fake_logits), bce(fake_logits, ones)))
print("minimax G loss == -BCE(fake, 0):       ", torch.allclose(losses.minimax_g(fake_logits), -bce(fake_logits, zeros)))

# %% [markdown]
# ## Saturation: when $D$ rejects the fakes
#
# A loss **saturates** where it goes flat: its gradient vanishes there, and a player that
# learns from that gradient stops learning. The **non-saturating** loss, from the same
# paper (Goodfellow et al., 2014), changes $G$'s goal: instead of minimising the chance
# that $D$ is right, $\log(1 - \sigma(\ell_f))$, $G$ maximises the chance that $D$ is
# wrong, i.e. minimises $-\log \sigma(\ell_f)$. Both are smallest when $D$ calls the fakes
# real; their gradients differ. Early in training $D$ *can* reject $G$'s fakes with
# confidence (Goodfellow et al., 2014, Section 3), say at $\ell_f = -6$.

# %% [markdown]
# $G$ learns only through the gradient $\partial L_G / \partial \ell_f$, passed back
# through $D$ into $G$'s weights. So we move one fake's logit from "clearly fake" ($-6$) to
# "clearly real" ($+6$) and ask autograd for the loss and its gradient. **Gradient
# descent** moves a parameter a small step against its gradient (lesson 03's training
# step), so a negative gradient raises $\ell_f$ towards "real", and its size is how hard
# $G$ is pushed. By hand, the gradient is $-\sigma(\ell)$ for the minimax loss and
# $-\sigma(-\ell)$ for the non-saturating one.

# %%
logits = torch.linspace(-6, 6, 241)  # D's logit on one fake, clearly fake -> clearly real


def loss_and_grad(g_loss):
    """G loss and d(loss)/d(logit) at every point of `logits`, each as a batch of one."""
    values, grads = [], []
    for value in logits:
        l = torch.tensor([value.item()], requires_grad=True)  # (1,): one fake
        loss = g_loss(l)
        (grad,) = torch.autograd.grad(loss, l)
        values.append(loss.item())
        grads.append(grad.item())
    return values, grads


curves = {name: loss_and_grad(losses.get_loss(name).g) for name in losses.LOSSES}


def add_probability_axis(ax):
    """A top axis showing D's probability sigmoid(logit) above the logit ticks."""
    top = ax.secondary_xaxis("top")
    ticks = [-6, -3, 0, 3, 6]
    top.set_xticks(ticks, labels=[f"{torch.sigmoid(torch.tensor(float(t))).item():.3g}" for t in ticks])
    top.set_xlabel(r"$\sigma$(logit) = P(real)")


fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for name, label, colour in (("minimax", r"minimax: $\log(1 - \sigma(\ell_f))$", "C3"), ("nonsaturating", r"non-saturating: $-\log \sigma(\ell_f)$", "C0")):
    values, grads = curves[name]
    axes[0].plot(logits, values, colour, label=label)
    axes[1].plot(logits, grads, colour, label=label)
for ax in axes:
    ax.axvspan(-6, -3, color="grey", alpha=0.15, lw=0)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("D's logit on a fake")
    add_probability_axis(ax)
axes[0].text(-5.8, 5.2, "grey: D rejects the fake,\nP(real) < 0.05", fontsize=9)
axes[0].set(ylabel="G's loss", title="generator losses")
axes[1].set(ylabel="d loss / d logit", title="their gradients (how hard G is pushed)")
axes[0].legend(loc="lower left")
plt.show()

# %%
i = 0  # logits[0] = -6: D confidently rejects the fake
mm, ns = curves["minimax"][1][i], curves["nonsaturating"][1][i]
print(f"grey band ends at logit -3: P(real) = sigmoid(-3) = {torch.sigmoid(torch.tensor(-3.0)).item():.4f}")
print(f"P(real) at logit -6: sigmoid(-6) = {torch.sigmoid(torch.tensor(-6.0)).item():.4f}")
print(f"gradient at logit -6:  minimax {mm:.4f} | non-saturating {ns:.4f} | ratio {ns / mm:.0f} (e^6 = {math.exp(6):.0f})")
print(f"gradient at logit +6:  minimax {curves['minimax'][1][-1]:.4f} | non-saturating {curves['nonsaturating'][1][-1]:.4f}")

# %% [markdown]
# The minimax loss is **flat exactly where $D$ rejects the fakes** (grey band): its
# gradient at $\ell_f = -6$ is $-\sigma(-6)$, printed above, and it gets steep only once
# $G$ already fools $D$. The non-saturating loss is steepest there, $e^6$ times steeper
# (the ratio printed above). Both gradients are negative everywhere: same
# direction, different strength. That is why GANs are trained with the non-saturating $G$
# loss, not the minimax one the game's equation suggests.

# %%
styles = {"minimax": ("C3", "-"), "nonsaturating": ("C0", "-"), "least_squares": ("C2", "-"), "wasserstein": ("C4", "-"), "hinge": ("C1", ":")}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for name, (values, grads) in curves.items():
    colour, ls = styles[name]
    axes[0].plot(logits, values, color=colour, ls=ls, lw=2 if ls == ":" else 1.5, label=name)
    axes[1].plot(logits, grads, color=colour, ls=ls, lw=2 if ls == ":" else 1.5, label=name)
for ax in axes:
    ax.axvspan(-6, -3, color="grey", alpha=0.15, lw=0)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("D's output on a fake")
axes[0].set(ylabel="G's loss", title="all five generator losses", ylim=(-7, 10))
axes[1].set(ylabel="d loss / d output", title="their gradients (least squares: l - 1, leaves the chart)", ylim=(-3, 1.5))
axes[0].legend(loc="upper right")
plt.show()

# %% [markdown]
# * **Least squares** (LSGAN, the least-squares GAN: Mao et al., 2017,
#   [arXiv:1611.04076](https://arxiv.org/abs/1611.04076)) pushes fakes towards an output
#   of 1, the harder the further they are (gradient $\ell_f - 1$), and even pulls back
#   fakes that $D$ scores above 1.
# * **Wasserstein** and **hinge** share the $G$ loss $-\ell_f$: a constant gradient of
#   $-1$ that never saturates. How far it moves $G$ depends on how steep $D$ is, which is
#   why $D$'s slope must be kept in check (below).

# %% [markdown]
# ## The discriminator's side
#
# Each $D$ loss is a term on real logits plus a term on fake logits; both, per example:

# %%
d_terms = {  # family: (term on a real logit, term on a fake logit), per example
    "minimax": (lambda l: F.softplus(-l), lambda l: F.softplus(l)),
    "least_squares": (lambda l: 0.5 * (l - 1) ** 2, lambda l: 0.5 * l**2),
    "wasserstein": (lambda l: -l, lambda l: l),
    "hinge": (lambda l: F.relu(1 - l), lambda l: F.relu(1 + l)),
}
for name, (real_term, fake_term) in d_terms.items():
    total = real_term(real_logits).mean() + fake_term(fake_logits).mean()
    print(f"{name:14} terms add up to losses.get_loss({name!r}).d:", torch.allclose(total, losses.get_loss(name).d(real_logits, fake_logits)))

fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for name, (real_term, fake_term) in d_terms.items():
    colour = styles[name][0]
    label = "minimax / non-saturating (BCE)" if name == "minimax" else name
    axes[0].plot(logits, real_term(logits), color=colour, label=label)
    axes[1].plot(logits, fake_term(logits), color=colour, label=label)
for ax in axes:
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylim(-7, 10)
axes[0].set(xlabel="D's output on a real example", ylabel="D's loss", title="D's loss on real data: wants the output high")
axes[1].set(xlabel="D's output on a fake", title="D's loss on fakes: wants the output low")
axes[0].legend(loc="upper right")
plt.show()

# %% [markdown]
# * **BCE** stops caring once $D$ is confidently right (the curve flattens towards 0) and
#   punishes confident mistakes roughly linearly.
# * **Hinge** (Lim and Ye, 2017, [arXiv:1705.02894](https://arxiv.org/abs/1705.02894))
#   stops caring *exactly* beyond a margin of 1: examples already past it contribute
#   nothing.
# * **Least squares** regresses the output to a target, 1 on real and 0 on fake, so it
#   also punishes being "too right" (a real output above 1).
# * **Wasserstein** never stops: the loss is linear, so $D$ can lower it without end by
#   scaling its outputs up, and on its own its scores blow up.

# %% [markdown]
# ## The Wasserstein critic
#
# The **Wasserstein distance** between two distributions is the least average distance
# that probability mass must travel to turn one into the other (also called the earth
# mover's distance). Unlike the JSD, it keeps shrinking as $p_G$ moves towards
# $p_\text{data}$ even while the two do not overlap, where the JSD is stuck at $\log 2$
# (Arjovsky et al., 2017, [arXiv:1701.07875](https://arxiv.org/abs/1701.07875), Example
# 1). The smallest case: $p_\text{data}$ all at 0, $p_G$ all at $\theta$, on a grid 0.01
# apart:

# %%
positions = torch.linspace(0, 2, 201)  # (201,): a grid 0.01 apart


def point_mass(at):
    """All the probability on the grid position nearest to `at`, shape (201,)."""
    return (positions - at).abs().argmin() == torch.arange(201)


def jsd(p, q):
    m = (p + q) / 2

    def kl(a):  # KL(a || m), summing only where a > 0
        return (a[a > 0] * (a[a > 0] / m[a > 0]).log()).sum()

    return 0.5 * kl(p) + 0.5 * kl(q)


def wasserstein(p, q):  # in one dimension: the area between the two cumulative distributions
    return (p.cumsum(0) - q.cumsum(0)).abs().sum() * 0.01


p_data = point_mass(0.0).double()
print(f"{'theta':>6} {'JSD':>7} {'Wasserstein':>12}")
for theta in (2.0, 1.0, 0.5, 0.1, 0.0):
    p_g = point_mass(theta).double()
    print(f"{theta:>6} {jsd(p_data, p_g).item():>7.4f} {wasserstein(p_data, p_g).item():>12.4f}")
print(f"log 2 = {math.log(2):.4f}")

# %% [markdown]
# The JSD is $\log 2$ for every $\theta > 0$, near or far, so its gradient gives $G$ no
# direction. The Wasserstein distance is $\theta$ itself.

# %% [markdown]
# Arjovsky et al. (2017) turn $D$ into a **critic**: a score with no sigmoid and no
# target, real higher than fake. If the critic's slope $\|\nabla_x D(x)\|$ (the length of
# its gradient with respect to its input) is at most 1 everywhere (it is
# **1-Lipschitz**), the largest gap
# $\mathbb{E}[D(x_\text{real})] - \mathbb{E}[D(x_\text{fake})]$ it can reach is exactly the
# Wasserstein distance: hence its loss $\ell_f - \ell_r$, and the need to hold its slope
# down. The gap measures the distance only near the critic's best, so both WGAN papers
# take 5 critic steps for every $G$ step (Arjovsky et al., 2017, and Gulrajani et al.,
# 2017, [arXiv:1704.00028](https://arxiv.org/abs/1704.00028), both in their Algorithm 1).

# %% [markdown]
# ## Keeping the critic in check: the gradient penalty
#
# WGAN-GP, the Wasserstein GAN with gradient penalty (Gulrajani et al., 2017), pulls the
# slope towards 1 softly, from both sides: it penalises the slope's squared distance from 1
# at random points $\hat{x}$ on the straight lines between real and fake examples,
#
# $$\hat{x} = \varepsilon\, x_\text{real} + (1 - \varepsilon)\, x_\text{fake}, \quad
#   \varepsilon \text{ uniform on } [0, 1], \qquad
#   \mathrm{GP} = \mathbb{E}\Big[\big(\|\nabla_{\hat{x}} D(\hat{x})\|_2 - 1\big)^2\Big],$$
#
# and the critic minimises $\ell_f - \ell_r + \lambda\,\mathrm{GP}$ with the paper's
# $\lambda = 10$.

# %% [markdown]
# Two details in code. $D(\hat{x}_i)$ depends only on $\hat{x}_i$, so the gradient of the
# batch *sum* gives every example its own gradient at once. And `create_graph=True` keeps
# that gradient differentiable, since GP is a loss for $D$ whose backward pass must reach
# $D$'s weights. The picture shows 16 real and 16 fake points, the line between each pair,
# and the $\hat{x}$ on it.

# %%
def my_gradient_penalty(D, real, fake, eps):
    """WGAN-GP: mean of (||grad_x D(x_hat)|| - 1)^2. real, fake: (B, 2); eps: (B, 1)."""
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (B, 2)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)  # (B, 2)
    return (grad.norm(dim=1) - 1).pow(2).mean()


g = torch.Generator().manual_seed(1)
real = ring.sample(16, generator=g)  # (16, 2)
fake = 0.6 * torch.randn(16, 2, generator=g)  # (16, 2): lesson 03's bad generator
eps = torch.rand(16, 1, generator=torch.Generator().manual_seed(7))  # (16, 1): one eps per pair
x_hat = eps * real + (1 - eps) * fake  # (16, 2)

fig, ax = plt.subplots(figsize=(5.5, 5.5))
ax.add_patch(plt.Circle((0, 0), 1.0, fill=False, ls=":", color="grey"))  # the ring the real points lie on
for r, f in zip(real, fake):
    ax.plot([r[0], f[0]], [r[1], f[1]], color="grey", lw=0.6)
ax.scatter(real[:, 0], real[:, 1], c="k", s=15, label="real", zorder=3)
ax.scatter(fake[:, 0], fake[:, 1], c="gold", edgecolors="k", s=25, label="fake", zorder=3)
ax.scatter(x_hat[:, 0], x_hat[:, 1], c="C3", marker="x", s=30, label=r"$\hat{x}$ (penalised here)", zorder=3)
ax.set(aspect="equal", xlim=(-2.2, 2.2), ylim=(-2.2, 2.2), title="where the gradient penalty looks")
ax.legend(loc="upper left", fontsize=9)
plt.show()

# %% [markdown]
# ### A critic whose slope we know
#
# Take a linear critic $D(x) = w^\top x + b$ with $w = (3, 4)$. Its gradient is $w$
# everywhere, so $\|\nabla D\| = \|w\| = 5$ at every $\hat{x}$ and the penalty must be
# $(5 - 1)^2 = 16$. The library's `losses.gradient_penalty` draws its $\varepsilon$ from
# the `generator=` it is given, so one seeded like ours gives the same $\varepsilon$.

# %%
w, b = torch.tensor([3.0, 4.0]), 0.5


def linear_critic(x):  # (B, 2) -> (B,)
    return x @ w + b


print("by hand:    ", my_gradient_penalty(linear_critic, real, fake, eps).item())
print("library:    ", losses.gradient_penalty(linear_critic, real, fake, generator=torch.Generator().manual_seed(7)).item())
print("(||w|| - 1)^2 =", (w.norm() - 1).pow(2).item())

# %% [markdown]
# The penalty stops the Wasserstein loss from running away. Scaling the critic by $c$
# scales its loss $\ell_f - \ell_r$ by $c$ too, but the penalty $(5c - 1)^2$ grows with the
# square and wins: the total is lowest where the slope $5c$ is close to 1 (last line).

# %%
def critic_losses(c):
    """(Wasserstein loss, gradient penalty) of the linear critic scaled by c."""
    def critic(x):
        return c * linear_critic(x)

    gp = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7))
    return losses.wasserstein_d(critic(real), critic(fake)).item(), gp.item()


print(f"{'scale c':>8} {'W loss':>9} {'10 * GP':>9}")
for c in (0.2, 1.0, 10.0):
    w_loss, gp = critic_losses(c)
    print(f"{c:>8} {w_loss:>9.2f} {10 * gp:>9.1f}")
scales = torch.linspace(0.1, 0.3, 401).tolist()
best = min(scales, key=lambda c: sum(x * y for x, y in zip(critic_losses(c), (1, 10))))  # W loss + 10 * GP
print(f"lowest W loss + 10 * GP at c = {best:.4f}: slope ||c w|| = {5 * best:.3f}")

# %% [markdown]
# ### On a real discriminator
#
# On lesson 03's MLP discriminator the slope varies from point to point; the two versions
# must still agree, and the penalty must reach every weight of $D$:

# %%
D = gan.Discriminator()
mine_gp = my_gradient_penalty(D, real, fake, eps)
lib_gp = losses.gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(7))
print("same penalty:", torch.allclose(mine_gp, lib_gp))
mine_gp.backward()
print("weights the penalty trains:", sum(p.grad is not None for name, p in D.named_parameters() if name.endswith("weight")), "of", len(D.net) // 2 + 1)
print("parameters it does not reach:", [name for name, p in D.named_parameters() if p.grad is None])

# %% [markdown]
# The one parameter the penalty cannot reach is the last layer's bias, `net.6.bias`: a
# constant added to $D$'s output does not change its slope.

# %% [markdown]
# ## R1: a penalty at the data only
#
# R1 (Mescheder et al., 2018, [arXiv:1801.04406](https://arxiv.org/abs/1801.04406)) works
# with the ordinary BCE losses: it penalises the *squared* slope of $D$ at real data
# points, weighted by a constant $\gamma$,
#
# $$R_1 = \mathbb{E}_{x \sim p_\text{data}}\big[\|\nabla_x D(x)\|^2\big], \qquad
#   L_D = L_D^\text{BCE} + \frac{\gamma}{2} R_1.$$
#
# For the linear critic, $R_1 = \|w\|^2 = 25$.

# %%
def my_r1_penalty(D, real):
    """R1: mean over real examples of ||grad_x D(x)||^2. real: (B, 2)."""
    x = real.detach().requires_grad_(True)  # (B, 2); detach(): the same numbers, cut off from what computed them
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)  # (B, 2)
    return grad.pow(2).sum(dim=1).mean()


print("linear critic, by hand:", my_r1_penalty(linear_critic, real).item(), "| library:", losses.r1_penalty(linear_critic, real).item())
print("MLP discriminator, same penalty:", torch.allclose(my_r1_penalty(D, real), losses.r1_penalty(D, real)))

# %% [markdown]
# ### Why R1: the smallest GAN
#
# Mescheder et al. (2018) show what goes wrong on the **Dirac GAN**: the data are one
# point at 0; $G(z) = \theta$ for every $z$ (one parameter, its output point);
# $D(x) = \psi x$, a logit (one parameter, its slope). The **equilibrium**, the point where
# neither player gains by moving, is $\theta = 0$, $\psi = 0$: $G$ on the data, $D$ flat.
# At $x = 0$ the slope of $D$ is $\psi$, so the R1 penalty is $\frac{\gamma}{2}\psi^2$.

# %% [markdown]
# Training alternates a $D$ step on $D$'s loss and a $G$ step on $G$'s loss against the
# updated $D$; lesson 05 builds it for real networks. Drawn:

# %%
widgets.draw_gan_step()
plt.show()

# %% [markdown]
# Black arrows are the forward pass, red dashed ones the gradient, a bold box the network
# whose parameters the step moves. In the $D$ step the fakes are **detached**: `.detach()`
# returns the same numbers cut off from the operations that made them, so the gradient
# stops before $G$. In the $G$ step it runs back through $D$ into $G$, and only $G$
# moves. Here $G$ is $\theta$ and $D$ is $\psi$.

# %% [markdown]
# 400 such steps of plain gradient descent from $\theta = 1$, $\psi = 0$, in three set-ups:

# %%
def dirac_gan(g_loss, gamma, steps=400, lr=0.1):
    """Alternating gradient steps on the Dirac GAN; returns the path of (theta, psi), shape (steps + 1, 2)."""
    theta = torch.tensor(1.0, requires_grad=True)  # G(z) = theta for every z
    psi = torch.tensor(0.0, requires_grad=True)  # D(x) = psi * x, a logit
    real = torch.zeros(1, 1)  # (1, 1): the data, one point at 0

    def D(x):  # (B, 1) -> (B,)
        return psi * x[:, 0]

    path = [(theta.item(), psi.item())]
    for _ in range(steps):
        fake = theta.detach().reshape(1, 1)  # (1, 1)
        d_loss = losses.minimax_d(D(real), D(fake)) + gamma / 2 * losses.r1_penalty(D, real)
        (grad,) = torch.autograd.grad(d_loss, psi)
        with torch.no_grad():
            psi -= lr * grad  # D step
        (grad,) = torch.autograd.grad(g_loss(D(theta.reshape(1, 1))), theta)
        with torch.no_grad():
            theta -= lr * grad  # G step, against the updated D
        path.append((theta.item(), psi.item()))
    return torch.tensor(path)


runs = {
    "minimax G loss": dirac_gan(losses.minimax_g, gamma=0.0),
    "non-saturating": dirac_gan(losses.nonsaturating_g, gamma=0.0),
    "non-saturating + R1": dirac_gan(losses.nonsaturating_g, gamma=0.3),
}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
for (name, path), colour in zip(runs.items(), ("C3", "C0", "C2")):
    axes[0].plot(path[:, 0], path[:, 1], color=colour, lw=1, label=name)
    axes[1].semilogy(path.norm(dim=1), color=colour, label=name)
axes[0].scatter([1], [0], c="k", s=25, zorder=3, label="start")
axes[0].scatter([0], [0], c="gold", edgecolors="k", marker="*", s=150, zorder=3, label="equilibrium")
axes[0].set(aspect="equal", xlim=(-1.15, 2.6), xlabel=r"$\theta$ (G's point)", ylabel=r"$\psi$ (D's slope)", title="the path of the two parameters")
axes[1].set(xlabel="step", ylabel="distance to the equilibrium", title="how far from settled")
axes[0].legend(loc="upper right", fontsize=8)
plt.show()
print(f"{'':21} {'distance after 400 steps':>25} {'factor per step, steps 200-400':>31}")
for name, path in runs.items():
    distance = path.norm(dim=1)  # (401,)
    factor = (distance[400] / distance[200]) ** (1 / 200)  # the average ratio of successive distances
    print(f"{name:21} {distance[400].item():>25.3g} {factor.item():>31.4f}")

# %% [markdown]
# Without R1 the game circles. With the minimax $G$ loss the path goes round the
# equilibrium at its starting distance; with the non-saturating loss it creeps inwards,
# still far from 0 after 400 steps. With R1 the spiral closes fast: on the log scale the
# distance falls along a (wavy) straight line, by about the same factor every step (last
# column).

# %% [markdown]
# Why it circles: with $\theta > 0$, $D$ lowers its logit on the fake by making its slope
# $\psi$ negative. $G$ follows that slope to the data, reaches 0 while $D$ is still steep
# there, and is pushed past; $D$ flips its slope, and round it goes. R1 adds $\gamma\psi$
# to the gradient of $D$'s loss, a friction on $D$'s slope at the data, so by the time $G$
# arrives $D$ has flattened and nothing pushes $G$ on.

# %% [markdown]
# ## Which loss the course uses, and why
#
# | family | G's gradient when D rejects the fakes | needs |
# |---|---|---|
# | minimax | vanishes ($-\sigma(-6)$ at $\ell_f = -6$) | - |
# | **non-saturating** | **strong** ($-\sigma(6)$, close to $-1$) | - |
# | least squares | strong, grows with the distance to the target | - |
# | Wasserstein | constant ($-1$) | a gradient penalty, 5 critic steps per $G$ step |
# | hinge | constant ($-1$) | - |

# %% [markdown]
# The course's default is the **non-saturating** loss with an **R1 penalty** on $D$: $G$
# gets a strong signal from the first step, the loss is plain BCE (safe in softplus form),
# and R1 keeps $D$ flat at the data, so training settles instead of circling. R1 costs one
# extra backward pass, which the library pays only every 4th $D$ step, weighting the
# penalty 4 times when it does: **lazy regularisation** (Karras et al., 2020,
# [arXiv:1912.04958](https://arxiv.org/abs/1912.04958)), about the same effect at a quarter
# of the cost. The recipe lesson 05 trains with:

# %%
from genai_course import models

recipe = models.get_recipe("gan-grid25").train
print("loss:", recipe.loss, "| R1 gamma:", recipe.r1_gamma, "| R1 every", recipe.r1_every, "D steps | WGAN-GP penalty weight:", recipe.gp_weight)

# %% [markdown]
# ## Summary
#
# * The game is $\min_G \max_D \mathbb{E}[\log \sigma(D(x))] + \mathbb{E}[\log(1 - \sigma(D(G(z))))]$, with $D(x)$ the logit; $D$'s side is BCE with real = 1, fake = 0, and against the best $D$, $G$ minimises the Jensen-Shannon divergence.
# * Written with softplus, $\log \sigma(\ell)$ and $\log(1 - \sigma(\ell))$ are exact for any $\ell$; the naive forms give $-\infty$ and `nan` gradients.
# * The minimax $G$ loss saturates exactly when $D$ rejects the fakes, as early in training; the non-saturating $-\log \sigma(\ell_f)$ is steepest there.
# * Least squares, Wasserstein and hinge use $D$'s raw score. The Wasserstein critic estimates the Wasserstein distance only while its slope is at most 1; WGAN-GP's gradient penalty pulls the slope towards 1 between real and fake.
# * R1 penalises $D$'s slope at the data and turns the Dirac GAN's circling into convergence. The course trains with non-saturating + R1.

# %% [markdown]
# ## Exercises
#
# Open `exercises/04_loss_functions.ipynb` for three variations, each with a check cell:
# $D$'s loss with a soft label for real data (`discriminator_loss`), the non-saturating
# loss made exact by hand without softplus (`nonsaturating_g_loss`), and a gradient
# penalty that only punishes slopes above 1 (`gradient_penalty`).
#
# Next: **lesson 05, the training loop**: these losses in alternating steps, and mode
# collapse and its cure.

# %% [markdown]
# ## Going further
#
# * **Hinge in large GANs.** The hinge loss became the usual choice of large image GANs
#   such as SAGAN, the self-attention GAN, whose networks also relate distant parts of an
#   image (Zhang et al., 2019, [arXiv:1805.08318](https://arxiv.org/abs/1805.08318)), and
#   BigGAN, a GAN told which class to draw, scaled up to many labelled photos (Brock et
#   al., 2019, [arXiv:1809.11096](https://arxiv.org/abs/1809.11096)).
# * **Weight clipping.** The first WGAN bounded its critic's slope by clipping every weight
#   to a small interval after each step (Arjovsky et al., 2017); Gulrajani et al. (2017)
#   show why that works poorly and replace it with the gradient penalty.
# * **Convergence.** Mescheder et al. (2018) prove that the Dirac GAN's circling is no
#   quirk: unregularised GAN training is not always convergent, even near the
#   equilibrium, while with R1 it converges there (under the paper's assumptions).
