# %% [markdown]
# # Lesson 04: Loss functions
#
# By the end of this lesson you can write the losses that drive a GAN, for both players,
# as one-line functions of the discriminator's logits: the original minimax game, its
# non-saturating fix, least squares, Wasserstein with a gradient penalty, and hinge. You
# will check each against the library's `genai_course.losses` (and the BCE ones against
# PyTorch's own `F.binary_cross_entropy_with_logits`), see with autograd why the
# original generator loss gives almost no gradient exactly when the generator needs it
# most, compute $\log \sigma$ without ever producing $-\infty$, and build the gradient
# penalty by hand. Nothing is trained; the notebook runs in a few seconds on a laptop CPU.
#
# Where it sits: lesson 03 built the discriminator $D$, which returns one logit per
# example. This lesson decides what $D$ and the generator $G$ each minimise; lesson 05
# puts both into a training loop.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from genai_course import data, gan, losses, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)
_ = torch.manual_seed(0)  # seeds the weights of every network built below
ring = data.ring8()

# %% [markdown]
# ## The game
#
# Write $D(x) = \sigma(\ell(x))$ for the discriminator's probability that $x$ is real,
# $\ell$ for its logit. Goodfellow et al. (2014) set up a two-player game with one
# value function,
#
# $$\min_G \max_D \; V(D, G) = \mathbb{E}_{x \sim p_\text{data}}\big[\log D(x)\big]
#   + \mathbb{E}_{z \sim \mathcal{N}(0, I)}\big[\log\big(1 - D(G(z))\big)\big].$$
#
# $D$ wants $V$ large: $D(x) \to 1$ on real data, $D(G(z)) \to 0$ on fakes. Maximising
# $V$ is minimising $-V$, which is exactly lesson 03's binary cross-entropy with real
# labelled 1 and fake labelled 0. $G$ appears only in the second term and wants $V$
# small: it minimises $\log(1 - D(G(z)))$, i.e. wants $D$ to call its fakes real.
#
# For a fixed $G$ the best discriminator is $D^*(x) = p_\text{data}(x) / (p_\text{data}(x) + p_G(x))$
# (lesson 03's "lowest possible loss" used it), and plugging it in gives
# $V(D^*, G) = -\log 4 + 2\,\mathrm{JSD}(p_\text{data} \,\|\, p_G)$: against a perfect
# critic, $G$ minimises the Jensen-Shannon divergence, which is zero only when
# $p_G = p_\text{data}$.

# %% [markdown]
# ## Everything in logits
#
# Our $D$ returns $\ell$, not $\sigma(\ell)$, so we rewrite the two logarithms. With
# $\mathrm{softplus}(a) = \log(1 + e^a)$ and $1 - \sigma(\ell) = \sigma(-\ell)$:
#
# $$\log D = \log \sigma(\ell) = -\log(1 + e^{-\ell}) = -\mathrm{softplus}(-\ell), \qquad
#   \log(1 - D) = \log \sigma(-\ell) = -\mathrm{softplus}(\ell).$$
#
# The right-hand sides are not just shorter. `F.softplus` is computed in a form that is
# exact for any $\ell$, while $\sigma(\ell)$ rounds to exactly 0 or 1 in float32 once
# $|\ell|$ is large, and the logarithm of that is $-\infty$ or 0. Compare:

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
# The naive forms fail in both directions: $\log \sigma(-100)$ comes out $-\infty$
# (the true value is $-100$), and $\log(1 - \sigma(20))$ is $-\infty$ already at
# $\ell = 20$, because $\sigma(20)$ rounds to 1. One such example in a batch makes the
# whole mean $-\infty$. The gradient is worse still: autograd multiplies
# $\frac{1}{\sigma(\ell)} = \infty$ by $\sigma'(\ell) = 0$ and gets `nan`, which then
# spreads to every weight of $D$.

# %%
l = torch.tensor(-100.0, requires_grad=True)
(naive_grad,) = torch.autograd.grad(torch.log(torch.sigmoid(l)), l)
(stable_grad,) = torch.autograd.grad(-F.softplus(-l), l)
print("d/dl log sigmoid(l) at l = -100:  naive", naive_grad.item(), "| softplus", stable_grad.item(), "(exact: sigmoid(100) = 1)")

