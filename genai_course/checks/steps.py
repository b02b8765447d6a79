"""Exercise checks for lesson 05: 5.1 ``d_step`` (a D step with the R1 penalty), 5.2 ``g_step`` (a G step that spares D's
weights), 5.3 ``train_loop`` (several D steps per G step). Each is a probe and a judge (``@name.judge``), see ``_protocol``.

5.1's probe steps D by plain SGD (D's change of weights is the gradient the step followed) with a G that draws one fake point
whatever z is: the judge reads that gradient as a mix of the gradients of D's loss and of the penalty. The probes also leave
large stale gradients of known signs in ``.grad`` (a step that forgets ``zero_grad()`` follows them) and watch parameters with
gradient hooks (a gradient computed for G in D's step, or for D in G's step, shows even when the learner clears it afterwards).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from .. import data, losses
from ._protocol import CheckFailed, Observed, _call, _exercise, _number, _with_advice
from .observations import observe

__all__ = ["d_step", "g_step", "train_loop"]


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


def _stale_signs(m: nn.Module) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(11)
    return [torch.randint(0, 2, p.shape, generator=g).float() * 2 - 1 for p in m.parameters()]


def _leave_stale_gradients(m: nn.Module) -> None:
    """Fill .grad with large stale gradients (1,000) of known signs, as a previous step would leave them."""
    for p, sign in zip(m.parameters(), _stale_signs(m)):
        p.grad = 1e3 * sign


def _used_stale_gradients(before: nn.Module, after: dict[str, torch.Tensor]) -> bool:
    """Whether the first Adam step from ``before`` to ``after`` followed the stale gradients' signs: Adam's first step moves each
    weight by lr against its gradient's sign, so fresh gradients agree with the stale signs half the time, stale ones always."""
    agree = total = 0
    for (name, p), sign in zip(before.named_parameters(), _stale_signs(before)):
        step = after[name] - p.detach()
        moved = step != 0
        agree += int(((-step.sign()) == sign)[moved].sum())
        total += int(moved.sum())
    return total > 0 and agree / total > 0.95


def _watch_gradients(m: nn.Module) -> list[bool]:
    """A list that gets an entry each time a backward pass computes a gradient for one of ``m``'s parameters (even if cleared later)."""
    reached: list[bool] = []
    for p in m.parameters():
        p.register_hook(lambda grad: reached.append(True))
    return reached


def _expected_loss(G: nn.Module, D: nn.Module, real: torch.Tensor | None, gamma: float = 0.0) -> tuple[float, float]:
    """(D's loss on ``real`` and fresh fakes plus gamma / 2 times R1 at ``real``; G's non-saturating loss on fresh fakes), at these
    weights: the fakes' part averaged over 8,192 draws of z (a batch of 64 lands within about 0.001 of it)."""
    if real is None:  # the real part over the ring itself
        real = data.ring8().sample(8192, generator=torch.Generator().manual_seed(22))
    penalty = losses.r1_penalty(D, real).item() if gamma else 0.0
    with torch.no_grad():
        z = torch.randn(8192, G.config.latent_dim, generator=torch.Generator().manual_seed(21))
        fake = D(G(z))
        return losses.minimax_d(D(real), fake).item() + gamma / 2 * penalty, losses.nonsaturating_g(fake).item()


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


_GAMMA = 4.0  # the probe's R1 weight: (gamma / 2) * the penalty's gradient is about as large as the loss's
_SGD_LR = 0.1  # plain SGD: D's change of weights is -lr times the gradient the step followed
_FAKE = (0.6, -0.4)  # the probe's G draws this point whatever z is


def _d_step_case() -> tuple[nn.Module, nn.Module, torch.Tensor, torch.Tensor]:
    """(G that always draws _FAKE, D, a real batch (64, 2) from the ring, the fakes (64, 2))."""
    G, D = _tiny_gan()
    with torch.no_grad():  # G's last layer ignores its input: the same fake, and so the same gradient, for any z
        G.net[-1].weight.zero_()
        G.net[-1].bias.copy_(torch.tensor(_FAKE))
    real = data.ring8().sample(64, generator=torch.Generator().manual_seed(0))
    return G, D, real, torch.tensor([_FAKE]).expand(64, 2)


