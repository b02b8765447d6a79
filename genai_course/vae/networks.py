"""The VAE's networks: q(z | x [, y]) and p(x | z [, y]) as MLPs, and the reparameterized draw that joins them.

``reparameterize`` lives here, beside the ``VAE`` whose forward pass draws z with it; the
objectives (``objectives``) use it too.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..gan import mlp
from ..utils import check_labels
from ._images import IMAGE_SHAPE, PIXELS, check_images


@dataclass
class VAEConfig:
    latent_dim: int = 4  # few latents: the digits' classes and a little style (more gave no better ELBO here)
    hidden: int = 256  # units per hidden layer of the encoder and of the decoder
    layers: int = 2  # hidden layers of each
    num_classes: int = 0  # 0: VAE; K > 0: conditional VAE, q(z | x, y) and p(x | z, y)


def _check_config(c: VAEConfig) -> None:
    for name in ("latent_dim", "hidden", "layers"):
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int (got {value!r})")
    if not isinstance(c.num_classes, int) or c.num_classes < 0:
        raise ValueError(f"num_classes must be 0 (unconditional) or a positive int (got {c.num_classes!r})")


def _with_label(h: torch.Tensor, y: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """[h, one_hot(y)] for a conditional network, h itself otherwise: (B, D [+ K])."""
    return h if y is None else torch.cat([h, F.one_hot(y.long(), num_classes).to(h.dtype)], dim=1)


class Encoder(nn.Module):
    """q(z | x [, y]): images x (B, 1, 8, 8) [and labels y (B,)] -> (mu, logvar), each (B, latent_dim).

    An MLP on the 64 pixels (and the one-hot label) whose output is split in two halves:
    the mean and the log-variance of a diagonal Gaussian over z.
    """

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or VAEConfig()
        _check_config(c)
        self.net = mlp(PIXELS + c.num_classes, 2 * c.latent_dim, c.hidden, c.layers, "relu")

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        check_images(x, "encoder")
        check_labels(y, x.shape[0], self.config.num_classes, "encoder")
        h = self.net(_with_label(x.flatten(1), y, self.config.num_classes))  # (B, 2L)
        mu, logvar = h.chunk(2, dim=1)  # (B, L) each
        return mu, logvar


class Decoder(nn.Module):
    """p(x | z [, y]): z (B, latent_dim) [and labels y (B,)] -> pixel logits (B, 1, 8, 8).

    Logits, not probabilities: the Bernoulli log-likelihood is computed from logits
    (``bernoulli_nll``), which is exact where sigmoid would round to 0 or 1.
    """

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or VAEConfig()
        _check_config(c)
        self.net = mlp(c.latent_dim + c.num_classes, PIXELS, c.hidden, c.layers, "relu")

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        c = self.config
        if not isinstance(z, torch.Tensor) or z.dim() != 2 or z.shape[1] != c.latent_dim:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"the decoder expects latents of shape (batch, {c.latent_dim}) (got {shape})")
        check_labels(y, z.shape[0], c.num_classes, "decoder")
        return self.net(_with_label(z, y, c.num_classes)).view(-1, *IMAGE_SHAPE)  # (B, 1, 8, 8)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I): (B, L), differentiable in mu and logvar."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape (got {tuple(mu.shape)} and {tuple(logvar.shape)})")
    eps = torch.randn(mu.shape, generator=generator).to(mu.device, mu.dtype)  # (B, L)
    return mu + torch.exp(0.5 * logvar) * eps


class VAE(nn.Module):
    """Encoder and decoder together. x (B, 1, 8, 8) in [0, 1] [, y (B,)].

    ``forward`` returns (logits (B, 1, 8, 8), mu (B, L), logvar (B, L)) for one reparameterized draw.
    """

    def __init__(self, config: VAEConfig | None = None) -> None:
        super().__init__()
        self.config = config or VAEConfig()
        self.encoder = Encoder(self.config)
        self.decoder = Decoder(self.config)

    def forward(
        self, x: torch.Tensor, y: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x, y)
        z = reparameterize(mu, logvar, generator)
        return self.decoder(z, y), mu, logvar

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ p(z) = N(0, I): (n, latent_dim), on the model's device."""
        device = next(self.parameters()).device
        return torch.randn(n, self.config.latent_dim, generator=generator).to(device)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder means sigmoid(logits): (B, 1, 8, 8) in [0, 1]."""
        return torch.sigmoid(self.decoder(z, y))

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the posterior mean of each image: (B, 1, 8, 8) in [0, 1]."""
        mu, _ = self.encoder(x, y)
        return self.decode(mu, y)

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new images from the prior: decoder means of z ~ N(0, I), (n, 1, 8, 8) in [0, 1].

        Conditional: ``y`` (n,) picks each image's class (required).
        """
        return self.decode(self.sample_latent(n, generator=generator), y)

    def as_generator(self) -> "DecoderMeans":
        """The decoder viewed as a generator G(z [, y]) -> images in [0, 1] (for the digit widgets)."""
        return DecoderMeans(self)


class DecoderMeans(nn.Module):
    """A VAE's decoder as a generator: z (B, L) [, y (B,)] -> means sigmoid(logits) (B, 1, 8, 8).

    Shares the VAE's weights. Has ``config.latent_dim``, ``config.num_classes``, ``sample_latent``
    and ``sample`` like ``gan.ConvGenerator``, so the digit widgets and metrics take it as a G.
    """

    def __init__(self, vae: VAE) -> None:
        super().__init__()
        self.decoder = vae.decoder
        self.config = vae.config
        self.sample_latent = vae.sample_latent

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z, y))

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Uniform random labels (n,) for a conditional VAE, None otherwise."""
        k = self.config.num_classes
        return torch.randint(k, (n,), generator=generator) if k else None

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        if y is None:
            y = self.sample_labels(n, generator=generator)
        return self(self.sample_latent(n, generator=generator), y)
