"""Token-bucket rate limiting per caller (a user, or an API key on its own).

Each caller has a bucket of ``burst`` tokens refilled at ``rate_per_s``; a request takes one.
Buckets live in the process, so with several API replicas each replica applies the limit
separately (a caller spread evenly over N replicas gets up to N times the rate).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

_MAX_BUCKETS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    refilled_at: float


class RateLimiter:
    def __init__(self, *, rate_per_s: float, burst: int) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0 and self.burst > 0

    def take(self, key: str, *, now: float | None = None) -> int | None:
        """Spend one token of ``key``'s bucket; None if allowed, else seconds to wait (≥ 1)."""
        if not self.enabled:
            return None
        moment = time.monotonic() if now is None else now
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
