"""The server as a real process: it starts, stops, never outlives its starter, and batches under load.

``serve.ServerProcess`` runs ``genai-course serve`` as a child on a free port of 127.0.0.1. Here:
it starts and stops (ended by its SIGTERM, the port free again); a starter killed with SIGKILL leaves no
server behind (the server exits when its standard input closes); a bad checkpoint stops the start
with the server's own one-line error; and ``serve.run_load`` against a tiny cvae-digits server
gets every request answered, with batching on (some forward pass drew several requests' samples)
and off (every pass drew one). The assertions are on counts, never on times; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from genai_course import cli
from genai_course import serve

ROOT = Path(__file__).resolve().parents[1]
GONE_TIMEOUT = 30  # s for an orphaned server to notice its stdin closed and exit
START_TIMEOUT = 90  # s for a starter process to print its server's pid


@pytest.fixture(scope="module")
def digits_checkpoint(tmp_path_factory) -> Path:
    """A tiny cvae-digits checkpoint (20 training steps) with its sidecar."""
    path = tmp_path_factory.mktemp("serve-ckpt") / "cvae.pt"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "cvae-digits", "--steps", "20", "--out", str(path), "--quiet"]) == 0
    return path


@pytest.fixture
def keys(tmp_path) -> tuple[Path, str]:
    """A key file with one key: the digits model, 8 samples a request, admin (for /v1/stats), a quota the tests never reach."""
    path = tmp_path / "keys.json"
    return path, serve.add_key(path, "tester", "model:cvae-digits max:8 admin", quota="1000/min")


def _port_is_free(port: int) -> bool:
    """Nothing listens on 127.0.0.1:port (SO_REUSEADDR: connections closing in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (an exited child its new parent has not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_server_process_starts_and_stops(digits_checkpoint, keys):
    path, key = keys
    server = serve.ServerProcess([digits_checkpoint], path)
    with server:
        assert server.running and server.url == f"http://127.0.0.1:{server.port}"
        assert httpx.get(server.url + "/health", timeout=10).json() == {"status": "ok"}
        models = httpx.get(server.url + "/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
        assert [m["name"] for m in models["models"]] == ["cvae-digits"]
        assert not _port_is_free(server.port)
        pid = server.process.pid
        # uvicorn shuts down cleanly on the SIGTERM that stop() sends, then raises it again on
        # itself: the exit code says "ended by SIGTERM", not by the SIGKILL kept for a server that lingers.
        assert server.stop() == -signal.SIGTERM, server.output()
        assert not server.running and server.process is None
        assert not _alive(pid)
        assert _port_is_free(server.port)
        assert server.stop() is None  # stopping twice is harmless
    assert "serving cvae.pt on http://127.0.0.1:" in server.output()


def test_a_killed_starter_leaves_no_server(digits_checkpoint, keys, tmp_path):
    """The starter (a Python process holding a ServerProcess) dies by SIGKILL: no atexit, no stop().
    The server's stdin closes with it, and the server stops itself."""
    path, _ = keys
    script = textwrap.dedent(f"""
        import time
        from genai_course import serve
        server = serve.ServerProcess([{str(digits_checkpoint)!r}], {str(path)!r}).start()
        print(server.process.pid, server.port, flush=True)
        time.sleep(600)
    """)
    starter = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    pid = None
    try:
        ready, _, _ = select.select([starter.stdout], [], [], START_TIMEOUT)
        assert ready, f"the starter printed nothing in {START_TIMEOUT} s"
        line = starter.stdout.readline().decode()
        assert line.strip(), f"the starter ended without a server:\n{starter.stderr.read().decode()[-3000:]}"
        pid, port = (int(word) for word in line.split())
        assert _alive(pid)
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
        starter.send_signal(signal.SIGKILL)
        assert starter.wait(timeout=10) == -signal.SIGKILL
        deadline = time.monotonic() + GONE_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), f"the server (pid {pid}) still runs {GONE_TIMEOUT} s after its starter was killed"
        assert _port_is_free(port)
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait(timeout=10)
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)  # the server this test started, left behind: the test has failed already
        starter.stdout.close()
        starter.stderr.close()


def test_a_bad_checkpoint_stops_the_start_with_the_servers_error(tmp_path, keys):
    path, _ = keys
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    server = serve.ServerProcess([bad], path)
    with pytest.raises(serve.ServerError) as caught:
        server.start()
    message = str(caught.value)
    assert message.startswith("the server exited with code 2:")
    assert (f"genai-course serve: error: {bad} is not a readable course checkpoint "
            "(a text file, not a torch.save file: it starts 'not a checkpoint')") in message.splitlines()
    assert not server.running


def _stats(server: serve.ServerProcess, key: str) -> dict:
    response = httpx.get(server.url + "/v1/stats", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


CLIENTS, EACH = 8, 2
BODY = {"model": "cvae-digits", "n": 1, "label": 3, "format": "png"}


def test_load_with_batching_on_draws_several_requests_in_one_pass(digits_checkpoint, keys):
    # A wait of 500 ms: the 8 clients start together, so the first request's pass waits for the others.
    path, key = keys
    with serve.ServerProcess([digits_checkpoint], path, options=["--max-batch", "64", "--max-wait-ms", "500"]) as server:
        result = serve.run_load(server.url, key, BODY, clients=CLIENTS, requests_per_client=EACH)
        stats = _stats(server, key)
    assert result.statuses == {200: CLIENTS * EACH} and result.unanswered == 0 and result.requests == CLIENTS * EACH
    assert len(result.latencies_ms) == CLIENTS * EACH
    assert stats["requests"] == CLIENTS * EACH and stats["max_batch"] == 64
    samples = {int(k): v for k, v in stats["samples_per_pass"]["cvae-digits"].items()}
    requests = {int(k): v for k, v in stats["requests_per_pass"]["cvae-digits"].items()}
    assert sum(k * v for k, v in samples.items()) == CLIENTS * EACH  # every sample drawn once
    assert sum(k * v for k, v in requests.items()) == CLIENTS * EACH
    assert max(samples) > 1, f"no forward pass drew more than one sample: {samples}"
    assert sum(samples.values()) < CLIENTS * EACH  # fewer passes than requests


def test_load_with_batching_off_draws_one_sample_a_pass(digits_checkpoint, keys):
    path, key = keys
    with serve.ServerProcess([digits_checkpoint], path, options=["--max-batch", "1"]) as server:
        result = serve.run_load(server.url, key, BODY, clients=CLIENTS, requests_per_client=EACH)
        stats = _stats(server, key)
    assert result.statuses == {200: CLIENTS * EACH} and result.unanswered == 0
    assert stats["max_batch"] == 1
    assert stats["samples_per_pass"]["cvae-digits"] == {"1": CLIENTS * EACH}
    assert stats["requests_per_pass"]["cvae-digits"] == {"1": CLIENTS * EACH}


@pytest.mark.parametrize("url", ["http://example.com:8000", "http://10.0.0.1:8000", "http://0.0.0.0:8000"])
def test_run_load_refuses_a_server_elsewhere(url):
    host = url.split("//")[1].split(":")[0]
    with pytest.raises(ValueError) as caught:
        serve.run_load(url, "gck_x", BODY, clients=1, requests_per_client=1)
    assert str(caught.value) == f"the load test only runs against this machine (127.0.0.1), not {host}"
