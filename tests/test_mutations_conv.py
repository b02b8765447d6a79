"""The mutation table of lesson 06 (genai_course.checks.conv): each solution, mutated the ways learners
go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_STAMP = "stamp = dilation * (kernel - 1) + 1"
_SIZE = "return (size - 1) * stride + stamp - 2 * padding + output_padding"
_G_UP = """        nn.Upsample(scale_factor=2),  # -> (B, 64, 4, 4): every pixel repeated into a 2x2 block
        nn.Conv2d(64, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),  # -> (B, 32, 4, 4): padding 1 keeps 4x4
        nn.Upsample(scale_factor=2),  # -> (B, 32, 8, 8)
        nn.Conv2d(32, 1, kernel_size=3, padding=1),  # -> (B, 1, 8, 8)
"""
_G_START = """        nn.Unflatten(1, (64, 2, 2)),  # (B, 256) -> (B, 64, 2, 2)
        nn.Upsample(scale_factor=2),  # -> (B, 64, 4, 4): every pixel repeated into a 2x2 block
        nn.Conv2d(64, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),  # -> (B, 32, 4, 4): padding 1 keeps 4x4
"""
_D_LAST = "        nn.Conv2d(64, 1, kernel_size=2),  # -> (B, 1, 1, 1): a 2x2 kernel fits a 2x2 map once\n"

ROWS = [
    # 6.1 the size: dilation ignored or counted once too often, output padding forgotten or on both sides, padding cropped
    # once, stamps counted from size, the lesson's formula unchanged, a float
    Mutant("transposed_conv_size", "transposed_conv_size", _STAMP, "stamp = kernel", ["when dilation grows from 1 to 2", "how many pixels does one stamp span?"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _STAMP, "stamp = dilation * kernel", ["when dilation grows from 1 to 2", "stays the same, yours grows by 1"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _SIZE, "return (size - 1) * stride + stamp - 2 * padding",
           ["when output_padding grows from 0 to 1", "yours stays the same", "on one side only"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _SIZE, "return (size - 1) * stride + stamp - 2 * padding + 2 * output_padding",
           ["when output_padding grows from 0 to 1", "grows by 1, yours grows by 2"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _SIZE, "return (size - 1) * stride + stamp - padding + output_padding",
           ["when padding grows from 0 to 1", "shrinks by 2, yours shrinks by 1"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _SIZE, "return size * stride + stamp - 2 * padding + output_padding",
           ["when stride grows from 1 to 2", "the stamps sit stride pixels apart"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _SIZE, "return (size - 1) * stride - 2 * padding + kernel",
           ["when dilation grows from 1 to 2", "nn.ConvTranspose2d gives", "cases wrong"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _SIZE, "return (size - 1) * stride + stamp - 1 - 2 * padding + output_padding",
           ["yours is 1 less than PyTorch's in every case"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _SIZE, "return ((size - 1) * stride + stamp - 2 * padding + output_padding) / 1",
           ["a float", "return an int"]),
    # 6.2 the generator: the lesson's transposed convolutions, an MLP reshaped to an image, no reshape before upsampling,
    # convolutions that shrink, one jump by 4, a start at 4x4, tanh for sigmoid, a fixed latent size, mismatched channels
    Mutant("make_conv_generator", "make_conv_generator", _G_UP,
           "        nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.BatchNorm2d(32), nn.ReLU(),\n        nn.ConvTranspose2d(32, 1, 4, 2, 1),\n",
           ["uses a transposed convolution (nn.ConvTranspose2d)", "upsample them (nn.Upsample), then convolve (nn.Conv2d)"]),
    Mutant("make_conv_generator", "make_conv_generator", _G_UP, "        nn.Flatten(), nn.Linear(64 * 2 * 2, 64), nn.Unflatten(1, (1, 8, 8)),\n",
           ["your generator has no convolution (nn.Conv2d)", "not an MLP"]),
    Mutant("make_conv_generator", "make_conv_generator", "        nn.Unflatten(1, (64, 2, 2)),  # (B, 256) -> (B, 64, 2, 2)\n", "",
           ["raised NotImplementedError", "an nn.Upsample got a flat input of shape (16, 256)", "nn.Unflatten"]),
    Mutant("make_conv_generator", "make_conv_generator", "nn.Conv2d(32, 1, kernel_size=3, padding=1)", "nn.Conv2d(32, 1, kernel_size=3)",
           ["but gave shape (16, 1, 6, 6)", "an nn.Conv2d turned 8x8 feature maps into 6x6", "what padding does its kernel need?"]),
    Mutant("make_conv_generator", "make_conv_generator", _G_UP,
           "        nn.Upsample(scale_factor=4),\n        nn.Conv2d(64, 1, kernel_size=3, padding=1),\n",
           ["your convolutions run only on 8x8 feature maps", "one doubling at a time"]),
    Mutant("make_conv_generator", "make_conv_generator", _G_START,
           "        nn.Unflatten(1, (16, 4, 4)),\n        nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),\n",
           ["your smallest feature maps are 4x4", "a 2x2 grid (B, C1, 2, 2)"]),
    Mutant("make_conv_generator", "make_conv_generator", "nn.Sigmoid(),  # pixels in [0, 1]", "nn.Tanh(),", ["must lie in [0, 1]", "end with a sigmoid"]),
    Mutant("make_conv_generator", "make_conv_generator", "nn.Linear(latent_dim, 64 * 2 * 2)", "nn.Linear(32, 64 * 2 * 2)",
           ["make_conv_generator(8) on noise of shape (16, 8) raised", "use latent_dim for the first layer's input size"]),
    Mutant("make_conv_generator", "make_conv_generator", "nn.Conv2d(32, 1, kernel_size=3", "nn.Conv2d(64, 1, kernel_size=3",
           ["made for 64 input channels got 32", "in_channels"]),
    # 6.3 the discriminator: the lesson's linear head, a last kernel that leaves 2x2, no flattening, a final sigmoid, batch
    # norm, an MLP on the pixels
    Mutant("make_conv_discriminator", "make_conv_discriminator", _D_LAST, "        nn.Flatten(),\n        nn.Linear(64 * 2 * 2, 1),\n",
           ["uses a linear layer (nn.Linear)", "convolutions only"]),
    Mutant("make_conv_discriminator", "make_conv_discriminator", "nn.Conv2d(64, 1, kernel_size=2)", "nn.Conv2d(64, 1, kernel_size=1)",
           ["should have shape (64,), but has shape (256,)", "leave 2x2 maps", "the last one should make them 1x1"]),
    Mutant("make_conv_discriminator", "make_conv_discriminator", "        nn.Flatten(0),  # -> (B,)\n", "", ["the output has shape (64, 1, 1, 1)", "shape (64,)"]),
    Mutant("make_conv_discriminator", "make_conv_discriminator", "nn.Flatten(0),  # -> (B,)", "nn.Flatten(0), nn.Sigmoid(),",
           ["look like probabilities", "remove the final sigmoid"]),
    Mutant("make_conv_discriminator", "make_conv_discriminator", "nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2)",
           "nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2)", ["judge each image on its own", "no batch norm"]),
    Mutant("make_conv_discriminator", "make_conv_discriminator", "nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1)", "nn.Conv2d(32, 64, kernel_size=4, stride=1, padding=1)",
           ["your convolutions take the image 8x8 -> 4x4 -> 3x3 -> 2x2 and leave 2x2 maps"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
