"""Exercise checks for lessons 01-04: the 2D mixtures, the MLP generator and discriminator, the GAN losses.

1.1 ``sample_ring8``, 1.2 ``mixture_log_prob``, 2.1 ``make_generator``, 2.2 ``generate``,
3.1 ``make_discriminator``, 3.2 ``discriminator_accuracy``, 4.1 ``discriminator_loss``,
4.2 ``nonsaturating_g_loss``, 4.3 ``gradient_penalty`` (lesson 05's steps: ``steps``).
Lessons call them through ``genai_course.checks``: ``checks.make_generator(fn)``.
Each is a probe (``def name(fn, seen)``: runs the learner's code, records what it saw) and a judge
(``@name.judge``: from those observations to the verdict), see ``_protocol``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from .. import data, losses
from ..utils import same
from ._protocol import CheckFailed, Observed, _call, _exercise, _module_or_stop, _number, _scalar, _tensor
from .observations import observe

__all__ = [
    "sample_ring8", "mixture_log_prob", "make_generator", "generate", "make_discriminator", "discriminator_accuracy",
    "discriminator_loss", "nonsaturating_g_loss", "gradient_penalty",
]


# --------------------------------------------------------------------------- lesson 01


@_exercise("1.1", "sampling the ring of 8")
def sample_ring8(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(n, generator) -> (n, 2) points from the ring of 8 Gaussians."""
    seen["x"] = observe(_call("sample_ring8", fn, 5000, torch.Generator().manual_seed(0)))
    seen["again"] = observe(_call("sample_ring8", fn, 5000, torch.Generator().manual_seed(0)))


@sample_ring8.judge
def _judge_sample_ring8(seen: Observed) -> str:
    ring = data.ring8()
    x = _tensor("sample_ring8(5000, generator)", seen["x"], (5000, 2))
    again = _tensor("sample_ring8(5000, generator)", seen["again"], (5000, 2))
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


def _mixture_cases() -> list[tuple[Any, torch.Tensor]]:
    cases = []
    for mix in (data.ring8(), data.grid25()):
        x = mix.sample(64, generator=torch.Generator().manual_seed(1)) + 0.02 * torch.randn(64, 2, generator=torch.Generator().manual_seed(2))
        cases.append((mix, x))
    return cases


