"""genai_course.checks.conditional (lesson 07): correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import checks, gan
from genai_course.checks import conditional as conditional_checks
from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions (7.1: the label as channels)


def append_label(x, y, num_classes):
    maps = F.one_hot(y, num_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])  # (B, K, H, W)
    return torch.cat([x, maps], dim=1)


def append_label_scatter(x, y, num_classes):
    maps = torch.zeros(x.shape[0], num_classes, x.shape[2], x.shape[3])
    maps[torch.arange(x.shape[0]), y] = 1.0  # channel y of each image all ones
    return torch.cat([x, maps], dim=1)


def append_label_repeat(x, y, k):
    return torch.cat([x, torch.eye(k)[y].view(-1, k, 1, 1).repeat(1, 1, *x.shape[2:])], dim=1)


# --------------------------------------------------------------------------- 7.2: a label embedding


class EmbedG(nn.Module):
    """A small generator that takes its label through nn.Embedding, and can be bent into a typical mistake."""

    def __init__(self, latent_dim, num_classes, *, embed_dim=4, rows=None, use_label=True, use_z=True, out=nn.Sigmoid, flat=False,
                 unused=False, first_in=None):
        super().__init__()
        self.use_label, self.use_z, self.flat = use_label, use_z, flat
        self.embed = nn.Embedding(num_classes if rows is None else rows, embed_dim)
        self.net = nn.Sequential(nn.Linear(first_in or latent_dim + embed_dim, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 64), out())
        if unused:
            self.extra = nn.Linear(4, 4)

    def forward(self, z, y):
        e = self.embed(y if self.use_label else torch.zeros_like(y))
        if not self.use_z:
            z = torch.zeros_like(z)
        x = self.net(torch.cat([z, e], dim=1))  # (B, 64)
        return x if self.flat else x.view(-1, 1, 8, 8)


class EmbedAdded(nn.Module):
    """The label's vector added to a projection of z (no concatenation): another right design."""

    def __init__(self, latent_dim, num_classes):
        super().__init__()
        self.z_in, self.embed = nn.Linear(latent_dim, 32), nn.Embedding(num_classes, 32)
        self.out = nn.Sequential(nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid())

    def forward(self, z, y):
        return self.out(self.z_in(z) + self.embed(y)).view(-1, 1, 8, 8)


class EmbedConv(nn.Module):
    """The lesson's convolutional body, with an embedded label in place of the one-hot one."""

    def __init__(self, latent_dim, num_classes):
        super().__init__()
        self.embed = nn.Embedding(num_classes, 10)
        self.project = nn.Sequential(nn.Linear(latent_dim + 10, 16 * 2 * 2), nn.ReLU(), nn.Unflatten(1, (16, 2, 2)))
        self.up = nn.Sequential(nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(8, 1, 4, 2, 1), nn.Sigmoid())

    def forward(self, z, y):
        return self.up(self.project(torch.cat([z, self.embed(y)], dim=1)))


class OneHotG(nn.Module):
    """The lesson's way (a one-hot label appended to z), or the label as one number."""

    def __init__(self, latent_dim, num_classes, *, number=False):
        super().__init__()
        self.num_classes, self.number = num_classes, number
        self.net = nn.Sequential(nn.Linear(latent_dim + (1 if number else num_classes), 32), nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid())

    def forward(self, z, y):
        label = y[:, None].float() if self.number else F.one_hot(y, self.num_classes).float()
        return self.net(torch.cat([z, label], dim=1)).view(-1, 1, 8, 8)


class EmbedInForward(nn.Module):
    """A new nn.Embedding made at every call: it runs, but is not one of the generator's layers."""

    def __init__(self, latent_dim, num_classes):
        super().__init__()
        self.num_classes = num_classes
        self.net = nn.Sequential(nn.Linear(latent_dim + 4, 32), nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid())

    def forward(self, z, y):
        return self.net(torch.cat([z, nn.Embedding(self.num_classes, 4)(y)], dim=1)).view(-1, 1, 8, 8)


class LabelBranch(nn.Module):
    """z through one layer, the label as one number through another, added."""

    def __init__(self, latent_dim, num_classes):
        super().__init__()
        self.z_in, self.y_in, self.out = nn.Linear(latent_dim, 32), nn.Linear(1, 32), nn.Sequential(nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid())

    def forward(self, z, y):
        return self.out(self.z_in(z) + self.y_in(y[:, None].float())).view(-1, 1, 8, 8)


# --------------------------------------------------------------------------- 7.3: the logits for every label


def projection_logits(h, embed, head):
    return head(h) + h @ embed.weight.T  # (B, K)


CORRECT = {
    "append_label": [append_label, append_label_scatter, append_label_repeat],
    "make_conditional_generator": [lambda d, k: EmbedG(d, k), EmbedAdded, EmbedConv],
    "projection_logits": [
        projection_logits,
        lambda h, embed, head: head(h) + torch.einsum("bf,kf->bk", h, embed(torch.arange(embed.num_embeddings))),
        lambda h, embed, head: torch.stack([head(h).squeeze(1) + (embed(torch.full((h.shape[0],), k)) * h).sum(1)
                                            for k in range(embed.num_embeddings)], dim=1),  # one label at a time: slower, right
    ],
}


