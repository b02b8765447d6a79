"""Run-time budgets of the notebooks, enforced while nbval re-runs them.

COURSE.md's budgets: no cell (so no training cell) over 90 s on 2 CPU cores, a lesson
top to bottom in at most 3 minutes, a solution notebook in at most 45 s. nbval runs each
cell as a test item; this plugin adds up their durations per notebook, prints a table at
the end, and fails the run if a budget is broken. (Unit tests are not affected.)
"""

from __future__ import annotations

from collections import defaultdict

import pytest

CELL_BUDGET_S = 90.0
NOTEBOOK_BUDGET_S = {"notebooks": 180.0, "solutions": 45.0}

_cells: dict[str, list[float]] = defaultdict(list)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb") and report.when == "call":
        _cells[path].append(report.duration)


def _over_budget() -> list[str]:
    problems = []
    for path, durations in sorted(_cells.items()):
        budget = NOTEBOOK_BUDGET_S.get(path.split("/", 1)[0])
        if budget is not None and sum(durations) > budget:
            problems.append(f"{path} ran {sum(durations):.0f} s (budget {budget:.0f} s)")
        if max(durations) > CELL_BUDGET_S:
            problems.append(f"{path} has a cell that ran {max(durations):.0f} s (budget {CELL_BUDGET_S:.0f} s)")
    return problems


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _cells:
        return
    terminalreporter.section("notebook run times (budgets: lesson 180 s, solution 45 s, cell 90 s)")
    for path, durations in sorted(_cells.items()):
        terminalreporter.write_line(f"{sum(durations):7.1f} s  (slowest cell {max(durations):5.1f} s)  {path}")
    for problem in _over_budget():
        terminalreporter.write_line(f"OVER BUDGET: {problem}", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _cells and _over_budget() and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
