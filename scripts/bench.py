#!/usr/bin/env python3
"""`make bench`: every time budget of the course, measured several times, against its budget.

    python scripts/bench.py [--only GROUP ...] [--repeat N] [--select NAME ...]
                            [--budget KEY=SECONDS ...] [--out DIR]

Tests never assert a wall-clock time (a busy machine would make them lie); the budgets live
here. Each group runs its things ``--repeat`` times (default 3) and the report gives each
thing's median, min and max beside its budget:

  training   each course model's default training, `genai-course train MODEL --seed S` for
             seeds 0..N-1 (the checkpoint's training seconds), with the quality tables of
             scripts/bench_quality.py (the README's "What the trained models reach")
  evaluate   `genai-course evaluate CKPT` on each digits GAN and VAE, a fresh process included
  lessons    each lesson top to bottom in a fresh kernel, as committed (PRETRAINED = False): the
             lesson's cells, its slowest cell, and all lessons together
  solutions  each solution notebook top to bottom in a fresh kernel
  checks     each exercise check, given the solution notebook's answer (its first call and N-1 more)
  grading    `genai-course grade CLASS --report` on 30 submissions of lesson 04 (--jobs 2)
  threads    not a budget: one training with 1 and 2 PyTorch threads, on an idle machine and
             beside one busy process that this script starts and stops (the README's table)

The report (DIR/report.md, default runs/bench/) starts with the machine (cores, load before and
after, CPU, PyTorch, threads) and one table of every budgeted thing; a median over its budget is
marked OVER and makes the exit code 1 (so does a model that misses its quality targets).
``--budget check=0.5`` replaces a budget (tests/test_bench.py uses a tiny one to see it fail);
``--select`` keeps only the models, notebooks (their two-digit number) or checks named.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

BUDGETS = {  # seconds, on 2 CPU cores (COURSE.md)
    "training": 90.0,  # one training cell: a course model's default training
    "evaluate": 20.0,  # `genai-course evaluate` on a digits GAN or VAE, fresh process included
    "cell": 90.0,  # a lesson's slowest cell
    "lesson": 180.0,  # a lesson top to bottom
    "course": 1200.0,  # all lessons together
    "solution": 45.0,  # a solution notebook top to bottom
    "check": 1.0,  # one exercise check
    "grading": 300.0,  # a class of 30 submissions
}
GROUPS = ("training", "evaluate", "lessons", "solutions", "checks", "grading", "threads")
EVALUATED = ("dcgan-digits", "cgan-digits", "vae-digits", "cvae-digits")


@dataclass
class Row:
    """One budgeted thing: its name, budget key and the seconds of each run."""

    name: str
    budget: str
    seconds: list[float] = field(default_factory=list)


@dataclass
class Bench:
    repeat: int
    budgets: dict[str, float]
    select: list[str]
    out: Path
    rows: list[Row] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # Markdown after the table
    quality_ok: bool = True

    def chosen(self, *names: str) -> bool:
        return not self.select or any(n in self.select for n in names)

    def add(self, name: str, budget: str, seconds: float) -> None:
        row = next((r for r in self.rows if r.name == name and r.budget == budget), None)
        if row is None:
            row = Row(name, budget)
            self.rows.append(row)
        row.seconds.append(seconds)
        print(f"  {name}: {seconds:.2f} s", flush=True)


# ----------------------------------------------------------------------------- groups


def run_training(bench: Bench) -> None:
    """Every model x seed through the CLI, scored as scripts/bench_quality.py does."""
    import bench_quality
    from genai_course import models

    names = [m for m in models.MODELS if bench.chosen(m)]
    seeds = list(range(bench.repeat))
    workdir = bench.out / "checkpoints"
    workdir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    rows: list[dict] = []
    for kind, table in bench_quality.TABLES.items():
        mine = [m for m in names if bench_quality._kind(m) == kind]
        if mine:
            rows += bench_quality.print_table(table, mine, seeds, workdir, say)
    for r in rows:
        bench.add(f"train {r['model']}", "training", r["seconds"])
    bench.quality_ok = bench.quality_ok and all(r["ok"] for r in rows)
    if rows:
        bench.sections.append("## What the trained models reach\n\n" + "\n".join(lines))


def run_evaluate(bench: Bench) -> None:
    """`genai-course evaluate` on seed 0 of each digits GAN and VAE (trained first if missing)."""
    workdir = bench.out / "checkpoints"
    workdir.mkdir(parents=True, exist_ok=True)
    for model in EVALUATED:
        if not bench.chosen(model):
            continue
        ckpt = workdir / f"{model}-0.pt"
        if not ckpt.is_file():
            _cli("train", model, "--seed", "0", "--out", str(ckpt), "--quiet")
        for _ in range(bench.repeat):
            start = time.perf_counter()
            _cli("evaluate", str(ckpt), "--json")
            bench.add(f"evaluate {model}", "evaluate", time.perf_counter() - start)


def _notebooks(folder: str, bench: Bench) -> list[Path]:
    return [p for p in sorted((ROOT / folder).glob("[0-9][0-9]_*.py")) if bench.chosen(p.name[:2], p.stem)]


def run_lessons(bench: Bench) -> None:
    lessons = _notebooks("notebooks", bench)
    totals: list[float] = []
    for _ in range(bench.repeat):
        total = 0.0
        for path in lessons:
            cells = execute_cells(path)
            bench.add(f"lesson {path.stem}", "lesson", sum(cells))
            bench.add(f"slowest cell of {path.stem}", "cell", max(cells))
            total += sum(cells)
        totals.append(total)
    if lessons and not bench.select:
        bench.rows.append(Row(f"all {len(lessons)} lessons", "course", totals))


def run_solutions(bench: Bench) -> None:
    for _ in range(bench.repeat):
        for path in _notebooks("solutions", bench):
            bench.add(f"solution {path.stem}", "solution", sum(execute_cells(path)))


# Run first in a solution notebook's kernel: each check is timed on the learner's first call and
# on REPEAT - 1 more calls with the same answer (their output hidden); the last cell prints the times.
_TIME_CHECKS = """
import contextlib as _c, functools as _f, io as _io, time as _t
from genai_course import checks as _checks
_bench_times = {}
def _timed(name, check):
    @_f.wraps(check)
    def run(*args, **kwargs):
        start = _t.perf_counter()
        result = check(*args, **kwargs)
        _bench_times.setdefault(name, []).append(_t.perf_counter() - start)
        for _ in range(REPEAT - 1):
            with _c.redirect_stdout(_io.StringIO()):
                start = _t.perf_counter()
                check(*args, **kwargs)
                _bench_times[name].append(_t.perf_counter() - start)
        return result
    return run
