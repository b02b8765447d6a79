"""The server as a child process: started on a free port of 127.0.0.1, waited for, and always stopped.

The lesson and the tests start ``genai-course serve`` with ``ServerProcess`` (a context manager).
Nothing outlives its starter: the child is told ``--exit-with-stdin`` and stops itself when its
standard input closes, which happens when this process ends in any way, a kernel killed
included; ``stop`` (also called at exit) terminates it, then kills it if it lingers.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

__all__ = ["ServerProcess", "free_port", "ServerError"]


class ServerError(RuntimeError):
    """The server did not start: the message ends with the last lines it printed."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the system's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``genai-course serve CHECKPOINTS --keys KEYS ...`` in a child process on 127.0.0.1.

    ``options``: more command-line options, e.g. ``["--max-batch", "1"]``. ``url`` is where it listens."""

    def __init__(self, checkpoints: Sequence[str | os.PathLike[str]], keys: str | os.PathLike[str], *,
                 options: Sequence[str] = (), env: dict[str, str] | None = None, startup_s: float = 60.0) -> None:
        self.checkpoints, self.keys, self.options = [str(c) for c in checkpoints], str(keys), list(options)
        self.env, self.startup_s = env, startup_s
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        fd, name = tempfile.mkstemp(prefix="genai-course-serve-", suffix=".log")
        os.close(fd)
        self.log, self.printed = Path(name), ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self, lines: int = 20) -> str:
        """The last ``lines`` lines the server printed (kept after ``stop``, which deletes its log file)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else self.printed
        return "\n".join(text.splitlines()[-lines:])

    def start(self) -> "ServerProcess":
        import httpx

        self.port = free_port()
        command = [sys.executable, "-m", "genai_course", "serve", *self.checkpoints, "--keys", self.keys,
                   "--port", str(self.port), "--exit-with-stdin", *self.options]
        env = {**os.environ, **(self.env or {})}
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env)
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise ServerError(f"the server exited with code {code}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise ServerError(f"the server did not answer within {self.startup_s:.0f} s:\n{self.output()}")

    def stop(self) -> int | None:
        """Stop the server (politely, then not); its exit code, None if it was not running."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdin:
            process.stdin.close()
        atexit.unregister(self.stop)
        if self.log.exists():  # what it printed stays readable (output), the file goes
            self.printed = self.log.read_text(errors="replace")
            self.log.unlink()
        return process.returncode

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
