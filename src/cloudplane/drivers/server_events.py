"""An optional part of a driver: telling cloudplane at once when a server changes by itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable


@runtime_checkable
class ServerEventSource(Protocol):
    """A backend that reports servers changing state (started, stopped, crashed, removed…).

    ``on_change`` is called with the server's id, on the event loop that awaited
    ``watch_servers``, after the backend saw the change; it may be called more than once per
    change, and a change may be reported late or, if the backend's connection dropped, not at
    all, so callers keep their periodic full comparison too.
    """

    async def watch_servers(self, on_change: Callable[[str], None]) -> None: ...