def _flat_grad(D: nn.Module, loss: torch.Tensor) -> torch.Tensor:
    """The gradient of ``loss`` with respect to D's parameters, as one float64 vector."""
    params = list(D.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).flatten() for g, p in zip(grads, params)]).double()


def _slope_length(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The mean over the batch of ||grad_x D(x)||: the mistake of penalising the slope, not its square (losses.r1_penalty)."""
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return grad.pow(2).sum(dim=1).sqrt().mean()


def _step_taken(D: nn.Module, after: dict[str, torch.Tensor]) -> torch.Tensor:
    """The gradient an SGD step from D's weights to ``after`` followed, as one float64 vector."""
    return torch.cat([(p.detach().double() - after[name].double()).flatten() / _SGD_LR for name, p in D.named_parameters()])


def _fit(g: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> tuple[float, float, float]:
    """(x, y, residual): g ~ x a + y b by least squares, and the misfit relative to |g|."""
    basis = torch.stack([a, b], dim=1)  # (N, 2)
    coef = torch.linalg.lstsq(basis, g.unsqueeze(1)).solution.squeeze(1)
    residual = (g - basis @ coef).norm() / g.norm().clamp_min(1e-12)
    return coef[0].item(), coef[1].item(), residual.item()


_near = lambda x, target: abs(x - target) <= 0.03 * max(abs(target), 0.1)  # noqa: E731


@_exercise("5.1", "a discriminator step with the R1 penalty")
def d_step(fn: Callable[..., Any], seen: dict) -> None:
    """fn(G, D, real (B, 2), opt_d, gamma) -> float: one update of D on its loss plus (gamma / 2) times the R1 penalty."""
    G, D, real, _ = _d_step_case()
    start = _state(D)
    opt_d = torch.optim.SGD(D.parameters(), lr=_SGD_LR)
    _leave_stale_gradients(D)
    reached_g = _watch_gradients(G)
    torch.manual_seed(0)
    seen["out"] = observe(_call(f"d_step(G, D, real, opt_d, gamma={_GAMMA:g})", fn, G, D, real, opt_d, _GAMMA))
    seen["D1"], seen["G1"] = _state(D), _state(G)
    seen["g_grad"] = bool(reached_g) or any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in G.parameters())
    D.load_state_dict(start)  # the same step again from the same weights, with three times the weight
    opt_d.zero_grad(set_to_none=True)
    _call(f"d_step(G, D, real, opt_d, gamma={3 * _GAMMA:g})", fn, G, D, real, opt_d, 3 * _GAMMA)
    seen["D1_3gamma"] = _state(D)


_CLIMBED = "D's step climbed its own loss instead of descending it: is the loss's sign right?"
_PENALTY_OFF = {  # the penalty's part of the step, as a multiple of gamma / 2 times R1's gradient -> what is wrong
    0.0: "the penalty added nothing to D's gradient: D moved exactly as it would without the penalty. Does the penalty's value still carry a graph back to D's weights when you call backward()?",
    -1.0: "the penalty made D steeper at the real data, not flatter: check the penalty's sign",
    2.0: "the penalty weighs twice what it should: its weight is gamma / 2, not gamma",
    0.5: "the penalty weighs half what it should: is each example's squared slope summed over its two coordinates (not averaged), and the penalty weighted gamma / 2?",
}


def _diagnose_d_step(taken: torch.Tensor, loss: torch.Tensor, penalty: torch.Tensor, D: nn.Module, real: torch.Tensor,
                     fake: torch.Tensor, gamma: float) -> str | None:
    """Why the gradient an SGD step followed (``taken``) is not loss + (gamma / 2) penalty, or None if it is."""
    half, batch = gamma / 2, real.shape[0]
    a, b, misfit = _fit(taken, loss, penalty)
    if misfit < 1e-3:
        if not _near(a, 1.0):
            if _near(a, -1.0):
                return _CLIMBED
            if _near(a, 0.5):
                return ("the loss part of your step is half of D's loss: is it one mean over all 2B logits together? "
                        "D's loss adds the mean over the real batch and the mean over the fakes")
            if _near(a, batch):
                return f"the loss part of your step is {batch} times D's loss: that is a sum over the batch; take the mean"
            return f"the loss part of your step is {a:.3g} times the gradient of D's loss (it should be 1)"
        if _near(b, half):
            return None
        ratio = b / half
        for target, problem in {**_PENALTY_OFF, float(batch): f"the penalty is {batch} times too large: that is a sum over the batch; "
                                                              "take the mean"}.items():
            if _near(ratio, target):
                return problem
        return f"the penalty enters your step with {ratio:.3g} times the weight gamma / 2"
    for other, problem in ((losses.r1_penalty(D, fake), "the penalty was measured at the fakes: R1 measures D's slope at the real data"),
                           (_slope_length(D, real), "the penalty uses the length of D's slope: R1 penalises its square")):
        a, b, misfit = _fit(taken, loss, _flat_grad(D, other))
        if misfit < 1e-3 and abs(b) > 0.1 * half:
            return problem
    if float(taken @ loss) < 0:
        return _CLIMBED
    off = (taken - loss - half * penalty).norm() / (loss + half * penalty).norm()
    return (f"D's step does not follow the gradient of D's loss plus gamma / 2 times the mean squared slope at the real data "
            f"(it is {off.item():.0%} off)")


@d_step.judge
def _judge_d_step(seen: Observed) -> str:
    G, D, real, fake = _d_step_case()
    try:
        rec = seen["out"]
    except CheckFailed as e:
        raise _with_advice(e, [
            (("does not require grad",), "autograd can only take D's slope with respect to an input it tracks"),
            (("through the graph a second time",), "taking D's slope freed the graph of D's logits on the real batch, which D's loss and the penalty still need: the slope must keep its graph"),
        ]) from None
    if rec["type"] not in ("float", "float64"):
        raise CheckFailed(f"d_step should return the loss as a Python float (use .item()), got {rec['type']}")
    if not _changed(D, seen["D1"]):
        raise CheckFailed("D's weights did not change: your step should compute the loss's gradient and step opt_d")
    if _changed(G, seen["G1"]):
        raise CheckFailed("G's weights changed during the discriminator's step: only opt_d should step")
    if seen["g_grad"]:
        raise CheckFailed("gradients reached G during D's step: D's loss flowed back through the fakes into G's weights, although D's step should treat the fakes as fixed data")
    if _used_stale_gradients(D, seen["D1"]):
        raise CheckFailed("D's step followed gradients left over in .grad from an earlier step, not only its own (backward adds to .grad, it does not replace it)")
    loss_value = losses.minimax_d(D(real), D(fake))
    penalty_value = losses.r1_penalty(D, real)
    loss, penalty = _flat_grad(D, loss_value), _flat_grad(D, penalty_value)
    problem = _diagnose_d_step(_step_taken(D, seen["D1"]), loss, penalty, D, real, fake, _GAMMA)
    if problem is not None:
        raise CheckFailed(f"with gamma={_GAMMA:g}, {problem}")
    three = _diagnose_d_step(_step_taken(D, seen["D1_3gamma"]), loss, penalty, D, real, fake, 3 * _GAMMA)
    if three is not None:
        if all(torch.equal(seen["D1"][k], seen["D1_3gamma"][k]) for k in seen["D1"]):
            raise CheckFailed(f"your step moved D the same way with gamma={_GAMMA:g} and gamma={3 * _GAMMA:g}: use the gamma you are given")
        raise CheckFailed(f"with gamma={3 * _GAMMA:g}, {three}")
    expected_total = loss_value.item() + _GAMMA / 2 * penalty_value.item()
    got = float(rec["value"])
    if not math.isfinite(got):
        raise CheckFailed(f"d_step returned {got}: return the loss your step took its gradient of (loss.item())")
    if abs(got - expected_total) > 1e-3:  # G always draws the same fake here, so the loss has one exact value
        if abs(got - loss_value.item()) <= 1e-3:
            raise CheckFailed(f"d_step returned {got:.4f}, D's loss without the penalty: return the total your step took its gradient of")
        raise CheckFailed(f"d_step returned {got:.4g}, but D's loss plus the penalty on this batch is {expected_total:.4f}: "
                          "return the loss your step took its gradient of (loss.item())")
    return f"D's step follows its loss and gamma / 2 times R1 (penalty {penalty_value.item():.4f}), G untouched"


def _fool(G: nn.Module, D: nn.Module, state: dict[str, torch.Tensor]) -> float:
    """D's mean logit on 512 fakes of G with weights ``state``."""
    G.load_state_dict(state, strict=True)
    with torch.no_grad():
        return D(G(torch.randn(512, 2, generator=torch.Generator().manual_seed(1)))).mean().item()


@_exercise("5.2", "a generator step that spares D's weights")
def g_step(fn: Callable[..., Any], seen: dict) -> None:
    """fn(G, D, batch_size, opt_g) -> float: one update of G to fool D, computing no gradient for D's weights."""
    G, D = _tiny_gan()
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-2)
    _leave_stale_gradients(G)
    reached_g, reached_d = _watch_gradients(G), _watch_gradients(D)
    torch.manual_seed(0)
    seen["out"] = observe(_call("g_step(G, D, 64, opt_g)", fn, G, D, 64, opt_g))
    seen["G1"], seen["D1"] = _state(G), _state(D)
    seen["g_grad"], seen["d_grad"] = bool(reached_g), bool(reached_d)
    seen["d_frozen"] = [name for name, p in D.named_parameters() if not p.requires_grad]
    seen["g_frozen"] = [name for name, p in G.named_parameters() if not p.requires_grad]
    for _ in range(30):
        _call("g_step(G, D, 64, opt_g)", fn, G, D, 64, opt_g)
    seen["G31"] = _state(G)


