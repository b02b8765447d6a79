"""genai_course.roomcheck: each item turns red (or amber) when the room has that problem.

The problems are planted (a missing package, a missing widget front end, more threads than
cores, a busy CPU, a slow machine, a tampered pretrained folder) and the line that names
each one is asserted, with the exit code of `genai-course check`.
"""

from __future__ import annotations

import dataclasses

import pytest

from genai_course import checkpoints, models, pretrained, roomcheck
from genai_course.pretrained import LessonRun
from genai_course.roomcheck import FAIL, OK, WARN, Item


def _by_name(items: list[Item]) -> dict[str, Item]:
    return {i.name: i for i in items}


@pytest.fixture
def quick(monkeypatch):
    """The room check without its smoke training (tested on its own below)."""
    monkeypatch.setattr(roomcheck, "_smoke", lambda seconds, fallback: Item("smoke training", OK, "skipped"))


def test_a_ready_machine_prints_only_ticks_and_exits_0(quick, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(roomcheck, "_threads", lambda: Item("threads", OK, "1 PyTorch threads on 2 cores, load 0.1"))
    assert roomcheck.main(pretrained_folder=tmp_path / "absent") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "room ready" and all(line.startswith("✔ ") for line in out[:-1])
    assert out[-2] == "✔ pretrained runs    none (optional: `genai-course pretrain --all` for slow laptops)"


def test_a_missing_package_or_widget_front_end_is_red_and_the_room_not_ready(quick, tmp_path, capsys, monkeypatch):
    real = roomcheck._version
    monkeypatch.setattr(roomcheck, "_version", lambda m: None if m == "ipywidgets" else real(m))
    monkeypatch.setattr("jupyter_core.paths.jupyter_path", lambda *a: [str(tmp_path)])  # no labextensions anywhere
    assert roomcheck.main(pretrained_folder=tmp_path / "absent") == 1
    out = capsys.readouterr().out.splitlines()
    assert "✘ ipywidgets         missing: pip install ipywidgets" in out
    assert any(line.startswith("✘ widgets front end  missing: pip install jupyterlab_widgets") for line in out)
    assert out[-1] == "room NOT ready: fix the ✘ lines (ipywidgets, widgets front end)"


def test_without_pytorch_the_check_stops_after_saying_how_to_install_it(tmp_path, monkeypatch):
    real = roomcheck._version
    monkeypatch.setattr(roomcheck, "_version", lambda m: None if m == "torch" else real(m))
    items = _by_name(roomcheck.run_checks(pretrained_folder=tmp_path))
    assert items["PyTorch"] == Item("PyTorch", FAIL, "missing: run `make setup` (it installs the CPU build torch==2.13.0)")
    assert "smoke training" not in items


def test_oversubscribed_threads_and_a_busy_cpu_are_amber():
    four = {"GENAI_COURSE_THREADS": "4"}
    item = roomcheck._threads(load=lambda: 0.0, cores=2, env=four)
    assert item == Item("threads", WARN, "4 PyTorch threads for a lesson on 2 cores, as $GENAI_COURSE_THREADS says: more threads "
                        "than cores slows every step; unset it or set GENAI_COURSE_THREADS=1")
    item = roomcheck._threads(load=lambda: 3.7, cores=2, env={})
    assert item.status == WARN and "the load is already 3.7: other programs are using the CPU" in item.detail
    assert roomcheck._threads(load=lambda: 0.2, cores=2, env={}) == Item(
        "threads", OK, "1 PyTorch thread for a lesson on 2 cores (half the cores, 1 to 4; $GENAI_COURSE_THREADS overrides), load 0.2")
    assert roomcheck._threads(load=lambda: 0.2, cores=8, env={"OMP_NUM_THREADS": "2"}) == Item(
        "threads", OK, "2 PyTorch threads for a lesson on 8 cores, as $OMP_NUM_THREADS says, load 0.2")
    bad = roomcheck._threads(load=lambda: 0.2, cores=2, env={"GENAI_COURSE_THREADS": "many"})
    assert bad == Item("threads", FAIL, "GENAI_COURSE_THREADS must be a whole number of threads, at least 1 (got 'many')")


def test_the_smoke_training_estimates_lesson_05_and_judges_it_against_the_budget(monkeypatch):
    item = roomcheck._smoke(0.5, fallback=False)
    assert item.name == "smoke training" and "steps/s: lesson 05's 12,000-step training would take about" in item.detail
    monkeypatch.setattr(roomcheck, "LESSON_BUDGET_S", 1e-3)  # every machine is too slow for this budget
    slow = roomcheck._smoke(0.2, fallback=False)
    assert slow.status == FAIL and slow.detail.endswith("set PRETRAINED = True")
    assert roomcheck._smoke(0.2, fallback=True).status == WARN  # the pretrained runs are there: slow is fine


def test_the_pretrained_folder_is_verified(tiny_recipe, tmp_path):
    run = LessonRun("99_test", "tiny", build=lambda: models.TrainedGAN(dataclasses.replace(tiny_recipe), name="tiny"))
    [path] = pretrained.pretrain([run], tmp_path, progress=False, log=lambda line: None)
    item, complete = roomcheck._pretrained(tmp_path)
    assert item.status == WARN and not complete
    assert item.detail.startswith(f"0 of {len(pretrained.LESSON_RUNS)} lesson runs in {tmp_path}, manifest OK: the others train")
    path.write_bytes(path.read_bytes()[:-10])
    item, complete = roomcheck._pretrained(tmp_path)
    assert item.status == FAIL and "tiny-seed0-40steps.pt" in item.detail and not complete
    (tmp_path / checkpoints.MANIFEST).unlink()
    item, _ = roomcheck._pretrained(tmp_path)
    assert item == Item("pretrained runs", FAIL, f"{tmp_path} has no SHA256SUMS: rerun `genai-course pretrain --all`")
