"""Tests of any generative model (lesson 11), for features, pixels or points (N, ...): inputs
are sets of examples, flattened to (N, D) and compared with exact Euclidean distances.

* k-NN precision and recall (Kynkäänniemi et al. 2019, k = 3): each real example claims a
  ball reaching its k-th nearest real neighbour; precision is the share of samples inside
  some real ball (quality: samples look real), recall the share of real examples inside some
  sample ball (coverage: every kind of real example is produced);
* the classifier two-sample test: a fresh discriminator trained on half of real vs generated,
  scored on the other half; 0.5 means it cannot tell them apart, 1.0 that it always can
  (with the exact binomial p-value of "no better than chance");
* the memorization audit: each sample's distance to its nearest training example, against
  the same for held-out real examples (which the model never saw); samples nearer a training
  example than 99% of held-out examples are, are flagged as possible copies;
* speed: samples per second (``generation_speed``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from .judge import fit_judge


def _as_set(x: torch.Tensor, what: str, at_least: int = 2) -> torch.Tensor:
    """(N, ...) -> (N, D) float64 on the CPU, with a clear error for unusable input."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} must be a tensor of examples (N, ...) (got {type(x).__name__})")
    if x.dim() < 2:
        raise ValueError(f"{what} must be a set of examples (N, ...) with one row per example (got shape {tuple(x.shape)})")
    if x.shape[0] < at_least:
        raise ValueError(f"{what} needs at least {at_least} examples (got {x.shape[0]})")
    if not torch.isfinite(x).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return x.detach().cpu().reshape(x.shape[0], -1).double()


def _same_width(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"real and generated examples must have the same size (got {a.shape[1]} and {b.shape[1]} numbers each)")


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Exact Euclidean distances (N, M), in float64 (no matrix-product shortcut: a copy is at 0)."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def knn_radii(x: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Distance from each example of x (N, ...) to its k-th nearest *other* example: (N,).

    An example is not its own neighbour: with k = 1 the radius is the distance to the closest
    other example (0 if it has an exact duplicate).
    """
    x = _as_set(x, "examples", at_least=2)
    if not isinstance(k, int) or k < 1 or k >= x.shape[0]:
        raise ValueError(f"k must be a whole number from 1 to {x.shape[0] - 1} for {x.shape[0]} examples (got {k!r})")
    d = _distances(x, x)
    d.fill_diagonal_(float("inf"))  # leave each example out of its own neighbours
    return d.kthvalue(k, dim=1).values


@dataclass(frozen=True)
class PrecisionRecall:
    precision: float  # share of generated examples inside some real example's k-NN ball
    recall: float  # share of real examples inside some generated example's k-NN ball
    k: int
    n_real: int
    n_fake: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return f"precision {self.precision:.1%}, recall {self.recall:.1%} (k = {self.k}; {self.n_real} real, {self.n_fake} generated)"


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> PrecisionRecall:
    """k-NN precision and recall (Kynkäänniemi et al. 2019) of generated examples ``fake`` (M, ...)
    against ``real`` (N, ...), both in the same feature space.

    precision = share of fake examples f with |f - r| <= radius_k(r) for some real r;
    recall = share of real examples r with |r - f| <= radius_k(f) for some fake f, the radii taken
    within each set (``knn_radii``). Compare sets of the same size: radii shrink as a set grows.
    """
    r, f = _as_set(real, "real examples", k + 1), _as_set(fake, "generated examples", k + 1)
    _same_width(r, f)
    d = _distances(f, r)  # (M, N)
    precision = (d <= knn_radii(r, k)[None, :]).any(dim=1).double().mean()
    recall = (d <= knn_radii(f, k)[:, None]).any(dim=0).double().mean()
    return PrecisionRecall(float(precision), float(recall), k, int(r.shape[0]), int(f.shape[0]))


def binomial_p_value(correct: int, n: int) -> float:
    """P(at least ``correct`` right out of ``n``) for a coin-flipping guesser: the exact one-sided
    binomial tail, sum_{j >= correct} C(n, j) / 2^n. Small: the accuracy is not luck."""
    if not 0 <= correct <= n:
        raise ValueError(f"need 0 <= correct <= n (got correct={correct}, n={n})")
    return float(sum(math.comb(n, j) for j in range(correct, n + 1)) / 2**n)


@dataclass(frozen=True)
class TwoSampleReport:
    accuracy: float  # held-out accuracy of the fresh discriminator: 0.5 = indistinguishable
    p_value: float  # chance of this accuracy or more from guessing
    n_test: int  # held-out examples scored (half real, half generated)
    train_accuracy: float  # on the examples it was trained on (for overfitting)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return f"two-sample test: held-out accuracy {self.accuracy:.1%} on {self.n_test} (p = {self.p_value:.2g}; 50% = indistinguishable)"


def _standardize(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    mu, sd = train.mean(0), train.std(0).clamp(min=1e-6)
    return [((t - mu) / sd).float() for t in (train, *others)]


def two_sample_test(
    real: torch.Tensor, fake: torch.Tensor, *, epochs: int = 60, hidden: int = 64, seed: int = 0
) -> TwoSampleReport:
    """The classifier two-sample test: can a fresh discriminator tell ``real`` from ``fake``?

    Both sets (N, ...) are cut to the same size n, shuffled, and split in halves. An MLP
    discriminator (D -> hidden -> hidden -> 1, inputs standardized on its training half) is
    trained for ``epochs`` passes (Adam 1e-3, batches of 64, binary cross-entropy) on one half
    of each, then scores the other halves: accuracy 0.5 means the two sets are
    indistinguishable to it, 1.0 that it always knows which is which.

    Sets that share examples (samples that copy the real side, or a generator that repeats
    itself) put the same example in both halves; the discriminator learns it with one label and
    is scored on it with the other, so copies of the real side read *below* 0.5 and repeats of a
    sample read above it. The memorization audit is the test for copies.
    """
    r, f = _as_set(real, "real examples", 4), _as_set(fake, "generated examples", 4)
    _same_width(r, f)
    g = torch.Generator().manual_seed(seed)
    n = min(r.shape[0], f.shape[0])
    r, f = r[torch.randperm(r.shape[0], generator=g)[:n]], f[torch.randperm(f.shape[0], generator=g)[:n]]
    half = n // 2
    x_train = torch.cat([r[:half], f[:half]])
    y_train = torch.cat([torch.ones(half), torch.zeros(half)])
    x_test = torch.cat([r[half:], f[half:]])
    y_test = torch.cat([torch.ones(n - half), torch.zeros(n - half)])
    x_train, x_test = _standardize(x_train, x_test)
    torch.manual_seed(seed)
    disc = nn.Sequential(nn.Linear(x_train.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    fit_judge(disc, x_train, y_train, lambda logits, y: F.binary_cross_entropy_with_logits(logits.squeeze(1), y), epochs, g)
    with torch.no_grad():
        correct = int(((disc(x_test).squeeze(1) > 0).float() == y_test).sum())
        train_accuracy = float(((disc(x_train).squeeze(1) > 0).float() == y_train).float().mean())
    return TwoSampleReport(correct / x_test.shape[0], binomial_p_value(correct, x_test.shape[0]), int(x_test.shape[0]), train_accuracy)


def nearest_neighbours(x: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each example of x (N, ...): the distance to its nearest example in ``reference`` (M, ...)
    and that example's index, both (N,)."""
    a, b = _as_set(x, "examples", 1), _as_set(reference, "reference examples", 1)
    _same_width(a, b)
    d, i = _distances(a, b).min(dim=1)
    return d.float(), i


