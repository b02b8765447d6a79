"""Generators and discriminators: the GAN's two networks.

Lessons 02-03 build these step by step; this module is the tested reference version.

* ``Generator``: maps latent noise z ~ N(0, I), shape (B, latent_dim), to data, shape (B, data_dim).
* ``Discriminator``: maps data, shape (B, data_dim), to one *logit* per example, shape (B,).
  A logit is a real number; ``sigmoid(logit)`` is D's probability that the input is real.
  With packing (PacGAN), D sees ``pack`` examples at once and returns one logit per pack.
* ``ConvGenerator`` and ``ConvDiscriminator``: the DCGAN-style versions for 8x8 images
  (lesson 06), shaped (B, 1, 8, 8) with pixels in [0, 1]. With ``num_classes > 0`` they
  are class-conditional (lesson 07): G(z, y) draws a digit of class y, and D(x, y) judges
  whether x is a real digit *of class y* (projection discriminator).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..utils import check_labels

__all__ = [
    "GeneratorConfig", "DiscriminatorConfig", "Generator", "Discriminator", "mlp",
    "ConvGeneratorConfig", "ConvDiscriminatorConfig", "ConvGenerator", "ConvDiscriminator",
]


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


# ---------------------------------------------------------------------------------------
# Convolutional GANs for 8x8 images (lessons 06-07)
# ---------------------------------------------------------------------------------------


@dataclass
class ConvGeneratorConfig:
    latent_dim: int = 32  # Gaussian part of z; 8x8 digits need more than the 2 of the 2D lessons
    channels: int = 32  # feature maps at 4x4; the 2x2 layer has twice as many
    num_classes: int = 0  # 0: unconditional G(z); K > 0: conditional G(z, y) with y in 0..K-1
    codes: int = 0  # a discrete part of z: a uniformly drawn one-hot code of this size (0 = none)


@dataclass
class ConvDiscriminatorConfig:
    channels: int = 32  # feature maps at 4x4; the 2x2 layer has twice as many
    num_classes: int = 0  # 0: unconditional D(x); K > 0: conditional D(x, y) (projection)


class ConvGenerator(nn.Module):
    """DCGAN-style generator: z (B, latent_dim) [and labels y (B,)] -> images (B, 1, 8, 8) in [0, 1].

    A linear layer makes a 2x2 grid of 2C feature maps; each transposed convolution (kernel 4,
    stride 2, padding 1) doubles the height and width: 2x2 -> 4x4 -> 8x8. Batch norm after the
    hidden layers keeps their activations on a common scale; a sigmoid puts pixels in [0, 1].
    Conditional (num_classes K > 0): the label, one-hot, is appended to z.

    With ``codes`` = M > 0, z is (B, latent_dim + M): latent_dim Gaussian numbers, then a
    one-hot code drawn uniformly from M choices and scaled by sqrt(latent_dim) (``sample_latent``
    draws both). No label is
    involved: the code is noise, like the rest of z, but discrete, so G can switch between
    different digits with it instead of morphing one into another along a continuous path.
    """

    def __init__(self, config: ConvGeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ConvGeneratorConfig()
        for name in ("latent_dim", "channels"):
            if not isinstance(getattr(c, name), int) or getattr(c, name) < 1:
                raise ValueError(f"{name} must be a positive int (got {getattr(c, name)!r})")
        if not isinstance(c.num_classes, int) or c.num_classes < 0:
            raise ValueError(f"num_classes must be 0 (unconditional) or a positive int (got {c.num_classes!r})")
        if not isinstance(c.codes, int) or c.codes < 0:
            raise ValueError(f"codes must be 0 (no discrete code) or a positive int (got {c.codes!r})")
        ch = c.channels
        self.z_dim = c.latent_dim + c.codes  # width of z: the Gaussian part, then the one-hot code
        self.project = nn.Sequential(  # (B, z_dim + K) -> (B, 2C * 2 * 2)
            nn.Linear(self.z_dim + c.num_classes, 2 * ch * 2 * 2), nn.BatchNorm1d(2 * ch * 2 * 2), nn.ReLU()
        )
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * ch, ch, kernel_size=4, stride=2, padding=1),  # (B, 2C, 2, 2) -> (B, C, 4, 4)
            nn.BatchNorm2d(ch),
            nn.ReLU(),
            nn.ConvTranspose2d(ch, 1, kernel_size=4, stride=2, padding=1),  # (B, C, 4, 4) -> (B, 1, 8, 8)
            nn.Sigmoid(),  # pixels in [0, 1], like the data
        )

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z: (B, z_dim), y: (B,) labels if conditional -> images (B, 1, 8, 8) in [0, 1]."""
        c = self.config
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            parts = f": {c.latent_dim} Gaussian numbers, then a one-hot code of {c.codes}" if c.codes else ""
            raise ValueError(f"ConvGenerator expects noise of shape (batch, {self.z_dim}){parts} (got {tuple(z.shape)})")
        check_labels(y, z.shape[0], c.num_classes, "generator")
        if y is not None:
            z = torch.cat([z, nn.functional.one_hot(y.long(), c.num_classes).to(z.dtype)], dim=1)  # (B, latent_dim + K)
        h = self.project(z).view(-1, 2 * c.channels, 2, 2)  # (B, 2C, 2, 2)
        return self.up(h)  # (B, 1, 8, 8)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw latent noise: (n, z_dim) on the generator's device; z ~ N(0, I), then the
        one-hot code (uniform over ``codes`` choices) if there is one."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.config.latent_dim, generator=generator)  # (n, latent_dim)
        if self.config.codes:
            code = torch.randint(self.config.codes, (n,), generator=generator)  # (n,)
            # scaled so the code weighs as much as the Gaussian part (|z|^2 ~ latent_dim); a plain
            # 0/1 one-hot starts out as a small nudge that G learns to ignore
            one_hot = nn.functional.one_hot(code, self.config.codes).float() * math.sqrt(self.config.latent_dim)
            z = torch.cat([z, one_hot], dim=1)  # (n, z_dim)
        return z.to(device)

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        """Labels for n fakes, uniform over the classes: (n,) int64; None if unconditional."""
        if self.config.num_classes == 0:
            return None
        device = next(self.parameters()).device
        return torch.randint(self.config.num_classes, (n,), generator=generator).to(device)

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Generate n images without tracking gradients: (n, 1, 8, 8) in [0, 1].

        Conditional: ``y`` (n,) picks each image's class (default: uniform random labels).
        """
        if y is None:
            y = self.sample_labels(n, generator=generator)
        return self(self.sample_latent(n, generator=generator), y)


class ConvDiscriminator(nn.Module):
    """DCGAN-style discriminator: images (B, 1, 8, 8) [and labels y (B,)] -> logits (B,).

    Two strided convolutions halve the size twice (8x8 -> 4x4 -> 2x2) with LeakyReLU and no
    batch norm (batch norm would mix real and fake examples of a batch, and breaks the R1
    penalty's per-example gradients). Conditional (K > 0): a projection discriminator adds
    <embed(y), h> to the logit, so D scores how well the features h match class y.
    """

    def __init__(self, config: ConvDiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ConvDiscriminatorConfig()
        if not isinstance(c.channels, int) or c.channels < 1:
            raise ValueError(f"channels must be a positive int (got {c.channels!r})")
        if not isinstance(c.num_classes, int) or c.num_classes < 0:
            raise ValueError(f"num_classes must be 0 (unconditional) or a positive int (got {c.num_classes!r})")
        ch = c.channels
        self.features = nn.Sequential(
            nn.Conv2d(1, ch, kernel_size=4, stride=2, padding=1),  # (B, 1, 8, 8) -> (B, C, 4, 4)
            nn.LeakyReLU(0.2),
            nn.Conv2d(ch, 2 * ch, kernel_size=4, stride=2, padding=1),  # -> (B, 2C, 2, 2)
            nn.LeakyReLU(0.2),
            nn.Flatten(),  # -> (B, 2C * 4)
        )
        self.head = nn.Linear(2 * ch * 4, 1)
        self.embed = nn.Embedding(c.num_classes, 2 * ch * 4) if c.num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, 1, 8, 8), y: (B,) labels if conditional -> logits (B,)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(f"ConvDiscriminator expects images of shape (batch, 1, 8, 8) (got {tuple(x.shape)})")
        check_labels(y, x.shape[0], self.config.num_classes, "discriminator")
        h = self.features(x)  # (B, F)
        logits = self.head(h).squeeze(1)  # (B,)
        if self.embed is not None:
            # projection: logit += <embed(y), h>, D's score for "real, and of class y"
            logits = logits + (self.embed(y) * h).sum(dim=1)
        return logits
