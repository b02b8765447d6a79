"""genai_course.checks.conditional (lesson 07): correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks, gan
from genai_course.checks import conditional as conditional_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def append_label(z, y, num_classes):
    return torch.cat([z, F.one_hot(y, num_classes).to(z.dtype)], dim=1)  # (B, latent_dim + K)


class CondG(nn.Module):
    """A small conditional generator that can be bent into a typical mistake."""

    def __init__(self, latent_dim, num_classes, *, use_label=True, use_z=True, out=nn.Sigmoid, flat=False, unused=False, label=None):
        super().__init__()
        self.num_classes, self.use_label, self.use_z, self.flat, self.label = num_classes, use_label, use_z, flat, label
        width = {None: num_classes, "number": 1, "ten": num_classes}[label]
        self.net = nn.Sequential(nn.Linear(latent_dim + width, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 64), out())
        if unused:
            self.extra = nn.Linear(4, 4)

    def forward(self, z, y):
        if self.label == "number":  # the label as one number, not one-hot
            return self.net(torch.cat([z, y[:, None].float()], dim=1)).view(-1, 1, 8, 8)
        one_hot = F.one_hot(y, 10 if self.label == "ten" else self.num_classes).float()
        if not self.use_label:
            one_hot = torch.zeros_like(one_hot)
        if not self.use_z:
            z = torch.zeros_like(z)
        x = self.net(torch.cat([z, one_hot], dim=1))  # (B, 64)
        return x if self.flat else x.view(-1, 1, 8, 8)


def make_conditional_generator(latent_dim, num_classes):
    return CondG(latent_dim, num_classes)


def library_generator(latent_dim, num_classes):
    return gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=latent_dim, num_classes=num_classes))


def projection_logits(h, y, embed, head):
    return head(h).squeeze(1) + (embed(y) * h).sum(dim=1)


CORRECT = {
    "append_label": [append_label, lambda z, y, k: torch.cat([z, torch.eye(k)[y]], dim=1)],
    "make_conditional_generator": [make_conditional_generator, library_generator],
    "projection_logits": [projection_logits, lambda h, y, embed, head: head(h)[:, 0] + torch.einsum("bf,bf->b", embed(y), h)],
}


# --------------------------------------------------------------------------- typical mistakes


def one_hot_first(z, y, k):
    return torch.cat([F.one_hot(y, k).float(), z], dim=1)


def off_by_one(z, y, k):
    return torch.cat([z, F.one_hot((y + 1) % k, k).float()], dim=1)


MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    ("append_label", lambda z, y, k: torch.cat([z, y[:, None].float()], dim=1), ["has shape (6, 6)", "appended the label as one number", "F.one_hot"]),
    ("append_label", lambda z, y, k: torch.cat([z, F.one_hot(y, 10).float()], dim=1), ["has shape (4, 13), expected (4, 7)", "not a fixed 10"]),
    ("append_label", lambda z, y, k: torch.cat([z, F.one_hot(y.float(), k)], dim=1), ["raised RuntimeError", "one_hot"]),
    ("append_label", lambda z, y, k: append_label(z, y, k).double(), ["should have dtype torch.float32", "has dtype torch.float64"]),
    ("append_label", lambda z, y, k: F.one_hot(y, k).float(), ["should have shape (6, 15), but has shape (6, 10)"]),
    ("append_label", one_hot_first, ["the one-hot label comes first", "torch.cat([z, one_hot], dim=1)"]),
    ("append_label", lambda z, y, k: torch.cat([z.abs(), F.one_hot(y, k).float()], dim=1), ["the first 5 columns should be z itself"]),
    ("append_label", lambda z, y, k: torch.cat([z, F.one_hot(y, k).float() / k], dim=1), ["should be one-hot: all 0 except a single 1", "for label 7"]),
    ("append_label", off_by_one, ["the 1 is in the wrong column", "should be column 7", "got column 8"]),
    ("append_label", lambda z, y, k: [z, y], ["should return a torch.Tensor, but returned list"]),
    ("make_conditional_generator", lambda d, k: CondG(d, k, use_label=False), ["identical images", "ignores its label y"]),
    ("make_conditional_generator", lambda d, k: CondG(d, k, use_z=False), ["different z with the same label give identical images"]),
    ("make_conditional_generator", lambda d, k: CondG(d, k, out=nn.Tanh), ["pixels must lie in [0, 1]", "end with a sigmoid"]),
    ("make_conditional_generator", lambda d, k: CondG(d, k, out=nn.Identity), ["pixels must lie in [0, 1]"]),
    ("make_conditional_generator", lambda d, k: CondG(d, k, flat=True), ["has shape (20, 64)", "reshape it to images, (B, 1, 8, 8)"]),
    ("make_conditional_generator", lambda d, k: CondG(d, k, unused=True), ["no gradient reaches extra.weight"]),
    ("make_conditional_generator", lambda d, k: gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=d)), ["raised ValueError", "unconditional"]),
    ("make_conditional_generator", lambda d, k: CondG(16, k), ["your generator on z of shape (6, 8)", "raised RuntimeError",
                                                              "made for 19 input features got input of shape (6, 11)", "latent_dim + num_classes = 11"]),
    ("make_conditional_generator", lambda d, k: "a generator", ["should return a torch.nn.Module, got str"]),
    ("projection_logits", lambda h, y, embed, head: head(h).squeeze(1), ["ignores the label", "<embed(y), h>"]),
    ("projection_logits", lambda h, y, embed, head: (embed(y) * h).sum(dim=1), ["unconditional term is missing", "head(h)"]),
    ("projection_logits", lambda h, y, embed, head: head(h) + (embed(y) * h).sum(dim=1, keepdim=True), ["shape (12, 1)", "shape (12,)", ".squeeze(1)"]),
    ("projection_logits", lambda h, y, embed, head: embed(y) * h, ["shape (12, 6)", "sum embed(y) * h over the features"]),
    ("projection_logits", lambda h, y, embed, head: torch.sigmoid(projection_logits(h, y, embed, head)), ["look like probabilities", "remove the sigmoid"]),
    ("projection_logits", lambda h, y, embed, head: projection_logits(h, (y + 1) % 10, embed, head), ["logits differ from head(h) + <embed(y), h>"]),
    ("projection_logits", lambda h, y, embed, head: head(h).squeeze(1) + (embed(y).detach() * h).sum(dim=1), ["gradient does not reach both head and embed"]),
    ("projection_logits", lambda h, y, embed, head: head(h).squeeze(1) + embed(y) @ h.T, ["should have shape (12,), but has shape (12, 12)"]),
]


class LabelBranch(nn.Module):
    """z through one layer, the label as one number through another, added."""

    def __init__(self, latent_dim, num_classes):
        super().__init__()
        self.z_in, self.y_in, self.out = nn.Linear(latent_dim, 32), nn.Linear(1, 32), nn.Sequential(nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid())

    def forward(self, z, y):
        return self.out(self.z_in(z) + self.y_in(y[:, None].float())).view(-1, 1, 8, 8)


class EmbeddedLabel(nn.Module):
    """A learned vector per label appended to z: another right design."""

    def __init__(self, latent_dim, num_classes):
        super().__init__()
        self.embed = nn.Embedding(num_classes, 4)
        self.net = nn.Sequential(nn.Linear(latent_dim + 4, 32), nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid())

    def forward(self, z, y):
        return self.net(torch.cat([z, self.embed(y)], dim=1)).view(-1, 1, 8, 8)


CORRECT["make_conditional_generator"].append(EmbeddedLabel)

MISTAKES += [
    # the label fed as one number instead of one-hot (the layers that ran are recorded)
    ("make_conditional_generator", lambda d, k: CondG(d, k, label="number"),
     ["gets the label as one number", "latent_dim + 1 = 17 inputs", "one-hot vector of num_classes=10 entries"]),
    ("make_conditional_generator", LabelBranch, ["gets the label as one number", "an nn.Linear takes it as 1 input"]),
    # a one-hot of a fixed 10 classes, found by what the first layer got
    ("make_conditional_generator", lambda d, k: CondG(d, k, label="ten"), ["raised RuntimeError", "latent_dim + 10 = 18 inputs for num_classes=3", "not a fixed 10"]),
    # the inner product: a mean, a sum over the batch, an unsqueezed head that broadcasts
    ("projection_logits", lambda h, y, embed, head: head(h).squeeze(1) + (embed(y) * h).mean(dim=1), ["mean of embed(y) * h", "is their sum, .sum(dim=1)"]),
    ("projection_logits", lambda h, y, embed, head: head(h).squeeze(1) + (embed(y) * h).sum(), ["over the whole batch", ".sum(dim=1)"]),
    ("projection_logits", lambda h, y, embed, head: head(h) + (embed(y) * h).sum(dim=1),
     ["should have shape (12,), but has shape (12, 12)", "broadcasts to (12, 12)", "(.squeeze(1))"]),
]


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(conditional_checks, {
        "append_label": "Exercise 7.1 (appending the label to z)",
        "make_conditional_generator": "Exercise 7.2 (a conditional generator)",
        "projection_logits": "Exercise 7.3 (the projection discriminator's logit)",
    })
    assert list(CORRECT) == conditional_checks.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


def test_generator_whose_forward_is_missing_is_not_attempted(capsys):
    class Empty(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2)

    checks.make_conditional_generator(lambda d, k: Empty())  # nn.Module's missing forward raises NotImplementedError
    assert capsys.readouterr().out.startswith("⏳ ")


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
