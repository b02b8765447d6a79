"""Exercise checks for lesson 05: one discriminator step, one generator step, the training loop.

5.1 ``d_step``, 5.2 ``g_step``, 5.3 ``train_loop``. Lessons call them through
``genai_course.checks``: ``checks.d_step(fn)``. Each is a probe (``def name(fn, seen)``: runs the
learner's code, records what it saw) and a judge (``@name.judge``), see ``_protocol``. The probes
leave large stale gradients of known signs in ``.grad`` before a step (a step that forgets
``zero_grad()`` follows them), watch G's parameters with gradient hooks (a missing ``.detach()``
shows even when the learner clears G's gradients afterwards), and record the parameters after
the steps, so the judges measure the losses themselves.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from .. import data, losses
from ._protocol import CheckFailed, Observed, _call, _exercise, _number
from .observations import observe

__all__ = ["d_step", "g_step", "train_loop"]


# --------------------------------------------------------------------------- lesson 05


def _tiny_gan(seed: int = 0) -> tuple[nn.Module, nn.Module]:
    from ..gan import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Generator(GeneratorConfig(hidden=16, layers=2)), Discriminator(DiscriminatorConfig(hidden=16, layers=2))


def _state(m: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in m.named_parameters()}


def _changed(before: nn.Module, after: Any) -> bool:
    """Whether the parameters ``after`` (a probe's ``_state``) differ from ``before``'s."""
    return any(not torch.equal(p.detach(), after[name]) for name, p in before.named_parameters())


_STALE = 1e3  # the size of the stale gradients a step probe leaves in .grad before the learner's step


def _stale_signs(m: nn.Module) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(11)
    return [torch.randint(0, 2, p.shape, generator=g).float() * 2 - 1 for p in m.parameters()]


def _leave_stale_gradients(m: nn.Module) -> None:
    """Fill .grad with large stale gradients of known signs, as a previous step would leave them."""
    for p, sign in zip(m.parameters(), _stale_signs(m)):
        p.grad = _STALE * sign


def _used_stale_gradients(before: nn.Module, after: dict[str, torch.Tensor]) -> bool:
    """Whether the first Adam step from ``before`` to ``after`` followed the stale gradients' signs:
    Adam's first step moves each weight by lr against its gradient's sign, so a step on fresh
    gradients agrees with the stale signs about half the time, one on stale (+ fresh) ones always."""
    agree = total = 0
    for (name, p), sign in zip(before.named_parameters(), _stale_signs(before)):
        step = after[name] - p.detach()
        moved = step != 0
        agree += int(((-step.sign()) == sign)[moved].sum())
        total += int(moved.sum())
    return total > 0 and agree / total > 0.95


def _watch_gradients(m: nn.Module) -> list[bool]:
    """A list that gets an entry each time a backward pass computes a gradient for one of ``m``'s
    parameters (even if the learner's code then clears it with zero_grad)."""
    reached: list[bool] = []
    for p in m.parameters():
        p.register_hook(lambda grad: reached.append(True))
    return reached


def _expected_loss(G: nn.Module, D: nn.Module, real: torch.Tensor | None) -> tuple[float, float]:
    """(D's loss on ``real`` and fresh fakes, G's non-saturating loss on fresh fakes), at these weights:
    the fakes' part averaged over 8,192 draws of z (a batch of 64 lands within about 0.001 of it)."""
    with torch.no_grad():
        z = torch.randn(8192, G.config.latent_dim, generator=torch.Generator().manual_seed(21))
        fake = D(G(z))
        if real is None:  # the real part over the ring itself
            real = data.ring8().sample(8192, generator=torch.Generator().manual_seed(22))
        return losses.minimax_d(D(real), fake).item(), losses.nonsaturating_g(fake).item()


def _judge_returned_loss(rec: Any, expected: float, batch: int, step: str, loss: str) -> None:
    """The loss a step returned must be the loss it took the step on: a number near ``expected``."""
    if rec["type"] != "float" and rec["type"] != "float64":
        raise CheckFailed(f"{step} should return the loss as a Python float (use .item()), got {rec['type']}")
    got = float(rec["value"])
    if not math.isfinite(got):
        raise CheckFailed(f"{step} returned {got}: return the loss you took the step on (loss.item())")
    if abs(got - expected) <= 0.02:
        return
    if abs(got - batch * expected) <= 0.02 * batch:
        raise CheckFailed(f"{step} returned {got:.2f}, {batch} times {loss} (about {expected:.3f}): that is a sum over the batch; take the mean")
    raise CheckFailed(f"{step} returned {got:.4g}, but {loss} on this batch is about {expected:.3f}: return the loss you took the step on (loss.item())")


def _d_step_case() -> tuple[nn.Module, nn.Module, torch.Tensor, torch.Tensor]:
    G, D = _tiny_gan()
    real = data.ring8().sample(64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fake = G(torch.randn(64, 2, generator=torch.Generator().manual_seed(1)))
    return G, D, real, fake


@_exercise("5.1", "a discriminator step")
def d_step(fn: Callable[..., Any], seen: dict) -> None:
    """fn(G, D, real (B, 2), opt_d) -> float: one update of D with the fakes detached."""
    G, D, real, _ = _d_step_case()
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-2)
    _leave_stale_gradients(D)
    reached_g = _watch_gradients(G)
    torch.manual_seed(0)
    seen["out"] = observe(_call("d_step(G, D, real, opt_d)", fn, G, D, real, opt_d))
    seen["D1"], seen["G1"] = _state(D), _state(G)
    seen["g_grad"] = bool(reached_g) or any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in G.parameters())
    for _ in range(30):
        _call("d_step(G, D, real, opt_d)", fn, G, D, real, opt_d)
    seen["D31"] = _state(D)


@d_step.judge
def _judge_d_step(seen: Observed) -> str:
    G, D, real, fake = _d_step_case()
    expected, _ = _expected_loss(G, D, real)
    rec = seen["out"]
    if rec["type"] not in ("float", "float64"):
        raise CheckFailed(f"d_step should return the loss as a Python float (use .item()), got {rec['type']}")
    if not _changed(D, seen["D1"]):
        raise CheckFailed("D's weights did not change: clear opt_d's gradients (zero_grad), call backward() on the loss, then step opt_d")
    if _changed(G, seen["G1"]):
        raise CheckFailed("G's weights changed during the discriminator's step: only opt_d should step")
    if seen["g_grad"]:
        raise CheckFailed("gradients reached G: detach the fakes (G(z).detach()) so D's loss does not flow into G")
    if _used_stale_gradients(D, seen["D1"]):
        raise CheckFailed("the step followed gradients left over from before your step: clear them with zero_grad() on opt_d before you call backward() "
                          "(backward adds to .grad, it does not replace it)")

    def bce(state: dict[str, torch.Tensor]) -> float:  # D's loss measured here, not as the learner reports it
        D.load_state_dict(state, strict=True)
        with torch.no_grad():
            return losses.minimax_d(D(real), D(fake)).item()

    bce_before, bce_after = bce(_state(D)), bce(seen["D31"])
    if not bce_after < bce_before:
        raise CheckFailed(f"31 steps raised D's binary cross-entropy ({bce_before:.3f} -> {bce_after:.3f}): D should minimise its loss, not maximise it; is the sign right?")
    _judge_returned_loss(rec, expected, real.shape[0], "d_step", "D's binary cross-entropy")
    return f"D learns (cross-entropy {bce_before:.2f} -> {bce_after:.2f}), G untouched"


def _fool(G: nn.Module, D: nn.Module, state: dict[str, torch.Tensor]) -> float:
    """D's mean logit on 512 fakes of G with weights ``state``."""
    G.load_state_dict(state, strict=True)
    with torch.no_grad():
        return D(G(torch.randn(512, 2, generator=torch.Generator().manual_seed(1)))).mean().item()


@_exercise("5.2", "a generator step")
def g_step(fn: Callable[..., Any], seen: dict) -> None:
    """fn(G, D, batch_size, opt_g) -> float: one update of G to fool D."""
    G, D = _tiny_gan()
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-2)
    _leave_stale_gradients(G)
    torch.manual_seed(0)
    seen["out"] = observe(_call("g_step(G, D, 64, opt_g)", fn, G, D, 64, opt_g))
    seen["G1"], seen["D1"] = _state(G), _state(D)
    for _ in range(30):
        _call("g_step(G, D, 64, opt_g)", fn, G, D, 64, opt_g)
    seen["G31"] = _state(G)


