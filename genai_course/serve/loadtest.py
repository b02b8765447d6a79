"""A bounded load test: C clients, each sending R requests one after another, to 127.0.0.1 only.

Every client waits for its answer before sending the next request (a *closed loop*), so C is the
number of requests in flight. The test sends exactly C x R requests and stops by itself; a
deadline (``timeout_s``) ends it early if the server stalls, and the requests not answered by
then are counted as such. ``LoadResult`` gives requests a second (throughput) and the median and
95th-percentile latency (the time one client waited for one answer).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LoadResult", "run_load"]


@dataclass
class LoadResult:
    """What a load test measured."""

    clients: int
    requests: int  # sent and answered
    seconds: float  # from the first request to the last answer
    statuses: dict[int, int]
    latencies_ms: list[float] = field(repr=False)
    unanswered: int = 0

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        import numpy as np

        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    @property
    def median_ms(self) -> float:
        return self.percentile(50)

    @property
    def p95_ms(self) -> float:
        return self.percentile(95)


async def _load(url: str, key: str, body: dict[str, Any], clients: int, each: int, timeout_s: float) -> LoadResult:
    import httpx

    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(http: httpx.AsyncClient) -> None:
        for _ in range(each):
            start = time.perf_counter()
            response = await http.post(url + "/v1/generate", json=body, headers=headers)
            latencies.append((time.perf_counter() - start) * 1000)
            statuses[response.status_code] += 1

    async with httpx.AsyncClient(limits=limits, timeout=timeout_s) as http:
        start = time.perf_counter()
        tasks = [asyncio.ensure_future(client(http)) for _ in range(clients)]
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        seconds = time.perf_counter() - start
    answered = sum(statuses.values())
    return LoadResult(clients, answered, seconds, dict(sorted(statuses.items())), latencies, clients * each - answered)


def run_load(url: str, key: str, body: dict[str, Any], *, clients: int, requests_per_client: int,
             timeout_s: float = 60.0) -> LoadResult:
    """Send ``clients`` x ``requests_per_client`` requests of ``body`` to ``url`` (127.0.0.1 only),
    ``clients`` at a time. Runs its own event loop in a thread, so it works inside Jupyter too."""
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError(f"the load test only runs against this machine (127.0.0.1), not {host}")
    if not 1 <= clients <= 256 or not 1 <= requests_per_client <= 10_000:
        raise ValueError(f"clients from 1 to 256 and requests_per_client from 1 to 10000 (got {clients}, {requests_per_client})")
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(asyncio.run(_load(url, key, body, clients, requests_per_client, timeout_s))))
    thread.start()
    thread.join()
    if not out:
        raise RuntimeError("the load test failed: see the message above")
    return out[0]
