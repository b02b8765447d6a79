"""The GAN family: its two networks (``networks``: MLP and convolutional generators and
discriminators, conditional or not) and how they train (``training``: the D and G losses and
steps, ``train_gan``, snapshots, GAN checkpoints).

Lessons 02-07 build these pieces step by step; this package is the tested reference version.
``from genai_course import gan`` gives every name below.
"""

from .networks import (
    ConvDiscriminator, ConvDiscriminatorConfig, ConvGenerator, ConvGeneratorConfig, Discriminator,
    DiscriminatorConfig, Generator, GeneratorConfig, mlp,
)
from .training import (
    Callback, History, Snapshots, TrainConfig, d_loss, d_step, g_loss, g_step,
    make_optimizers, save_checkpoint, train_gan,
)

__all__ = [
    "GeneratorConfig", "DiscriminatorConfig", "Generator", "Discriminator", "mlp",
    "ConvGeneratorConfig", "ConvDiscriminatorConfig", "ConvGenerator", "ConvDiscriminator",
    "TrainConfig", "History", "Callback", "d_loss", "g_loss", "d_step", "g_step", "make_optimizers",
    "Snapshots", "train_gan", "save_checkpoint",
]