# %% [markdown]
# ## Five loss families
#
# Every family is a pair: a loss that $D$ minimises, written with the logits on a real
# batch $\ell_r$ and on a fake batch $\ell_f$, and a loss that $G$ minimises, written
# with $\ell_f$ only (the real batch does not depend on $G$). Each is a mean over the
# batch, shown here per example:
#
# | family | $D$ minimises | $G$ minimises |
# |---|---|---|
# | minimax (saturating) | $\mathrm{softplus}(-\ell_r) + \mathrm{softplus}(\ell_f)$ | $\log(1 - D(G(z))) = -\mathrm{softplus}(\ell_f)$ |
# | non-saturating | same as minimax | $-\log D(G(z)) = \mathrm{softplus}(-\ell_f)$ |
# | least squares (LSGAN) | $\frac12(\ell_r - 1)^2 + \frac12 \ell_f^2$ | $\frac12(\ell_f - 1)^2$ |
# | Wasserstein (WGAN) | $\ell_f - \ell_r$ (+ gradient penalty) | $-\ell_f$ |
# | hinge | $\mathrm{relu}(1 - \ell_r) + \mathrm{relu}(1 + \ell_f)$ | $-\ell_f$ |
#
# * **Non-saturating** (also from the 2014 paper): instead of minimising the chance that
#   $D$ is right, $G$ maximises the chance that $D$ is wrong. Same fixed point, very
#   different gradients (next section).
# * **Least squares** (Mao et al., 2017) regresses $D$'s output to 1 on real and 0 on
#   fake; $G$ pushes its fakes' output to 1.
# * **Wasserstein** (Arjovsky et al., 2017): $D$ becomes a *critic* that scores
#   real higher than fake, with no sigmoid and no target; the score gap estimates the
#   Wasserstein distance if the critic's slope is kept at most 1 (the gradient penalty below).
# * **Hinge** (used by SAGAN and BigGAN): the critic is satisfied once real scores are
#   above $+1$ and fake ones below $-1$.
#
# For the last three, $D$'s output is a raw score that never goes through a sigmoid;
# we still call it $\ell$ because it is the same number the network returns.


# %%
def my_minimax_d(real_logits, fake_logits):  # -log D(x) - log(1 - D(G(z)))
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def my_minimax_g(fake_logits):  # log(1 - D(G(z)))
    return -F.softplus(fake_logits).mean()


def my_nonsaturating_g(fake_logits):  # -log D(G(z))
    return F.softplus(-fake_logits).mean()


def my_least_squares_d(real_logits, fake_logits):  # (l_r - 1)^2 / 2 + l_f^2 / 2
    return 0.5 * (real_logits - 1).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()


def my_least_squares_g(fake_logits):  # (l_f - 1)^2 / 2
    return 0.5 * (fake_logits - 1).pow(2).mean()


def my_wasserstein_d(real_logits, fake_logits):  # E[D(fake)] - E[D(real)]
    return fake_logits.mean() - real_logits.mean()


def my_wasserstein_g(fake_logits):  # -E[D(fake)]
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
# `genai_course.losses.get_loss(name)` returns the library's pair `(d, g)` for each
# family. On a batch of logits spread over a wide range, each of ours gives the same
# number:

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
# The BCE-based losses are also PyTorch's own `F.binary_cross_entropy_with_logits` with
# the right labels. Note the non-saturating $G$ loss: it is $D$'s loss on the fakes with
# the label **flipped** to "real". That is the usual way to say it: $G$ trains on its
# fakes as if they were real.

# %%
bce = F.binary_cross_entropy_with_logits
ones, zeros = torch.ones(256), torch.zeros(256)
print("D loss == BCE(real, 1) + BCE(fake, 0): ", torch.allclose(losses.minimax_d(real_logits, fake_logits), bce(real_logits, ones) + bce(fake_logits, zeros)))
print("non-saturating G loss == BCE(fake, 1): ", torch.allclose(losses.nonsaturating_g(fake_logits), bce(fake_logits, ones)))
print("minimax G loss == -BCE(fake, 0):       ", torch.allclose(losses.minimax_g(fake_logits), -bce(fake_logits, zeros)))

