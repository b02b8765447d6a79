"""genai_course.checks.gan (lessons 02-03: the MLP generator and discriminator): correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks
from genai_course.checks import gan as gan_checks

from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


class Net(nn.Module):
    """A small MLP whose forward can be bent into a typical mistake with `post` or `pre`."""

    def __init__(self, d_in, hidden, d_out, post=None, pre=None, squeeze=False, unused_layer=False):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, d_out))
        if unused_layer:
            self.extra = nn.Linear(hidden, hidden)
        self.post, self.pre, self.squeeze = post, pre, squeeze

    def forward(self, x):
        out = self.net(self.pre(x) if self.pre else x)
        out = out.squeeze(1) if self.squeeze else out
        return self.post(out) if self.post else out


def make_generator(latent_dim, hidden, data_dim, layers, activation=nn.ReLU, hidden_layers=None, last=None, shared=False, bias=True):
    """``layers`` hidden layers; bent into a typical mistake by the keywords (``hidden_layers``: how many are built)."""
    blocks, width = [], latent_dim
    repeated = nn.Linear(hidden, hidden, bias=bias)
    for i in range(layers if hidden_layers is None else hidden_layers):
        blocks += [repeated if shared and i > 0 else nn.Linear(width, hidden, bias=bias)] + ([activation()] if activation else [])
        width = hidden
    blocks.append(nn.Linear(width, data_dim, bias=bias))
    return nn.Sequential(*blocks, *([last] if last else []))


def generate(G, z0, z1, steps):
    with torch.no_grad():
        t = torch.linspace(0, 1, steps)[:, None]  # (steps, 1)
        return G((1 - t) * z0 + t * z1)


class GeneratorByHand(nn.Module):  # also right: a ModuleList and a forward of its own, with the functional ReLU
    def __init__(self, latent_dim, hidden, data_dim, layers):
        super().__init__()
        self.hidden = nn.ModuleList(nn.Linear(latent_dim if i == 0 else hidden, hidden) for i in range(layers))
        self.out = nn.Linear(hidden, data_dim)

    def forward(self, z):
        for layer in self.hidden:
            z = F.relu(layer(z))
        return self.out(z)


def library_generator(latent_dim, hidden, data_dim, layers):  # also right: the library's own
    from genai_course.gan import Generator, GeneratorConfig

    return Generator(GeneratorConfig(latent_dim=latent_dim, data_dim=data_dim, hidden=hidden, layers=layers))


def generate_point_by_point(G, z0, z1, steps):  # also right: one call of G per point, then stacked
    with torch.no_grad():
        return torch.cat([G(torch.lerp(z0, z1, k / (steps - 1))[None]) for k in range(steps)])


@pytest.mark.parametrize("name, fn", [
    ("make_generator", GeneratorByHand),
    ("make_generator", library_generator),
    ("generate", generate_point_by_point),
    ("generate", lambda G, z0, z1, s: G(torch.stack([z0 + k / (s - 1) * (z1 - z0) for k in range(s)])).detach()),
])
def test_another_generator_answer_passes(name, fn, capsys):
    getattr(checks, name)(fn)
    assert capsys.readouterr().out.startswith(f"✅ {checks.EXERCISES[name]}: passed")


def consecutive(pack):
    return lambda x: x.reshape(x.shape[0] // pack, -1)  # rows pack*i ... pack*i + pack - 1 side by side


def make_discriminator(data_dim, hidden, pack):
    return Net(pack * data_dim, hidden, 1, squeeze=True, pre=consecutive(pack))


def discriminator_accuracy(D, real, fake, p, threshold=None):
    t = math.log(p / (1 - p)) if threshold is None else threshold
    with torch.no_grad():
        r, f = D(real), D(fake)
    return ((r > t).sum() + (f <= t).sum()).item() / (r.numel() + f.numel())


def accuracy_in_probabilities(D, real, fake, p):
    with torch.no_grad():
        r, f = torch.sigmoid(D(real)), torch.sigmoid(D(fake))
    return ((r > p).sum() + (f <= p).sum()).item() / (r.numel() + f.numel())


def accuracy_per_class(D, real, fake, p):
    t = math.log(p / (1 - p))
    return ((D(real) > t).float().mean() + (D(fake) <= t).float().mean()).item() / 2


CORRECT = {
    "make_generator": make_generator,
    "generate": generate,
    "make_discriminator": make_discriminator,
    "discriminator_accuracy": discriminator_accuracy,
}


# --------------------------------------------------------------------------- typical mistakes


def raise_value_error(*args):
    raise ValueError("hidden must be even")


def generate_tracking_gradients(G, z0, z1, steps):
    t = torch.linspace(0, 1, steps)[:, None]
    return G((1 - t) * z0 + t * z1)


def generate_in_data_space(G, z0, z1, steps):  # mixes G's outputs instead of the noise vectors
    t = torch.linspace(0, 1, steps)[:, None]
    with torch.no_grad():
        return (1 - t) * G(z0[None]) + t * G(z1[None])


def generate_editing_z1(G, z0, z1, steps):
    direction = z1  # a second name for z1, not a copy
    direction -= z0
    with torch.no_grad():
        t = torch.linspace(0, 1, steps)[:, None]
        return G(z0 + t * direction)


MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    ("make_generator", lambda a, h, b, n: Net(a, h, b + 1), ["should have shape (16, 2), but has shape (16, 3)"]),
    ("make_generator", lambda a, h, b, n: Net(a, h, b, post=lambda y: y.double()), ["should have dtype torch.float32, but has dtype torch.float64"]),
    ("make_generator", lambda a, h, b, n: Net(a, h, b, post=torch.log), ["contains NaN or infinite values"]),
    ("make_generator", raise_value_error, ["make_generator(2, 32, 2, 3) raised ValueError: hidden must be even"]),
    ("make_generator", lambda a, h, b: Net(a, h, b), ["make_generator(2, 32, 2, 3) raised TypeError"]),
    ("make_generator", lambda a, h, b, n: Net(a, h, b, pre=torch.zeros_like), ["every noise vector gives the same output", "depend on z"]),
    ("make_generator", lambda a, h, b, n: Net(a, h, b, unused_layer=True), ["no gradient reaches extra.weight, extra.bias"]),
    ("make_generator", lambda a, h, b, n: nn.Linear(a + 1, b), ["your generator on noise of shape (16, 2) raised RuntimeError"]),
    ("make_generator", lambda a, h, b, n: "a generator", ["should be a torch.nn.Module, got str"]),
    ("make_generator", lambda a, h, b, n: make_generator(a, h, b, n, shared=True),
     ["make_generator(2, 32, 2, 3)", "one Linear layer runs 2 times", "weights are shared"]),
    ("make_generator", lambda a, h, b, n: make_generator(a, h, b, n, last=nn.ReLU()), ["no output coordinate is ever negative", "after the last layer"]),
    ("make_generator", lambda a, h, b, n: make_generator(a, h, b, n, last=nn.Sigmoid()), ["no output coordinate is ever negative"]),
    ("make_generator", lambda a, h, b, n: make_generator(a, h, b, n, hidden_layers=n + 1),
     ["make_generator(2, 32, 2, 3) has 3,330 parameters, 1,056 more than expected", "1 hidden layer of width 32 too many"]),
    ("make_generator", lambda a, h, b, n: make_generator(a, h, b, n, hidden_layers=n - 1),
     ["make_generator(2, 32, 2, 3) has 1,218 parameters, 1,056 fewer than expected", "1 hidden layer of width 32 too few"]),
    ("make_generator", lambda a, h, b, n: make_generator(a, h, b, 3), ["make_generator(5, 16, 3, 1) has 691 parameters", "2 hidden layers of width 16 too many"]),
    ("make_generator", lambda a, h, b, n: make_generator(a, h, b, n, bias=False), ["has 2,176 parameters, expected 2,274", "with its bias"]),
    ("make_generator", lambda a, h, b, n: make_generator(a, h, b, n, activation=None), ["affine function of z", "one linear layer"]),
    ("generate", generate_tracking_gradients, ["still track gradients", "switch gradient tracking off"]),
    ("generate", lambda G, z0, z1, s: generate(G, z1, z0, s), ["the path runs backwards"]),
    ("generate", generate_in_data_space, ["straight segment from G(z0) to G(z1)", "straight in latent space, not in data space"]),
    ("generate", lambda G, z0, z1, s: generate(G, z0, z0 + (z1 - z0) * (s - 1) / s, s),
     ["the first point is G(z0) but the last is not G(z1)", "include both ends"]),
    ("generate", lambda G, z0, z1, s: generate(G, z0 + (z1 - z0) / s, z1, s), ["the last point is G(z1) but the first is not G(z0)"]),
    ("generate", lambda G, z0, z1, s: generate(G, z0 + (z1 - z0) / (s + 1), z1 - (z1 - z0) / (s + 1), s),  # both ends left out
     ["not G at 7 evenly spaced points", "point 2: got"]),
    ("generate", lambda G, z0, z1, s: generate(G, z0, z1, s)[:, None], ["should have shape (7, 2), but has shape (7, 1, 2)"]),
    ("generate", generate_editing_z1, ["changed the z1 you were given", "work on new tensors"]),
    ("make_discriminator", lambda d, h, k: Net(k * d, h, 1, squeeze=True, pre=consecutive(k), post=torch.sigmoid), ["look like probabilities", "logits"]),
    ("make_discriminator", lambda d, h, k: Net(k * d, h, 1, pre=consecutive(k)), ["the output has shape (256, 1)", "shape (256,)"]),
    ("make_discriminator", lambda d, h, k: Net(k * d, h, 2, pre=consecutive(k)), ["should have shape (256,), but has shape (256, 2)"]),
    ("make_discriminator", lambda d, h, k: Net(d, h, 1, squeeze=True), ["with pack=2 you return one logit per example", "one logit per pack, shape (128,)"]),
    ("make_discriminator", lambda d, h, k: Net(k * d, h, 1, squeeze=True), ["pack=2", "raised RuntimeError", "one row should hold a whole pack"]),
    ("make_discriminator", lambda d, h, k: Net(k * d, h, 1, squeeze=True, pre=lambda x: torch.cat(x.chunk(k), dim=1)),
     ["with pack=2 the first logit depends on input rows [0, 128]", "consecutive"]),
    ("make_discriminator", lambda d, h, k: Net(k * d, h, 1, squeeze=True, pre=consecutive(k), unused_layer=True), ["no gradient reaches extra.weight, extra.bias"]),
    ("discriminator_accuracy", accuracy_per_class, ["averaged the two accuracies"]),
    ("discriminator_accuracy", lambda D, r, f, p: 1 - discriminator_accuracy(D, r, f, p), ["labels are swapped"]),
    ("discriminator_accuracy", lambda D, r, f, p: [0.7], ["should return one number (a float), got list"]),
    ("discriminator_accuracy", lambda D, r, f, p: discriminator_accuracy(D, r, f, 0.5), ["the accuracy at p = 0.5, but p = 0.9", "ignores p"]),
    ("discriminator_accuracy", lambda D, r, f, p: discriminator_accuracy(D, r, f, p, threshold=p), ["compared the logits with p = 0.9 itself", "different units"]),
    ("discriminator_accuracy", lambda D, r, f, p: discriminator_accuracy(D, r, f, 1 - p), ["threshold has the wrong sign"]),
    ("discriminator_accuracy", lambda D, r, f, p: discriminator_accuracy(D, r, f, p) * len(D(r)) / len(r), ["packed D (pack=2)", "divided by the number of rows"]),
]


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(gan_checks, {
        "make_generator": "Exercise 2.1 (the generator network)",
        "generate": "Exercise 2.2 (generating along a latent line)",
        "make_discriminator": "Exercise 3.1 (a packed discriminator)",
        "discriminator_accuracy": "Exercise 3.2 (accuracy at a confidence threshold)",
    })
    assert list(CORRECT) == gan_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_module_without_forward_is_not_attempted(capsys):
    class Empty(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2)

    checks.make_generator(lambda a, h, b, n: Empty())  # nn.Module's missing forward raises NotImplementedError
    assert capsys.readouterr().out.startswith("⏳ ")


def test_accuracy_computed_in_probabilities_passes(capsys):
    checks.discriminator_accuracy(accuracy_in_probabilities)  # sigmoid(logit) > p: the same verdicts as logit > log-odds of p
    assert capsys.readouterr().out.startswith("✅ Exercise 3.2")


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
