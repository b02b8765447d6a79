"""The widgets work in a real browser: JupyterLab in headless Chromium runs lessons 05 and 07.

For each lesson the test copies the notebook (outputs cleared) into a temporary folder that
a JupyterLab server started here serves, opens it in Chromium through Playwright, runs all
cells from the Run menu, waits for the kernel to finish, then moves a widget control (the
training scrubber of lesson 05; the latent slider and the class picker of lesson 07) and
checks that the widget's picture changed: the pixels of a screenshot of its image before
and after the move differ. It fails on any error output in the executed notebook and on any
error in the browser console (``console.error`` messages and uncaught page errors).

Screenshots (each widget's output area before and after the move) and the executed
notebooks are kept in ``runs/browser/``.

Chromium is Debian's ``/usr/bin/chromium`` (``make test`` installs it when run as root);
Playwright drives it as it is (``playwright install`` is never needed). Without Chromium or
Playwright the test skips, except under CI (the variable ``CI`` set), where it fails.

With the lessons' ``PRETRAINED`` switch and the ``pretrained_dir`` fixture (``genai-course
pretrain``), the copies load checkpoints instead of training: the copy's ``PRETRAINED =
False`` line reads ``PRETRAINED = True`` and the server's environment has
``GENAI_COURSE_PRETRAINED`` pointing at the fixture's folder.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
import pytest

from shared import chromium, require_browser

pytestmark = pytest.mark.notebooks  # (one pytest-xdist worker runs both lessons: conftest.py's work_scope)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "runs" / "browser"
SWITCH_OFF, SWITCH_ON = "PRETRAINED = False", "PRETRAINED = True"

SERVER_START_TIMEOUT = 60  # s until /api/status answers
KERNEL_IDLE_TIMEOUT = 60  # s from opening a notebook to an idle kernel
RUN_ALL_TIMEOUT = 600  # s for one lesson's run-all (a hang guard: about 30 s with pretrained runs on a quiet 2-core machine)
PICTURE_TIMEOUT = 30  # s for the picture to change after a move


# ---------------------------------------------------------------------------------------
# the JupyterLab server
# ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Every live process below pid (Linux /proc), children first: the server's kernels
    run in sessions of their own, so killing the server's process group misses them."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _get(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def _lab_settings(settings_dir: Path) -> None:
    """User settings for a quiet, complete page: every cell in the DOM (no windowing, so the
    test sees every prompt and output), each cell's run time recorded in the saved notebook,
    no news or update checks (the machine is offline)."""
    notebook = settings_dir / "@jupyterlab" / "notebook-extension"
    notebook.mkdir(parents=True)
    (notebook / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none", "recordTiming": True}))
    apputils = settings_dir / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    pretrained: Path | None
    times: dict[str, float] = field(default_factory=dict)

    def address(self, path: str) -> str:
        return f"{self.url}/{path}?token={self.token}"


def _pretrained_dir(request: pytest.FixtureRequest) -> Path | None:
    """conftest's ``pretrained_dir`` (checkpoints from ``genai-course pretrain``), if it exists."""
    try:
        folder = request.getfixturevalue("pretrained_dir")
    except pytest.FixtureLookupError:
        return None
    return Path(folder)


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    """A JupyterLab server on a free port over a temporary root; killed (kernels too) at the end."""
    require_browser()

    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # this run's pictures only
    t0 = time.perf_counter()
    pretrained = _pretrained_dir(request)
    t_pretrained = time.perf_counter() - t0
    base = tmp_path_factory.mktemp("lab")
    root, config = base / "root", base / "config"
    root.mkdir()
    _lab_settings(config / "lab-settings")
    token, port = secrets.token_hex(16), _free_port()
    env = {
        **os.environ,
        "JUPYTER_PLATFORM_DIRS": "1",
        "JUPYTER_CONFIG_DIR": str(config / "jupyter"),  # ignore the user's jupyter settings
        "JUPYTERLAB_SETTINGS_DIR": str(config / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(config / "workspaces"),  # a fresh layout, no restored tabs
        "JUPYTER_RUNTIME_DIR": str(config / "runtime"),
        # The kernels get conftest's GENAI_COURSE_THREADS (one PyTorch thread, genai_course.threads'
        # rule for test processes) with the rest of this environment.
    }
    if pretrained is not None:
        env["GENAI_COURSE_PRETRAINED"] = str(pretrained)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log_path = base / "jupyterlab.log"
    t0 = time.perf_counter()
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                json.loads(_get(f"{url}/api/status?token={token}", timeout=2))
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer in {SERVER_START_TIMEOUT} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        lab = Lab(url, token, root, pretrained)
        if pretrained is not None:
            lab.times["pretrained_dir fixture"] = t_pretrained
        lab.times["JupyterLab start"] = time.perf_counter() - t0
        yield lab
    finally:
        _stop(server, url, token)
        shutil.copy(log_path, _artifacts() / "jupyterlab.log")
    lab.times["total (JupyterLab start to stop)"] = time.perf_counter() - t0
    _print_times(lab)


def _stop(server: subprocess.Popen, url: str, token: str) -> None:
    """Shut the server down (it stops its kernels), then kill whatever is left of it."""
    family = _descendants(server.pid)
    with contextlib.suppress(OSError):
        request = urllib.request.Request(f"{url}/api/shutdown?token={token}", method="POST")
        urllib.request.urlopen(request, timeout=5).close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.pid, signal.SIGKILL)
    for pid in family:
        _kill(pid, signal.SIGKILL)
    server.wait(timeout=10)


