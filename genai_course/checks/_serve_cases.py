"""The inputs of lesson 15's checks (``serving``), rebuilt by probe and judge alike, and 15.2's reference.

15.1: scripts of moments at which a token bucket is asked for a token, on a fake clock. The rates
(15, 30, 60 a minute) and the moments (quarters of a second) are chosen so that every sensible way
of writing the refill gives exactly the same numbers: no answer passes or fails on a rounding.
15.2: arrival patterns (hand-made ones that each show one rule, and random ones), and the
simulation of the server's batcher (``genai_course.serve.batching``) with the slips learners make
switched on one at a time, so that the judge can name the slip. 15.3: a table of requests put to
keys' scopes, the wrong answer each one exposes and what to say about it.
"""

from __future__ import annotations

import math
import random
from collections import deque
from typing import NamedTuple

# --------------------------------------------------------------------------- 15.1

# (per_minute, the clock's reading when the bucket is made, the moments of take(), seconds after that)
_BUCKET_SCRIPTS = (
    (30, 1000.0, [0.0] * 31 + [0.5, 2.0, 2.0, 5.0, 5.0] + [600.0] * 31),
    (60, 3.25, [0.0] * 61 + [0.25, 1.0, 3.5, 3.5, 3.5]),
    (15, 0.5, [0.0] * 16 + [1.0, 3.0, 4.0, 4.0] + [100.0] * 16),
)


# the slips 15.1's judge can name, each a switch of _bucket_run
BUCKET_SLIPS = ("starts_empty", "no_cap", "debt", "lost_refill", "whole_tokens", "per_second", "minutes", "fixed_wait", "ceil")


def _bucket_run(per_minute: int, times: list[float], slip: str | None = None) -> list[float]:
    """What take() returns at each of ``times`` (seconds after the bucket was made): the library's bucket, or one with a slip."""
    rate = per_minute * (1.0 if slip == "per_second" else 1 / 60)
    tokens, last, out = (0.0 if slip == "starts_empty" else float(per_minute)), 0.0, []
    for now in times:
        refilled = tokens + (now - last) * rate
        refilled = refilled if slip == "no_cap" else min(float(per_minute), refilled)
        refilled = float(math.floor(refilled)) if slip == "whole_tokens" else refilled
        last = now
        if refilled >= 1.0:
            tokens = refilled - 1.0
            out.append(0.0)
            continue
        wait = (1.0 - refilled) / rate
        if slip == "debt":
            tokens, wait = refilled - 1.0, (1.0 - (refilled - 1.0)) / rate
        elif slip != "lost_refill":
            tokens = refilled
        wait = 60.0 / per_minute if slip == "fixed_wait" else wait
        out.append(wait / 60 if slip == "minutes" else float(math.ceil(wait)) if slip == "ceil" else wait)
    return out


class _FakeClock:
    """A clock the check moves by hand; counts how often it is read."""

    def __init__(self, start: float) -> None:
        self.now, self.reads = start, 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


# --------------------------------------------------------------------------- 15.2


class _BatchCase(NamedTuple):
    what: str  # how a message names the case
    arrivals: tuple[tuple[float, int], ...]  # (time in s, samples), by time
    max_batch: int
    max_wait: float
    service: float


_HAND_CASES = (
    _BatchCase("a single request", ((0.0, 1),), 8, 0.01, 0.05),
    _BatchCase("a burst that fills a batch", ((0.0, 2), (0.002, 3), (0.004, 3), (0.006, 1)), 8, 0.01, 0.05),
    _BatchCase("a request that does not fit", ((0.0, 5), (0.003, 4), (0.005, 1)), 8, 0.01, 0.05),
    _BatchCase("a request larger than max_batch", ((0.0, 3), (0.002, 20), (0.004, 2)), 8, 0.01, 0.05),
    _BatchCase("requests that queue while the worker is busy", ((0.0, 1), (0.02, 1), (0.03, 1), (0.04, 1), (0.2, 1)), 8, 0.01, 0.05),
    _BatchCase("batching off (max_batch=1)", ((0.0, 1), (0.013, 1), (0.021, 1)), 1, 0.01, 0.05),
    _BatchCase("no waiting (max_wait=0)", ((0.0, 1), (0.0, 1), (0.001, 1)), 8, 0.0, 0.05),
)

# the slips 15.2's judge can name, each a switch of _simulate
SLIPS = ("no_wait", "until_full", "from_arrival", "wait_when_blocked", "start_at_open", "no_service")


