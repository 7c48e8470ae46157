"""The token bucket that bounds packet_drop reports under a flood."""

from __future__ import annotations

import pytest

from dhcpd.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_allows_one_seconds_worth_then_refuses() -> None:
    clock = Clock()
    bucket = TokenBucket(5, clock)
    assert [bucket.take() for _ in range(7)] == [True] * 5 + [False] * 2


def test_tokens_come_back_at_the_rate_and_never_beyond_a_full_bucket() -> None:
    clock = Clock()
    bucket = TokenBucket(10, clock)
    while bucket.take():
        pass
    clock.now += 0.25  # 2.5 tokens
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 3600  # idle for an hour: still one second's worth
    assert sum(bucket.take() for _ in range(20)) == 10


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0)
