"""Dynamic batching: requests that arrive close together are sampled in one forward pass.

A model's forward pass costs nearly the same for 1 sample as for 64 on a CPU (the time goes in
fixed costs: launching each layer, Python, and for diffusion one pass per denoising step), so
serving 16 waiting requests one at a time does 16 times the fixed work. The ``Batcher`` keeps a
queue per model; its worker takes the first request, then waits at most ``max_wait_ms`` for more,
until the batch holds ``max_batch`` samples, and runs them all at once in the one worker thread
the server samples in (so two forward passes never fight over the cores). What it costs: a
request may wait up to ``max_wait_ms`` for company. ``max_batch=1`` turns batching off.

A full queue (``max_queue`` requests waiting) refuses new ones at once (``QueueFull``, a 503),
rather than letting every request wait longer and longer.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from concurrent.futures import Executor
from typing import Any, Callable, Generic, TypeVar

__all__ = ["Batcher", "QueueFull"]

J = TypeVar("J")


class QueueFull(RuntimeError):
    """The batcher's queue holds ``max_queue`` requests already."""


class Batcher(Generic[J]):
    """Gather jobs of ``size(job)`` samples into batches; ``run(jobs) -> results`` samples them in ``executor``."""

    def __init__(
        self, run: Callable[[list[J]], list[Any]], size: Callable[[J], int], executor: Executor, *,
        max_batch: int = 64, max_wait_ms: float = 10.0, max_queue: int = 256,
    ) -> None:
        if max_batch < 1 or max_wait_ms < 0 or max_queue < 1:
            raise ValueError(f"max_batch >= 1, max_wait_ms >= 0 and max_queue >= 1 (got {max_batch}, {max_wait_ms}, {max_queue})")
        self.run, self.size, self.executor = run, size, executor
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait_ms / 1000.0, max_queue
        self.queue: deque[tuple[J, asyncio.Future[Any]]] = deque()
        self.wake = asyncio.Event()
        self.samples_per_pass: Counter[int] = Counter()  # the histogram: how many passes drew k samples
        self.requests_per_pass: Counter[int] = Counter()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None

    async def submit(self, job: J) -> tuple[Any, int]:
        """(this job's result, the samples in the pass that drew it); ``QueueFull`` if the queue is full."""
        if len(self.queue) >= self.max_queue:
            raise QueueFull(f"{len(self.queue)} requests are waiting already")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queue.append((job, future))
        self.wake.set()
        return await future

    def _gather_ready(self, batch: list[tuple[J, asyncio.Future[Any]]], total: int) -> tuple[int, bool]:
        """Move waiting jobs into ``batch`` while they fit; (samples now, whether the next one does not fit)."""
        while self.queue and total + self.size(self.queue[0][0]) <= self.max_batch:
            job = self.queue.popleft()
            batch.append(job)
            total += self.size(job[0])
        return total, bool(self.queue)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self.queue:
                self.wake.clear()
                await self.wake.wait()
            first = self.queue.popleft()
            batch, total = [first], self.size(first[0])
            deadline = loop.time() + self.max_wait
            while total < self.max_batch:
                total, blocked = self._gather_ready(batch, total)
                left = deadline - loop.time()
                if blocked or total >= self.max_batch or left <= 0:
                    break
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), left)
                except asyncio.TimeoutError:
                    total, _ = self._gather_ready(batch, total)
                    break
            live = [(job, f) for job, f in batch if not f.done()]  # a client that gave up is not sampled for
            if not live:
                continue
            total = sum(self.size(job) for job, _ in live)
            self.samples_per_pass[total] += 1
            self.requests_per_pass[len(live)] += 1
            try:
                results = await loop.run_in_executor(self.executor, self.run, [job for job, _ in live])
            except Exception as e:  # the model failed: every request of the batch hears it
                for _, f in live:
                    if not f.done():
                        f.set_exception(e)
                continue
            for (_, f), result in zip(live, results):
                if not f.done():
                    f.set_result((result, total))
