"""The ``genai-course`` command line (also ``python -m genai_course``).

Every bad argument or unusable file ends in one clear line on stderr and exit code 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from . import arguments as arg

__all__ = ["main", "UsageError"]


class UsageError(Exception):
    """A problem with the user's input: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, exit 2
        self.exit(2, f"genai-course: error: {message}\n")


def _probe_folder(folder: Path, what: str, path: Any) -> None:
    """Create and remove a file in ``folder``: the one test of writability that also holds for root
    (os.access says yes to root everywhere, even in /proc) and for read-only mounts."""
    import tempfile

    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".genai-course-probe-")
        os.close(fd)
        os.unlink(name)
    except OSError as e:
        raise UsageError(f"cannot write {what} {path}: folder {folder} is not writable ({e.strerror or e})") from None


def _writable(path: str, what: str) -> Path:
    """Check an output path can be written before spending time on work."""
    out = Path(path)
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise UsageError(f"{what} {path} is a folder; give a file name")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"cannot write {what} {path}: {folder} is a file, not a folder")
    if not folder.is_dir():
        raise UsageError(f"cannot write {what} {path}: folder {folder} does not exist")
    _probe_folder(folder, what, path)
    return out


def _cmd_train(args: argparse.Namespace) -> int:
    from . import models

    if args.model not in models.MODELS:
        raise UsageError(f"unknown model {args.model!r}: choose one of {', '.join(models.MODELS)}")
    from .checkpoints import CheckpointError
    from .train import Plan, get_device

    if args.out is None:
        Path("runs").mkdir(exist_ok=True)
    out = _writable(args.out or f"runs/{args.model}-seed{args.seed}.pt", "checkpoint")
    try:
        device = get_device(args.device)
        plan = Plan(accumulate=args.accumulate, precision=args.precision)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if (args.checkpoint_every or args.resume) and not models.get_class(args.model).resumable:
        raise UsageError(f"{args.model} trains in one go: its checkpoint holds the weights only, so --checkpoint-every and --resume do not apply")
    if args.resume and out.exists():
        try:
            model = models.load_model(str(out), device=device)
        except CheckpointError as e:
            raise UsageError(f"cannot resume: {e}") from None
        if (model.name, model.seed) != (args.model, args.seed):
            raise UsageError(f"cannot resume: {out} holds {model.name} seed {model.seed}, not {args.model} seed {args.seed}")
        if model.plan.accumulate != args.accumulate:
            raise UsageError(f"cannot resume: {out} was trained with --accumulate {model.plan.accumulate}, not {args.accumulate}")
        model.plan.precision = args.precision
        planned = model.recipe.train.steps
        if args.steps and args.steps != planned:
            print(f"note: {out}'s learning-rate schedule was planned for {planned} steps; going on to {args.steps} changes it, "
                  f"so this is not the run '--steps {args.steps}' would have been", file=sys.stderr)
        print(f"resuming {args.model} from step {model.step} of {out}", flush=True)
    else:
        model = models.build(args.model, seed=args.seed, device=device)
        model.plan = plan
    total = args.steps or model.recipe.train.steps
    if model.step > total:
        raise UsageError(f"cannot resume: {out} is already at step {model.step}, past --steps {total}")
    try:
        if not model.resumable:
            model.fit(steps=total, progress=not args.quiet)
            model.save(str(out))
        while model.resumable:
            stop = min(total, model.step + args.checkpoint_every) if args.checkpoint_every else total
            model.fit(steps=total, stop_at=stop, progress=not args.quiet)
            model.save(str(out))  # atomic: a run killed at any moment leaves the last whole checkpoint
            if model.step >= total:
                break
    except ValueError as e:  # e.g. a batch that does not cut into --accumulate micro-batches
        raise UsageError(str(e)) from None
    how = f", {args.accumulate} micro-batches a step" if args.accumulate > 1 else ""
    how += ", bf16 autocast" if args.precision == "bf16" else ""
    where = f", on {device}" if device.type != "cpu" else ""
    print(f"trained {args.model} (seed {args.seed}, {model.step} steps, {model.history.seconds:.1f} s{how}{where}); checkpoint written to {out}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from . import models
    from .checkpoints import CheckpointError

    out = _writable(args.out, "output file")
    try:
        model = models.load_model(args.checkpoint)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    diffusion_options = [o for o, v in (("--guidance", args.guidance), ("--sampler", args.sampler), ("--steps", args.steps)) if v is not None]
    if diffusion_options and not isinstance(model, models.TrainedDDPM):
        raise UsageError(f"{', '.join(diffusion_options)}: for diffusion models only; {model.name} is not one")
    if isinstance(model, models.TrainedCharLM):
        return _sample_text(model, out, args)
    if args.temperature is not None or args.top_k is not None:
        raise UsageError(f"--temperature and --top-k are for text models; {model.name} draws {'points' if _is_2d(model) else 'images'}")
    return _sample_images(model, out, args)


def _is_2d(model: Any) -> bool:
    return getattr(model, "mixture", None) is not None


def _sample_text(model: Any, out: Path, args: argparse.Namespace) -> int:
    import torch

    if out.suffix != ".txt":
        raise UsageError(f"output file {args.out} should end in .txt (one name a line) for {model.name}")
    generator = torch.Generator().manual_seed(args.seed)
    try:
        languages = model.labels(args.label, args.n)  # one language for all, or every one in turn
        names = []
        for start in range(0, args.n, arg.SAMPLE_CHUNK):  # one chunk for -n up to SAMPLE_CHUNK
            names += model.sample(
                min(arg.SAMPLE_CHUNK, args.n - start), generator=generator, labels=languages[start : start + arg.SAMPLE_CHUNK],
                temperature=args.temperature, top_k=args.top_k,  # None: the model's default
            )
    except ValueError as e:
        raise UsageError(str(e)) from None
    record = _provenance_sidecar(out)
    text = {out: "".join(f"{name}\n" for name in names), record: _provenance_json(
        args.checkpoint, model, args.seed, "sample", n=args.n, label=args.label, temperature=args.temperature, top_k=args.top_k) + "\n"}
    _write_texts(text)
    print(f"wrote {args.n} names of {model.name} to {out} (UTF-8, one a line; provenance in {record.name})")
    return 0


def _provenance_sidecar(out: Path) -> Path:
    """Where a text output's provenance goes: FILE.provenance.json (the file itself stays one sample a line)."""
    return out.with_name(out.name + ".provenance.json")


def _provenance_json(checkpoint: str, model: Any, seed: int, command: str, **options: Any) -> str:
    """The provenance record of a file made from ``checkpoint`` (checkpoints.provenance), as JSON."""
    import json

    from . import checkpoints

    return json.dumps(checkpoints.provenance(checkpoint, model=model.name, seed=seed, command=command, **options), sort_keys=True)


def _write_texts(files: dict[Path, str]) -> None:
    """Write each text to a temporary file first, then swap them all in (nothing half-written is left)."""
    tmps = {path: path.with_name(f".{path.name}.tmp") for path in files}
    try:
        for path, text in files.items():
            tmps[path].write_text(text, encoding="utf-8")
        for path, tmp in tmps.items():
            os.replace(tmp, path)
    finally:
        for tmp in tmps.values():
            tmp.unlink(missing_ok=True)


def _sample_images(model: Any, out: Path, args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from . import models

    if out.suffix != ".npz":
        raise UsageError(f"output file {args.out} should end in .npz")
    num_classes = getattr(model, "num_classes", 0)
    generator = torch.Generator().manual_seed(args.seed)
    arrays: dict[str, np.ndarray] = {}
    label = args.label
    if label is not None:
        try:
            label = int(label)
        except ValueError:
            raise UsageError(f"--label must be a whole number for {model.name} (got {label!r})") from None
    options: dict[str, Any] = {}
    if isinstance(model, models.TrainedDDPM):
        if args.guidance is not None and (label is None or not num_classes):
            raise UsageError(f"--guidance needs --label (a class to guide towards) and a conditional model; {model.name} {'is not conditional' if not num_classes else 'was given no --label'}")
        if args.sampler == "ancestral" and args.steps not in (None, model.schedule.T):
            raise UsageError(f"the ancestral sampler takes all {model.schedule.T} steps; use --sampler ddim for fewer")
        if args.steps is not None and args.steps > model.schedule.T:
            raise UsageError(f"--steps must be at most the model's {model.schedule.T} diffusion steps (got {args.steps})")
        options = {"guidance": args.guidance, "sampler": args.sampler, "steps": args.steps}  # --steps alone: DDIM
    labels = None
    if num_classes:
        if label is not None and not 0 <= label < num_classes:
            raise UsageError(f"--label must be a class from 0 to {num_classes - 1} for {model.name} (got {label})")
        if label is not None or not isinstance(model, models.TrainedDDPM):  # a DDPM without a label: its unconditional branch
            labels = model.check_labels(label, args.n)  # one class for all, or every class in turn
            arrays["y"] = labels.numpy().astype(np.int64)
    elif label is not None:
        raise UsageError(f"model {model.name} is not conditional: it takes no --label")
    chunks = []
    for start in range(0, args.n, arg.SAMPLE_CHUNK):  # one chunk for -n up to SAMPLE_CHUNK, the same draws as one call
        size = min(arg.SAMPLE_CHUNK, args.n - start)
        given = {} if labels is None else {"labels": labels[start : start + size]}
        chunks.append(model.sample(size, generator=generator, **given, **options).numpy().astype(np.float32))
    arrays["x"] = np.concatenate(chunks)
    described = ", ".join(f"array {k}, shape {v.shape}" for k, v in sorted(arrays.items()))
    # provenance: a JSON string in a 0-d unicode array, so np.load reads it without allow_pickle
    record = _provenance_json(args.checkpoint, model, args.seed, "sample", n=args.n, label=label, **options)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    np.savez(tmp, **arrays, provenance=np.array(record))
    os.replace(tmp, out)
    print(f"wrote {args.n} samples of {model.name} to {out} ({described})")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from . import evaluate, models
    from .checkpoints import CheckpointError

    try:
        model = models.load_model(args.checkpoint)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    try:
        result = evaluate.evaluate_model(model, n=args.n, seed=args.seed)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.json:
        from . import checkpoints

        record = checkpoints.provenance(args.checkpoint, model=model.name, seed=args.seed, command="evaluate", n=args.n)
        print(json.dumps({**result.as_dict(), "provenance": record}, indent=2))
    else:
        print(result)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from . import evaluate, models
    from .checkpoints import CheckpointError

    folder = Path(args.runs)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--runs {folder} is a file, not a folder of checkpoints")
    if not folder.is_dir():
        raise UsageError(f"no folder {folder}: train models first (genai-course train MODEL writes runs/MODEL-seedS.pt)")
    paths = sorted(folder.glob("*.pt"))
    if not paths:
        raise UsageError(f"no checkpoints (*.pt) in {folder}: train models first with 'genai-course train MODEL'")
    out = _writable(args.out or str(folder / "report.md"), "report")
    figure = _writable(args.figure or str(out.with_suffix(".png")), "figure")
    if figure.suffix != ".png":
        raise UsageError(f"figure {figure} should end in .png")
    from . import checkpoints

    manifest = folder / checkpoints.MANIFEST
    if manifest.is_file():  # a folder handed out with a manifest (pretrained checkpoints): every file must match
        try:
            checkpoints.verify_manifest(manifest)
        except CheckpointError as e:
            raise UsageError(str(e)) from None
    loaded, skipped = [], []
    for path in paths:
        try:
            loaded.append((path, models.load_model(str(path))))
        except CheckpointError as e:
            skipped.append(f"skipped {path}: {e}")
    if not loaded:
        raise UsageError(f"none of the checkpoints in {folder} could be read ({skipped[0].removeprefix('skipped ')})")
    for line in skipped:
        print(line, file=sys.stderr)
    order = list(models.MODELS)  # the course's order: GANs, VAEs, names, diffusion
    loaded.sort(key=lambda pm: (order.index(pm[1].name) if pm[1].name in order else len(order), pm[1].name, pm[1].seed))
    results = []
    for path, model in loaded:
        result = evaluate.evaluate_model(model, seed=args.seed)
        print(f"evaluated {path} ({model.name}, seed {model.seed}) in {result.seconds:.1f} s", flush=True)
        results.append(result)
    records = [checkpoints.provenance(path, model=model.name, seed=args.seed, command="report") for path, model in loaded]
    text = evaluate.report_markdown(results, figure.name) + _provenance_markdown(loaded, records, args.seed)
    _write_texts({out: text})
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = evaluate.plot_report(results)
    tmp = figure.with_name(f".{figure.name}.tmp")
    try:  # PNG text chunks: what made the figure travels with it
        fig.savefig(tmp, dpi=110, format="png", metadata={
            "Software": records[0]["made_by"], "Provenance": json.dumps(records, sort_keys=True)})
        os.replace(tmp, figure)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    print(evaluate.markdown_table(results), end="")
    print(f"wrote {out} and {figure} ({len(results)} models)")
    return 0


def _provenance_markdown(loaded: list[tuple[Path, Any]], records: list[dict[str, Any]], seed: int) -> str:
    """The report's last section: what made it, and every checkpoint with its sha256."""
    first = records[0]
    rows = "".join(
        f"| {r['checkpoint']} | {model.name} | {model.seed} | {model.step} | `{r['checkpoint_sha256']}` |\n"
        for (_, model), r in zip(loaded, records)
    )
    return (
        f"\n## Provenance\n\nMade by {first['made_by']} (torch {first['torch']}) with `genai-course report --seed {seed}` "
        f"from these checkpoints (check one with `sha256sum FILE`):\n\n"
        f"| checkpoint | model | trained with seed | steps | sha256 |\n|---|---|---:|---:|---|\n{rows}"
    )


def _cmd_check(args: argparse.Namespace) -> int:
    from . import roomcheck

    folder = Path(args.pretrained) if args.pretrained else None
    if folder is not None and not folder.is_dir():
        raise UsageError(f"--pretrained {folder} is {'a file, not a folder' if folder.exists() else 'no folder'}: "
                         "give the folder `genai-course pretrain` wrote (default runs/pretrained)")
    return roomcheck.main(smoke_seconds=args.seconds, pretrained_folder=folder)


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from . import pretrained

    if args.list:
        width = max(len(r.file) for r in pretrained.LESSON_RUNS)
        for r in pretrained.LESSON_RUNS:
            print(f"{r.lesson:<20} {r.file:<{width}}  {r.total_steps:>6,} steps")
        return 0
    if bool(args.all) == bool(args.names):
        raise UsageError("say what to train: --all, or lessons (05), models (dcgan-digits) or runs; --list shows them")
    try:
        runs = list(pretrained.LESSON_RUNS) if args.all else pretrained.select(args.names)
    except ValueError as e:
        raise UsageError(str(e)) from None
    folder = Path(args.out)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot make the folder {folder} ({e.strerror or e})") from None
    _probe_folder(folder, "pretrained runs into", folder)
    pretrained.pretrain(runs, folder, force=args.force, progress=not args.quiet, log=lambda line: print(line, flush=True))
    print(f"lessons load these when their first cell says PRETRAINED = True; check a copy with: cd {folder} && sha256sum -c SHA256SUMS")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from . import grading

    return grading.main_build(check=args.check, root=args.root)


def _cmd_grade(args: argparse.Namespace) -> int:
    from . import grading

    report = None
    if args.report is not None:  # everything a user can get wrong is said before any grading starts
        if len(args.paths) != 1:
            raise UsageError(f"--report grades one folder of submissions (DIR/<learner>/NN_name.ipynb or DIR/<learner>__NN_name.ipynb), got {len(args.paths)} paths")
        try:
            grading.class_submissions(args.paths[0])
        except grading.GradingError as e:
            raise UsageError(str(e)) from None
        report = _writable(args.report, "report")
    return grading.main_grade(args.paths, as_json=args.json, timeout=args.timeout, report=report, jobs=args.jobs, limit=args.limit)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="genai-course", description="Learn generative AI by building it.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train a course model with its lesson defaults")
    p.add_argument("model", help="one of: gan-ring8, gan-grid25, dcgan-digits, cgan-digits, vae-digits, cvae-digits, charlm-names, ddpm-ring8, ddpm-grid25, ddpm-digits")
    p.add_argument("--steps", type=arg.at_most(arg.MAX_STEPS), default=None, help=f"training steps (default: the lesson's; at most {arg.MAX_STEPS:,})")
    p.add_argument("--seed", type=arg.seed, default=0, help="random seed (default 0)")
    p.add_argument("--out", default=None, help="checkpoint file (default runs/MODEL-seedS.pt)")
    p.add_argument("--accumulate", type=arg.positive_int, default=1, help="micro-batches a step, gradients accumulated (default 1); the batch must divide evenly")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: mixed precision with autocast (default fp32)")
    p.add_argument("--device", default=None, help="cpu (default), auto, cuda or mps")
    p.add_argument("--checkpoint-every", type=arg.positive_int, default=None, metavar="K", help="also write the checkpoint every K steps, so a killed run can --resume")
    p.add_argument("--resume", action="store_true", help="continue from --out if it exists (same model, seed and --accumulate); the result equals an uninterrupted run")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("sample", help="draw samples from a checkpoint into an .npz file (points, images) or a .txt file (text)")
    p.add_argument("checkpoint", help="a checkpoint written by 'genai-course train'")
    p.add_argument("-n", type=arg.at_most(arg.MAX_SAMPLES, ": write several files with different --seed"), required=True,
                   help=f"number of samples (at most {arg.MAX_SAMPLES:,})")
    p.add_argument(
        "--label", default=None,
        help="conditional models only: a class 0-9 for digits, a locale such as de_DE for names (default: every one in turn)",
    )
    p.add_argument("--temperature", type=float, default=None, help="text models: > 0 (default: the model's, 0.8 for charlm-names; lower is safer, higher wilder)")
    p.add_argument("--top-k", type=arg.positive_int, default=None, help="text models: draw only from the k most probable characters (k >= 1)")
    p.add_argument("--guidance", type=arg.guidance, default=None, help="conditional diffusion models with --label: the classifier-free guidance scale w >= 0 (default: the model's, 2 for ddpm-digits; 0 is plain conditional)")
    p.add_argument("--sampler", choices=["ancestral", "ddim"], default=None, help="diffusion models: 'ancestral' (every step, fresh noise; the default) or 'ddim' (fewer deterministic steps)")
    p.add_argument("--steps", type=arg.positive_int, default=None, help="diffusion models: DDIM steps (default 50; alone, it selects DDIM)")
    p.add_argument("--seed", type=arg.seed, default=0, help="random seed (default 0)")
    p.add_argument("--out", required=True, help="output file: .npz for points and images (array x; y when labels were given; provenance, a JSON string), .txt for text (with FILE.provenance.json)")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser("evaluate", help="run every test that applies to a trained model: quality, diversity, two-sample test, memorization, speed")
    p.add_argument("checkpoint", help="a checkpoint written by 'genai-course train'")
    p.add_argument("-n", type=arg.at_most(arg.MAX_EVALUATE), default=None,
                   help=f"samples to draw (default 1000 digits, 2500 points, 100 names per language; at most {arg.MAX_EVALUATE:,})")
    p.add_argument("--seed", type=arg.seed, default=0, help="random seed of the samples and tests (default 0)")
    p.add_argument("--json", action="store_true", help="print the scores as JSON")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("report", help="evaluate every checkpoint in a folder: one Markdown table and a figure")
    p.add_argument("--runs", default="runs", help="folder of checkpoints (default runs/, where 'train' writes them)")
    p.add_argument("--out", default=None, help="Markdown file (default RUNS/report.md)")
    p.add_argument("--figure", default=None, help="PNG figure (default: the report's name with .png)")
    p.add_argument("--seed", type=arg.seed, default=0, help="random seed of the samples and tests (default 0)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("check", help="check this machine is ready for the workshop")
    p.add_argument("--seconds", type=arg.seconds, default=5.0, help=f"length of the smoke training (default 5, at most {arg.MAX_SMOKE_S:.0f})")
    p.add_argument("--pretrained", default=None, metavar="DIR", help="pretrained runs to check (default: where the lessons look, runs/pretrained)")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("pretrain", help="train every model the lessons train, so that slow laptops can load them (PRETRAINED = True)")
    p.add_argument("names", nargs="*", help="lessons (05 or 05_training_loop), models (every lesson run of it) or runs (see --list)")
    p.add_argument("--all", action="store_true", help="every lesson's 17 runs (about 6 minutes on a quiet 2-core machine)")
    p.add_argument("--out", default=str(Path("runs") / "pretrained"), help="folder for the checkpoints and SHA256SUMS (default runs/pretrained, where lessons look)")
    p.add_argument("--force", action="store_true", help="retrain runs already in the folder (by default an intact, current checkpoint is kept)")
    p.add_argument("--list", action="store_true", help="list every lesson run and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_pretrain)

    p = sub.add_parser("build", help="regenerate exercises/ from solutions/")
    p.add_argument("--check", action="store_true", help="only check that exercises/ is up to date (exit 1 if not)")
    p.add_argument("--root", default=None, help="course folder holding solutions/ and exercises/ (default: found from here)")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser(
        "grade", help="run exercise notebooks and report each exercise; with --report, a class folder into a CSV",
        description="Run exercise notebooks, each in its own kernel, and report every exercise. Exit code 0: all passed; "
        "1: some did not pass; 2: unusable input.",
        epilog="A class folder (--report): a learner is a subfolder, DIR/<learner>/NN_name.ipynb, or the start of a flat "
        "file's name up to '__', DIR/<learner>__NN_name.ipynb; a flat file without '__' is that learner's one notebook, "
        "DIR/<learner>.ipynb (.ipynb or py:percent .py; of a jupytext pair, the .ipynb). The CSV has one row per learner "
        "and exercise: learner, notebook, exercise, status (passed, failed, not_attempted, timed_out, not_run, unusable), "
        "feedback, seconds, path; sorted by learner and notebook, then the notebook's order. A cell that will not stop when "
        "interrupted has its kernel killed; a submission past --limit has its worker and kernel killed: the others go on.",
    )
    p.add_argument("paths", nargs="+", help="notebooks (.ipynb or py:percent .py) or folders of them; with --report, one class folder DIR")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--timeout", type=arg.at_most(arg.MAX_TIMEOUT_S), default=120, help="seconds one cell may run (default 120)")
    p.add_argument("--report", default=None, metavar="CSV", help="grade the class folder DIR and write one CSV row per learner and exercise (see below)")
    p.add_argument("--jobs", type=arg.at_most(arg.MAX_JOBS), default=None, metavar="N", help="submissions graded at once, each in its own worker process and kernel (default: the CPU cores, at most 4)")
    p.add_argument("--limit", type=arg.at_most(arg.MAX_TIMEOUT_S), default=None, metavar="S", help="hard wall-clock seconds for one submission; past it, its worker and kernel are killed (default: TIMEOUT for each code cell and one more, plus 60)")
    p.set_defaults(func=_cmd_grade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from . import threads

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command not in ("build", "grade"):  # those two run no PyTorch here (grade's kernels set their own)
            try:
                threads.use("command")
            except ValueError as e:
                raise UsageError(str(e)) from None
        return int(args.func(args) or 0)
    except UsageError as e:
        print(f"genai-course {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genai-course: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `genai-course pretrain --list | head`: the reader stopped, not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so Python's final flush of stdout does not fail again
        return 0
    except OSError as e:  # the machine refused a file after the checks above: a full disk, a file that vanished
        where = f" ({e.filename})" if e.filename else ""
        print(f"genai-course {args.command}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as e:
        if isinstance(e, RuntimeError) and "can't allocate memory" not in str(e):  # torch's allocator; anything else is a bug
            raise
        print(f"genai-course {args.command}: error: out of memory: ask for less at once (a smaller -n)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
