"""Exercise checks: instant, specific feedback in the learner's terms.

Each check takes the learner's object (a function or a network), tries it on small
inputs, and either prints one line

    ✅ Exercise 2.1 (the generator network): passed

or, if the learner's code still raises ``NotImplementedError``,

    ⏳ Exercise 2.1 (the generator network): not attempted yet

or raises ``CheckFailed`` whose message says what is wrong (expected shape, where the
gradient stopped, which sign is flipped). In Jupyter a ``CheckFailed`` shows as one red
line, never a traceback from inside the library.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Iterable

import torch
from torch import nn

from . import data, losses, vae

__all__ = ["CheckFailed", "EXERCISES", "bigram_log_probs", "sample_next", "causal_attention", "q_sample", "reverse_step", "guided_eps",
           "knn_radii", "precision_recall", "binomial_p_value", "flag_copies",
           "shard", "all_reduce_mean", "accumulate_gradients", "save_state", "restore_state", "sha256_file", "safe_load"]


class CheckFailed(Exception):
    """The learner's code ran but did something wrong; the message says what."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"\x1b[31m❌ {self}\x1b[0m"]


class _NotAttempted(Exception):
    pass


EXERCISES: dict[str, str] = {}  # check name -> "Exercise N.k (title)"


def _exercise(number: str, title: str) -> Callable[[Callable[..., str | None]], Callable[..., None]]:
    """Register a check: wraps it with the pass / not-attempted / failed protocol."""

    def wrap(check: Callable[..., str | None]) -> Callable[..., None]:
        label = f"Exercise {number} ({title})"
        EXERCISES[check.__name__] = label

        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                detail = check(*args, **kwargs)
            except _NotAttempted:
                print(f"⏳ {label}: not attempted yet (replace the `raise NotImplementedError` with your code)")
                return
            except CheckFailed as e:
                raise CheckFailed(f"{label}: {e}") from None
            print(f"✅ {label}: passed" + (f" ({detail})" if detail else ""))

        return run

    return wrap


def _call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call learner code; turn its exceptions into learner-terms failures."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise _NotAttempted() from None
    except CheckFailed:
        raise
    except Exception as e:
        raise CheckFailed(f"{what} raised {type(e).__name__}: {e}") from None


def _tensor(what: str, out: Any, shape: tuple[int, ...] | None = None, dtype: torch.dtype | None = torch.float32) -> torch.Tensor:
    """Check an output is a finite tensor of the expected shape and dtype."""
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"{what} should return a torch.Tensor, but returned {type(out).__name__}")
    if shape is not None and tuple(out.shape) != shape:
        raise CheckFailed(f"{what} should have shape {shape}, but has shape {tuple(out.shape)}")
    if dtype is not None and out.dtype != dtype:
        raise CheckFailed(f"{what} should have dtype {dtype}, but has dtype {out.dtype}")
    if out.is_floating_point() and not torch.isfinite(out).all():
        raise CheckFailed(f"{what} contains NaN or infinite values")
    return out


def _unchanged(what: str, given: Iterable[tuple[str, torch.Tensor, torch.Tensor]], edits: str) -> None:
    """Raise if the learner's function edited a tensor it was given: ``given`` holds (name, the
    tensor passed, a copy taken before); ``edits`` names the in-place operations to suspect."""
    for name, passed, original in given:
        if not torch.equal(passed, original):
            raise CheckFailed(f"{what} changed the {name} you were given (an in-place edit such as {edits}): work on new tensors")


def _with_advice(failure: CheckFailed, advice: list[tuple[tuple[str, ...], str]]) -> CheckFailed:
    """The learner's error, with the advice of the first entry one of whose fragments it contains."""
    for fragments, hint in advice:
        if any(f in str(failure) for f in fragments):
            return CheckFailed(f"{failure} ({hint})")
    return failure


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> bool:
    return bool(torch.allclose(a.double(), b.double(), atol=tol, rtol=tol))


def _scalar(what: str, out: Any) -> torch.Tensor:
    if isinstance(out, torch.Tensor) and out.dim() > 0:
        raise CheckFailed(f"{what} should be a single number (a 0-dim tensor: take the .mean()), but has shape {tuple(out.shape)}")
    return _tensor(what, out, shape=(), dtype=None)


# --------------------------------------------------------------------------- lesson 01


@_exercise("1.1", "sampling the ring of 8")
def sample_ring8(fn: Callable[..., torch.Tensor]) -> str:
    """fn(n, generator) -> (n, 2) points from the ring of 8 Gaussians."""
    ring = data.ring8()
    x = _tensor("sample_ring8(5000, generator)", _call("sample_ring8", fn, 5000, torch.Generator().manual_seed(0)), (5000, 2))
    again = _call("sample_ring8", fn, 5000, torch.Generator().manual_seed(0))
    if not torch.equal(x, again):
        raise CheckFailed("two calls with generators seeded alike gave different points: pass generator= to every torch.randint / torch.randn call")
    from .metrics import mode_metrics

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
        if _close(out, ref, 1e-3):
            continue
        if _close(out.exp(), ref, 1e-3) or _close(out, ref.exp(), 1e-3):
            raise CheckFailed("you returned the density itself, expected its logarithm (use torch.logsumexp)")
        if _close(out, ref + math.log(mix.n_modes), 1e-3):
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
    from .gan import Generator, GeneratorConfig

    torch.manual_seed(0)
    G = Generator(GeneratorConfig(latent_dim=3, hidden=16, layers=2))
    out = _tensor("generate(G, 100, generator)", _call("generate", fn, G, 100, torch.Generator().manual_seed(7)), (100, 2))
    if out.requires_grad:
        raise CheckFailed("the samples still track gradients: wrap the work in `with torch.no_grad():`")
    with torch.no_grad():
        ref = G(torch.randn(100, 3, generator=torch.Generator().manual_seed(7)))
    if not _close(out, ref):
        with torch.no_grad():  # same generator, uniform noise: a specific, common slip
            uniform = G(torch.rand(100, 3, generator=torch.Generator().manual_seed(7)))
        if _close(out, uniform):
            raise CheckFailed("the samples are G(z) for uniform z: use torch.randn (not torch.rand) for z ~ N(0, I)")
        if _close(out.std(0), ref.std(0), 0.3):
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
    if _close(out, ref):
        return "matches binary cross-entropy on logits"
    if _close(out, losses.minimax_d(fake, real)):
        raise CheckFailed("the labels are swapped: real examples should be labelled 1 and fakes 0")
    if _close(out, -ref):
        raise CheckFailed("the sign is flipped: D minimises -log D(x) - log(1 - D(G(z)))")
    if _close(out, ref / 2):
        raise CheckFailed("you averaged the two terms; add them (each is already a mean over its batch)")
    raise CheckFailed(f"expected {ref.item():.4f} on a test batch, got {out.item():.4f} (the inputs are logits: use F.binary_cross_entropy_with_logits or softplus)")


