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


def gaussian_kl(mu_q, logvar_q, mu_p, logvar_p):
    """KL(N(mu_q, diag exp(logvar_q)) || N(mu_p, diag exp(logvar_p))): (B,)."""
    return 0.5 * kl_terms_of(mu_q, logvar_q, mu_p, logvar_p).sum(dim=1)


def kl_terms_of(mq, lq, mp, lp, *, var=torch.exp, var_p=None, log_ratio=lambda lq, lp: lp - lq, shift=lambda mq, mp: mq - mp, scale=True, one=1.0):
    """Twice the per-latent KL (B, L), each piece replaceable by a wrong one (var: q's and, unless var_p says otherwise, p's)."""
    spread = var(lq) + shift(mq, mp).pow(2)
    return log_ratio(lq, lp) + (spread / (var_p or var)(lp) if scale else spread) - one


def kl_from_distributions(mu_q, logvar_q, mu_p, logvar_p):
    q = torch.distributions.Normal(mu_q, torch.exp(0.5 * logvar_q))
    return torch.distributions.kl_divergence(q, torch.distributions.Normal(mu_p, torch.exp(0.5 * logvar_p))).sum(dim=1)


def kl_one_term_at_a_time(mu_q, logvar_q, mu_p, logvar_p):
    """The same KL written as E_q[log q] - E_q[log p], term by term: any correct arrangement passes."""
    log_q = -0.5 * (torch.log(2 * torch.pi * logvar_q.exp()) + 1)  # E_q[log q(z)], (B, L)
    log_p = -0.5 * (torch.log(2 * torch.pi * logvar_p.exp()) + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp())
    return (log_q - log_p).sum(dim=1)


def kl_to_standard_normal(mu, logvar):
    zero = torch.zeros_like(mu)
    return kl_from_distributions(mu, logvar, zero, zero)


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
    "gaussian_kl": [gaussian_kl, kl_from_distributions, kl_one_term_at_a_time],
    "make_conditional_decoder": [make_conditional_decoder, library_decoder, lambda d, k: CondDecoder(d, k, batch_norm=True),
                                 EmbeddingDecoder, lambda d, k: EmbeddingDecoder(d, k, dim=8)],
}

test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_the_library_agrees_with_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(16, 4, generator=g, dtype=torch.float64), 3 * torch.randn(16, 4, generator=g, dtype=torch.float64)
    assert torch.allclose(vae.gaussian_kl(mu, logvar), kl_to_standard_normal(mu, logvar))
    assert torch.allclose(vae.gaussian_kl(mu, logvar), gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(mu)))


# --------------------------------------------------------------------------- typical mistakes


def with_std(std_of):
    """z = mu + std_of(logvar) * eps with the library's eps."""

    def reparam(mu, logvar, generator):
        return mu + std_of(logvar) * torch.randn(mu.shape, generator=generator)

    return reparam


