"""Tuning: a measured search for a model's recipe (``genai-course tune``, lesson 12).

``spaces``: what a search may change in each model's recipe, and the validation score it
minimises (never computed on the held-out data the course judges models on). ``study``: the
Optuna study that runs the search (TPE sampler, median pruning, one resumable SQLite file) and
the tables it prints. Optuna is imported only when a study runs.
"""

from __future__ import annotations

from .spaces import SPACES, Param, Space, check_space, flatten, get_space, use_validation, with_params
from .study import Trial, importances, load_trials, recipe_diff, run_study, summary_table

__all__ = [
    "SPACES", "Param", "Space", "check_space", "flatten", "get_space", "use_validation", "with_params",
    "Trial", "importances", "load_trials", "recipe_diff", "run_study", "summary_table",
]