@_exercise("4.2", "the non-saturating generator loss")
def nonsaturating_g_loss(fn: Callable[..., torch.Tensor]) -> str:
    """fn(fake_logits (B,)) -> scalar: -log D(G(z)), averaged."""
    _, fake = _logits()
    out = _scalar("nonsaturating_g_loss(fake_logits)", _call("nonsaturating_g_loss", fn, fake))
    ref = losses.nonsaturating_g(fake)
    if _close(out, ref):
        # It must also be exact for confident D (no log(sigmoid) underflow).
        # (not via _scalar: its "contains NaN or infinite values" would hide the advice below)
        far = _call("nonsaturating_g_loss", fn, torch.tensor([-200.0]))
        if not (isinstance(far, torch.Tensor) and far.numel() == 1 and _close(far.reshape(()), torch.tensor(200.0), 1e-3)):
            got = f"{far.item():.4g}" if isinstance(far, torch.Tensor) and far.numel() == 1 else repr(far)
            raise CheckFailed(f"at a logit of -200 the loss should be 200, got {got}: compute log(sigmoid(l)) as -softplus(-l) so it never rounds to log(0)")
        return "matches -log D(G(z)), stable for confident D"
    if _close(out, -ref):
        raise CheckFailed("the sign is flipped: G minimises -log D(G(z)), which is large when D rejects the fakes")
    if _close(out, losses.minimax_g(fake)):
        raise CheckFailed("this is the saturating (minimax) loss log(1 - D(G(z))); the non-saturating one is -log D(G(z))")
    if _close(out, losses.nonsaturating_g(torch.sigmoid(fake))):
        raise CheckFailed("you applied sigmoid and then treated the result as logits again: the input already is logits")
    raise CheckFailed(f"expected {ref.item():.4f} on a test batch, got {out.item():.4f}")


@_exercise("4.3", "the gradient penalty")
def gradient_penalty(fn: Callable[..., torch.Tensor]) -> str:
    """fn(D, real (B, 2), fake (B, 2), eps (B, 1)) -> scalar: mean of (||grad D(x_hat)|| - 1)^2."""
    from .gan import Discriminator, DiscriminatorConfig

    torch.manual_seed(0)
    D = Discriminator(DiscriminatorConfig(hidden=16, layers=2))
    g = torch.Generator().manual_seed(3)
    real, fake, eps = torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g), torch.rand(32, 1, generator=g)
    out = _scalar("gradient_penalty(D, real, fake, eps)", _call("gradient_penalty", fn, D, real, fake, eps))
    # reference: x_hat = eps real + (1 - eps) fake; E[(||grad_x D(x_hat)|| - 1)^2]
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat)
    ref = (grad.norm(dim=1) - 1).pow(2).mean()
    if not _close(out, ref, 1e-4):
        swapped = (((1 - eps) * real + eps * fake).requires_grad_(True))
        (g2,) = torch.autograd.grad(D(swapped).sum(), swapped)
        if _close(out, (g2.norm(dim=1) - 1).pow(2).mean(), 1e-4):
            raise CheckFailed("real and fake are mixed the wrong way round: x_hat = eps * real + (1 - eps) * fake")
        if _close(out, grad.norm(dim=1).pow(2).mean(), 1e-4) or _close(out, (grad.pow(2).sum(1) - 1).pow(2).mean(), 1e-4):
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
    from .gan import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

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


# --------------------------------------------------------------------------- lesson 06
# (lesson 06 checks: owned by the lesson-06 author)


def _conv_transpose_cases() -> list[tuple[int, int, int, int]]:
    """(size, kernel, stride, padding) combinations whose output is at least 1 pixel."""
    return [
        (size, kernel, stride, padding)
        for size in (1, 2, 3, 4, 7)
        for kernel in (1, 2, 3, 4, 5)
        for stride in (1, 2, 3)
        for padding in (0, 1, 2)
        if (size - 1) * stride - 2 * padding + kernel >= 1
    ]


