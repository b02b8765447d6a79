"""Exercise checks for lesson 08 (variational autoencoders).

8.1 the reparameterization trick ``reparameterize``, 8.2 the KL between two diagonal Gaussians
``gaussian_kl`` (a variation on the lesson's KL to N(0, I)), 8.3 a conditional decoder ``make_conditional_decoder``. Lessons call them through
``genai_course.checks``: ``checks.reparameterize(fn)``. Each is a probe and a judge (``_protocol``).

The first two compare the learner's output with the truth (the library's draw for the same seed,
``torch.distributions``' KL) and, when it differs, with the formula written the usual wrong ways
(``_vae_slips``), to say which slip it is. The third also records what each layer of the decoder receives, to see
whether the label enters as a one-hot vector or as one number.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from .. import vae
from ..utils import same
from ._protocol import CheckFailed, Observed, _call, _exercise, _module_or_stop, _stop, _tensor
from ._vae_slips import _REPARAMETERIZE_SLIPS, _kl_advice, _kl_truth
from .observations import observe

__all__ = ["reparameterize", "gaussian_kl", "make_conditional_decoder"]


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


def _noise_advice(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> str | None:
    """Why z = mu + std * eps differs from the library's draw only in its noise eps, if it seems so."""
    eps = (z - mu) / torch.exp(0.5 * logvar)  # (B, L) the noise the learner used
    if eps.shape[0] > 1 and same(eps, eps[:1].expand_as(eps), 1e-4):
        return "every example got the same noise: draw one standard-normal number per example and per latent, noise of mu's full shape"
    if eps.min() >= 0 and eps.max() < 1:
        return "the noise lies in [0, 1): it is uniform noise, and the trick needs standard-normal noise"
    return None


_REPARAMETERIZE_CASES = ((64, 4), (3, 2))  # (batch, latent_dim)
_DRAWS = (("z", 0), ("other", 1), ("again", 0))  # (key, the generator's seed)


@_exercise("8.1", "the reparameterization trick")
def reparameterize(fn: Callable[..., torch.Tensor], seen: dict) -> None:
    """fn(mu (B, L), logvar (B, L), generator) -> z (B, L): one reparameterized draw from N(mu, diag exp(logvar)),
    its standard-normal noise drawn with ``generator``."""
    for batch, latent_dim in _REPARAMETERIZE_CASES:
        mu0, logvar0 = _gaussian_params(batch, latent_dim, seed=batch)
        what = f"reparameterize(mu, logvar, generator) for mu and logvar of shape ({batch}, {latent_dim})"
        first: tuple[Any, torch.Tensor, torch.Tensor] | None = None
        for key, seed in _DRAWS:  # fresh leaves that track gradients each time
            mu, logvar = mu0.clone().requires_grad_(True), logvar0.clone().requires_grad_(True)
            out = _call(what, fn, mu, logvar, torch.Generator().manual_seed(seed))
            seen[f"{batch}.{key}"] = observe(out)
            first = first or (out, mu, logvar)
        z, mu, logvar = first
        seen[f"{batch}.grads"] = _grads("the backward pass through your z", z, (batch, latent_dim), (mu, logvar))


def _judge_z(what: str, rec: Any, logvar: torch.Tensor) -> torch.Tensor:
    shape = tuple(logvar.shape)
    if rec["type"] == "Tensor" and tuple(rec["shape"]) != shape:
        raise CheckFailed(f"{what} should return z of the shape of mu, {shape} (one sample per example and latent), but has shape {tuple(rec['shape'])}")
    value = rec.get("value")
    if rec["type"] == "Tensor" and isinstance(value, torch.Tensor) and value.is_floating_point() and value.shape == logvar.shape:
        bad = value.isnan()
        if bad.any() and not (bad & (logvar >= 0)).any():  # NaN only where logvar < 0: its square root or log
            raise CheckFailed("z is NaN wherever logvar is negative: logvar is the log of the variance (negative for a variance below 1), "
                              "not the variance itself, so don't take its square root or log; work out the standard deviation from the log-variance")
    return _tensor(what, rec, shape)


