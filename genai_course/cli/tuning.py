"""``genai-course tune``: a measured search for a model's recipe (an Optuna study)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .files import UsageError, probe_folder, writable

__all__ = ["cmd_tune"]


def cmd_tune(args: argparse.Namespace) -> int:
    from .. import tuning

    try:
        space = tuning.get_space(args.model)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.study is not None:
        path = writable(args.study, "study file")
    else:
        path = Path("runs") / "tune" / f"{args.model}.db"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"cannot make the folder {path.parent} ({e.strerror or e})") from None
        probe_folder(path.parent, "study file", path)
    if path.exists():
        with open(path, "rb") as f:
            if f.read(16) not in (b"", b"SQLite format 3\x00"):
                raise UsageError(f"--study {path} is not a study file (SQLite): give a new file name")
    try:
        study = tuning.run_study(args.model, args.trials, args.seconds, path=path, seed=args.seed, steps=args.steps,
                                 budget=args.budget, progress=not args.quiet)
    except ValueError as e:
        raise UsageError(str(e)) from None
    trials = tuning.load_trials(study)
    counts = {s: sum(t.state == s for t in trials) for s in ("complete", "pruned", "fail")}
    print(f"study {path}: {len(trials)} trials of {args.model} ({counts['complete']} complete, {counts['pruned']} pruned, "
          f"{counts['fail']} failed); score: {space.metric}, lower is better\n")
    print(tuning.summary_table(study))
    if not counts["complete"]:
        print("\nno trial has finished yet: run the command again to go on")
        return 0
    best = study.best_trial
    diff = tuning.recipe_diff(study)
    print(f"\nbest: trial {best.number}, {best.value:.4g}" + (" (the lesson's recipe)" if best.number == 0 else ""))
    if diff:
        print("recipe changes (the lesson's -> the best trial's):")
        print("\n".join(f"  {line}" for line in diff))
    else:
        print("the lesson's recipe is the best so far: no change")
    weights = tuning.importances(study)
    if weights:
        print("what mattered (share of the scores' variance): " + ", ".join(f"{k} {v:.0%}" for k, v in weights.items()))
    return 0
