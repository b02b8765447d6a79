# %% [markdown]
# Generated from solutions/04_loss_functions.py by `genai-course build`: do not edit by hand.

# %% [markdown]
# # Exercises 04: Loss functions
#
# Three exercises on lesson 04 (`notebooks/04_loss_functions.ipynb`), each a variation on
# code the lesson wrote: the discriminator's loss with a softer label for real data, the
# non-saturating generator loss built stable by hand, and a gradient penalty that only
# punishes slopes above 1. Write your code where it says `TODO`, then run the check cell
# below it: it prints ✅ when your code is right, or says what is wrong.
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
# ## Exercise 4.1: the discriminator's loss with a soft real label
#
# Lesson 03 trained $D$ with binary cross-entropy (BCE), real examples labelled 1 and
# fakes 0. Salimans et al. (2016, [arXiv:1606.03498](https://arxiv.org/abs/1606.03498),
# section 3.4) label the real examples 0.9 instead, so that $D$ is never pushed towards
# total certainty on real data; the fakes keep label 0, hence the name **one-sided label
# smoothing**.
#
# Write `discriminator_loss(real_logits, fake_logits, real_label=0.9)`: BCE with target
# `real_label` for every real example and 0 for every fake, each term a mean over its own
# batch, the two terms added.
#
# * Both inputs are logits $\ell$, shape `(B,)`; return a scalar (a 0-dim tensor). With
#   `real_label=1.0` it is the lesson's $D$ loss.
# * Lesson 03's BCE for a label $y$, written with the sigmoid $\sigma(\ell)$ (with an
#   argument: not a standard deviation), holds for any $y$ between 0 and 1, not only for
#   0 and 1. What does its real term become in softplus form?
# * It must stay exact for a real logit of 30, where $\sigma(30)$ rounds to exactly 1 in
#   float32.


# %%
def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor, real_label: float = 0.9) -> torch.Tensor:
    """real_logits (B,), fake_logits (B,) -> scalar: BCE with target real_label on real examples, 0 on fakes."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.discriminator_loss(discriminator_loss)

# %% [markdown]
# ## Exercise 4.2: a stable non-saturating loss, from exp and log
#
# The lesson computed the non-saturating loss $-\log \sigma(\ell) = \log(1 + e^{-\ell})$
# with `F.softplus`, which works in a form that is exact for any $\ell$. Find that form
# yourself. Write `nonsaturating_g_loss(fake_logits)`, the mean over the batch of
# $\log(1 + e^{-\ell})$, from `torch.exp` and `torch.log` or `torch.log1p`
# ($\log(1 + u)$, accurate even for a tiny $u$), plus whatever elementwise tensor
# operations you need; not with `F.softplus`, `F.logsigmoid`,
# `F.binary_cross_entropy_with_logits` or `torch.logaddexp` (the check notices them: they
# do the work for you).
#
# * `fake_logits` has shape `(B,)`; return a scalar.
# * It must be exact for every logit: the loss is 200 at a logit of $-200$ and about 0 at
#   $+200$.
# * Try the formula as written at both ends first. Where does `exp` overflow float32 (to
#   `inf`)? For those logits, which part of $\log(1 + e^{a})$, with $a = -\ell$, is
#   large, and can you take it out of the logarithm?
# * The check also backpropagates through your loss at $\pm 200$: the gradient must be a
#   number there, not `nan`.


# %%
def nonsaturating_g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """fake_logits (B,) -> scalar: mean of -log sigmoid(l) = log(1 + e^-l), exact for any l."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.nonsaturating_g_loss(nonsaturating_g_loss)

# %% [markdown]
# ## Exercise 4.3: a one-sided gradient penalty
#
# The lesson's penalty (WGAN-GP) pulls the critic's slope towards 1 from both sides, yet
# the constraint it stands for is only that the slope be *at most* 1. Petzka et al.
# (2018, [arXiv:1709.08894](https://arxiv.org/abs/1709.08894)) penalise only slopes
# steeper than 1: a slope of at most 1 costs nothing, and a steeper one costs the square
# of how far it goes above 1. The penalty is the mean of that cost over the points
# $\hat{x}_i$ between real and fake examples, the same points as the lesson's.
#
# Write `gradient_penalty(D, real, fake, eps)` for it.
#
# * `real` and `fake` are `(B, 2)`; `eps` is given, shape `(B, 1)`: one $\varepsilon$ per
#   pair, the weight of the real example. $D$ maps `(B, 2)` to logits `(B,)`.
# * In the lesson's penalty a slope of 0.5 costs $(0.5 - 1)^2 = 0.25$ and a slope of 3
#   costs $(3 - 1)^2 = 4$; what should each cost here?
# * The penalty is a loss for $D$: the check backpropagates it into $D$'s weights, as the
#   lesson's version allowed.


# %%
def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """D: (B, 2) -> (B,); real, fake (B, 2); eps (B, 1) -> scalar: the one-sided penalty on slopes above 1."""
    # TODO: write your solution here (see the exercise above), then run the check below.
    raise NotImplementedError("exercise not attempted yet")


# %%
checks.gradient_penalty(gradient_penalty)

# %% [markdown]
# ## Check it on critics whose slope you know
#
# A linear critic $D(x) = w^\top x + b$ has slope $\|w\|$ everywhere. With $w = (3, 4)$
# the slope is 5 and your penalty should be $(5 - 1)^2 = 16$, as in the lesson; with
# $w = (0.3, 0.4)$ the slope is 0.5 and it should be 0, where the lesson's two-sided
# version gives 0.25.

# %%
g = torch.Generator().manual_seed(0)
real, fake, eps = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g), torch.rand(8, 1, generator=g)
try:
    for w in (torch.tensor([3.0, 4.0]), torch.tensor([0.3, 0.4])):
        print(f"slope {w.norm().item():.1f}: penalty {gradient_penalty(lambda x: x @ w + 0.5, real, fake, eps).item():.4f}")
except NotImplementedError:
    print("(finish exercise 4.3 above to see the result)")