for _name in _checks.EXERCISES:
    setattr(_checks, _name, _timed(_name, getattr(_checks, _name)))
"""


def run_checks(bench: Bench) -> None:
    import jupytext
    import nbformat

    from genai_course import checks

    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.py")):
        names = [n for n in checks.EXERCISES if f"checks.{n}(" in path.read_text()]
        names = [n for n in names if bench.chosen(n, path.name[:2])]
        if not names:
            continue
        nb = jupytext.read(path, fmt="py:percent")
        nb.cells.insert(0, nbformat.v4.new_code_cell(_TIME_CHECKS.replace("REPEAT", str(bench.repeat))))
        nb.cells.append(nbformat.v4.new_code_cell("import json as _json; print('BENCH' + _json.dumps(_bench_times))"))
        _execute(nb, path.parent)
        text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
        times = json.loads(text.split("BENCH", 1)[1])
        for name in names:
            if name not in times:
                raise RuntimeError(f"{path.name} never called checks.{name}")
            for seconds in times[name]:
                number = checks.EXERCISES[name].split()[1]  # "Exercise 1.1 (...)" -> "1.1"
                bench.add(f"check {number} {name}", "check", seconds)


def run_grading(bench: Bench) -> None:
    """30 submissions of lesson 04 (15 solved, 15 not attempted) graded into a CSV, 2 at a time."""
    if not bench.chosen("grading", "04"):
        return
    with tempfile.TemporaryDirectory() as tmp:
        klass = Path(tmp) / "class"
        for k in range(30):
            source = ROOT / ("solutions" if k % 2 == 0 else "exercises") / "04_loss_functions.ipynb"
            (klass / f"learner{k:02d}").mkdir(parents=True)
            shutil.copy(source, klass / f"learner{k:02d}" / source.name)
        for _ in range(bench.repeat):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "genai_course", "grade", str(klass), "--report", str(Path(tmp) / "class.csv"),
                                   "--jobs", "2"], capture_output=True, text=True)
            if done.returncode not in (0, 1):
                raise RuntimeError(f"grade failed: {done.stderr[-500:]}")
            bench.add("grade 30 submissions of lesson 04", "grading", time.perf_counter() - start)


# The workload of the threads table: lesson 07's class-conditional DCGAN (cgan-digits), the
# network size of the lessons' longest training cells, for THREADS_STEPS steps in a fresh process.
_THREADS_WORKLOAD = """
import sys, time, torch
from genai_course import models
torch.set_num_threads(int(sys.argv[1]))
model = models.build("cgan-digits", seed=0)
start = time.perf_counter()
model.fit(steps=int(sys.argv[2]), progress=False)
print(time.perf_counter() - start)
"""
THREADS_STEPS = 600


@contextlib.contextmanager
def _busy_process() -> Iterator[None]:
    """One other CPU-bound process for as long as the block runs (and at most 30 minutes)."""
    spin = subprocess.Popen([sys.executable, "-c", "import time\nend = time.time() + 1800\nwhile time.time() < end: pass"])
    try:
        time.sleep(1)
        yield
    finally:
        spin.kill()
        spin.wait()


def run_threads(bench: Bench) -> None:
    if not bench.chosen("threads"):
        return
    results: dict[tuple[str, int], list[float]] = {}
    for load in ("idle", "one busy process"):
        with _busy_process() if load != "idle" else contextlib.nullcontext():
            for _ in range(bench.repeat):
                for n in (1, 2):
                    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "GENAI_COURSE_THREADS")}
                    done = subprocess.run([sys.executable, "-c", _THREADS_WORKLOAD, str(n), str(THREADS_STEPS)], env=env,
                                          capture_output=True, text=True, timeout=1800)
                    if done.returncode != 0:
                        raise RuntimeError(done.stderr[-500:])
                    seconds = float(done.stdout.split()[-1])
                    results.setdefault((load, n), []).append(seconds)
                    print(f"  threads: {n} on a machine {load}: {seconds:.1f} s", flush=True)
    lines = [f"## PyTorch threads on this machine\n\n{THREADS_STEPS} training steps of cgan-digits (lesson 07's DCGAN) in a "
             f"fresh process, median of {bench.repeat} (min-max):\n",
             "| machine | 1 thread | 2 threads | 2 threads / 1 thread |", "|---|---|---|---|"]
    for load in ("idle", "one busy process"):
        one, two = results[(load, 1)], results[(load, 2)]
        lines.append(f"| {load} | {_mmm(one)} | {_mmm(two)} | {statistics.median(two) / statistics.median(one):.2f}x |")
    bench.sections.append("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- notebooks


def _execute(nb, cwd: Path) -> None:
    from execute_notebooks import CELL_TIMEOUT_S, CurrentEnvKernelManager
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name=NATIVE_KERNEL_NAME, kernel_manager_class=CurrentEnvKernelManager,
                   resources={"metadata": {"path": str(cwd)}}, allow_errors=False, record_timing=True).execute()


def execute_cells(path: Path) -> list[float]:
    """Run a py:percent notebook top to bottom in a fresh kernel (nothing written): each code cell's seconds."""
    import jupytext
    from execute_notebooks import may_raise

    nb = jupytext.read(path, fmt="py:percent")
    for cell in nb.cells:
        if cell.cell_type == "code" and may_raise(cell):
            cell.metadata.setdefault("tags", []).append("raises-exception")
    _execute(nb, path.parent)
    seconds = []
    for cell in nb.cells:
        timing = cell.metadata.get("execution", {}) if cell.cell_type == "code" else {}
        if "shell.execute_reply" in timing and "iopub.execute_input" in timing:
            start = datetime.datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            seconds.append((end - start).total_seconds())
    return seconds


