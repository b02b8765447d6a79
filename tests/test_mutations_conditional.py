"""The mutation table of lesson 07 (genai_course.checks.conditional): each solution, mutated the ways
learners go wrong, is judged failed with a message that names the mistake (tests/mutation_table.py)."""

from __future__ import annotations

from mutation_table import Mutant, mutation_tests

_ONE_HOT = "one_hot = F.one_hot(y, num_classes).to(x.dtype)"
_MAPS = "maps = one_hot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])"
_JOIN = "return torch.cat([x, maps], dim=1)"
_EMBED = "self.embed = nn.Embedding(num_classes, embed_dim)"
_FORWARD = "x = self.net(torch.cat([z, self.embed(y)], dim=1))"
_G_BODY = """self.embed = nn.Embedding(num_classes, embed_dim)  # one learned vector per class
            self.net = nn.Sequential(
                nn.Linear(latent_dim + embed_dim, 128), nn.ReLU(),
                nn.Linear(128, 64), nn.Sigmoid(),  # 64 pixels in [0, 1]
            )

        def forward(self, z, y):
            x = self.net(torch.cat([z, self.embed(y)], dim=1))"""
_LOGITS = "return head(h) + h @ embed.weight.T"

ROWS = [
    # 7.1 the label as channels: one channel holding y, a fixed 10, before the image, float64, only the corner,
    # the wrong channel, height and width swapped
    Mutant("append_label", "append_label", _ONE_HOT, "one_hot = y[:, None].to(x.dtype)",
           ["has shape (6, 2, 8, 8)", "one channel holding the number y"]),
    Mutant("append_label", "append_label", _ONE_HOT, "one_hot = F.one_hot(y, 10).to(x.dtype)", ["has shape (4, 12, 4, 6)", "not a fixed 10"]),
    Mutant("append_label", "append_label", _JOIN, "return torch.cat([maps, x], dim=1)", ["the label channels come first"]),
    Mutant("append_label", "append_label", _JOIN, "return torch.cat([x, maps], dim=1).double()",
           ["should have dtype torch.float32 like x", "has dtype torch.float64"]),
    Mutant("append_label", "append_label", _MAPS,
           "maps = torch.zeros(*one_hot.shape, x.shape[2], x.shape[3]); maps[:, :, 0, 0] = one_hot",
           ["only the top-left pixel"]),
    Mutant("append_label", "append_label", _ONE_HOT, "one_hot = F.one_hot((y + 1) % num_classes, num_classes).to(x.dtype)",
           ["the ones are in the wrong channel"]),
    Mutant("append_label", "append_label", _MAPS, "maps = one_hot[:, :, None, None].expand(-1, -1, x.shape[3], x.shape[2])",
           ["raised RuntimeError", "height 4 and width 6, in that order"]),
    # 7.2 the embedded label: the lesson's one-hot instead, ignored, a fixed 10 rows, z ignored, flat output, tanh,
    # the first layer's size miscounted
    Mutant("make_conditional_generator", "make_conditional_generator", _G_BODY,
           _G_BODY.replace(_EMBED + "  # one learned vector per class", "embed_dim = num_classes")
                  .replace("self.embed(y)", "F.one_hot(y, num_classes).float()"),
           ["no nn.Embedding ran", "not the lesson's one-hot vector"]),
    Mutant("make_conditional_generator", "make_conditional_generator", _FORWARD, "x = self.net(torch.cat([z, self.embed(torch.zeros_like(y))], dim=1))",
           ["identical images", "ignores its label y"]),
    Mutant("make_conditional_generator", "make_conditional_generator", _EMBED, "self.embed = nn.Embedding(10, embed_dim)",
           ["has 10 rows for num_classes=3"]),
    Mutant("make_conditional_generator", "make_conditional_generator", _FORWARD, "x = self.net(torch.cat([torch.zeros_like(z), self.embed(y)], dim=1))",
           ["different z with the same label give identical images"]),
    Mutant("make_conditional_generator", "make_conditional_generator", "return x.view(-1, 1, 8, 8)", "return x", ["has shape (20, 64)", "reshape it to images"]),
    Mutant("make_conditional_generator", "make_conditional_generator", "nn.Linear(128, 64), nn.Sigmoid()", "nn.Linear(128, 64), nn.Tanh()",
           ["pixels must lie in [0, 1]", "the last activation decides the range"]),
    Mutant("make_conditional_generator", "make_conditional_generator", "nn.Linear(latent_dim + embed_dim, 128)", "nn.Linear(latent_dim + num_classes, 128)",
           ["raised RuntimeError", "latent_dim + embedding size = 24 numbers"]),
    # 7.3 the logits for every label: one per image, transposed, the realism term squeezed or missing, no class term,
    # probabilities, a mean, a detached table
    Mutant("projection_logits", "projection_logits", _LOGITS, "return head(h).squeeze(1)", ["has shape (12,), one logit per image"]),
    Mutant("projection_logits", "projection_logits", _LOGITS, "return (head(h) + h @ embed.weight.T).T", ["has shape (10, 12), one row per label"]),
    Mutant("projection_logits", "projection_logits", _LOGITS, "return head(h).squeeze(1) + h @ embed.weight.T",
           ["raised RuntimeError", "needs a dimension of size 1"]),
    Mutant("projection_logits", "projection_logits", _LOGITS, "return h @ embed.weight.T", ["the realism term is missing"]),
    Mutant("projection_logits", "projection_logits", _LOGITS, "return head(h).expand(-1, embed.num_embeddings)", ["every label gets the same logit"]),
    Mutant("projection_logits", "projection_logits", _LOGITS, "return torch.softmax(head(h) + h @ embed.weight.T, dim=1)", ["each row sums to 1"]),
    Mutant("projection_logits", "projection_logits", _LOGITS, "return head(h) + h @ embed.weight.T / h.shape[1]", ["the mean of e_k * h", "their sum"]),
    Mutant("projection_logits", "projection_logits", _LOGITS, "return head(h) + h @ embed.weight.detach().T",
           ["the gradient does not reach every row of embed"]),
]

test_mutant_is_caught = mutation_tests(ROWS)
