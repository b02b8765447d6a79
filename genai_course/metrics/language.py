"""Judging generated names (lesson 09):

* novelty: share of samples that are not training names (copying the training set scores 0);
* a language judge: multinomial naive Bayes over character 1- to 4-grams. The names model's
  report (``models.TrainedCharLM.report``) fits it on the model's *training* names and compares
  two sets of names it never saw: the real *held-out* names, which the model never saw either
  (their plain accuracy is the reference: 0.75 for the course's names), and generated names,
  one per held-out name, drawn for that name's language. Names are ambiguous ('Marco' is
  Italian or Spanish), so even real names are not all judged right. A judge fitted on the
  training names would flatter a model that copies them, which is why novelty, and the
  accuracy of the new names alone, are reported beside it.

The models' shared yardstick, the held-out negative log-likelihood per character, is
``text.nll_per_char``.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch


def novelty(samples: list[str], training_names: Iterable[str]) -> float:
    """Share of ``samples`` that are not among ``training_names`` (1.0: nothing copied)."""
    if not samples:
        raise ValueError("novelty needs at least one sample")
    seen = set(training_names)
    return sum(s not in seen for s in samples) / len(samples)


class LanguageJudge:
    """Which language does a name sound like? Naive Bayes over character n-grams.

    Each name is read as ``^name$`` (so 'ος$' and '^Jo' are n-grams too); every 1- to
    ``n``-gram is an independent draw from its language's n-gram distribution, add-``alpha``
    smoothed: log p(lang | name) = log p(lang) + sum over n-grams of log p(gram | lang) + const.
    Classes get equal priors, so a language is not favoured for having more names.

    Fitted on the course's 4,390 training names, the default (n = 4, alpha = 0.5) judges 75% of
    the 1,097 held-out names right (n = 3: 74%, n = 5: 76%); on the names it was fitted on it
    scores 91%: a fair test asks it about names it did not see, and copies of training names
    flatter whoever makes them.
    """

    def __init__(self, locales: Sequence[str], n: int = 4, alpha: float = 0.5) -> None:
        if n < 1 or alpha <= 0:
            raise ValueError(f"the judge needs n >= 1 and alpha > 0 (got n={n}, alpha={alpha})")
        self.locales, self.n, self.alpha = tuple(locales), n, alpha
        self.grams: dict[str, int] = {}
        self.log_probs: torch.Tensor | None = None  # (L, G + 1): the last column is an unseen n-gram

    def _grams(self, name: str) -> list[str]:
        s = f"^{name}$"
        return [s[i : i + k] for k in range(1, self.n + 1) for i in range(len(s) - k + 1)]

    def fit(self, names: Sequence[str], labels: torch.Tensor) -> "LanguageJudge":
        if len(names) != len(labels) or not len(names):
            raise ValueError(f"need one label per name and at least one name (got {len(names)} names, {len(labels)} labels)")
        per_name = [self._grams(x) for x in names]
        self.grams = {g: i for i, g in enumerate(sorted({g for gs in per_name for g in gs}))}
        counts = torch.zeros(len(self.locales), len(self.grams) + 1)
        for gs, y in zip(per_name, labels.tolist()):
            for g in gs:
                counts[y, self.grams[g]] += 1
        smoothed = counts + self.alpha
        self.log_probs = smoothed.log() - smoothed.sum(dim=1, keepdim=True).log()
        return self

    def log_posterior(self, names: Sequence[str]) -> torch.Tensor:
        """(N, L) log p(language | name), each row normalised."""
        if self.log_probs is None:
            raise RuntimeError("fit the judge on labelled names first")
        unseen = len(self.grams)
        scores = torch.stack([
            self.log_probs[:, [self.grams.get(g, unseen) for g in self._grams(x)]].sum(dim=1) for x in names
        ]) if names else torch.zeros(0, len(self.locales))
        return scores.log_softmax(dim=1)

    def predict(self, names: Sequence[str]) -> torch.Tensor:
        """(N,) the most probable language of each name."""
        return self.log_posterior(names).argmax(dim=1)

    def accuracy(self, names: Sequence[str], labels: torch.Tensor) -> float:
        """Share of names judged to be in the language of their label."""
        if len(names) != len(labels) or not len(names):
            raise ValueError(f"need one label per name and at least one name (got {len(names)} names, {len(labels)} labels)")
        return (self.predict(names) == labels).float().mean().item()

    def confusion(self, names: Sequence[str], labels: torch.Tensor) -> torch.Tensor:
        """(L, L) counts: row = label asked for / true, column = language judged."""
        out = torch.zeros(len(self.locales), len(self.locales), dtype=torch.long)
        out.index_put_((labels, self.predict(names)), torch.ones(len(labels), dtype=torch.long), accumulate=True)
        return out
