"""genai_course.serve.quota: the token bucket behind 429 and Retry-After, on a clock stepped by hand."""

from __future__ import annotations

import pytest

from genai_course.serve.quota import Quotas, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_lets_a_burst_through_then_refills_at_its_rate():
    clock = Clock()
    bucket = TokenBucket(3, clock)
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(20.0)  # 3 a minute: one token every 20 s
    clock.now += 19.0
    assert bucket.take() == pytest.approx(1.0)
    clock.now += 1.0
    assert bucket.take() == 0.0
    clock.now += 3600  # a long rest refills it to its capacity, no more
    assert [bucket.take() for _ in range(4)][:3] == [0.0] * 3 and bucket.tokens < 1
    with pytest.raises(ValueError):
        TokenBucket(0, clock)


def test_quotas_answer_whole_seconds_per_key():
    clock = Clock()
    quotas = Quotas(clock)
    assert quotas.take("a", 2) == 0 and quotas.take("a", 2) == 0
    wait = quotas.take("a", 2)
    assert isinstance(wait, int) and wait == 30
    assert quotas.take("b", 2) == 0  # another key has its own bucket
    clock.now += 29.5
    assert quotas.take("a", 2) == 1  # half a second left: still a whole second, at least 1
    assert quotas.take("a", 120) == 0  # a changed quota (a key made again) gets a fresh bucket
