"""What every part of the OpenStack driver shares: the connection, the calls, the server index."""

from __future__ import annotations

import asyncio
from typing import Any

from cloudplane.drivers.errors import DriverError, ServerNotFound
from cloudplane.drivers.openstack.calls import CloudCalls
from cloudplane.drivers.openstack.connection import OpenStackOptions
from cloudplane.drivers.openstack.server_index import ServerIndex

ADDRESS_GROUP_EXTENSION = "address-group"


class CloudBackend:
    """The state the compute, storage and network halves of ``OpenStackDriver`` share."""

    def __init__(self, options: OpenStackOptions) -> None:
        self.options = options
        self.calls = CloudCalls(options)
        self.index = ServerIndex(options.full_sync_interval_s)
        self._conn: Any = None
        self._index_lock = asyncio.Lock()
        self.address_groups: bool | None = None
        """Whether Neutron has address groups (the ``address-group`` extension, Wallaby and
        later), which hold the peers of security groups; None until first needed."""

    @property
    def conn(self) -> Any:
        if self._conn is None:
            raise DriverError("the OpenStack driver is not open", code="not_open")
        return self._conn

    @conn.setter
    def conn(self, value: Any) -> None:
        self._conn = value

    def has_address_groups(self, conn: Any) -> bool:
        """``address_groups``, asked of Neutron the first time (blocking: run via ``calls``).

        Not at ``open``: the driver opens without a call, so a service starts while the cloud
        is away.
        """
        if self.address_groups is None:
            found = conn.network.find_extension(ADDRESS_GROUP_EXTENSION)
            self.address_groups = found is not None
        return self.address_groups

    def disconnect(self) -> None:
        """Close the connection's HTTP sessions; the driver is unusable until opened again."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    async def refresh_servers(self) -> None:
        """One list call folding every server change since the last refresh into the index."""
        async with self._index_lock:
            full = self.index.wants_full_list()
            query = self.index.query()
            conn = self.conn
            listed = await self.calls.run(lambda: list(conn.compute.servers(details=True, **query)))
            self.index.merge(listed, full=full)

    async def nova_server(self, server_id: str) -> Any:
        """The Nova server holding cloudplane server ``server_id``, read fresh.

        Raises ``ServerNotFound`` when the cloud has none (it is dropped from the index then).
        """
        known = self.index.servers.get(server_id)
        if known is None:
            await self.refresh_servers()
            known = self.index.servers.get(server_id)
            if known is None:
                raise ServerNotFound(server_id)
        conn = self.conn
        backend_id = known.id
        try:
            server = await self.calls.run(
                lambda: conn.compute.get_server(backend_id), kind="server", resource_id=server_id
            )
        except ServerNotFound:
            self.index.drop(server_id)
            raise
        self.index.put(server)
        return server

    async def cloudplane_server_id(self, backend_id: str) -> str | None:
        """cloudplane's id of the Nova server ``backend_id`` (refreshing once if unknown)."""
        found = self.index.cloudplane_id_for(backend_id)
        if found is None:
            await self.refresh_servers()
            found = self.index.cloudplane_id_for(backend_id)
        return found
