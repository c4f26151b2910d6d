"""The machine's Redis for tests: a key prefix of the test's own, removed afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.support.databases import unavailable

REDIS_URL = os.environ.get("CLOUDPLANE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@asynccontextmanager
async def private_key_prefix() -> AsyncIterator[str]:
    """A prefix no other test uses; every key under it is deleted at the end."""
    client = Redis.from_url(REDIS_URL)
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            unavailable(f"Redis at {REDIS_URL}: {exc}")
        prefix = f"cloudplane-test-{uuid.uuid4().hex[:12]}:"
        yield prefix
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
