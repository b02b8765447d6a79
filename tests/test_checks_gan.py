"""genai_course.checks.gan (lessons 01-04): correct code passes, unattempted code waits, typical mistakes are named."""

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


def sample_ring8(n, generator=None):
    k = torch.randint(8, (n,), generator=generator)
    angles = 2 * math.pi * k / 8
    return torch.stack([angles.cos(), angles.sin()], dim=1) + 0.01 * torch.randn(n, 2, generator=generator)


def mixture_log_prob(x, means, std):
    d2 = (x[:, None, :] - means[None]).pow(2).sum(-1)  # (N, K)
    return torch.logsumexp(-d2 / (2 * std**2), dim=1) - math.log(means.shape[0]) - math.log(2 * math.pi * std**2)


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


def make_generator(latent_dim, hidden, data_dim):
    return Net(latent_dim, hidden, data_dim)


def generate(G, n, generator=None):
    with torch.no_grad():
        return G(torch.randn(n, G.config.latent_dim, generator=generator))


def make_discriminator(data_dim, hidden):
    return Net(data_dim, hidden, 1, squeeze=True)


def discriminator_accuracy(D, real, fake):
    with torch.no_grad():
        correct = (D(real) > 0).sum() + (D(fake) <= 0).sum()
    return correct.item() / (len(real) + len(fake))


def discriminator_loss(real_logits, fake_logits):
    return F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + F.binary_cross_entropy_with_logits(
        fake_logits, torch.zeros_like(fake_logits)
    )


def nonsaturating_g_loss(fake_logits):
    return F.softplus(-fake_logits).mean()


def gradient_penalty(D, real, fake, eps):
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return (grad.norm(dim=1) - 1).pow(2).mean()


CORRECT = {
    "sample_ring8": sample_ring8,
    "mixture_log_prob": mixture_log_prob,
    "make_generator": make_generator,
    "generate": generate,
    "make_discriminator": make_discriminator,
    "discriminator_accuracy": discriminator_accuracy,
    "discriminator_loss": discriminator_loss,
    "nonsaturating_g_loss": nonsaturating_g_loss,
    "gradient_penalty": gradient_penalty,
}


# --------------------------------------------------------------------------- typical mistakes


def gp_without_create_graph(D, real, fake, eps):
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat)
    return (grad.norm(dim=1) - 1).pow(2).mean()


def gp_squared_norm(D, real, fake, eps):
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
    return (grad.pow(2).sum(1) - 1).pow(2).mean()


def gp_swapped(D, real, fake, eps):
    return gradient_penalty(D, fake, real, eps)


def raise_value_error(*args):
    raise ValueError("hidden must be even")


def not_using_generator(n, generator=None):
    return sample_ring8(n)


def ring_with_std(std):
    def sample(n, generator=None):
        k = torch.randint(8, (n,), generator=generator)
        angles = 2 * math.pi * k / 8
        return torch.stack([angles.cos(), angles.sin()], dim=1) + std * torch.randn(n, 2, generator=generator)

    return sample


def seven_modes(n, generator=None):
    k = torch.randint(7, (n,), generator=generator)
    angles = 2 * math.pi * k / 8
    return torch.stack([angles.cos(), angles.sin()], dim=1) + 0.01 * torch.randn(n, 2, generator=generator)


MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    ("sample_ring8", not_using_generator, ["generators seeded alike gave different points", "pass generator="]),
    ("sample_ring8", seven_modes, ["near only 7 of the 8 ring modes"]),
    ("sample_ring8", ring_with_std(0.1), ["within 3 std of a mode", "std 0.01"]),
    ("sample_ring8", ring_with_std(0.005), ["the noise around each mode has std 0.005", "expected 0.01"]),
    ("sample_ring8", lambda n, generator=None: sample_ring8(n, generator).double(), ["should have dtype torch.float32, but has dtype torch.float64"]),
    ("mixture_log_prob", lambda x, m, s: mixture_log_prob(x, m, s).exp(), ["returned the density itself", "logarithm"]),
    ("mixture_log_prob", lambda x, m, s: mixture_log_prob(x, m, s) + math.log(len(m)), ["mixture weights are missing", "log K"]),
    ("mixture_log_prob", lambda x, m, s: mixture_log_prob(x, m, 2 * s), ["differ from the true log density on ring8"]),
    ("make_generator", lambda a, h, b: Net(a, h, b + 1), ["should have shape (16, 2), but has shape (16, 3)"]),
    ("make_generator", lambda a, h, b: Net(a, h, b, post=lambda y: y.double()), ["should have dtype torch.float32, but has dtype torch.float64"]),
    ("make_generator", lambda a, h, b: Net(a, h, b, post=torch.log), ["contains NaN or infinite values"]),
    ("make_generator", raise_value_error, ["make_generator(2, 32, 2) raised ValueError: hidden must be even"]),
    ("make_generator", lambda a, h, b: Net(a, h, b, pre=torch.zeros_like), ["every noise vector gives the same output", "depend on z"]),
    ("make_generator", lambda a, h, b: Net(a, h, b, unused_layer=True), ["no gradient reaches extra.weight, extra.bias"]),
    ("make_generator", lambda a, h, b: nn.Linear(a + 1, b), ["your generator on noise of shape (16, 2) raised RuntimeError"]),
    ("make_generator", lambda a, h, b: "a generator", ["should be a torch.nn.Module, got str"]),
    ("generate", lambda G, n, generator=None: G(torch.randn(n, 3, generator=generator)), ["still track gradients", "torch.no_grad()"]),
    ("generate", lambda G, n, generator=None: generate(G, n), ["draw z with the generator you are given"]),
    ("generate", lambda G, n, generator=None: G.net(torch.rand(n, 3, generator=generator)).detach(), ["uniform z", "use torch.randn (not torch.rand)"]),
    ("make_discriminator", lambda d, h: Net(d, h, 1, squeeze=True, post=torch.sigmoid), ["probabilities", "logits", "remove the final sigmoid"]),
    ("make_discriminator", lambda d, h: Net(d, h, 1), ["the output has shape (256, 1)", "shape (256,)"]),
    ("make_discriminator", lambda d, h: Net(d, h, 2), ["should have shape (256,), but has shape (256, 2)"]),
    ("discriminator_accuracy", lambda D, r, f: ((D(r) > 0).float().mean() + (D(f) <= 0).float().mean()).item() / 2, ["averaged the two accuracies"]),
    ("discriminator_accuracy", lambda D, r, f: 1 - discriminator_accuracy(D, r, f), ["labels are swapped"]),
    ("discriminator_accuracy", lambda D, r, f: [0.7], ["should return one number (a float), got list"]),
    ("discriminator_loss", lambda r, f: discriminator_loss(f, r), ["labels are swapped", "real examples should be labelled 1"]),
    ("discriminator_loss", lambda r, f: -discriminator_loss(r, f), ["sign is flipped"]),
    ("discriminator_loss", lambda r, f: discriminator_loss(r, f) / 2, ["averaged the two terms"]),
    ("discriminator_loss", lambda r, f: F.binary_cross_entropy(r.sigmoid(), torch.ones_like(r), reduction="none"), ["should be a single number", "has shape (64,)"]),
    ("discriminator_loss", lambda r, f: F.binary_cross_entropy(r.clamp(0, 1), torch.ones_like(r)) + F.binary_cross_entropy(f.clamp(0, 1), torch.zeros_like(f)), ["the inputs are logits"]),
    ("nonsaturating_g_loss", lambda f: -nonsaturating_g_loss(f), ["sign is flipped"]),
    ("nonsaturating_g_loss", lambda f: torch.log(1 - torch.sigmoid(f)).mean(), ["saturating (minimax) loss"]),
    ("nonsaturating_g_loss", lambda f: -torch.log(torch.sigmoid(f)).mean(), ["at a logit of -200 the loss should be 200, got inf", "softplus"]),
    ("nonsaturating_g_loss", lambda f: nonsaturating_g_loss(torch.sigmoid(f)), ["applied sigmoid"]),
    ("gradient_penalty", gp_without_create_graph, ["create_graph=True"]),
    ("gradient_penalty", gp_squared_norm, ["not its squared norm"]),
    ("gradient_penalty", gp_swapped, ["wrong way round", "eps * real + (1 - eps) * fake"]),
]


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(gan_checks, {
        "sample_ring8": "Exercise 1.1 (sampling the ring of 8)",
        "mixture_log_prob": "Exercise 1.2 (the mixture's log density)",
        "make_generator": "Exercise 2.1 (the generator network)",
        "generate": "Exercise 2.2 (generating samples)",
        "make_discriminator": "Exercise 3.1 (the discriminator network)",
        "discriminator_accuracy": "Exercise 3.2 (the discriminator's accuracy)",
        "discriminator_loss": "Exercise 4.1 (the discriminator's loss)",
        "nonsaturating_g_loss": "Exercise 4.2 (the non-saturating generator loss)",
        "gradient_penalty": "Exercise 4.3 (the gradient penalty)",
    })
    assert list(CORRECT) == gan_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_module_without_forward_is_not_attempted(capsys):
    class Empty(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2)

    checks.make_generator(lambda a, h, b: Empty())  # nn.Module's missing forward raises NotImplementedError
    assert capsys.readouterr().out.startswith("⏳ ")


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