# ----------------------------------------------------------------------------- the report


def _mmm(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s ({min(values):.1f}-{max(values):.1f})"


def _seconds(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def machine() -> list[str]:
    import torch

    from genai_course import threads

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "?") if Path("/proc/cpuinfo").exists() else platform.processor()
    memory = ""
    if Path("/proc/meminfo").exists():
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GiB"
    return [f"- machine: {threads.usable_cores()} usable cores{memory}, {cpu}, {platform.system()} {platform.release()}",
            f"- Python {platform.python_version()}, PyTorch {torch.__version__} ({torch.backends.cpu.get_cpu_capability()})",
            f"- threads: {threads.explain('lesson')}; commands: {threads.recommended('command')}"]


def report(bench: Bench, started: datetime.datetime, load_before: float, load_after: float, seconds: float) -> tuple[str, bool]:
    """The Markdown report and whether every median is within its budget."""
    lines = [f"# make bench: {started:%Y-%m-%d %H:%M} UTC", "",
             *machine(),
             f"- load average (1 min): {load_before:.2f} at the start, {load_after:.2f} at the end; the bench took {seconds / 60:.0f} min",
             f"- each row: {bench.repeat} runs" + (" (training: seeds 0-{}; checks: the first call and {} more)".format(bench.repeat - 1, bench.repeat - 1)),
             "", "| what | budget | median | min | max | runs | verdict |", "|---|---:|---:|---:|---:|---:|---|"]
    within = True
    for row in bench.rows:
        budget = bench.budgets[row.budget]
        median = statistics.median(row.seconds)
        ok = median <= budget
        within = within and ok
        lines.append(f"| {row.name} | {_seconds(budget)} s | {_seconds(median)} s | {_seconds(min(row.seconds))} s | "
                     f"{_seconds(max(row.seconds))} s | {len(row.seconds)} | {'ok' if ok else '**OVER**'} |")
    lines.append("")
    verdict = "every median within its budget" if within else "OVER BUDGET: " + ", ".join(
        r.name for r in bench.rows if statistics.median(r.seconds) > bench.budgets[r.budget])
    if not bench.quality_ok:
        verdict += "; a model missed its quality targets (below)"
    lines += [f"**{verdict}.**", ""]
    lines += bench.sections
    return "\n".join(lines) + "\n", within


def _cli(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "genai_course", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"genai-course {' '.join(args)} failed: {done.stderr[-500:]}")


def _budget(text: str) -> tuple[str, float]:
    key, _, value = text.partition("=")
    if key not in BUDGETS:
        raise argparse.ArgumentTypeError(f"unknown budget {key!r}: choose from {', '.join(BUDGETS)}")
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"budget {key} needs seconds, a number (got {value!r})") from None
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"budget {key} must be more than 0 seconds (got {value})")
    return key, seconds


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 (got {text!r})")
    return int(text)


