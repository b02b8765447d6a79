"""genai_course.checks.gan_losses (lesson 04: the GAN losses): correct code passes, unattempted code waits, typical mistakes are named."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from genai_course.checks import gan_losses

from check_protocol import assert_named_mistake, assert_registered, file_round_trip_tests, reference_tests

# --------------------------------------------------------------------------- reference solutions


def discriminator_loss(real_logits, fake_logits, real_label=0.9):
    return F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, real_label)) + F.binary_cross_entropy_with_logits(
        fake_logits, torch.zeros_like(fake_logits)
    )


def discriminator_loss_softplus(real_logits, fake_logits, real_label=0.9):
    return real_label * F.softplus(-real_logits).mean() + (1 - real_label) * F.softplus(real_logits).mean() + F.softplus(fake_logits).mean()


def nonsaturating_g_loss(fake_logits):  # -log sigmoid(l) = log(1 + e^a), a = -l, without ever exponentiating a > 0
    a = -fake_logits
    return (a.clamp(min=0) + torch.log1p(torch.exp(-a.abs()))).mean()


def nonsaturating_g_loss_relu_log(fake_logits):
    return (F.relu(-fake_logits) + torch.log(1 + torch.exp(-fake_logits.abs()))).mean()


def gradient_penalty(D, real, fake, eps, side=F.relu, norm=lambda g: g.norm(dim=1), create_graph=True, power=2):
    """The one-sided penalty; the keywords bend it into the typical mistakes below."""
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=create_graph)
    return side(norm(grad) - 1).pow(power).mean()


CORRECT = {
    "discriminator_loss": [discriminator_loss, discriminator_loss_softplus],
    "nonsaturating_g_loss": [nonsaturating_g_loss, nonsaturating_g_loss_relu_log],
    "gradient_penalty": [gradient_penalty, lambda D, r, f, e: gradient_penalty(D, r, f, e, side=lambda d: d.clamp(min=0))],
}


# --------------------------------------------------------------------------- typical mistakes


def bce_on_probabilities(r, f, real_label=0.9):  # right for moderate logits, wrong where sigmoid rounds to 1
    return F.binary_cross_entropy(r.sigmoid(), torch.full_like(r, real_label)) + F.binary_cross_entropy(f.sigmoid(), torch.zeros_like(f))


def ns_where(f):  # right values, but the discarded branch overflows: nan gradients
    return torch.where(f < 0, -f + torch.log1p(torch.exp(f)), torch.log1p(torch.exp(-f))).mean()


def gp_mistake(**bend):
    return lambda D, real, fake, eps: gradient_penalty(D, real, fake, eps, **bend)


MISTAKES = [
    # (check, learner's function, fragments the message must contain)
    ("discriminator_loss", lambda r, f, real_label=0.9: discriminator_loss(f, r, 1.0), ["labels are swapped", "real examples should be labelled 1"]),
    ("discriminator_loss", lambda r, f, real_label=0.9: -discriminator_loss(r, f, real_label), ["sign is flipped"]),
    ("discriminator_loss", lambda r, f, real_label=0.9: discriminator_loss(r, f, real_label) / 2, ["averaged the two terms"]),
    ("discriminator_loss", lambda r, f, real_label=0.9: F.binary_cross_entropy(r.sigmoid(), torch.ones_like(r), reduction="none"), ["should be a single number", "has shape (64,)"]),
    ("discriminator_loss", lambda r, f, real_label=0.9: F.binary_cross_entropy(r.clamp(0, 1), torch.ones_like(r)) + F.binary_cross_entropy(f.clamp(0, 1), torch.zeros_like(f)), ["the inputs are logits"]),
    ("discriminator_loss", lambda r, f, real_label=0.9: discriminator_loss(r, f, 1.0), ["real_label=0.9 the loss is the same as with real_label=1.0"]),
    ("discriminator_loss", lambda r, f, real_label=0.9: discriminator_loss(r, f, 0.9), ["with real_label=1.0 you returned the loss for a label of 0.9"]),
    ("discriminator_loss", lambda r, f, real_label=0.9: real_label * F.softplus(-r).mean() + F.softplus(f).mean(), ["scaled the real examples' loss", "not a weight"]),
    ("discriminator_loss", lambda r, f, real_label=0.9: discriminator_loss(r, f, real_label) + F.binary_cross_entropy_with_logits(f, torch.full_like(f, 1 - real_label)) - F.softplus(f).mean(),
     ["fakes' label moved too", "one-sided"]),
    ("discriminator_loss", bce_on_probabilities, ["real logits (30, 2)", "rounds to exactly 1"]),
    ("nonsaturating_g_loss", lambda f: -nonsaturating_g_loss(f), ["sign is flipped"]),
    ("nonsaturating_g_loss", lambda f: torch.log(1 - torch.sigmoid(f)).mean(), ["saturating (minimax) loss"]),
    ("nonsaturating_g_loss", lambda f: -torch.log(torch.sigmoid(f)).mean(), ["at a logit of -200 the loss should be 200, got inf", "left float32's range", "sigmoid(-200) rounds to 0"]),
    ("nonsaturating_g_loss", lambda f: torch.log1p(torch.exp(-f)).mean(), ["at a logit of -200 the loss should be 200, got inf", "e^200 overflows to inf"]),
    ("nonsaturating_g_loss", lambda f: (-f + torch.log1p(torch.exp(f))).mean(), ["at a logit of +200 the loss should be about 0, got inf", "left float32's range"]),
    ("nonsaturating_g_loss", ns_where, ["gradient at a logit of -200 or +200 is nan", "torch.where"]),
    ("nonsaturating_g_loss", lambda f: nonsaturating_g_loss(f).detach(), ["carries no gradient back to the logits"]),
    ("nonsaturating_g_loss", lambda f: (F.relu(-f).detach() + torch.log1p(torch.exp(-f.abs()))).mean(), ["should be (-0.5, 0), got (0.0, -0.0)"]),
    ("nonsaturating_g_loss", lambda f: F.softplus(-f).mean(), ["calls F.softplus", "build that stable form yourself"]),
    ("nonsaturating_g_loss", lambda f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f)), ["calls F.binary_cross_entropy_with_logits"]),
    ("nonsaturating_g_loss", lambda f: torch.logaddexp(torch.zeros_like(f), -f).mean(), ["calls torch.logaddexp"]),
    ("nonsaturating_g_loss", lambda f: nonsaturating_g_loss(torch.sigmoid(f)), ["applied sigmoid"]),
    ("gradient_penalty", gp_mistake(create_graph=False), ["carries no gradient back to D's weights", "not itself recorded"]),
    ("gradient_penalty", gp_mistake(norm=lambda g: g.pow(2).sum(1)), ["not its squared norm"]),
    ("gradient_penalty", lambda D, real, fake, eps: gradient_penalty(D, fake, real, eps), ["wrong way round", "eps is the weight of the real example"]),
    ("gradient_penalty", gp_mistake(side=lambda d: d), ["slopes below 1 are penalised too"]),
    ("gradient_penalty", gp_mistake(side=lambda d: F.relu(-d)), ["let steeper ones through"]),
    ("gradient_penalty", gp_mistake(power=1), ["square how far each slope goes above 1"]),
]


def test_the_checks_are_registered_and_each_has_a_reference_here():
    assert_registered(gan_losses, {
        "discriminator_loss": "Exercise 4.1 (the discriminator's loss with a soft real label)",
        "nonsaturating_g_loss": "Exercise 4.2 (a stable non-saturating loss from exp and log)",
        "gradient_penalty": "Exercise 4.3 (a one-sided gradient penalty)",
    })
    assert list(CORRECT) == gan_losses.__all__


test_correct_solution_passes, test_checks_leave_the_global_random_state_alone = reference_tests(CORRECT)


@pytest.mark.parametrize("name, fn, fragments", MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_typical_mistake_is_named(name, fn, fragments, capsys):
    torch.manual_seed(0)
    assert_named_mistake(name, fn, fragments, capsys)


test_the_verdict_survives_the_observation_files = file_round_trip_tests(CORRECT, MISTAKES)
