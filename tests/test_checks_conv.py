"""genai_course.checks.conv (lesson 06): correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks
from genai_course.checks import conv as conv_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def transposed_conv_size(size, kernel, stride, padding):
    return (size - 1) * stride - 2 * padding + kernel


class ConvG(nn.Module):
    """The lesson's generator, with knobs that bend it into typical mistakes."""

    def __init__(self, latent_dim, ch=16, start=2, ups=2, out_channels=1, last=None, in_dim=None, batch=None, detach=False, unused=False, dcgan_input=False):
        super().__init__()
        self.ch, self.start, self.batch, self.detach, self.dcgan_input = ch, start, batch, detach, dcgan_input
        self.project = nn.Sequential(nn.Linear(in_dim or latent_dim, 2 * ch * start * start), nn.BatchNorm1d(2 * ch * start * start), nn.ReLU())
        layers: list[nn.Module] = []
        width = 2 * ch
        for i in range(ups - 1):
            layers += [nn.ConvTranspose2d(width, ch, 4, 2, 1), nn.BatchNorm2d(ch), nn.ReLU()]
            width = ch
        layers += [nn.ConvTranspose2d(width, out_channels, 4, 2, 1), nn.Sigmoid() if last is None else last]
        self.up = nn.Sequential(*layers)
        if unused:
            self.extra = nn.Linear(4, 4)

    def forward(self, z):
        if self.dcgan_input:
            if z.dim() != 4:
                raise ValueError("expected noise of shape (B, latent_dim, 1, 1)")
            z = z.flatten(1)
        h = self.project(z)
        if self.detach:
            h = h.detach()
        h = h.view(self.batch or -1, 2 * self.ch, self.start, self.start)
        return self.up(h)


def make_conv_generator(latent_dim):
    return ConvG(latent_dim)


class ConvD(nn.Module):
    def __init__(self, ch=16, last=None, batch_norm=False, squeeze=True, unused=False):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, ch, 4, 2, 1), *([nn.BatchNorm2d(ch)] if batch_norm else []), nn.LeakyReLU(0.2),
            nn.Conv2d(ch, 2 * ch, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(),
        )
        self.head = nn.Linear(2 * ch * 4, 1)
        self.last, self.squeeze = last, squeeze
        if unused:
            self.extra = nn.Linear(4, 4)

    def forward(self, x):
        out = self.head(self.features(x))
        out = out.squeeze(1) if self.squeeze else out
        return self.last(out) if self.last else out


def make_conv_discriminator():
    return ConvD()


CORRECT = {
    "transposed_conv_size": transposed_conv_size,
    "make_conv_generator": make_conv_generator,
    "make_conv_discriminator": make_conv_discriminator,
}


# --------------------------------------------------------------------------- typical mistakes


class Flat(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 64), nn.Sigmoid())

    def forward(self, z):
        return self.net(z)


MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    ("transposed_conv_size", lambda n, k, s, p: (n - 1) * s + k, ["for size=1, kernel=3, stride=1, padding=1, nn.ConvTranspose2d gives 1, your function returned 3", "subtract 2 * padding"]),
    ("transposed_conv_size", lambda n, k, s, p: (n - 1) * s - p + k, ["not padding"]),
    ("transposed_conv_size", lambda n, k, s, p: n * s - 2 * p + k, ["for size=1, kernel=1, stride=1, padding=0", "(size - 1) * stride, not size * stride"]),
    ("transposed_conv_size", lambda n, k, s, p: (n + 2 * p - k) // s + 1, ["an ordinary convolution's size"]),
    ("transposed_conv_size", lambda n, k, s, p: n * s, ["nn.ConvTranspose2d gives", "out = (size - 1) * stride - 2 * padding + kernel"]),
    ("transposed_conv_size", lambda n, k, s, p: float((n - 1) * s - 2 * p + k), ["a float", "return an int"]),
    ("transposed_conv_size", lambda n, k, s, p: str((n - 1) * s - 2 * p + k), ["should return an int, got str"]),
    ("make_conv_generator", lambda d: ConvG(d, start=2, ups=3), ["should give images of shape (16, 1, 8, 8), but gave shape (16, 1, 16, 16)", "doubles height and width"]),
    ("make_conv_generator", lambda d: ConvG(d, out_channels=3), ["gave shape (16, 3, 8, 8)", "1 channel"]),
    ("make_conv_generator", lambda d: ConvG(d, last=nn.Identity()), ["pixel values range from", "must lie in [0, 1]", "end with a sigmoid"]),
    ("make_conv_generator", lambda d: ConvG(d, last=nn.Tanh()), ["end with a sigmoid"]),
    ("make_conv_generator", lambda d: ConvG(d, in_dim=32), ["make_conv_generator(8) on noise of shape (16, 8) raised RuntimeError", "use latent_dim for the first layer's input size"]),
    ("make_conv_generator", lambda d: ConvG(d, batch=16), ["on noise of shape (3, 32) raised RuntimeError", "don't fix the batch size"]),
    ("make_conv_generator", lambda d: ConvG(d, dcgan_input=True), ["raised ValueError", "works on noise of shape (16, 32, 1, 1)", "reshape inside forward"]),
    ("make_conv_generator", lambda d: ConvG(d, detach=True), ["no gradient reaches project.0.weight, project.0.bias, project.1.weight", "without .detach()"]),
    ("make_conv_generator", lambda d: ConvG(d, unused=True), ["no gradient reaches extra.weight, extra.bias"]),
    ("make_conv_generator", Flat, ["gave shape (16, 64)", "reshape the output into images of shape (batch, 1, 8, 8)"]),
    ("make_conv_generator", lambda d: "a generator", ["should return a torch.nn.Module, got str"]),
    ("make_conv_discriminator", lambda: ConvD(last=torch.sigmoid), ["probabilities", "remove the final sigmoid"]),
    ("make_conv_discriminator", lambda: ConvD(squeeze=False), ["the output has shape (64, 1)", "shape (64,)"]),
    ("make_conv_discriminator", lambda: ConvD(batch_norm=True), ["changed when only the other images of the batch changed", "no batch norm"]),
    ("make_conv_discriminator", lambda: ConvD(unused=True), ["no gradient reaches extra.weight"]),
    ("make_conv_discriminator", lambda: nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 1)), ["your discriminator on images of shape (64, 1, 8, 8) raised RuntimeError"]),
]


class Generator7(ConvG):
    """A generator whose layers give 7x7 images (a kernel of 3 instead of 4 at the end)."""

    def __init__(self, latent_dim):
        super().__init__(latent_dim)
        self.up[-2] = nn.ConvTranspose2d(16, 1, 3, 2, 1)  # 4x4 -> 7x7


MISTAKES.append(("make_conv_generator", Generator7, ["but gave shape (16, 1, 7, 7)", "out = (in - 1) * stride - 2 * padding + kernel"]))


def mlp_generator(latent_dim):
    """Linear layers only, reshaped to an image: every shape and range right, but no convolution."""
    return nn.Sequential(nn.Linear(latent_dim, 128), nn.ReLU(), nn.Linear(128, 64), nn.Sigmoid(), nn.Unflatten(1, (1, 8, 8)))


def generator_without_reshape(latent_dim):
    return nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Sigmoid())


