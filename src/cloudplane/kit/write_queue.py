"""The in-process queue for SQLite's one write lock, with work already under way served first.

SQLite lets one transaction write at a time. Inside the API process the writers are requests
(a new server, a rename …) and the steps of operations already accepted (claim, build, settle).
Served strictly in arrival order, a burst of new requests puts every step of every running
operation behind the whole burst, so operations take as long as the burst lasts. Operation steps
therefore go first (``writes_first``), and requests share what is left in arrival order: work
that was accepted finishes before more is accepted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_writes_first: ContextVar[bool] = ContextVar("cloudplane_writes_first", default=False)


@contextlib.contextmanager
def writes_first() -> Iterator[None]:
    """Transactions begun in this context jump ahead of request transactions for the lock."""
    token = _writes_first.set(True)
    try:
        yield
    finally:
        _writes_first.reset(token)


class WriteQueue:
    """A lock with two classes of waiters; the first class is always served first.

    Within a class, first come first served. Ownership passes directly from the releasing
    holder to the next waiter, so nobody can overtake it in between.
    """

    def __init__(self) -> None:
        self._held = False
        self._first: collections.deque[asyncio.Future[None]] = collections.deque()
        self._rest: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def held(self) -> bool:
        return self._held

    async def acquire(self) -> None:
        """Wait for the lock (in this context's class); cancellable while waiting."""
        if not self._held and not self._first and not self._rest:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._first if _writes_first.get() else self._rest
        queue.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                # Handed the lock just as the wait was given up: pass it on.
                self.release()
            else:
                with contextlib.suppress(ValueError):  # already dropped by a release
                    queue.remove(waiter)
            raise

    def release(self) -> None:
        """Hand the lock to the next waiter, or free it."""
        for queue in (self._first, self._rest):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._held = False
