"""Exercise checks for lessons 02-03: the MLP generator and discriminator.

2.1 ``make_generator``, 2.2 ``generate``, 3.1 ``make_discriminator``, 3.2 ``discriminator_accuracy``
(lesson 01's checks: ``mixtures``; lesson 04's: ``gan_losses``; lesson 05's steps: ``steps``).
Lessons call them through ``genai_course.checks``: ``checks.make_generator(fn)``.
Each is a probe (``def name(fn, seen)``: runs the learner's code, records what it saw) and a judge
(``@name.judge``: from those observations to the verdict), see ``_protocol``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from ..utils import same
from ._protocol import (
    CheckFailed, Observed, _call, _edited, _exercise, _module_or_stop, _number, _stop, _tensor, _unchanged, _with_advice,
)
from .observations import observe

__all__ = ["make_generator", "generate", "make_discriminator", "discriminator_accuracy"]


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


_GENERATOR_CASES = ((2, 32, 2, 3), (5, 16, 3, 1))  # (latent_dim, hidden, data_dim, layers)


def _generator_parameters(latent_dim: int, hidden: int, data_dim: int, layers: int) -> int:
    """Weights and biases of ``layers`` hidden Linear layers of width ``hidden``, then the output layer."""
    return (latent_dim + 1) * hidden + (layers - 1) * (hidden + 1) * hidden + (hidden + 1) * data_dim


def _layer_calls(net: nn.Module, x: torch.Tensor) -> list[tuple[str, int]]:
    """(class name, calls) of every layer of ``net`` that holds its own parameters, over one forward pass on ``x``."""
    layers = [m for m in net.modules() if next(m.parameters(recurse=False), None) is not None]
    calls = [0] * len(layers)
    hooks = [m.register_forward_hook(lambda *_, i=i: calls.__setitem__(i, calls[i] + 1)) for i, m in enumerate(layers)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for hook in hooks:
            hook.remove()
    return [(type(m).__name__, n) for m, n in zip(layers, calls)]


def _wide_noise(latent_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise (256, latent_dim): rows za (64), zb (64), t za + (1 - t) zb (64), then far points |z| ~ 50 (64),
    where a ReLU network's output outgrows its last bias; and t (64, 1)."""
    g = torch.Generator().manual_seed(3)
    za, zb = 2 * torch.randn(64, latent_dim, generator=g), 2 * torch.randn(64, latent_dim, generator=g)
    t = 0.2 + 0.6 * torch.rand(64, 1, generator=g)
    return torch.cat([za, zb, t * za + (1 - t) * zb, 50 * torch.randn(64, latent_dim, generator=g)]), t