def _simulate(case: _BatchCase, slip: str | None = None) -> tuple[list[tuple[float, list[int]]], list[float]]:
    """The server's batcher on ``case`` (or with one of ``SLIPS``): ([(start of the pass, [request indices])],
    the moments a rule turned on: deadlines and the ends of passes)."""
    arrivals, max_batch = case.arrivals, case.max_batch
    queue: deque[int] = deque()
    nxt, now, out, moments = 0, float("-inf"), [], []

    def admit(t: float) -> None:
        nonlocal nxt
        while nxt < len(arrivals) and arrivals[nxt][0] <= t:
            queue.append(nxt)
            nxt += 1

    def gather(batch: list[int], total: int) -> int:
        while queue and (total + arrivals[queue[0]][1] <= max_batch or (slip == "overfill" and total < max_batch)):
            total += arrivals[queue[0]][1]
            batch.append(queue.popleft())
        return total

    while nxt < len(arrivals) or queue:
        if not queue:
            now = max(now, arrivals[nxt][0])
        admit(now)
        first = queue.popleft()
        batch, total, opened = [first], arrivals[first][1], now
        wait = 0.0 if slip == "no_wait" else float("inf") if slip == "until_full" else case.max_wait
        deadline = (arrivals[first][0] if slip == "from_arrival" else opened) + wait
        if deadline != float("inf"):
            moments.append(deadline)
        while total < max_batch:
            admit(now)
            total = gather(batch, total)
            blocked = bool(queue) and slip != "wait_when_blocked"
            if blocked or total >= max_batch or now >= deadline:
                break
            if nxt < len(arrivals) and arrivals[nxt][0] <= deadline:
                now = arrivals[nxt][0]
                continue
            if deadline == float("inf"):
                break  # nobody else is coming: it runs with what it has
            now = deadline
            admit(now)
            total = gather(batch, total)
            break
        out.append((opened if slip == "start_at_open" else now, batch))
        now = now if slip == "no_service" else now + case.service
        moments.append(now)
    return out, moments


def _random_case(k: int) -> _BatchCase | None:
    """Random case k, or None where an arrival falls within a microsecond of a deadline or of a pass's end
    (where a rounding of the learner's sums could decide which side it falls on)."""
    rng = random.Random(1500 + k)
    max_batch = rng.choice((2, 4, 8, 16))
    max_wait, service, gap = rng.choice((0.0, 0.005, 0.02)), rng.choice((0.01, 0.03, 0.08)), rng.choice((0.002, 0.01, 0.05))
    t, arrivals = 0.0, []
    for _ in range(rng.randint(3, 25)):
        t = round(t + rng.expovariate(1 / gap), 6)
        roll = rng.random()
        size = rng.randint(max_batch + 1, 2 * max_batch + 1) if roll < 0.1 else max_batch if roll < 0.25 else rng.randint(1, max(1, max_batch // 2))
        arrivals.append((t, size))
    case = _BatchCase(f"random pattern {k} ({len(arrivals)} requests, max_batch={max_batch}, max_wait={max_wait}, service={service})",
                      tuple(arrivals), max_batch, max_wait, service)
    moments = _simulate(case)[1]
    if any(abs(a - m) < 1e-6 for a, _ in arrivals for m in moments):
        return None
    return case


def _batch_cases() -> tuple[_BatchCase, ...]:
    randoms = [c for c in (_random_case(k) for k in range(40)) if c is not None]
    return _HAND_CASES + tuple(randoms[:30])


# --------------------------------------------------------------------------- 15.3


class _ScopeCase(NamedTuple):
    scopes: str
    model: str
    label: str | None
    n: int
    slip: str  # what a wrong answer here means (a key of SCOPE_SLIPS), "" for no particular slip


_SCOPE_CASES = (
    _ScopeCase("model:cvae-digits", "cvae-digits", None, 1, ""),
    _ScopeCase("model:cvae-digits", "ddpm-grid25", None, 1, ""),
    _ScopeCase("model:* max:8", "ddpm-grid25", None, 8, "max_exclusive"),
    _ScopeCase("model:* max:8", "ddpm-grid25", None, 9, ""),
    _ScopeCase("model:cvae", "cvae-digits", "3", 1, "prefix"),
    _ScopeCase("model:digits", "cvae-digits", "3", 1, "prefix"),
    _ScopeCase("model:cvae-digits model:charlm-names", "charlm-names", "de_DE", 2, ""),
    _ScopeCase("model:cvae-digits", "cvae-digits", None, 17, "default_max"),
    _ScopeCase("model:cvae-digits", "cvae-digits", "7", 16, ""),
    _ScopeCase("model:cvae-digits label:0-4", "cvae-digits", "4", 1, "range_end"),
    _ScopeCase("model:cvae-digits label:0-4", "cvae-digits", "0", 1, ""),
    _ScopeCase("model:cvae-digits label:0-4", "cvae-digits", "5", 1, ""),
    _ScopeCase("model:cvae-digits label:0-4", "cvae-digits", "10", 1, "text_compare"),
    _ScopeCase("model:cvae-digits label:3", "cvae-digits", "13", 1, "substring_label"),
    _ScopeCase("model:cvae-digits label:3 label:7", "cvae-digits", "7", 1, ""),
    _ScopeCase("model:cvae-digits label:*", "cvae-digits", "7", 1, "star"),
    _ScopeCase("model:cvae-digits label:*", "cvae-digits", None, 1, "star"),
    _ScopeCase("model:charlm-names label:de_DE", "charlm-names", "de_DE", 4, ""),
    _ScopeCase("model:charlm-names label:de_DE", "charlm-names", "fr_FR", 4, ""),
    _ScopeCase("model:charlm-names label:0-4", "charlm-names", "de_DE", 1, "not_a_number"),
    _ScopeCase("model:cvae-digits label:3", "cvae-digits", None, 1, "no_label"),
    _ScopeCase("model:cvae-digits label:0-4", "cvae-digits", None, 2, "no_label"),
    _ScopeCase("model:cvae-digits max:4", "ddpm-grid25", None, 10, "order"),
    _ScopeCase("model:cvae-digits label:3 max:4", "cvae-digits", "5", 10, "order"),
    _ScopeCase("admin model:* max:64", "gan-grid25", None, 64, ""),
    _ScopeCase("admin model:* max:64", "gan-grid25", None, 65, ""),
    _ScopeCase("admin", "cvae-digits", None, 1, ""),
)
