"""GAN loss functions, written on the discriminator's *logits*.

Every discriminator in the course returns a logit: D(x) is a real number, and the
probability-based losses use σ(D(x)), its sigmoid. Each family has a D loss, which D
minimises, and a G loss, which G minimises (l_real = D(x), l_fake = D(G(z))):

| family          | D loss                                         | G loss                 |
|-----------------|------------------------------------------------|------------------------|
| minimax         | -log σ(D(x)) - log(1 - σ(D(G(z))))             | log(1 - σ(D(G(z))))    |
| non-saturating  | same as minimax                                | -log σ(D(G(z)))        |
| least squares   | (l_real - 1)^2 / 2 + l_fake^2 / 2              | (l_fake - 1)^2 / 2     |
| wasserstein     | l_fake - l_real  (+ gradient penalty)          | -l_fake                |
| hinge           | relu(1 - l_real) + relu(1 + l_fake)            | -l_fake                |

All losses are means over the batch. log σ(l) = -softplus(-l) and log(1 - σ(l)) = -softplus(l)
are computed in that form because it is exact where sigmoid would round to 0 or 1.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F

__all__ = [
    "LossPair",
    "LOSSES",
    "get_loss",
    "minimax_d",
    "minimax_g",
    "nonsaturating_d",
    "nonsaturating_g",
    "least_squares_d",
    "least_squares_g",
    "wasserstein_d",
    "wasserstein_g",
    "hinge_d",
    "hinge_g",
    "gradient_penalty",
    "r1_penalty",
]


def minimax_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of D: real labelled 1, fake labelled 0. Logits (B,) -> scalar."""
    # -log sigmoid(l_real) - log(1 - sigmoid(l_fake)) = softplus(-l_real) + softplus(l_fake)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def minimax_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """The original (saturating) G loss: minimise log(1 - σ(D(G(z)))). Logits (B,) -> scalar."""
    # log(1 - sigmoid(l)) = -softplus(l): flat when D confidently rejects the fakes (l << 0)
    return -F.softplus(fake_logits).mean()


nonsaturating_d = minimax_d


def nonsaturating_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating G loss: minimise -log σ(D(G(z))). Logits (B,) -> scalar."""
    # -log sigmoid(l) = softplus(-l): steep exactly where the saturating loss is flat
    return F.softplus(-fake_logits).mean()


def least_squares_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN D loss: push real outputs to 1 and fake outputs to 0. (B,), (B,) -> scalar."""
    return 0.5 * (real_logits - 1).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()


def least_squares_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """LSGAN G loss: push D's output on fakes to 1. (B,) -> scalar."""
    return 0.5 * (fake_logits - 1).pow(2).mean()


def wasserstein_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss: E[D(fake)] - E[D(real)] (add a gradient penalty). (B,), (B,) -> scalar."""
    return fake_logits.mean() - real_logits.mean()


def wasserstein_g(fake_logits: torch.Tensor) -> torch.Tensor:
    """WGAN G loss: -E[D(fake)]. (B,) -> scalar."""
    return -fake_logits.mean()


def hinge_d(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Hinge D loss: a margin of 1 on each side. (B,), (B,) -> scalar."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


hinge_g = wasserstein_g


def gradient_penalty(
    discriminator: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP penalty: E[(||grad_x D(x_hat)||_2 - 1)^2] at random points between real and fake.

    real, fake: (B, ...) with the same shape. Returns a scalar that carries gradients to D's
    parameters (``create_graph=True``) but not to the fake examples' generator.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape (got {tuple(real.shape)} and {tuple(fake.shape)})")
    # x_hat = eps * real + (1 - eps) * fake, one eps ~ U(0, 1) per example
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), generator=generator).to(real.device)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x_hat).sum(), x_hat, create_graph=True)
    grad_norm = grad.flatten(1).norm(dim=1)  # (B,)
    return (grad_norm - 1).pow(2).mean()


def r1_penalty(discriminator: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """R1 penalty (Mescheder et al. 2018): E[||grad_x D(x)||^2] on real data. (B, ...) -> scalar.

    Penalising D's slope at the data keeps D from growing cliffs there, which is what
    lets simple GANs converge instead of circling. Multiply by gamma / 2 in the D loss.
    """
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1).mean()


class LossPair(NamedTuple):
    """A loss family: ``d(real_logits, fake_logits)`` and ``g(fake_logits)``."""

    d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g: Callable[[torch.Tensor], torch.Tensor]


LOSSES: dict[str, LossPair] = {
    "minimax": LossPair(minimax_d, minimax_g),
    "nonsaturating": LossPair(nonsaturating_d, nonsaturating_g),
    "least_squares": LossPair(least_squares_d, least_squares_g),
    "wasserstein": LossPair(wasserstein_d, wasserstein_g),
    "hinge": LossPair(hinge_d, hinge_g),
}


def get_loss(name: str) -> LossPair:
    """Look up a loss family by name: one of ``LOSSES``."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(LOSSES)}")
    return LOSSES[name]