@_exercise("2.1", "the generator network")
def make_generator(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn(latent_dim, hidden, data_dim, layers) -> nn.Module mapping (B, latent_dim) -> (B, data_dim)
    with ``layers`` hidden ReLU layers of width ``hidden``."""
    torch.manual_seed(0)
    for latent_dim, hidden, data_dim, layers in _GENERATOR_CASES:
        G = _call(f"make_generator({latent_dim}, {hidden}, {data_dim}, {layers})", fn, latent_dim, hidden, data_dim, layers)
        z = torch.randn(16, latent_dim, generator=torch.Generator().manual_seed(0))
        key = f"G{latent_dim}"
        _probe_module(G, f"your generator on noise of shape (16, {latent_dim})", z, key, seen, lambda y: y.pow(2).sum())
        if seen[f"{key}.out"]["type"] != "Tensor":
            _stop()
        seen[f"{key}.calls"] = _call("a forward pass of your generator", _layer_calls, G, z)
        seen[f"{key}.parameters"] = _call("counting your generator's parameters", lambda: sum(p.numel() for p in G.parameters()))
        wide, _ = _wide_noise(latent_dim)
        with torch.no_grad():
            seen[f"{key}.wide"] = observe(_call(f"your generator on noise of shape {tuple(wide.shape)}", G, wide))


@make_generator.judge
def _judge_make_generator(seen: Observed) -> str:
    for latent_dim, hidden, data_dim, layers in _GENERATOR_CASES:
        key, call = f"G{latent_dim}", f"make_generator({latent_dim}, {hidden}, {data_dim}, {layers})"
        _judge_module(seen, key, "your generator should be")
        _tensor("the output for 16 noise vectors", seen[f"{key}.out"], (16, data_dim))
        _, t = _wide_noise(latent_dim)
        y = _tensor("the output for 256 noise vectors", seen[f"{key}.wide"], (256, data_dim))
        if y.std(0).max() < 1e-6:
            raise CheckFailed("every noise vector gives the same output: the output must depend on z")
        if (y >= 0).all() and ((y == 0).any() or (y <= 1).all()):
            raise CheckFailed("no output coordinate is ever negative, even for z far from 0: an activation after the last layer "
                              "cuts off negative values, but a point in the plane can have any coordinates")
        stuck = seen[f"{key}.stuck"]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward")
        shared = [(name, n) for name, n in seen[f"{key}.calls"] if n > 1]
        if shared:
            raise CheckFailed(f"in {call} one {shared[0][0]} layer runs {shared[0][1]} times in a single forward pass: "
                              "its weights are shared, so those hidden layers are one layer; each hidden layer needs its own weights")
        count, expected = seen[f"{key}.parameters"], _generator_parameters(latent_dim, hidden, data_dim, layers)
        if count != expected:
            extra, per_layer = count - expected, (hidden + 1) * hidden
            if extra % per_layer == 0:
                n = abs(extra) // per_layer
                raise CheckFailed(f"{call} has {count:,} parameters, {abs(extra):,} {'more' if extra > 0 else 'fewer'} than expected: "
                                  f"that is {n} hidden layer{'s' if n > 1 else ''} of width {hidden} too {'many' if extra > 0 else 'few'} "
                                  f"(layers={layers} counts the hidden layers; the output layer comes on top)")
            raise CheckFailed(f"{call} has {count:,} parameters, expected {expected:,}: {layers} hidden layer{'s' if layers > 1 else ''} "
                              f"of width {hidden} (each Linear with its bias), then a Linear output layer")
        a, b, mid = y[:64].double(), y[64:128].double(), y[128:192].double()
        if (mid - (t * a + (1 - t) * b)).abs().max() <= 1e-4 * y[:192].abs().max():
            raise CheckFailed("your generator is an affine function of z (every mix of two noise vectors goes to the same mix of their "
                              "outputs): with no activation between them, a stack of linear layers is one linear layer")
    return "any depth: shapes, parameter counts and gradients as expected, and not affine"


def _generate_case() -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A library generator (latent_dim 3, data_dim 2) and the two ends of the latent segment."""
    from ..gan import Generator, GeneratorConfig

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        G = Generator(GeneratorConfig(latent_dim=3, hidden=16, layers=2))
    g = torch.Generator().manual_seed(7)
    return G, 2 * torch.randn(3, generator=g), 2 * torch.randn(3, generator=g)


_STEPS = 7


@_exercise("2.2", "generating along a latent line")
def generate(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(G, z0, z1, steps) -> (steps, data_dim): G at `steps` evenly spaced points from z0 to z1 (both ends), without gradients."""
    G, z0, z1 = _generate_case()
    given = [("z0", z0.clone(), z0.clone()), ("z1", z1.clone(), z1.clone())]
    seen["out"] = observe(_call(f"generate(G, z0, z1, {_STEPS})", fn, G, given[0][1], given[1][1], _STEPS))
    seen["edited"] = _edited(given)


@generate.judge
def _judge_generate(seen: Observed) -> str:
    what = f"generate(G, z0, z1, {_STEPS})"
    rec = seen["out"]
    _unchanged(what, seen["edited"], "`-=` or `.mul_()` on a name for z0 or z1")
    out = _tensor(what, rec, (_STEPS, 2))
    if rec["requires_grad"]:
        raise CheckFailed("the points still track gradients: nothing will be differentiated here, so switch gradient tracking off while you compute them")
    G, z0, z1 = _generate_case()
    t = torch.linspace(0, 1, _STEPS)[:, None]  # (steps, 1)
    with torch.no_grad():
        ref = G((1 - t) * z0 + t * z1)  # (steps, 2)
        ends = G(torch.stack([z0, z1]))  # (2, 2)
    if same(out, ref):
        return f"{_STEPS} points from G(z0) to G(z1), both ends included"
    if same(out, ref.flip(0)):
        raise CheckFailed("the path runs backwards: the first point should be G(z0) and the last G(z1)")
    if same(out, (1 - t) * ends[0] + t * ends[1]):
        raise CheckFailed("your points lie on the straight segment from G(z0) to G(z1), but G bends straight lines: "
                          "the path must be straight in latent space, not in data space")
    first, last = same(out[0], ends[0]), same(out[-1], ends[1])
    if first and not last:
        raise CheckFailed(f"the first point is G(z0) but the last is not G(z1): the {_STEPS} evenly spaced points include both ends")
    if last and not first:
        raise CheckFailed(f"the last point is G(z1) but the first is not G(z0): the {_STEPS} evenly spaced points include both ends")
    raise CheckFailed(f"the points are not G at {_STEPS} evenly spaced points of the segment from z0 to z1 "
                      f"(point 2: got {[round(v, 4) for v in out[1].tolist()]}, expected {[round(v, 4) for v in ref[1].tolist()]})")


# --------------------------------------------------------------------------- lesson 03


_DISCRIMINATOR_CASES = ((2, 32, 1), (2, 32, 2), (3, 16, 4))  # (data_dim, hidden, pack)
_WIDTH = [(("cannot be multiplied",), "the first layer's input size does not match the rows it is given: one row should hold a whole pack")]


@_exercise("3.1", "a packed discriminator")
def make_discriminator(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn(data_dim, hidden, pack) -> nn.Module mapping (B, data_dim) -> logits (B // pack,); rows pack*i ... pack*i + pack - 1 form pack i."""
    torch.manual_seed(0)
    for data_dim, hidden, pack in _DISCRIMINATOR_CASES:
        D = _call(f"make_discriminator({data_dim}, {hidden}, {pack})", fn, data_dim, hidden, pack)
        x = 5 * torch.randn(256, data_dim, generator=torch.Generator().manual_seed(0))
        _probe_module(D, f"your discriminator (pack={pack}) on inputs of shape (256, {data_dim})", x, f"D{pack}", seen, lambda y: y.sum())
        out = _call(f"your discriminator (pack={pack})", D, x.requires_grad_(True))
        if type(out) is torch.Tensor and out.requires_grad and out.numel() > 0:  # which input rows the first logit depends on
            (grad,) = _call("the backward pass from the first logit", torch.autograd.grad, out.reshape(-1)[0], x, allow_unused=True)
            seen[f"D{pack}.rows"] = [] if grad is None else grad.abs().sum(1).nonzero().flatten().tolist()[:20]


@make_discriminator.judge
def _judge_make_discriminator(seen: Observed) -> str:
    for _, _, pack in _DISCRIMINATOR_CASES:
        key, n = f"D{pack}", 256 // pack
        _judge_module(seen, key, "make_discriminator should return")
        try:
            rec = seen[f"{key}.out"]
        except CheckFailed as failure:
            raise _with_advice(failure, _WIDTH) from None
        shape = tuple(rec["shape"]) if rec["type"] == "Tensor" else None
        if shape == (n, 1):
            raise CheckFailed(f"with pack={pack} the output has shape ({n}, 1): the last layer's axis of size 1 is still there, and D should return shape ({n},)")
        if pack > 1 and shape in ((256,), (256, 1)):
            raise CheckFailed(f"with pack={pack} you return one logit per example, shape {shape}: D should judge each pack of {pack} examples together, one logit per pack, shape ({n},)")
        out = _tensor(f"the output for 256 examples with pack={pack}", rec, (n,))
        if out.min() >= 0 and out.max() <= 1:
            raise CheckFailed("the outputs all lie in [0, 1]: they look like probabilities, but D should return logits, which can be any real number")
        stuck = seen[f"{key}.stuck"]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward")
        rows = seen[f"{key}.rows"]
        if rows != list(range(pack)):
            raise CheckFailed(f"with pack={pack} the first logit depends on input rows {rows}: pack 0 is the first {pack} consecutive examples, rows 0 to {pack - 1}, and no others")
    return "one logit per pack, each from its own consecutive examples"


def _rows(logits: list[float]) -> torch.Tensor:
    return torch.tensor([[value, 0.0] for value in logits])  # (N, 2): the fixed D's logit is the first coordinate


def _unpacked(x: torch.Tensor) -> torch.Tensor:
    return x[:, 0].clone()  # (N, 2) -> (N,)


def _packed(x: torch.Tensor) -> torch.Tensor:
    return x[:, 0].reshape(-1, 2).sum(1)  # pack=2: (N, 2) -> (N // 2,), the sum of the pack's first coordinates


# (D, real, fake, p, pack): real logits 3.5, 2.5, -1, -2.5 and fake ones -2, -0.5, 0.5, 1, 2; then packs: real 3, 1, -2, fake -3, -1, 0.5, 2.5
_ACCURACY_CASES = (
    (_unpacked, _rows([3.5, 2.5, -1.0, -2.5]), _rows([-2.0, -0.5, 0.5, 1.0, 2.0]), 0.9, 1),
    (_packed, _rows([1.0, 2.0, 0.5, 0.5, -1.0, -1.0]), _rows([-1.5, -1.5, -0.5, -0.5, 0.0, 0.5, 1.0, 1.5]), 0.9, 2),
)


@_exercise("3.2", "accuracy at a confidence threshold")
def discriminator_accuracy(fn: Callable[..., Any], seen: dict) -> None:
    """fn(D, real, fake, p) -> float: share of D's verdicts (one per logit) that are right when D says 'real' only if sigmoid(logit) > p."""
    for k, (D, real, fake, p, _) in enumerate(_ACCURACY_CASES):
        seen[f"out{k}"] = observe(_call(f"discriminator_accuracy(D, real, fake, {p})", fn, D, real.clone(), fake.clone(), p))


def _share_right(real_logits: torch.Tensor, fake_logits: torch.Tensor, threshold: float, per_class: bool = False) -> float:
    right_real, right_fake = (real_logits > threshold).double(), (fake_logits <= threshold).double()
    if per_class:
        return ((right_real.mean() + right_fake.mean()) / 2).item()
    return ((right_real.sum() + right_fake.sum()) / (right_real.numel() + right_fake.numel())).item()


@discriminator_accuracy.judge
def _judge_discriminator_accuracy(seen: Observed) -> str:
    for k, (D, real, fake, p, pack) in enumerate(_ACCURACY_CASES):
        rec = seen[f"out{k}"]
        if not (rec["type"] in ("float", "int") or (rec["type"] == "Tensor" and math.prod(rec["shape"]) == 1)):
            raise CheckFailed(f"should return one number (a float), got {rec['type']}")
        got = _number(f"discriminator_accuracy(D, real, fake, {p})", rec)
        real_logits, fake_logits, threshold = D(real), D(fake), math.log(p / (1 - p))
        expected = _share_right(real_logits, fake_logits, threshold)
        if abs(got - expected) < 1e-6:
            continue
        mistakes = [
            (expected / pack, f"with a packed D (pack={pack}) you divided by the number of rows, but D gives one verdict per pack: count verdicts"),
            (_share_right(real_logits, fake_logits, threshold, per_class=True),
             "you averaged the two accuracies; count right verdicts over all verdicts instead (the batches differ in size)"),
            (1 - expected, "labels are swapped: a logit above the threshold means D says 'real'"),
            (_share_right(real_logits, fake_logits, 0.0), f"your result is the accuracy at p = 0.5, but p = {p}: your function ignores p"),
            (_share_right(real_logits, fake_logits, p), f"you compared the logits with p = {p} itself, but p is a probability and D returns logits: they are in different units"),
            (_share_right(real_logits, fake_logits, -threshold),
             f"your threshold has the wrong sign: at p = {p}, more than an even chance, D should need a positive logit to call an example real"),
        ]
        for value, message in mistakes[0 if pack > 1 else 1:]:
            if abs(got - value) < 1e-6:
                raise CheckFailed(message)
        case = f"a test case with p = {p}" + (f" and a packed D (pack={pack})" if pack > 1 else "")
        raise CheckFailed(f"on {case}, expected {expected:.3f} of the verdicts right, got {got:.3f}")
    return "right on an unpacked and a packed test case"