def kl_with(**wrong):
    """1/2 * sum_j of the per-latent KL with one piece written wrong."""
    return lambda mq, lq, mp, lp: 0.5 * kl_terms_of(mq, lq, mp, lp, **wrong).sum(dim=1)


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
    ("reparameterize", lambda mu, logvar, generator: reparameterize(mu, logvar), ["the same seed gave two different z", "use the generator", "not handed the generator"]),
    ("reparameterize", with_std(torch.exp), ["exp(logvar) is the variance", "scaled by the standard deviation sigma"]),
    ("reparameterize", with_std(lambda lv: lv), ["logvar is the log of the variance, not the standard deviation"]),
    ("reparameterize", with_std(lambda lv: torch.exp(-0.5 * lv)), ["1 / sigma"]),
    ("reparameterize", with_std(lambda lv: 0.5 * torch.exp(lv)), ["half the variance", "inside the exponential"]),
    ("reparameterize", with_std(torch.sqrt), ["z is NaN wherever logvar is negative", "not the variance itself", "standard deviation from the log-variance"]),
    ("reparameterize", with_std(lambda lv: torch.log(lv)), ["z is NaN wherever logvar is negative"]),
    ("reparameterize", lambda mu, logvar, generator: mu + torch.randn(mu.shape, generator=generator), ["the noise is not scaled"]),
    ("reparameterize", lambda mu, logvar, generator: reparameterize(mu, logvar, generator) - mu, ["mu is missing"]),
    ("reparameterize", lambda mu, logvar, generator: 2 * mu - reparameterize(mu, logvar, generator), ["the noise is subtracted"]),
    ("reparameterize", lambda mu, logvar, generator: mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape[1], generator=generator), ["every example got the same noise", "mu's full shape"]),
    ("reparameterize", lambda mu, logvar, generator: mu + torch.exp(0.5 * logvar) * torch.rand(mu.shape, generator=generator), ["it is uniform noise", "standard-normal noise"]),
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
    # 8.2 the KL between two Gaussians: each slip named on its own, and no message states the formula
    ("gaussian_kl", lambda *a: -gaussian_kl(*a), ["a KL is never negative", "the sign of your whole expression is flipped"]),
    ("gaussian_kl", lambda *a: 2 * gaussian_kl(*a), ["exactly twice the KL", "a factor of one half is missing"]),
    ("gaussian_kl", lambda mq, lq, mp, lp: gaussian_kl(mp, lp, mq, lq), ["the other way round, from the prior to q", "not symmetric"]),
    ("gaussian_kl", lambda mq, lq, mp, lp: kl_to_standard_normal(mq, lq), ["ignores the prior's mean and variance", "the KL to N(0, I)"]),
    ("gaussian_kl", kl_with(shift=lambda mq, mp: mq), ["ignores the prior's mean", "how far q's mean is from the prior's mean"]),
    ("gaussian_kl", kl_with(scale=False), ["right for a prior of variance 1 only", "in units of the prior's variance"]),
    ("gaussian_kl", kl_with(log_ratio=lambda lq, lp: lq - lp), ["the two log-variances has its sign flipped"]),
    ("gaussian_kl", kl_with(log_ratio=lambda lq, lp: 0.5 * (lp - lq)), ["half its size", "logs of the standard deviations"]),
    ("gaussian_kl", kl_with(log_ratio=lambda lq, lp: 0 * lq), ["the term with the two log-variances is missing"]),
    ("gaussian_kl", kl_with(var=lambda lv: lv), ["you used logvar_q and logvar_p as a variance", "the log of the variance"]),
    ("gaussian_kl", kl_with(var=lambda lv: lv, var_p=torch.exp), ["you used logvar_q as a variance"]),
    ("gaussian_kl", kl_with(var_p=lambda lv: lv), ["you used logvar_p as a variance"]),
    ("gaussian_kl", kl_with(var=lambda lv: (0.5 * lv).exp()), ["the standard deviation from logvar_q and logvar_p where the variance belongs"]),
    ("gaussian_kl", kl_with(var_p=lambda lv: (0.5 * lv).exp()), ["the standard deviation from logvar_p where the variance belongs"]),
    ("gaussian_kl", kl_with(var=lambda lv: (2 * lv).exp(), log_ratio=lambda lq, lp: 2 * (lp - lq)), ["treated logvar as the log of the standard deviation"]),
    ("gaussian_kl", kl_with(one=0.0), ["not 0 when q equals the prior", "a constant term is missing"]),
    ("gaussian_kl", lambda mq, lq, mp, lp: 0.5 * kl_terms_of(mq, lq, mp, lp).mean(dim=1), ["averaged over the latents", "their KLs add up"]),
    ("gaussian_kl", lambda *a: gaussian_kl(*a) - 5, ["a KL is never negative, but example", "check the signs"]),
    ("gaussian_kl", lambda *a: gaussian_kl(*a) + 0.1, ["differs from the KL", "first example: got", "in place of 0 and 1"]),
    ("gaussian_kl", lambda *a: gaussian_kl(*a).sum(), ["returned a single number", "one KL per example, shape (8,)", "not the examples"]),
    ("gaussian_kl", lambda *a: gaussian_kl(*a).mean(), ["returned a single number, the mean over the batch", "shape (8,)"]),
    ("gaussian_kl", lambda *a: 0.5 * kl_terms_of(*a).sum(dim=0), ["has shape (3,)", "you added up over the examples"]),
    ("gaussian_kl", lambda *a: 0.5 * kl_terms_of(*a), ["has shape (8, 3), one KL per latent", "add them up for each example"]),
    ("gaussian_kl", lambda *a: gaussian_kl(*a)[:, None], ["has shape (8, 1)", "no extra dimension of size 1"]),
    ("gaussian_kl", lambda mq, lq, mp, lp: gaussian_kl(mq, lq.log(), mp, lp), ["contains NaN or infinite values", "don't take their log"]),
    ("gaussian_kl", lambda *a: gaussian_kl(*a).detach(), ["the KL carries no gradient"]),
    ("gaussian_kl", lambda mq, lq, mp, lp: gaussian_kl(mq.detach(), lq, mp, lp), ["no gradient reaches mu_q"]),
    ("gaussian_kl", lambda mq, lq, mp, lp: gaussian_kl(mq, lq, mp, lp.detach()), ["no gradient reaches logvar_p", "a learned prior"]),
    ("gaussian_kl", lambda *a: gaussian_kl(*a).double(), ["should have dtype torch.float32"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, out=nn.Sigmoid), ["look like probabilities", "a decoder returns logits", "vae.bernoulli_nll", "remove the final sigmoid"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, out=nn.Tanh), ["the logits stay in [-1, 1]", "a final tanh", "leave the logits unbounded"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, use_label=False), ["identical logits", "ignores its label y", "beside z"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, use_z=False), ["different z with the same label give identical logits", "ignores z"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, flat=True), ["has shape (20, 64)", "reshape the 64 logits to images, (B, 1, 8, 8)"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, unused=True), ["no gradient reaches extra.weight"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(4, k), ["your decoder on z of shape (6, 2)", "raised RuntimeError", "it worked for make_conditional_decoder(4, 10)", "not fixed numbers"]),
    ("make_conditional_decoder", lambda d, k: CondDecoder(d, k, one_hot_width=None), ["your decoder on a batch of 10 (z of shape (10, 4)) whose labels are all 0 raised RuntimeError", "its width must be num_classes"]),
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
        "gaussian_kl": "Exercise 8.2 (the KL between two Gaussians)",
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


def test_messages_name_each_slip_without_the_formula_or_the_code():
    """Each usual slip of 8.1 and 8.2 has its own message; none states the formula or the call to write."""
    from genai_course.checks import _vae_slips

    for table in (_vae_slips._REPARAMETERIZE_SLIPS, _vae_slips._KL_SLIPS):
        messages = [advice for _, advice in table]
        assert len(set(messages)) == len(messages)
        for message in messages:
            assert not any(code in message for code in ("exp(logvar / 2)", "exp(0.5", "sum_j", "1/2 *", "mu_q - mu_p", ".sum(", "dim=", "torch.")), message
