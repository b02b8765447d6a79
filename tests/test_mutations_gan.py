"""The mutation table of lessons 02-03 (genai_course.checks.gan): each solution, mutated the ways learners go wrong, is judged
failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

ROWS = [
    # 2.1, 2.2: the generator (any depth; a straight latent line through G)
    Mutant("make_generator", "make_generator", "blocks.append(nn.Linear(width, data_dim))", "blocks.append(nn.Linear(width, data_dim + 1))",
           ["should have shape (16, 2), but has shape (16, 3)"]),
    Mutant("make_generator", "make_generator", "blocks += [nn.Linear(width, hidden), nn.ReLU()]", "blocks += [nn.Linear(width, hidden)]",
           ["affine function of z"]),
    Mutant("make_generator", "make_generator", "for _ in range(layers):", "for _ in range(layers - 1):", ["1 hidden layer of width 32 too few"]),
    Mutant("make_generator", "make_generator", "return nn.Sequential(*blocks)", "return nn.Sequential(*blocks, nn.ReLU())",
           ["no output coordinate is ever negative"]),
    Mutant("generate", "generate", "    with torch.no_grad():\n        t", "    if True:\n        t", ["still track gradients"]),
    Mutant("generate", "generate", "torch.linspace(0, 1, steps)[:, None]", "(torch.arange(steps) / steps)[:, None]", ["the last is not G(z1)"]),
    Mutant("generate", "generate", "z = (1 - t) * z0 + t * z1", "z = t * z0 + (1 - t) * z1", ["the path runs backwards"]),
    Mutant("generate", "generate", "z = (1 - t) * z0 + t * z1  # (steps, latent_dim): one point of the segment per row\n        return G(z)",
           "return (1 - t) * G(z0[None]) + t * G(z1[None])", ["straight segment from G(z0) to G(z1)"]),
    # 3.1, 3.2: the packed discriminator (probabilities where logits are asked, packs that are not consecutive rows) and its accuracy at a threshold
    Mutant("make_discriminator", "make_discriminator", "return self.net(packs).squeeze(1)", "return torch.sigmoid(self.net(packs).squeeze(1))",
           ["look like probabilities", "logits"]),
    Mutant("make_discriminator", "make_discriminator", "return self.net(packs).squeeze(1)", "return self.net(packs)", ["has shape (256, 1)", "shape (256,)"]),
    Mutant("make_discriminator", "make_discriminator", "packs = x.reshape(x.shape[0] // self.pack, -1)", "packs = x",
           ["raised RuntimeError", "one row should hold a whole pack"]),
    Mutant("make_discriminator", "make_discriminator", "packs = x.reshape(x.shape[0] // self.pack, -1)", "packs = torch.cat(x.chunk(self.pack), dim=1)",
           ["the first logit depends on input rows [0, 128]"]),
    Mutant("discriminator_accuracy", "discriminator_accuracy", "(real_logits > threshold).sum() + (fake_logits <= threshold).sum()",
           "(real_logits <= threshold).sum() + (fake_logits > threshold).sum()", ["labels are swapped"]),
    Mutant("discriminator_accuracy", "discriminator_accuracy", "return right.item() / (real_logits.numel() + fake_logits.numel())",
           "return ((real_logits > threshold).float().mean() + (fake_logits <= threshold).float().mean()).item() / 2", ["averaged the two accuracies"]),
    Mutant("discriminator_accuracy", "discriminator_accuracy", "(real_logits.numel() + fake_logits.numel())", "(real.shape[0] + fake.shape[0])",
           ["divided by the number of rows"]),
    Mutant("discriminator_accuracy", "discriminator_accuracy", "threshold = math.log(p / (1 - p))", "threshold = 0.0", ["ignores p"]),
    Mutant("discriminator_accuracy", "discriminator_accuracy", "threshold = math.log(p / (1 - p))", "threshold = p", ["different units"]),
    Mutant("discriminator_accuracy", "discriminator_accuracy", "math.log(p / (1 - p))", "math.log((1 - p) / p)", ["wrong sign"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
