"""What every test run shares: `make test` is one pytest run over tests/ and the executed notebooks.

* **One thread a process.** ``GENAI_COURSE_THREADS=1`` (``genai_course.threads``' rule for a test
  worker) for this process and every process it starts (the command line, notebook kernels,
  torchrun), unless already set: one thread sums in the same order everywhere, so a result
  computed here equals the one a subprocess computed, and two busy cores never run two
  threads of one small network that wait on each other.
* **Pretrained runs, trained once.** ``pretrain(*names)`` (a fixture) trains lesson runs with
  `genai-course pretrain` into one folder for the whole run, shared by every pytest-xdist
  worker (a lock per run: the first worker to need a run trains it, the others wait for it).
  The quality tests, the browser test and the lessons all use the same runs.
* **Lessons with PRETRAINED switched on** (``--pretrained-lessons``, as `make test` runs them):
  nbval runs each lesson whose first code cell says ``PRETRAINED = False`` with ``True``
  instead, loading its runs from that folder, and compares the outputs with the committed ones
  (which the lesson made by training): equal outputs show the runs are the lesson's own. A cell
  that trained anyway ("training here instead") fails. ``make nbval`` leaves the switch off.
* **pytest-xdist**: each notebook's cells run in one worker, in order, and so do the browser
  test's two lessons (one JupyterLab server); every other test goes wherever a worker is free.
* **Notebook times** are printed; their budgets are measured by `make bench`, not asserted here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parent
SWITCH_OFF, SWITCH_ON = "PRETRAINED = False", "PRETRAINED = True"
TRAINED_ANYWAY = "training here instead"  # what models' pretrained loading prints when it trains
_FOLDER_KEY = "genai_course_pretrained"  # the shared folder, as the controller hands it to xdist workers

_folder = pytest.StashKey[Path]()  # this run's folder of pretrained runs
_cells: dict[str, list[float]] = defaultdict(list)
_switched: set[str] = set()  # notebooks (paths relative to ROOT) run with PRETRAINED = True


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--pretrained-lessons", action="store_true",
                     help="run lessons with PRETRAINED = True, loading runs trained once for the whole test run")


# ----------------------------------------------------------------------------- threads, folder


def pytest_configure(config: pytest.Config) -> None:
    from genai_course import threads

    os.environ.setdefault(threads.ENV, "1")
    threads.use("test")
    worker = getattr(config, "workerinput", None)
    if worker is not None:  # an xdist worker: the controller made the folder
        config.stash[_folder] = Path(worker[_FOLDER_KEY])
    else:
        config.stash[_folder] = Path(tempfile.mkdtemp(prefix="genai-course-pretrained-"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # xdist: tell each worker where the shared folder is
    node.workerinput[_FOLDER_KEY] = str(node.config.stash[_folder])


def pytest_unconfigure(config: pytest.Config) -> None:
    if getattr(config, "workerinput", None) is None and _folder in config.stash:
        shutil.rmtree(config.stash[_folder], ignore_errors=True)


def pretrain_into(folder: Path, names: tuple[str, ...]) -> Path:
    """`genai-course pretrain NAME --out folder` for each run ``names`` select, each trained once
    whichever worker asks first (a lock per run; a written run is complete: checkpoints are
    written atomically). Returns the folder."""
    from filelock import FileLock

    from genai_course import pretrained

    for run in pretrained.select(names):
        with FileLock(str(folder / f".{run.file}.lock")):
            if (folder / run.file).is_file():
                continue
            done = subprocess.run(
                [sys.executable, "-m", "genai_course", "pretrain", run.file, "--out", str(folder), "--quiet"],
                capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"}, cwd=ROOT,
            )
            assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="session")
def pretrain(pytestconfig: pytest.Config) -> Callable[..., Path]:
    """``pretrain(*names) -> folder``: lessons ("05"), models or run files, trained once for the whole
    test run (``pretrain_into``) into one folder: a run trained for one test (a lesson's) is the
    run the next one loads (a quality test's)."""
    folder = pytestconfig.stash[_folder]
    return lambda *names: pretrain_into(folder, names)


@pytest.fixture(scope="session")
def pretrained_dir(pretrain: Callable[..., Path]) -> Path:
    """A folder holding the pretrained runs of lessons 05 and 07 (for the browser test)."""
    return pretrain("05", "07")


# ----------------------------------------------------------------------------- notebooks


def _is_cell(item: pytest.Item) -> bool:
    return type(item).__name__ == "IPyNbCell"


def _notebook(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow tests first (xdist then starts the long work early); with --pretrained-lessons,
    each lesson's switch turned on."""
    for item in items:
        if _is_cell(item):
            source = item.cell.source  # type: ignore[attr-defined]
            if config.getoption("--pretrained-lessons") and _notebook(item).startswith("notebooks/") and SWITCH_OFF in source:
                item.cell.source = source.replace(SWITCH_OFF, SWITCH_ON)  # type: ignore[attr-defined]
                _switched.add(_notebook(item))
    items.sort(key=lambda item: 0 if _is_cell(item) or item.get_closest_marker("slow") else 1)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item):
    """Before a switched lesson's kernel starts (its first cell's setup): its runs are trained,
    and the kernel is told where they are."""
    from genai_course import models

    if not (_is_cell(item) and _notebook(item) in _switched and item.cell_num == 0):  # type: ignore[attr-defined]
        yield
        return
    lesson = Path(_notebook(item)).name[:2]
    folder = pretrain_into(item.config.stash[_folder], (lesson,))
    previous = os.environ.get(models.PRETRAINED_ENV)
    os.environ[models.PRETRAINED_ENV] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(models.PRETRAINED_ENV, None)
        else:
            os.environ[models.PRETRAINED_ENV] = previous


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A switched lesson's cell that trained instead of loading fails, with the line that says why."""
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not _is_cell(item) or _notebook(item) not in _switched or report.failed:
        return
    text = "".join(str(out.get("text", "")) for out in (getattr(item, "test_outputs", None) or []))
    trained = [line for line in text.splitlines() if TRAINED_ANYWAY in line]
    if trained:
        report.outcome = "failed"
        report.longrepr = f"{_notebook(item)} runs with PRETRAINED = True, yet this cell trained:\n" + "\n".join(trained)


# Scopes of work for pytest-xdist (`make test` runs -n 2): a notebook's cells share one kernel,
# so they go to one worker in order; so do the browser test's lessons (one JupyterLab server).
# Every other test is a scope of its own. xdist hands out the biggest scopes first, then the
# rest in collection order (the slow tests first, above).
TOGETHER = ("tests/test_browser.py", "tests/test_browser_serve.py")  # one Chromium (and one server) a file


def work_scope(nodeid: str) -> str:
    """The unit of work a test belongs to: its notebook, a file in TOGETHER, or itself."""
    path = nodeid.split("::", 1)[0]
    return path if path.endswith(".ipynb") or path in TOGETHER else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class ByNotebook(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_scope(nodeid)

    return ByNotebook(config, log)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb") and report.when == "call":
        _cells[path].append(report.duration)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not _cells:
        return
    switched = " (lessons with PRETRAINED = True)" if config.getoption("--pretrained-lessons") else ""
    terminalreporter.section(f"notebook run times{switched}: budgets are measured by `make bench`")
    for path, durations in sorted(_cells.items()):
        terminalreporter.write_line(f"{sum(durations):7.1f} s  (slowest cell {max(durations):5.1f} s)  {path}")
