"""Data-parallel training and exact resume, run for real in fresh processes (lesson 12).

* ``torchrun --nproc_per_node=2`` (gloo, CPU) trains a course model for 50 steps; its
  parameters must equal those of one process that accumulates the same two micro-batches
  (``genai-course train MODEL --accumulate 2``), and both ranks must hold the same weights.
  Tolerance: none with one micro-batch a process. Both sides run one thread per process
  (torchrun's default, and OMP_NUM_THREADS=1 for the reference), so every sum is taken in the
  same order and the parameters are bit-identical (with other thread counts they differ in the
  last bits). With 2 processes x 2 micro-batches against 1 process x 4, the four gradients are
  added in another order ((a + b) + (c + d) against ((a + b) + c) + d): there, 1e-5 absolute
  (measured: 6.7e-7 after 50 steps of ddpm-ring8, parameters up to 0.22).
* A training killed with SIGKILL mid-run and restarted with ``--resume`` from its last
  checkpoint ends with exactly the parameters of an uninterrupted run.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genai_course import checkpoints, models, parallel

BIN = Path(sys.executable).parent
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "genai_course", *args], capture_output=True, text=True, env=ONE_THREAD, timeout=300
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _torchrun(*args: str) -> subprocess.CompletedProcess[str]:
    torchrun = BIN / "torchrun"
    assert torchrun.exists(), "torchrun comes with PyTorch; it should sit beside this Python"
    cmd = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "genai_course.parallel", *args, "--quiet"]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}, timeout=300)


def _params(path: Path, buffers: bool = False) -> torch.Tensor:
    return parallel.flat_parameters(models.load_model(str(path)), buffers)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, steps, accumulate",
    [
        ("gan-ring8", 50, 1),  # lesson 05's GAN: R1's double backward through DDP
        ("dcgan-digits", 50, 1),  # batch norm in G, convolutions
        ("ddpm-ring8", 50, 2),  # minimize's loop and an EMA; 2 processes x 2 micro-batches = 4 streams
    ],
)
def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path: Path, model: str, steps: int, accumulate: int) -> None:
    ddp = _torchrun(model, "--steps", str(steps), "--accumulate", str(accumulate), "--out", str(tmp_path / "ddp.pt"))
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    line = ddp.stdout.strip().splitlines()[-1]
    assert f"trained {model} on 2 processes (gloo, cpu" in line
    gaps = re.search(r"max \|difference\| (\S+) \(buffers (\S+)\)", line)
    assert gaps and float(gaps.group(1)) == 0.0 and float(gaps.group(2)) == 0.0, line  # both ranks hold the same model

    _cli("train", model, "--steps", str(steps), "--accumulate", str(2 * accumulate), "--out", str(tmp_path / "one.pt"), "--quiet")
    ddp_params, one_params = _params(tmp_path / "ddp.pt"), _params(tmp_path / "one.pt")
    if accumulate == 1:
        assert torch.equal(ddp_params, one_params)
    else:
        assert (ddp_params - one_params).abs().max() < 1e-5

    # the test can fail: the same global batch drawn as one stream is another run
    _cli("train", model, "--steps", str(steps), "--out", str(tmp_path / "plain.pt"), "--quiet")
    assert not torch.equal(_params(tmp_path / "plain.pt"), _params(tmp_path / "one.pt"))


@pytest.mark.slow
def test_every_course_model_runs_data_parallel(tmp_path: Path) -> None:
    """The runner takes any registry model; here the two kinds the test above does not train."""
    for model in ("cvae-digits", "charlm-names"):
        ddp = _torchrun(model, "--steps", "5", "--out", str(tmp_path / f"{model}.pt"))
        assert ddp.returncode == 0, ddp.stderr[-3000:]
        assert "max |difference| 0 (buffers 0)" in ddp.stdout
        assert models.load_model(str(tmp_path / f"{model}.pt")).step == 5


def test_runner_outside_torchrun_says_how_to_start_it() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    result = subprocess.run([sys.executable, "-m", "genai_course.parallel", "gan-ring8"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    assert "not started by torchrun" in result.stderr and "torchrun --standalone --nproc_per_node=2" in result.stderr


# `genai-course train ...` in a process that SIGKILLs itself KILL_AFTER optimizer steps past its
# KILL_SAVE-th checkpoint: killed mid-way between two checkpoints, at the same step every time
# (a kill from outside, timed by polling the checkpoint, lands wherever the machine's load puts it).
KILLED_RUN = """
import os, signal, sys
from torch.optim.optimizer import register_optimizer_step_post_hook
from genai_course import checkpoints, cli

