"""Making ports exist on the backend, for the port operations and for server builds alike.

Every backend call here is idempotent by id, so building a port that a concurrent operation
(or the server's own build) already built changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from cloudplane.drivers.base import Capability
from cloudplane.drivers.network_contract import PortSpec
from cloudplane.kit.db import LIVE, unit_of_work
from cloudplane.network import repository
from cloudplane.network.models import Network, Port
from cloudplane.network.network_service import network_spec
from cloudplane.runtime import Runtime


async def build_ports_on_backend(runtime: Runtime, port_ids: Sequence[str]) -> list[Port]:
    """Create each live port of ``port_ids`` (and first its network) on the backend, with the
    port's current rules where security groups are supported. Returns those live ports in the
    order given; deleted or unknown ids are skipped."""
    if not port_ids:
        return []
    with_rules = Capability.SECURITY_GROUPS in runtime.driver.capabilities
    async with unit_of_work(runtime.sessions) as session:
        found = await session.scalars(
            select(Port).where(Port.id.in_(list(port_ids)), Port.deleted_key == LIVE)
        )
        ports = {port.id: port for port in found}
        networks = {
            network.id: network
            for network in await session.scalars(
                select(Network).where(Network.id.in_({p.network_id for p in ports.values()}))
            )
        }
        rules = await repository.rules_of_ports(session, list(ports)) if with_rules else {}
    ordered = [ports[port_id] for port_id in port_ids if port_id in ports]
    for port in ordered:
        # The network's own operation may not have run yet (and seeded networks have none).
        await runtime.driver.create_network(network_spec(networks[port.network_id]))
        await runtime.driver.create_port(
            PortSpec(
                id=port.id,
                network_id=port.network_id,
                mac=port.mac,
                fixed_ips=tuple(port.fixed_ips),
                device_id=port.device_id,
                security_rules=rules.get(port.id, ()),
            )
        )
    return ordered