@_exercise("1.2", "the mixture's log density")
def mixture_log_prob(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(x (N, 2), means (K, 2), std) -> log p(x) (N,)."""
    for mix, x in _mixture_cases():
        seen[mix.name] = observe(_call("mixture_log_prob", fn, x, mix.means, mix.std))


@mixture_log_prob.judge
def _judge_mixture_log_prob(seen: Observed) -> str:
    for mix, x in _mixture_cases():
        out = _tensor("mixture_log_prob(x, means, std)", seen[mix.name], (64,))
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


def _stuck(net: nn.Module) -> list[str]:
    """The parameters of ``net`` that the last backward pass did not reach."""
    return [name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]


def _probe_module(net: Any, what: str, x: torch.Tensor, key: str, seen: dict, loss: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Record whether ``net`` is a Module, its output on ``x``, and which parameters a backward pass of
    ``loss(output)`` missed; stop the probe where the next step cannot run."""
    _module_or_stop(seen, f"{key}.module", net)
    out = _call(what, net, x)
    seen[f"{key}.out"] = observe(out)
    if type(out) is not torch.Tensor or not out.is_floating_point() or not out.requires_grad:
        seen[f"{key}.stuck"] = [name for name, _ in net.named_parameters()]
        return
    _call(f"the backward pass through {what}", lambda: loss(out).backward())
    seen[f"{key}.stuck"] = _stuck(net)


def _judge_module(seen: Observed, key: str, what: str) -> None:
    """``what``: "<who> should be" or "<who> should return"."""
    if seen[f"{key}.module"] is not None:
        raise CheckFailed(f"{what} a torch.nn.Module, got {seen[f'{key}.module']}")


_GENERATOR_CASES = ((2, 32, 2), (5, 16, 3))


@_exercise("2.1", "the generator network")
def make_generator(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn(latent_dim, hidden, data_dim) -> nn.Module mapping (B, latent_dim) -> (B, data_dim)."""
    torch.manual_seed(0)
    for latent_dim, hidden, data_dim in _GENERATOR_CASES:
        G = _call(f"make_generator({latent_dim}, {hidden}, {data_dim})", fn, latent_dim, hidden, data_dim)
        z = torch.randn(16, latent_dim, generator=torch.Generator().manual_seed(0))
        _probe_module(G, f"your generator on noise of shape (16, {latent_dim})", z, f"G{latent_dim}", seen, lambda y: y.pow(2).sum())


@make_generator.judge
def _judge_make_generator(seen: Observed) -> str:
    for latent_dim, _, data_dim in _GENERATOR_CASES:
        _judge_module(seen, f"G{latent_dim}", "your generator should be")
        out = _tensor("the output for 16 noise vectors", seen[f"G{latent_dim}.out"], (16, data_dim))
        if out.std(0).max() < 1e-6:
            raise CheckFailed("every noise vector gives the same output: the output must depend on z")
        stuck = seen[f"G{latent_dim}.stuck"]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward")
    return "shapes, dtype and gradients as expected"


def _generate_case() -> nn.Module:
    from ..gan import Generator, GeneratorConfig

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return Generator(GeneratorConfig(latent_dim=3, hidden=16, layers=2))


@_exercise("2.2", "generating samples")
def generate(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(G, n, generator) -> (n, data_dim): draw z ~ N(0, I) with `generator`, return G(z) without gradients."""
    seen["out"] = observe(_call("generate", fn, _generate_case(), 100, torch.Generator().manual_seed(7)))


@generate.judge
def _judge_generate(seen: Observed) -> str:
    rec = seen["out"]
    out = _tensor("generate(G, 100, generator)", rec, (100, 2))
    if rec["requires_grad"]:
        raise CheckFailed("the samples still track gradients: wrap the work in `with torch.no_grad():`")
    G = _generate_case()
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
def make_discriminator(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn(data_dim, hidden) -> nn.Module mapping (B, data_dim) -> logits (B,)."""
    torch.manual_seed(0)
    D = _call("make_discriminator(2, 32)", fn, 2, 32)
    x = 5 * torch.randn(256, 2, generator=torch.Generator().manual_seed(0))
    _probe_module(D, "your discriminator on inputs of shape (256, 2)", x, "D", seen, lambda y: y.sum())


@make_discriminator.judge
def _judge_make_discriminator(seen: Observed) -> str:
    _judge_module(seen, "D", "make_discriminator should return")
    rec = seen["D.out"]
    if rec["type"] == "Tensor" and tuple(rec["shape"]) == (256, 1):
        raise CheckFailed("the output has shape (256, 1): return one logit per example, shape (256,) (use .squeeze(1))")
    out = _tensor("the output for 256 points", rec, (256,))
    if out.min() >= 0 and out.max() <= 1:
        raise CheckFailed("the outputs all lie in [0, 1]: they look like probabilities, but the losses expect logits (remove the final sigmoid)")
    stuck = seen["D.stuck"]
    if stuck:
        raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward")
    return "one logit per example"


def _accuracy_case() -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor, torch.Tensor]:
    def D(x: torch.Tensor) -> torch.Tensor:  # a fixed "discriminator": real if x > 0.5
        return 10 * (x[:, 0] - 0.5)

    real = torch.tensor([[1.0, 0], [0.9, 0], [0.2, 0], [0.8, 0]])  # 3 of 4 called real
    fake = torch.tensor([[0.0, 0], [0.1, 0], [0.7, 0], [0.6, 0], [0.3, 0], [0.4, 0]])  # 4 of 6 called fake
    return D, real, fake


@_exercise("3.2", "the discriminator's accuracy")
def discriminator_accuracy(fn: Callable[..., Any], seen: dict) -> None:
    """fn(D, real, fake) -> float: share of examples D classifies correctly (logit > 0 means 'real')."""
    seen["out"] = observe(_call("discriminator_accuracy(D, real, fake)", fn, *_accuracy_case()))


@discriminator_accuracy.judge
def _judge_discriminator_accuracy(seen: Observed) -> str:
    rec = seen["out"]
    one = rec["type"] in ("float", "int") or (rec["type"] == "Tensor" and math.prod(rec["shape"]) == 1)
    if not one:
        raise CheckFailed(f"should return one number (a float), got {rec['type']}")
    got = _number("discriminator_accuracy(D, real, fake)", rec)
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
def discriminator_loss(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(real_logits (B,), fake_logits (B,)) -> scalar: binary cross-entropy, real = 1, fake = 0."""
    seen["out"] = observe(_call("discriminator_loss", fn, *_logits()))


@discriminator_loss.judge
def _judge_discriminator_loss(seen: Observed) -> str:
    real, fake = _logits()
    out = _scalar("discriminator_loss(real_logits, fake_logits)", seen["out"])
    ref = losses.minimax_d(real, fake)
    if same(out, ref):
        return "matches binary cross-entropy on logits"
    if same(out, losses.minimax_d(fake, real)):
        raise CheckFailed("the labels are swapped: real examples should be labelled 1 and fakes 0")
    if same(out, -ref):
        raise CheckFailed("the sign is flipped: D minimises -log D(x) - log(1 - D(G(z)))")
    if same(out, ref / 2):
        raise CheckFailed("you averaged the two terms; add them (each is already a mean over its batch)")
    if same(out, ref * real.numel(), 1e-3):
        raise CheckFailed("that is a sum over the batch: each term should be a mean over its batch (use .mean(), or the losses' default reduction)")
    raise CheckFailed(f"expected {ref.item():.4f} on a test batch, got {out.item():.4f} (the inputs are logits: use F.binary_cross_entropy_with_logits or softplus)")


@_exercise("4.2", "the non-saturating generator loss")
def nonsaturating_g_loss(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(fake_logits (B,)) -> scalar: -log D(G(z)), averaged."""
    _, fake = _logits()
    seen["out"] = observe(_call("nonsaturating_g_loss", fn, fake))
    seen["far"] = observe(_call("nonsaturating_g_loss", fn, torch.tensor([-200.0])))


@nonsaturating_g_loss.judge
def _judge_nonsaturating_g_loss(seen: Observed) -> str:
    _, fake = _logits()
    out = _scalar("nonsaturating_g_loss(fake_logits)", seen["out"])
    ref = losses.nonsaturating_g(fake)
    if same(out, ref):
        # It must also be exact for confident D (no log(sigmoid) underflow).
        # (not via _scalar: its "contains NaN or infinite values" would hide the advice below)
        far = seen["far"]
        one = far["type"] == "Tensor" and math.prod(far["shape"]) == 1
        if not (one and same(far["value"].reshape(()).float(), torch.tensor(200.0), 1e-3)):
            got = f"{far['value'].reshape(()).item():.4g}" if one else far["type"]
            raise CheckFailed(f"at a logit of -200 the loss should be 200, got {got}: compute log(sigmoid(l)) as -softplus(-l) so it never rounds to log(0)")
        return "matches -log D(G(z)), stable for confident D"
    if same(out, -ref):
        raise CheckFailed("the sign is flipped: G minimises -log D(G(z)), which is large when D rejects the fakes")
    if same(out, losses.minimax_g(fake)):
        raise CheckFailed("this is the saturating (minimax) loss log(1 - D(G(z))); the non-saturating one is -log D(G(z))")
    if same(out, losses.nonsaturating_g(torch.sigmoid(fake))):
        raise CheckFailed("you applied sigmoid and then treated the result as logits again: the input already is logits")
    if same(out, ref * fake.numel(), 1e-3):
        raise CheckFailed("that is a sum over the batch: take the mean (.mean())")
    raise CheckFailed(f"expected {ref.item():.4f} on a test batch, got {out.item():.4f}")


def _penalty_case() -> tuple[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]:
    from ..gan import Discriminator, DiscriminatorConfig

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        D = Discriminator(DiscriminatorConfig(hidden=16, layers=2))
    g = torch.Generator().manual_seed(3)
    return D, torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g), torch.rand(32, 1, generator=g)


@_exercise("4.3", "the gradient penalty")
def gradient_penalty(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(D, real (B, 2), fake (B, 2), eps (B, 1)) -> scalar: mean of (||grad D(x_hat)|| - 1)^2."""
    D, real, fake, eps = _penalty_case()
    out = _call("gradient_penalty", fn, D, real, fake, eps)
    seen["out"] = observe(out)
    if type(out) is not torch.Tensor or out.numel() != 1 or not out.requires_grad:
        seen["reached"] = None
        return
    _call("the backward pass through your penalty", out.backward)
    # every weight, not the output bias: a constant shift of D does not change its slope
    seen["reached"] = all(p.grad is not None for name, p in D.named_parameters() if name.endswith("weight"))


@gradient_penalty.judge
def _judge_gradient_penalty(seen: Observed) -> str:
    D, real, fake, eps = _penalty_case()
    out = _scalar("gradient_penalty(D, real, fake, eps)", seen["out"])
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
    if not seen["out"]["requires_grad"]:
        raise CheckFailed("the penalty carries no gradient back to D: pass create_graph=True to torch.autograd.grad")
    if not seen["reached"]:
        raise CheckFailed("the penalty's gradient does not reach all of D's weights: pass create_graph=True to torch.autograd.grad")
    return "matches the reference and trains D"
