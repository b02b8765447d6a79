"""Exercise checks for lessons 01-05: the 2D mixtures, the MLP generator and discriminator, the GAN
losses and the training steps.

1.1 ``sample_ring8``, 1.2 ``mixture_log_prob``, 2.1 ``make_generator``, 2.2 ``generate``,
3.1 ``make_discriminator``, 3.2 ``discriminator_accuracy``, 4.1 ``discriminator_loss``,
4.2 ``nonsaturating_g_loss``, 4.3 ``gradient_penalty``, 5.1 ``d_step``, 5.2 ``g_step``,
5.3 ``train_loop``. Lessons call them through ``genai_course.checks``: ``checks.make_generator(fn)``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from .. import data, losses
from ..utils import same
from ._protocol import CheckFailed, _call, _exercise, _scalar, _tensor

__all__ = [
    "sample_ring8", "mixture_log_prob", "make_generator", "generate", "make_discriminator", "discriminator_accuracy",
    "discriminator_loss", "nonsaturating_g_loss", "gradient_penalty", "d_step", "g_step", "train_loop",
]


# --------------------------------------------------------------------------- lesson 01


@_exercise("1.1", "sampling the ring of 8")
def sample_ring8(fn: Callable[..., torch.Tensor]) -> str:
    """fn(n, generator) -> (n, 2) points from the ring of 8 Gaussians."""
    ring = data.ring8()
    x = _tensor("sample_ring8(5000, generator)", _call("sample_ring8", fn, 5000, torch.Generator().manual_seed(0)), (5000, 2))
    again = _call("sample_ring8", fn, 5000, torch.Generator().manual_seed(0))
    if not torch.equal(x, again):
        raise CheckFailed("two calls with generators seeded alike gave different points: pass generator= to every torch.randint / torch.randn call")
    from ..metrics import mode_metrics

    report = mode_metrics(x, ring)
    if report.modes < 8:
        raise CheckFailed(f"points land near only {report.modes} of the 8 ring modes: pick a mode for every point uniformly at random")
    if report.reverse_kl > 0.01:
        raise CheckFailed(f"the modes are not equally likely (reverse KL {report.reverse_kl:.3f}): draw the mode index with torch.randint(8, ...)")
    if report.hq_fraction < 0.97:
        raise CheckFailed(f"only {report.hq_fraction:.0%} of points lie within 3 std of a mode: the noise should have std {ring.std}")
    spread = (x - ring.means[torch.cdist(x, ring.means).argmin(1)]).std().item()
    if not 0.007 < spread < 0.013:
        raise CheckFailed(f"the noise around each mode has std {spread:.4f}, expected {ring.std}")
    return "8 of 8 modes, equal weights, std 0.01"


@_exercise("1.2", "the mixture's log density")
def mixture_log_prob(fn: Callable[..., torch.Tensor]) -> str:
    """fn(x (N, 2), means (K, 2), std) -> log p(x) (N,)."""
    for mix in (data.ring8(), data.grid25()):
        x = mix.sample(64, generator=torch.Generator().manual_seed(1)) + 0.02 * torch.randn(64, 2, generator=torch.Generator().manual_seed(2))
        out = _tensor("mixture_log_prob(x, means, std)", _call("mixture_log_prob", fn, x, mix.means, mix.std), (64,))
        ref = mix.log_prob(x)
        if same(out, ref, 1e-3):
            continue
        if same(out.exp(), ref, 1e-3) or same(out, ref.exp(), 1e-3):
            raise CheckFailed("you returned the density itself, expected its logarithm (use torch.logsumexp)")
        if same(out, ref + math.log(mix.n_modes), 1e-3):
            raise CheckFailed("the mixture weights are missing: subtract log K (every mode has weight 1/K)")
        raise CheckFailed(f"values differ from the true log density on {mix.name} (first point: got {out[0].item():.3f}, expected {ref[0].item():.3f})")
    return "matches the library on the ring and the grid"


# --------------------------------------------------------------------------- lesson 02


def _check_generator_net(G: Any, latent_dim: int, data_dim: int, what: str) -> None:
    if not isinstance(G, nn.Module):
        raise CheckFailed(f"{what} should be a torch.nn.Module, got {type(G).__name__}")
    z = torch.randn(16, latent_dim, generator=torch.Generator().manual_seed(0))
    out = _call(f"{what} on noise of shape (16, {latent_dim})", G, z)
    _tensor("the output for 16 noise vectors", out, (16, data_dim))
    if out.std(0).max() < 1e-6:
        raise CheckFailed("every noise vector gives the same output: the output must depend on z")
    out.pow(2).sum().backward()
    stuck = [name for name, p in G.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    if stuck:
        raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward")


@_exercise("2.1", "the generator network")
def make_generator(fn: Callable[..., nn.Module]) -> str:
    """fn(latent_dim, hidden, data_dim) -> nn.Module mapping (B, latent_dim) -> (B, data_dim)."""
    torch.manual_seed(0)
    for latent_dim, hidden, data_dim in ((2, 32, 2), (5, 16, 3)):
        G = _call(f"make_generator({latent_dim}, {hidden}, {data_dim})", fn, latent_dim, hidden, data_dim)
        _check_generator_net(G, latent_dim, data_dim, "your generator")
    return "shapes, dtype and gradients as expected"


@_exercise("2.2", "generating samples")
def generate(fn: Callable[..., torch.Tensor]) -> str:
    """fn(G, n, generator) -> (n, data_dim): draw z ~ N(0, I) with `generator`, return G(z) without gradients."""
    from ..gan import Generator, GeneratorConfig

    torch.manual_seed(0)
    G = Generator(GeneratorConfig(latent_dim=3, hidden=16, layers=2))
    out = _tensor("generate(G, 100, generator)", _call("generate", fn, G, 100, torch.Generator().manual_seed(7)), (100, 2))
    if out.requires_grad:
        raise CheckFailed("the samples still track gradients: wrap the work in `with torch.no_grad():`")
    with torch.no_grad():
        ref = G(torch.randn(100, 3, generator=torch.Generator().manual_seed(7)))
    if not same(out, ref):
        with torch.no_grad():  # same generator, uniform noise: a specific, common slip
            uniform = G(torch.rand(100, 3, generator=torch.Generator().manual_seed(7)))
        if same(out, uniform):
            raise CheckFailed("the samples are G(z) for uniform z: use torch.randn (not torch.rand) for z ~ N(0, I)")
        if same(out.std(0), ref.std(0), 0.3):
            raise CheckFailed("the samples look plausible but differ from G(torch.randn(n, latent_dim, generator=generator)): draw z with the generator you are given")
        raise CheckFailed("the samples are not G(z) for z ~ N(0, I): use torch.randn (not torch.rand) with shape (n, G.config.latent_dim)")
    return "same seed, same samples"


# --------------------------------------------------------------------------- lesson 03


@_exercise("3.1", "the discriminator network")
def make_discriminator(fn: Callable[..., nn.Module]) -> str:
    """fn(data_dim, hidden) -> nn.Module mapping (B, data_dim) -> logits (B,)."""
    torch.manual_seed(0)
    D = _call("make_discriminator(2, 32)", fn, 2, 32)
    if not isinstance(D, nn.Module):
        raise CheckFailed(f"make_discriminator should return a torch.nn.Module, got {type(D).__name__}")
    x = 5 * torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    out = _call("your discriminator on inputs of shape (256, 2)", D, x)
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (256, 1):
        raise CheckFailed("the output has shape (256, 1): return one logit per example, shape (256,) (use .squeeze(1))")
    out = _tensor("the output for 256 points", out, (256,))
    if out.min() >= 0 and out.max() <= 1:
        raise CheckFailed("the outputs all lie in [0, 1]: they look like probabilities, but the losses expect logits (remove the final sigmoid)")
    out.sum().backward()
    stuck = [name for name, p in D.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    if stuck:
        raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward")
    return "one logit per example"


@_exercise("3.2", "the discriminator's accuracy")
def discriminator_accuracy(fn: Callable[..., Any]) -> str:
    """fn(D, real, fake) -> float: share of examples D classifies correctly (logit > 0 means 'real')."""
    torch.manual_seed(0)

    def D(x: torch.Tensor) -> torch.Tensor:  # a fixed "discriminator": real if x > 0.5
        return 10 * (x[:, 0] - 0.5)

    real = torch.tensor([[1.0, 0], [0.9, 0], [0.2, 0], [0.8, 0]])  # 3 of 4 called real
    fake = torch.tensor([[0.0, 0], [0.1, 0], [0.7, 0], [0.6, 0], [0.3, 0], [0.4, 0]])  # 4 of 6 called fake
    got = _call("discriminator_accuracy(D, real, fake)", fn, D, real, fake)
    got = float(got) if isinstance(got, (float, int, torch.Tensor)) and torch.as_tensor(got).numel() == 1 else got
    if not isinstance(got, float):
        raise CheckFailed(f"should return one number (a float), got {type(got).__name__}")
    expected = 7 / 10
    if abs(got - expected) < 1e-6:
        return "7 of 10 right on a test case"
    if abs(got - (3 / 4 + 4 / 6) / 2) < 1e-6:
        raise CheckFailed("you averaged the two accuracies; count correct examples over all examples instead (the batches differ in size)")
    if abs(got - 3 / 10) < 1e-6:
        raise CheckFailed("labels are swapped: a positive logit means D says 'real'")
    raise CheckFailed(f"on a case with 3 of 4 real and 4 of 6 fake examples classified correctly, expected {expected:.2f}, got {got:.3f}")


# --------------------------------------------------------------------------- lesson 04


def _logits() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(4)
    return 3 * torch.randn(64, generator=g), 3 * torch.randn(64, generator=g) - 1


@_exercise("4.1", "the discriminator's loss")
def discriminator_loss(fn: Callable[..., torch.Tensor]) -> str:
    """fn(real_logits (B,), fake_logits (B,)) -> scalar: binary cross-entropy, real = 1, fake = 0."""
    real, fake = _logits()
    out = _scalar("discriminator_loss(real_logits, fake_logits)", _call("discriminator_loss", fn, real, fake))
    ref = losses.minimax_d(real, fake)
    if same(out, ref):
        return "matches binary cross-entropy on logits"
    if same(out, losses.minimax_d(fake, real)):
        raise CheckFailed("the labels are swapped: real examples should be labelled 1 and fakes 0")
    if same(out, -ref):
        raise CheckFailed("the sign is flipped: D minimises -log D(x) - log(1 - D(G(z)))")
    if same(out, ref / 2):
        raise CheckFailed("you averaged the two terms; add them (each is already a mean over its batch)")
    raise CheckFailed(f"expected {ref.item():.4f} on a test batch, got {out.item():.4f} (the inputs are logits: use F.binary_cross_entropy_with_logits or softplus)")


@_exercise("4.2", "the non-saturating generator loss")
def nonsaturating_g_loss(fn: Callable[..., torch.Tensor]) -> str:
    """fn(fake_logits (B,)) -> scalar: -log D(G(z)), averaged."""
    _, fake = _logits()
    out = _scalar("nonsaturating_g_loss(fake_logits)", _call("nonsaturating_g_loss", fn, fake))
    ref = losses.nonsaturating_g(fake)
    if same(out, ref):
        # It must also be exact for confident D (no log(sigmoid) underflow).
        # (not via _scalar: its "contains NaN or infinite values" would hide the advice below)
        far = _call("nonsaturating_g_loss", fn, torch.tensor([-200.0]))
        if not (isinstance(far, torch.Tensor) and far.numel() == 1 and same(far.reshape(()), torch.tensor(200.0), 1e-3)):
            got = f"{far.item():.4g}" if isinstance(far, torch.Tensor) and far.numel() == 1 else repr(far)
            raise CheckFailed(f"at a logit of -200 the loss should be 200, got {got}: compute log(sigmoid(l)) as -softplus(-l) so it never rounds to log(0)")
        return "matches -log D(G(z)), stable for confident D"
    if same(out, -ref):
        raise CheckFailed("the sign is flipped: G minimises -log D(G(z)), which is large when D rejects the fakes")
    if same(out, losses.minimax_g(fake)):
        raise CheckFailed("this is the saturating (minimax) loss log(1 - D(G(z))); the non-saturating one is -log D(G(z))")
    if same(out, losses.nonsaturating_g(torch.sigmoid(fake))):
        raise CheckFailed("you applied sigmoid and then treated the result as logits again: the input already is logits")
    raise CheckFailed(f"expected {ref.item():.4f} on a test batch, got {out.item():.4f}")


@_exercise("4.3", "the gradient penalty")
def gradient_penalty(fn: Callable[..., torch.Tensor]) -> str:
    """fn(D, real (B, 2), fake (B, 2), eps (B, 1)) -> scalar: mean of (||grad D(x_hat)|| - 1)^2."""
    from ..gan import Discriminator, DiscriminatorConfig

    torch.manual_seed(0)
    D = Discriminator(DiscriminatorConfig(hidden=16, layers=2))
    g = torch.Generator().manual_seed(3)
    real, fake, eps = torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g), torch.rand(32, 1, generator=g)
    out = _scalar("gradient_penalty(D, real, fake, eps)", _call("gradient_penalty", fn, D, real, fake, eps))
    # reference: x_hat = eps real + (1 - eps) fake; E[(||grad_x D(x_hat)|| - 1)^2]
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat)
    ref = (grad.norm(dim=1) - 1).pow(2).mean()
    if not same(out, ref, 1e-4):
        swapped = (((1 - eps) * real + eps * fake).requires_grad_(True))
        (g2,) = torch.autograd.grad(D(swapped).sum(), swapped)
        if same(out, (g2.norm(dim=1) - 1).pow(2).mean(), 1e-4):
            raise CheckFailed("real and fake are mixed the wrong way round: x_hat = eps * real + (1 - eps) * fake")
        if same(out, grad.norm(dim=1).pow(2).mean(), 1e-4) or same(out, (grad.pow(2).sum(1) - 1).pow(2).mean(), 1e-4):
            raise CheckFailed("penalise (||grad|| - 1)^2 with the gradient's norm, not its squared norm")
        raise CheckFailed(f"expected {ref.item():.4f} on a test batch, got {out.item():.4f}")
    if not out.requires_grad:
        raise CheckFailed("the penalty carries no gradient back to D: pass create_graph=True to torch.autograd.grad")
    out.backward()
    # every weight, not the output bias: a constant shift of D does not change its slope
    if any(p.grad is None for name, p in D.named_parameters() if name.endswith("weight")):
        raise CheckFailed("the penalty's gradient does not reach all of D's weights: pass create_graph=True to torch.autograd.grad")
    return "matches the reference and trains D"


# --------------------------------------------------------------------------- lesson 05


def _tiny_gan(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    from ..gan import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

    torch.manual_seed(seed)
    return Generator(GeneratorConfig(hidden=16, layers=2)), Discriminator(DiscriminatorConfig(hidden=16, layers=2))


def _params(m: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in m.parameters()]


def _changed(before: list[torch.Tensor], m: nn.Module) -> bool:
    return any(not torch.equal(b, p) for b, p in zip(before, m.parameters()))


@_exercise("5.1", "a discriminator step")
def d_step(fn: Callable[..., Any]) -> str:
    """fn(G, D, real (B, 2), opt_d) -> float: one update of D with the fakes detached."""
    G, D = _tiny_gan()
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-2)
    real = data.ring8().sample(64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fake = G(torch.randn(64, 2, generator=torch.Generator().manual_seed(1)))

    def bce() -> float:  # D's loss measured here, not as the learner reports it (a flipped sign falls too)
        with torch.no_grad():
            return losses.minimax_d(D(real), D(fake)).item()

    g_before, d_before = _params(G), _params(D)
    bce_before = bce()
    out = _call("d_step(G, D, real, opt_d)", fn, G, D, real, opt_d)
    if not isinstance(out, float):
        raise CheckFailed(f"d_step should return the loss as a Python float (use .item()), got {type(out).__name__}")
    if not _changed(d_before, D):
        raise CheckFailed("D's weights did not change: call opt_d.zero_grad(), loss.backward() and opt_d.step()")
    if _changed(g_before, G):
        raise CheckFailed("G's weights changed during the discriminator's step: only opt_d should step")
    if any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters()):
        raise CheckFailed("gradients reached G: detach the fakes (G(z).detach()) so D's loss does not flow into G")
    for _ in range(30):
        _call("d_step(G, D, real, opt_d)", fn, G, D, real, opt_d)
    bce_after = bce()
    if not bce_after < bce_before:
        raise CheckFailed(f"31 steps raised D's binary cross-entropy ({bce_before:.3f} -> {bce_after:.3f}): D should minimise its loss, not maximise it; is the sign right?")
    return f"D learns (cross-entropy {bce_before:.2f} -> {bce_after:.2f}), G untouched"


@_exercise("5.2", "a generator step")
def g_step(fn: Callable[..., Any]) -> str:
    """fn(G, D, batch_size, opt_g) -> float: one update of G to fool D."""
    G, D = _tiny_gan()
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-2)
    g_before, d_before = _params(G), _params(D)
    out = _call("g_step(G, D, 64, opt_g)", fn, G, D, 64, opt_g)
    if not isinstance(out, float):
        raise CheckFailed(f"g_step should return the loss as a Python float (use .item()), got {type(out).__name__}")
    if not _changed(g_before, G):
        raise CheckFailed("G's weights did not change: call opt_g.zero_grad(), loss.backward() and opt_g.step(), and do not detach the fakes here")
    if _changed(d_before, D):
        raise CheckFailed("D's weights changed during the generator's step: only opt_g should step")
    with torch.no_grad():
        before = D(G(torch.randn(512, 2, generator=torch.Generator().manual_seed(1)))).mean().item()
    for _ in range(30):
        _call("g_step(G, D, 64, opt_g)", fn, G, D, 64, opt_g)
    with torch.no_grad():
        after = D(G(torch.randn(512, 2, generator=torch.Generator().manual_seed(1)))).mean().item()
    if not after > before:
        raise CheckFailed(f"after 30 steps D's logit on the fakes fell ({before:.2f} -> {after:.2f}): G should make D more sure they are real; is the loss's sign right?")
    return f"G fools a fixed D more ({before:.2f} -> {after:.2f})"


@_exercise("5.3", "the training loop")
def train_loop(fn: Callable[..., Any]) -> str:
    """fn(G, D, sample_real, steps, opt_g, opt_d) -> list of (d_loss, g_loss): alternate the two steps."""
    ring = data.ring8()
    G, D = _tiny_gan(seed=1)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.99))
    z = torch.randn(1000, 2, generator=torch.Generator().manual_seed(5))

    def dist() -> float:
        with torch.no_grad():
            return torch.cdist(G(z), ring.means).min(1).values.mean().item()

    before = dist()
    g_before, d_before = _params(G), _params(D)
    gen = torch.Generator().manual_seed(0)
    hist = _call("train(G, D, sample_real, 600, opt_g, opt_d)", fn, G, D, lambda n: ring.sample(n, generator=gen), 600, opt_g, opt_d)
    if not isinstance(hist, (list, tuple)) or len(hist) != 600:
        raise CheckFailed(f"train should return one (d_loss, g_loss) pair per step: a list of 600, got {type(hist).__name__}{'' if not hasattr(hist, '__len__') else f' of {len(hist)}'}")
    if not all(isinstance(h, (tuple, list)) and len(h) == 2 for h in hist):
        raise CheckFailed("each history entry should be a pair (d_loss, g_loss)")
    for net, before_net, step in (("G", g_before, "g_step"), ("D", d_before, "d_step")):
        if not _changed(before_net, G if net == "G" else D):
            raise CheckFailed(f"{net}'s weights never changed in 600 steps: call {step} (which steps opt_{net.lower()}) in every step")
    after = dist()
    # a correct loop lands at 0.3-0.8 x the starting distance (seeds and batch sizes vary), a broken one near 1
    if not after < 0.9 * before:
        raise CheckFailed(f"after 600 steps the samples are no closer to the ring (mean distance to the nearest mode {before:.2f} -> {after:.2f}): does every step update both D and G?")
    return f"samples moved to the ring: mean distance to the nearest mode {before:.2f} -> {after:.2f}"
