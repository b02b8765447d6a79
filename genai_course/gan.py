"""Generators and discriminators.

Lessons 02-03 build these step by step; this module is the tested reference version.

* ``Generator``: maps latent noise z ~ N(0, I), shape (B, latent_dim), to data, shape (B, data_dim).
* ``Discriminator``: maps data, shape (B, data_dim), to one *logit* per example, shape (B,).
  A logit is a real number; ``sigmoid(logit)`` is D's probability that the input is real.
  With packing (PacGAN), D sees ``pack`` examples at once and returns one logit per pack.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["GeneratorConfig", "DiscriminatorConfig", "Generator", "Discriminator", "mlp"]


@dataclass
class GeneratorConfig:
    latent_dim: int = 2  # size of the noise vector z; 2 is enough for 2D data and easy to explore
    data_dim: int = 2  # size of one output example (2 for points in the plane)
    hidden: int = 128  # units per hidden layer: small enough for thousands of CPU steps a minute
    layers: int = 3  # hidden layers
    activation: str = "relu"  # 'relu', 'leaky_relu' or 'tanh'


@dataclass
class DiscriminatorConfig:
    data_dim: int = 2  # size of one input example
    hidden: int = 128  # units per hidden layer
    layers: int = 3  # hidden layers
    pack: int = 1  # PacGAN packing degree: D judges `pack` examples jointly (1 = no packing)
    activation: str = "leaky_relu"  # LeakyReLU keeps gradients flowing for negative inputs


_ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh}


def mlp(d_in: int, d_out: int, hidden: int, layers: int, activation: str) -> nn.Sequential:
    """A multilayer perceptron: ``layers`` hidden layers of ``hidden`` units, linear output."""
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)} (got {activation!r})")
    for name, value in (("d_in", d_in), ("d_out", d_out), ("hidden", hidden), ("layers", layers)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int (got {value!r})")
    blocks: list[nn.Module] = []
    width = d_in
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), _ACTIVATIONS[activation]()]
        width = hidden
    blocks.append(nn.Linear(width, d_out))
    return nn.Sequential(*blocks)


class Generator(nn.Module):
    """MLP generator G(z): (B, latent_dim) -> (B, data_dim)."""

    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config or GeneratorConfig()
        c = self.config
        self.net = mlp(c.latent_dim, c.data_dim, c.hidden, c.layers, c.activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (B, latent_dim) -> x: (B, data_dim)."""
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(
                f"Generator expects noise of shape (batch, {self.config.latent_dim}) (got {tuple(z.shape)})"
            )
        return self.net(z)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw latent noise z ~ N(0, I): (n, latent_dim), on the generator's device."""
        device = next(self.parameters()).device
        return torch.randn(n, self.config.latent_dim, generator=generator).to(device)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Generate n examples without tracking gradients: (n, data_dim)."""
        return self(self.sample_latent(n, generator=generator))


class Discriminator(nn.Module):
    """MLP discriminator D(x): (B, data_dim) -> logits (B // pack,)."""

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config or DiscriminatorConfig()
        c = self.config
        if not isinstance(c.pack, int) or c.pack < 1:
            raise ValueError(f"pack must be a positive int (got {c.pack!r})")
        self.net = mlp(c.data_dim * c.pack, 1, c.hidden, c.layers, c.activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, data_dim) -> logits (B // pack,). B must be a multiple of pack."""
        c = self.config
        if x.dim() != 2 or x.shape[1] != c.data_dim:
            raise ValueError(f"Discriminator expects inputs of shape (batch, {c.data_dim}) (got {tuple(x.shape)})")
        if x.shape[0] % c.pack:
            raise ValueError(f"batch size {x.shape[0]} is not a multiple of pack={c.pack}")
        # Packing: concatenate `pack` consecutive examples into one input of D.
        x = x.reshape(x.shape[0] // c.pack, c.pack * c.data_dim)  # (B/pack, pack*data_dim)
        return self.net(x).squeeze(1)  # (B/pack,)
