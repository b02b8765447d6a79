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


def transposed_conv_size(size, kernel, stride, padding, dilation=1, output_padding=0):
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def size_from_pytorch(size, kernel, stride, padding, dilation=1, output_padding=0):
    """Another right answer: ask PyTorch (a tensor of one element counts as an int)."""
    layer = nn.ConvTranspose2d(1, 1, kernel, stride, padding, output_padding, dilation=dilation)
    return torch.tensor(layer(torch.zeros(1, 1, size, size)).shape[-1])


class UpG(nn.Module):
    """A generator that grows its feature maps by upsampling, then convolving; knobs bend it into typical mistakes."""

    def __init__(self, latent_dim, ch=16, start=2, doublings=2, kernel=3, pad=1, out_channels=1, last=None, in_dim=None,
                 batch=None, detach=False, unused=False, dcgan_input=False, jump=False):
        super().__init__()
        self.ch, self.start, self.batch, self.detach, self.dcgan_input = ch, start, batch, detach, dcgan_input
        self.project = nn.Sequential(nn.Linear(in_dim or latent_dim, 2 * ch * start * start), nn.BatchNorm1d(2 * ch * start * start), nn.ReLU())
        layers: list[nn.Module] = []
        width = 2 * ch
        if jump:  # one upsampling by 4, one convolution at 8x8
            layers += [nn.Upsample(scale_factor=4), nn.Conv2d(width, out_channels, kernel, padding=pad)]
        else:
            for _ in range(doublings - 1):
                layers += [nn.Upsample(scale_factor=2), nn.Conv2d(width, ch, kernel, padding=pad), nn.BatchNorm2d(ch), nn.ReLU()]
                width = ch
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(width, out_channels, kernel, padding=pad)]
        self.up = nn.Sequential(*layers, nn.Sigmoid() if last is None else last)
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
        return self.up(h.view(self.batch or -1, 2 * self.ch, self.start, self.start))


def make_conv_generator(latent_dim):
    return UpG(latent_dim)


class AllConvD(nn.Module):
    """A discriminator of convolutions only, 8x8 -> 4x4 -> 2x2 -> 1x1; knobs bend it into typical mistakes."""

    def __init__(self, ch=16, last=None, batch_norm=False, flatten=True, last_kernel=2, unused=False):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, ch, 4, 2, 1), *([nn.BatchNorm2d(ch)] if batch_norm else []), nn.LeakyReLU(0.2),
            nn.Conv2d(ch, 2 * ch, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * ch, 1, last_kernel),
        )
        self.last, self.flatten = last, flatten
        if unused:
            self.extra = nn.Linear(4, 4)

    def forward(self, x):
        out = self.features(x)
        out = out.flatten(0) if self.flatten else out
        return self.last(out) if self.last else out


def make_conv_discriminator():
    return AllConvD()


CORRECT = {
    "transposed_conv_size": [transposed_conv_size, size_from_pytorch],
    "make_conv_generator": make_conv_generator,
    "make_conv_discriminator": make_conv_discriminator,
}


# --------------------------------------------------------------------------- typical mistakes


def lesson_formula(size, kernel, stride, padding, dilation=1, output_padding=0):
    return (size - 1) * stride - 2 * padding + kernel  # the lesson's, with neither new setting


class Flat(nn.Module):
    def __init__(self, latent_dim):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, 64), nn.Sigmoid())

    def forward(self, z):
        return self.net(z)


def mlp_generator(latent_dim):
    """Linear layers only, reshaped to an image: every shape and range right, but no convolution."""
    return nn.Sequential(nn.Linear(latent_dim, 128), nn.ReLU(), nn.Linear(128, 64), nn.Sigmoid(), nn.Unflatten(1, (1, 8, 8)))


def lesson_generator(latent_dim):
    """The lesson's generator, transposed convolutions and all: right shapes, not this exercise's."""
    from genai_course import gan

    return gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=latent_dim))


def generator_without_reshape(latent_dim):
    return nn.Sequential(nn.Linear(latent_dim, 256), nn.ReLU(), nn.Upsample(scale_factor=2), nn.Conv2d(64, 1, 3, padding=1), nn.Sigmoid())


def lesson_discriminator():
    from genai_course import gan

    return gan.ConvDiscriminator()


def _d(*layers):
    return lambda: nn.Sequential(*layers)


