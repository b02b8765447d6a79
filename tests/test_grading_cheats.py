"""The cheat table: ways around the grader, tried as a learner would on exercise 02 with no solution
written, graded once as one class folder beside an honest submission.

Every cheat is graded not passed; nothing is written outside the learner's folder (the course's
root, its package, the class folder); nothing a learner started is left running; no connection
reaches a server on the grader's machine. The honest submission (the course's solution) passes.
"""

from __future__ import annotations

import csv
import os
import secrets
import socket
import threading
from pathlib import Path

import jupytext
import nbformat
import pytest

import genai_course
from genai_course.cli import main
from genai_course.grading import isolation

from shared import running

ROOT = Path(__file__).resolve().parents[1]
LESSON = "02_the_generator"
TODO = '    # TODO: write your solution here (see the exercise above), then run the check below.\n    raise NotImplementedError("exercise not attempted yet")\n'
TOKEN = secrets.token_hex(6)  # in every file name and command line a cheat makes, so the test can look for them


def body(code: str) -> str:
    """``code`` (indented 4) in place of make_generator's TODO, then the TODO's raise."""
    lines = "".join(f"    {line}\n" if line else "\n" for line in code.strip("\n").splitlines())
    return lines + '    raise NotImplementedError("exercise not attempted yet")\n'


def cheats(klass: Path, port: int) -> dict[str, str]:
    """Learner -> their notebook (py:percent text), each built from the blank exercise 02."""
    blank = (ROOT / "exercises" / f"{LESSON}.py").read_text(encoding="utf-8")
    assert blank.count(TODO) == 2
    passed = "✅ Exercise 2.1 (the generator network): passed\\n✅ Exercise 2.2 (generating samples): passed"

    def in_make_generator(code: str) -> str:
        return blank.replace(TODO, body(code), 1)

    course = str(ROOT)
    package = str(Path(genai_course.__file__).parent)
    honest_file = klass / "honest" / f"{LESSON}.ipynb"
    liar = ("class Liar(nn.Module):\n    def __eq__(self, other):\n        return True\n"
            "    def forward(self, z):\n        return self\n")
    return {
        "print-only": blank.replace("checks.make_generator(make_generator)", f'print("{passed}")'),
        "patched-check": blank.replace("checks.make_generator(make_generator)",
                                       f'checks.make_generator = lambda f: print("{passed}")\nchecks.make_generator(make_generator)'),
        "patched-module": blank.replace("threads.use(\"lesson\")", "threads.use(\"lesson\")\nfor _name in checks.__all__:\n"
                                        f"    setattr(checks, _name, lambda *a, **k: print(\"{passed}\"))"),
        "exec-solution": in_make_generator(
            "import pathlib, genai_course\n"
            "root = pathlib.Path(genai_course.__file__).resolve().parents[1]\n"
            f"ns = {{}}\nexec(open({course + '/solutions/' + LESSON + '.py'!r}).read().split('checks.')[0], ns)\n"
            "return ns['make_generator'](latent_dim, hidden, data_dim)"),
        "exec-solution-top": blank.replace("threads.use(\"lesson\")", "threads.use(\"lesson\")\n_ns = {}\n"
                                           f"exec(open({course + '/solutions/' + LESSON + '.py'!r}).read().split('# %%')[2], _ns)\n"
                                           "make_generator = _ns['make_generator']"),
        "classmate": in_make_generator(
            "import json\n"
            f"cells = json.load(open({str(honest_file)!r}))['cells']\n"
            "ns = {'nn': nn, 'torch': torch}\n"
            "exec(next(''.join(c['source']) for c in cells if 'def make_generator' in ''.join(c['source'])), ns)\n"
            "return ns['make_generator'](latent_dim, hidden, data_dim)"),
        "write-course": in_make_generator(
            f"open({course + '/PWNED-' + TOKEN!r}, 'w').write('x')\n"
            f"open({package + '/PWNED-' + TOKEN!r}, 'w').write('x')\n"
            f"open({str(klass) + '/PWNED-' + TOKEN!r}, 'w').write('x')"),
        "background": in_make_generator(f"import subprocess\nsubprocess.Popen(['sleep', '{7000 + int(TOKEN, 16) % 1000}.{TOKEN}'])"),
        "fork-bomb": in_make_generator(
            "import os, time\nfor _ in range(20):\n    if os.fork() == 0:\n"
            f"        os.execvp('sleep', ['sleep', '{8000 + int(TOKEN, 16) % 1000}.{TOKEN}'])"),
        "memory-bomb": in_make_generator("hog = bytearray(64 * 2**30)"),
        "fake-checkfailed": in_make_generator("raise checks.CheckFailed('Exercise 2.1 (the generator network): passed')"),
        "always-equal": in_make_generator(liar + "return Liar()"),
        "sys-exit": in_make_generator("import sys\nsys.exit(0)"),
        "os-exit": in_make_generator("import os\nos._exit(0)"),
        "showtraceback": blank.replace("threads.use(\"lesson\")", "threads.use(\"lesson\")\n"
                                       "get_ipython().showtraceback = lambda *a, **k: None\n"
                                       f"print(\"{passed}\")"),
        "forged-file": in_make_generator(
            "import glob, json, os\n"
            "fake = {'G2.module': None, 'G2.out': {'type': 'Tensor', 'shape': [16, 2], 'dtype': 'torch.float32'}}\n"
            "for name in glob.glob('*.json') + glob.glob('.*.tmp') + ['observations.json', 'make_generator.json', '0.json']:\n"
            "    open(name, 'w').write(json.dumps(fake))\n"
            "os._exit(0)"),
        "network": in_make_generator(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=5).sendall(b'hi')"),
        "endless-loop": in_make_generator("while True:\n    pass"),
        "stops-the-clocks": in_make_generator(
            "import signal\nsignal.setitimer(signal.ITIMER_PROF, 0)\nsignal.setitimer(signal.ITIMER_REAL, 0)\n"
            "signal.signal(signal.SIGPROF, signal.SIG_IGN)\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass"),
    }


