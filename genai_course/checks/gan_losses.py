"""Exercise checks for lesson 04: the GAN losses as functions of the logits.

4.1 ``discriminator_loss`` (with a soft real label), 4.2 ``nonsaturating_g_loss`` (stable, from exp and
log), 4.3 ``gradient_penalty`` (one-sided). Lessons call them through ``genai_course.checks``.
Each is a probe (``def name(fn, seen)``: runs the learner's code, records what it saw) and a judge
(``@name.judge``: from those observations to the verdict), see ``_protocol``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import losses
from ..utils import same
from ._protocol import CheckFailed, Observed, _call, _exercise, _scalar
from .observations import observe

__all__ = ["discriminator_loss", "nonsaturating_g_loss", "gradient_penalty"]


# --------------------------------------------------------------------------- lesson 04


def _logits() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(4)
    return 3 * torch.randn(64, generator=g), 3 * torch.randn(64, generator=g) - 1


_REAL_LABELS = (1.0, 0.9, 0.7)  # the labels 4.1's check asks for (1.0: no smoothing)


def _confident() -> tuple[torch.Tensor, torch.Tensor]:
    """Real and fake logits where sigmoid rounds to exactly 1 and 0 in float32."""
    return torch.tensor([30.0, 2.0]), torch.tensor([-30.0, -1.0])


def _bce(logits: torch.Tensor, label: float) -> torch.Tensor:
    """Binary cross-entropy of logits against one target probability ``label``, in softplus form."""
    return (label * F.softplus(-logits) + (1 - label) * F.softplus(logits)).mean()


@_exercise("4.1", "the discriminator's loss with a soft real label")
def discriminator_loss(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(real_logits (B,), fake_logits (B,), real_label) -> scalar: BCE, real target real_label, fake target 0."""
    for t in _REAL_LABELS:
        seen[f"out {t}"] = observe(_call(f"discriminator_loss(real_logits, fake_logits, real_label={t})", fn, *_logits(), real_label=t))
    seen["confident"] = observe(_call("discriminator_loss on confident logits", fn, *_confident(), real_label=0.9))


@discriminator_loss.judge
def _judge_discriminator_loss(seen: Observed) -> str:
    real, fake = _logits()
    out = _scalar("discriminator_loss(real_logits, fake_logits, real_label=1.0)", seen["out 1.0"])
    ref = losses.minimax_d(real, fake)  # real_label=1.0: the lesson's loss
    if not same(out, ref):
        if same(out, _bce(fake, 1.0) + _bce(real, 0.0)):
            raise CheckFailed("the labels are swapped: real examples should be labelled 1 (here real_label) and fakes 0")
        if same(out, _bce(real, 0.9) + _bce(fake, 0.0)):
            raise CheckFailed("with real_label=1.0 you returned the loss for a label of 0.9: use the real_label you are given")
        if same(out, -ref):
            raise CheckFailed("the sign is flipped: a cross-entropy is never negative, and D's loss should fall as D gets more right")
        if same(out, ref / 2):
            raise CheckFailed("you averaged the two terms; add them (each is already a mean over its batch)")
        if same(out, ref * real.numel(), 1e-3):
            raise CheckFailed("that is a sum over the batch: each term should be a mean over its batch")
        raise CheckFailed(f"with real_label=1.0 (no smoothing) expected {ref.item():.4f} on a test batch, got {out.item():.4f} (the inputs are logits, not probabilities)")
    for t in _REAL_LABELS[1:]:
        got = _scalar(f"discriminator_loss(real_logits, fake_logits, real_label={t})", seen[f"out {t}"])
        want = _bce(real, t) + _bce(fake, 0.0)
        if same(got, want):
            continue
        if same(got, ref):
            raise CheckFailed(f"with real_label={t} the loss is the same as with real_label=1.0: the real examples' target should be real_label")
        if same(got, t * F.softplus(-real).mean() + _bce(fake, 0.0)):
            raise CheckFailed("you scaled the real examples' loss by real_label: a soft label is a target probability, not a weight "
                              "(the loss on a real example should be lowest where sigmoid(l) = real_label; yours keeps falling as l grows)")
        if same(got, _bce(real, t) + _bce(fake, 1 - t)):
            raise CheckFailed("the fakes' label moved too: the smoothing is one-sided, fakes keep label 0")
        if same(got, ref + _bce(fake, 1 - t) - _bce(fake, 0.0)):
            raise CheckFailed("you softened the fakes' label instead of the real examples' one: fakes keep label 0")
        raise CheckFailed(f"with real_label={t} expected {want.item():.4f} on a test batch, got {got.item():.4f}")
    # exact where sigma(l) rounds to 1 or 0 (read the record directly: _scalar's "NaN or infinite" would hide the advice)
    far, (real, fake) = seen["confident"], _confident()
    want = _bce(real, 0.9) + _bce(fake, 0.0)
    one = far["type"] == "Tensor" and math.prod(far["shape"]) == 1
    if not (one and same(far["value"].reshape(()).double(), want.double(), 1e-4)):
        got = f"{far['value'].reshape(()).item():.4g}" if one else far["type"]
        raise CheckFailed(f"with real logits (30, 2), fake logits (-30, -1) and real_label=0.9 the loss should be {want.item():.4f}, got {got}: "
                          "sigmoid(30) rounds to exactly 1 in float32, so a loss computed from sigmoid(l) loses the real example's 1 - sigmoid(30)")
    return "matches binary cross-entropy with a soft real label, exact for confident logits"