_SIZE = "transposed_conv_size"
MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    (_SIZE, lesson_formula, ["for size=1, kernel=1, stride=1, padding=0, dilation=2, output_padding=1, nn.ConvTranspose2d gives 2, your function returned 1",
                             "(323 of 465 cases wrong)", "when dilation grows from 1 to 2", "grows by 1, yours stays the same", "how many pixels does one stamp span?"]),
    (_SIZE, lambda n, k, s, p, d, op: (n - 1) * s - 2 * p + d * k + op, ["when dilation grows from 1 to 2", "stays the same, yours grows by 1"]),
    (_SIZE, lambda n, k, s, p, d, op: (n - 1) * s - 2 * p + d * (k - 1) + 1, ["when output_padding grows from 0 to 1", "grows by 1, yours stays the same",
                                                                            "adds rows on one side only"]),
    (_SIZE, lambda n, k, s, p, d, op: (n - 1) * s - 2 * p + d * (k - 1) + 2 * op + 1, ["when output_padding grows from 0 to 1", "grows by 1, yours grows by 2"]),
    (_SIZE, lambda n, k, s, p, d, op: (n - 1) * s - p + d * (k - 1) + op + 1, ["when padding grows from 0 to 1", "shrinks by 2, yours shrinks by 1",
                                                                             "cropped from every border"]),
    (_SIZE, lambda n, k, s, p, d, op: (n - 1) * s + d * (k - 1) + op + 1, ["when padding grows from 0 to 1", "shrinks by 2, yours stays the same"]),
    (_SIZE, lambda n, k, s, p, d, op: n * s - 2 * p + d * (k - 1) + op + 1, ["when stride grows from 1 to 2 (size=1,", "stays the same, yours grows by 1",
                                                                           "the stamps sit stride pixels apart"]),
    (_SIZE, lambda n, k, s, p, d, op: (n + 2 * p - d * (k - 1) - 1) // s + 1, ["when kernel grows from 1 to 2", "yours shrinks", "an ordinary convolution"]),
    (_SIZE, lambda n, k, s, p, d, op: (n - 1) * s - 2 * p + d * (k - 1) + op, ["nn.ConvTranspose2d gives 1, your function returned 0",
                                                                             "yours is 1 less than PyTorch's in every case", "where does the last stamp end?"]),
    (_SIZE, lambda n, k, s, p: (n - 1) * s - 2 * p + k, ["raised TypeError", "it takes six arguments"]),
    (_SIZE, lambda *a: float(transposed_conv_size(*a)), ["a float", "return an int"]),
    (_SIZE, lambda *a: str(transposed_conv_size(*a)), ["should return an int, got str"]),
    # 6.2: the exercise's own mistakes
    ("make_conv_generator", lesson_generator, ["uses a transposed convolution (nn.ConvTranspose2d)", "upsample them (nn.Upsample), then convolve"]),
    ("make_conv_generator", mlp_generator, ["your generator has no convolution (nn.Conv2d)", "not an MLP (only nn.Linear layers)"]),
    ("make_conv_generator", lambda d: UpG(d, pad=0), ["should give images of shape (16, 1, 8, 8), but gave shape (16, 1, 2, 2)",
                                                       "an nn.Conv2d turned 4x4 feature maps into 2x2", "what padding does its kernel need?"]),
    ("make_conv_generator", lambda d: nn.Sequential(nn.Linear(d, 16 * 5 * 5), nn.Unflatten(1, (16, 5, 5)), nn.Conv2d(16, 8, 2), nn.Upsample(scale_factor=2),
                                                    nn.Conv2d(8, 1, 3, padding=1), nn.Sigmoid()),
     ["gives images of the right shape, but an nn.Conv2d turned 5x5 feature maps into 4x4"]),
    ("make_conv_generator", lambda d: UpG(d, jump=True), ["your convolutions run only on 8x8 feature maps", "one doubling at a time"]),
    ("make_conv_generator", lambda d: UpG(d, doublings=3), ["but gave shape (16, 1, 16, 16)", "double its height and width twice: 2x2 -> 4x4 -> 8x8"]),
    ("make_conv_generator", lambda d: nn.Sequential(nn.Linear(d, 16 * 4 * 4), nn.Unflatten(1, (16, 4, 4)), nn.Conv2d(16, 8, 3, padding=1), nn.ReLU(),
                                                    nn.Upsample(scale_factor=2), nn.Conv2d(8, 1, 3, padding=1), nn.Sigmoid()),  # starts at 4x4
     ["your smallest feature maps are 4x4", "reshaped into a 2x2 grid (B, C1, 2, 2)"]),
    ("make_conv_generator", generator_without_reshape, ["raised NotImplementedError", "an nn.Upsample got a flat input of shape (16, 256)", "nn.Unflatten"]),
    # 6.2: mistakes any generator can make
    ("make_conv_generator", lambda d: UpG(d, out_channels=3), ["gave shape (16, 3, 8, 8)", "1 channel"]),
    ("make_conv_generator", lambda d: UpG(d, last=nn.Identity()), ["pixel values range from", "must lie in [0, 1]", "end with a sigmoid"]),
    ("make_conv_generator", lambda d: UpG(d, last=nn.Tanh()), ["end with a sigmoid"]),
    ("make_conv_generator", lambda d: UpG(d, in_dim=32), ["make_conv_generator(8) on noise of shape (16, 8) raised RuntimeError", "use latent_dim for the first layer's input size"]),
    ("make_conv_generator", lambda d: UpG(d, batch=16), ["on noise of shape (3, 32) raised RuntimeError", "don't fix the batch size"]),
    ("make_conv_generator", lambda d: UpG(d, dcgan_input=True), ["raised ValueError", "works on noise of shape (16, 32, 1, 1)", "reshape inside forward"]),
    ("make_conv_generator", lambda d: UpG(d, detach=True), ["no gradient reaches project.0.weight, project.0.bias, project.1.weight", "without .detach()"]),
    ("make_conv_generator", lambda d: UpG(d, unused=True), ["no gradient reaches extra.weight, extra.bias"]),
    ("make_conv_generator", Flat, ["gave shape (16, 64)", "reshape the output into images of shape (batch, 1, 8, 8)"]),
    ("make_conv_generator", lambda d: "a generator", ["should return a torch.nn.Module, got str"]),
    # 6.3: the exercise's own mistakes
    ("make_conv_discriminator", lesson_discriminator, ["uses a linear layer (nn.Linear)", "convolutions only", "2x2 feature maps into one number"]),
    ("make_conv_discriminator", lambda: AllConvD(last_kernel=1), ["should have shape (64,), but has shape (256,)", "take the image 8x8 -> 4x4 -> 2x2 and leave 2x2 maps",
                                                                  "the last one should make them 1x1"]),
    ("make_conv_discriminator", _d(nn.Conv2d(1, 1, 8), nn.Flatten(0)), ["your convolutions take the image 8x8 -> 1x1", "asks for 8x8 -> 4x4 -> 2x2 -> 1x1"]),
    ("make_conv_discriminator", _d(nn.Conv2d(1, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 4), nn.Flatten(0)),
     ["take the image 8x8 -> 4x4 -> 1x1", "halve it twice"]),
    ("make_conv_discriminator", lambda: AllConvD(flatten=False), ["the output has shape (64, 1, 1, 1)", "shape (64,)"]),
    ("make_conv_discriminator", _d(nn.Flatten(), nn.Linear(64, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Flatten(0)),
     ["your discriminator uses no convolution (nn.Conv2d)", "not an MLP on the flattened pixels"]),
    # 6.3: mistakes any discriminator can make
    ("make_conv_discriminator", lambda: AllConvD(last=torch.sigmoid), ["probabilities", "remove the final sigmoid"]),
    ("make_conv_discriminator", lambda: AllConvD(batch_norm=True), ["changed when only the other images of the batch changed", "no batch norm"]),
    ("make_conv_discriminator", lambda: AllConvD(unused=True), ["no gradient reaches extra.weight"]),
    ("make_conv_discriminator", _d(nn.Conv2d(1, 8, 4, 2, 1), nn.Conv2d(16, 8, 4, 2, 1), nn.Conv2d(8, 1, 2), nn.Flatten(0)),
     ["raised RuntimeError", "an nn.Conv2d made for 16 input channels got 8"]),
    ("make_conv_discriminator", lambda: "a discriminator", ["should return a torch.nn.Module, got str"]),
]


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(conv_checks, {
        "transposed_conv_size": "Exercise 6.1 (the transposed convolution's output size)",
        "make_conv_generator": "Exercise 6.2 (a generator without transposed convolutions)",
        "make_conv_discriminator": "Exercise 6.3 (a discriminator made of convolutions only)",
    })
    assert list(CORRECT) == conv_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


@pytest.mark.parametrize("make", [
    lambda d: UpG(d, start=1, doublings=3),  # 1 -> 2 -> 4 -> 8, a convolution after each doubling
    lambda d: UpG(d, kernel=5, pad=2),  # a larger kernel with the padding that keeps the size
    lambda d: nn.Sequential(nn.Linear(d, 128), nn.ReLU(), nn.Unflatten(1, (32, 2, 2)), nn.Upsample(scale_factor=2, mode="bilinear"),
                            nn.Conv2d(32, 16, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                            nn.Upsample(scale_factor=2), nn.Conv2d(16, 1, 3, padding=1), nn.Sigmoid()),  # two convolutions at 4x4
], ids=["from-1x1", "kernel-5", "bilinear-two-convs"])
def test_other_right_generators_pass(make, capsys):
    checks.make_conv_generator(make)
    assert capsys.readouterr().out.startswith("✅ ")


def test_a_discriminator_that_pools_instead_of_striding_passes(capsys):
    """Size-keeping convolutions and average pooling take the same path, 8x8 -> 4x4 -> 2x2 -> 1x1."""
    checks.make_conv_discriminator(lambda: nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.LeakyReLU(0.2),
        nn.AvgPool2d(2), nn.Conv2d(16, 1, 2), nn.Flatten(0)))
    assert capsys.readouterr().out.startswith("✅ ")


def test_networks_that_use_torch_functions_are_followed_too(capsys):
    """F.interpolate, F.conv2d and F.conv_transpose2d on the learner's own parameters count as what they are."""

    class FunctionalG(nn.Module):
        def __init__(self, latent_dim, transposed=False):
            super().__init__()
            self.transposed = transposed
            self.project = nn.Linear(latent_dim, 16 * 2 * 2)
            if transposed:
                self.kt = nn.Parameter(0.1 * torch.randn(16, 1, 4, 4))
            else:
                self.k1, self.k2 = nn.Parameter(0.1 * torch.randn(8, 16, 3, 3)), nn.Parameter(0.1 * torch.randn(1, 8, 3, 3))

        def forward(self, z):
            h = self.project(z).view(-1, 16, 2, 2)
            if self.transposed:
                return torch.sigmoid(F.conv_transpose2d(F.interpolate(h, scale_factor=2), self.kt, stride=2, padding=1))
            h = F.relu(F.conv2d(F.interpolate(h, scale_factor=2), self.k1, padding=1))
            return torch.sigmoid(F.conv2d(F.interpolate(h, scale_factor=2), self.k2, padding=1))

    class FunctionalD(nn.Module):
        def __init__(self):
            super().__init__()
            self.k1, self.k2, self.k3 = (nn.Parameter(torch.randn(8, 1, 4, 4)), nn.Parameter(0.1 * torch.randn(8, 8, 4, 4)),
                                         nn.Parameter(0.1 * torch.randn(1, 8, 2, 2)))

        def forward(self, x):
            h = F.leaky_relu(F.conv2d(x, self.k1, stride=2, padding=1), 0.2)
            h = F.leaky_relu(F.conv2d(h, self.k2, stride=2, padding=1), 0.2)
            return F.conv2d(h, self.k3).flatten(0)

    checks.make_conv_generator(FunctionalG)
    checks.make_conv_discriminator(FunctionalD)
    assert capsys.readouterr().out.count("✅ ") == 2
    assert_named_mistake("make_conv_generator", lambda d: FunctionalG(d, transposed=True), ["uses a transposed convolution"], capsys)


@pytest.mark.parametrize("seed", range(5))
def test_discriminator_without_sigmoid_is_not_taken_for_probabilities(seed, capsys):
    torch.manual_seed(seed)
    checks.make_conv_discriminator(lambda: AllConvD(ch=8 + seed))  # the check seeds itself; vary the width
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


def test_the_size_messages_never_give_the_formula(capsys):
    """Each message says which setting moves the size the wrong way and by how much, not the answer line."""
    for name, fn, _ in MISTAKES:
        if name != _SIZE:
            continue
        with pytest.raises(checks.CheckFailed) as info:
            checks.transposed_conv_size(fn)
        message = str(info.value)
        assert "(size - 1)" not in message and "* stride" not in message and "2 * padding" not in message, message


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
