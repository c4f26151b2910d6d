"""Making ports exist on the backend, for the port operations and for server builds alike.

Every backend call here is idempotent by id, so building a port that a concurrent operation
(or the server's own build) already built changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.base import Capability
from cloudplane.drivers.network_contract import PortSpec, SecurityRuleSpec
from cloudplane.kit.db import LIVE, unit_of_work
from cloudplane.network import repository
from cloudplane.network.models import Network, Port
from cloudplane.network.network_service import network_spec
from cloudplane.runtime import Runtime


@dataclass(frozen=True, slots=True)
class PortBuilds:
    """Ports to build, with what the backend needs besides the rows themselves."""

    ports: Sequence[Port]
    networks: Mapping[str, Network]
    rules: Mapping[str, tuple[SecurityRuleSpec, ...]]


async def load_port_builds(
    session: AsyncSession, runtime: Runtime, ports: Sequence[Port]
) -> PortBuilds:
    """The networks of ``ports`` and, where the driver applies security groups, their rules."""
    if not ports:
        return PortBuilds(ports=(), networks={}, rules={})
    with_rules = Capability.SECURITY_GROUPS in runtime.driver.capabilities
    networks = {
        network.id: network
        for network in await session.scalars(
            select(Network).where(Network.id.in_({port.network_id for port in ports}))
        )
    }
    rules = await repository.rules_of_ports(session, [p.id for p in ports]) if with_rules else {}
    return PortBuilds(ports=tuple(ports), networks=networks, rules=rules)


async def build_loaded_ports(runtime: Runtime, builds: PortBuilds) -> None:
    """Create each port of ``builds`` (and first its network) on the backend, in order."""
    for port in builds.ports:
        # The network's own operation may not have run yet (and seeded networks have none).
        await runtime.driver.create_network(network_spec(builds.networks[port.network_id]))
        await runtime.driver.create_port(
            PortSpec(
                id=port.id,
                network_id=port.network_id,
                mac=port.mac,
                fixed_ips=tuple(port.fixed_ips),
                device_id=port.device_id,
                security_rules=builds.rules.get(port.id, ()),
            )
        )


async def build_ports_on_backend(runtime: Runtime, port_ids: Sequence[str]) -> list[Port]:
    """Create each live port of ``port_ids`` (and first its network) on the backend, with the
    port's current rules where security groups are supported. Returns those live ports in the
    order given; deleted or unknown ids are skipped."""
    if not port_ids:
        return []
    async with unit_of_work(runtime.sessions) as session:
        found = await session.scalars(
            select(Port).where(Port.id.in_(list(port_ids)), Port.deleted_key == LIVE)
        )
        ports = {port.id: port for port in found}
        ordered = [ports[port_id] for port_id in port_ids if port_id in ports]
        builds = await load_port_builds(session, runtime, ordered)
    await build_loaded_ports(runtime, builds)
    return ordered
