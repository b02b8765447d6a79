"""The mutation table of lesson 04 (genai_course.checks.gan_losses): each solution, mutated the ways learners go wrong, is judged
failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

ROWS = [
    # 4.1-4.3: the losses (flipped sign, a sum where a mean is asked, the soft label, exp that overflows, the one-sided penalty)
    Mutant("discriminator_loss", "discriminator_loss", "return real_term.mean() + F.softplus(fake_logits).mean()",
           "return -(real_term.mean() + F.softplus(fake_logits).mean())", ["sign is flipped"]),
    Mutant("discriminator_loss", "discriminator_loss", "return real_term.mean() + F.softplus(fake_logits).mean()",
           "return real_term.sum() + F.softplus(fake_logits).sum()", ["sum over the batch", "mean"]),
    Mutant("discriminator_loss", "discriminator_loss", "return real_term.mean() + F.softplus(fake_logits).mean()",
           "return real_term + F.softplus(fake_logits)", ["should be a single number", ".mean()"]),
    Mutant("discriminator_loss", "discriminator_loss", "real_label * F.softplus(-real_logits) + (1 - real_label) * F.softplus(real_logits)",
           "real_label * F.softplus(-real_logits)", ["scaled the real examples' loss"]),
    Mutant("discriminator_loss", "discriminator_loss", "real_label * F.softplus(-real_logits) + (1 - real_label) * F.softplus(real_logits)",
           "F.softplus(-real_logits)", ["the same as with real_label=1.0"]),
    Mutant("discriminator_loss", "discriminator_loss", "F.softplus(fake_logits).mean()",
           "F.binary_cross_entropy_with_logits(fake_logits, torch.full_like(fake_logits, 1 - real_label))", ["one-sided"]),
    Mutant("discriminator_loss", "discriminator_loss",
           "real_term = real_label * F.softplus(-real_logits) + (1 - real_label) * F.softplus(real_logits)",
           "p = torch.sigmoid(real_logits)\n    real_term = -(real_label * torch.log(p) + (1 - real_label) * torch.log(1 - p))", ["rounds to exactly 1"]),
    Mutant("nonsaturating_g_loss", "nonsaturating_g_loss", "return (a.clamp(min=0)", "return -(a.clamp(min=0)", ["sign is flipped"]),
    Mutant("nonsaturating_g_loss", "nonsaturating_g_loss", "torch.exp(-a.abs()))).mean()", "torch.exp(-a.abs()))).sum()", ["sum over the batch"]),
    Mutant("nonsaturating_g_loss", "nonsaturating_g_loss", "a = -fake_logits", "a = -torch.sigmoid(fake_logits)", ["applied sigmoid"]),
    Mutant("nonsaturating_g_loss", "nonsaturating_g_loss", "return (a.clamp(min=0) + torch.log1p(torch.exp(-a.abs()))).mean()",
           "return torch.log1p(torch.exp(a)).mean()", ["at a logit of -200", "overflows"]),
    Mutant("nonsaturating_g_loss", "nonsaturating_g_loss", "return (a.clamp(min=0) + torch.log1p(torch.exp(-a.abs()))).mean()",
           "return torch.where(a > 0, a + torch.log1p(torch.exp(-a)), torch.log1p(torch.exp(a))).mean()", ["is nan", "torch.where"]),
    Mutant("nonsaturating_g_loss", "nonsaturating_g_loss", "return (a.clamp(min=0) + torch.log1p(torch.exp(-a.abs()))).mean()",
           "return F.softplus(a).mean()", ["calls F.softplus"]),
    Mutant("gradient_penalty", "gradient_penalty", ", create_graph=True)", ")", ["carries no gradient back to D's weights"]),
    Mutant("gradient_penalty", "gradient_penalty", "(grad.norm(dim=1) - 1).pow(2)", "(grad.pow(2).sum(1) - 1).pow(2)", ["not its squared norm"]),
    Mutant("gradient_penalty", "gradient_penalty", "F.relu(grad.norm(dim=1) - 1)", "(grad.norm(dim=1) - 1)", ["slopes below 1 are penalised too"]),
    Mutant("gradient_penalty", "gradient_penalty", "F.relu(grad.norm(dim=1) - 1)", "F.relu(1 - grad.norm(dim=1))", ["let steeper ones through"]),
    Mutant("gradient_penalty", "gradient_penalty", "(eps * real + (1 - eps) * fake)", "(eps * fake + (1 - eps) * real)", ["wrong way round"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
