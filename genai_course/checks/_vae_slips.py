"""The usual wrong ways of exercises 8.1 and 8.2 (``checks.vae``), and what to say about each.

``_SPREAD_SLIPS`` says how the k draws of 8.1 spread around mu when the noise is scaled the usual
wrong ways (the check measures the spread, whatever order the noise was drawn in); ``_kl_truth`` is
the KL between two diagonal Gaussians from ``torch.distributions``, in float64, and ``_kl_advice``
says which slip a learner's KL is by comparing it with the KL written each usual wrong way
(``_KL_SLIPS``). No message states the formula: each says what is wrong.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..utils import same

Tensor = torch.Tensor

# the spread of the k draws around mu, per entry, written the usual wrong ways: (logvar -> spread, what to say)
_SPREAD_SLIPS: list[tuple[Callable[[Tensor], Tensor], str]] = [
    (torch.exp,
     "your draws spread around mu by the variance sigma^2, not by the standard deviation sigma: work out sigma from the log-variance"),
    (torch.abs,
     "your draws spread around mu by logvar itself: logvar is the log of the variance, not the standard deviation"),
    (lambda lv: torch.exp(-0.5 * lv),
     "your draws spread by 1 / sigma, the inverse of the standard deviation: the widest q gives the narrowest cloud; check the sign in your exponent"),
    (lambda lv: 0.5 * torch.exp(lv),
     "your draws spread by half the variance, which is not the standard deviation: halving sigma^2 does not undo its square"),
    (torch.ones_like,
     "your draws spread around mu by 1 whatever logvar says: the noise is not scaled by the standard deviation sigma of q(z | x)"),
]

# what a spread that follows no slip above is called
_SPREAD_ADVICE = "check what scales your noise: the standard deviation, worked out from the log-variance"


def _kl_truth(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(mu_q, diag exp(logvar_q)) || N(mu_p, diag exp(logvar_p))) per row from torch.distributions, in float64: (B,)."""
    q = torch.distributions.Normal(mu_q.double(), torch.exp(0.5 * logvar_q.double()))
    p = torch.distributions.Normal(mu_p.double(), torch.exp(0.5 * logvar_p.double()))
    return torch.distributions.kl_divergence(q, p).sum(dim=1)


def _terms(mq: Tensor, lq: Tensor, mp: Tensor, lp: Tensor, *, var_q: Callable[[Tensor], Tensor] = torch.exp,
           var_p: Callable[[Tensor], Tensor] = torch.exp, log_ratio: Callable[[Tensor, Tensor], Tensor] = lambda lq, lp: lp - lq,
           shift: Callable[[Tensor, Tensor], Tensor] = lambda mq, mp: mq - mp, scale: bool = True, one: float = 1.0) -> Tensor:
    """Twice the per-latent KL, (B, L), with one piece swapped for a wrong one (the default pieces give the truth)."""
    spread = var_q(lq) + shift(mq, mp).pow(2)
    return log_ratio(lq, lp) + (spread / var_p(lp) if scale else spread) - one


def _misread(var: Callable[[Tensor], Tensor], advice: str) -> list[tuple[Callable[[Tensor, Tensor, Tensor, Tensor], Tensor], str]]:
    """One log-variance misread as ``var`` says: in q's variance, in p's, or in both, each named."""
    sides = (("logvar_q", {"var_q": var}), ("logvar_p", {"var_p": var}), ("logvar_q and logvar_p", {"var_q": var, "var_p": var}))
    return [((lambda mq, lq, mp, lp, k=kw: 0.5 * _terms(mq, lq, mp, lp, **k).sum(1)), advice.format(which=which)) for which, kw in sides]


