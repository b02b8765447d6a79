"""A measured search for a model's recipe: an Optuna study (``genai-course tune``).

Each trial draws settings from the model's ``Space`` with the TPE sampler (tree-structured
Parzen estimator: it models which settings gave good and bad scores so far and draws where good
ones are more likely), builds the model from the lesson's recipe with those settings, trains it
on the training split less its validation part, and reports the validation score after each of
``space.reports`` equal parts of its training. The median pruner stops a trial whose score at a
report is worse than the median of the earlier trials' scores at the same report: most bad
settings cost a quarter of a run. A trial whose first part shows that its whole training would
take longer than ``budget`` seconds is stopped too (the course's rule: 90 s of training).

The study lives in one SQLite file (``runs/tune/MODEL.db`` by default): running the command
again continues it. Its first trial is the lesson's own recipe, so every table starts with the
settings to beat.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import models
from .spaces import Space, check_space, flatten, get_space, use_validation, with_params

__all__ = ["Trial", "run_study", "load_trials", "summary_table", "recipe_diff", "importances"]


@dataclass(frozen=True)
class Trial:
    """One trial of a study, as the tables show it."""

    number: int
    state: str  # 'complete', 'pruned' (by the median rule or the time budget), 'fail' or 'running'
    value: float | None  # the validation score at the end (complete) or at the last report
    reports: int  # how many of the space's reports it reached
    seconds: float | None  # training seconds (projected to the whole run for a trial stopped early)
    params: dict[str, Any]
    note: str = ""


def _storage_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def _open(space: Space, path: Path, seed: int, steps: int | None) -> tuple[Any, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial says why in the table (its note)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    storage = optuna.storages.RDBStorage(_storage_url(path))
    names = optuna.study.get_all_study_names(storage)
    if names and space.model not in names:
        raise ValueError(f"{path} holds a study of {', '.join(names)}, not {space.model}: give another --study file")
    study = optuna.create_study(study_name=space.model, storage=storage, sampler=sampler, pruner=pruner,
                                direction="minimize", load_if_exists=True)
    saved = study.user_attrs.get("steps", "unset")
    if saved != "unset" and saved != steps:
        was = "the lesson's" if saved is None else f"{saved}"
        raise ValueError(f"{path} is a study with --steps {was}; continue it with the same --steps, or give another --study file")
    if saved == "unset":
        study.set_user_attr("steps", steps)
        study.set_user_attr("metric", space.metric)
        study.set_user_attr("reports", space.reports)
    return study, storage


def _defaults(space: Space) -> dict[str, Any]:
    """The lesson recipe's values of the space's fields."""
    recipe = flatten(models.get_recipe(space.model).to_dict())
    return {p.path: recipe[p.path] for p in space.params}


def _objective(space: Space, steps: int | None, budget: float, seed: int) -> Callable[[Any], float]:
    import optuna

    def objective(trial: optuna.Trial) -> float:
        try:
            return run(trial)
        except (ValueError, RuntimeError) as e:  # the study goes on; the table says why this trial failed
            trial.set_user_attr("note", f"failed: {str(e).splitlines()[0][:120]}")
            raise

    def run(trial: optuna.Trial) -> float:
        params = {p.path: p.suggest(trial) for p in space.params if not (steps and p.path == "train.steps")}
        recipe = with_params(models.get_recipe(space.model), params)
        model = models.build(space.model, seed=seed, recipe=recipe)
        use_validation(model)
        total = steps or model.recipe.train.steps  # type: ignore[attr-defined]
        cuts = [math.ceil(total * (k + 1) / space.reports) for k in range(space.reports)]
        trained = 0.0

        def report(k: int, score: float) -> None:
            projected = trained * total / cuts[k]
            trial.set_user_attr("seconds", projected)
            trial.set_user_attr("reports", k + 1)
            trial.report(score, k)
            if k == 0 and projected > budget:
                trial.set_user_attr("note", f"over the {budget:g} s budget")
                raise optuna.TrialPruned()
            if k + 1 < space.reports and trial.should_prune():
                trial.set_user_attr("note", "worse than the median")
                raise optuna.TrialPruned()

        if model.resumable:
            score = math.nan
            for k, cut in enumerate(cuts):
                start = time.perf_counter()
                model.fit(steps=total, stop_at=cut, progress=False)
                trained += time.perf_counter() - start
                score = space.score(model)
                report(k, score)
            return score
        # one go (the names model): score from a callback at each cut; its time is not training time
        state = {"start": time.perf_counter(), "scoring": 0.0, "score": math.nan, "k": 0}

        def at_cut(step: int, *_: Any) -> None:
            nonlocal trained
            if state["k"] < len(cuts) and step == cuts[state["k"]]:
                trained = time.perf_counter() - state["start"] - state["scoring"]
                t0 = time.perf_counter()
                state["score"] = space.score(model)
                state["scoring"] += time.perf_counter() - t0
                state["k"] += 1
                report(state["k"] - 1, state["score"])

        model.recipe.train = with_params(model.recipe, {"train.eval_every": 0}).train  # type: ignore[attr-defined]
        model.fit(steps=total, callbacks=[at_cut], progress=False)
        return float(state["score"])

    return objective


def run_study(
    name: str, trials: int, seconds: float, *, path: str | Path | None = None, seed: int = 0, steps: int | None = None,
    budget: float = 90.0, progress: bool = True, space: Space | None = None,
) -> Any:
    """Run (or continue) the study of model ``name`` until it holds ``trials`` finished trials or
    ``seconds`` have passed, whichever comes first (a trial under way is finished): the Optuna
    study. ``steps``: train every trial this many steps instead of searching the length; ``seed``:
    the sampler's and every trial's model seed; ``budget``: training seconds a trial may take;
    ``space``: a search of your own for the model (default: ``get_space(name)``)."""
    import optuna
    from tqdm.auto import tqdm

    space = get_space(name) if space is None else space
    if space.model != name:
        raise ValueError(f"that space searches {space.model}, not {name}")
    check_space(space)
    path = Path(path) if path is not None else Path("runs") / "tune" / f"{name}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    study, storage = _open(space, path, seed, steps)
    study_id = storage.get_study_id_from_name(name)
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):  # left by a run that was killed
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        storage.set_trial_user_attr(trial_id, "note", "interrupted")
        storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
    if not study.trials:
        defaults = _defaults(space)
        if steps:
            defaults.pop("train.steps", None)
        study.enqueue_trial(defaults, user_attrs={"note": "the lesson's recipe"})
    done = sum(t.state.is_finished() for t in study.trials)
    todo = max(0, trials - done)
    bar = tqdm(total=trials, initial=done, disable=not progress, desc=f"tuning {name}", unit="trial")

    def tick(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        best = study.best_value if any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) else math.nan
        bar.set_postfix({"best": f"{best:.4g}", "last": trial.state.name.lower()}, refresh=False)
        bar.update(1)

    try:
        if todo:
            study.optimize(_objective(space, steps, budget, seed), n_trials=todo, timeout=seconds, callbacks=[tick],
                           catch=(ValueError, RuntimeError), gc_after_trial=False)
    finally:
        bar.close()
    return study


def load_trials(study: Any) -> list[Trial]:
    """The study's trials, for tables."""
    out = []
    for t in study.trials:
        value = t.value if t.value is not None else (t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None)
        out.append(Trial(t.number, t.state.name.lower(), value, int(t.user_attrs.get("reports", len(t.intermediate_values))),
                         t.user_attrs.get("seconds"), dict(t.params), str(t.user_attrs.get("note", ""))))
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1e-2 or abs(v) >= 1e4 else f"{v:.4g}"
    return str(v)