# 4.2 builds the stable form itself: these compute it for you
_STABLE_BUILT_INS = ((torch.nn.functional, "softplus"), (torch.nn.functional, "logsigmoid"),
                     (torch.nn.functional, "binary_cross_entropy_with_logits"), (torch, "logaddexp"))


def _call_watching(what: str, fn: Callable[..., Any], used: set[str], *args: Any) -> Any:
    """``_call``, with the stable built-ins of ``_STABLE_BUILT_INS`` replaced for the call by wrappers
    that note their use in ``used`` (and then compute as usual)."""
    saved = [(module, name, getattr(module, name)) for module, name in _STABLE_BUILT_INS]

    def watch(label: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def watched(*a: Any, **k: Any) -> Any:
            used.add(label)
            return original(*a, **k)
        return watched

    try:
        for module, name, original in saved:
            setattr(module, name, watch(f"{'F' if module is torch.nn.functional else 'torch'}.{name}", original))
        return _call(what, fn, *args)
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


@_exercise("4.2", "a stable non-saturating loss from exp and log")
def nonsaturating_g_loss(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(fake_logits (B,)) -> scalar: mean of -log sigmoid(l), exact for any l, built without softplus."""
    _, fake = _logits()
    used: set[str] = set()
    seen["out"] = observe(_call_watching("nonsaturating_g_loss", fn, used, fake))
    seen["at -200"] = observe(_call_watching("nonsaturating_g_loss", fn, used, torch.tensor([-200.0])))
    seen["at +200"] = observe(_call_watching("nonsaturating_g_loss", fn, used, torch.tensor([200.0])))
    far = torch.tensor([-200.0, 200.0], requires_grad=True)
    loss, grad = _call_watching("nonsaturating_g_loss", fn, used, far), None
    if type(loss) is torch.Tensor and loss.requires_grad and loss.numel() == 1:
        (grad,) = _call("the backward pass through your loss", torch.autograd.grad, loss, far, allow_unused=True)
    seen["grad"] = None if grad is None else observe(grad)
    seen["built-ins"] = sorted(used)


def _far_value(rec: dict, want: float) -> str | None:
    """None if the record holds one number within 1e-3 of ``want``, else what it holds, for a message."""
    if rec["type"] == "Tensor" and math.prod(rec["shape"]) == 1:
        value = rec["value"].reshape(()).double()
        return None if same(value, torch.tensor(want, dtype=torch.float64), 1e-3) else f"{value.item():.4g}"
    return rec["type"]


@nonsaturating_g_loss.judge
def _judge_nonsaturating_g_loss(seen: Observed) -> str:
    _, fake = _logits()
    if seen["built-ins"]:
        raise CheckFailed(f"your loss calls {' and '.join(seen['built-ins'])}: the exercise is to build that stable form yourself, from exp and log (or log1p)")
    out = _scalar("nonsaturating_g_loss(fake_logits)", seen["out"])
    ref = losses.nonsaturating_g(fake)
    if not same(out, ref):
        if same(out, -ref):
            raise CheckFailed("the sign is flipped: the loss should be large and positive when D rejects the fakes")
        if same(out, losses.minimax_g(fake)):
            raise CheckFailed("this is the saturating (minimax) loss: it is flat exactly where D rejects the fakes, which is what the non-saturating loss fixes")
        if same(out, losses.nonsaturating_g(torch.sigmoid(fake))):
            raise CheckFailed("you applied sigmoid and then treated the result as logits again: the input already is logits")
        if same(out, ref * fake.numel(), 1e-3):
            raise CheckFailed("that is a sum over the batch: take the mean")
        raise CheckFailed(f"expected {ref.item():.4f} on a test batch, got {out.item():.4f}")
    got = _far_value(seen["at -200"], 200.0)
    if got is not None:
        raise CheckFailed(f"at a logit of -200 the loss should be 200, got {got}: on the way a number left float32's range "
                          "(e^200 overflows to inf; sigmoid(-200) rounds to 0, whose log is -inf)")
    got = _far_value(seen["at +200"], 0.0)
    if got is not None:
        raise CheckFailed(f"at a logit of +200 the loss should be about 0, got {got}: there a number on the way left float32's range "
                          "(the form that saves very negative logits must not break very positive ones)")
    grad = seen["grad"]
    if grad is None:
        raise CheckFailed("the loss carries no gradient back to the logits: compute it with torch operations on the tensor you are given")
    want = torch.tensor([-0.5, 0.0])  # d/dl of mean(-log sigmoid(l)) at l = -200, +200
    if grad["type"] != "Tensor" or grad["shape"] != [2]:
        raise CheckFailed("the gradient of the loss with respect to the logits has the wrong shape")
    if torch.isnan(grad["value"]).any():
        raise CheckFailed("the loss is right but its gradient at a logit of -200 or +200 is nan: a branch you discard (torch.where computes both) "
                          "still overflows to inf, and backpropagation multiplies its zero weight by that inf")
    if not same(grad["value"].double(), want.double(), 1e-4):
        raise CheckFailed(f"the gradient with respect to the logits (-200, +200) should be (-0.5, 0), got {tuple(round(v, 4) for v in grad['value'].tolist())}: "
                          "part of your loss does not reach the logits through autograd")
    return "matches -log σ(D(G(z))), exact at logits of -200 and +200, gradient included"


def _penalty_case() -> tuple[nn.Module, torch.Tensor, torch.Tensor, torch.Tensor]:
    from ..gan import Discriminator, DiscriminatorConfig

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        D = Discriminator(DiscriminatorConfig(hidden=16, layers=2))
    with torch.no_grad():
        D.net[-1].weight.mul_(10)  # steeper: 13 of the 32 slopes above 1, the rest below
    g = torch.Generator().manual_seed(3)
    return D, torch.randn(32, 2, generator=g), torch.randn(32, 2, generator=g), torch.rand(32, 1, generator=g)


@_exercise("4.3", "a one-sided gradient penalty")
def gradient_penalty(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(D, real (B, 2), fake (B, 2), eps (B, 1)) -> scalar: the one-sided penalty on slopes above 1 at x_hat."""
    D, real, fake, eps = _penalty_case()
    out = _call("gradient_penalty", fn, D, real, fake, eps)
    seen["out"] = observe(out)
    if type(out) is not torch.Tensor or out.numel() != 1 or not out.requires_grad:
        seen["reached"] = None
        return
    _call("the backward pass through your penalty", out.backward)
    # every weight, not the output bias: a constant shift of D does not change its slope
    seen["reached"] = all(p.grad is not None for name, p in D.named_parameters() if name.endswith("weight"))


def _slopes(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """||grad_x D|| at x_hat = eps real + (1 - eps) fake, and (squared norms) ||grad||^2, each (B,)."""
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat)
    return grad.norm(dim=1), grad.pow(2).sum(dim=1)


@gradient_penalty.judge
def _judge_gradient_penalty(seen: Observed) -> str:
    D, real, fake, eps = _penalty_case()
    out = _scalar("gradient_penalty(D, real, fake, eps)", seen["out"])
    norm, squared = _slopes(D, real, fake, eps)
    relu = torch.nn.functional.relu
    ref = relu(norm - 1).pow(2).mean()
    if not same(out, ref, 1e-4):
        if same(out, relu(_slopes(D, fake, real, eps)[0] - 1).pow(2).mean(), 1e-4):
            raise CheckFailed("real and fake are mixed the wrong way round: eps is the weight of the real example")
        if same(out, (norm - 1).pow(2).mean(), 1e-4):
            raise CheckFailed("slopes below 1 are penalised too: the one-sided penalty leaves a slope of at most 1 alone")
        if same(out, relu(1 - norm).pow(2).mean(), 1e-4):
            raise CheckFailed("you penalise slopes below 1 and let steeper ones through: it is a slope above 1 that breaks the constraint")
        if any(same(out, p, 1e-4) for p in (relu(squared - 1).pow(2).mean(), (squared - 1).pow(2).mean(), squared.mean())):
            raise CheckFailed("measure the slope with the gradient's norm, not its squared norm")
        if same(out, relu(norm - 1).mean(), 1e-4):
            raise CheckFailed("square how far each slope goes above 1 before taking the mean")
        raise CheckFailed(f"expected {ref.item():.4f} on a test batch, got {out.item():.4f}")
    if not seen["out"]["requires_grad"] or not seen["reached"]:
        raise CheckFailed("the penalty carries no gradient back to D's weights: the gradient autograd returned was not itself "
                          "recorded for differentiation, so backpropagation stops there")
    return "matches the reference and trains D"
