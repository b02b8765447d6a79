"""The VAE's objectives: the ELBO's two terms (Bernoulli reconstruction and Gaussian KL) and the
importance-weighted bound IWAE_k, all in nats per image."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from ._images import check_digits
from .networks import VAE, reparameterize


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per row: (B, L) -> (B,) nats, always >= 0.

    = 1/2 * sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2).
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """-log p(x | z) for pixels x in [0, 1] under Bernoulli(sigmoid(logits)): (B, ...) -> (B,) nats.

    The binary cross-entropy from logits, summed over each image's pixels. For grey pixels
    (0 < x < 1) its minimum is the pixel's binary entropy, not 0.
    """
    if logits.shape != x.shape:
        raise ValueError(f"logits and images must have the same shape (got {tuple(logits.shape)} and {tuple(x.shape)})")
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


@dataclass
class ELBO:
    """The terms of the (negative) ELBO for a batch; ``loss`` is what training minimises."""

    reconstruction: torch.Tensor  # (B,) -log p(x | z), averaged over the draws of z
    kl: torch.Tensor  # (B,) KL(q(z | x) || p(z))
    beta: float = 1.0

    @property
    def loss(self) -> torch.Tensor:
        """Scalar: mean over the batch of reconstruction + beta * KL (the negative ELBO when beta = 1)."""
        return (self.reconstruction + self.beta * self.kl).mean()

    @property
    def neg_elbo(self) -> torch.Tensor:
        """(B,) -ELBO per image in nats (beta = 1 whatever the training beta): an upper bound on -log p(x)."""
        return self.reconstruction + self.kl


def elbo(
    vae: VAE,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    beta: float = 1.0,
    draws: int = 1,
    generator: torch.Generator | None = None,
    encoder_input: torch.Tensor | None = None,
) -> ELBO:
    """The ELBO's two terms for images x (B, 1, 8, 8) in [0, 1] [, labels y (B,)].

    The reconstruction term is averaged over ``draws`` reparameterized samples of z (more
    draws: the same expectation, less noise); the KL term is exact. ``beta`` weighs the KL in
    ``loss`` (beta-VAE: > 1 trades reconstruction for a smoother latent space).
    ``encoder_input`` (B, 1, 8, 8) is what the encoder sees instead of x, e.g. a noisy copy
    (training's ``input_noise``): the decoder must still explain x itself, and the result is
    still a lower bound on log p(x), since the bound holds for any distribution q over z.
    """
    check_digits(x)
    if not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive whole number (got {draws!r})")
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0 (got {beta!r})")
    if encoder_input is not None and encoder_input.shape != x.shape:
        raise ValueError(f"encoder_input must have the images' shape {tuple(x.shape)} (got {tuple(encoder_input.shape)})")
    mu, logvar = vae.encoder(x if encoder_input is None else encoder_input, y)  # (B, L) each
    rec = torch.zeros(x.shape[0], device=x.device)
    for _ in range(draws):
        z = reparameterize(mu, logvar, generator)  # (B, L)
        rec = rec + bernoulli_nll(vae.decoder(z, y), x)
    return ELBO(reconstruction=rec / draws, kl=gaussian_kl(mu, logvar), beta=float(beta))


@torch.no_grad()
def iwae_bound(
    vae: VAE, x: torch.Tensor, y: torch.Tensor | None = None, *, k: int = 100, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The importance-weighted lower bound on log p(x): (B,) nats per image (a log-likelihood, <= 0).

    IWAE_k = log (1/k) sum_i p(x, z_i) / q(z_i | x) with z_i ~ q(z | x). k = 1 is the ELBO (in
    expectation); larger k gives a tighter bound, approaching log p(x) as k grows.
    """
    check_digits(x)
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive whole number of importance samples (got {k!r})")
    mu, logvar = vae.encoder(x, y)  # (B, L)
    std = torch.exp(0.5 * logvar)
    log_2pi = math.log(2 * math.pi)
    weights = []
    for _ in range(k):
        eps = torch.randn(mu.shape, generator=generator).to(mu.device)  # (B, L)
        z = mu + std * eps
        log_q = -0.5 * (eps.pow(2) + logvar + log_2pi).sum(dim=1)  # log q(z | x)
        log_prior = -0.5 * (z.pow(2) + log_2pi).sum(dim=1)  # log p(z)
        weights.append(log_prior - bernoulli_nll(vae.decoder(z, y), x) - log_q)  # log p(x, z) - log q(z | x)
    return torch.logsumexp(torch.stack(weights), dim=0) - math.log(k)  # (B,)