# Sizes a learner's formula typically gives instead, and what to say about each.
_TRANSPOSED_SIZE_SLIPS: list[tuple[Callable[[int, int, int, int], int], str]] = [
    (lambda n, k, s, p: (n - 1) * s + k, "the padding is not cropped: subtract 2 * padding"),
    (lambda n, k, s, p: (n - 1) * s - p + k, "padding is cropped from both sides: subtract 2 * padding, not padding"),
    (lambda n, k, s, p: n * s - 2 * p + k, "the stamps are stride apart, so the last one starts at (size - 1) * stride, not size * stride"),
    (lambda n, k, s, p: (n + 2 * p - k) // s + 1, "that is an ordinary convolution's size (it shrinks the image); the transposed one runs it backwards"),
]


@_exercise("6.1", "the transposed convolution's output size")
def transposed_conv_size(fn: Callable[..., Any]) -> str:
    """fn(size, kernel, stride, padding) -> int: height (= width) of nn.ConvTranspose2d's output."""
    cases = _conv_transpose_cases()
    got: list[Any] = []
    for size, kernel, stride, padding in cases:
        case = f"size={size}, kernel={kernel}, stride={stride}, padding={padding}"
        out = _call(f"transposed_conv_size({case})", fn, size, kernel, stride, padding)
        if isinstance(out, torch.Tensor) and out.numel() == 1:
            out = out.item()
        if isinstance(out, bool) or not isinstance(out, (int, float)):
            raise CheckFailed(f"transposed_conv_size({case}) should return an int, got {type(out).__name__}")
        got.append(out)
    # the truth from PyTorch itself: a zero image through a zero kernel (only the shape matters)
    expected = [
        nn.functional.conv_transpose2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]
        for n, k, s, p in cases
    ]
    wrong = [i for i, (a, b) in enumerate(zip(got, expected)) if a != b]
    if not wrong:
        floats = [i for i, a in enumerate(got) if not isinstance(a, int)]
        if floats:
            n, k, s, p = cases[floats[0]]
            raise CheckFailed(
                f"for size={n}, kernel={k}, stride={s}, padding={p} you returned {got[floats[0]]!r}, a float: "
                "a size is a whole number, return an int"
            )
        return f"matches nn.ConvTranspose2d on {len(cases)} combinations"
    n, k, s, p = cases[wrong[0]]
    hint = "out = (size - 1) * stride - 2 * padding + kernel"
    for formula, advice in _TRANSPOSED_SIZE_SLIPS:
        if all(g == formula(*case) for g, case in zip(got, cases)):
            hint = advice
            break
    raise CheckFailed(
        f"for size={n}, kernel={k}, stride={s}, padding={p}, nn.ConvTranspose2d gives {expected[wrong[0]]}, "
        f"your function returned {got[wrong[0]]!r} ({len(wrong)} of {len(cases)} cases wrong): {hint}"
    )


def _stuck_parameters(net: nn.Module) -> list[str]:
    """Parameters the backward pass never reached (a bias right before batch norm gets ~0, but not None)."""
    return [name for name, p in net.named_parameters() if p.grad is None]


def _image_shape_advice(shape: tuple[int, ...], batch: int) -> str:
    """Why a generator's output is not (batch, 1, 8, 8), in the learner's terms."""
    if len(shape) != 4:
        return "reshape the output into images of shape (batch, 1, 8, 8)"
    if shape[0] != batch:
        return f"one image per noise vector: the .view / .reshape after the linear layer must keep the batch dimension ({batch})"
    if shape[1] != 1:
        return "the last layer should make 1 channel (grey levels), not " + str(shape[1])
    return (
        "each ConvTranspose2d(kernel_size=4, stride=2, padding=1) doubles height and width "
        "(out = (in - 1) * stride - 2 * padding + kernel): start from 2x2 and use two of them"
    )


@_exercise("6.2", "a convolutional generator")
def make_conv_generator(fn: Callable[..., nn.Module]) -> str:
    """fn(latent_dim) -> nn.Module mapping noise (B, latent_dim) to images (B, 1, 8, 8) in [0, 1]."""
    torch.manual_seed(0)
    for latent_dim in (32, 8):
        G = _call(f"make_conv_generator({latent_dim})", fn, latent_dim)
        if not isinstance(G, nn.Module):
            raise CheckFailed(f"make_conv_generator should return a torch.nn.Module, got {type(G).__name__}")
        for batch in (16, 3):
            z = torch.randn(batch, latent_dim, generator=torch.Generator().manual_seed(batch))
            what = f"make_conv_generator({latent_dim}) on noise of shape ({batch}, {latent_dim})"
            try:
                out = _call(what, G, z)
            except CheckFailed as failure:
                raise CheckFailed(f"{failure}{_input_advice(G, z, latent_dim, batch)}") from None
            if not isinstance(out, torch.Tensor):
                raise CheckFailed(f"{what} should return a torch.Tensor, but returned {type(out).__name__}")
            if tuple(out.shape) != (batch, 1, 8, 8):
                raise CheckFailed(
                    f"{what} should give images of shape {(batch, 1, 8, 8)}, but gave shape {tuple(out.shape)}: "
                    + _image_shape_advice(tuple(out.shape), batch)
                )
            _tensor(f"the images from {what}", out)
            lo, hi = out.min().item(), out.max().item()
            if lo < 0 or hi > 1:
                raise CheckFailed(
                    f"pixel values range from {lo:.2f} to {hi:.2f}, but images must lie in [0, 1] like the data: "
                    "end with a sigmoid (nn.Sigmoid())"
                )
        if out.std(0).max() < 1e-6:
            raise CheckFailed("every noise vector gives the same image: the output must depend on z")
        out.pow(2).sum().backward()
        stuck = _stuck_parameters(G)
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward, without .detach()")
    return "images of shape (B, 1, 8, 8) in [0, 1] for latent_dim 32 and 8, gradients reach every layer"


def _input_advice(G: nn.Module, z: torch.Tensor, latent_dim: int, batch: int) -> str:
    """A hint for a generator that fails on noise (batch, latent_dim): what it seems to expect instead."""
    try:
        G(z[:, :, None, None])  # the classic DCGAN input (B, latent_dim, 1, 1)?
        return f" (it works on noise of shape ({batch}, {latent_dim}, 1, 1): take (batch, latent_dim) and reshape inside forward)"
    except Exception:
        pass
    if batch != 16:
        return " (it works on a batch of 16: don't fix the batch size, use -1 or z.shape[0] in .view / .reshape)"
    if latent_dim != 32:
        return " (it works for latent_dim=32: use latent_dim for the first layer's input size, not a fixed number)"
    return ""