# --------------------------------------------------------------------------- typical mistakes


def _maps(x, y, k, value=None):
    one_hot = F.one_hot(y, k).to(x.dtype) if value is None else value
    return one_hot[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])


def label_first(x, y, k):
    return torch.cat([_maps(x, y, k), x], dim=1)


def corner_only(x, y, k):
    maps = torch.zeros(x.shape[0], k, x.shape[2], x.shape[3])
    maps[:, :, 0, 0] = F.one_hot(y, k).float()
    return torch.cat([x, maps], dim=1)


def edits_x(x, y, k):
    x.clamp_(0.0, 0.5)
    return append_label(x, y, k)


MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    ("append_label", lambda x, y, k: torch.cat([x, y.float()[:, None, None, None].expand(-1, 1, *x.shape[2:])], dim=1),
     ["has shape (6, 2, 8, 8)", "one channel holding the number y", "num_classes=10 channels, one per class"]),
    ("append_label", lambda x, y, k: append_label(x, y, 10), ["has shape (4, 12, 4, 6), expected (4, 6, 4, 6)", "not a fixed 10"]),
    ("append_label", lambda x, y, k: torch.cat([x.flatten(1), F.one_hot(y, k).float()], dim=1), ["has shape (6, 74), flat vectors", "(6, 11, 8, 8)"]),
    ("append_label", lambda x, y, k: torch.cat([x, F.one_hot(y, k).float()[:, :, None, None].expand(-1, -1, x.shape[3], x.shape[2])], 1),
     ["raised RuntimeError", "height 4 and width 6, in that order"]),
    ("append_label", lambda x, y, k: torch.cat([x, y.float()[:, None, None, None].expand(-1, k, *x.shape[2:])], dim=1),
     ["all ones for the label's class and all zeros for the others", "for label 7"]),
    ("append_label", lambda x, y, k: append_label(x, y, k).double(), ["should have dtype torch.float32 like x", "has dtype torch.float64"]),
    ("append_label", label_first, ["the label channels come first"]),
    ("append_label", lambda x, y, k: torch.cat([x.round(), _maps(x, y, k)], dim=1), ["the first 1 channel(s) should be the image x itself"]),
    ("append_label", edits_x, ["changed the x you were given"]),
    ("append_label", corner_only, ["only the top-left pixel", "fill the whole 8 x 8 channel"]),
    ("append_label", lambda x, y, k: torch.cat([x, _maps(x, y, k) * torch.rand(x.shape[2], x.shape[3])], dim=1),
     ["one value at every pixel", "vary across the image"]),
    ("append_label", lambda x, y, k: torch.cat([x, _maps(x, y, k) / k], dim=1), ["all ones for the label's class and all zeros", "for label 7"]),
    ("append_label", lambda x, y, k: torch.cat([x, _maps(x, (y + 1) % k, k)], dim=1),
     ["the ones are in the wrong channel", "label channel 7 should be the ones", "got channel 8"]),
    ("append_label", lambda x, y, k: [x, y], ["should return a torch.Tensor, but returned list"]),
    # 7.2
    ("make_conditional_generator", lambda d, k: OneHotG(d, k), ["no nn.Embedding ran", "not the lesson's one-hot vector"]),
    ("make_conditional_generator", lambda d, k: EmbedG(d, k, use_label=False), ["identical images", "ignores its label y"]),
    ("make_conditional_generator", lambda d, k: EmbedG(d, k, use_z=False), ["different z with the same label give identical images"]),
    ("make_conditional_generator", lambda d, k: EmbedG(d, k, out=nn.Tanh), ["pixels must lie in [0, 1]", "the last activation decides the range"]),
    ("make_conditional_generator", lambda d, k: EmbedG(d, k, out=nn.Identity), ["pixels must lie in [0, 1]"]),
    ("make_conditional_generator", lambda d, k: EmbedG(d, k, flat=True), ["has shape (20, 64)", "reshape it to images, (B, 1, 8, 8)"]),
    ("make_conditional_generator", lambda d, k: EmbedG(d, k, unused=True), ["no gradient reaches extra.weight"]),
    ("make_conditional_generator", lambda d, k: EmbedG(d, k, rows=10), ["your nn.Embedding has 10 rows for num_classes=3", "one row per class"]),
    ("make_conditional_generator", lambda d, k: EmbedG(d, k, rows=k - 1), ["raised IndexError", "an nn.Embedding with 9 rows got labels up to 9",
                                                                          "num_classes=10 rows"]),
    ("make_conditional_generator", lambda d, k: EmbedG(d, k, first_in=d + 8), ["raised RuntimeError", "made for 24 input features got input of shape (20, 20)",
                                                                              "latent_dim + embedding size = 20 numbers"]),
    ("make_conditional_generator", lambda d, k: OneHotG(d, k, number=True), ["gets the label as one number", "latent_dim + 1 = 17 inputs",
                                                                            "a learned vector of its own"]),
    ("make_conditional_generator", LabelBranch, ["gets the label as one number", "an nn.Linear takes it as 1 input"]),
    ("make_conditional_generator", EmbedInForward, ["is not one of your generator's layers", "make it in __init__"]),
    ("make_conditional_generator", lambda d, k: "a generator", ["should return a torch.nn.Module, got str"]),
    # 7.3
    ("projection_logits", lambda h, embed, head: head(h).squeeze(1), ["has shape (12,), one logit per image", "one per image and per label, shape (12, 10)"]),
    ("projection_logits", lambda h, embed, head: embed.weight @ h.T + head(h).T, ["has shape (10, 12), one row per label", "(12, 10)"]),
    ("projection_logits", lambda h, embed, head: h * head.weight + h, ["has shape (12, 6), one number per feature", "sums over the features"]),
    ("projection_logits", lambda h, embed, head: h[:, None, :] * embed.weight[None] + head(h)[:, :, None],
     ["has shape (12, 10, 6)", "sums over the features"]),
    ("projection_logits", lambda h, embed, head: head(h).expand(-1, embed.num_embeddings), ["every label gets the same logit", "<e_k, h>"]),
    ("projection_logits", lambda h, embed, head: h @ embed.weight.T, ["the realism term is missing"]),
    ("projection_logits", lambda h, embed, head: h @ head.weight.T + h @ embed.weight.T, ["the bias b of the realism term", "is missing"]),
    ("projection_logits", lambda h, embed, head: torch.sigmoid(projection_logits(h, embed, head)), ["look like probabilities", "no sigmoid"]),
    ("projection_logits", lambda h, embed, head: projection_logits(h, embed, head).softmax(dim=1), ["each row sums to 1", "softmax over the labels"]),
    ("projection_logits", lambda h, embed, head: head(h) + h @ embed.weight.T / h.shape[1], ["the mean of e_k * h over the features", "their sum"]),
    ("projection_logits", lambda h, embed, head: head(h).squeeze(1) + h @ embed.weight.T,
     ["raised RuntimeError", "a (12,) tensor and a (12, 10) one do not add up", "a dimension of size 1"]),
    ("projection_logits", lambda h, embed, head: head(h) + h @ embed.weight, ["raised RuntimeError", "shapes cannot be multiplied", "pair up their 6 features"]),
    ("projection_logits", lambda h, embed, head: head(h) + h @ embed.weight.T.roll(1, dims=1), ["120 logits differ", "image 0, label 0"]),
    ("projection_logits", lambda h, embed, head: head(h) + h @ embed.weight.detach().T, ["the gradient does not reach every row of embed", ".detach()"]),
    ("projection_logits", lambda h, embed, head: head(h).detach() + h @ embed.weight.T, ["the gradient does not reach head"]),
]