_NO_GRAPH = (("does not require grad",), "no graph connects G's loss to G's weights: whatever keeps D's weights out of the "
                                          "backward pass must still let the gradient flow through D into G")


@g_step.judge
def _judge_g_step(seen: Observed) -> str:
    G, D = _tiny_gan()
    _, expected = _expected_loss(G, D, None)
    try:
        rec = seen["out"]
    except CheckFailed as e:
        raise _with_advice(e, [_NO_GRAPH]) from None
    if rec["type"] not in ("float", "float64"):
        raise CheckFailed(f"g_step should return the loss as a Python float (use .item()), got {rec['type']}")
    if _changed(D, seen["D1"]):
        raise CheckFailed("D's weights changed during the generator's step: only opt_g should step")
    if seen["d_frozen"]:
        raise CheckFailed(f"after your step D's weights no longer take gradients ({len(seen['d_frozen'])} of D's parameters, "
                          f"{seen['d_frozen'][0]} among them, are left frozen), so D's own next step could not learn: leave D as you found it")
    if seen["g_frozen"]:
        raise CheckFailed("after your step G's weights no longer take gradients: it is D's weights that G's step should leave out")
    if not seen["g_grad"]:
        raise CheckFailed("no gradient reached G's weights: the path from G's loss back through D into G was cut")
    if seen["d_grad"]:
        raise CheckFailed("your step computed a gradient for D's weights: work nothing uses (only opt_g steps, and D's next step "
                          "clears it). Keep D's weights out of the backward pass while the gradient still flows through D into G")
    if not _changed(G, seen["G1"]):
        raise CheckFailed("G's weights did not change: G's gradient was computed, but opt_g never stepped")
    if _used_stale_gradients(G, seen["G1"]):
        raise CheckFailed("G's step followed gradients left over in .grad from an earlier step, not only its own (backward adds to .grad, it does not replace it)")
    before, after = _fool(G, D, _state(G)), _fool(G, D, seen["G31"])
    if not after > before:
        raise CheckFailed(f"after 30 steps D's logit on the fakes fell ({before:.2f} -> {after:.2f}): G should make D more sure they are real; is the loss's sign right?")
    _judge_returned_loss(rec, expected, 64, "g_step", "G's loss -log σ(D(G(z)))")
    return f"G fools a fixed D more ({before:.2f} -> {after:.2f}), no work spent on D's weights"


