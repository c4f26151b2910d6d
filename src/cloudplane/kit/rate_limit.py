"""Token-bucket rate limiting per caller (a user, or an API key on its own).

Each caller has a bucket of ``burst`` tokens refilled at ``rate_per_s``; a request takes one.
``ProcessRateLimiter`` keeps the buckets in the process, so with several API processes each
applies the limit separately (a caller spread evenly over N processes gets up to N times the
rate); ``kit.shared_rate_limit`` keeps them in Redis, shared by every process.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

_MAX_BUCKETS = 100_000


class RateLimiter(Protocol):
    """Where the buckets live is the implementation's business."""

    async def take(self, key: str) -> int | None:
        """Spend one token of ``key``'s bucket; None if allowed, else seconds to wait (≥ 1)."""

    async def close(self) -> None:
        """Let go of any connection."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    refilled_at: float


class ProcessRateLimiter:
    """Buckets in this process's memory (the embedded default)."""

    def __init__(self, *, rate_per_s: float, burst: int) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0 and self.burst > 0

    async def take(self, key: str) -> int | None:
        return self.take_at(key, time.monotonic())

    async def close(self) -> None:
        """Nothing to let go of."""

    def take_at(self, key: str, moment: float) -> int | None:
        """``take`` at the monotonic time ``moment``."""
        if not self.enabled:
            return None
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), refilled_at=moment)
            self._buckets[key] = bucket
            if len(self._buckets) > _MAX_BUCKETS:
                self._buckets.popitem(last=False)  # the least recently seen caller
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, moment - bucket.refilled_at)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_s)
            bucket.refilled_at = moment
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate_per_s))
