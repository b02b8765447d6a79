"""Measuring generative models, one room per kind of measure:

* ``modes``: the PacGAN / VEEGAN mode metrics of samples from the 2D mixtures;
* ``judge``: the digit classifier that judges 8x8 digits, trained once and stored in the
  package (``digit_judge.pt``), and the fitting loop of every classifier here;
* ``digits``: digit metrics by that judge (confident fraction, class entropy, label accuracy,
  Fréchet distance of its features) and train-on-synthetic-test-on-real;
* ``samples``: tests of any generative model on sets of examples (lesson 11): k-NN precision
  and recall, the classifier two-sample test, the memorization audit, generation speed;
* ``language``: names (lesson 09): novelty and a language judge; the held-out
  negative log-likelihood per character (``nll_per_char``) is the text models' own, from
  ``text``, and is importable from here too.

Every public name is importable from ``genai_course.metrics``.
"""

from __future__ import annotations

from ..text import nll_per_char
from .digits import DigitReport, TSTRReport, class_entropy, digit_metrics, frechet_distance, train_on_synthetic
from .judge import (
    JUDGE_FILE, JUDGE_RECIPE, JUDGE_SHA256, DigitClassifier, digit_classifier, load_digit_judge, save_digit_judge,
    train_digit_classifier,
)
from .language import LanguageJudge, novelty
from .modes import ModeReport, mode_metrics, nearest_mode
from .samples import (
    MemorizationReport, PrecisionRecall, TwoSampleReport, binomial_p_value, generation_speed, knn_radii, memorization,
    nearest_neighbours, precision_recall, timed_sample, two_sample_test,
)

__all__ = [
    "ModeReport", "mode_metrics", "nearest_mode",
    "DigitClassifier", "train_digit_classifier", "digit_classifier", "JUDGE_FILE", "JUDGE_SHA256", "JUDGE_RECIPE",
    "save_digit_judge", "load_digit_judge",
    "DigitReport", "digit_metrics", "frechet_distance", "class_entropy",
    "nll_per_char", "novelty", "LanguageJudge",
    "knn_radii", "PrecisionRecall", "precision_recall", "TwoSampleReport", "two_sample_test", "binomial_p_value",
    "TSTRReport", "train_on_synthetic", "nearest_neighbours", "MemorizationReport", "memorization",
    "timed_sample", "generation_speed",
]
