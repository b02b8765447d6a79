"""Exercise checks for lesson 08 (variational autoencoders).

8.1 the reparameterization trick ``reparameterize``, 8.2 the KL term ``gaussian_kl``, 8.3 a
conditional decoder ``make_conditional_decoder``. Lessons call them through
``genai_course.checks``: ``checks.reparameterize(fn)``.

The first two compare the learner's output with the truth (the library's draw for the same seed,
``torch.distributions``' KL) and, when it differs, with the formula written the usual wrong ways,
to say which slip it is.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from .. import vae
from ..utils import same
from ._protocol import CheckFailed, _call, _exercise, _tensor

__all__ = ["reparameterize", "gaussian_kl", "make_conditional_decoder"]


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
    if eps.shape[0] > 1 and same(eps, eps[:1].expand_as(eps), 1e-4):
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
        if same(z, other):
            if same(z, mu0):
                raise CheckFailed("z equals mu: the sample must be random, z = mu + exp(logvar / 2) * eps with eps = torch.randn(mu.shape, generator=generator)")
            raise CheckFailed("generators with different seeds gave the same z: z must depend on the noise eps = torch.randn(mu.shape, generator=generator)")
        if not same(z, again):
            raise CheckFailed(
                "the same seed gave two different z: use the generator you are given, "
                "eps = torch.randn(mu.shape, generator=generator) (torch.randn_like(mu) and torch.randn(...) without it ignore the seed)"
            )
        eps = torch.randn(mu0.shape, generator=torch.Generator().manual_seed(0))  # the library's draw
        expected = vae.reparameterize(mu0, logvar0, torch.Generator().manual_seed(0))
        if not same(z, expected, 1e-4):
            for formula, advice in _REPARAMETERIZE_SLIPS:
                if same(z, formula(mu0, logvar0, eps), 1e-4):
                    raise CheckFailed(advice)
            advice = _noise_advice(z, mu0, logvar0)
            if advice:
                raise CheckFailed(advice)
            if z.requires_grad:  # is z = mu + exp(logvar / 2) * (some other noise)?
                w = torch.randn(mu0.shape, generator=torch.Generator().manual_seed(2))
                grad_mu, grad_logvar = torch.autograd.grad((z * w).sum(), (mu, logvar), allow_unused=True)
                if grad_mu is not None and grad_logvar is not None and same(grad_mu, w, 1e-4) and same(grad_logvar, 0.5 * w * (z - mu).detach(), 1e-4):
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
        if not (same(mu.grad, w, 1e-4) and same(logvar.grad, 0.5 * w * (z - mu).detach(), 1e-4)):
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
                if same(out.detach(), truth.mean(), 1e-4):
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
        if not same(out.detach(), truth, 1e-4):
            for formula, advice in _KL_SLIPS:
                if same(out.detach(), 0.5 * formula(mu0.double(), logvar0.double()).sum(dim=1), 1e-4):
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