saves, steps = 0, 0
real_save = checkpoints.save

def counting_save(*args, **kwargs):
    global saves
    path = real_save(*args, **kwargs)
    saves += 1
    return path

def kill_when_due(optimizer, args, kwargs):
    global steps
    if saves >= int(os.environ["KILL_SAVE"]):
        steps += 1
        if steps >= int(os.environ["KILL_AFTER"]):
            os.kill(os.getpid(), signal.SIGKILL)

checkpoints.save = counting_save
register_optimizer_step_post_hook(kill_when_due)
sys.exit(cli.main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, steps, extra",
    [
        ("gan-ring8", 1200, []),
        ("ddpm-ring8", 800, ["--accumulate", "2"]),  # the extra random stream is checkpointed too
    ],
)
def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path: Path, model: str, steps: int, extra: list[str]) -> None:
    _cli("train", model, "--steps", str(steps), *extra, "--out", str(tmp_path / "whole.pt"), "--quiet")

    killed = tmp_path / "killed.pt"
    args = ["train", model, "--steps", str(steps), *extra, "--checkpoint-every", "100", "--out", str(killed), "--quiet"]
    # killed 50 optimizer steps after the checkpoint of step 300 (the GAN's two optimizers: 25 steps; the DDPM's: 50)
    env = {**ONE_THREAD, "KILL_SAVE": "3", "KILL_AFTER": "50"}
    run = subprocess.run([sys.executable, "-c", KILLED_RUN, *args], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == -signal.SIGKILL, run.stderr[-2000:]
    assert checkpoints.load(killed)["step"] == 300  # the last checkpoint before the kill

    resumed = _cli(*args, "--resume")
    assert f"resuming {model} from step 300" in resumed.stdout
    assert models.load_model(str(killed)).step == steps
    assert torch.equal(_params(killed), _params(tmp_path / "whole.pt"))
    assert torch.equal(_params(killed, buffers=True), _params(tmp_path / "whole.pt", buffers=True))


@pytest.mark.parametrize(
    "args, message",
    [
        (["charlm-names", "--resume"], "charlm-names trains in one go"),
        (["gan-ring8", "--accumulate", "3"], "batch_size 256 cannot be cut into 1 process(es) x 3 micro-batch(es): it must be a multiple of 3"),
        (["gan-ring8", "--device", "tpu"], "device must be None, 'cpu', 'auto'"),
    ],
)
def test_train_options_refused_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = _cli("train", *args, "--steps", "2", "--out", str(tmp_path / "x.pt"), check=False)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_resume_refuses_another_model_or_plan(tmp_path: Path) -> None:
    out = str(tmp_path / "a.pt")
    _cli("train", "gan-ring8", "--steps", "4", "--out", out, "--quiet")
    other = _cli("train", "gan-grid25", "--steps", "8", "--resume", "--out", out, check=False)
    assert other.returncode == 2 and "holds gan-ring8 seed 0, not gan-grid25 seed 0" in other.stderr
    plan = _cli("train", "gan-ring8", "--steps", "8", "--accumulate", "2", "--resume", "--out", out, check=False)
    assert plan.returncode == 2 and "trained with --accumulate 1, not 2" in plan.stderr
    longer = _cli("train", "gan-ring8", "--steps", "8", "--resume", "--out", out, "--quiet")
    assert "planned for 4 steps" in longer.stderr
