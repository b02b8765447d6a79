"""Where learner code runs: a process in a folder of its own, in a bubblewrap sandbox where there is one.

``start`` runs ``python -m genai_course.grading.probe`` (the learner's process) with its current
folder set to a fresh temporary folder that holds only that learner's notebook. With bubblewrap
(``bwrap``, Debian's ``bubblewrap`` package) the process sees, read-only, only the system's
programs and libraries, this Python and the ``genai_course`` package (not the course's
``solutions/``, not the class folder, not the instructor's home); it can write only its own
folder and a private ``/tmp``; it has no network, its own process namespace (everything it starts
dies with it) and no view of other processes. Without bubblewrap, ``isolation()`` says in one
line what is not applied; the process still runs in its own folder, session and limits.

Limits in both cases (``Limits``; on POSIX systems): address space (``RLIMIT_AS``), CPU seconds
for the whole run (``RLIMIT_CPU``: every check's share, plus the start), the size of a file it
writes, no core files. The probe process interrupts each check itself (CPU and wall clock,
``grading.probe``); the grader kills the whole process at the submission's hard deadline
(``Learner.wait``).
"""

from __future__ import annotations

import functools
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Limits", "Learner", "bwrap", "isolation", "command", "start"]

PACKAGE = Path(__file__).resolve().parents[1]  # genai_course/
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/alternatives", "/etc/ld.so.cache",
           "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group")


@dataclass(frozen=True)
class Limits:
    """What a learner's process may use: ``cpu`` and ``wall`` seconds for each check, ``memory`` bytes of
    address space, ``file`` bytes in one file it writes."""

    cpu: float = 120.0
    wall: float = 370.0
    memory: int = 8 * 2**30
    file: int = 256 * 2**20


@functools.lru_cache(maxsize=1)
def bwrap() -> str | None:
    """The bubblewrap program, if it is installed and can make a sandbox here (it needs user or root namespaces)."""
    found = shutil.which("bwrap")
    if not found:
        return None
    try:
        trial = subprocess.run([found, "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--", "/bin/true"],
                               capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return found if trial.returncode == 0 else None


def isolation() -> str | None:
    """None where the sandbox applies, else one line that says what is not applied and how to get it."""
    if bwrap() is not None:
        return None
    why = "is not installed" if not shutil.which("bwrap") else "cannot make a sandbox on this machine"
    return (f"learners' code runs without a sandbox: bubblewrap (bwrap) {why}, so it can read your files, write outside "
            "its folder and use the network (verdicts are still computed apart; install it: sudo apt-get install bubblewrap)")


def _python_dirs() -> list[str]:
    """The folders this Python needs: its installation, the virtual environment, the real executable's folder."""
    dirs = {sys.base_prefix, sys.prefix, str(Path(os.path.realpath(sys.executable)).parent)}
    return sorted(d for d in dirs if d and Path(d).is_dir())


def command(folder: Path) -> list[str]:
    """The command line of a learner's process working in ``folder``: bwrap around Python where it can."""
    python = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(PACKAGE.parent)!r}); "
                                    "from genai_course.grading.probe import main; main()"]
    sandbox = bwrap()
    if sandbox is None:
        return python
    args = [sandbox, "--unshare-all", "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
    for path in _SYSTEM:
        if os.path.lexists(path):
            args += ["--ro-bind", path, path] if not os.path.islink(path) else ["--symlink", os.readlink(path), path]
    for path in _python_dirs() + [str(PACKAGE)]:
        args += ["--ro-bind", path, path]
    args += ["--bind", str(folder), str(folder), "--chdir", str(folder), "--"]
    return args + python


def _environment(folder: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "GENAI_COURSE_GRADING_DEBUG")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(HOME=str(folder), TMPDIR="/tmp" if bwrap() else str(folder), MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLCONFIGDIR=str(folder / ".matplotlib"))
    return env


class Learner:
    """A learner's process (``start``): what it says on its stdout, one line at a time (read by a thread,
    so waiting works alike on every platform), what it is told on its stdin, and its end."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while True:
                line = self.proc.stdout.readline(101)
                if not line.endswith(b"\n"):  # the end, or longer than the probe process ever says
                    break
                self.lines.put(line.decode("ascii", "replace").strip())
        except (OSError, ValueError):
            pass
        self.lines.put(None)

    def said(self, deadline: float) -> str | None:
        """The next line it says before ``deadline`` (time.monotonic()); None when it ended or at the deadline."""
        try:
            return self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None

    def answer(self, text: str) -> None:
        """Say ``text`` on its stdin (that its observations were taken)."""
        try:
            self.proc.stdin.write(f"{text}\n".encode("ascii"))  # type: ignore[union-attr]
            self.proc.stdin.flush()  # type: ignore[union-attr]
        except (OSError, ValueError):
            pass

    def wait(self, deadline: float) -> int | None:
        """Wait for it until ``deadline``; past it, kill it and everything it started (its session; with bwrap,
        its process namespace). Its exit code, or None if it was killed at the deadline."""
        try:
            return self.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """SIGKILL it and its session (whatever it left there too), and reap it."""
        if hasattr(os, "killpg"):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass


def start(folder: Path, task: dict[str, Any], limits: Limits, checks: int) -> Learner:
    """Start the learner's process in ``folder`` on ``task`` (``grading.probe``), within ``limits`` for ``checks`` checks.
    Its stdin and stdout stay open: it says on stdout which check's observations it wrote, and waits for the answer."""
    cpu_total = int(limits.cpu * max(1, checks) + 60)

    def limit() -> None:  # in the child, before exec: bwrap and everything under it inherit these
        import resource

        for which, value in ((resource.RLIMIT_AS, limits.memory), (resource.RLIMIT_CPU, cpu_total),
                             (resource.RLIMIT_FSIZE, limits.file), (resource.RLIMIT_CORE, 0)):
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):
                pass

    posix = os.name == "posix"
    proc = subprocess.Popen(command(folder), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None if os.environ.get(
        "GENAI_COURSE_GRADING_DEBUG") else subprocess.DEVNULL, cwd=folder, env=_environment(folder), start_new_session=posix,
        preexec_fn=limit if posix else None)
    try:
        proc.stdin.write((json.dumps(task) + "\n").encode("utf-8"))  # type: ignore[union-attr]
        proc.stdin.flush()  # type: ignore[union-attr]
    except OSError:  # it died at once
        pass
    return Learner(proc)