# %% [markdown]
# ## Saturation: where the generator starts
#
# Early in training, while $G$ is bad, $D$ *can* learn to reject its fakes with confidence
# (Goodfellow et al., 2014, point this out); take $\ell_f \approx -6$, $D(G(z)) \approx 0.0025$,
# as an example. $G$ learns only through the gradient of its loss with respect to
# $\ell_f$, passed back through $D$ into $G$'s weights. So let us move one fake's logit
# from "clearly fake" ($-6$) to "clearly real" ($+6$) and ask autograd for the loss and its
# gradient $\partial L_G / \partial \ell_f$ along the way. A negative gradient means
# gradient descent raises $\ell_f$ (towards "real"); its size is how hard $G$ is pushed.
#
# By hand: $\frac{d}{d\ell} \big[-\mathrm{softplus}(\ell)\big] = -\sigma(\ell)$ for the
# minimax loss and $\frac{d}{d\ell}\, \mathrm{softplus}(-\ell) = -\sigma(-\ell)$ for the
# non-saturating one.

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
    """A top axis showing D(G(z)) = sigmoid(logit) above the logit ticks."""
    top = ax.secondary_xaxis("top")
    ticks = [-6, -3, 0, 3, 6]
    top.set_xticks(ticks, labels=[f"{torch.sigmoid(torch.tensor(float(t))).item():.3g}" for t in ticks])
    top.set_xlabel("D(G(z))")


fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
for name, label, colour in (("minimax", "minimax: log(1 - D(G(z)))", "C3"), ("nonsaturating", "non-saturating: -log D(G(z))", "C0")):
    values, grads = curves[name]
    axes[0].plot(logits, values, colour, label=label)
    axes[1].plot(logits, grads, colour, label=label)
for ax in axes:
    ax.axvspan(-6, -3, color="grey", alpha=0.15, lw=0)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("D's logit on a fake")
    add_probability_axis(ax)
axes[0].text(-5.8, 5.2, "G starts here:\nD rejects the fakes", fontsize=9)
axes[0].set(ylabel="G's loss", title="generator losses")
axes[1].set(ylabel="d loss / d logit", title="their gradients (how hard G is pushed)")
axes[0].legend(loc="lower left")
plt.show()

# %%
i = 0  # logits[0] = -6: D confidently rejects the fake
mm, ns = curves["minimax"][1][i], curves["nonsaturating"][1][i]
print(f"gradient at logit -6:  minimax {mm:.4f} | non-saturating {ns:.4f} | ratio {ns / mm:.0f} (e^6 = {math.exp(6):.0f})")
print(f"gradient at logit +6:  minimax {curves['minimax'][1][-1]:.4f} | non-saturating {curves['nonsaturating'][1][-1]:.4f}")

