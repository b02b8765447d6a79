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


def reparameterize(mu, logvar, k, generator=None):
    eps = torch.randn((k, *mu.shape), generator=generator)  # (k, B, L)
    return mu + torch.exp(0.5 * logvar) * eps


def reparameterize_one_at_a_time(mu, logvar, k, generator=None):
    """k draws of the library's, one after the other: any order of drawing the noise passes."""
    return torch.stack([vae.reparameterize(mu, logvar, generator) for _ in range(k)])


def reparameterize_batch_first(mu, logvar, k, generator=None):
    """The noise drawn as (B, k, L), then moved: the same distribution, another order; the noise subtracted, which is as good."""
    eps = torch.randn(mu.shape[0], k, mu.shape[1], generator=generator).transpose(0, 1)
    return mu - logvar.exp().sqrt() * eps


def reparameterize_expanded(mu, logvar, k, generator=None):
    mu_k, std_k = mu.expand(k, -1, -1), torch.exp(logvar / 2).expand(k, -1, -1)
    return mu_k + std_k * torch.empty_like(mu_k).normal_(generator=generator)


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


class CondEncoder(nn.Module):
    """A small conditional encoder that can be bent into a typical mistake."""

    def __init__(self, latent_dim, num_classes, *, hidden=32, use_label=True, use_x=True, logvar_out=None, out=None, one_head=False,
                 flat=False, constant_logvar=False, unused=False, batch_norm=False, one_hot_width=-1, number=None):
        super().__init__()
        self.num_classes, self.use_label, self.use_x, self.flat, self.one_head = num_classes, use_label, use_x, flat, one_head
        self.logvar_out, self.constant_logvar, self.latent_dim = logvar_out, constant_logvar, latent_dim
        self.one_hot_width = num_classes if one_hot_width == -1 else one_hot_width  # None: F.one_hot(y) guesses it
        self.number = number  # the label appended as one number, number(y) (B, 1), instead of one-hot
        norm = [nn.BatchNorm1d(hidden)] if batch_norm else []
        width = 1 if number else num_classes
        self.net = nn.Sequential(nn.Linear(64 + width, hidden), *norm, nn.ReLU(), nn.Linear(hidden, 2 * latent_dim), *([out()] if out else []))
        if unused:
            self.extra = nn.Linear(4, 4)

    def forward(self, x, y):
        one_hot = (F.one_hot(y) if self.one_hot_width is None else F.one_hot(y, self.one_hot_width)).float()
        if self.number:
            one_hot = self.number(y)
        if not self.use_label:
            one_hot = torch.zeros_like(one_hot)
        pixels = x.flatten(1) if self.use_x else torch.zeros_like(x.flatten(1))
        h = self.net(torch.cat([pixels, one_hot], dim=1))  # (B, 2L)
        if self.flat:
            return h
        mu, logvar = h.chunk(2, dim=1)
        if self.one_head:
            logvar = mu
        if self.constant_logvar:
            logvar = torch.zeros_like(mu)
        return mu, (self.logvar_out(logvar) if self.logvar_out else logvar)


def make_conditional_encoder(latent_dim, num_classes):
    return CondEncoder(latent_dim, num_classes)


def library_encoder(latent_dim, num_classes):
    return vae.Encoder(vae.VAEConfig(latent_dim=latent_dim, num_classes=num_classes))


class TwoHeadEncoder(nn.Module):
    """The label through a learned embedding, and mu and logvar from two heads: any architecture passes."""

    def __init__(self, latent_dim, num_classes, dim=8):
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim)
        self.body = nn.Sequential(nn.Linear(64 + dim, 64), nn.ReLU())
        self.mu, self.logvar = nn.Linear(64, latent_dim), nn.Linear(64, latent_dim)

    def forward(self, x, y):
        h = self.body(torch.cat([x.flatten(1), self.embed(y)], dim=1))
        return self.mu(h), self.logvar(h)


class ConvEncoder(nn.Module):
    """Lesson 07's label as image channels, then a convolution: any architecture passes."""

    def __init__(self, latent_dim, num_classes):
        super().__init__()
        self.num_classes = num_classes
        self.conv = nn.Sequential(nn.Conv2d(1 + num_classes, 16, 3, padding=1), nn.ReLU(), nn.Flatten())
        self.head = nn.Linear(16 * 64, 2 * latent_dim)

    def forward(self, x, y):
        planes = F.one_hot(y, self.num_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, 8, 8)
        return tuple(self.head(self.conv(torch.cat([x, planes], dim=1))).chunk(2, dim=1))


