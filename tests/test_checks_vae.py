"""genai_course.checks.vae (lesson 08): correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks, vae
from genai_course.checks import vae as vae_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def reparameterize(mu, logvar, generator=None):
    eps = torch.randn(mu.shape, generator=generator)  # (B, L)
    return mu + torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu, logvar):
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1)  # (B,)


def kl_from_distributions(mu, logvar):
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    return torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(dim=1)


class CondDecoder(nn.Module):
    """A small conditional decoder that can be bent into a typical mistake."""

    def __init__(self, latent_dim, num_classes, *, hidden=32, use_label=True, use_z=True, out=nn.Identity, flat=False, unused=False, batch_norm=False, one_hot_width=-1, fixed_batch=None, number=None):
        super().__init__()
        self.num_classes, self.use_label, self.use_z, self.flat = num_classes, use_label, use_z, flat
        self.fixed_batch = fixed_batch  # a .view(20, 1, 8, 8) written with the batch size
        self.one_hot_width = num_classes if one_hot_width == -1 else one_hot_width  # None: F.one_hot(y) guesses it
        self.number = number  # the label appended as one number, number(y) (B, 1), instead of one-hot
        norm = [nn.BatchNorm1d(hidden)] if batch_norm else []
        width = 1 if number else num_classes
        self.net = nn.Sequential(nn.Linear(latent_dim + width, hidden), *norm, nn.ReLU(), nn.Linear(hidden, 64), out())
        if unused:
            self.extra = nn.Linear(4, 4)

    def forward(self, z, y):
        if self.fixed_batch and z.shape[0] != self.fixed_batch:
            raise RuntimeError(f"shape '[{self.fixed_batch}, 1, 8, 8]' is invalid for input of size {64 * z.shape[0]}")
        one_hot = (F.one_hot(y) if self.one_hot_width is None else F.one_hot(y, self.one_hot_width)).float()
        if self.number:
            one_hot = self.number(y)
        if not self.use_label:
            one_hot = torch.zeros_like(one_hot)
        if not self.use_z:
            z = torch.zeros_like(z)
        logits = self.net(torch.cat([z, one_hot], dim=1))  # (B, 64)
        return logits if self.flat else logits.view(-1, 1, 8, 8)


def make_conditional_decoder(latent_dim, num_classes):
    return CondDecoder(latent_dim, num_classes)


def library_decoder(latent_dim, num_classes):
    return vae.Decoder(vae.VAEConfig(latent_dim=latent_dim, num_classes=num_classes))


class EmbeddingDecoder(nn.Module):
    """The label through a learned embedding (not one-hot, but not one number either): any architecture passes."""

    def __init__(self, latent_dim, num_classes, dim=1):
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim)
        self.net = nn.Sequential(nn.Linear(latent_dim + dim, 32), nn.ReLU(), nn.Linear(32, 64))

    def forward(self, z, y):
        return self.net(torch.cat([z, self.embed(y)], dim=1)).view(-1, 1, 8, 8)


class LabelBranchDecoder(nn.Module):
    """z and the label in two branches: the label as one number into a layer of its own."""

    def __init__(self, latent_dim, num_classes):
        super().__init__()
        self.from_z, self.from_y = nn.Linear(latent_dim, 32), nn.Linear(1, 32)
        self.out = nn.Linear(32, 64)

    def forward(self, z, y):
        return self.out(torch.relu(self.from_z(z) + self.from_y(y[:, None].float()))).view(-1, 1, 8, 8)


CORRECT = {
    "reparameterize": [
        vae.reparameterize,
        reparameterize,
        lambda mu, logvar, generator: mu + logvar.exp().sqrt() * torch.randn_like(mu, generator=generator),
        lambda mu, logvar, generator: mu + torch.exp(logvar / 2) * torch.empty_like(mu).normal_(generator=generator),
    ],
    "gaussian_kl": [vae.gaussian_kl, gaussian_kl, kl_from_distributions],
    "make_conditional_decoder": [make_conditional_decoder, library_decoder, lambda d, k: CondDecoder(d, k, batch_norm=True),
                                 EmbeddingDecoder, lambda d, k: EmbeddingDecoder(d, k, dim=8)],
}

test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_the_library_agrees_with_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(16, 4, generator=g, dtype=torch.float64), 3 * torch.randn(16, 4, generator=g, dtype=torch.float64)
    assert torch.allclose(vae.gaussian_kl(mu, logvar), kl_from_distributions(mu, logvar))


# --------------------------------------------------------------------------- typical mistakes


def with_std(std_of):
    """z = mu + std_of(logvar) * eps with the library's eps."""

    def reparam(mu, logvar, generator):
        return mu + std_of(logvar) * torch.randn(mu.shape, generator=generator)

    return reparam


def kl_terms(term):
    """1/2 * sum_j term(mu, logvar)."""
    return lambda mu, logvar: 0.5 * term(mu, logvar).sum(dim=1)


def reparameterize_detached(part):
    def reparam(mu, logvar, generator):
        if part == "mu":
            mu = mu.detach()
        if part == "logvar":
            logvar = logvar.detach()
        return reparameterize(mu, logvar, generator)

    return reparam


