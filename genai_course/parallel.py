"""Data-parallel training with PyTorch's DistributedDataParallel: ``torchrun`` runs any course model.

    torchrun --standalone --nproc_per_node=2 -m genai_course.parallel gan-ring8 --steps 50 --out runs/ddp.pt

Every process builds the same model from the same seed and takes its share of each step's
global batch: process ``rank`` of ``world`` computes micro-batch ``rank`` (or ``rank x
accumulate + m`` when it also accumulates), drawn from that micro-batch's own random stream
(``loop.Plan``). DDP all-reduces the gradients, so after every step each process holds the
mean gradient over the whole global batch and takes the same optimizer step: the processes
agree exactly, and they agree with one process that accumulates the same micro-batches
(``genai-course train MODEL --accumulate world``), up to the order of floating-point sums.

Backends: gloo on the CPU (any laptop, and CI), NCCL on CUDA GPUs (one GPU a process, from
``LOCAL_RANK``). Nothing here runs at import.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Sequence

import torch
import torch.distributed as dist
from torch import nn

from .loop import Plan
from .utils import get_device

__all__ = ["init", "ddp_plan", "flat_parameters", "ranks_agree", "main"]


def init(device: str | None = None) -> tuple[int, int, torch.device]:
    """Join the process group torchrun set up: returns (rank, world, device).

    ``device``: None (the CPU) or "auto", "cuda", ...; on CUDA each process takes GPU ``LOCAL_RANK``.
    """
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(
            f"not started by torchrun ({', '.join(missing)} unset): run "
            "'torchrun --standalone --nproc_per_node=2 -m genai_course.parallel MODEL ...'"
        )
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    where = get_device(device)
    if where.type == "cuda":
        where = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(where)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if where.type == "cuda" else "gloo")
    return rank, world, where


def ddp_plan(rank: int, world: int, device: torch.device, accumulate: int = 1, precision: str = "fp32") -> Plan:
    """A ``Plan`` for process ``rank`` of ``world`` whose networks are wrapped in DistributedDataParallel."""

    def wrap(module: nn.Module) -> nn.Module:
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(module, device_ids=ids)

    return Plan(accumulate=accumulate, world=world, rank=rank, wrap=wrap, precision=precision)


def _nets(model: Any) -> list[nn.Module]:
    return [getattr(model, a) for a in ("G", "D", "vae", "ddpm", "ema", "model") if isinstance(getattr(model, a, None), nn.Module)]


def flat_parameters(model: Any, buffers: bool = False) -> torch.Tensor:
    """Every network's parameters of a course model (and its floating-point buffers, such as batch
    norm's running statistics, if ``buffers``) as one float64 vector on the CPU."""
    tensors = [t for net in _nets(model) for t in (net.buffers() if buffers else net.parameters()) if t.is_floating_point()]
    if not tensors:
        return torch.zeros(0, dtype=torch.float64)
    return torch.cat([t.detach().reshape(-1).to("cpu", torch.float64) for t in tensors])


def broadcast_buffers(model: Any) -> None:
    """Give every process rank 0's buffers (batch norm's running statistics: each process updates
    them from its own micro-batches, they are not parameters, and gradients never touch them)."""
    for net in _nets(model):
        for b in net.buffers():
            dist.broadcast(b, src=0)


def ranks_agree(model: Any) -> tuple[float, float]:
    """The largest difference between any process's parameters and rank 0's, and the same for
    the buffers (a collective: every rank calls it)."""
    gaps = []
    for buffers in (False, True):
        mine = flat_parameters(model, buffers).to(model.device)  # NCCL gathers GPU tensors, gloo CPU ones
        gathered = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, mine)
        gaps.append(max((float((g - gathered[0]).abs().max()) for g in gathered if g.numel()), default=0.0))
    return gaps[0], gaps[1]


def _parser() -> argparse.ArgumentParser:
    from . import models

    p = argparse.ArgumentParser(
        prog="torchrun --standalone --nproc_per_node=N -m genai_course.parallel",
        description="Train a course model with DistributedDataParallel (one process per CPU share or GPU).",
    )
    p.add_argument("model", choices=list(models.MODELS), metavar="MODEL", help=f"one of: {', '.join(models.MODELS)}")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: the lesson's)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--accumulate", type=int, default=1, help="micro-batches each process accumulates per step (default 1)")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: mixed precision (autocast)")
    p.add_argument("--device", default=None, help="cpu (default), auto or cuda: one GPU a process")
    p.add_argument("--out", default=None, help="checkpoint written by rank 0 (default runs/MODEL-seedS-ddpN.pt)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Train as one process of a torchrun job; rank 0 writes the checkpoint. Ends with a barrier,
    the process group destroyed and ``os._exit``, so no rank aborts at exit."""
    from . import models, threads

    args = _parser().parse_args(argv)
    threads.use("rank")  # one thread a process (torchrun's OMP_NUM_THREADS=1, unless overridden)
    rank, world, device = init(args.device)
    code = 0
    try:
        model = models.build(args.model, seed=args.seed, device=device)
        plan = ddp_plan(rank, world, device, args.accumulate, args.precision)
        try:
            model.fit(steps=args.steps, progress=not args.quiet and rank == 0, plan=plan)
        except ValueError as e:  # e.g. a batch that does not cut into world x accumulate shares
            if rank == 0:
                print(f"genai-course parallel: error: {e}", file=sys.stderr)
            code = 2
        if code == 0:
            broadcast_buffers(model)
            gap, buffer_gap = ranks_agree(model)
            if rank == 0:
                out = args.out or f"runs/{args.model}-seed{args.seed}-ddp{world}.pt"
                os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
                model.save(out)
                per = plan.micro_batch(model.recipe.train.batch_size)
                print(
                    f"trained {args.model} on {world} processes ({dist.get_backend()}, {device.type}; {per} examples each "
                    f"x {args.accumulate} micro-batch(es) a step, {model.step} steps, {model.history.seconds:.1f} s); "
                    f"parameters of the {world} ranks: max |difference| {gap:.3g} (buffers {buffer_gap:.3g}); checkpoint written to {out}",
                    flush=True,
                )
                code = 0 if gap == 0 and buffer_gap == 0 else 1
    finally:
        dist.barrier()
        dist.destroy_process_group()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
