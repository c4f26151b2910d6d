"""Runs the reconciler as soon as the driver reports that a server changed by itself.

The periodic reconcile finds every drift eventually; this makes the common cases (a guest shut
itself down, an operator destroyed or removed a domain on the host) show within moments. Bursts
of events are folded into one pass: while a pass runs, further events ask for one more after it.
"""

from __future__ import annotations

import asyncio
import contextlib

from cloudplane.compute.reconciler import reconcile_servers
from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.server_events import ServerEventSource
from cloudplane.kit.logging import get_logger
from cloudplane.runtime import Runtime

log = get_logger(__name__)


class DriftWatch:
    """Reconciles after driver events; does nothing for a driver that reports none."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        driver = self._runtime.driver
        if not isinstance(driver, ServerEventSource):
            return
        try:
            await driver.watch_servers(self._changed)
        except DriverError as exc:
            # The subscription is made again with the next connection; until then the periodic
            # reconcile alone finds drift.
            log.warning("drift_watch_not_subscribed", error=exc.message)
        self._task = asyncio.create_task(self._run(), name="drift-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _changed(self, server_id: str) -> None:
        self._wanted.set()

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            try:
                await reconcile_servers(self._runtime)
            except Exception:
                log.exception("drift_watch_reconcile_failed")