@_exercise("6.3", "a convolutional discriminator")
def make_conv_discriminator(fn: Callable[..., nn.Module]) -> str:
    """fn() -> nn.Module mapping images (B, 1, 8, 8) to logits (B,)."""
    torch.manual_seed(0)
    D = _call("make_conv_discriminator()", fn)
    if not isinstance(D, nn.Module):
        raise CheckFailed(f"make_conv_discriminator should return a torch.nn.Module, got {type(D).__name__}")
    g = torch.Generator().manual_seed(0)
    x = torch.cat([data.load_digits().x_test[:32], 20 * torch.randn(32, 1, 8, 8, generator=g)])  # digits and loud noise
    out = _call("your discriminator on images of shape (64, 1, 8, 8)", D, x)
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (64, 1):
        raise CheckFailed("the output has shape (64, 1): return one logit per image, shape (64,) (use .squeeze(1))")
    out = _tensor("the output for 64 images", out, (64,))
    if out.min() >= 0 and out.max() <= 1:
        raise CheckFailed("the outputs all lie in [0, 1]: they look like probabilities, but the losses expect logits (remove the final sigmoid)")
    # D must judge each image on its own: batch norm would make one image's score depend on the others
    swapped = x.clone()
    swapped[1:] = swapped[1:].flip(0) * 0.5
    again = _call("your discriminator on images of shape (64, 1, 8, 8)", D, swapped)
    if isinstance(again, torch.Tensor) and again.shape == out.shape and not _close(again[0], out[0], 1e-4):
        raise CheckFailed(
            "the score of the first image changed when only the other images of the batch changed: "
            "D must judge each image on its own (no batch norm in the discriminator)"
        )
    out.sum().backward()
    stuck = _stuck_parameters(D)
    if stuck:
        raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward, without .detach()")
    return "one logit per image, each judged on its own"


# --------------------------------------------------------------------------- lesson 07
# (lesson 07 checks: owned by the lesson-07 author)


def _one_hot_block(out: torch.Tensor, latent_dim: int, num_classes: int) -> torch.Tensor:
    """The last num_classes columns of append_label's output."""
    return out[:, latent_dim : latent_dim + num_classes]


@_exercise("7.1", "appending the label to z")
def append_label(fn: Callable[..., torch.Tensor]) -> str:
    """fn(z (B, latent_dim), y (B,) int64, num_classes) -> (B, latent_dim + num_classes): [z, one_hot(y)]."""
    g = torch.Generator().manual_seed(7)
    for latent_dim, num_classes, y in ((5, 10, [7, 0, 3, 9, 1, 7]), (3, 4, [2, 0, 3, 1])):
        y = torch.tensor(y)
        z = torch.randn(len(y), latent_dim, generator=g)
        what = f"append_label(z of shape {tuple(z.shape)}, y, num_classes={num_classes})"
        out = _call(what, fn, z, y, num_classes)
        if not isinstance(out, torch.Tensor):
            raise CheckFailed(f"{what} should return a torch.Tensor, but returned {type(out).__name__}")
        expected = (len(y), latent_dim + num_classes)
        if out.dim() == 2 and out.shape == (len(y), latent_dim + 1):
            raise CheckFailed(f"{what} has shape {tuple(out.shape)}: you appended the label as one number; append its one-hot vector of num_classes={num_classes} entries (F.one_hot(y, num_classes))")
        if out.dim() == 2 and out.shape[0] == len(y) and out.shape[1] == latent_dim + 10 and num_classes != 10:
            raise CheckFailed(f"{what} has shape {tuple(out.shape)}, expected {expected}: use num_classes, not a fixed 10")
        _tensor(what, out, expected, dtype=None)
        if out.dtype != torch.float32:
            raise CheckFailed(f"{what} should have dtype torch.float32 like z, but has dtype {out.dtype}: convert the one-hot labels with .float() (or .to(z.dtype))")
        one_hot = nn.functional.one_hot(y, num_classes).float()  # (B, K)
        if torch.equal(out, torch.cat([one_hot, z], dim=1)):
            raise CheckFailed("the one-hot label comes first: put it after z, torch.cat([z, one_hot], dim=1), the order the library's generator uses")
        if not torch.equal(out[:, :latent_dim], z):
            raise CheckFailed(f"the first {latent_dim} columns should be z itself, unchanged (then the one-hot label)")
        block = _one_hot_block(out, latent_dim, num_classes)
        if not torch.equal(block, one_hot):
            is_one_hot = bool(((block == 0) | (block == 1)).all() and (block.sum(1) == 1).all())
            if not is_one_hot:
                raise CheckFailed(f"the last {num_classes} columns should be one-hot: all 0 except a single 1 (got the row {[round(v, 3) for v in block[0].tolist()]} for label {int(y[0])})")
            raise CheckFailed(f"the 1 is in the wrong column: for label {int(y[0])} it should be column {int(y[0])} of the one-hot part (got column {int(block[0].argmax())})")
    return "z, then one_hot(y), for 10 and for 4 classes"


def _images(what: str, out: Any, batch: int) -> torch.Tensor:
    """A generator's output: (batch, 1, 8, 8) float32 in [0, 1], or a learner-terms failure."""
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (batch, 64):
        raise CheckFailed(f"{what} has shape {tuple(out.shape)}: reshape it to images, (B, 1, 8, 8): batch, channel, height, width")
    out = _tensor(what, out, (batch, 1, 8, 8))
    lo, hi = float(out.detach().min()), float(out.detach().max())
    if lo < 0 or hi > 1:
        raise CheckFailed(f"pixels must lie in [0, 1] like the data, but range from {lo:.2f} to {hi:.2f}: end with a sigmoid")
    return out