# %% [markdown]
# The picture says it all. The minimax loss $\log(1 - D(G(z)))$ is **flat exactly where
# $G$ starts** (grey band): its gradient at $\ell_f = -6$ is $-\sigma(-6) \approx -0.0025$,
# so $G$ barely moves, and it only gets steep once $G$ is already fooling $D$. The
# non-saturating loss $-\log D(G(z))$ is steepest there, $e^6 \approx 403$ times steeper,
# and relaxes as the fakes improve. Both push in the same direction (both gradients are
# negative everywhere) and have the same fixed point; only the strength differs. That is
# why practically nobody trains with the minimax $G$ loss that the game's equation
# suggests.
#
# The other families, on the same axis:

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
# * **Least squares** pushes hardest the further the fake is from the target 1
#   (gradient $\ell_f - 1$), and even pulls back fakes that $D$ scores above 1.
# * **Wasserstein** and **hinge** share the G loss $-\ell_f$: a constant gradient of
#   $-1$ that never saturates. The scale is set by the critic, which is why it must be
#   kept in check (below).
#
# ## The discriminator's side
#
# Each $D$ loss is a sum of a term on real logits and a term on fake logits. Plot both
# terms, per example:

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
# * **BCE** stops caring once $D$ is confidently right (the curve flattens towards 0), and
#   punishes confident mistakes roughly linearly.
# * **Hinge** stops caring *exactly*, beyond a margin of 1: examples already on the right
#   side of it contribute nothing.
# * **Least squares** also punishes being "too right" (a real output above 1): it wants
#   the outputs *at* the targets.
# * **Wasserstein** never stops: the loss is linear, so $D$ can lower it without end
#   just by scaling its outputs up. On its own that makes the critic blow up.
#
# ## Keeping the critic in check: the gradient penalty
#
# The Wasserstein loss estimates a distance only if the critic is 1-Lipschitz: its
# slope $\|\nabla_x D(x)\|$ is at most 1 everywhere. WGAN-GP (Gulrajani et al., 2017)
# asks for this softly, with a penalty on the slope at random points $\hat{x}$ on the
# straight lines between real and fake examples:
#
# $$\hat{x} = \varepsilon\, x_\text{real} + (1 - \varepsilon)\, x_\text{fake}, \quad
#   \varepsilon \sim U(0, 1), \qquad
#   \mathrm{GP} = \mathbb{E}\Big[\big(\|\nabla_{\hat{x}} D(\hat{x})\|_2 - 1\big)^2\Big],$$
#
# and the critic minimises $\ell_f - \ell_r + \lambda\,\mathrm{GP}$ with $\lambda = 10$. Two
# details in code: $D(\hat{x}_i)$ depends only on $\hat{x}_i$, so the gradient of the
# *sum* over the batch gives every example its own gradient at once; and
# `create_graph=True` keeps that gradient differentiable, because GP is a loss for $D$
# and backpropagation must go through it to $D$'s weights.

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
# $(5 - 1)^2 = 16$ exactly. The library's `losses.gradient_penalty(D, real, fake,
# generator=)` draws its own $\varepsilon$ with `torch.rand(B, 1, generator=generator)`,
# so a generator seeded like ours gives the same $\varepsilon$.

# %%
w, b = torch.tensor([3.0, 4.0]), 0.5


def linear_critic(x):  # (B, 2) -> (B,)
    return x @ w + b


print("by hand:    ", my_gradient_penalty(linear_critic, real, fake, eps).item())
print("library:    ", losses.gradient_penalty(linear_critic, real, fake, generator=torch.Generator().manual_seed(7)).item())
print("(||w|| - 1)^2 =", (w.norm() - 1).pow(2).item())

# %% [markdown]
# The penalty is what stops the Wasserstein loss from running away. Scale the critic
# by $c$: its loss $\ell_f - \ell_r$ scales by $c$ too (lower and lower for large $c$),
# but the penalty $(5c - 1)^2$ grows with the square and wins. The best linear critic
# under the penalty has $\|w\| \approx 1$.

# %%
print(f"{'scale c':>8} {'W loss':>9} {'10 * GP':>9}")
for c in (0.2, 1.0, 10.0):
    def critic(x, c=c):
        return c * linear_critic(x)

    w_loss = losses.wasserstein_d(critic(real), critic(fake))
    gp = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(7))
    print(f"{c:>8} {w_loss.item():>9.2f} {10 * gp.item():>9.1f}")

# %% [markdown]
# ### On a real discriminator
#
# With lesson 03's MLP discriminator the slope differs from point to point, and the
# two versions must still agree, and the penalty must carry gradients back to every
# weight of $D$:

# %%
D = gan.Discriminator()
mine_gp = my_gradient_penalty(D, real, fake, eps)
lib_gp = losses.gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(7))
print("same penalty:", torch.allclose(mine_gp, lib_gp))
mine_gp.backward()
print("weights the penalty trains:", sum(p.grad is not None for name, p in D.named_parameters() if name.endswith("weight")), "of", len(D.net) // 2 + 1)
print("parameters it does not reach:", [name for name, p in D.named_parameters() if p.grad is None])

# %% [markdown]
# Every weight matrix gets a gradient from the penalty. The one parameter it cannot
# reach is the bias of the last layer, `net.6.bias`: adding a constant to $D$'s output
# does not change its slope, so a penalty on the slope cannot care about it.
#
# ### R1: a penalty at the data only
#
# R1 (Mescheder et al., 2018) is simpler and works with the ordinary BCE losses: it
# penalises the *squared* slope of $D$ at real data points,
#
# $$R_1 = \mathbb{E}_{x \sim p_\text{data}}\big[\|\nabla_x D(x)\|^2\big], \qquad
#   L_D = L_D^\text{BCE} + \frac{\gamma}{2} R_1.$$
#
# Where the data are, $D$ should be flat: if it is steep there, $G$'s samples that land
# on the data are pushed straight through it and past, and training circles instead of
# settling. For the linear critic, $R_1 = \|w\|^2 = 25$.

# %%
def my_r1_penalty(D, real):
    """R1: mean over real examples of ||grad_x D(x)||^2. real: (B, 2)."""
    x = real.detach().requires_grad_(True)  # (B, 2)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)  # (B, 2)
    return grad.pow(2).sum(dim=1).mean()


print("linear critic, by hand:", my_r1_penalty(linear_critic, real).item(), "| library:", losses.r1_penalty(linear_critic, real).item())
print("MLP discriminator, same penalty:", torch.allclose(my_r1_penalty(D, real), losses.r1_penalty(D, real)))

# %% [markdown]
# ## Which loss the course uses, and why
#
# | family | G's gradient when D rejects the fakes | needs |
# |---|---|---|
# | minimax | vanishes ($\approx -0.0025$ at $\ell_f = -6$) | - |
# | **non-saturating** | **strong** ($\approx -1$) | - |
# | least squares | strong, grows with the distance to the target | - |
# | Wasserstein | constant ($-1$) | a gradient penalty, usually 5 $D$ steps per $G$ step |
# | hinge | constant ($-1$) | - |
#
# The course's default is the **non-saturating** loss with an **R1 penalty** on $D$: it
# gives $G$ a strong signal from the first step, it is just BCE (numerically safe in
# softplus form), and R1 keeps $D$ smooth at the data so that $G$ keeps being pulled
# towards every mode rather than chasing a $D$ that flips back and forth. It costs one
# extra backward pass, which the library pays only every 4th $D$ step ("lazy" R1,
# weighted 4 times). The recipe lesson 05 trains with is in `genai_course.models`:

# %%
from genai_course import models

recipe = models.get_recipe("gan-grid25").train
print("loss:", recipe.loss, "| r1_gamma:", recipe.r1_gamma, "| R1 every", recipe.r1_every, "D steps | gp_weight:", recipe.gp_weight)
print("learning rate:", recipe.lr_g, "decaying", recipe.lr_decay, "to 0 over", recipe.steps, "steps")

# %% [markdown]
# ## Summary
#
# * The GAN game is $\min_G \max_D \mathbb{E}[\log D(x)] + \mathbb{E}[\log(1 - D(G(z)))]$; $D$'s side is binary cross-entropy with real = 1, fake = 0.
# * In logits, $\log D = -\mathrm{softplus}(-\ell)$ and $\log(1 - D) = -\mathrm{softplus}(\ell)$: exact for any $\ell$, where $\log(\sigma(\ell))$ gives $-\infty$ and `nan` gradients.
# * The minimax $G$ loss saturates: its gradient is $\approx 0$ exactly when $D$ rejects the fakes, i.e. at the start. The non-saturating $-\log D(G(z))$ is steepest there ($e^6 \approx 403$ times at $\ell_f = -6$).
# * Least squares, Wasserstein and hinge use $D$'s raw score; Wasserstein needs its critic's slope held near 1 by the gradient penalty at points between real and fake.
# * Our hand-written losses and penalties agree with `genai_course.losses`; the course trains with non-saturating + R1.
#
# ## Exercises
#
# Open `exercises/04_loss_functions.ipynb`. You will write `discriminator_loss(real_logits,
# fake_logits)` (BCE on logits), `nonsaturating_g_loss(fake_logits)` (exact even at a
# logit of $-200$) and `gradient_penalty(D, real, fake, eps)`; a check cell after each
# tells you at once whether it is right.
#
# Next: **lesson 05, the training loop**: alternate $D$ and $G$ steps with these losses,
# watch mode collapse happen, and cure it.