# the same mistakes written another way: each fails with the message of its twin above
AGAIN = [
    ("make_conditional_generator", lambda d, k: gan.ConvGenerator(gan.ConvGeneratorConfig(latent_dim=d, num_classes=k)), ["no nn.Embedding ran"]),
    ("projection_logits", lambda h, embed, head: head(h) + h @ embed.weight.data.T, ["the gradient does not reach every row of embed"]),
]


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(conditional_checks, {
        "append_label": "Exercise 7.1 (the label as image channels)",
        "make_conditional_generator": "Exercise 7.2 (a generator with a label embedding)",
        "projection_logits": "Exercise 7.3 (the projection logits for every label)",
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


@pytest.mark.parametrize("name, fn, fragments", MISTAKES + AGAIN, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES + AGAIN)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    assert_named_mistake(name, fn, fragments, capsys)


def test_each_typical_mistake_has_its_own_message(capsys):
    """Two different mistakes never fail with the same words: each message says what that mistake got wrong."""
    messages = {}
    for name, fn, _ in MISTAKES:
        try:
            getattr(checks, name)(fn)
        except checks.CheckFailed as failure:
            messages.setdefault(str(failure), []).append(name)
    capsys.readouterr()
    assert len(messages) == len(MISTAKES), [m for m, names in messages.items() if len(names) > 1]


def test_no_message_quotes_the_solution():
    """A failure says what is wrong, never the answer line: no message holds the code of a solution."""
    answers = ["torch.cat(", "F.one_hot(", ".expand(", "embed.weight.T", "h @ ", ".sum(dim=1)", ".squeeze(1)", "nn.Embedding(num_classes"]
    for name, fn, _ in MISTAKES + AGAIN:
        try:
            getattr(checks, name)(fn)
        except checks.CheckFailed as failure:
            assert not [a for a in answers if a in str(failure)], str(failure)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES + AGAIN)