@reparameterize.judge
def _judge_reparameterize(seen: Observed) -> str:
    for batch, latent_dim in _REPARAMETERIZE_CASES:
        mu0, logvar0 = _gaussian_params(batch, latent_dim, seed=batch)
        what = f"reparameterize(mu, logvar, generator) for mu and logvar of shape ({batch}, {latent_dim})"
        z, other, again = (_judge_z(what, seen[f"{batch}.{key}"], logvar0) for key, _ in _DRAWS)
        if same(z, other):
            if same(z, mu0):
                raise CheckFailed("z equals mu: the sample must be random; the noise, scaled by the standard deviation, is missing")
            raise CheckFailed("generators with different seeds gave the same z: z must depend on the noise, drawn with the generator you are given")
        if not same(z, again):
            raise CheckFailed(
                "the same seed gave two different z: use the generator you are given to draw the noise "
                "(a draw that is not handed the generator ignores the seed)"
            )
        eps = torch.randn(mu0.shape, generator=torch.Generator().manual_seed(0))  # the library's draw
        expected = vae.reparameterize(mu0, logvar0, torch.Generator().manual_seed(0))
        w = _projection(tuple(mu0.shape))
        if not same(z, expected, 1e-4):
            for formula, advice in _REPARAMETERIZE_SLIPS:
                if same(z, formula(mu0, logvar0, eps), 1e-4):
                    raise CheckFailed(advice)
            advice = _noise_advice(z, mu0, logvar0)
            if advice:
                raise CheckFailed(advice)
            grads = seen[f"{batch}.grads"]  # is z = mu + exp(logvar / 2) * (some other noise)?
            if grads is not None and grads["mu"] is not None and grads["logvar"] is not None \
                    and same(grads["mu"], w, 1e-4) and same(grads["logvar"], 0.5 * w * (z - mu0), 1e-4):
                raise CheckFailed(
                    "z moves with mu and the standard deviation as it should, but its noise is not the library's draw: use the generator, "
                    "one standard-normal draw of mu's shape, so that the same seed gives the same z"
                )
            raise CheckFailed(
                f"z is not the library's draw for this seed (first entry: got {z[0, 0].item():.4f}, expected {expected[0, 0].item():.4f}): "
                f"check which of mu, the standard deviation and the noise your z is missing or misusing"
            )
        grads = seen[f"{batch}.grads"]
        if not seen[f"{batch}.z"]["requires_grad"] or grads is None:
            raise CheckFailed(
                "z carries no gradient: the trick exists so that gradients flow from z back to mu and logvar; "
                "don't compute z under torch.no_grad() or .detach() it"
            )
        grad_mu, grad_logvar = grads["mu"], grads["logvar"]
        if grad_mu is not None and grad_logvar is not None and not (grad_mu.abs().sum() > 0 or grad_logvar.abs().sum() > 0):
            # connected to mu and logvar, yet zero gradients: what torch.normal(mu, std) does
            raise CheckFailed(
                "the gradients reaching mu and logvar are zero: torch.normal(mu, std) samples without the trick; "
                "draw the noise on its own and build z from it, mu and the standard deviation, so that z is a differentiable function of mu and logvar"
            )
        for name, grad in (("mu", grad_mu), ("logvar", grad_logvar)):
            if grad is None or not grad.abs().sum() > 0:
                raise CheckFailed(f"no gradient reaches {name}: compute z from {name} without .detach() or torch.no_grad()")
        if not (same(grad_mu, w, 1e-4) and same(grad_logvar, 0.5 * w * (z - mu0), 1e-4)):
            raise CheckFailed("z has the right values but the wrong gradients: draw the noise once, then build z from it with mu and logvar in the graph")
    return "z is the library's draw for the same seed, with gradients to mu and logvar"


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


# --------------------------------------------------------------------------- 8.3 the conditional decoder

_DECODER_CASES = ((4, 10), (2, 3))  # (latent_dim, num_classes)
_MAX_INPUTS, _MAX_WIDTH = 16, 512  # what the probe keeps of the inputs the decoder's layers receive


