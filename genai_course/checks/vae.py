"""Exercise checks for lesson 08 (variational autoencoders).

8.1 k reparameterized draws per example ``reparameterize`` (what the IWAE bound averages over), 8.2 the KL
between two diagonal Gaussians ``gaussian_kl`` (a variation on the lesson's KL to N(0, I)), 8.3 a conditional
encoder ``make_conditional_encoder`` (the lesson builds the conditional decoder). Lessons call them through
``genai_course.checks``: ``checks.reparameterize(fn)``. Each is a probe and a judge (``_protocol``).

8.1 accepts the noise drawn in any order: it measures the k draws (independent, centred on mu, spread by
the standard deviation, the same for the same seed) and the gradients, and names the usual wrong spreads
(``_vae_slips``). 8.2 compares with ``torch.distributions``' KL and, when it differs, with the formula
written the usual wrong ways. 8.3 records what each layer of the encoder receives (the label one-hot or one
number) and trains two fresh encoders a few steps to see whether mu and logvar can take any value
(``_vae_nets``).
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ..utils import same
from ._protocol import CheckFailed, Observed, _call, _exercise, _module_or_stop, _stop, _tensor, _with_advice
from ._vae_nets import _bound_advice, _label_as_number, _push, _watch_inputs
from ._vae_slips import _SPREAD_ADVICE, _SPREAD_SLIPS, _kl_advice, _kl_truth
from .observations import observe

__all__ = ["reparameterize", "gaussian_kl", "make_conditional_encoder"]


def _gaussian_params(batch: int, latent_dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An encoder's output for a batch: mu (B, L) and logvar (B, L), variances from about 0.05 to 7."""
    g = torch.Generator().manual_seed(seed)
    mu = 1.5 * torch.randn(batch, latent_dim, generator=g)
    logvar = torch.empty(batch, latent_dim).uniform_(-3.0, 2.0, generator=g)
    return mu, logvar


def _projection(shape: tuple[int, ...]) -> torch.Tensor:
    """A fixed random projection w of the learner's output: gradients of (out * w).sum() are recorded."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(2))


def _grads(what: str, out: Any, shape: tuple[int, ...], leaves: tuple[torch.Tensor, ...], names: tuple[str, ...] = ("mu", "logvar")) -> dict[str, Any] | None:
    """Probe side: the gradients of (out * w).sum() with respect to the ``leaves`` by their ``names`` (None
    where none reaches), or None where ``out`` carries no gradient to take."""
    if type(out) is not torch.Tensor or tuple(out.shape) != shape or not out.is_floating_point() or not out.requires_grad:
        return None
    w = _projection(shape)
    grads = _call(what, lambda: torch.autograd.grad((out * w).sum(), leaves, allow_unused=True))
    return {name: None if type(g) is not torch.Tensor else g.detach().clone() for name, g in zip(names, grads)}


# (k, batch, latent_dim): many draws to measure their spread, then few (k = 3 is no batch size here)
_REPARAMETERIZE_CASES = ((256, 6, 4), (3, 5, 2))
_DRAWS = (("z", 0), ("other", 1), ("again", 0))  # (key, the generator's seed)


@_exercise("8.1", "k reparameterized draws per example")
def reparameterize(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(mu (B, L), logvar (B, L), k, generator) -> z (k, B, L): k independent reparameterized draws from
    N(mu, diag exp(logvar)) for each example, their standard-normal noise drawn with ``generator``."""
    for k, batch, latent_dim in _REPARAMETERIZE_CASES:
        mu0, logvar0 = _gaussian_params(batch, latent_dim, seed=batch)
        what = f"reparameterize(mu, logvar, k={k}, generator) for mu and logvar of shape ({batch}, {latent_dim})"
        first: tuple[Any, torch.Tensor, torch.Tensor] | None = None
        for key, seed in _DRAWS:  # fresh leaves that track gradients each time
            mu, logvar = mu0.clone().requires_grad_(True), logvar0.clone().requires_grad_(True)
            out = _call(what, fn, mu, logvar, k, torch.Generator().manual_seed(seed))
            seen[f"{k}.{key}"] = observe(out)
            first = first or (out, mu, logvar)
        z, mu, logvar = first
        seen[f"{k}.grads"] = _grads("the backward pass through your z", z, (k, batch, latent_dim), (mu, logvar))


