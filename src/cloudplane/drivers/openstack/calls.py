"""Every blocking SDK call goes through here: a worker thread, a timeout, retries, translation.

openstacksdk blocks on HTTP, so calls run in a bounded pool of threads, never on the event
loop. Each HTTP request is bounded by the session's ``api_timeout``; the whole blocking
function is bounded again here (a stuck thread is abandoned and its late result dropped). A
call that fails with a 5xx or without an answer is tried again after a pause that doubles each
time; a 4xx is the cloud's answer and is not retried. Every function passed in must be safe to
repeat, which is why creates are written as find-then-create.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import TypeVar

from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.openstack.connection import OpenStackOptions
from cloudplane.drivers.openstack.errors import CLOUD_UNAVAILABLE, is_retryable, translate
from cloudplane.kit.logging import get_logger

T = TypeVar("T")
log = get_logger(__name__)

_WHOLE_CALL_FACTOR = 3
"""A blocking function may make a few requests (a token, pages); it gets this many timeouts."""


class CloudCalls:
    """Runs blocking functions against the cloud with timeout, retries and error mapping."""

    def __init__(self, options: OpenStackOptions) -> None:
        self.options = options
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def start(self) -> None:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=self.options.max_workers, thread_name_prefix="openstack-call"
            )

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def run(
        self, call: Callable[[], T], *, kind: str | None = None, resource_id: str = ""
    ) -> T:
        """``call()`` in a worker thread; its failure as a ``DriverError`` about ``kind``.

        5xx answers, connection failures and timeouts are retried ``options.retries`` times
        with exponential backoff; anything else fails at once.
        """
        attempt = 0
        while True:
            try:
                return await self._once(call)
            except Exception as exc:
                if attempt >= self.options.retries or not _worth_retrying(exc):
                    raise translate(exc, kind=kind, resource_id=resource_id) from exc
                pause = self.options.retry_backoff_s * (2**attempt)
                attempt += 1
                log.warning("openstack_call_retried", attempt=attempt, reason=str(exc)[:200])
                await asyncio.sleep(pause)

    async def _once(self, call: Callable[[], T]) -> T:
        if self._pool is None:
            raise DriverError("the OpenStack driver is not open", code="not_open")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, call)
        limit = self.options.call_timeout_s * _WHOLE_CALL_FACTOR
        try:
            return await asyncio.wait_for(future, timeout=limit)
        except TimeoutError as exc:
            raise _CallTimedOut(f"the cloud did not answer within {limit:.0f} s") from exc

    async def wait_for(
        self,
        fetch: Callable[[], Awaitable[T]],
        done: Callable[[T], bool],
        *,
        what: str,
    ) -> T:
        """Poll ``fetch`` until ``done`` holds for its result, up to ``options.wait_timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.wait_timeout_s
        while True:
            current = await fetch()
            if done(current):
                return current
            if loop.time() >= deadline:
                raise DriverError(
                    f"{what} did not settle within {self.options.wait_timeout_s:.0f} s",
                    code="timeout",
                )
            await asyncio.sleep(self.options.poll_interval_s)


class _CallTimedOut(DriverError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code=CLOUD_UNAVAILABLE)


def _worth_retrying(exc: BaseException) -> bool:
    return isinstance(exc, _CallTimedOut) or is_retryable(exc)