class LabelBranchEncoder(nn.Module):
    """The image and the label in two branches: the label as one number into a layer of its own."""

    def __init__(self, latent_dim, num_classes):
        super().__init__()
        self.from_x, self.from_y = nn.Linear(64, 32), nn.Linear(1, 32)
        self.out = nn.Linear(32, 2 * latent_dim)

    def forward(self, x, y):
        return tuple(self.out(torch.relu(self.from_x(x.flatten(1)) + self.from_y(y[:, None].float()))).chunk(2, dim=1))


CORRECT = {
    "reparameterize": [reparameterize, reparameterize_one_at_a_time, reparameterize_batch_first, reparameterize_expanded],
    "gaussian_kl": [gaussian_kl, kl_from_distributions, kl_one_term_at_a_time],
    "make_conditional_encoder": [make_conditional_encoder, library_encoder, lambda d, k: CondEncoder(d, k, batch_norm=True),
                                 TwoHeadEncoder, ConvEncoder,
                                 lambda d, k: vae.Encoder(vae.VAEConfig(latent_dim=d, num_classes=k, hidden=512, layers=3))],
}

test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_the_library_agrees_with_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(16, 4, generator=g, dtype=torch.float64), 3 * torch.randn(16, 4, generator=g, dtype=torch.float64)
    assert torch.allclose(vae.gaussian_kl(mu, logvar), kl_to_standard_normal(mu, logvar))
    assert torch.allclose(vae.gaussian_kl(mu, logvar), gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(mu)))


# --------------------------------------------------------------------------- typical mistakes


def with_std(std_of, noise=None):
    """z = mu + std_of(logvar) * eps, eps (k, B, L) drawn with the generator (or by noise(mu, k, generator))."""

    def reparam(mu, logvar, k, generator):
        eps = torch.randn((k, *mu.shape), generator=generator) if noise is None else noise(mu, k, generator)
        return mu + std_of(logvar) * eps

    return reparam


STD = lambda lv: torch.exp(0.5 * lv)  # noqa: E731  the right scale

def kl_with(**wrong):
    """1/2 * sum_j of the per-latent KL with one piece written wrong."""
    return lambda mq, lq, mp, lp: 0.5 * kl_terms_of(mq, lq, mp, lp, **wrong).sum(dim=1)


def reparameterize_detached(part):
    def reparam(mu, logvar, k, generator):
        if part == "mu":
            mu = mu.detach()
        if part == "logvar":
            logvar = logvar.detach()
        return reparameterize(mu, logvar, k, generator)

    return reparam


def reparameterize_without_grad(mu, logvar, k, generator):
    with torch.no_grad():
        return reparameterize(mu, logvar, k, generator)


class TanhMuEncoder(CondEncoder):
    """mu squashed into [-1, 1], logvar free."""

    def forward(self, x, y):
        mu, logvar = super().forward(x, y)
        return torch.tanh(mu), logvar


class ListEncoder(CondEncoder):
    """mu, logvar and z in a list."""

    def forward(self, x, y):
        mu, logvar = super().forward(x, y)
        return [mu, logvar, mu]


MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    # 8.1 k draws per example: the noise shared, the shape, the spread, the generator, the gradients
    ("reparameterize", lambda mu, logvar, k, generator: mu.expand(k, -1, -1), ["z equals mu", "must be random"]),
    ("reparameterize", lambda mu, logvar, k, generator: mu + torch.exp(0.5 * logvar) * torch.ones(k, *mu.shape), ["different seeds gave the same z", "depend on the noise"]),
    ("reparameterize", lambda mu, logvar, k, generator: reparameterize(mu, logvar, k), ["the same seed gave two different z", "use the generator", "not handed the generator"]),
    ("reparameterize", with_std(STD, lambda mu, k, g: torch.randn(mu.shape, generator=g).expand(k, -1, -1)),
     ["the 256 draws of each example are all the same", "noise of its own"]),
    ("reparameterize", with_std(STD, lambda mu, k, g: torch.randn(k, 1, mu.shape[1], generator=g).expand(-1, mu.shape[0], -1)),
     ["every example got the same noise in each draw"]),
    ("reparameterize", with_std(STD, lambda mu, k, g: torch.randn(k, mu.shape[0], 1, generator=g).expand(-1, -1, mu.shape[1])),
     ["every latent got the same noise in each draw"]),
    ("reparameterize", lambda mu, logvar, k, generator: vae.reparameterize(mu, logvar, generator), ["has shape (6, 4), one draw per example", "k is ignored", "(256, 6, 4)"]),
    ("reparameterize", lambda mu, logvar, k, generator: reparameterize(mu, logvar, k, generator).transpose(0, 1),
     ["has shape (6, 256, 4)", "the draws run along the second dimension", "(256, 6, 4)"]),
    ("reparameterize", lambda mu, logvar, k, generator: reparameterize(mu, logvar, k, generator).flatten(0, 1),
     ["has shape (1536, 4)", "stacked into one long batch"]),
    ("reparameterize", lambda mu, logvar, k, generator: reparameterize(mu, logvar, 1, generator), ["holds 1 draws per example, but k = 256"]),
    ("reparameterize", lambda mu, logvar, k, generator: reparameterize(mu, logvar, k, generator)[..., :1], ["has shape (256, 6, 1)", "return k draws per example"]),
    ("reparameterize", with_std(torch.exp), ["spread around mu by the variance sigma^2", "not by the standard deviation sigma"]),
    ("reparameterize", with_std(lambda lv: lv), ["spread around mu by logvar itself", "not the standard deviation"]),
    ("reparameterize", with_std(lambda lv: torch.exp(-0.5 * lv)), ["1 / sigma"]),
    ("reparameterize", with_std(lambda lv: 0.5 * torch.exp(lv)), ["half the variance", "does not undo its square"]),
    ("reparameterize", with_std(lambda lv: 1.0), ["spread around mu by 1 whatever logvar says"]),
    ("reparameterize", with_std(lambda lv: torch.exp(0.25 * lv)), ["for example", "your 256 draws spread around mu by", "q's standard deviation is"]),
    ("reparameterize", with_std(torch.sqrt), ["z is NaN wherever logvar is negative", "not the variance itself", "standard deviation from the log-variance"]),
    ("reparameterize", with_std(torch.log), ["z is NaN wherever logvar is negative"]),
    ("reparameterize", lambda mu, logvar, k, generator: reparameterize(mu, logvar, k, generator) - mu, ["centred on 0, not on mu"]),
    ("reparameterize", lambda mu, logvar, k, generator: reparameterize(mu, logvar, k, generator) + 1, ["not centred on mu", "the mean of the 256 draws", "mean 0"]),
    ("reparameterize", with_std(STD, lambda mu, k, g: torch.rand((k, *mu.shape), generator=g)), ["the noise is uniform", "standard-normal noise"]),
    ("reparameterize", reparameterize_without_grad, ["z carries no gradient", "torch.no_grad()"]),
    ("reparameterize", lambda mu, logvar, k, generator: reparameterize(mu, logvar, k, generator).detach(), ["z carries no gradient", ".detach()"]),
    ("reparameterize", reparameterize_detached("mu"), ["no gradient reaches mu"]),
    ("reparameterize", reparameterize_detached("logvar"), ["no gradient reaches logvar"]),
    ("reparameterize", lambda mu, logvar, k, generator: torch.normal(mu.expand(k, -1, -1), torch.exp(0.5 * logvar).expand(k, -1, -1), generator=generator),
     ["torch.normal(mu, std) samples without the trick"]),
    ("reparameterize", lambda mu, logvar, k, generator: (reparameterize(mu, logvar, k, generator), mu), ["should return a torch.Tensor, but returned tuple"]),
    ("reparameterize", lambda mu, logvar, k, generator: reparameterize(mu, logvar, k, generator).double(), ["should have dtype torch.float32"]),
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
    # 8.3 the conditional encoder: the label one-hot, both inputs used, mu and logvar apart and unbounded, shapes and sizes
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, use_label=False), ["identical mu and logvar", "ignores its label y", "beside the pixels"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, use_x=False), ["different images with the same label", "ignores the image x"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, number=lambda y: y[:, None].float()),
     ["the label enters your encoder as one number", "its submodule net", "one-hot vector of num_classes entries"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, number=lambda y: y[:, None].float() / (k - 1)), ["enters your encoder as one number"]),
    ("make_conditional_encoder", LabelBranchEncoder, ["enters your encoder as one number", "its submodule from_y"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, logvar_out=F.softplus), ["your logvar never goes below 0", "leave logvar unbounded"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, logvar_out=torch.sigmoid), ["your logvar never goes below 0"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, logvar_out=torch.exp), ["your logvar never goes below 0", "surer about z than the prior"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, logvar_out=torch.tanh), ["your logvar stays within [-1, 1]", "leave it unbounded"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, logvar_out=lambda h: -F.softplus(h)), ["your logvar never goes above 0"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, logvar_out=lambda h: 3 * torch.sigmoid(h) - 1.5), ["your logvar does not go below -1.5"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, out=nn.ReLU), ["your mu and logvar are never negative"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, out=nn.Tanh), ["your logvar stays within [-1, 1]"]),
    ("make_conditional_encoder", lambda d, k: TanhMuEncoder(d, k), ["your mu stays within", "leave mu unbounded"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, one_head=True), ["mu and logvar are the same numbers", "outputs of its own"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, constant_logvar=True), ["logvar is the same for every image and label"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, flat=True), ["returned one tensor of shape (20, 8)", "side by side", "the pair (mu, logvar)"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(4, k), ["the mu of your encoder on images of shape (6, 1, 8, 8)", "should have shape (6, 2)",
                                                                  "it worked for make_conditional_encoder(4, 10)", "not fixed numbers"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, one_hot_width=None), ["whose labels are all 0 raised RuntimeError", "its width must be num_classes"]),
    ("make_conditional_encoder", lambda d, k: CondEncoder(d, k, unused=True), ["no gradient reaches extra.weight"]),
    ("make_conditional_encoder", lambda d, k: vae.Encoder(vae.VAEConfig(latent_dim=d)), ["raised ValueError"]),
    ("make_conditional_encoder", lambda d, k: "an encoder", ["should return a torch.nn.Module, got str"]),
    ("make_conditional_encoder", lambda d, k: ListEncoder(d, k), ["returned a list of 3 items", "the pair (mu, logvar)"]),
]


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(vae_checks, {
        "reparameterize": "Exercise 8.1 (k reparameterized draws per example)",
        "gaussian_kl": "Exercise 8.2 (the KL between two Gaussians)",
        "make_conditional_encoder": "Exercise 8.3 (a conditional encoder)",
    })
    assert list(CORRECT) == vae_checks.__all__