def _judge_z(what: str, rec: Any, k: int, logvar: torch.Tensor) -> torch.Tensor:
    (batch, latent_dim), shape = logvar.shape, (k, *logvar.shape)
    asked = f"return k draws per example, shape (k, B, L) = {shape}"
    if rec["type"] == "Tensor" and tuple(rec["shape"]) != shape:
        got = tuple(rec["shape"])
        if got == (batch, latent_dim):
            raise CheckFailed(f"{what} has shape {got}, one draw per example: k is ignored; {asked}")
        if got == (batch, k, latent_dim):
            raise CheckFailed(f"{what} has shape {got}: the draws run along the second dimension; {asked}, "
                              "so that z[i] is the i-th draw for the whole batch, a batch the decoder can take")
        if got == (k * batch, latent_dim):
            raise CheckFailed(f"{what} has shape {got}: the k draws are stacked into one long batch; keep them apart, {asked}")
        if len(got) == 3 and got[1:] == (batch, latent_dim):
            raise CheckFailed(f"{what} holds {got[0]} draws per example, but k = {k} were asked for: {asked}")
        raise CheckFailed(f"{what} has shape {got}: {asked}")
    value = rec.get("value")
    if rec["type"] == "Tensor" and isinstance(value, torch.Tensor) and value.is_floating_point() and value.shape == shape:
        bad = value.isnan().any(0)
        if bad.any() and not (bad & (logvar >= 0)).any():  # NaN only where logvar < 0: its square root or log
            raise CheckFailed("z is NaN wherever logvar is negative: logvar is the log of the variance (negative for a variance below 1), "
                              "not the variance itself, so don't take its square root or log; work out the standard deviation from the log-variance")
    return _tensor(what, rec, shape)