@dataclass(frozen=True)
class MemorizationReport:
    sample_distance: float  # median distance of a sample to its nearest training example
    heldout_distance: float  # the same for real held-out examples: what "new" looks like
    ratio: float  # sample / held-out medians: well below 1 = samples hug the training set
    copies: float  # share of samples nearer a training example than `threshold`
    threshold: float  # the `quantile` of held-out examples' nearest-training distances
    quantile: float
    n_samples: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"nearest training example: median {self.sample_distance:.3g} for samples, {self.heldout_distance:.3g} for "
            f"held-out real ones (ratio {self.ratio:.2f}); {self.copies:.1%} of samples flagged as possible copies "
            f"(nearer than {self.threshold:.3g}, which only {self.quantile:.0%} of held-out examples are)"
        )


def memorization(samples: torch.Tensor, train: torch.Tensor, heldout: torch.Tensor, *, quantile: float = 0.01) -> MemorizationReport:
    """The memorization audit: how close do samples come to the training set, compared with
    real examples the model never saw? All three sets (N, ...) in the same space (pixels here).

    A sample is flagged as a possible copy when its nearest training example is nearer than the
    ``quantile`` of the held-out examples' nearest-training distances: closer than real, unseen
    data almost ever comes (so about ``quantile`` of held-out examples are flagged themselves).
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must lie between 0 and 1 (got {quantile})")
    d_samples, _ = nearest_neighbours(samples, train)
    d_heldout, _ = nearest_neighbours(heldout, train)
    threshold = float(torch.quantile(d_heldout.double(), quantile))
    s_med, h_med = float(d_samples.median()), float(d_heldout.median())
    return MemorizationReport(
        sample_distance=s_med, heldout_distance=h_med, ratio=s_med / h_med if h_med > 0 else float("inf"),
        copies=float((d_samples < threshold).float().mean()), threshold=threshold, quantile=quantile,
        n_samples=int(d_samples.shape[0]),
    )


def timed_sample(sample: Callable[[int], Any], n: int, *, warmup: int = 8) -> tuple[Any, float]:
    """Call ``sample(n)`` once, timed, after a warm-up call ``sample(warmup)`` (first calls pay
    for memory allocation and lazy set-up): return its samples and the samples per second."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number of at least 1 (got {n!r})")
    with torch.no_grad():
        if warmup:
            sample(min(warmup, n))
        t0 = time.perf_counter()
        out = sample(n)
        return out, n / max(time.perf_counter() - t0, 1e-9)


def generation_speed(sample: Callable[[int], Any], n: int = 1000, *, warmup: int = 8) -> float:
    """Samples per second of ``sample(n)`` (see ``timed_sample``)."""
    return timed_sample(sample, n, warmup=warmup)[1]
