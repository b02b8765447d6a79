"""The mutation table of lessons 01-04 (genai_course.checks.gan): each solution, mutated the ways learners
go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

ROWS = [
    # 1.1, 1.2: the mixtures
    Mutant("sample_ring8", "sample_ring8", "k = torch.randint(8, (n,), generator=generator)", "k = torch.randint(8, (n,))",
           ["generators seeded alike gave different points"]),
    Mutant("sample_ring8", "sample_ring8", "return means[k] + 0.01 * noise", "return means[k] + noise", ["within 3 std of a mode"]),
    Mutant("sample_ring8", "sample_ring8", "torch.randint(8,", "torch.randint(7,", ["near only 7 of the 8 ring modes"]),
    Mutant("mixture_log_prob", "mixture_log_prob", " - math.log(K)", "", ["mixture weights are missing"]),
    Mutant("mixture_log_prob", "mixture_log_prob", "return torch.logsumexp(-d2 / (2 * std**2), dim=1) - math.log(K) - math.log(2 * math.pi * std**2)",
           "return (torch.logsumexp(-d2 / (2 * std**2), dim=1) - math.log(K) - math.log(2 * math.pi * std**2)).exp()", ["returned the density itself"]),
    # 2.1, 2.2: the generator
    Mutant("make_generator", "make_generator", "nn.Linear(hidden, data_dim),", "nn.Linear(hidden, data_dim + 1),",
           ["should have shape (16, 2), but has shape (16, 3)"]),
    Mutant("generate", "generate", "    with torch.no_grad():\n        z", "    if True:\n        z", ["still track gradients", "torch.no_grad()"]),
    Mutant("generate", "generate", "torch.randn(n, G.config.latent_dim, generator=generator)", "torch.rand(n, G.config.latent_dim, generator=generator)",
           ["uniform z"]),
    Mutant("generate", "generate", "torch.randn(n, G.config.latent_dim, generator=generator)", "torch.randn(n, G.config.latent_dim)",
           ["draw z with the generator you are given"]),
    # 3.1, 3.2: the discriminator (probabilities where logits are asked)
    Mutant("make_discriminator", "make_discriminator", "nn.Flatten(0),", "nn.Flatten(0),\n        nn.Sigmoid(),",
           ["look like probabilities", "remove the final sigmoid"]),
    Mutant("make_discriminator", "make_discriminator", "nn.Flatten(0),", "", ["has shape (256, 1)", "shape (256,)"]),
    Mutant("discriminator_accuracy", "discriminator_accuracy", "(D(real) > 0).sum() + (D(fake) <= 0).sum()",
           "(D(real) <= 0).sum() + (D(fake) > 0).sum()", ["labels are swapped"]),
    Mutant("discriminator_accuracy", "discriminator_accuracy", "return correct.item() / (real.shape[0] + fake.shape[0])",
           "return ((D(real) > 0).float().mean() + (D(fake) <= 0).float().mean()).item() / 2", ["averaged the two accuracies"]),
    # 4.1-4.3: the losses (flipped sign, a sum where a mean is asked, probabilities where logits are asked)
    Mutant("discriminator_loss", "discriminator_loss", "return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
           "return -(F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean())", ["sign is flipped"]),
    Mutant("discriminator_loss", "discriminator_loss", "return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
           "return F.softplus(-real_logits).sum() + F.softplus(fake_logits).sum()", ["sum over the batch", "mean"]),
    Mutant("discriminator_loss", "discriminator_loss", "return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
           "return F.softplus(-fake_logits).mean() + F.softplus(real_logits).mean()", ["labels are swapped"]),
    Mutant("discriminator_loss", "discriminator_loss", "return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()",
           "return F.softplus(-real_logits) + F.softplus(fake_logits)", ["should be a single number", ".mean()"]),
    Mutant("nonsaturating_g_loss", "nonsaturating_g_loss", "return F.softplus(-fake_logits).mean()", "return -F.softplus(-fake_logits).mean()",
           ["sign is flipped"]),
    Mutant("nonsaturating_g_loss", "nonsaturating_g_loss", "return F.softplus(-fake_logits).mean()", "return F.softplus(-fake_logits).sum()",
           ["sum over the batch"]),
    Mutant("nonsaturating_g_loss", "nonsaturating_g_loss", "return F.softplus(-fake_logits).mean()",
           "return F.softplus(-torch.sigmoid(fake_logits)).mean()", ["applied sigmoid"]),
    Mutant("nonsaturating_g_loss", "nonsaturating_g_loss", "return F.softplus(-fake_logits).mean()",
           "return -torch.log(torch.sigmoid(fake_logits)).mean()", ["at a logit of -200", "softplus"]),
    Mutant("gradient_penalty", "gradient_penalty", ", create_graph=True)", ")", ["create_graph=True"]),
    Mutant("gradient_penalty", "gradient_penalty", "(grad.norm(dim=1) - 1).pow(2)", "(grad.pow(2).sum(1) - 1).pow(2)", ["not its squared norm"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
