"""libvirt's event loop in a thread of its own, and lifecycle callbacks on a connection.

libvirt delivers domain events only to a process that runs an event loop; the default one is
registered once per process, before the first connection is opened, and runs forever in a daemon
thread. Callbacks run in that thread and hand the server id over to the asyncio loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import libvirt

_started = threading.Lock()
_running = False


def ensure_event_loop() -> None:
    """Register libvirt's default event loop and start the thread that runs it (once)."""
    global _running
    with _started:
        if _running:
            return
        libvirt.virEventRegisterDefaultImpl()
        thread = threading.Thread(target=_run_forever, name="libvirt-events", daemon=True)
        thread.start()
        _running = True


def _run_forever() -> None:
    while True:
        libvirt.virEventRunDefaultImpl()


class LifecycleWatch:
    """Calls ``on_change(server_id)`` on ``loop`` whenever one of our domains changes state."""

    def __init__(
        self,
        server_id_of: Callable[[str], str | None],
        on_change: Callable[[str], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._server_id_of = server_id_of
        self._on_change = on_change
        self._loop = loop

    def register(self, connection: libvirt.virConnect) -> None:
        """Subscribe on ``connection`` (blocking); called again for every new connection."""
        connection.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._lifecycle, None
        )

    def _lifecycle(
        self,
        _connection: libvirt.virConnect,
        domain: libvirt.virDomain,
        _event: int,
        _detail: int,
        _opaque: object,
    ) -> None:
        server_id = self._server_id_of(domain.name())
        if server_id is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._on_change, server_id)