_LOOP_GAMMA = 0.1  # R1's weight in the loops the check runs
_ROUNDS, _K, _TRAIN_STEPS, _TRAIN_K = 4, 3, 300, 2  # a short run, whose optimizer steps and batches are logged; a run that trains


def _near_ring(G: nn.Module, state: dict[str, torch.Tensor]) -> float:
    """Mean distance from 1,000 samples of G (weights ``state``) to the nearest ring mode."""
    G.load_state_dict(state, strict=True)
    with torch.no_grad():
        x = G(torch.randn(1000, 2, generator=torch.Generator().manual_seed(5)))
        return torch.cdist(x, data.ring8().means).min(1).values.mean().item()


@_exercise("5.3", "several D steps per G step")
def train_loop(fn: Callable[..., Any], seen: dict) -> None:
    """fn(G, D, sample_real, steps, opt_g, opt_d, gamma, d_steps) -> [(d_loss, g_loss), ...]: d_steps D steps before each G step."""
    ring, gen, sizes, log = data.ring8(), torch.Generator().manual_seed(0), [], []
    sample_real = lambda n: sizes.append(int(n)) or ring.sample(n, generator=gen)  # noqa: E731

    def run(steps: int, k: int, stale: bool = False) -> tuple[nn.Module, nn.Module, Any]:
        G, D = _tiny_gan(seed=1)
        [_leave_stale_gradients(net) for net in ((G, D) if stale else ())]  # a loop whose steps do not clear .grad follows these
        opt_g, opt_d = (torch.optim.Adam(net.parameters(), lr=2e-3, betas=(0.5, 0.99)) for net in (G, D))
        opt_g.register_step_pre_hook(lambda *_: log.append("G")), opt_d.register_step_pre_hook(lambda *_: log.append("D"))
        gen.manual_seed(0), torch.manual_seed(0), sizes.clear(), log.clear()
        return G, D, _call(f"train(G, D, sample_real, {steps}, opt_g, opt_d, gamma={_LOOP_GAMMA:g}, d_steps={k})", fn, G, D, sample_real,
                           steps, opt_g, opt_d, _LOOP_GAMMA, k)

    seen["G_first"], seen["D_first"] = map(_state, run(1, 1, stale=True)[:2])
    run(_ROUNDS, _K)
    seen["order"], seen["sizes"] = "".join(log), list(sizes)
    G, D, hist = run(_TRAIN_STEPS, _TRAIN_K)
    seen["history"], seen["order_train"], seen["G"] = observe(hist), "".join(log), _state(G)