def test_encoder_whose_forward_is_missing_is_not_attempted(capsys):
    class Empty(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2)

    checks.make_conditional_encoder(lambda d, k: Empty())  # nn.Module's missing forward raises NotImplementedError
    assert capsys.readouterr().out.startswith("⏳ ")


@pytest.mark.parametrize("hidden", [4, 8, 64, 256])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_an_unbounded_encoder_of_any_width_reaches_far_means_and_log_variances(hidden, batch_norm, capsys):
    checks.make_conditional_encoder(lambda d, k: CondEncoder(d, k, hidden=hidden, batch_norm=batch_norm))  # the check seeds itself
    assert capsys.readouterr().out.startswith("✅ ")


@pytest.mark.parametrize("seed", range(5))
def test_the_spread_of_right_draws_passes_whatever_the_learner_seeded(seed, capsys):
    """8.1 measures the draws' spread: right draws pass for any generator, not only the check's seeds."""
    mu, logvar = vae_checks._gaussian_params(6, 4, seed=6)
    g = torch.Generator().manual_seed(1000 + seed)
    vae_checks._judge_spread(reparameterize(mu, logvar, 256, g), mu, logvar)  # raises CheckFailed if not


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)


def test_messages_name_each_slip_without_the_formula_or_the_code():
    """Each usual slip of 8.1 and 8.2 has its own message; none states the formula or the call to write."""
    from genai_course.checks import _vae_slips

    for table in (_vae_slips._SPREAD_SLIPS, _vae_slips._KL_SLIPS):
        messages = [advice for _, advice in table]
        assert len(set(messages)) == len(messages)
        for message in messages:
            assert not any(code in message for code in ("exp(logvar / 2)", "exp(0.5", "sum_j", "1/2 *", "mu_q - mu_p", ".sum(", "dim=", "torch.")), message


@pytest.mark.parametrize("name, fn", [(m[0], m[1]) for m in MISTAKES if m[0] != "gaussian_kl"], ids=lambda v: v if isinstance(v, str) else "")
def test_the_messages_of_8_1_and_8_3_give_no_code(name, fn):
    """8.1's and 8.3's messages say what is wrong, never the line or the call that would fix it."""
    torch.manual_seed(0)
    verdict = checks.REGISTRY[name].verdict(checks.REGISTRY[name].probe(fn), strict=True)
    assert verdict.status == "failed"
    code = ("randn", "F.one_hot", "one_hot(", ".chunk", "nn.Linear", "exp(0.5", "exp(logvar / 2)", ".flatten", "torch.cat", "expand(", "* eps", "[None")
    assert not any(c in verdict.message for c in code), verdict.message
