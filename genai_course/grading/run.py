"""Running one submission: every code cell in a fresh Jupyter kernel, each within the cell timeout.

Each cell may run ``timeout`` seconds, then it is interrupted; a kernel that does not answer
within GRACE seconds of the interrupt (code that catches KeyboardInterrupt, ignores SIGINT or is
blocked in C) is killed: that check timed out, the later ones were not run. A kernel that dies
(``os._exit``, a crash) leaves its checks not run. This runs in the calling process; the grader
runs it in worker processes under a hard wall-clock limit (``grading.workers``).
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

from .judge import TIMED_OUT, gradable, verdicts
from .results import ExerciseResult, GradingError, SubmissionResult, one_line

__all__ = ["GRACE", "grade_notebook"]

GRACE = 5.0  # seconds a kernel gets to answer again after a timed-out cell was interrupted
_QUIET = logging.getLogger("genai_course.grading.kernel")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def _answers(client: Any, seconds: float) -> bool:
    """Whether the kernel answers a no-op request within ``seconds`` (after an interrupted cell)."""
    from queue import Empty

    from jupyter_core.utils import ensure_async, run_sync

    async def probe() -> bool:
        kc = client.kc
        msg_id = await ensure_async(kc.execute("", silent=True, store_history=False, stop_on_error=False))
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ensure_async(kc.get_shell_msg(timeout=left))
            except Empty:
                return False
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return True
        return False

    try:
        return bool(run_sync(probe)())
    except Exception:  # the kernel died meanwhile, or its channels closed
        return False


def _run(nb, folder: Path, timeout: int, on_kernel: Callable[[Any], None] | None = None,
         before_cell: Callable[[int, dict[int, dict]], None] | None = None) -> tuple[dict[int, dict], tuple[int, str] | None]:
    """Execute every code cell, continuing after errors: (replies by cell index, where and why it stopped).

    It stops at cell i with (i, "died") when the kernel died there, and with (i, "stuck") when
    cell i ran past ``timeout`` and the kernel did not answer within GRACE seconds of being
    interrupted (code that catches KeyboardInterrupt, ignores SIGINT, or is blocked in C):
    nbclient would interrupt again at every later cell, so the kernel is killed instead.
    """
    from nbclient import NotebookClient

    replies: dict[int, dict] = {}
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMED_OUT, "evalue": "", "traceback": []}, shutdown_kernel="immediate",
        resources={"metadata": {"path": str(folder)}}, log=_QUIET,
        on_cell_executed=lambda cell, cell_index, execute_reply: replies.__setitem__(
            cell_index, (execute_reply or {}).get("content", {})),
    )
    started, stop = False, None
    try:
        # kernel chatter stays off our streams; leaving the block kills the kernel (SIGKILL to its process group)
        with client.setup_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            started = True
            if on_kernel is not None:
                on_kernel(client.km)
            for i, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if before_cell is not None:
                    before_cell(i, replies)
                try:
                    client.execute_cell(cell, i)
                except Exception:  # DeadKernelError, or the kernel became unreachable
                    stop = (i, "died")
                    break
                if replies.get(i, {}).get("ename") == TIMED_OUT and not _answers(client, GRACE):
                    stop = (i, "stuck")
                    break
    except Exception as e:
        if not started:
            raise GradingError(f"could not start a Python kernel ({type(e).__name__}: {one_line(str(e), 150)})") from None
    return replies, stop


def grade_notebook(path: str | Path, timeout: int = 120, *, on_kernel: Callable[[Any], None] | None = None,
                   on_progress: Callable[[int, list[ExerciseResult]], None] | None = None) -> SubmissionResult:
    """Run one submission (.ipynb or py:percent .py) in a fresh kernel, in this process, and judge every check cell.

    Each cell may run ``timeout`` seconds; a cell that will not stop when interrupted has its
    kernel killed (its checks timed out, later ones not run). Never raises for a bad submission:
    it comes back with status "unusable" and a one-line reason. ``main_grade`` runs each
    submission through this in a worker process, under a hard wall-clock limit: ``on_kernel``
    gets the kernel manager once the kernel runs, ``on_progress`` the index of the code cell
    about to run and the verdicts of the checks before it.
    """
    path, start = Path(path), time.monotonic()
    try:
        nb = gradable(path)
        before = None if on_progress is None else (lambda i, replies: on_progress(i, verdicts(nb, replies, timeout, end=i)))
        replies, stop = _run(nb, path.resolve().parent, timeout, on_kernel, before)
    except GradingError as e:
        return SubmissionResult(str(path), "unusable", str(e), seconds=round(time.monotonic() - start, 2))
    return SubmissionResult(str(path), "graded", None, verdicts(nb, replies, timeout, stop), round(time.monotonic() - start, 2))