RUNNERS: dict[str, Callable[[Bench], None]] = {
    "training": run_training, "evaluate": run_evaluate, "lessons": run_lessons, "solutions": run_solutions,
    "checks": run_checks, "grading": run_grading, "threads": run_threads,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=list(GROUPS), metavar="GROUP", help=f"groups to run: {', '.join(GROUPS)}")
    parser.add_argument("--repeat", type=_positive, default=3, help="runs of each thing (default 3)")
    parser.add_argument("--select", nargs="+", default=[], metavar="NAME", help="only these models, notebooks (05) or checks")
    parser.add_argument("--budget", type=_budget, action="append", default=[], metavar="KEY=SECONDS", help="replace a budget")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench", help="folder of the report and checkpoints")
    args = parser.parse_args(argv)
    bench = Bench(args.repeat, {**BUDGETS, **dict(args.budget)}, args.select, args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    started, t0, load_before = datetime.datetime.now(datetime.timezone.utc), time.perf_counter(), os.getloadavg()[0]
    for group in GROUPS:
        if group in args.only:
            print(f"== {group}", flush=True)
            RUNNERS[group](bench)
    text, within = report(bench, started, load_before, os.getloadavg()[0], time.perf_counter() - t0)
    (args.out / "report.md").write_text(text, encoding="utf-8")
    print("\n" + text + f"written to {args.out / 'report.md'}")
    return 0 if within and bench.quality_ok else 1


if __name__ == "__main__":
    sys.exit(main())