@g_step.judge
def _judge_g_step(seen: Observed) -> str:
    G, D = _tiny_gan()
    _, expected = _expected_loss(G, D, None)
    rec = seen["out"]
    if rec["type"] not in ("float", "float64"):
        raise CheckFailed(f"g_step should return the loss as a Python float (use .item()), got {rec['type']}")
    if not _changed(G, seen["G1"]):
        raise CheckFailed("G's weights did not change: clear opt_g's gradients (zero_grad), call backward() on the loss, then step opt_g, and do not detach the fakes here")
    if _changed(D, seen["D1"]):
        raise CheckFailed("D's weights changed during the generator's step: only opt_g should step")
    if _used_stale_gradients(G, seen["G1"]):
        raise CheckFailed("the step followed gradients left over from before your step: clear them with zero_grad() on opt_g before you call backward() "
                          "(backward adds to .grad, it does not replace it)")
    before, after = _fool(G, D, _state(G)), _fool(G, D, seen["G31"])
    if not after > before:
        raise CheckFailed(f"after 30 steps D's logit on the fakes fell ({before:.2f} -> {after:.2f}): G should make D more sure they are real; is the loss's sign right?")
    _judge_returned_loss(rec, expected, 64, "g_step", "G's loss -log D(G(z))")
    return f"G fools a fixed D more ({before:.2f} -> {after:.2f})"