def _judge_spread(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> None:
    """Many draws (k, B, L) of each entry: centred on mu, spread by the standard deviation (whatever order the noise came in)."""
    d, std = (z - mu).double(), (0.5 * logvar.double()).exp()
    k = d.shape[0]
    if (d / std).min() >= 0 and (d / std).max() < 1:
        raise CheckFailed("your draws all lie on one side of mu, within one standard deviation: the noise is uniform on [0, 1); "
                          "the trick needs standard-normal noise, centred on 0")
    spread = d.pow(2).mean(0).sqrt()  # (B, L): each entry's spread around mu
    off = (z.double().mean(0) - mu.double()).abs() > 6 * spread / k**0.5  # (B, L): the average of k draws misses mu
    if off.any():
        if not ((z.double().mean(0)).abs() > 6 * z.double().std(0) / k**0.5).any():
            raise CheckFailed("your draws are centred on 0, not on mu: a draw from q(z | x) is centred on the encoder's mean mu")
        b, j = (int(i) for i in off.nonzero()[0])
        raise CheckFailed(f"your draws are not centred on mu: for example {b}, latent {j}, the mean of the {k} draws is "
                          f"{z[:, b, j].double().mean().item():.2f} where mu = {mu[b, j].item():.2f}; the noise must have mean 0")

    def follows(scale: torch.Tensor) -> bool:
        return bool(((spread / scale).log().abs() < 0.22).all())  # within 25% at every entry (256 draws: about 5 standard errors)

    if follows(std):
        return
    for scale_of, advice in _SPREAD_SLIPS:
        if follows(scale_of(logvar.double())):
            raise CheckFailed(advice)
    b, j = divmod(int((spread / std).log().abs().argmax()), std.shape[1])
    raise CheckFailed(f"for example {b}, latent {j} (logvar = {logvar[b, j].item():.2f}) your {k} draws spread around mu by "
                      f"{spread[b, j].item():.2f}, where q's standard deviation is {std[b, j].item():.2f}: {_SPREAD_ADVICE}")


@reparameterize.judge
def _judge_reparameterize(seen: Observed) -> str:
    for k, batch, latent_dim in _REPARAMETERIZE_CASES:
        mu0, logvar0 = _gaussian_params(batch, latent_dim, seed=batch)
        what = f"reparameterize(mu, logvar, k={k}, generator) for mu and logvar of shape ({batch}, {latent_dim})"
        try:
            z, other, again = (_judge_z(what, seen[f"{k}.{key}"], k, logvar0) for key, _ in _DRAWS)
        except CheckFailed as failure:  # noise whose axes do not line up with mu's: say which axes meet
            raise _with_advice(failure, [(("must match the size of tensor",), "mu and logvar, (B, L), line up with the last two axes "
                                          "of the noise, so those must be the examples and the latents, with the draws in front")]) from None
        if same(z, other):
            if same(z, mu0.expand_as(z)):
                raise CheckFailed("z equals mu: the draws must be random; the noise, scaled by the standard deviation, is missing")
            raise CheckFailed("generators with different seeds gave the same z: z must depend on the noise, drawn with the generator you are given")
        if not same(z, again):
            raise CheckFailed("the same seed gave two different z: use the generator you are given to draw the noise "
                              "(a draw that is not handed the generator ignores the seed)")
        eps = (z - mu0) / (0.5 * logvar0).exp()  # (k, B, L): the noise as the learner scaled it
        if same(z, z[:1].expand_as(z), 1e-6):
            raise CheckFailed(f"the {k} draws of each example are all the same: one noise is shared by the k draws; "
                              "every draw needs noise of its own, or the k draws tell no more than one")
        if same(eps, eps[:, :1].expand_as(eps), 1e-4):
            raise CheckFailed("every example got the same noise in each draw: draw one standard-normal number per draw, example and latent")
        if same(eps, eps[:, :, :1].expand_as(eps), 1e-4):
            raise CheckFailed("every latent got the same noise in each draw: draw one standard-normal number per draw, example and latent")
        if k > 100:
            _judge_spread(z, mu0, logvar0)
        grads, w = seen[f"{k}.grads"], _projection((k, batch, latent_dim))
        if not seen[f"{k}.z"]["requires_grad"] or grads is None:
            raise CheckFailed("z carries no gradient: the trick exists so that gradients flow from z back to mu and logvar; "
                              "don't compute z under torch.no_grad() or .detach() it")
        grad_mu, grad_logvar = grads["mu"], grads["logvar"]
        if grad_mu is not None and grad_logvar is not None and not (grad_mu.abs().sum() > 0 or grad_logvar.abs().sum() > 0):
            # connected to mu and logvar, yet zero gradients: what torch.normal(mu, std) does
            raise CheckFailed("the gradients reaching mu and logvar are zero: torch.normal(mu, std) samples without the trick; "
                              "draw the noise on its own and build z from it, mu and the standard deviation, so that z is a differentiable function of mu and logvar")
        for name, grad in (("mu", grad_mu), ("logvar", grad_logvar)):
            if grad is None or not grad.abs().sum() > 0:
                raise CheckFailed(f"no gradient reaches {name}: compute z from {name} without .detach() or torch.no_grad()")
        if not (same(grad_mu, w.sum(0), 1e-4) and same(grad_logvar, 0.5 * (w * (z - mu0)).sum(0), 1e-4)):
            raise CheckFailed("z has the right values but the wrong gradients: draw the noise first, then build z from it with mu and logvar in the graph")
    return "k independent draws per example, centred on mu with spread sigma, the same for the same seed, with gradients to mu and logvar"


_KL_CASES = ((8, 3), (5, 2))  # (batch, latent_dim)
_KL_NAMES = ("mu_q", "logvar_q", "mu_p", "logvar_p")


def _kl_case(batch: int, latent_dim: int) -> tuple[torch.Tensor, ...]:
    """mu_q, logvar_q, mu_p, logvar_p (B, L): an encoder's Gaussian and a prior of its own, variances 0.05 to 7."""
    return _gaussian_params(batch, latent_dim, seed=batch) + _gaussian_params(batch, latent_dim, seed=100 + batch)


@_exercise("8.2", "the KL between two Gaussians")
def gaussian_kl(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(mu_q, logvar_q, mu_p, logvar_p, each (B, L)) -> (B,): KL(N(mu_q, diag exp(logvar_q)) || N(mu_p, diag exp(logvar_p)))."""
    for batch, latent_dim in _KL_CASES:
        leaves = tuple(t.clone().requires_grad_(True) for t in _kl_case(batch, latent_dim))
        out = _call(f"gaussian_kl(mu_q, logvar_q, mu_p, logvar_p) for inputs of shape ({batch}, {latent_dim})", fn, *leaves)
        seen[f"{batch}.out"] = observe(out)
        seen[f"{batch}.grads"] = _grads("the backward pass through your KL", out, (batch,), leaves, _KL_NAMES)


@gaussian_kl.judge
def _judge_gaussian_kl(seen: Observed) -> str:
    for batch, latent_dim in _KL_CASES:
        case = _kl_case(batch, latent_dim)
        what = f"gaussian_kl(mu_q, logvar_q, mu_p, logvar_p) for inputs of shape ({batch}, {latent_dim})"
        rec = seen[f"{batch}.out"]
        truth = _kl_truth(*case)  # (B,)
        one_each = f"return one KL per example, shape ({batch},), adding up the latents of each example but not the examples"
        if rec["type"] == "Tensor":
            shape, value = tuple(rec["shape"]), rec["value"]
            if shape == ():
                mean = same(value.double(), truth.mean(), 1e-4)
                raise CheckFailed(f"{what} returned a single number{', the mean over the batch' if mean else ''}: {one_each} (the loss takes the mean later)")
            if shape == (latent_dim,):
                raise CheckFailed(f"{what} has shape ({latent_dim},), one number per latent: you added up over the examples; {one_each}")
            if shape == (batch, latent_dim):
                raise CheckFailed(f"{what} has shape ({batch}, {latent_dim}), one KL per latent: add them up for each example to get shape ({batch},)")
            if shape == (batch, 1):
                raise CheckFailed(f"{what} has shape ({batch}, 1): return shape ({batch},), with no extra dimension of size 1")
            if value.is_floating_point() and not torch.isfinite(value).all():
                raise CheckFailed(f"{what} contains NaN or infinite values: logvar_q and logvar_p are already logs of variances "
                                  "(they can be negative), so don't take their log or square root")
        out = _tensor(what, rec, (batch,))
        if not same(out, truth, 1e-4):
            raise CheckFailed(_kl_advice(out, *case) or (
                f"{what} differs from the KL (first example: got {out[0].item():.4f}, expected {truth[0].item():.4f}): "
                "derive it for one latent as the lesson does, with the prior's mean and variance in place of 0 and 1"))
        grads = seen[f"{batch}.grads"]
        if not rec["requires_grad"] or grads is None:
            raise CheckFailed("the KL carries no gradient: it is part of the training loss, so don't compute it under torch.no_grad() or .detach() it")
        for name in _KL_NAMES:
            if grads[name] is None or not grads[name].abs().sum() > 0:
                raise CheckFailed(f"no gradient reaches {name}: compute the KL from {name} without .detach() (a learned prior is trained too)")
    return "one KL per example, right for every pair of Gaussians tried, with gradients to all four inputs"


# --------------------------------------------------------------------------- 8.3 the conditional encoder

_ENCODER_CASES = ((4, 10), (2, 3))  # (latent_dim, num_classes)


def _encoder_case(latent_dim: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x (2K, 1, 8, 8) images in [0, 1]; y (2K,) = 0..K-1, 0..K-1; a projection w (2, 2K, L) of mu and logvar."""
    g = torch.Generator().manual_seed(latent_dim)
    x = torch.rand(2 * num_classes, 1, 8, 8, generator=g)
    return x, torch.arange(num_classes).repeat(2), torch.randn(2, 2 * num_classes, latent_dim, generator=g)


@_exercise("8.3", "a conditional encoder")
def make_conditional_encoder(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn(latent_dim, num_classes) -> nn.Module with forward(x (B, 1, 8, 8), y (B,) int64) -> (mu, logvar), each (B, latent_dim)."""
    torch.manual_seed(0)
    for latent_dim, num_classes in _ENCODER_CASES:
        key, made = f"{latent_dim},{num_classes}", f"make_conditional_encoder({latent_dim}, {num_classes})"
        encoder = _call(made, fn, latent_dim, num_classes)
        _module_or_stop(seen, f"{key}.module", encoder)
        x, y, w = _encoder_case(latent_dim, num_classes)
        what = f"your encoder on images of shape {tuple(x.shape)} and labels of shape {tuple(y.shape)}"
        inputs: list[dict[str, Any]] = []
        handles = _watch_inputs(encoder, 2 * num_classes, inputs)
        try:
            out = _call(what, encoder, x, y)
        finally:
            for handle in handles:
                handle.remove()
        seen[f"{key}.out"], seen[f"{key}.inputs"] = observe(out), inputs
        if not (isinstance(out, tuple) and len(out) == 2 and all(type(t) is torch.Tensor and tuple(t.shape) == (2 * num_classes, latent_dim) for t in out)):
            _stop()
        smaller = f"your encoder on a batch of {num_classes}"
        seen[f"{key}.same_x"] = observe(_call(f"{smaller} (one image, every label)", encoder, x[:1].repeat(num_classes, 1, 1, 1), torch.arange(num_classes)))
        seen[f"{key}.same_y"] = observe(_call(f"{smaller} whose labels are all 0", encoder, x[:num_classes], torch.zeros(num_classes, dtype=torch.long)))
        if all(t.is_floating_point() and t.requires_grad for t in out):
            _call("the backward pass through your encoder", lambda: (out[0] * w[0] + out[1] * w[1]).sum().backward())
        seen[f"{key}.stuck"] = [name for name, p in encoder.named_parameters() if name.endswith("weight") and (p.grad is None or not p.grad.abs().sum() > 0)]
        if key == "4,10":  # can mu and logvar go anywhere? two fresh encoders, trained a few steps each way
            for sign, name in ((1.0, "down"), (-1.0, "up")):
                seen[f"{key}.{name}"] = _push(lambda: _call(made, fn, latent_dim, num_classes), x, y, sign)


def _pair(what: str, rec: Any, batch: int, latent_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An encoder's output: (mu, logvar), each (batch, latent_dim) float32, or a learner-terms failure."""
    pair = f"return the pair (mu, logvar), each of shape ({batch}, {latent_dim})"
    if rec["type"] == "Tensor":
        shape = tuple(rec["shape"])
        if shape == (batch, 2 * latent_dim):
            raise CheckFailed(f"{what} returned one tensor of shape {shape}: it holds the means and the log-variances side by side; {pair}")
        raise CheckFailed(f"{what} returned one tensor of shape {shape}: {pair}")
    if rec["type"] not in ("tuple", "list") or rec.get("length") != 2:
        got = f"a {rec['type']} of {rec['length']} items" if "length" in rec else f"a {rec['type']}"
        raise CheckFailed(f"{what} returned {got}: {pair}")
    mu, logvar = (_tensor(f"the {name} of {what}", item, (batch, latent_dim)) for name, item in zip(("mu", "logvar"), rec["items"]))
    return mu, logvar


@make_conditional_encoder.judge
def _judge_make_conditional_encoder(seen: Observed) -> str:
    done: list[str] = []
    for latent_dim, num_classes in _ENCODER_CASES:
        key, made = f"{latent_dim},{num_classes}", f"make_conditional_encoder({latent_dim}, {num_classes})"
        if seen[f"{key}.module"] is not None:
            raise CheckFailed(f"make_conditional_encoder should return a torch.nn.Module, got {seen[f'{key}.module']}")
        x, y, _ = _encoder_case(latent_dim, num_classes)
        what = f"your encoder on images of shape {tuple(x.shape)} and labels of shape {tuple(y.shape)}"
        try:
            mu, logvar = _pair(what, seen[f"{key}.out"], 2 * num_classes, latent_dim)
        except CheckFailed as failure:
            hint = f" (it worked for {done[0]}: use the arguments latent_dim and num_classes, not fixed numbers)" if done else ""
            raise CheckFailed(f"{failure}{hint}") from None
        if same(mu, logvar):
            raise CheckFailed("mu and logvar are the same numbers: one output serves as both; the encoder needs outputs of its own "
                              "for the means and for the log-variances (2 * latent_dim numbers per image in all)")
        smaller = f"your encoder on a batch of {num_classes}"
        same_x = _pair(f"{smaller} (one image, every label)", seen[f"{key}.same_x"], num_classes, latent_dim)
        if all(t.std(0).max() < 1e-6 for t in same_x):
            raise CheckFailed("the same image with labels 0, 1, 2, ... gives identical mu and logvar: the encoder ignores its label y; "
                              "the label must reach the network's input beside the pixels")
        layer = _label_as_number(seen[f"{key}.inputs"], y)
        if layer is not None:
            raise CheckFailed(
                f"the label enters your encoder as one number (what its submodule {layer} receives has a column that is y itself, up to scale): "
                "one number makes label 9 look like 'more' of label 1, and neighbouring labels alike; "
                "the label must enter as a one-hot vector of num_classes entries, beside the pixels")
        try:
            rec = seen[f"{key}.same_y"]
        except CheckFailed as failure:
            raise CheckFailed(f"{failure} (it worked on a batch holding every label: a one-hot vector whose width you don't give follows "
                              "the batch's largest label; its width must be num_classes whatever labels the batch holds)") from None
        if all(t.std(0).max() < 1e-6 for t in _pair(f"{smaller} whose labels are all 0", rec, num_classes, latent_dim)):
            raise CheckFailed("different images with the same label give identical mu and logvar: the encoder ignores the image x; "
                              "q(z | x, y) must depend on the pixels too")
        if logvar.std(0).max() < 1e-6:
            raise CheckFailed("logvar is the same for every image and label: the encoder must say how sure it is about each image's z, "
                              "so logvar comes out of the network, from the image and the label, as mu does")
        if key == "4,10":
            down, up = seen[f"{key}.down"], seen[f"{key}.up"]
            advice = _bound_advice(down, up) if down is not None and up is not None else None
            if advice:
                raise CheckFailed(advice)
        stuck = seen[f"{key}.stuck"]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward, without .detach()")
        done.append(made)
    return "mu and logvar of shape (B, L) that depend on the image and the one-hot label and can take any value, for latent_dim 4 and 2"
