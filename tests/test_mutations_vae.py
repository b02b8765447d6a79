"""The mutation table of lesson 08 (genai_course.checks.vae): each solution, mutated the ways learners
go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_Z = "return mu + torch.exp(0.5 * logvar) * eps"
_EPS = "torch.randn((k, *mu.shape), generator=generator)"
_KL = "return 0.5 * (logvar_p - logvar_q + spread / logvar_p.exp() - 1.0).sum(dim=1)"
_SPREAD = "spread = logvar_q.exp() + (mu_q - mu_p).pow(2)"
# the encoder's first layer and its one-hot input together: a label appended as one number changes both
_ENCODER = """nn.Linear(64 + num_classes, 128), nn.ReLU(),  # 64 pixels and the one-hot label
                nn.Linear(128, 2 * latent_dim),  # L means, then L log-variances, unbounded
            )

        def forward(self, x, y):
            one_hot = F.one_hot(y, num_classes).to(x.dtype)"""


def _as_number(label: str) -> str:
    return _ENCODER.replace("64 + num_classes", "64 + 1").replace("F.one_hot(y, num_classes).to(x.dtype)", label)


ROWS = [
    # 8.1 k draws per example: one noise for all k, k ignored or misplaced, logvar used as a std or a variance, no generator, no gradient
    Mutant("reparameterize", "reparameterize", _EPS, "torch.randn(mu.shape, generator=generator)", ["has shape (6, 4), one draw per example", "k is ignored"]),
    Mutant("reparameterize", "reparameterize", _EPS, "torch.randn(mu.shape, generator=generator).expand(k, -1, -1)",
           ["the 256 draws of each example are all the same", "noise of its own"]),
    Mutant("reparameterize", "reparameterize", _EPS, "torch.randn((k, 1, mu.shape[1]), generator=generator)", ["every example got the same noise"]),
    Mutant("reparameterize", "reparameterize", _EPS, "torch.randn((mu.shape[0], k, mu.shape[1]), generator=generator)",
           ["raised RuntimeError", "line up with the last two axes of the noise", "the draws in front"]),
    Mutant("reparameterize", "reparameterize", _Z, "return (mu + torch.exp(0.5 * logvar) * eps).transpose(0, 1)",
           ["has shape (6, 256, 4)", "the draws run along the second dimension"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + torch.exp(logvar) * eps", ["spread around mu by the variance sigma^2"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + logvar * eps", ["spread around mu by logvar itself"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + torch.sqrt(logvar) * eps", ["z is NaN wherever logvar is negative", "not the variance itself"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + torch.exp(-0.5 * logvar) * eps", ["1 / sigma"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + 0.5 * torch.exp(logvar) * eps", ["half the variance"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + eps", ["spread around mu by 1 whatever logvar says"]),
    Mutant("reparameterize", "reparameterize", _Z, "return torch.exp(0.5 * logvar) * eps", ["centred on 0, not on mu"]),
    Mutant("reparameterize", "reparameterize", _EPS, "torch.randn((k, *mu.shape))", ["the same seed gave two different z", "use the generator"]),
    Mutant("reparameterize", "reparameterize", _EPS, "torch.rand((k, *mu.shape), generator=generator)", ["the noise is uniform"]),
    Mutant("reparameterize", "reparameterize", _Z, "return (mu + torch.exp(0.5 * logvar) * eps).detach()", ["z carries no gradient"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu.detach() + torch.exp(0.5 * logvar) * eps", ["no gradient reaches mu"]),
    # 8.2 the KL between two Gaussians: a flipped sign or direction, the prior's mean or variance left out, logvar misread, wrong sums
    Mutant("gaussian_kl", "gaussian_kl", "return 0.5 *", "return -0.5 *", ["a KL is never negative", "the sign of your whole expression is flipped"]),
    Mutant("gaussian_kl", "gaussian_kl", "return 0.5 * (", "return (", ["a factor of one half is missing"]),
    Mutant("gaussian_kl", "gaussian_kl", "logvar_p - logvar_q +", "logvar_q - logvar_p +", ["the two log-variances has its sign flipped"]),
    Mutant("gaussian_kl", "gaussian_kl", "spread / logvar_p.exp()", "spread", ["right for a prior of variance 1 only"]),
    Mutant("gaussian_kl", "gaussian_kl", "(mu_q - mu_p).pow(2)", "mu_q.pow(2)", ["ignores the prior's mean"]),
    Mutant("gaussian_kl", "gaussian_kl", _SPREAD + "  # E_q[(z - mu_p)^2], (B, L)\n    " + _KL,
           "return 0.5 * (mu_q.pow(2) + logvar_q.exp() - 1.0 - logvar_q).sum(dim=1)", ["ignores the prior's mean and variance", "the KL to N(0, I)"]),
    Mutant("gaussian_kl", "gaussian_kl", _SPREAD, "spread = logvar_q + (mu_q - mu_p).pow(2)", ["you used logvar_q as a variance"]),
    Mutant("gaussian_kl", "gaussian_kl", "logvar_q.exp() +", "(0.5 * logvar_q).exp() +", ["the standard deviation from logvar_q where the variance belongs"]),
    Mutant("gaussian_kl", "gaussian_kl", "spread / logvar_p.exp()", "spread / logvar_p", ["you used logvar_p as a variance"]),
    Mutant("gaussian_kl", "gaussian_kl", " - 1.0)", ")", ["a constant term is missing"]),
    Mutant("gaussian_kl", "gaussian_kl", ".sum(dim=1)", ".mean(dim=1)", ["averaged over the latents"]),
    Mutant("gaussian_kl", "gaussian_kl", ".sum(dim=1)", ".sum()", ["returned a single number", "one KL per example, shape (8,)"]),
    Mutant("gaussian_kl", "gaussian_kl", ".sum(dim=1)", ".sum(dim=1).mean()", ["the mean over the batch", "one KL per example"]),
    Mutant("gaussian_kl", "gaussian_kl", ".sum(dim=1)", ".sum(dim=0)", ["you added up over the examples"]),
    Mutant("gaussian_kl", "gaussian_kl", "logvar_p - logvar_q", "logvar_p - torch.log(logvar_q)", ["contains NaN or infinite values", "don't take their log"]),
    Mutant("gaussian_kl", "gaussian_kl", _KL, _KL + ".detach()", ["the KL carries no gradient"]),
    Mutant("gaussian_kl", "gaussian_kl", "(mu_q - mu_p).pow(2)", "(mu_q - mu_p.detach()).pow(2)", ["no gradient reaches mu_p"]),
    # 8.3 the conditional encoder: the label as one number or ignored, the image ignored, a bounded or shared logvar, shapes and sizes
    Mutant("make_conditional_encoder", "make_conditional_encoder", _ENCODER, _as_number("y[:, None].to(x.dtype)"),
           ["the label enters your encoder as one number", "one-hot vector of num_classes entries"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", _ENCODER, _as_number("y[:, None].to(x.dtype) / num_classes"), ["the label enters your encoder as one number"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "torch.cat([x.flatten(1), one_hot], dim=1)", "torch.cat([x.flatten(1), torch.zeros_like(one_hot)], dim=1)", ["ignores its label y"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "torch.cat([x.flatten(1), one_hot], dim=1)", "torch.cat([torch.zeros_like(x.flatten(1)), one_hot], dim=1)", ["ignores the image x"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "            return mu, logvar", "            return mu, F.softplus(logvar)", ["your logvar never goes below 0", "leave logvar unbounded"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "            return mu, logvar", "            return mu, torch.sigmoid(logvar)", ["your logvar never goes below 0"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "            return mu, logvar", "            return mu, logvar.exp()", ["your logvar never goes below 0"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "            return mu, logvar", "            return mu, torch.tanh(logvar)", ["your logvar stays within [-1, 1]"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "nn.Linear(128, 2 * latent_dim),", "nn.Linear(128, 2 * latent_dim), nn.ReLU(),", ["your mu and logvar are never negative"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "mu, logvar = h.chunk(2, dim=1)", "mu = logvar = h[:, :latent_dim]", ["mu and logvar are the same numbers"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "            return mu, logvar", "            return mu, torch.zeros_like(mu)", ["logvar is the same for every image and label"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "            return mu, logvar", "            return h", ["returned one tensor of shape (20, 8)", "the pair (mu, logvar)"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "F.one_hot(y, num_classes)", "F.one_hot(y)", ["whose labels are all 0 raised RuntimeError", "its width must be num_classes"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "nn.Linear(128, 2 * latent_dim)", "nn.Linear(128, 2 * 4)", ["it worked for make_conditional_encoder(4, 10)", "not fixed numbers"]),
    Mutant("make_conditional_encoder", "make_conditional_encoder", "torch.cat([x.flatten(1), one_hot], dim=1))", "torch.cat([x.flatten(1), one_hot], dim=1)).detach()", ["no gradient reaches net.0.weight"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