_TRAIN_STEPS = 600


def _near_ring(G: nn.Module, state: dict[str, torch.Tensor]) -> float:
    """Mean distance from 1,000 samples of G (weights ``state``) to the nearest ring mode."""
    G.load_state_dict(state, strict=True)
    with torch.no_grad():
        x = G(torch.randn(1000, 2, generator=torch.Generator().manual_seed(5)))
        return torch.cdist(x, data.ring8().means).min(1).values.mean().item()


@_exercise("5.3", "the training loop")
def train_loop(fn: Callable[..., Any], seen: dict) -> None:
    """fn(G, D, sample_real, steps, opt_g, opt_d) -> list of (d_loss, g_loss): alternate the two steps."""
    ring = data.ring8()
    G, D = _tiny_gan(seed=1)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.99))
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    hist = _call(f"train(G, D, sample_real, {_TRAIN_STEPS}, opt_g, opt_d)", fn, G, D, lambda n: ring.sample(n, generator=gen), _TRAIN_STEPS, opt_g, opt_d)
    seen["history"] = observe(hist)
    seen["G"], seen["D"] = _state(G), _state(D)


@train_loop.judge
def _judge_train_loop(seen: Observed) -> str:
    G, D = _tiny_gan(seed=1)
    rec = seen["history"]
    length = rec.get("length") if rec["type"] in ("list", "tuple") else None
    if length != _TRAIN_STEPS:
        got = rec["type"] + ("" if length is None else f" of {length}")
        raise CheckFailed(f"train should return one (d_loss, g_loss) pair per step: a list of {_TRAIN_STEPS}, got {got}")
    pairs = rec["items"]
    if not all(h["type"] in ("tuple", "list") and h["length"] == 2 for h in pairs):
        raise CheckFailed("each history entry should be a pair (d_loss, g_loss)")
    for net, init, step in (("G", G, "g_step"), ("D", D, "d_step")):
        if not _changed(init, seen[net]):
            raise CheckFailed(f"{net}'s weights never changed in {_TRAIN_STEPS} steps: call {step} (which steps opt_{net.lower()}) in every step")
    values = torch.tensor([[_number("each loss in the history", v) for v in h["items"]] for h in pairs])  # (steps, 2)
    if not torch.isfinite(values).all():
        raise CheckFailed("the history holds NaN or infinite losses: record the numbers d_step and g_step return")
    if (values == values[0]).all(0).any():
        raise CheckFailed("the losses in the history never change from step to step: record what d_step and g_step return at each step")
    d_expected, g_expected = _expected_loss(G, D, None)
    d_first, g_first = values[0].tolist()
    if abs(d_first - d_expected) > 0.05 or abs(g_first - g_expected) > 0.05:
        if abs(d_first - g_expected) <= 0.05 and abs(g_first - d_expected) <= 0.05:
            raise CheckFailed("each pair is the wrong way round: record (d_loss, g_loss), D's loss first")
        raise CheckFailed(f"the first pair you recorded is ({d_first:.3f}, {g_first:.3f}), but D's and G's losses at the start are about "
                          f"({d_expected:.3f}, {g_expected:.3f}): record what d_step and g_step return")
    before, after = _near_ring(G, _state(G)), _near_ring(G, seen["G"])
    # a correct loop lands at 0.3-0.8 x the starting distance (seeds and batch sizes vary), a broken one near 1
    if not after < 0.9 * before:
        raise CheckFailed(f"after {_TRAIN_STEPS} steps the samples are no closer to the ring (mean distance to the nearest mode {before:.2f} -> {after:.2f}): does every step update both D and G?")
    return f"samples moved to the ring: mean distance to the nearest mode {before:.2f} -> {after:.2f}"
