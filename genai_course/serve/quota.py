"""Per-key quotas: a token bucket that holds ``per_minute`` tokens and refills ``per_minute`` a minute.

Each request takes one token. A full bucket lets a burst of ``per_minute`` requests through at
once, then one every ``60 / per_minute`` seconds; an empty one answers 429 with ``Retry-After``,
the whole seconds until the next token. The clock is a parameter so tests (and exercise 15.1)
can step time by hand.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable

__all__ = ["TokenBucket", "Quotas"]


class TokenBucket:
    """``take()`` -> 0.0 if a token was taken, else the seconds until one will be there."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError(f"per_minute must be at least 1 (got {per_minute})")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self.tokens = self.capacity
        self.clock = clock
        self.last = clock()

    def take(self) -> float:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class Quotas:
    """One bucket per key name, remade when the key's quota changes (e.g. a key revoked and made again)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.buckets: dict[str, tuple[int, TokenBucket]] = {}
        self.lock = threading.Lock()

    def take(self, name: str, per_minute: int) -> int:
        """0 if ``name`` may make a request now, else the ``Retry-After`` seconds (a whole number >= 1)."""
        with self.lock:
            held = self.buckets.get(name)
            if held is None or held[0] != per_minute:
                held = (per_minute, TokenBucket(per_minute, self.clock))
                self.buckets[name] = held
            wait = held[1].take()
        return 0 if wait == 0.0 else max(1, math.ceil(wait))