MISTAKES += [
    # an MLP where a convolutional network is asked (the layers that ran are recorded)
    ("make_conv_generator", mlp_generator, ["your generator uses no transposed convolution (nn.ConvTranspose2d)", "convolutional generator, not an MLP"]),
    ("make_conv_discriminator", lambda: nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Flatten(0)),
     ["your discriminator uses no convolution (nn.Conv2d)", "convolutional discriminator, not an MLP"]),
    # what the layer that raised got instead
    ("make_conv_generator", generator_without_reshape, ["raised RuntimeError", "an nn.ConvTranspose2d got a flat input of shape (16, 256)"]),
    ("make_conv_discriminator", lambda: nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.Conv2d(16, 8, 4, 2, 1), nn.Flatten(), nn.Linear(32, 1), nn.Flatten(0)),
     ["raised RuntimeError", "an nn.Conv2d made for 16 input channels got 8"]),
    ("make_conv_discriminator", lambda: nn.Sequential(nn.Conv2d(1, 32, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(256, 1), nn.Flatten(0)),
     ["raised RuntimeError", "an nn.Linear made for 256 input features got input of shape (64, 512)", "channels x height x width"]),
]


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(conv_checks, {
        "transposed_conv_size": "Exercise 6.1 (the transposed convolution's output size)",
        "make_conv_generator": "Exercise 6.2 (a convolutional generator)",
        "make_conv_discriminator": "Exercise 6.3 (a convolutional discriminator)",
    })
    assert list(CORRECT) == conv_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_generator_starting_from_1x1_passes_too(capsys):
    checks.make_conv_generator(lambda d: ConvG(d, start=1, ups=3))  # 1 -> 2 -> 4 -> 8: another right design
    assert capsys.readouterr().out.startswith("✅ ")


def test_a_generator_that_upsamples_and_convolves_passes_too(capsys):
    """Convolutional without transposed convolutions (nn.Upsample, then nn.Conv2d): still not an MLP."""
    checks.make_conv_generator(lambda d: nn.Sequential(
        nn.Linear(d, 256), nn.ReLU(), nn.Unflatten(1, (64, 2, 2)), nn.Upsample(scale_factor=4), nn.Conv2d(64, 1, 3, padding=1), nn.Sigmoid()))
    assert capsys.readouterr().out.startswith("✅ ")


def test_networks_that_convolve_with_torch_functions_pass_too(capsys):
    """F.conv_transpose2d and F.conv2d on parameters of the learner's own count as convolutions."""

    class FunctionalG(nn.Module):
        def __init__(self, latent_dim):
            super().__init__()
            self.project, self.kernel = nn.Linear(latent_dim, 64 * 4 * 4), nn.Parameter(0.1 * torch.randn(64, 1, 4, 4))

        def forward(self, z):
            return torch.sigmoid(F.conv_transpose2d(self.project(z).view(-1, 64, 4, 4), self.kernel, stride=2, padding=1))

    class FunctionalD(nn.Module):
        def __init__(self):
            super().__init__()
            self.kernel, self.head = nn.Parameter(torch.randn(8, 1, 4, 4)), nn.Linear(8 * 4 * 4, 1)

        def forward(self, x):
            return self.head(F.leaky_relu(F.conv2d(x, self.kernel, stride=2, padding=1), 0.2).flatten(1)).squeeze(1)

    checks.make_conv_generator(FunctionalG)
    checks.make_conv_discriminator(FunctionalD)
    assert capsys.readouterr().out.count("✅ ") == 2


def test_the_library_networks_pass(capsys):
    from genai_course import gan

    checks.make_conv_generator(lambda d: gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=d)))
    checks.make_conv_discriminator(gan.ConvDiscriminator)
    assert capsys.readouterr().out.count("✅ ") == 2


@pytest.mark.parametrize("seed", range(5))
def test_discriminator_without_sigmoid_is_not_taken_for_probabilities(seed, capsys):
    torch.manual_seed(seed)
    checks.make_conv_discriminator(lambda: ConvD(ch=8 + seed))  # the check seeds itself; vary the width
    assert capsys.readouterr().out.startswith("✅ ")


def test_module_without_forward_is_not_attempted(capsys):
    class Empty(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2)

    checks.make_conv_generator(lambda d: Empty())
    checks.make_conv_discriminator(Empty)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and all(line.startswith("⏳ ") for line in out)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
