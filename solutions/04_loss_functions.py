# %% [markdown]
# # Exercises 04: Loss functions
#
# Three exercises on lesson 04 (`notebooks/04_loss_functions.ipynb`): the
# discriminator's loss, the non-saturating generator loss, and the WGAN-GP gradient
# penalty, all written on the discriminator's logits. Write your code where it says
# `TODO`, then run the check cell below it: it prints ✅ when your code is right, or says
# what is wrong. The notebook runs in a few seconds.
#
# Keep all of each answer inside its function, imports and helpers included: when your
# instructor grades this notebook, only the code inside the exercises' functions is run, in the
# course's own copy of the notebook (what your notebook prints decides nothing).

# %%
import torch
import torch.nn.functional as F

from genai_course import checks, threads

threads.use("lesson")  # PyTorch threads for this machine: 1 on 2 cores (genai_course.threads says why)

# %% [markdown]
# ## Exercise 4.1: the discriminator's loss
#
# Write `discriminator_loss(real_logits, fake_logits)`: the binary cross-entropy of $D$
# with real examples labelled 1 and fakes labelled 0,
#
# $$L_D = \operatorname{mean}_i\big[-\log \sigma(\ell^{\text{real}}_i)\big]
#       + \operatorname{mean}_j\big[-\log(1 - \sigma(\ell^{\text{fake}}_j))\big].$$
#
# * Both inputs are **logits**, shape `(B,)`; return a scalar (a 0-dim tensor).
# * Add the two means (each is a mean over its own batch).
# * Use `F.binary_cross_entropy_with_logits(logits, labels)` or the identities
#   $-\log \sigma(\ell) = \mathrm{softplus}(-\ell)$ and
#   $-\log(1 - \sigma(\ell)) = \mathrm{softplus}(\ell)$, never `torch.log(torch.sigmoid(...))`.


# %%
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """real_logits (B,), fake_logits (B,) -> scalar: BCE with real = 1, fake = 0."""
    # BEGIN SOLUTION
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    # END SOLUTION


# %%
checks.discriminator_loss(discriminator_loss)

# %% [markdown]
# ## Exercise 4.2: the non-saturating generator loss
#
# Write `nonsaturating_g_loss(fake_logits)`: the mean over the batch of
# $-\log D(G(z)) = -\log \sigma(\ell^{\text{fake}})$, shape `(B,)` -> scalar.
#
# It must stay exact when $D$ is very sure the fakes are fake: at a logit of $-200$ the
# loss is $200$, but `torch.sigmoid(-200.)` is exactly `0.0` in float32 and its log is
# $-\infty$. Use softplus.


# %%
def nonsaturating_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """fake_logits (B,) -> scalar: mean of -log D(G(z))."""
    # BEGIN SOLUTION
    return F.softplus(-fake_logits).mean()
    # END SOLUTION


# %%
checks.nonsaturating_g_loss(nonsaturating_g_loss)

# %% [markdown]
# ## Exercise 4.3: the gradient penalty
#
# Write `gradient_penalty(D, real, fake, eps)` (WGAN-GP):
#
# $$\hat{x} = \varepsilon\, x_\text{real} + (1 - \varepsilon)\, x_\text{fake}, \qquad
#   \mathrm{GP} = \operatorname{mean}_i\big(\|\nabla_{\hat{x}} D(\hat{x})_i\|_2 - 1\big)^2.$$
#
# * `real` and `fake` are `(B, 2)`; `eps` is given, shape `(B, 1)` (one $\varepsilon$ per
#   pair, broadcast over the two coordinates). $D$ maps `(B, 2)` to logits `(B,)`.
# * Make $\hat{x}$ a tensor that requires gradients (`.requires_grad_(True)`), then get
#   the gradient with `torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)`:
#   the sum gives every example its own gradient, and `create_graph=True` lets the
#   penalty itself be backpropagated into $D$'s weights.
# * Take the norm of each example's gradient (`.norm(dim=1)`, shape `(B,)`), not its square.


# %%
def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """D: (B, 2) -> (B,); real, fake (B, 2); eps (B, 1) -> scalar: mean of (||grad D(x_hat)|| - 1)^2."""
    # BEGIN SOLUTION
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)  # (B, 2)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)  # (B, 2)
    return (grad.norm(dim=1) - 1).pow(2).mean()
    # END SOLUTION


# %%
checks.gradient_penalty(gradient_penalty)

# %% [markdown]
# ## Check it on a critic whose slope you know
#
# A linear critic $D(x) = w^\top x + b$ with $w = (3, 4)$ has slope $\|w\| = 5$
# everywhere, so your penalty should be $(5 - 1)^2 = 16$ for any real, fake and
# $\varepsilon$.

# %%
w = torch.tensor([3.0, 4.0])
g = torch.Generator().manual_seed(0)
real, fake, eps = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g), torch.rand(8, 1, generator=g)
try:
    print("penalty of the linear critic:", round(gradient_penalty(lambda x: x @ w + 0.5, real, fake, eps).item(), 4), "(expected 16.0)")
except NotImplementedError:
    print("(finish exercise 4.3 above to see the result)")