# the KL written the usual wrong ways, each (mu_q, logvar_q, mu_p, logvar_p) -> (B,), and what to say about each
_KL_SLIPS: list[tuple[Callable[[Tensor, Tensor, Tensor, Tensor], Tensor], str]] = [
    (lambda mq, lq, mp, lp: -0.5 * _terms(mq, lq, mp, lp).sum(1),
     "your values are <= 0, but a KL is never negative: the sign of your whole expression is flipped"),
    (lambda mq, lq, mp, lp: _terms(mq, lq, mp, lp).sum(1),
     "your values are exactly twice the KL: a factor of one half is missing (every term of a Gaussian's log-density carries it)"),
    (lambda mq, lq, mp, lp: 0.5 * _terms(mp, lp, mq, lq).sum(1),
     "you computed the divergence the other way round, from the prior to q: a KL is not symmetric, and this one averages over q, "
     "the first distribution, so q's variance is the one measured against the prior's"),
    (lambda mq, lq, mp, lp: 0.5 * _terms(mq, lq, mp, lp).mean(1),
     "you averaged over the latents: the latents are independent, so their KLs add up"),
    (lambda mq, lq, mp, lp: 0.5 * _terms(mq, lq, 0 * mp, 0 * lp).sum(1),
     "your KL ignores the prior's mean and variance: it is the KL to N(0, I), the lesson's case; here the prior is N(mu_p, diag exp(logvar_p))"),
    (lambda mq, lq, mp, lp: 0.5 * _terms(mq, lq, mp, lp, shift=lambda mq, mp: mq).sum(1),
     "your KL ignores the prior's mean: what costs nats is how far q's mean is from the prior's mean, not from 0"),
    (lambda mq, lq, mp, lp: 0.5 * _terms(mq, lq, mp, lp, scale=False).sum(1),
     "your KL would be right for a prior of variance 1 only: q's variance and the squared distance between the means "
     "are measured in units of the prior's variance"),
    (lambda mq, lq, mp, lp: 0.5 * _terms(mq, lq, mp, lp, log_ratio=lambda lq, lp: lq - lp).sum(1),
     "the term with the two log-variances has its sign flipped: a q narrower than the prior must cost more nats, not fewer"),
    (lambda mq, lq, mp, lp: 0.5 * _terms(mq, lq, mp, lp, log_ratio=lambda lq, lp: 0.5 * (lp - lq)).sum(1),
     "the term with the two log-variances is half its size: you used the logs of the standard deviations where the logs of the variances belong"),
    *_misread(lambda lv: lv, "you used {which} as a variance where the variance belongs: a log-variance is the log of the variance"),
    *_misread(lambda lv: (0.5 * lv).exp(), "you used the standard deviation from {which} where the variance belongs"),
    (lambda mq, lq, mp, lp: 0.5 * _terms(mq, lq, mp, lp, var_q=lambda lv: (2 * lv).exp(), var_p=lambda lv: (2 * lv).exp(),
                                         log_ratio=lambda lq, lp: 2 * (lp - lq)).sum(1),
     "you treated logvar as the log of the standard deviation: it is the log of the variance"),
    (lambda mq, lq, mp, lp: 0.5 * _terms(mq, lq, mp, lp, one=0.0).sum(1),
     "your KL is not 0 when q equals the prior: a constant term is missing"),
    (lambda mq, lq, mp, lp: 0.5 * _terms(mq, lq, mp, lp, log_ratio=lambda lq, lp: 0 * lq).sum(1),
     "the term with the two log-variances is missing: without it a q much narrower than the prior would cost almost nothing"),
]


def _kl_advice(out: Tensor, mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> str | None:
    """What is wrong with a learner's KL ``out`` (B,) that differs from the truth, if it is a usual slip."""
    args = (mu_q.double(), logvar_q.double(), mu_p.double(), logvar_p.double())
    for formula, advice in _KL_SLIPS:
        if same(out, formula(*args), 1e-4):
            return advice
    if out.min() < -1e-6:
        i = int(out.argmin())
        return f"a KL is never negative, but example {i} got {out[i].item():.3f}: check the signs of your terms"
    return None
