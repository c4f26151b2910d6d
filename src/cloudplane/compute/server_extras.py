"""What a server body shows of other features: addresses, floating IPs and volumes.

Loaded for a whole page of servers at once (one query per feature), never per server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.network.server_ports import (
    ServerAddressEntry,
    ServerFloatingIpEntry,
    server_addresses,
    server_floating_ips,
)
from cloudplane.storage.server_volumes import ServerVolumeEntry, server_volumes


@dataclass(frozen=True, slots=True)
class ServerExtras:
    addresses: list[ServerAddressEntry] = field(default_factory=list)
    floating_ips: list[ServerFloatingIpEntry] = field(default_factory=list)
    volumes: list[ServerVolumeEntry] = field(default_factory=list)


NO_EXTRAS = ServerExtras()


async def load_server_extras(
    session: AsyncSession, server_ids: Sequence[str]
) -> dict[str, ServerExtras]:
    """Extras of every listed server (servers without any are left out of the map)."""
    if not server_ids:
        return {}
    addresses = await server_addresses(session, server_ids)
    floating_ips = await server_floating_ips(session, server_ids)
    volumes = await server_volumes(session, server_ids)
    return {
        server_id: ServerExtras(
            addresses=addresses.get(server_id, []),
            floating_ips=floating_ips.get(server_id, []),
            volumes=volumes.get(server_id, []),
        )
        for server_id in server_ids
    }
