"""Digit metrics: generated 8x8 digits judged by the stored digit classifier (``judge``).

* confident fraction: share of samples the classifier puts in one class with probability > 0.9
  (a recognisable digit; real held-out digits score about 0.97);
* class entropy: entropy of the histogram of predicted classes divided by log 10
  (1.0 = every digit equally often; a generator that draws only 1s scores 0);
* label accuracy (conditional models): share of samples classified as the label asked for;
* Fréchet distance between Gaussians fitted to the classifier's hidden features of the
  samples and of the held-out real digits (the recipe of FID, with a digit classifier in
  place of Inception). It has no natural scale, so it is reported beside the same distance
  between real training digits and the held-out ones;
* train on synthetic, test on real (lesson 11): a classifier trained only on a conditional
  model's labelled samples, scored on the real held-out digits, beside the same classifier
  trained on as many real digits.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import torch

from ..data import Digits, load_digits
from .judge import DigitClassifier, digit_classifier, fit_digit_classifier


def class_entropy(predicted: torch.Tensor, num_classes: int = 10) -> float:
    """Entropy of the histogram of predicted classes (N,), divided by log(num_classes): in [0, 1]."""
    p = torch.bincount(predicted.flatten(), minlength=num_classes).double()
    p = p[p > 0] / p.sum()
    return max(0.0, float(-(p * p.log()).sum() / math.log(num_classes)))  # max: no "-0.0" for one class


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, F) and (M, F).

    d^2 = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), in float64.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two feature sets (N, F) and (M, F) (got {tuple(a.shape)} and {tuple(b.shape)})")
    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError("need at least 2 examples in each set to estimate a covariance")
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = torch.cov(a.T), torch.cov(b.T)  # (F, F)
    # tr((S_a^1/2 S_b S_a^1/2)^1/2) = sum of square roots of that symmetric matrix's eigenvalues
    evals, evecs = torch.linalg.eigh(s_a)
    root_a = evecs @ torch.diag(evals.clamp(min=0).sqrt()) @ evecs.T  # S_a^1/2
    middle = torch.linalg.eigvalsh(root_a @ s_b @ root_a).clamp(min=0).sqrt().sum()
    d2 = (mu_a - mu_b).pow(2).sum() + s_a.trace() + s_b.trace() - 2 * middle
    return float(d2.clamp(min=0))


@dataclass(frozen=True)
class DigitReport:
    confident: float  # fraction of samples classified with probability > 0.9
    class_entropy: float  # entropy of the predicted-class histogram / log 10 (1.0 = all classes equally)
    label_accuracy: float | None  # fraction classified as the label asked for (conditional samples)
    frechet: float  # Fréchet distance of classifier features, samples vs held-out real digits
    frechet_real: float  # the same distance for real training digits vs held-out ones: the scale
    n_samples: int

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)

    def __str__(self) -> str:
        label = "" if self.label_accuracy is None else f", label accuracy {self.label_accuracy:.1%}"
        return (
            f"confident {self.confident:.1%}, class entropy {self.class_entropy:.3f}{label}, "
            f"feature distance {self.frechet:.1f} (real digits: {self.frechet_real:.1f}; {self.n_samples} samples)"
        )


def _check_images(x: torch.Tensor) -> None:
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, 8, 8):
        raise ValueError(f"samples must be images of shape (N, 1, 8, 8) (got {tuple(x.shape)})")
    if x.shape[0] < 2:
        raise ValueError("need at least 2 samples to score")
    if not torch.isfinite(x).all():
        raise ValueError("samples contain NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(f"pixels must lie in [0, 1] like the data (got values from {lo:.3g} to {hi:.3g})")


@torch.no_grad()
def _real_frechet(classifier: DigitClassifier, digits: Digits) -> float:
    return frechet_distance(classifier.features(digits.x_train), classifier.features(digits.x_test))


@torch.no_grad()
def digit_metrics(
    x: torch.Tensor, labels: torch.Tensor | None = None, *, classifier: DigitClassifier | None = None
) -> DigitReport:
    """Judge generated digits (N, 1, 8, 8) in [0, 1]; ``labels`` (N,) the classes asked for, if any."""
    _check_images(x)
    if labels is not None and labels.shape != (x.shape[0],):
        raise ValueError(f"labels must have shape ({x.shape[0]},), one per sample (got {tuple(labels.shape)})")
    classifier = classifier or digit_classifier()
    digits = load_digits()
    x = x.detach().float().cpu()
    features = classifier.features(x)  # (N, 128)
    probs = classifier.head(features).softmax(dim=1)  # (N, 10)
    confidence, predicted = probs.max(dim=1)
    accuracy = None if labels is None else float((predicted == labels.cpu()).float().mean())
    return DigitReport(
        confident=float((confidence > 0.9).float().mean()),
        class_entropy=class_entropy(predicted),
        label_accuracy=accuracy,
        frechet=frechet_distance(features, classifier.features(digits.x_test)),
        frechet_real=_real_frechet(classifier, digits),
        n_samples=int(x.shape[0]),
    )


@dataclass(frozen=True)
class TSTRReport:
    accuracy: float  # on real held-out digits, of a classifier trained on generated ones only
    reference: float  # the same classifier trained on as many real training digits
    n_train: int
    n_test: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"trained on {self.n_train} generated digits: {self.accuracy:.1%} on {self.n_test} real held-out digits "
            f"(trained on {self.n_train} real ones: {self.reference:.1%})"
        )


@torch.no_grad()
def _accuracy(model: DigitClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((model(x).argmax(dim=1) == y).float().mean())


@functools.lru_cache(maxsize=4)
def _tstr_reference(n: int, epochs: int, seed: int) -> float:
    digits = load_digits()
    pick = torch.randperm(digits.x_train.shape[0], generator=torch.Generator().manual_seed(seed))[:n]
    return _accuracy(fit_digit_classifier(digits.x_train[pick], digits.y_train[pick], epochs, seed), digits.x_test, digits.y_test)


def train_on_synthetic(x: torch.Tensor, labels: torch.Tensor, *, epochs: int = 15, seed: int = 0) -> TSTRReport:
    """Train on synthetic, test on real: a ``DigitClassifier`` trained (Adam 1e-3, batches of 64,
    ``epochs`` passes) on generated digits x (N, 1, 8, 8) in [0, 1] with the labels they were
    drawn for (N,), scored on the 300 real held-out digits; beside it the same recipe trained on
    N real training digits (at most 1,497). Close to the reference: the samples carry what a
    classifier needs to know about each class."""
    _check_images(x)
    if not isinstance(labels, torch.Tensor) or labels.shape != (x.shape[0],) or labels.dtype.is_floating_point:
        raise ValueError(f"labels must be {x.shape[0]} whole numbers, one per sample (got {getattr(labels, 'shape', labels)!r})")
    if int(labels.min()) < 0 or int(labels.max()) > 9:
        raise ValueError(f"labels must be digits 0..9 (got {int(labels.min())}..{int(labels.max())})")
    digits = load_digits()
    n = int(x.shape[0])
    model = fit_digit_classifier(x.detach().cpu(), labels.cpu(), epochs, seed)
    reference = _tstr_reference(min(n, digits.x_train.shape[0]), epochs, seed)
    return TSTRReport(_accuracy(model, digits.x_test, digits.y_test), reference, n, int(digits.x_test.shape[0]))
