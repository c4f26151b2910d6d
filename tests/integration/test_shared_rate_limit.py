"""Rate-limit buckets in Redis: one bucket for a caller, whichever API process it reaches."""

from __future__ import annotations

import asyncio
import json

import pytest
from redis.asyncio import Redis
from tests.support.redis_service import REDIS_URL

from cloudplane.kit.logging import configure_logging
from cloudplane.kit.shared_rate_limit import RedisRateLimiter


def _limiter(prefix: str, *, rate_per_s: float, burst: int) -> RedisRateLimiter:
    return RedisRateLimiter(REDIS_URL, rate_per_s=rate_per_s, burst=burst, key_prefix=prefix)


async def test_concurrent_requests_through_two_processes_spend_exactly_one_burst(
    redis_key_prefix: str,
) -> None:
    # Two limiters with connections of their own stand for two API processes.
    first = _limiter(redis_key_prefix, rate_per_s=0.01, burst=20)
    second = _limiter(redis_key_prefix, rate_per_s=0.01, burst=20)
    try:
        answers = await asyncio.gather(
            *(limiter.take("user:a") for limiter in (first, second) * 30)
        )
        other_caller = await first.take("user:b")
    finally:
        await first.close()
        await second.close()

    allowed = [answer for answer in answers if answer is None]
    assert len(allowed) == 20
    assert all(answer is not None and answer >= 1 for answer in answers if answer is not None)
    assert other_caller is None


async def test_a_refused_request_is_told_when_a_token_will_be_there(
    redis_key_prefix: str,
) -> None:
    limiter = _limiter(redis_key_prefix, rate_per_s=0.25, burst=1)
    try:
        assert await limiter.take("user:a") is None
        wait_s = await limiter.take("user:a")
    finally:
        await limiter.close()
    # One token every 4 s; a little of it has grown since the first request.
    assert wait_s == 4


async def test_a_bucket_expires_once_it_would_be_full_again(redis_key_prefix: str) -> None:
    limiter = _limiter(redis_key_prefix, rate_per_s=2, burst=10)
    redis = Redis.from_url(REDIS_URL)
    try:
        for _ in range(4):
            assert await limiter.take("user:a") is None
        ttl_ms = await redis.pttl(f"{redis_key_prefix}rate:user:a")
    finally:
        await limiter.close()
        await redis.aclose()
    # Four tokens spent at two a second: full again in 2 s, plus a second of slack.
    assert 2_000 < ttl_ms <= 3_000


async def test_an_unreachable_store_lets_requests_through_and_warns_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The service's own logging set-up, as every process has it: events are lines on stderr.
    configure_logging("INFO")
    limiter = RedisRateLimiter(
        "redis://127.0.0.1:1/0", rate_per_s=0.01, burst=1, key_prefix="unreachable:"
    )
    capsys.readouterr()
    try:
        answers = [await limiter.take("user:a") for _ in range(3)]
    finally:
        await limiter.close()
    assert answers == [None, None, None]
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    warnings = [line for line in lines if line["event"] == "rate_limit_store_unreachable"]
    assert len(warnings) == 1
    assert warnings[0]["level"] == "warning"