def _artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _print_times(lab: Lab) -> None:
    lines = [f"{what}: {seconds:.1f} s" for what, seconds in lab.times.items()]
    mode = f"pretrained from {lab.pretrained}" if lab.pretrained is not None else "fully trained"
    text = f"browser test times ({mode}):\n  " + "\n  ".join(lines) + "\n"
    (_artifacts() / "times.txt").write_text(text)
    print("\n" + text, end="")


# ---------------------------------------------------------------------------------------
# the browser
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(lab):
    with chromium() as launched:
        yield launched


class Console:
    """Errors a page reports: console.error messages and uncaught exceptions."""

    def __init__(self, page):
        self.errors: list[str] = []  # the ones that fail the test
        self.messages: list[str] = []  # everything, for runs/browser/NN_console.txt
        page.on("console", self._console)
        page.on("pageerror", self._pageerror)

    def _console(self, message) -> None:
        where = message.location or {}
        line = f"{message.type}: {message.text} ({where.get('url', '?')}:{where.get('lineNumber', '?')})"
        self.messages.append(line)
        if message.type == "error":
            self.errors.append(line)

    def _pageerror(self, error) -> None:
        line = f"uncaught exception: {error}"
        self.messages.append(line)
        self.errors.append(line)


def _copy_lesson(lab: Lab, name: str) -> bool:
    """notebooks/NAME.ipynb into the server's root, outputs cleared; the PRETRAINED switch on
    when there are checkpoints (the pretrained_dir fixture). True if the copy was switched."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    switched = False
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            lines = cell.source.split("\n")
            if lab.pretrained is not None and SWITCH_OFF in (line.strip() for line in lines):
                cell.source = "\n".join(SWITCH_ON if line.strip() == SWITCH_OFF else line for line in lines)
                switched = True
    nbformat.write(nb, lab.root / name)
    return switched


# State of the open notebook: code cells, how many ran, how many run or wait, the kernel's
# status, and the text of each error output (JupyterLab shows errors as stderr outputs).
_NOTEBOOK_STATE = """() => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell')];
  const prompts = cells.map(c => (c.querySelector('.jp-InputArea-prompt') || {}).textContent || '');
  const indicator = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
  const errors = [...document.querySelectorAll(
      '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent).filter(t => t.includes('Traceback') || /^\\w*Error\\b/m.test(t));
  return {
    cells: cells.length,
    done: prompts.filter(p => /\\[\\d+\\]/.test(p)).length,
    running: prompts.filter(p => p.includes('[*]')).length,
    status: indicator ? indicator.getAttribute('data-status') : null,
    errors: errors,
  };
}"""


_KERNEL_IDLE = """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]
  .some(e => /\\| Idle$/.test(e.textContent.trim()) && !e.textContent.startsWith('No Kernel'))"""


def _run_all(page, lab: Lab, name: str) -> None:
    """Open the lesson, run all cells from the Run menu, wait until every code cell has run."""
    opened = time.monotonic()
    # A workspace of its own: the default one would reopen the previous lesson's tab too.
    page.goto(lab.address(f"lab/workspaces/{Path(name).stem}/tree/{name}"))
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-CodeCell").first.wait_for(timeout=KERNEL_IDLE_TIMEOUT * 1000)
    # The toolbar's indicator says "idle" before any kernel is there; the status bar names
    # the kernel and its state once it is connected: "Python 3 (ipykernel) | Idle".
    page.wait_for_function(_KERNEL_IDLE, timeout=KERNEL_IDLE_TIMEOUT * 1000)
    lab.times[f"{name} open (page and kernel)"] = time.monotonic() - opened
    page.locator("#jp-MainMenu .lm-MenuBar-item", has_text="Run").click()
    page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()
    started = time.monotonic()
    idle_since = None
    while True:
        state = page.evaluate(_NOTEBOOK_STATE)
        if state["errors"]:
            pytest.fail(f"{name}: a cell failed:\n" + "\n\n".join(e[-3000:] for e in state["errors"]))
        finished = state["done"] == state["cells"] and state["running"] == 0
        if finished and state["status"] == "idle":
            break
        if state["status"] in ("dead", "autorestarting", "restarting"):
            pytest.fail(f"{name}: the kernel is {state['status']} after {state['done']} of {state['cells']} cells")
        # Run All stops at a failing cell: idle, nothing queued, cells left unrun
        stalled = state["running"] == 0 and state["status"] == "idle" and state["done"] < state["cells"]
        idle_since = (idle_since or time.monotonic()) if stalled else None
        if idle_since is not None and time.monotonic() - idle_since > 10:
            pytest.fail(f"{name}: the kernel went idle with {state['cells'] - state['done']} of {state['cells']} cells not run")
        if time.monotonic() - started > RUN_ALL_TIMEOUT:
            pytest.fail(f"{name}: run-all did not finish in {RUN_ALL_TIMEOUT} s ({state})")
        time.sleep(0.5)
    lab.times[f"{name} run-all"] = time.monotonic() - started


def _save_and_check(page, lab: Lab, name: str, switched: bool) -> None:
    """Save the executed notebook, keep a copy, and fail on any error output the kernel sent;
    a switched lesson must have loaded its runs (training them here would blow the budget)."""
    path = lab.root / name
    before = path.stat().st_mtime_ns
    page.locator("#jp-MainMenu .lm-MenuBar-item", has_text="File").click()
    page.locator('.lm-Menu-item[data-command="docmanager:save"]').click()
    deadline = time.monotonic() + 30
    while path.stat().st_mtime_ns == before:
        if time.monotonic() > deadline:
            pytest.fail(f"{name}: saving the executed notebook did not write {path}")
        time.sleep(0.2)
    time.sleep(0.5)  # the write may still be going on
    nb = nbformat.read(path, as_version=4)
    shutil.copy(path, _artifacts() / name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    errors = [
        f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
        for i, cell in enumerate(code) for out in cell.outputs if out.output_type == "error"
    ]
    assert not errors, f"{name}: error outputs in the executed notebook:\n" + "\n".join(errors)
    unrun = [i for i, cell in enumerate(code) if cell.execution_count is None]
    assert not unrun, f"{name}: code cells {unrun} did not run"
    slowest = sorted(((_cell_seconds(cell), cell.execution_count) for cell in code), reverse=True)[:3]
    print(f"\n{name}: slowest cells " + ", ".join(f"[{n}] {t:.1f} s" for t, n in slowest))
    if switched:
        text = "".join(out.get("text", "") for cell in code for out in cell.outputs if out.output_type == "stream")
        trained = [line for line in text.splitlines() if "training here instead" in line]
        assert not trained, f"{name}: PRETRAINED = True, yet runs were trained:\n" + "\n".join(trained)
        assert "loaded pretrained" in text, f"{name}: PRETRAINED = True, yet no run says it was loaded"


def _cell_seconds(cell) -> float:
    """A cell's run time from the timing JupyterLab records (recordTiming), 0 if none."""
    from datetime import datetime

    timing = cell.metadata.get("execution", {})
    try:
        start = datetime.fromisoformat(timing["shell.execute_reply.started"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return 0.0
    return (end - start).total_seconds()


# ---------------------------------------------------------------------------------------
# pictures
# ---------------------------------------------------------------------------------------


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _differs(a: bytes, b: bytes) -> float:
    """Fraction of pixels that differ (1.0 when the sizes differ)."""
    pa, pb = _pixels(a), _pixels(b)
    if pa.shape != pb.shape:
        return 1.0
    return float(np.any(pa != pb, axis=-1).mean())


def _widget_output(page, source_text: str):
    """The output area of the code cell whose source contains source_text, with its widget drawn."""
    cell = page.locator(".jp-CodeCell").filter(has=page.locator(".jp-InputArea", has_text=source_text))
    output = cell.locator(".jp-OutputArea-output").filter(has=page.locator(".widget-image"))
    output.wait_for(timeout=30_000)
    output.scroll_into_view_if_needed()
    image = output.locator("img.widget-image").first
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=30_000)
    return output, image


def _move_and_compare(page, lab: Lab, output, image, move, tag: str) -> None:
    """Screenshot, move a control, wait for the picture to change, screenshot again, assert."""
    t0 = time.perf_counter()
    stem = _artifacts() / tag
    output.screenshot(path=f"{stem}_before.png")
    before, src = image.screenshot(), image.get_attribute("src")
    move()
    deadline = time.monotonic() + PICTURE_TIMEOUT
    changed = 0.0
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        after = image.screenshot()
        changed = _differs(before, after)
        if changed > 0:
            break
    output.scroll_into_view_if_needed()
    output.screenshot(path=f"{stem}_after.png")
    print(f"\n{tag}: {changed:.1%} of the picture's pixels changed; screenshots {stem}_before.png, {stem}_after.png")
    lab.times[f"{tag} check"] = time.perf_counter() - t0
    assert changed > 0, f"{tag}: the widget's picture did not change within {PICTURE_TIMEOUT} s of the move"
    assert image.get_attribute("src") != src, f"{tag}: the pixels changed, but the kernel sent no new image"


def _press(page, handle, *keys: str):
    def move():
        handle.focus()
        for key in keys:
            page.keyboard.press(key)
    return move


# ---------------------------------------------------------------------------------------
# the lessons
# ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _lesson(browser, lab: Lab, name: str):
    """The lesson run in a new page: (page, console); then the page closed and its kernel shut down."""
    switched = _copy_lesson(lab, name)
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    console = Console(page)
    try:
        _run_all(page, lab, name)
        _save_and_check(page, lab, name, switched)
        yield page, console
    finally:
        log = _artifacts() / f"{Path(name).stem}_console.txt"
        log.write_text("".join(f"{m}\n" for m in console.messages))
        print(f"{name}: {len(console.messages)} console messages, {len(console.errors)} errors ({log})")
        page.close()
        _shut_down_kernel(lab, name)


def _shut_down_kernel(lab: Lab, name: str) -> None:
    """Delete the notebook's session (its kernel stops), so the next lesson has the CPU to itself."""
    for session in json.loads(_get(lab.address("api/sessions"))):
        if session.get("path") == name:
            request = urllib.request.Request(lab.address(f"api/sessions/{session['id']}"), method="DELETE")
            urllib.request.urlopen(request, timeout=10).close()


def _no_console_errors(console: Console, name: str) -> None:
    assert not console.errors, f"{name}: the browser console reported errors:\n  " + "\n  ".join(console.errors)


def test_lesson_05_training_scrubber(browser, lab):
    name = "05_training_loop.ipynb"
    with _lesson(browser, lab, name) as (page, console):
        output, image = _widget_output(page, "training_scrubber(vanilla_snaps")
        handle = output.locator(".widget-slider .noUi-handle").first
        readout = output.locator(".widget-readout").first
        start = readout.text_content()
        _move_and_compare(page, lab, output, image, _press(page, handle, *["ArrowRight"] * 5), "05_scrubber")
        assert readout.text_content() != start, "the slider's readout did not move"
        _no_console_errors(console, name)


def test_lesson_07_digit_picker(browser, lab):
    name = "07_conditional_gan.ipynb"
    with _lesson(browser, lab, name) as (page, console):
        output, image = _widget_output(page, "digit_picker(model.sampler")
        handle = output.locator(".widget-slider .noUi-handle").first  # z[0]
        _move_and_compare(page, lab, output, image, _press(page, handle, "End"), "07_latent_slider")
        three = output.locator(".widget-toggle-button", has_text="3").first  # the class picker
        _move_and_compare(page, lab, output, image, three.click, "07_class_picker")
        assert "mod-active" in (three.get_attribute("class") or ""), "the class picker did not select 3"
        _no_console_errors(console, name)
