"""genai_course.metrics.language: novelty, and the naive-Bayes language judge on known cases and real names."""

from __future__ import annotations

import pytest
import torch

from genai_course import metrics
from shared import names  # noqa: F401 (fixtures)


def test_novelty():
    assert metrics.novelty(["Ann", "Bo", "Cy", "Ann"], ["Ann"]) == 0.5
    with pytest.raises(ValueError, match="at least one sample"):
        metrics.novelty([], ["Ann"])


def test_language_judge_on_known_cases(names):
    j = metrics.LanguageJudge(["a", "b"]).fit(["Aaron", "Anna", "Bob", "Bobby"], torch.tensor([0, 0, 1, 1]))
    assert j.predict(["Ana", "Bobbo"]).tolist() == [0, 1]
    assert torch.allclose(j.log_posterior(["Ana"]).exp().sum(), torch.tensor(1.0))
    d = names
    judge = metrics.LanguageJudge(d.locales).fit(d.heldout.names, d.heldout.labels)
    c = judge.confusion(d.train.names, d.train.labels)
    per_language = c.diag() / c.sum(dim=1)
    assert per_language[7] == 1.0  # Greek script is unmistakable
    assert 0.4 < per_language.mean() < 0.7  # far above chance (1/8), below 1: names are ambiguous
    with pytest.raises(RuntimeError, match="fit the judge"):
        metrics.LanguageJudge(d.locales).predict(["Ann"])
    with pytest.raises(ValueError, match="one label per name"):
        judge.accuracy(["Ann"], torch.tensor([0, 1]))
