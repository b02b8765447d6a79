"""The mutation table of lesson 07 (genai_course.checks.conditional): each solution, mutated the ways
learners go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_ONE_HOT = "F.one_hot(y, num_classes).to(z.dtype)"
_G_LABEL = """nn.Linear(latent_dim + num_classes, 128), nn.ReLU(),
                nn.Linear(128, 64), nn.Sigmoid(),  # 64 pixels in [0, 1]
            )

        def forward(self, z, y):
            x = self.net(append_label(z, y, num_classes))"""
_LOGIT = "return head(h).squeeze(1) + (embed(y) * h).sum(dim=1)"

ROWS = [
    # 7.1 appending the label: as one number, a fixed 10 classes, before z, as float64, in the wrong column
    Mutant("append_label", "append_label", _ONE_HOT, "y[:, None].to(z.dtype)", ["has shape (6, 6)", "appended the label as one number", "F.one_hot"]),
    Mutant("append_label", "append_label", _ONE_HOT, "F.one_hot(y, 10).to(z.dtype)", ["has shape (4, 13), expected (4, 7)", "not a fixed 10"]),
    Mutant("append_label", "append_label", "torch.cat([z, one_hot], dim=1)", "torch.cat([one_hot, z], dim=1)", ["the one-hot label comes first"]),
    Mutant("append_label", "append_label", _ONE_HOT, "F.one_hot(y, num_classes).double()", ["should have dtype torch.float32", "has dtype torch.float64"]),
    Mutant("append_label", "append_label", _ONE_HOT, "F.one_hot((y + 1) % num_classes, num_classes).to(z.dtype)", ["the 1 is in the wrong column"]),
    # 7.2 the generator: the label as one number, ignored, a fixed 10 classes, z ignored, flat output, tanh
    Mutant("make_conditional_generator", "make_conditional_generator", _G_LABEL,
           _G_LABEL.replace("latent_dim + num_classes", "latent_dim + 1").replace("append_label(z, y, num_classes)", "torch.cat([z, y[:, None].float()], dim=1)"),
           ["gets the label as one number", "latent_dim + 1 = 17 inputs", "one-hot vector of num_classes=10 entries"]),
    Mutant("make_conditional_generator", "make_conditional_generator", "append_label(z, y, num_classes)", "append_label(z, torch.zeros_like(y), num_classes)",
           ["identical images", "ignores its label y"]),
    Mutant("make_conditional_generator", "make_conditional_generator", "append_label(z, y, num_classes)", "append_label(z, y, 10)",
           ["raised RuntimeError", "latent_dim + 10 = 18 inputs", "not a fixed 10"]),
    Mutant("make_conditional_generator", "make_conditional_generator", "append_label(z, y, num_classes)", "append_label(torch.zeros_like(z), y, num_classes)",
           ["different z with the same label give identical images"]),
    Mutant("make_conditional_generator", "make_conditional_generator", "return x.view(-1, 1, 8, 8)", "return x", ["has shape (20, 64)", "reshape it to images"]),
    Mutant("make_conditional_generator", "make_conditional_generator", "nn.Linear(128, 64), nn.Sigmoid()", "nn.Linear(128, 64), nn.Tanh()",
           ["pixels must lie in [0, 1]", "end with a sigmoid"]),
    # 7.3 the projection logit: a mean for the inner product, a sum over the batch, an unsqueezed head, a missing term,
    # probabilities, a detached embedding
    Mutant("projection_logits", "projection_logits", _LOGIT, "return head(h).squeeze(1) + (embed(y) * h).mean(dim=1)", ["mean", "is their sum, .sum(dim=1)"]),
    Mutant("projection_logits", "projection_logits", _LOGIT, "return head(h).squeeze(1) + (embed(y) * h).sum()", ["over the whole batch", ".sum(dim=1)"]),
    Mutant("projection_logits", "projection_logits", _LOGIT, "return head(h) + (embed(y) * h).sum(dim=1)",
           ["should have shape (12,), but has shape (12, 12)", "broadcasts", ".squeeze(1)"]),
    Mutant("projection_logits", "projection_logits", _LOGIT, "return (embed(y) * h).sum(dim=1)", ["unconditional term is missing"]),
    Mutant("projection_logits", "projection_logits", _LOGIT, "return head(h).squeeze(1)", ["ignores the label"]),
    Mutant("projection_logits", "projection_logits", _LOGIT, "return torch.sigmoid(head(h).squeeze(1) + (embed(y) * h).sum(dim=1))",
           ["look like probabilities"]),
    Mutant("projection_logits", "projection_logits", _LOGIT, "return head(h).squeeze(1) + (embed(y).detach() * h).sum(dim=1)",
           ["gradient does not reach both head and embed"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