def _decoder_case(latent_dim: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """z (2K, L): every label twice, each time with different z; y (2K,) = 0..K-1, 0..K-1; a projection w of the logits."""
    g = torch.Generator().manual_seed(latent_dim)
    z = torch.randn(2 * num_classes, latent_dim, generator=g)
    return z, torch.arange(num_classes).repeat(2), torch.randn(2 * num_classes, 1, 8, 8, generator=g)


def _watch_inputs(decoder: nn.Module, batch: int, inputs: list[dict[str, Any]]) -> list[Any]:
    """Forward pre-hooks on the decoder's submodules: each float tensor (batch, ...) a submodule
    receives is appended to ``inputs`` as {"module": its name, "input": (batch, width) copy}."""

    def hook(name: str) -> Callable[..., None]:
        def record(module: nn.Module, args: tuple[Any, ...]) -> None:
            for a in args:
                if len(inputs) < _MAX_INPUTS and type(a) is torch.Tensor and a.is_floating_point() and a.dim() >= 2 and a.shape[0] == batch:
                    inputs.append({"module": name, "input": a.detach().reshape(batch, -1)[:, :_MAX_WIDTH].float().clone()})
        return record

    handles = []
    for name, m in decoder.named_modules():
        try:
            if name:  # not the decoder itself: it receives z and y as they are
                handles.append(m.register_forward_pre_hook(hook(name)))
        except Exception:  # a module that takes no hooks is not watched
            pass
    return handles


@_exercise("8.3", "a conditional decoder")
def make_conditional_decoder(fn: Callable[..., nn.Module], seen: dict) -> None:
    """fn(latent_dim, num_classes) -> nn.Module with forward(z (B, latent_dim), y (B,) int64) -> logits (B, 1, 8, 8)."""
    torch.manual_seed(0)
    for latent_dim, num_classes in _DECODER_CASES:
        key = f"{latent_dim},{num_classes}"
        decoder = _call(f"make_conditional_decoder({latent_dim}, {num_classes})", fn, latent_dim, num_classes)
        _module_or_stop(seen, f"{key}.module", decoder)
        z, y, w = _decoder_case(latent_dim, num_classes)
        what = f"your decoder on z of shape {tuple(z.shape)} and labels of shape {tuple(y.shape)}"
        inputs: list[dict[str, Any]] = []
        handles = _watch_inputs(decoder, 2 * num_classes, inputs)
        try:
            logits = _call(what, decoder, z, y)
        finally:
            for handle in handles:
                handle.remove()
        seen[f"{key}.out"] = observe(logits)
        seen[f"{key}.inputs"] = inputs
        if type(logits) is not torch.Tensor or tuple(logits.shape) != (2 * num_classes, 1, 8, 8):
            _stop()
        for scale in (5, 30):  # probabilities stay in [0, 1] whatever z is; logits of an untrained network leave it for a large z
            seen[f"{key}.x{scale}"] = observe(_call(what, decoder, scale * z, y))
        smaller = f"your decoder on a batch of {num_classes} (z of shape ({num_classes}, {latent_dim}))"
        seen[f"{key}.same_z"] = observe(_call(smaller, decoder, z[:1].repeat(num_classes, 1), torch.arange(num_classes)))
        seen[f"{key}.same_y"] = observe(_call(f"{smaller} whose labels are all 0", decoder, z[:num_classes], torch.zeros(num_classes, dtype=torch.long)))
        if logits.is_floating_point() and logits.requires_grad:
            _call("the backward pass through your decoder", lambda: (logits * w).sum().backward())
        seen[f"{key}.stuck"] = [name for name, p in decoder.named_parameters() if name.endswith("weight") and (p.grad is None or not p.grad.abs().sum() > 0)]


def _decoder_logits(what: str, rec: Any, batch: int) -> torch.Tensor:
    """A decoder's output: logits (batch, 1, 8, 8) float32, or a learner-terms failure."""
    if rec["type"] == "Tensor" and tuple(rec["shape"]) == (batch, 64):
        raise CheckFailed(f"{what} has shape {tuple(rec['shape'])}: reshape the 64 logits to images, (B, 1, 8, 8): batch, channel, height, width")
    return _tensor(what, rec, (batch, 1, 8, 8))


def _label_as_number(inputs: list[dict[str, Any]], y: torch.Tensor) -> str | None:
    """The first submodule whose input has a column that is the label itself, a * y + b with a != 0
    (with 3 or more labels a one-hot column never is): where the label entered as one number."""
    for entry in inputs:
        x = entry["input"].double()  # (2K, width); rows 0 and 1 hold labels 0 and 1
        slope, offset = x[1] - x[0], x[0]
        affine = (x - (offset + slope * y.double()[:, None])).abs() <= 1e-5 * (1 + x.abs())
        found = affine.all(0) & (slope.abs() > 1e-6 * (1 + offset.abs()))
        if found.any():
            return str(entry["module"])
    return None


@make_conditional_decoder.judge
def _judge_make_conditional_decoder(seen: Observed) -> str:
    done: list[str] = []
    for latent_dim, num_classes in _DECODER_CASES:
        key, made = f"{latent_dim},{num_classes}", f"make_conditional_decoder({latent_dim}, {num_classes})"
        if seen[f"{key}.module"] is not None:
            raise CheckFailed(f"make_conditional_decoder should return a torch.nn.Module, got {seen[f'{key}.module']}")
        z, y, _ = _decoder_case(latent_dim, num_classes)
        what = f"your decoder on z of shape {tuple(z.shape)} and labels of shape {tuple(y.shape)}"
        try:
            logits = _decoder_logits(f"the output of {what}", seen[f"{key}.out"], 2 * num_classes)
        except CheckFailed as failure:
            hint = f" (it worked for {done[0]}: use the arguments latent_dim and num_classes, not fixed numbers)" if done else ""
            raise CheckFailed(f"{failure}{hint}") from None
        outputs = [logits] + [_decoder_logits("the output", seen[f"{key}.x{scale}"], 2 * num_classes) for scale in (5, 30)]
        if all(out.min() >= 0 and out.max() <= 1 for out in outputs):
            raise CheckFailed(
                "the outputs all lie in [0, 1], even for large z: they look like probabilities, but a decoder returns logits: "
                "the Bernoulli likelihood (vae.bernoulli_nll) applies the sigmoid itself; remove the final sigmoid"
            )
        # the same z for every label: the logits may differ only through y
        smaller = f"your decoder on a batch of {num_classes} (z of shape ({num_classes}, {latent_dim}))"
        try:
            rec = seen[f"{key}.same_z"]
        except CheckFailed as failure:
            raise CheckFailed(f"{failure} (it worked on a batch of {2 * num_classes}: don't fix the batch size in your reshape: it must follow z's)") from None
        if _decoder_logits(f"the output of {smaller}", rec, num_classes).std(0).max() < 1e-6:
            raise CheckFailed("the same z with labels 0, 1, 2, ... gives identical logits: the decoder ignores its label y; the label must reach the network's input beside z")
        layer = _label_as_number(seen[f"{key}.inputs"], y)
        if layer is not None:
            raise CheckFailed(
                f"the label enters your decoder as one number (what its submodule {layer} receives has a column that is y itself, up to scale): "
                "one number makes label 9 look like 'more' of label 1, and neighbouring labels alike; "
                "the label must enter as a one-hot vector of num_classes entries, beside z"
            )
        # the same label for every z: the logits must still differ through z
        try:
            rec = seen[f"{key}.same_y"]
        except CheckFailed as failure:
            raise CheckFailed(
                f"{failure} (it worked on a batch holding every label: a one-hot vector whose width you don't give follows "
                "the batch's largest label; its width must be num_classes whatever labels the batch holds)"
            ) from None
        if _decoder_logits(f"the output of {smaller}", rec, num_classes).std(0).max() < 1e-6:
            raise CheckFailed("different z with the same label give identical logits: the decoder ignores z; its output must depend on z too")
        if all(out.abs().max() <= 1 for out in outputs):
            raise CheckFailed(
                "the logits stay in [-1, 1], even for large z: a final tanh keeps every pixel's probability between "
                "sigmoid(-1) = 0.27 and sigmoid(1) = 0.73; the last layer must leave the logits unbounded"
            )
        stuck = seen[f"{key}.stuck"]
        if stuck:
            raise CheckFailed(f"no gradient reaches {', '.join(stuck[:3])}: every layer must be used in forward, without .detach()")
        done.append(made)
    return "logits of shape (B, 1, 8, 8) that depend on both z and y, for latent_dim 4 and 2"
