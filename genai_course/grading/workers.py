"""Many submissions at once: ``--jobs`` of them graded side by side, each apart (``grading.submission``).

Results keep the input order and each is reported as soon as it and those before it are done. A
grader that is stopped (Ctrl-C) kills every learner process it started; each one's sandbox
takes down whatever that process started.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from . import sandbox
from .build import find_root
from .results import GradingError, SubmissionResult
from .submission import grade_submission

__all__ = ["default_jobs", "grade_all"]


def default_jobs() -> int:
    """Submissions graded at once by default: the CPU cores this process may use, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


class _Live:
    """The learner processes running now, so that stopping the grader can kill them."""

    def __init__(self) -> None:
        self.procs: dict[int, Any] = {}
        self.lock = threading.Lock()
        self.closed = False

    def track(self) -> Callable[[Any], None]:
        key = threading.get_ident()

        def on_process(proc: Any) -> None:
            with self.lock:
                if proc is None:
                    self.procs.pop(key, None)
                    return
                self.procs[key] = proc
                closed = self.closed
            if closed:
                proc.kill()

        return on_process

    def close(self) -> None:
        with self.lock:
            self.closed = True
            procs = list(self.procs.values())
        for proc in procs:
            proc.kill()


def grade_all(items: list[tuple[str, str | None]], timeout: float, jobs: int | None, limit: float | None,
              on_result: Callable[[int, SubmissionResult], None]) -> list[SubmissionResult]:
    """Grade (path, reason it is unusable or None) items, ``jobs`` at a time; results in the items' order.

    ``timeout``: the CPU seconds each check may use (and three times that, plus 10, of wall clock);
    ``limit``: a submission's hard wall-clock limit (default ``submission.hard_limit``).
    ``on_result(k, result)`` is called for each item in order, as soon as it and those before it are done.
    """
    limits = sandbox.Limits(cpu=float(timeout), wall=3.0 * float(timeout) + 10.0)
    results: list[SubmissionResult | None] = [None] * len(items)
    todo: list[tuple[int, str]] = []
    for k, (path, reason) in enumerate(items):
        if reason is None:
            todo.append((k, str(Path(path))))
        else:
            results[k] = SubmissionResult(path, "unusable", reason)
    root: Path | None = None
    if todo:
        try:
            root = find_root()
        except GradingError as e:
            for k, path in todo:
                results[k] = SubmissionResult(path, "unusable", f"cannot grade: {e}")
            todo = []
    live = _Live()
    executor = ThreadPoolExecutor(max_workers=max(1, min(jobs or default_jobs(), len(todo) or 1)), thread_name_prefix="grade")

    def one(path: str) -> SubmissionResult:
        start = time.monotonic()
        try:
            return grade_submission(path, root, limits, limit, on_process=live.track())  # type: ignore[arg-type]
        except Exception as e:  # a bug of ours: still one row, still the next submission
            return SubmissionResult(path, "unusable", f"the grader failed on this notebook ({type(e).__name__}: {str(e)[:150]})",
                                    seconds=round(time.monotonic() - start, 2))

    try:
        futures = {k: executor.submit(one, path) for k, path in todo}
        for k in range(len(items)):
            if results[k] is None:
                results[k] = futures[k].result()
            on_result(k, results[k])  # type: ignore[arg-type]
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        live.close()  # on Ctrl-C too: no learner process outlives the grader
        executor.shutdown(wait=True)
    return [r for r in results if r is not None]