@_exercise("7.2", "a conditional generator")
def make_conditional_generator(fn: Callable[..., nn.Module]) -> str:
    """fn(latent_dim, num_classes) -> nn.Module with forward(z (B, latent_dim), y (B,)) -> (B, 1, 8, 8) in [0, 1]."""
    torch.manual_seed(0)
    for latent_dim, num_classes in ((16, 10), (8, 3)):
        G = _call(f"make_conditional_generator({latent_dim}, {num_classes})", fn, latent_dim, num_classes)
        if not isinstance(G, nn.Module):
            raise CheckFailed(f"make_conditional_generator should return a torch.nn.Module, got {type(G).__name__}")
        g = torch.Generator().manual_seed(1)
        # batch of 2K: every label twice, each time with different noise
        z = torch.randn(2 * num_classes, latent_dim, generator=g)
        y = torch.arange(num_classes).repeat(2)  # (2K,)
        what = f"your generator on z of shape {tuple(z.shape)} and labels of shape {tuple(y.shape)}"
        x = _images(f"the output of {what}", _call(what, G, z, y), 2 * num_classes)
        # the same noise for every label: the images may differ only through y
        same_z = z[:1].repeat(num_classes, 1)  # (K, latent_dim)
        x_labels = _images("the output", _call(what, G, same_z, torch.arange(num_classes)), num_classes)
        if x_labels.std(0).max() < 1e-6:
            raise CheckFailed("the same z with labels 0, 1, 2, ... gives identical images: the generator ignores its label y; append one_hot(y) to z before the first layer")
        # the same label for every noise vector: the images must still differ through z
        x_noise = _images("the output", _call(what, G, z[:num_classes], torch.zeros(num_classes, dtype=torch.long)), num_classes)
        if x_noise.std(0).max() < 1e-6:
            raise CheckFailed("different z with the same label give identical images: the output must depend on z too")
        x.pow(2).sum().backward()
        stuck = [name for name, p in G.named_parameters() if name.endswith("weight") and (p.grad is None or not p.grad.abs().sum() > 0)]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward")
    return "(B, 1, 8, 8) in [0, 1], depends on both z and y"


@_exercise("7.3", "the projection discriminator's logit")
def projection_logits(fn: Callable[..., torch.Tensor]) -> str:
    """fn(h (B, F), y (B,), embed nn.Embedding(K, F), head nn.Linear(F, 1)) -> logits (B,):
    head(h) + <embed(y), h>."""
    torch.manual_seed(0)
    B, F, K = 12, 6, 10
    h = torch.randn(B, F, generator=torch.Generator().manual_seed(3))
    y = torch.tensor([7, 0, 3, 9, 1, 7, 2, 2, 5, 4, 8, 6])
    embed, head = nn.Embedding(K, F), nn.Linear(F, 1)
    what = "projection_logits(h, y, embed, head)"
    out = _call(what, fn, h, y, embed, head)
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, 1):
        raise CheckFailed(f"the output has shape ({B}, 1): return one logit per example, shape ({B},) (use .squeeze(1))")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (B, F):
        raise CheckFailed(f"the output has shape ({B}, {F}), one number per feature: sum embed(y) * h over the features (dim=1) to get the inner product")
    out = _tensor(f"the output of {what} for a batch of {B}", out, (B,))
    with torch.no_grad():
        unconditional = head(h).squeeze(1)  # (B,)
        projection = (embed(y) * h).sum(dim=1)  # (B,) <embed(y), h>
    ref = unconditional + projection
    if not _close(out, ref):
        if _close(out, unconditional):
            raise CheckFailed("the logit ignores the label: add the projection term <embed(y), h>, that is (embed(y) * h).sum(dim=1)")
        if _close(out, projection):
            raise CheckFailed("the unconditional term is missing: the logit is head(h) (squeezed to (B,)) plus <embed(y), h>")
        if _close(out, torch.sigmoid(ref)):
            raise CheckFailed("the outputs look like probabilities: return logits (remove the sigmoid)")
        wrong_rows = int((~torch.isclose(out, ref, atol=1e-5, rtol=1e-5)).sum())
        raise CheckFailed(f"{wrong_rows} of {B} logits differ from head(h) + <embed(y), h> (first example: got {out[0].item():.4f}, expected {ref[0].item():.4f})")
    out.sum().backward()
    if head.weight.grad is None or embed.weight.grad is None or not embed.weight.grad.abs().sum() > 0:
        raise CheckFailed("the gradient does not reach both head and embed: compute the logit from head(h) and embed(y) without .detach() or torch.no_grad()")
    return "head(h) + <embed(y), h>, with gradients to both"


# --------------------------------------------------------------------------- lesson 08


