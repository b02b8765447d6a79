"""genai_course.serve.batching: the dynamic batcher, driven by asyncio alone (no HTTP, no model)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from genai_course.serve.batching import Batcher, QueueFull


class Recorder:
    """A stand-in model: ``run(jobs)`` records the jobs of each pass and answers each job with itself."""

    def __init__(self, fail_first: int = 0) -> None:
        self.passes: list[list[int]] = []
        self.fail_first = fail_first

    def __call__(self, jobs: list[int]) -> list[int]:
        self.passes.append(list(jobs))
        if len(self.passes) <= self.fail_first:
            raise ValueError("the model broke")
        return [job * 10 for job in jobs]


async def bounded(awaitable):
    """``awaitable``, or a failure if it is never answered (a lost job must fail the test, not hang it)."""
    return await asyncio.wait_for(awaitable, 30)


def drive(jobs: list[int], run, *, together: bool = True, **options):
    """Submit ``jobs`` (each a job of that many samples) to a started Batcher: all at once or one after
    another; (the results or exceptions, the batcher)."""

    async def main():
        with ThreadPoolExecutor(max_workers=1) as pool:
            b = Batcher(run, lambda j: j, pool, **options)
            b.start()
            try:
                if together:
                    got = await bounded(asyncio.gather(*(b.submit(j) for j in jobs), return_exceptions=True))
                else:
                    got = [await bounded(b.submit(j)) for j in jobs]
            finally:
                await b.stop()
            return got, b

    return asyncio.run(main())


def test_jobs_that_arrive_together_share_one_pass():
    run = Recorder()
    got, b = drive([1] * 8, run, max_batch=8, max_wait_ms=1000)
    assert run.passes == [[1] * 8]
    assert b.samples_per_pass == Counter({8: 1}) and b.requests_per_pass == Counter({8: 1})
    assert got == [(10, 8)] * 8  # each job's own result, and the samples of the pass that drew it


def test_max_batch_1_turns_batching_off():
    run = Recorder()
    got, b = drive([1] * 8, run, max_batch=1, max_wait_ms=1000)
    assert run.passes == [[1]] * 8
    assert b.samples_per_pass == Counter({1: 8}) and got == [(10, 1)] * 8


def test_max_batch_counts_samples_not_requests():
    run = Recorder()
    _, b = drive([3, 3, 3, 1, 2], run, max_batch=6, max_wait_ms=1000)
    assert run.passes == [[3, 3], [3, 1, 2]]
    assert b.samples_per_pass == Counter({6: 2}) and b.requests_per_pass == Counter({2: 1, 3: 1})


def test_a_job_alone_goes_after_max_wait_without_company():
    run = Recorder()
    got, b = drive([2], run, max_batch=64, max_wait_ms=5)
    assert got == [(20, 2)] and run.passes == [[2]] and b.samples_per_pass == Counter({2: 1})
    run = Recorder()
    got, b = drive([1, 1, 1], run, together=False, max_batch=64, max_wait_ms=0)
    assert run.passes == [[1], [1], [1]]  # each waited for its answer before the next came: no company


def test_a_job_bigger_than_max_batch_runs_alone():
    run = Recorder()
    got, b = drive([2, 6, 2], run, max_batch=4, max_wait_ms=20)
    assert run.passes == [[2], [6], [2]]
    assert got == [(20, 2), (60, 6), (20, 2)]
    assert b.samples_per_pass == Counter({2: 2, 6: 1})


def test_a_failing_pass_reaches_every_job_of_the_batch_and_the_batcher_goes_on():
    run = Recorder(fail_first=1)

    async def main():
        with ThreadPoolExecutor(max_workers=1) as pool:
            b = Batcher(run, lambda j: j, pool, max_batch=8, max_wait_ms=20)
            b.start()
            failed = await bounded(asyncio.gather(*(b.submit(j) for j in (1, 2, 3)), return_exceptions=True))
            after = await bounded(b.submit(4))
            await b.stop()
            return failed, after

    failed, after = asyncio.run(main())
    assert [type(e) for e in failed] == [ValueError] * 3
    assert all(str(e) == "the model broke" for e in failed)
    assert after == (40, 4) and run.passes == [[1, 2, 3], [4]]


def test_a_full_queue_refuses_at_once():
    started, release = threading.Event(), threading.Event()

    def blocked(jobs):
        started.set()
        release.wait(30)
        return jobs

    async def main():
        with ThreadPoolExecutor(max_workers=1) as pool:
            b = Batcher(blocked, lambda j: j, pool, max_batch=1, max_wait_ms=0, max_queue=1)
            b.start()
            first = asyncio.ensure_future(b.submit(1))
            for _ in range(1000):  # bounded: until the worker has taken the first job into the model
                if started.is_set():
                    break
                await asyncio.sleep(0.005)
            assert started.is_set() and not b.queue
            second = asyncio.ensure_future(b.submit(2))
            await asyncio.sleep(0)
            assert len(b.queue) == 1
            with pytest.raises(QueueFull, match="1 requests are waiting already"):
                await b.submit(3)
            release.set()
            done = await bounded(asyncio.gather(first, second))
            await b.stop()
            return done, b

    try:
        done, b = asyncio.run(main())
    finally:
        release.set()
    assert done == [(1, 1), (2, 2)] and b.samples_per_pass == Counter({1: 1, 2: 1})


def test_a_client_that_gave_up_is_not_sampled_for():
    run = Recorder()

    async def main():
        with ThreadPoolExecutor(max_workers=1) as pool:
            b = Batcher(run, lambda j: j, pool, max_batch=8, max_wait_ms=20)
            gone = asyncio.ensure_future(b.submit(5))
            await asyncio.sleep(0)  # queued before the worker starts
            gone.cancel()
            b.start()
            kept = await bounded(b.submit(1))
            await b.stop()
            return kept

    assert asyncio.run(main()) == (10, 1) and run.passes == [[1]]


@pytest.mark.parametrize("options", [dict(max_batch=0), dict(max_wait_ms=-1), dict(max_queue=0)])
def test_bad_settings_are_refused(options):
    with pytest.raises(ValueError, match="max_batch >= 1, max_wait_ms >= 0 and max_queue >= 1"):
        Batcher(Recorder(), lambda j: j, None, **options)
