"""Which Nova server is which cloudplane server, kept current by ``changes-since`` lists.

The first refresh (and one every ``full_sync_interval_s``) lists every server; the others ask
Nova only for servers changed since the newest ``updated`` time already seen, by the cloud's
own clock, so clock skew between cloudplane and the cloud does not matter. Nova answers
``changes-since`` with deleted servers too (status ``DELETED``), which is how a server deleted
behind cloudplane's back leaves the index: one list call per refresh, never one per server.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from cloudplane.drivers.openstack.names import ID_KEY
from cloudplane.drivers.openstack.status import server_gone


class ServerIndex:
    """Nova servers by cloudplane id, and the marker for the next ``changes-since`` list."""

    def __init__(self, full_sync_interval_s: float) -> None:
        self.full_sync_interval_s = full_sync_interval_s
        self.servers: dict[str, Any] = {}
        self.changes_since: str | None = None
        self._full_at: float | None = None

    def query(self) -> dict[str, str]:
        """The list filters the next refresh uses: none for a full list, else changes-since."""
        if self.wants_full_list():
            return {}
        assert self.changes_since is not None
        return {"changes_since": self.changes_since}

    def wants_full_list(self) -> bool:
        return (
            self._full_at is None
            or self.changes_since is None
            or time.monotonic() - self._full_at >= self.full_sync_interval_s
        )

    def merge(self, listed: Iterable[Any], *, full: bool) -> None:
        """Fold a list answer in; a full one replaces what the index held."""
        listed = list(listed)
        if full:
            self.servers = {}
            self._full_at = time.monotonic()
        for server in listed:
            self.put(server)
        stamps = [s.updated_at for s in listed if s.updated_at]
        if stamps:
            newest = max(stamps)
            if self.changes_since is None or newest > self.changes_since:
                self.changes_since = newest

    def put(self, server: Any) -> None:
        """Record one server as just read (dropped when it is deleted)."""
        cloudplane_id = cloudplane_id_of(server)
        if cloudplane_id is None:
            return
        if server_gone(server):
            current = self.servers.get(cloudplane_id)
            if current is not None and current.id == server.id:
                del self.servers[cloudplane_id]
        else:
            self.servers[cloudplane_id] = server

    def drop(self, cloudplane_id: str) -> None:
        self.servers.pop(cloudplane_id, None)

    def cloudplane_id_for(self, backend_id: str) -> str | None:
        for cloudplane_id, server in self.servers.items():
            if server.id == backend_id:
                return cloudplane_id
        return None


def cloudplane_id_of(server: Any) -> str | None:
    metadata = server.metadata or {}
    value = metadata.get(ID_KEY)
    return str(value) if value else None