def _gaussian_params(batch: int, latent_dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An encoder's output for a batch: mu (B, L) and logvar (B, L), variances from about 0.05 to 7."""
    g = torch.Generator().manual_seed(seed)
    mu = 1.5 * torch.randn(batch, latent_dim, generator=g)
    logvar = torch.empty(batch, latent_dim).uniform_(-3.0, 2.0, generator=g)
    return mu, logvar


def _draw(fn: Callable[..., Any], what: str, mu: torch.Tensor, logvar: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Call fn(mu, logvar, generator) on fresh leaves that track gradients: (z, mu, logvar)."""
    mu, logvar = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    out = _call(what, fn, mu, logvar, torch.Generator().manual_seed(seed))
    if isinstance(out, torch.Tensor) and tuple(out.shape) != tuple(mu.shape):
        raise CheckFailed(f"{what} should return z of the shape of mu, {tuple(mu.shape)} (one sample per example and latent), but has shape {tuple(out.shape)}")
    return _tensor(what, out, tuple(mu.shape)), mu, logvar


def _noise_advice(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> str | None:
    """Why z = mu + std * eps differs from the library's draw only in its noise eps, if it seems so."""
    z, mu, logvar = z.detach(), mu.detach(), logvar.detach()
    eps = (z - mu) / torch.exp(0.5 * logvar)  # (B, L) the noise the learner used
    if eps.shape[0] > 1 and _close(eps, eps[:1].expand_as(eps), 1e-4):
        return "every example got the same noise: draw eps of mu's full shape, torch.randn(mu.shape, generator=generator)"
    if eps.min() >= 0 and eps.max() < 1:
        return "the noise lies in [0, 1): torch.rand draws uniform noise, the trick needs a standard normal: torch.randn(mu.shape, generator=generator)"
    return None


# z written the usual wrong ways with the library's eps, and what to say about each
_REPARAMETERIZE_SLIPS: list[tuple[Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], str]] = [
    (lambda mu, lv, eps: mu + torch.exp(lv) * eps,
     "exp(logvar) is the variance sigma^2; scale the noise by the standard deviation sigma = exp(logvar / 2)"),
    (lambda mu, lv, eps: mu + lv * eps,
     "logvar is the log of the variance, not the standard deviation: scale the noise by exp(logvar / 2)"),
    (lambda mu, lv, eps: mu + torch.exp(-0.5 * lv) * eps,
     "exp(-logvar / 2) is 1 / sigma: scale the noise by sigma = exp(logvar / 2)"),
    (lambda mu, lv, eps: mu + eps,
     "the noise is not scaled: multiply eps by the standard deviation exp(logvar / 2)"),
    (lambda mu, lv, eps: torch.exp(0.5 * lv) * eps,
     "mu is missing: z = mu + exp(logvar / 2) * eps"),
    (lambda mu, lv, eps: mu - torch.exp(0.5 * lv) * eps,
     "the noise is subtracted: z = mu + exp(logvar / 2) * eps (the check compares with this exact draw)"),
]


@_exercise("8.1", "the reparameterization trick")
def reparameterize(fn: Callable[..., torch.Tensor]) -> str:
    """fn(mu (B, L), logvar (B, L), generator) -> z (B, L) = mu + exp(logvar / 2) * eps,
    eps = torch.randn(mu.shape, generator=generator)."""
    for batch, latent_dim in ((64, 4), (3, 2)):
        mu0, logvar0 = _gaussian_params(batch, latent_dim, seed=batch)
        what = f"reparameterize(mu, logvar, generator) for mu and logvar of shape ({batch}, {latent_dim})"
        z, mu, logvar = _draw(fn, what, mu0, logvar0, seed=0)
        other, _, _ = _draw(fn, what, mu0, logvar0, seed=1)
        again, _, _ = _draw(fn, what, mu0, logvar0, seed=0)
        if _close(z, other):
            if _close(z, mu0):
                raise CheckFailed("z equals mu: the sample must be random, z = mu + exp(logvar / 2) * eps with eps = torch.randn(mu.shape, generator=generator)")
            raise CheckFailed("generators with different seeds gave the same z: z must depend on the noise eps = torch.randn(mu.shape, generator=generator)")
        if not _close(z, again):
            raise CheckFailed(
                "the same seed gave two different z: use the generator you are given, "
                "eps = torch.randn(mu.shape, generator=generator) (torch.randn_like(mu) and torch.randn(...) without it ignore the seed)"
            )
        eps = torch.randn(mu0.shape, generator=torch.Generator().manual_seed(0))  # the library's draw
        expected = vae.reparameterize(mu0, logvar0, torch.Generator().manual_seed(0))
        if not _close(z, expected, 1e-4):
            for formula, advice in _REPARAMETERIZE_SLIPS:
                if _close(z, formula(mu0, logvar0, eps), 1e-4):
                    raise CheckFailed(advice)
            advice = _noise_advice(z, mu0, logvar0)
            if advice:
                raise CheckFailed(advice)
            if z.requires_grad:  # is z = mu + exp(logvar / 2) * (some other noise)?
                w = torch.randn(mu0.shape, generator=torch.Generator().manual_seed(2))
                grad_mu, grad_logvar = torch.autograd.grad((z * w).sum(), (mu, logvar), allow_unused=True)
                if grad_mu is not None and grad_logvar is not None and _close(grad_mu, w, 1e-4) and _close(grad_logvar, 0.5 * w * (z - mu).detach(), 1e-4):
                    raise CheckFailed(
                        "z has the form mu + exp(logvar / 2) * eps, but eps is not the library's draw: use the generator, "
                        "eps = torch.randn(mu.shape, generator=generator), so that the same seed gives the same z"
                    )
            raise CheckFailed(
                f"z differs from mu + exp(logvar / 2) * eps with eps = torch.randn(mu.shape, generator=generator) "
                f"(first entry: got {z[0, 0].item():.4f}, expected {expected[0, 0].item():.4f})"
            )
        if not z.requires_grad:
            raise CheckFailed(
                "z carries no gradient: the trick exists so that gradients flow from z back to mu and logvar; "
                "don't compute z under torch.no_grad() or .detach() it"
            )
        w = torch.randn(mu0.shape, generator=torch.Generator().manual_seed(2))  # a random projection of z
        (z * w).sum().backward()
        if mu.grad is not None and logvar.grad is not None and not (mu.grad.abs().sum() > 0 or logvar.grad.abs().sum() > 0):
            # connected to mu and logvar, yet zero gradients: what torch.normal(mu, std) does
            raise CheckFailed(
                "the gradients reaching mu and logvar are zero: torch.normal(mu, std) samples without the trick; "
                "write z = mu + exp(logvar / 2) * eps so that z is a differentiable function of mu and logvar"
            )
        for name, leaf in (("mu", mu), ("logvar", logvar)):
            if leaf.grad is None or not leaf.grad.abs().sum() > 0:
                raise CheckFailed(f"no gradient reaches {name}: compute z from {name} without .detach() or torch.no_grad()")
        if not (_close(mu.grad, w, 1e-4) and _close(logvar.grad, 0.5 * w * (z - mu).detach(), 1e-4)):
            raise CheckFailed("z has the right values but the wrong gradients: compute it as mu + exp(logvar / 2) * eps, with eps drawn once")
    return "z = mu + exp(logvar / 2) * eps, the library's draw for the same seed, with gradients to mu and logvar"


def _kl_truth(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per row from torch.distributions, in float64: (B,)."""
    q = torch.distributions.Normal(mu.double(), torch.exp(0.5 * logvar.double()))
    p = torch.distributions.Normal(torch.zeros_like(mu, dtype=torch.float64), torch.ones_like(mu, dtype=torch.float64))
    return torch.distributions.kl_divergence(q, p).sum(dim=1)


# per-latent KL terms written the usual wrong ways, and what to say about each (summed over latents, halved)
_KL_SLIPS: list[tuple[Callable[[torch.Tensor, torch.Tensor], torch.Tensor], str]] = [
    (lambda mu, lv: -(mu.pow(2) + lv.exp() - 1 - lv),
     "KL is never negative, but your values are all <= 0: the sign is flipped, KL = 1/2 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)"),
    (lambda mu, lv: 2 * (mu.pow(2) + lv.exp() - 1 - lv),
     "your values are twice the KL: the factor 1/2 is missing, KL = 1/2 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)"),
    (lambda mu, lv: (mu.pow(2) + lv.exp() - 1 - lv) / mu.shape[1],
     "you averaged over the latent dimensions: the KL of a diagonal Gaussian is the sum over them (.sum(dim=1), not .mean(dim=1))"),
    (lambda mu, lv: mu.pow(2) + lv - 1 - lv,
     "logvar is the log of the variance: the variance sigma^2 is exp(logvar), not logvar itself"),
    (lambda mu, lv: mu.pow(2) + lv.pow(2) - 1 - lv,
     "logvar is not the standard deviation: the variance sigma^2 is exp(logvar)"),
    (lambda mu, lv: mu.pow(2) + (0.5 * lv).exp() - 1 - lv,
     "exp(logvar / 2) is the standard deviation sigma; the formula needs the variance sigma^2 = exp(logvar)"),
    (lambda mu, lv: mu.pow(2) + (2 * lv).exp() - 1 - lv,
     "exp(logvar) is already the variance sigma^2: don't square it"),
    (lambda mu, lv: mu.pow(2) + (2 * lv).exp() - 1 - 2 * lv,
     "you treated logvar as log sigma: it is log sigma^2, so the variance is exp(logvar) and log sigma^2 is logvar itself"),
    (lambda mu, lv: mu.pow(2) + lv.exp() - 1 + lv,
     "the log-variance enters with a minus sign: 1/2 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)"),
    (lambda mu, lv: mu.pow(2) + lv.exp() - lv,
     "the -1 is missing (the KL is 0 when mu = 0 and logvar = 0): 1/2 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)"),
    (lambda mu, lv: mu.pow(2) + lv.exp() - 1,
     "the - logvar term is missing: 1/2 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)"),
    (lambda mu, lv: lv.exp() - 1 - lv,
     "the mu^2 term is missing: 1/2 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)"),
]


@_exercise("8.2", "the KL term")
def gaussian_kl(fn: Callable[..., torch.Tensor]) -> str:
    """fn(mu (B, L), logvar (B, L)) -> (B,): KL(N(mu, diag exp(logvar)) || N(0, I)) per example."""
    for batch, latent_dim in ((8, 3), (5, 2)):
        mu0, logvar0 = _gaussian_params(batch, latent_dim, seed=batch)
        mu, logvar = mu0.clone().requires_grad_(True), logvar0.clone().requires_grad_(True)
        what = f"gaussian_kl(mu, logvar) for mu and logvar of shape ({batch}, {latent_dim})"
        out = _call(what, fn, mu, logvar)
        truth = _kl_truth(mu0, logvar0)  # (B,)
        if isinstance(out, torch.Tensor):
            shape = tuple(out.shape)
            if shape == ():
                if _close(out.detach(), truth.mean(), 1e-4):
                    raise CheckFailed(f"{what} returned a single number, the mean over the batch: return one KL per example, shape ({batch},) (the loss takes the mean later)")
                raise CheckFailed(f"{what} returned a single number: return one KL per example, shape ({batch},): sum over the latent dimensions only (dim=1), not over the batch")
            if shape == (latent_dim,):
                raise CheckFailed(f"{what} has shape ({latent_dim},), one number per latent dimension: you summed over the batch (dim=0); sum over the latent dimensions (dim=1) instead")
            if shape == (batch, latent_dim):
                raise CheckFailed(f"{what} has shape ({batch}, {latent_dim}), one KL per latent dimension: sum them over dim=1 to get one KL per example, shape ({batch},)")
            if shape == (batch, 1):
                raise CheckFailed(f"{what} has shape ({batch}, 1): return shape ({batch},), .sum(dim=1) without keepdim=True")
            if out.is_floating_point() and not torch.isfinite(out).all():
                raise CheckFailed(
                    f"{what} contains NaN or infinite values: did you take the log of logvar? logvar is already log sigma^2 "
                    "(it can be negative); the variance is exp(logvar)"
                )
        out = _tensor(what, out, (batch,))
        if not _close(out.detach(), truth, 1e-4):
            for formula, advice in _KL_SLIPS:
                if _close(out.detach(), 0.5 * formula(mu0.double(), logvar0.double()).sum(dim=1), 1e-4):
                    raise CheckFailed(advice)
            if out.min() < -1e-6:
                i = int(out.argmin())
                raise CheckFailed(
                    f"KL is never negative, but example {i} got {out[i].item():.3f}: check the signs in "
                    "1/2 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)"
                )
            raise CheckFailed(
                f"{what} differs from KL = 1/2 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j) "
                f"(first example: got {out[0].item():.4f}, expected {truth[0].item():.4f})"
            )
        if not out.requires_grad:
            raise CheckFailed("the KL carries no gradient: it is part of the training loss, so don't compute it under torch.no_grad() or .detach() it")
        out.sum().backward()
        for name, leaf in (("mu", mu), ("logvar", logvar)):
            if leaf.grad is None or not leaf.grad.abs().sum() > 0:
                raise CheckFailed(f"no gradient reaches {name}: compute the KL from {name} without .detach()")
    return "one KL per example, equal to torch.distributions.kl_divergence, with gradients to mu and logvar"


def _decoder_logits(what: str, out: Any, batch: int) -> torch.Tensor:
    """A decoder's output: logits (batch, 1, 8, 8) float32, or a learner-terms failure."""
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (batch, 64):
        raise CheckFailed(f"{what} has shape {tuple(out.shape)}: reshape the 64 logits to images, (B, 1, 8, 8): batch, channel, height, width (.view(-1, 1, 8, 8))")
    return _tensor(what, out, (batch, 1, 8, 8))


@_exercise("8.3", "a conditional decoder")
def make_conditional_decoder(fn: Callable[..., nn.Module]) -> str:
    """fn(latent_dim, num_classes) -> nn.Module with forward(z (B, latent_dim), y (B,) int64) -> logits (B, 1, 8, 8)."""
    torch.manual_seed(0)
    done: list[str] = []
    for latent_dim, num_classes in ((4, 10), (2, 3)):
        made = f"make_conditional_decoder({latent_dim}, {num_classes})"
        decoder = _call(made, fn, latent_dim, num_classes)
        if not isinstance(decoder, nn.Module):
            raise CheckFailed(f"make_conditional_decoder should return a torch.nn.Module, got {type(decoder).__name__}")
        g = torch.Generator().manual_seed(latent_dim)
        z = torch.randn(2 * num_classes, latent_dim, generator=g)  # every label twice, each time with different z
        y = torch.arange(num_classes).repeat(2)  # (2K,)
        what = f"your decoder on z of shape {tuple(z.shape)} and labels of shape {tuple(y.shape)}"
        try:
            logits = _decoder_logits(f"the output of {what}", _call(what, decoder, z, y), 2 * num_classes)
        except CheckFailed as failure:
            hint = f" (it worked for {done[0]}: use the arguments latent_dim and num_classes, not fixed numbers)" if done else ""
            raise CheckFailed(f"{failure}{hint}") from None
        # probabilities stay in [0, 1] whatever z is; logits of an untrained network leave it for a large z
        outputs = [logits] + [_decoder_logits("the output", _call(what, decoder, scale * z, y), 2 * num_classes) for scale in (5.0, 30.0)]
        if all(out.min() >= 0 and out.max() <= 1 for out in outputs):
            raise CheckFailed(
                "the outputs all lie in [0, 1], even for large z: they look like probabilities, but a decoder returns logits: "
                "the Bernoulli likelihood (vae.bernoulli_nll) applies the sigmoid itself; remove the final sigmoid"
            )
        # the same z for every label: the logits may differ only through y
        smaller = f"your decoder on a batch of {num_classes} (z of shape ({num_classes}, {latent_dim}))"
        try:
            out = _call(smaller, decoder, z[:1].repeat(num_classes, 1), torch.arange(num_classes))
        except CheckFailed as failure:
            raise CheckFailed(f"{failure} (it worked on a batch of {2 * num_classes}: don't fix the batch size, use -1 or z.shape[0] in .view / .reshape)") from None
        same_z = _decoder_logits(f"the output of {smaller}", out, num_classes)
        if same_z.std(0).max() < 1e-6:
            raise CheckFailed("the same z with labels 0, 1, 2, ... gives identical logits: the decoder ignores its label y; append one_hot(y) to z before the first layer")
        # the same label for every z: the logits must still differ through z
        try:
            out = _call(f"{smaller} whose labels are all 0", decoder, z[:num_classes], torch.zeros(num_classes, dtype=torch.long))
        except CheckFailed as failure:
            raise CheckFailed(
                f"{failure} (it worked on a batch holding every label: give F.one_hot the number of classes, "
                "F.one_hot(y, num_classes), or its width follows the batch's largest label)"
            ) from None
        same_y = _decoder_logits(f"the output of {smaller}", out, num_classes)
        if same_y.std(0).max() < 1e-6:
            raise CheckFailed("different z with the same label give identical logits: the decoder ignores z; its output must depend on z too")
        if all(out.abs().max() <= 1 for out in outputs):
            raise CheckFailed(
                "the logits stay in [-1, 1], even for large z: a final tanh keeps every pixel's probability between "
                "sigmoid(-1) = 0.27 and sigmoid(1) = 0.73; end with a plain nn.Linear"
            )
        w = torch.randn(logits.shape, generator=g)  # a random projection of the logits
        (logits * w).sum().backward()
        stuck = [name for name, p in decoder.named_parameters() if name.endswith("weight") and (p.grad is None or not p.grad.abs().sum() > 0)]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward, without .detach()")
        done.append(made)
    return "logits of shape (B, 1, 8, 8) that depend on both z and y, for latent_dim 4 and 2"


from .checks_text import bigram_log_probs, sample_next, causal_attention  # noqa: E402,F401
from .checks_diffusion import q_sample, reverse_step, guided_eps  # noqa: E402,F401
from .checks_eval import knn_radii, precision_recall, binomial_p_value, flag_copies  # noqa: E402,F401
from .checks_scale import shard, all_reduce_mean, accumulate_gradients, save_state, restore_state  # noqa: E402,F401
from .checks_safety import sha256_file, safe_load  # noqa: E402,F401