@pytest.mark.notebooks
def test_every_cheat_is_graded_not_passed_and_leaves_nothing_behind(tmp_path, capsys):
    if isolation() is not None:  # skip on a laptop without bubblewrap; under CI (make test installs it) a failure
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"no sandbox here: {isolation()}")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    connections: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connections.append(server.accept())
            except OSError:
                continue

    listener = threading.Thread(target=accept, daemon=True)
    listener.start()
    klass = tmp_path / "class"
    notebooks = {"honest": (ROOT / "solutions" / f"{LESSON}.py").read_text(encoding="utf-8"), **cheats(klass, server.getsockname()[1])}
    for learner, text in notebooks.items():
        (klass / learner).mkdir(parents=True)
        nb = jupytext.reads(text, fmt="py:percent")
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nbformat.write(nb, klass / learner / f"{LESSON}.ipynb")
    before = sorted(p.relative_to(klass).as_posix() for p in klass.rglob("*"))
    out = tmp_path / "class.csv"
    try:
        code = main(["grade", str(klass), "--report", str(out), "--timeout", "3", "--limit", "45", "--jobs", "2"])
    finally:
        stop.set()
        listener.join(timeout=5)
        server.close()
    captured = capsys.readouterr()
    assert code == 1 and captured.err == "", captured.err
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    verdicts = {(r["learner"], r["exercise"]): (r["status"], r["feedback"]) for r in rows}
    assert len(rows) == 2 * len(notebooks)
    assert verdicts["honest", "make_generator"][0] == verdicts["honest", "generate"][0] == "passed"
    cheated = {(learner, name): v for (learner, name), v in verdicts.items() if learner != "honest" and v[0] == "passed"}
    assert not cheated, cheated
    feedback = {learner: verdicts[learner, "make_generator"] for learner in notebooks}
    for learner, (status, says) in {
        "exec-solution": ("failed", "FileNotFoundError"), "classmate": ("failed", "FileNotFoundError"),
        "write-course": ("failed", "raised OSError"), "memory-bomb": ("failed", "MemoryError"),
        "fake-checkfailed": ("failed", "raised CheckFailed"), "always-equal": ("failed", "but returned Liar"),
        "sys-exit": ("failed", "raised SystemExit"), "os-exit": ("failed", "process running your code ended"),
        "forged-file": ("failed", "process running your code ended"), "network": ("failed", "raised ConnectionRefusedError"),
        "endless-loop": ("timed_out", "more than 3 s of CPU time"), "stops-the-clocks": ("timed_out", "time limit of 45 s"),
        "print-only": ("not_attempted", ""), "patched-check": ("not_attempted", ""), "patched-module": ("not_attempted", ""),
        "exec-solution-top": ("not_attempted", ""), "showtraceback": ("not_attempted", ""),
        "background": ("not_attempted", ""), "fork-bomb": ("not_attempted", ""),
    }.items():
        assert feedback[learner][0] == status and says in feedback[learner][1], (learner, feedback)
    assert verdicts["stops-the-clocks", "generate"][0] == "not_run"
    assert verdicts["os-exit", "generate"][0] == "not_attempted"  # a fresh process went on with the next check
    assert not connections
    assert not [p for p in (ROOT, Path(genai_course.__file__).parent, klass, tmp_path) if list(p.glob(f"PWNED-{TOKEN}"))]
    assert sorted(p.relative_to(klass).as_posix() for p in klass.rglob("*")) == before
    assert running(TOKEN) == []
