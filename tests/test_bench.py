"""`make bench` holds the time budgets that no test asserts: it measures, and fails when a median is over.

Run here on the cheapest thing it times (the two checks of exercise set 01, two calls each) with
the budget for a check set to a microsecond, which no machine meets, and then to a minute, which
every machine does: the exit code and the report's verdict must follow the budget.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.notebooks  # it runs a solution notebook in a kernel


def bench(tmp_path: Path, budget: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--only", "checks", "--select", "01", "--repeat", "2",
         "--budget", f"check={budget}", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    return done.returncode, (tmp_path / "report.md").read_text(encoding="utf-8")


def test_a_median_over_its_budget_fails_the_bench(tmp_path):
    code, report = bench(tmp_path, "0.000001")
    assert code == 1
    rows = [line for line in report.splitlines() if line.startswith("| check ")]
    assert [row.split(" | ")[0] for row in rows] == ["| check 1.1 sample_ring8", "| check 1.2 mixture_log_prob"]
    assert all(row.endswith("| 2 | **OVER** |") for row in rows), rows
    assert "**OVER BUDGET: check 1.1 sample_ring8, check 1.2 mixture_log_prob.**" in report
    assert "usable cores" in report and "load average (1 min):" in report  # the machine it ran on


def test_medians_within_their_budgets_pass(tmp_path):
    code, report = bench(tmp_path, "60")
    assert code == 0, report
    rows = [line for line in report.splitlines() if line.startswith("| check ")]
    assert len(rows) == 2 and all(row.endswith("| 2 | ok |") for row in rows), rows
    assert "**every median within its budget.**" in report


def test_bad_bench_arguments_are_one_line():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--budget", "lunch=5"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].endswith(
        "argument --budget: unknown budget 'lunch': choose from training, evaluate, cell, lesson, course, solution, check, grading")