def summary_table(study: Any) -> str:
    """A Markdown table of every trial: state, score, training seconds and settings; the best trial in bold."""
    trials = load_trials(study)
    paths = list(dict.fromkeys(p for t in trials for p in t.params))
    best = study.best_trial.number if any(t.state == "complete" for t in trials) else None
    metric = study.user_attrs.get("metric", "score")
    reports = study.user_attrs.get("reports", max((t.reports for t in trials), default=0))
    head = ["trial", "state", metric, "training s", *paths, "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for t in trials:
        state = t.state if t.state != "pruned" else f"pruned at {t.reports}/{reports}"
        cells = [str(t.number), state, "-" if t.value is None else f"{t.value:.4g}",
                 "-" if t.seconds is None else f"{t.seconds:.0f}", *(_fmt(t.params.get(p, "-")) for p in paths), t.note]
        if t.number == best:
            cells = [f"**{c}**" if c else c for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def recipe_diff(study: Any) -> list[str]:
    """The best trial's settings against the lesson recipe's, one line per field that differs
    (``train.lr: 0.003 -> 0.0047``); empty when the lesson recipe is the best trial."""
    name = study.study_name
    defaults = flatten(models.get_recipe(name).to_dict())
    return [f"{k}: {_fmt(defaults[k])} -> {_fmt(v)}" for k, v in sorted(study.best_trial.params.items()) if defaults.get(k) != v]


def importances(study: Any) -> dict[str, float]:
    """How much each setting mattered to the completed trials' scores (Optuna's fANOVA estimate:
    the share of the scores' variance each setting explains); empty with fewer than 3 complete trials."""
    import optuna

    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 3:
        return {}
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError, ImportError):
        return {}
