"""The mutation table of lesson 08 (genai_course.checks.vae): each solution, mutated the ways learners
go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_Z = "return mu + torch.exp(0.5 * logvar) * eps"
_KL = "return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)"
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
    Mutant("reparameterize", "reparameterize", _Z, "return mu + torch.exp(logvar) * eps", ["exp(logvar) is the variance", "exp(logvar / 2)"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + logvar * eps", ["logvar is the log of the variance, not the standard deviation"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + torch.sqrt(logvar) * eps", ["z is NaN wherever logvar is negative", "not the variance itself"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + torch.exp(-0.5 * logvar) * eps", ["1 / sigma"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu + 0.5 * torch.exp(logvar) * eps", ["half the variance"]),
    Mutant("reparameterize", "reparameterize", "torch.randn(mu.shape, generator=generator)", "torch.randn_like(mu)",
           ["the same seed gave two different z", "use the generator"]),
    Mutant("reparameterize", "reparameterize", "torch.randn(mu.shape, generator=generator)", "torch.rand(mu.shape, generator=generator)",
           ["torch.rand draws uniform noise"]),
    Mutant("reparameterize", "reparameterize", _Z, "return (mu + torch.exp(0.5 * logvar) * eps).detach()", ["z carries no gradient"]),
    Mutant("reparameterize", "reparameterize", _Z, "return mu.detach() + torch.exp(0.5 * logvar) * eps", ["no gradient reaches mu"]),
    # 8.2 the KL term: a flipped sign, a sum (or mean) over the batch where one KL per example is asked, logvar misread
    Mutant("gaussian_kl", "gaussian_kl", "return 0.5 *", "return -0.5 *", ["KL is never negative", "the sign is flipped"]),
    Mutant("gaussian_kl", "gaussian_kl", ".sum(dim=1)", ".sum()", ["returned a single number", "one KL per example, shape (8,)", "not over the batch"]),
    Mutant("gaussian_kl", "gaussian_kl", ".sum(dim=1)", ".sum(dim=1).mean()", ["the mean over the batch", "one KL per example"]),
    Mutant("gaussian_kl", "gaussian_kl", ".sum(dim=1)", ".sum(dim=0)", ["you summed over the batch (dim=0)"]),
    Mutant("gaussian_kl", "gaussian_kl", ".sum(dim=1)", ".mean(dim=1)", ["averaged over the latent dimensions"]),
    Mutant("gaussian_kl", "gaussian_kl", "return 0.5 * (", "return (", ["the factor 1/2 is missing"]),
    Mutant("gaussian_kl", "gaussian_kl", "logvar.exp()", "logvar", ["not logvar itself"]),
    Mutant("gaussian_kl", "gaussian_kl", "logvar.exp()", "(0.5 * logvar).exp()", ["exp(logvar / 2) is the standard deviation"]),
    Mutant("gaussian_kl", "gaussian_kl", _KL, "return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - torch.log(logvar)).sum(dim=1)",
           ["contains NaN or infinite values", "the log of logvar"]),
    Mutant("gaussian_kl", "gaussian_kl", _KL, _KL + ".detach()", ["the KL carries no gradient"]),
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
           ["whose labels are all 0 raised RuntimeError", "F.one_hot(y, num_classes)"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", ".view(-1, 1, 8, 8)", ".view(20, 1, 8, 8)", ["don't fix the batch size"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", "nn.Linear(latent_dim + num_classes, 128)", "nn.Linear(4 + 10, 128)",
           ["it worked for make_conditional_decoder(4, 10)", "not fixed numbers"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", "torch.cat([z, one_hot], dim=1)", "torch.cat([z, torch.zeros_like(one_hot)], dim=1)",
           ["ignores its label y"]),
    Mutant("make_conditional_decoder", "make_conditional_decoder", "torch.cat([z, one_hot], dim=1))", "torch.cat([z, one_hot], dim=1)).detach()",
           ["no gradient reaches net.0.weight"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
