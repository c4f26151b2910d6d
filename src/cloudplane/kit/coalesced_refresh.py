"""Refreshes of a derived copy, merged per key and spaced out in time.

Some backend state is derived from many rows: a security group's peers are all its members'
addresses. Each change to those rows asks for a refresh (read the rows, push the result). Asked
for in bursts (a thousand servers booting in one group), refreshing once per request would read
every row once per request. Here, per key:

- a refresh is asked for with ``request`` and runs in the background. While one is waiting to
  begin, further requests join it: it reads the rows later than any of them was made;
- refreshes run one at a time, and begin at least ``spacing_s`` apart, so a burst costs one
  refresh per ``spacing_s`` however many changes it makes;
- ``run`` refreshes now (waiting its turn), and skips when a refresh that began after it was
  called has succeeded, since that one read the rows as they were then, or later.

The bookkeeping is this process's only: with several processes each refreshes on its own (still
correct, just less merged), and nothing orders the refreshes of different processes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from cloudplane.kit.logging import get_logger

log = get_logger(__name__)

Refresh = Callable[[], Awaitable[None]]


class CoalescedRefresh:
    """Runs refreshes per key: merged, one at a time, ``spacing_s`` apart (see the module)."""

    def __init__(self, spacing_s: float = 0.0) -> None:
        self.spacing_s = spacing_s
        self._locks: dict[str, asyncio.Lock] = {}
        self._began: dict[str, float] = {}
        """Per key, when the last successful refresh began."""
        self._waiting: dict[str, asyncio.Task[None]] = {}
        """Per key, the background refresh that has not begun yet."""
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, key: str, refresh: Refresh) -> None:
        """Refresh ``key`` in the background, soon: at once unless one ran within
        ``spacing_s``. Joins a background refresh that has not begun yet. Failures are
        logged, not raised."""
        if key in self._waiting:
            return
        task = asyncio.create_task(self._in_background(key, refresh))
        self._waiting[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(self, key: str, refresh: Refresh) -> bool:
        """Refresh ``key`` now, after any refresh of it in progress, unless one that began
        after this call succeeded; True when it ran. A failed refresh covers nothing and its
        error propagates."""
        asked = time.monotonic()
        async with self._lock(key):
            if self._began.get(key, float("-inf")) > asked:
                return False
            await self._refresh(key, refresh)
            return True

    async def wait_idle(self) -> None:
        """Until no background refresh is waiting or running (tests, and shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _in_background(self, key: str, refresh: Refresh) -> None:
        try:
            async with self._lock(key):
                gap = self._began.get(key, float("-inf")) + self.spacing_s - time.monotonic()
                if gap > 0:
                    await asyncio.sleep(gap)
                del self._waiting[key]  # from here on, a new request needs a new refresh
                await self._refresh(key, refresh)
        except Exception as exc:
            if self._waiting.get(key) is asyncio.current_task():
                del self._waiting[key]
            log.warning("refresh_failed", key=key, error=str(exc) or type(exc).__name__)

    async def _refresh(self, key: str, refresh: Refresh) -> None:
        began = time.monotonic()
        await refresh()
        self._began[key] = began

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock
