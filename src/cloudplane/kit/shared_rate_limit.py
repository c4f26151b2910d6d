"""Rate-limit buckets in Redis, shared by every API process.

One Lua script reads, refills and spends a bucket atomically on the Redis server, with Redis's
own clock, so concurrent requests through any number of processes never spend the same token
twice, and the processes' clocks do not matter. A bucket expires once it would be full again.

When Redis cannot be reached the request is let through and a warning is logged (at most every
``_WARN_EVERY_S``): a limiter that is down must not take the API down with it.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from cloudplane.kit.logging import get_logger

log = get_logger(__name__)

_WARN_EVERY_S = 30.0
_TIMEOUT_S = 0.5

# KEYS[1]: the bucket. ARGV[1]: tokens per second; ARGV[2]: the burst.
# Returns 0 when a token was spent, else the whole seconds until one will be there (≥ 1).
_TAKE_TOKEN = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
if tokens == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - tonumber(state[2])) * rate)
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return wait
"""


class RedisRateLimiter:
    """Token buckets under ``{key_prefix}rate:{caller}`` in the Redis at ``url``."""

    def __init__(self, url: str, *, rate_per_s: float, burst: int, key_prefix: str) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._prefix = f"{key_prefix}rate:"
        self._redis = Redis.from_url(
            url, socket_timeout=_TIMEOUT_S, socket_connect_timeout=_TIMEOUT_S
        )
        self._take_token = self._redis.register_script(_TAKE_TOKEN)
        self._warned_at = float("-inf")

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0 and self.burst > 0

    async def take(self, key: str) -> int | None:
        if not self.enabled:
            return None
        try:
            wait_s = await self._take_token(
                keys=[self._prefix + key], args=[self.rate_per_s, self.burst]
            )
        except (RedisError, OSError) as exc:
            self._warn_unreachable(exc)
            return None
        return int(wait_s) or None

    async def close(self) -> None:
        await self._redis.aclose()

    def _warn_unreachable(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning("rate_limit_store_unreachable", error=str(exc) or type(exc).__name__)
