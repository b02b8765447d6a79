"""genai_course.threads: one rule for how many PyTorch threads each kind of course process uses."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from genai_course import threads


@pytest.mark.parametrize(
    "cores, expected", [(1, 1), (2, 1), (3, 1), (4, 2), (6, 3), (8, 4), (16, 4), (64, 4)],
)
def test_lessons_and_commands_take_half_the_cores_from_1_to_4(cores, expected):
    assert threads.recommended("lesson", cores, env={}) == expected
    assert threads.recommended("command", cores, env={}) == expected


@pytest.mark.parametrize("role", ["test", "rank"])
@pytest.mark.parametrize("cores", [1, 2, 16])
def test_test_workers_and_torchrun_processes_take_one_thread(role, cores):
    assert threads.recommended(role, cores, env={}) == 1


def test_the_course_variable_overrides_then_pytorchs_own():
    assert threads.recommended("test", 2, env={"GENAI_COURSE_THREADS": "3"}) == 3
    assert threads.recommended("lesson", 16, env={"OMP_NUM_THREADS": "1"}) == 1
    assert threads.recommended("lesson", 16, env={"GENAI_COURSE_THREADS": "2", "OMP_NUM_THREADS": "8"}) == 2
    assert threads.recommended("lesson", 16, env={"GENAI_COURSE_THREADS": " ", "OMP_NUM_THREADS": "6"}) == 6  # blank: unset


@pytest.mark.parametrize(
    "env, message",
    [
        ({"GENAI_COURSE_THREADS": "0"}, "GENAI_COURSE_THREADS must be a whole number of threads, at least 1 (got '0')"),
        ({"GENAI_COURSE_THREADS": "-2"}, "GENAI_COURSE_THREADS must be a whole number of threads, at least 1 (got '-2')"),
        ({"GENAI_COURSE_THREADS": "1.5"}, "GENAI_COURSE_THREADS must be a whole number of threads, at least 1 (got '1.5')"),
        ({"OMP_NUM_THREADS": "all"}, "OMP_NUM_THREADS must be a whole number of threads, at least 1 (got 'all')"),
    ],
)
def test_a_bad_variable_is_named_with_what_it_holds(env, message):
    with pytest.raises(ValueError) as info:
        threads.recommended("lesson", 2, env=env)
    assert str(info.value) == message


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match=r"role must be one of 'lesson', 'command', 'test', 'rank' \(got 'kernel'\)"):
        threads.recommended("kernel")


def test_use_sets_pytorchs_threads_and_shows_nothing(monkeypatch):
    previous = torch.get_num_threads()
    try:
        monkeypatch.setenv(threads.ENV, "2")
        assert threads.use("test") is None and torch.get_num_threads() == 2  # None: a lesson cell ending in it prints nothing
        monkeypatch.setenv(threads.ENV, "1")
        threads.use("lesson")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)


def test_explain_says_where_the_number_comes_from():
    assert threads.explain("lesson", 2, env={}) == (
        "1 PyTorch thread for a lesson on 2 cores (half the cores, 1 to 4; $GENAI_COURSE_THREADS overrides)")
    assert threads.explain("command", 8, env={}) == (
        "4 PyTorch threads for a command on 8 cores (half the cores, 1 to 4; $GENAI_COURSE_THREADS overrides)")
    assert threads.explain("rank", 8, env={}) == "1 PyTorch thread for a rank on 8 cores (one a process; $GENAI_COURSE_THREADS overrides)"
    assert threads.explain("lesson", 2, env={"OMP_NUM_THREADS": "2"}) == "2 PyTorch threads for a lesson on 2 cores, as $OMP_NUM_THREADS says"


def test_usable_cores_are_the_ones_this_process_may_run_on():
    cores = threads.usable_cores()
    assert 1 <= cores <= (os.cpu_count() or cores)
    if hasattr(os, "sched_getaffinity"):
        assert cores == len(os.sched_getaffinity(0))


def test_every_command_runs_on_the_rule_and_a_bad_variable_is_one_line(tmp_path):
    """`genai-course` applies the rule before its command runs (here the test's override: 1) and
    refuses a variable it cannot read with exit code 2 and one line."""
    env = {**os.environ, threads.ENV: "1"}
    probe = "import torch, sys; from genai_course import cli; cli.main(sys.argv[1:]); print(torch.get_num_threads())"
    done = subprocess.run([sys.executable, "-c", probe, "train", "gan-ring8", "--steps", "1", "--out", str(tmp_path / "g.pt"),
                           "--quiet"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "1"
    bad = subprocess.run([sys.executable, "-m", "genai_course", "train", "gan-ring8", "--steps", "1", "--out", str(tmp_path / "b.pt")],
                         env={**os.environ, threads.ENV: "zero"}, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == "genai-course train: error: GENAI_COURSE_THREADS must be a whole number of threads, at least 1 (got 'zero')\n"
