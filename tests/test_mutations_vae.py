"""The mutation table of lesson 08 (genai_course.checks.vae): each solution, mutated the ways learners
go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_Z = "return mu + torch.exp(0.5 * logvar) * eps"
_KL = "return 0.5 * (logvar_p - logvar_q + spread / logvar_p.exp() - 1.0).sum(dim=1)"
_SPREAD = "spread = logvar_q.exp() + (mu_q - mu_p).pow(2)"
# the decoder's first layer and its one-hot input together: a label appended as one number changes both
_DECODER = """nn.Linear(latent_dim + num_classes, 128), nn.ReLU(),
                nn.Linear(128, 64),  # 64 pixel logits, no sigmoid
            )

        def forward(self, z, y):
            one_hot = F.one_hot(y, num_classes).to(z.dtype)"""


def _as_number(label: str) -> str:
    return _DECODER.replace("latent_dim + num_classes", "latent_dim + 1").replace("F.one_hot(y, num_classes).to(z.dtype)", label)


ROWS = [
    # 8.1 the reparameterization trick: logvar used as a std or a variance, the noise without the generator, no gradient
    Mutant("reparameterize", "reparameterize", _Z, "return mu + torch.exp(logvar) * eps", ["exp(logvar) is the variance", "scaled by the standard deviation sigma"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + logvar * eps", ["logvar is the log of the variance, not the standard deviation"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + torch.sqrt(logvar) * eps", ["z is NaN wherever logvar is negative", "not the variance itself"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + torch.exp(-0.5 * logvar) * eps", ["1 / sigma"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + 0.5 * torch.exp(logvar) * eps", ["half the variance"]),
    Mutant("reparameterize", "reparameterize", "torch.randn(mu.shape, generator=generator)", "torch.randn_like(mu)",
           ["the same seed gave two different z", "use the generator"]),
    Mutant("reparameterize", "reparameterize", "torch.randn(mu.shape, generator=generator)", "torch.rand(mu.shape, generator=generator)",
           ["it is uniform noise"]),
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
    # 8.3 the conditional decoder: the label as one number, probabilities where logits are asked, shapes and sizes
    Mutant("make_conditional_decoder", "make_conditional_decoder", _DECODER, _as_number("y[:, None].to(z.dtype)"),
           ["the label enters your decoder as one number", "one-hot vector of num_classes entries"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", _DECODER, _as_number("y[:, None].to(z.dtype) / num_classes"),
           ["the label enters your decoder as one number", "one-hot vector of num_classes entries"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", "nn.Linear(128, 64),  # 64 pixel logits, no sigmoid",
           "nn.Linear(128, 64), nn.Sigmoid(),", ["look like probabilities", "remove the final sigmoid"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", "nn.Linear(128, 64),  # 64 pixel logits, no sigmoid",
           "nn.Linear(128, 64), nn.Tanh(),", ["the logits stay in [-1, 1]", "a final tanh"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", "return logits.view(-1, 1, 8, 8)", "return logits",
           ["has shape (20, 64)", "reshape the 64 logits to images"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", "F.one_hot(y, num_classes)", "F.one_hot(y)",
           ["whose labels are all 0 raised RuntimeError", "its width must be num_classes"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", ".view(-1, 1, 8, 8)", ".view(20, 1, 8, 8)", ["don't fix the batch size"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", "nn.Linear(latent_dim + num_classes, 128)", "nn.Linear(4 + 10, 128)",
           ["it worked for make_conditional_decoder(4, 10)", "not fixed numbers"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", "torch.cat([z, one_hot], dim=1)", "torch.cat([z, torch.zeros_like(one_hot)], dim=1)",
           ["ignores its label y"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", "torch.cat([z, one_hot], dim=1))", "torch.cat([z, one_hot], dim=1)).detach()",
           ["no gradient reaches net.0.weight"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
