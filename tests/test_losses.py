"""genai_course.losses: parity with PyTorch in float64, signs, stability, saturation, penalties."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genai_course import losses
from genai_course.gan import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig


def bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def mse(values: torch.Tensor, target: float) -> torch.Tensor:
    return F.mse_loss(values, torch.full_like(values, target))


# name -> (library function, trusted formula), both on (real, fake) logits
D_PARITY = {
    "minimax_d": (losses.minimax_d, lambda r, f: bce(r, 1.0) + bce(f, 0.0)),
    "nonsaturating_d": (losses.nonsaturating_d, lambda r, f: bce(r, 1.0) + bce(f, 0.0)),
    "least_squares_d": (losses.least_squares_d, lambda r, f: 0.5 * mse(r, 1.0) + 0.5 * mse(f, 0.0)),
    "wasserstein_d": (losses.wasserstein_d, lambda r, f: f.mean() - r.mean()),
    "hinge_d": (losses.hinge_d, lambda r, f: torch.relu(1 - r).mean() + torch.relu(1 + f).mean()),
}
G_PARITY = {
    "minimax_g": (losses.minimax_g, lambda f: -bce(f, 0.0)),  # log(1 - sigmoid(f))
    "nonsaturating_g": (losses.nonsaturating_g, lambda f: bce(f, 1.0)),  # -log sigmoid(f)
    "least_squares_g": (losses.least_squares_g, lambda f: 0.5 * mse(f, 1.0)),
    "wasserstein_g": (losses.wasserstein_g, lambda f: -f.mean()),
    "hinge_g": (losses.hinge_g, lambda f: -f.mean()),
}


def logits64(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return 4 * torch.randn(257, generator=g, dtype=torch.float64), 4 * torch.randn(257, generator=g, dtype=torch.float64) - 1


@pytest.mark.parametrize("name", D_PARITY)
def test_d_loss_parity_float64(name):
    fn, reference = D_PARITY[name]
    real, fake = logits64()
    out = fn(real, fake)
    assert out.shape == () and out.dtype == torch.float64
    torch.testing.assert_close(out, reference(real, fake), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", G_PARITY)
def test_g_loss_parity_float64(name):
    fn, reference = G_PARITY[name]
    _, fake = logits64()
    out = fn(fake)
    assert out.shape == () and out.dtype == torch.float64
    torch.testing.assert_close(out, reference(fake), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", D_PARITY)
def test_d_loss_gradient_parity_float64(name):
    fn, reference = D_PARITY[name]
    real, fake = (t.requires_grad_(True) for t in logits64(1))
    got = torch.autograd.grad(fn(real, fake), (real, fake))
    expected = torch.autograd.grad(reference(real, fake), (real, fake))
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-14)


def test_loss_table():
    assert list(losses.LOSSES) == ["minimax", "nonsaturating", "least_squares", "wasserstein", "hinge"]
    assert losses.get_loss("minimax") == (losses.minimax_d, losses.minimax_g)
    assert losses.get_loss("nonsaturating").g is losses.nonsaturating_g


def test_get_loss_unknown_name_message():
    with pytest.raises(
        ValueError, match=re.escape("unknown loss 'wgan': choose one of minimax, nonsaturating, least_squares, wasserstein, hinge")
    ):
        losses.get_loss("wgan")


@pytest.mark.parametrize("family", list(losses.LOSSES))
def test_derivative_signs(family):
    """A sign flip anywhere is caught: D's loss falls as real logits rise and fake logits fall; G's as fake logits rise."""
    pair = losses.get_loss(family)
    # inside every margin: hinge is active for real < 1 and fake > -1, least squares pulls fake to 0 from above
    real = torch.tensor([0.3, 0.6, 0.9], requires_grad=True)
    fake = torch.tensor([0.1, 0.2, 0.5], requires_grad=True)
    d_real, d_fake = torch.autograd.grad(pair.d(real, fake), (real, fake))
    (g_fake,) = torch.autograd.grad(pair.g(fake), fake)
    assert (d_real < 0).all(), d_real
    assert (d_fake > 0).all(), d_fake
    assert (g_fake < 0).all(), g_fake


@pytest.mark.parametrize(
    "fn, args, expected",
    [
        (losses.minimax_d, (200.0, -200.0), 0.0),
        (losses.minimax_d, (-200.0, 200.0), 400.0),
        (losses.minimax_g, (200.0,), -200.0),
        (losses.minimax_g, (-200.0,), 0.0),
        (losses.nonsaturating_g, (-200.0,), 200.0),
        (losses.nonsaturating_g, (200.0,), 0.0),
        (losses.least_squares_d, (200.0, -200.0), 0.5 * 199.0**2 + 0.5 * 200.0**2),
        (losses.least_squares_g, (-200.0,), 0.5 * 201.0**2),
        (losses.wasserstein_d, (200.0, -200.0), -400.0),
        (losses.wasserstein_g, (-200.0,), 200.0),
        (losses.hinge_d, (200.0, -200.0), 0.0),
        (losses.hinge_d, (-200.0, 200.0), 402.0),
        (losses.hinge_g, (200.0,), -200.0),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_exact_and_finite_at_logits_200(fn, args, expected):
    tensors = [torch.tensor([a], requires_grad=True) for a in args]  # float32, where sigmoid rounds to 0 or 1
    out = fn(*tensors)
    assert out.item() == expected
    out.backward()
    assert all(torch.isfinite(t.grad).all() for t in tensors)


def test_saturation_minimax_flat_nonsaturating_steep():
    """Where D confidently rejects the fakes, the minimax G loss has no slope; the non-saturating one has -1/B."""
    B = 4
    fake = torch.full((B,), -30.0, dtype=torch.float64, requires_grad=True)
    (minimax_grad,) = torch.autograd.grad(losses.minimax_g(fake), fake)
    (nonsat_grad,) = torch.autograd.grad(losses.nonsaturating_g(fake), fake)
    assert minimax_grad.abs().max() < 1e-13
    torch.testing.assert_close(nonsat_grad, torch.full((B,), -1 / B, dtype=torch.float64), rtol=1e-12, atol=0)


def linear_critic(w: list[float]) -> nn.Linear:
    """D(x) = w . x as a module, so the penalty's gradient to D's parameters can be checked."""
    D = nn.Linear(len(w), 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([w]))
    return D


@pytest.mark.parametrize("w, expected", [([1.0, 0.0], 0.0), ([0.0, -1.0], 0.0), ([0.0, 3.0], 4.0), ([-3.0, 0.0], 4.0)])
def test_gradient_penalty_linear_critic_exact(w, expected):
    D = linear_critic(w)
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)
    gp = losses.gradient_penalty(lambda x: D(x).squeeze(1), real, fake, generator=g)
    assert gp.item() == expected


def test_gradient_penalty_has_create_graph():
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||: for w = (0, 3) that is (0, 4)
    D = linear_critic([0.0, 3.0])
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    losses.gradient_penalty(lambda x: D(x).squeeze(1), real, fake).backward()
    torch.testing.assert_close(D.weight.grad, torch.tensor([[0.0, 4.0]]))


def test_gradient_penalty_trains_a_network_critic_but_not_the_generator():
    torch.manual_seed(0)
    G, D = Generator(GeneratorConfig(hidden=8, layers=2)), Discriminator(DiscriminatorConfig(hidden=8, layers=2))
    fake = G(torch.randn(16, 2))  # still attached to G
    gp = losses.gradient_penalty(D, torch.randn(16, 2), fake)
    assert gp.requires_grad and gp.item() > 0
    gp.backward()
    assert all(p.grad is None for p in G.parameters())
    # every weight feels the slope (the output bias does not: it shifts D without tilting it)
    for name, p in D.named_parameters():
        if name.endswith("weight"):
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_gradient_penalty_same_generator_same_value_on_images():
    D = linear_critic([0.5] * 64)
    g = torch.Generator().manual_seed(2)
    real, fake = torch.rand(6, 1, 8, 8, generator=g), torch.rand(6, 1, 8, 8, generator=g)
    critic = lambda x: D(x.flatten(1)).squeeze(1)  # noqa: E731
    a = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(3))
    b = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(3))
    assert a.item() == b.item() == pytest.approx((0.5 * 8 - 1) ** 2)  # ||w|| = 0.5 * sqrt(64) = 4


def test_gradient_penalty_shape_mismatch_message():
    D = linear_critic([1.0, 0.0])
    with pytest.raises(ValueError, match=re.escape("real and fake must have the same shape (got (4, 2) and (3, 2))")):
        losses.gradient_penalty(lambda x: D(x).squeeze(1), torch.randn(4, 2), torch.randn(3, 2))


@pytest.mark.parametrize("w", [[1.0, 2.0], [0.0, 3.0], [0.5, -0.5]])
def test_r1_penalty_linear_critic_is_squared_norm(w):
    D = linear_critic(w)
    r1 = losses.r1_penalty(lambda x: D(x).squeeze(1), torch.randn(10, 2))
    expected = sum(v * v for v in w)
    assert r1.item() == pytest.approx(expected, rel=1e-6)
    r1.backward()  # create_graph: d/dw ||w||^2 = 2 w
    torch.testing.assert_close(D.weight.grad, 2 * torch.tensor([w]))
