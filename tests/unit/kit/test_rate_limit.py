"""The token bucket: a burst, then one request per refill interval."""

from __future__ import annotations

from cloudplane.kit.rate_limit import ProcessRateLimiter


def test_a_burst_is_allowed_and_the_next_request_waits_for_a_token() -> None:
    limiter = ProcessRateLimiter(rate_per_s=2, burst=3)
    assert [limiter.take_at("u", 0.0) for _ in range(3)] == [None, None, None]
    assert limiter.take_at("u", 0.0) == 1
    assert limiter.take_at("u", 0.5) is None
    assert limiter.take_at("u", 0.5) == 1


def test_callers_have_separate_buckets() -> None:
    limiter = ProcessRateLimiter(rate_per_s=1, burst=1)
    assert limiter.take_at("a", 0.0) is None
    assert limiter.take_at("a", 0.0) == 1
    assert limiter.take_at("b", 0.0) is None


def test_tokens_do_not_pile_up_beyond_the_burst() -> None:
    limiter = ProcessRateLimiter(rate_per_s=10, burst=2)
    limiter.take_at("u", 0.0)
    allowed = [limiter.take_at("u", 100.0) for _ in range(3)]
    assert allowed == [None, None, 1]


def test_a_zero_rate_disables_limiting() -> None:
    limiter = ProcessRateLimiter(rate_per_s=0, burst=0)
    assert all(limiter.take_at("u", 0.0) is None for _ in range(1000))
