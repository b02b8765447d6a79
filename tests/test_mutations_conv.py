"""The mutation table of lesson 06 (genai_course.checks.conv): each solution, mutated the ways learners
go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_FORMULA = "return (size - 1) * stride - 2 * padding + kernel"
_G_CONVS = """        nn.Unflatten(1, (64, 2, 2)),  # (B, 256) -> (B, 64, 2, 2)
        nn.ConvTranspose2d(64, 32, kernel_size=4, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),  # -> (B, 32, 4, 4)
        nn.ConvTranspose2d(32, 1, kernel_size=4, stride=2, padding=1),  # -> (B, 1, 8, 8)
"""
_D_CONVS = """        nn.Conv2d(1, 32, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2),  # -> (B, 32, 4, 4)
        nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2),  # -> (B, 64, 2, 2)
        nn.Flatten(),  # -> (B, 256)
"""

ROWS = [
    # 6.1 the size formula: padding cropped once or not at all, stamps counted from size, the ordinary convolution's
    # formula, a float
    Mutant("transposed_conv_size", "transposed_conv_size", _FORMULA, "return (size - 1) * stride + kernel", ["subtract 2 * padding"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _FORMULA, "return (size - 1) * stride - padding + kernel", ["not padding"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _FORMULA, "return size * stride - 2 * padding + kernel",
           ["(size - 1) * stride, not size * stride"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _FORMULA, "return (size + 2 * padding - kernel) // stride + 1",
           ["an ordinary convolution's size"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _FORMULA, "return ((size - 1) * stride - 2 * padding + kernel) / 1", ["a float", "return an int"]),
    Mutant("transposed_conv_size", "transposed_conv_size", _FORMULA, "return 2 * size", ["nn.ConvTranspose2d gives", "cases wrong"]),
    # 6.2 the generator: an MLP reshaped to an image, no reshape to feature maps, mismatched channels, a kernel of 3,
    # tanh for sigmoid, a fixed latent size
    Mutant("make_conv_generator", "make_conv_generator", _G_CONVS, "        nn.Linear(64 * 2 * 2, 64), nn.Unflatten(1, (1, 8, 8)),\n",
           ["uses no transposed convolution (nn.ConvTranspose2d)", "convolutional generator, not an MLP"]),
    Mutant("make_conv_generator", "make_conv_generator", "        nn.Unflatten(1, (64, 2, 2)),  # (B, 256) -> (B, 64, 2, 2)\n", "",
           ["raised RuntimeError", "got a flat input of shape (16, 256)", "nn.Unflatten"]),
    Mutant("make_conv_generator", "make_conv_generator", "nn.ConvTranspose2d(32, 1,", "nn.ConvTranspose2d(64, 1,",
           ["made for 64 input channels got 32", "in_channels"]),
    Mutant("make_conv_generator", "make_conv_generator", "nn.ConvTranspose2d(32, 1, kernel_size=4", "nn.ConvTranspose2d(32, 1, kernel_size=3",
           ["but gave shape (16, 1, 7, 7)", "doubles height and width"]),
    Mutant("make_conv_generator", "make_conv_generator", "nn.Sigmoid(),  # pixels in [0, 1]", "nn.Tanh(),", ["must lie in [0, 1]", "end with a sigmoid"]),
    Mutant("make_conv_generator", "make_conv_generator", "nn.Linear(latent_dim, 64 * 2 * 2)", "nn.Linear(32, 64 * 2 * 2)",
           ["make_conv_generator(8) on noise of shape (16, 8) raised", "use latent_dim for the first layer's input size"]),
    # 6.3 the discriminator: an MLP on the pixels, a final sigmoid, (B, 1) logits, batch norm, a miscounted linear layer
    Mutant("make_conv_discriminator", "make_conv_discriminator", _D_CONVS, "        nn.Flatten(),  # -> (B, 64)\n        nn.Linear(64, 64 * 2 * 2), nn.LeakyReLU(0.2),\n",
           ["uses no convolution (nn.Conv2d)", "convolutional discriminator, not an MLP"]),
    Mutant("make_conv_discriminator", "make_conv_discriminator", "nn.Flatten(0),  # -> (B,)", "nn.Flatten(0), nn.Sigmoid(),",
           ["look like probabilities", "remove the final sigmoid"]),
    Mutant("make_conv_discriminator", "make_conv_discriminator", "        nn.Flatten(0),  # -> (B,)\n", "", ["the output has shape (64, 1)", "(use .squeeze(1))"]),
    Mutant("make_conv_discriminator", "make_conv_discriminator", "nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2)",
           "nn.Conv2d(32, 64, kernel_size=4, stride=2, padding=1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2)", ["judge each image on its own", "no batch norm"]),
    Mutant("make_conv_discriminator", "make_conv_discriminator", "nn.Linear(64 * 2 * 2, 1)", "nn.Linear(64, 1)",
           ["raised RuntimeError", "nn.Linear made for 64 input features got input of shape (64, 256)", "channels x height x width"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