def _order_problem(order: str, steps: int, k: int) -> str | None:
    """What is wrong with the optimizers' steps (``order``: "D" for opt_d, "G" for opt_g) of a loop with these arguments."""
    call = f"with steps={steps} and d_steps={k}, your loop"
    runs = sorted({len(r) for r in order.split("G")[:-1]})  # how many D steps came before each G step
    if order == ("D" * k + "G") * steps:
        return None
    if "D" not in order or "G" not in order:
        return f"{call} never stepped opt_{'d' if 'D' not in order else 'g'}: that network never learned"
    if order.count("G") != steps:
        return f"{call} took {order.count('G')} G step{'s' * (order.count('G') != 1)}: `steps` counts G's updates"
    if order.startswith("G"):
        return f"{call} took a G step before any D step: each G step should come after its D steps"
    if len(runs) == 1 and order.endswith("G"):
        return f"{call} took {runs[0]} D step{'s' * (runs[0] != 1)} before each G step"
    return f"{call} stepped the optimizers in the order {order[:40]} (D = opt_d, G = opt_g): each G step should follow d_steps D steps"


@train_loop.judge
def _judge_train_loop(seen: Observed) -> str:
    G, D = _tiny_gan(seed=1)
    for net, init, step in (("D", D, "d_step"), ("G", G, "g_step")):
        if _changed(init, seen[f"{net}_first"]) and _used_stale_gradients(init, seen[f"{net}_first"]):
            raise CheckFailed(f"the first {net} step of your loop followed gradients left over in .grad from before the loop, "
                              f"not only its own: look at how {step} treats what .grad already holds")
    for order, steps, k in ((seen["order"], _ROUNDS, _K), (seen["order_train"], _TRAIN_STEPS, _TRAIN_K)):
        if (problem := _order_problem(order, steps, k)) is not None:
            raise CheckFailed(problem)
    if len(seen["sizes"]) != _ROUNDS * _K:
        raise CheckFailed(f"with steps={_ROUNDS} and d_steps={_K}, your loop drew {len(seen['sizes'])} real batches for its "
                          f"{_ROUNDS * _K} D steps: each D step should see a fresh batch of its own")
    if set(seen["sizes"]) != {128}:
        raise CheckFailed(f"your loop asked sample_real for {sorted(set(seen['sizes']))} examples: each D step takes a batch of 128")
    rec = seen["history"]
    length = rec.get("length") if rec["type"] in ("list", "tuple") else None
    if length != _TRAIN_STEPS:
        raise CheckFailed(f"train should return one (d_loss, g_loss) pair per G step: a list of {_TRAIN_STEPS}, got {rec['type']}{'' if length is None else f' of {length}'}")
    if not all(h["type"] in ("tuple", "list") and h["length"] == 2 for h in rec["items"]):
        raise CheckFailed("each history entry should be a pair (d_loss, g_loss)")
    values = torch.tensor([[_number("each loss in the history", v) for v in h["items"]] for h in rec["items"]])  # (steps, 2)
    if not torch.isfinite(values).all():
        raise CheckFailed("the history holds NaN or infinite losses: record the numbers d_step and g_step return")
    if (values == values[0]).all(0).any():
        raise CheckFailed("the losses in the history never change from step to step: record what d_step and g_step return at each step")
    d_expected, g_expected = _expected_loss(G, D, None, _LOOP_GAMMA)
    d_first, g_first = values[0].tolist()
    if abs(d_first - d_expected) > 0.05 or abs(g_first - g_expected) > 0.05:
        if abs(d_first - g_expected) <= 0.05 and abs(g_first - d_expected) <= 0.05:
            raise CheckFailed("each pair is the wrong way round: record (d_loss, g_loss), D's loss first")
        raise CheckFailed(f"the first pair you recorded is ({d_first:.3f}, {g_first:.3f}), but D's and G's losses at the start are about "
                          f"({d_expected:.3f}, {g_expected:.3f}): record what d_step and g_step return")
    before, after = _near_ring(G, _state(G)), _near_ring(G, seen["G"])
    if not after < 0.9 * before:
        raise CheckFailed(f"after {_TRAIN_STEPS} G steps the samples are no closer to the ring (mean distance to the nearest mode "
                          f"{before:.2f} -> {after:.2f}): do D's and G's steps each take their loss's gradient?")
    return f"d_steps D steps before each G step (runs with d_steps={_K} and {_TRAIN_K}); with d_steps={_TRAIN_K} the samples moved towards the ring (their mean distance to the nearest mode fell by more than a tenth)"