def reparameterize_without_grad(mu, logvar, generator):
    with torch.no_grad():
        return reparameterize(mu, logvar, generator)


MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    ("reparameterize", lambda mu, logvar, generator: mu, ["z equals mu", "must be random"]),
    ("reparameterize", lambda mu, logvar, generator: mu + torch.exp(0.5 * logvar), ["different seeds gave the same z", "depend on the noise"]),
    ("reparameterize", lambda mu, logvar, generator: reparameterize(mu, logvar), ["the same seed gave two different z", "use the generator", "torch.randn_like(mu)"]),
    ("reparameterize", with_std(torch.exp), ["exp(logvar) is the variance", "exp(logvar / 2)"]),
    ("reparameterize", with_std(lambda lv: lv), ["logvar is the log of the variance, not the standard deviation"]),
    ("reparameterize", with_std(lambda lv: torch.exp(-0.5 * lv)), ["1 / sigma"]),
    ("reparameterize", with_std(lambda lv: 0.5 * torch.exp(lv)), ["half the variance", "inside the exponential"]),
    ("reparameterize", with_std(torch.sqrt), ["z is NaN wherever logvar is negative", "not the variance itself", "exp(logvar / 2)"]),
    ("reparameterize", with_std(lambda lv: torch.log(lv)), ["z is NaN wherever logvar is negative"]),
    ("reparameterize", lambda mu, logvar, generator: mu + torch.randn(mu.shape, generator=generator), ["the noise is not scaled"]),
    ("reparameterize", lambda mu, logvar, generator: reparameterize(mu, logvar, generator) - mu, ["mu is missing"]),
    ("reparameterize", lambda mu, logvar, generator: 2 * mu - reparameterize(mu, logvar, generator), ["the noise is subtracted"]),
    ("reparameterize", lambda mu, logvar, generator: mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape[1], generator=generator), ["every example got the same noise", "mu's full shape"]),
    ("reparameterize", lambda mu, logvar, generator: mu + torch.exp(0.5 * logvar) * torch.rand(mu.shape, generator=generator), ["torch.rand draws uniform noise", "torch.randn"]),
    ("reparameterize", lambda mu, logvar, generator: mu + torch.exp(0.5 * logvar) * torch.randn(mu.T.shape, generator=generator).T, ["moves with mu and the standard deviation", "not the library's draw", "use the generator"]),
    ("reparameterize", lambda mu, logvar, generator: torch.exp(logvar) * torch.randn(mu.shape, generator=generator), ["not the library's draw for this seed", "first entry: got"]),
    ("reparameterize", reparameterize_without_grad, ["z carries no gradient", "torch.no_grad()"]),
    ("reparameterize", lambda mu, logvar, generator: reparameterize(mu, logvar, generator).detach(), ["z carries no gradient", ".detach()"]),
    ("reparameterize", reparameterize_detached("mu"), ["no gradient reaches mu"]),
    ("reparameterize", reparameterize_detached("logvar"), ["no gradient reaches logvar"]),
    ("reparameterize", lambda mu, logvar, generator: torch.normal(mu, torch.exp(0.5 * logvar), generator=generator), ["torch.normal(mu, std) samples without the trick"]),
    ("reparameterize", lambda mu, logvar, generator: reparameterize(mu, logvar, generator)[:, :1], ["should return z of the shape of mu, (64, 4)", "has shape (64, 1)"]),
    ("reparameterize", lambda mu, logvar, generator: reparameterize(mu, logvar, generator).sum(dim=1), ["should return z of the shape of mu, (64, 4)", "has shape (64,)"]),
    ("reparameterize", lambda mu, logvar, generator: (reparameterize(mu, logvar, generator), mu), ["should return a torch.Tensor, but returned tuple"]),
    ("reparameterize", lambda mu, logvar, generator: reparameterize(mu, logvar, generator).double(), ["should have dtype torch.float32"]),
    ("gaussian_kl", lambda mu, logvar: -gaussian_kl(mu, logvar), ["KL is never negative", "the sign is flipped"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: mu.pow(2) + lv.exp() - 1 + lv), ["the log-variance enters with a minus sign"]),
    ("gaussian_kl", lambda mu, logvar: gaussian_kl(mu, logvar) - 1, ["KL is never negative, but example", "check the signs"]),
    ("gaussian_kl", lambda mu, logvar: 2 * gaussian_kl(mu, logvar), ["the factor 1/2 is missing"]),
    ("gaussian_kl", lambda mu, logvar: gaussian_kl(mu, logvar).sum(), ["returned a single number", "one KL per example, shape (8,)", "not over the batch"]),
    ("gaussian_kl", lambda mu, logvar: gaussian_kl(mu, logvar).mean(), ["returned a single number, the mean over the batch", "shape (8,)"]),
    ("gaussian_kl", lambda mu, logvar: 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=0), ["has shape (3,)", "summed over the batch (dim=0)", "(dim=1)"]),
    ("gaussian_kl", lambda mu, logvar: 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean(dim=1), ["averaged over the latent dimensions", "the sum over them"]),
    ("gaussian_kl", lambda mu, logvar: 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar), ["has shape (8, 3), one KL per latent dimension", "sum them over dim=1"]),
    ("gaussian_kl", lambda mu, logvar: 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(dim=1, keepdim=True), ["has shape (8, 1)", "without keepdim=True"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: mu.pow(2) + lv - 1 - lv), ["the variance sigma^2 is exp(logvar), not logvar itself"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: mu.pow(2) + lv.pow(2) - 1 - lv), ["logvar is not the standard deviation"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: mu.pow(2) + (0.5 * lv).exp() - 1 - lv), ["exp(logvar / 2) is the standard deviation sigma", "the variance sigma^2 = exp(logvar)"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: mu.pow(2) + lv.exp().pow(2) - 1 - lv), ["exp(logvar) is already the variance", "don't square it"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: mu.pow(2) + (0.5 * lv).exp() - 1 - (0.5 * lv).exp().log()), ["you used the standard deviation sigma = exp(logvar / 2) and log sigma"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: mu.pow(2) + lv.exp() - 1 - (0.5 * lv).exp().log()), ["log sigma^2, which is logvar itself, not log sigma"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: mu.pow(2) + (2 * lv).exp() - 1 - 2 * lv), ["you treated logvar as log sigma"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: mu.pow(2) + lv - 1 - lv.log()), ["contains NaN or infinite values", "the log of logvar"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: mu.pow(2) + lv.exp() - lv), ["the -1 is missing"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: mu.pow(2) + lv.exp() - 1), ["the - logvar term is missing"]),
    ("gaussian_kl", kl_terms(lambda mu, lv: lv.exp() - 1 - lv), ["the mu^2 term is missing"]),
    ("gaussian_kl", lambda mu, logvar: gaussian_kl(mu, logvar) + 0.1, ["differs from KL = 1/2 * sum_j", "first example: got"]),
    ("gaussian_kl", lambda mu, logvar: gaussian_kl(mu, logvar).detach(), ["the KL carries no gradient"]),
    ("gaussian_kl", lambda mu, logvar: gaussian_kl(mu.detach(), logvar), ["no gradient reaches mu"]),
    ("gaussian_kl", lambda mu, logvar: gaussian_kl(mu, logvar).double(), ["should have dtype torch.float32"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, out=nn.Sigmoid), ["look like probabilities", "a decoder returns logits", "vae.bernoulli_nll", "remove the final sigmoid"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, out=nn.Tanh), ["the logits stay in [-1, 1]", "a final tanh", "end with a plain nn.Linear"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, use_label=False), ["identical logits", "ignores its label y", "one_hot(y)"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, use_z=False), ["different z with the same label give identical logits", "ignores z"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, flat=True), ["has shape (20, 64)", "reshape the 64 logits to images, (B, 1, 8, 8)"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, unused=True), ["no gradient reaches extra.weight"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(4, k), ["your decoder on z of shape (6, 2)", "raised RuntimeError", "it worked for make_conditional_decoder(4, 10)", "not fixed numbers"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, one_hot_width=None), ["your decoder on a batch of 10 (z of shape (10, 4)) whose labels are all 0 raised RuntimeError", "F.one_hot(y, num_classes)"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, fixed_batch=20), ["your decoder on a batch of 10", "raised RuntimeError", "don't fix the batch size"]),
    ("make_conditional_decoder", lambda d, k: vae.Decoder(vae.VAEConfig(latent_dim=d)), ["raised ValueError", "unconditional"]),
    ("make_conditional_decoder", lambda d, k: "a decoder", ["should return a torch.nn.Module, got str"]),
    # the label as one number instead of one-hot: y itself, scaled, or into a layer of its own
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, number=lambda y: y[:, None].float()),
     ["the label enters your decoder as one number", "its submodule net", "one-hot vector of num_classes entries"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, number=lambda y: y[:, None].float() / (k - 1)), ["enters your decoder as one number"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, number=lambda y: 2 * y[:, None].float() / k - 1), ["enters your decoder as one number"]),
    ("make_conditional_decoder", LabelBranchDecoder, ["enters your decoder as one number", "its submodule from_y"]),
]


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(vae_checks, {
        "reparameterize": "Exercise 8.1 (the reparameterization trick)",
        "gaussian_kl": "Exercise 8.2 (the KL term)",
        "make_conditional_decoder": "Exercise 8.3 (a conditional decoder)",
    })
    assert list(CORRECT) == vae_checks.__all__


def test_decoder_whose_forward_is_missing_is_not_attempted(capsys):
    class Empty(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2)

    checks.make_conditional_decoder(lambda d, k: Empty())  # nn.Module's missing forward raises NotImplementedError
    assert capsys.readouterr().out.startswith("⏳ ")


@pytest.mark.parametrize("hidden", [4, 8, 64, 256])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_decoder_returning_logits_is_not_taken_for_probabilities(hidden, batch_norm, capsys):
    checks.make_conditional_decoder(lambda d, k: CondDecoder(d, k, hidden=hidden, batch_norm=batch_norm))  # the check seeds itself
    assert capsys.readouterr().out.startswith("✅ ")


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
