"""One submission cannot stop the others: each is graded in a worker process under a hard limit.

Every submission is graded in a worker process (``serve``, started by ``worker_command``) under
a hard wall-clock limit (``--limit``; default: the timeout for each code cell and one more, plus
60 s): past it, the worker and its kernel's whole process group are killed, and the submission
keeps the verdicts it had. ``--jobs`` submissions are graded at once; results keep the input
order. A grader that is stopped (Ctrl-C) or killed leaves no worker or kernel behind.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from .judge import gradable, verdicts
from .results import ExerciseResult, GradingError, SubmissionResult, one_line
from .run import grade_notebook

__all__ = ["default_jobs", "default_limit", "worker_command", "serve", "grade_all"]


def default_jobs() -> int:
    """Submissions graded at once by default: the CPU cores this process may use, at most 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def default_limit(nb, timeout: int) -> float:
    """A submission's hard wall-clock limit: ``timeout`` per code cell, plus one more, plus 60 s to start."""
    return float(timeout * (sum(c.cell_type == "code" for c in nb.cells) + 1) + 60)


def _kill_kernel(kernel: dict[str, Any]) -> None:
    """SIGKILL a kernel (its whole process group where it has one), if it still exists."""
    pid, pgid = kernel.get("pid"), kernel.get("pgid")
    try:
        if pgid and hasattr(os, "killpg"):
            os.killpg(int(pgid), signal.SIGKILL)
        elif pid:
            os.kill(int(pid), signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
    except (OSError, ValueError):  # gone already
        pass


def worker_command() -> list[str]:
    """The command line of a worker process: this Python, importing this copy of genai_course, running ``serve``."""
    package_parent = str(Path(__file__).resolve().parents[2])  # genai_course/grading/workers.py -> the folder of genai_course
    code = f"import sys; sys.path.insert(0, {package_parent!r}); from genai_course.grading import workers; workers.serve()"
    return [sys.executable, "-c", code]


def serve() -> None:
    """A grading worker (``main_grade`` starts it): one task a line on stdin, JSON lines on stdout.

    Task: ``{"path": ..., "timeout": ...}``. Answers: ``{"kernel": {"pid", "pgid"}}`` once the
    kernel runs, ``{"running": i, "exercises": [...]}`` before each code cell (the verdicts so far),
    then ``{"result": {...}}``. ASCII JSON, so no locale can garble a path.
    """
    answers = os.fdopen(os.dup(1), "w", encoding="ascii", buffering=1)
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)  # the kernel and anything that prints write nowhere near the answers
    sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (for the process's life)
    lock = threading.Lock()
    kernel: dict[str, Any] = {}

    def say(message: dict[str, Any]) -> None:
        with lock:
            answers.write(json.dumps(message) + "\n")
            answers.flush()

    parent = os.getppid()

    def orphaned() -> None:  # the grader went away (killed): take the kernel down too
        while True:
            time.sleep(1)
            if os.getppid() != parent:
                _kill_kernel(kernel)
                os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()

    def on_kernel(km: Any) -> None:
        provisioner = getattr(km, "provisioner", None)
        kernel.update(pid=getattr(provisioner, "pid", None), pgid=getattr(provisioner, "pgid", None))
        say({"kernel": dict(kernel)})

    def on_progress(i: int, done: list[ExerciseResult]) -> None:
        say({"running": i, "exercises": [asdict(e) for e in done]})

    for line in iter(sys.stdin.buffer.readline, b""):
        task = json.loads(line)
        try:
            result = grade_notebook(Path(task["path"]), int(task["timeout"]), on_kernel=on_kernel, on_progress=on_progress)
        except Exception as e:  # a bug of ours: still one row, still the next submission
            result = SubmissionResult(task["path"], "unusable", f"the grader failed on this notebook ({type(e).__name__}: {one_line(str(e), 150)})")
        kernel.clear()
        say({"result": asdict(result)})


class _Worker:
    """One worker process, grading one submission at a time."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            worker_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=os.name == "posix",  # a Ctrl-C in the terminal reaches the grader only
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.kernel: dict[str, Any] = {}
        self.killing, self.killed = threading.Lock(), False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in iter(self.proc.stdout.readline, b""):
                try:
                    self.messages.put(json.loads(line))
                except ValueError:
                    continue
        except (OSError, ValueError):  # the pipe was closed under us
            pass
        self.messages.put(None)

    def grade(self, path: str, nb, timeout: int, limit: float) -> tuple[SubmissionResult, bool]:
        """(result, whether this worker can grade another): within ``limit`` seconds, whatever the notebook does."""
        start = time.monotonic()
        running, done, kind = None, [], "lost"
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps({"path": path, "timeout": timeout}) + "\n").encode("ascii"))
            self.proc.stdin.flush()
        except OSError:
            self.messages.put(None)
        while True:
            left = start + limit - time.monotonic()
            try:
                if left <= 0:
                    raise queue.Empty
                message = self.messages.get(timeout=left)
            except queue.Empty:
                kind = "limit"
                break
            if message is None:
                break
            if "kernel" in message:
                self.kernel = message["kernel"]
            elif "running" in message:
                running, done = message["running"], message["exercises"]
            elif "result" in message:
                self.kernel = {}
                return SubmissionResult.from_dict(message["result"]), True
        self.kill()
        seconds = round(time.monotonic() - start, 2)
        if running is None:
            reason = (f"grading stopped at its time limit of {limit:g} s, before the first cell ran (the Python kernel did not start?)"
                      if kind == "limit" else "the grader's worker process ended before the first cell ran")
            return SubmissionResult(path, "unusable", reason, seconds=seconds), False
        exercises = [ExerciseResult(**e) for e in done] + verdicts(nb, {}, timeout, (running, kind), start=running, limit=limit)
        return SubmissionResult(path, "graded", None, exercises, seconds), False

    def kill(self) -> None:
        with self.killing:  # once: the worker's pid may be reused after it was waited for
            if not self.killed:
                self.killed = True
                self._kill()

    def _kill(self) -> None:
        _kill_kernel(self.kernel)
        try:
            if os.name == "posix":
                os.killpg(self.proc.pid, signal.SIGKILL)  # the worker and anything it started in its session
            else:
                self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        self.reader.join(timeout=5)  # it reads to the end of the pipe, which a dead worker closed
        while True:  # a kernel the worker started after its last message was read
            try:
                message = self.messages.get_nowait()
            except queue.Empty:
                break
            if message and "kernel" in message:
                _kill_kernel(message["kernel"])
        self.kernel = {}
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass


class _Pool:
    """Worker processes for up to ``jobs`` submissions at once; a worker that had to be killed is replaced."""

    def __init__(self) -> None:
        self.idle: list[_Worker] = []
        self.busy: set[_Worker] = set()
        self.closed = False
        self.lock = threading.Lock()

    def grade(self, path: str, nb, timeout: int, limit: float | None) -> SubmissionResult:
        with self.lock:
            if self.closed:
                raise RuntimeError("grading was stopped")
            worker = self.idle.pop() if self.idle else _Worker()
            self.busy.add(worker)
        reusable = False
        try:
            result, reusable = worker.grade(path, nb, timeout, limit or default_limit(nb, timeout))
            return result
        finally:
            with self.lock:
                self.busy.discard(worker)
                if reusable and not self.closed:
                    self.idle.append(worker)
                else:
                    reusable = False
            if not reusable:
                worker.kill()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            workers, self.idle = list(self.idle) + list(self.busy), []
        for worker in workers:
            worker.kill()


def grade_all(items: list[tuple[str, str | None]], timeout: int, jobs: int | None, limit: float | None,
              on_result: Callable[[int, SubmissionResult], None]) -> list[SubmissionResult]:
    """Grade (path, reason it is unusable or None) items, ``jobs`` at a time; results in the items' order.

    ``on_result(k, result)`` is called for each item in order, as soon as it and those before it are done.
    """
    results: list[SubmissionResult | None] = [None] * len(items)
    todo: list[tuple[int, str, Any]] = []
    for k, (path, reason) in enumerate(items):
        if reason is None:
            start, path = time.monotonic(), str(Path(path))
            try:
                todo.append((k, path, gradable(Path(path))))  # unusable ones never start a worker
                continue
            except GradingError as e:
                results[k] = SubmissionResult(path, "unusable", str(e), seconds=round(time.monotonic() - start, 2))
        else:
            results[k] = SubmissionResult(path, "unusable", reason)
    pool = _Pool()
    workers = max(1, min(jobs or default_jobs(), len(todo) or 1))
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade")
    try:
        futures = {k: executor.submit(pool.grade, path, nb, timeout, limit) for k, path, nb in todo}
        for k in range(len(items)):  # in order, each as soon as it and those before it are done
            if results[k] is None:
                results[k] = futures[k].result()
            on_result(k, results[k])
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        pool.close()  # on Ctrl-C too: no worker or kernel outlives the grader
        executor.shutdown(wait=True)
    return [r for r in results if r is not None]
