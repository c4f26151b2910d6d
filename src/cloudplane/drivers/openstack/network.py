"""The networking half of the OpenStack driver: Neutron networks, ports and floating IPs.

Networks and ports are named ``cloudplane-<id>``; each network has one subnet with
cloudplane's CIDR, gateway and pools, and each port exactly the MAC and fixed IPs cloudplane
chose, plus a security group of its own with its rules. A floating IP is allocated with the
address cloudplane chose when it is first associated and released when disassociated; its
description is ``cloudplane:<id>``. Lists are a handful of calls, never one per resource.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openstack import exceptions as sdk_exceptions

from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import DriverError, ResourceNotFound, Unsupported
from cloudplane.drivers.network_contract import (
    FloatingIpInfo,
    FloatingIpSpec,
    GroupPeers,
    InterfaceSpec,
    NetworkDriver,
    NetworkInfo,
    NetworkSpec,
    PortInfo,
    PortSpec,
    SecurityRuleSpec,
)
from cloudplane.drivers.openstack.backend import CloudBackend
from cloudplane.drivers.openstack.names import (
    cloud_name,
    id_from_marker,
    id_from_name,
    marker,
    port_group_name,
)
from cloudplane.drivers.openstack.security_groups import (
    delete_peers,
    ensure_port_group,
    list_peers,
    peer_names,
    replace_rules,
    rules_of,
    set_peers,
)

NETWORK = "network"
PORT = "port"


class OpenStackNetwork(NetworkDriver):
    """``NetworkDriver`` over Neutron; mixed into ``OpenStackDriver``."""

    backend: CloudBackend

    async def create_network(self, spec: NetworkSpec) -> NetworkInfo:
        conn = self.backend.conn

        def ensure() -> NetworkInfo:
            network = _find(conn.network.networks, cloud_name(spec.id))
            if network is None:
                network = conn.network.create_network(
                    name=cloud_name(spec.id),
                    description=spec.name[:255],
                    is_router_external=spec.external,
                    is_shared=spec.shared,
                )
            subnet = next(iter(conn.network.subnets(network_id=network.id)), None)
            if subnet is None:
                try:
                    subnet = conn.network.create_subnet(
                        network_id=network.id,
                        name=cloud_name(spec.id),
                        ip_version=4 if ":" not in spec.cidr else 6,
                        cidr=spec.cidr,
                        gateway_ip=spec.gateway_ip,
                        allocation_pools=[
                            {"start": p.start, "end": p.end} for p in spec.allocation_pools
                        ],
                    )
                except Exception:
                    conn.network.delete_network(network.id, ignore_missing=True)
                    raise
            return NetworkInfo(id=spec.id, cidr=subnet.cidr, backend_id=network.id)

        return await self.backend.calls.run(ensure, kind=NETWORK, resource_id=spec.id)

    async def delete_network(self, network_id: str) -> None:
        conn = self.backend.conn

        def remove() -> None:
            network = _find(conn.network.networks, cloud_name(network_id))
            if network is None:
                return
            for port in conn.network.ports(network_id=network.id):
                # Neutron's own ports (DHCP, router interfaces) go with the network.
                if not str(port.device_owner or "").startswith("network:"):
                    _remove_port(conn, port)
            conn.network.delete_network(network.id, ignore_missing=True)

        await self.backend.calls.run(remove, kind=NETWORK, resource_id=network_id)

    async def list_networks(self) -> list[NetworkInfo]:
        conn = self.backend.conn

        def read() -> list[NetworkInfo]:
            cidrs = {s.network_id: s.cidr for s in conn.network.subnets()}
            return [
                NetworkInfo(id=network_id, cidr=cidrs.get(n.id, ""), backend_id=n.id)
                for n in conn.network.networks()
                if (network_id := id_from_name(n.name)) is not None
            ]

        return await self.backend.calls.run(read)

    async def create_port(self, spec: PortSpec) -> PortInfo:
        conn = self.backend.conn

        def ensure() -> PortInfo:
            address_groups = self.backend.has_address_groups(conn)
            port = _find(conn.network.ports, cloud_name(spec.id))
            if port is None:
                network = _find(conn.network.networks, cloud_name(spec.network_id))
                if network is None:
                    raise ResourceNotFound(NETWORK, spec.network_id)
                group = ensure_port_group(conn, spec.id)
                replace_rules(conn, group, spec.security_rules, address_groups=address_groups)
                port = conn.network.create_port(
                    name=cloud_name(spec.id),
                    network_id=network.id,
                    mac_address=spec.mac,
                    fixed_ips=[{"ip_address": ip} for ip in spec.fixed_ips],
                    security_group_ids=[group.id],
                )
            return _port_info(conn, port, spec.network_id, address_groups=address_groups)

        return await self.backend.calls.run(ensure, kind=PORT, resource_id=spec.id)

    async def ensure_interface_port(self, interface: InterfaceSpec) -> str:
        info = await self.create_port(
            PortSpec(
                id=interface.port_id,
                network_id=interface.network_id,
                mac=interface.mac,
                fixed_ips=interface.fixed_ips,
            )
        )
        assert info.backend_id is not None
        return info.backend_id

    async def delete_port(self, port_id: str) -> None:
        conn = self.backend.conn

        def remove() -> None:
            port = _find(conn.network.ports, cloud_name(port_id))
            if port is not None:
                _remove_port(conn, port)
            else:
                _remove_port_group(conn, port_id)

        await self.backend.calls.run(remove, kind=PORT, resource_id=port_id)

    async def list_ports(self) -> list[PortInfo]:
        conn = self.backend.conn

        def read() -> list[PortInfo]:
            groups = list(conn.network.security_groups())
            address_groups = self.backend.has_address_groups(conn)
            names = peer_names(conn, groups, address_groups=address_groups)
            by_id = {g.id: g for g in groups}
            networks = {n.id: id_from_name(n.name) for n in conn.network.networks()}
            infos = []
            for port in conn.network.ports():
                port_id = id_from_name(port.name)
                if port_id is None:
                    continue
                rules: tuple[SecurityRuleSpec, ...] = ()
                for group_id in port.security_group_ids or []:
                    if group_id in by_id:
                        rules += rules_of(by_id[group_id], names)
                infos.append(
                    PortInfo(
                        id=port_id,
                        network_id=networks.get(port.network_id) or port.network_id,
                        mac=port.mac_address,
                        fixed_ips=tuple(ip["ip_address"] for ip in port.fixed_ips or []),
                        security_rules=rules,
                        backend_id=port.id,
                    )
                )
            return infos

        return await self.backend.calls.run(read)

    async def associate_floating_ip(self, spec: FloatingIpSpec) -> FloatingIpInfo:
        conn = self.backend.conn
        external = self.backend.options.external_network

        def ensure() -> FloatingIpInfo:
            port = _find(conn.network.ports, cloud_name(spec.port_id))
            if port is None:
                raise ResourceNotFound(PORT, spec.port_id)
            if spec.fixed_ip not in {ip["ip_address"] for ip in port.fixed_ips or []}:
                raise DriverError(
                    f"{spec.fixed_ip} is not an address of port {spec.port_id}",
                    code="invalid_address",
                )
            floating_ip = _find_floating_ip(conn, spec.id)
            if floating_ip is None:
                network = _external_network(conn, spec.network_id, external)
                floating_ip = conn.network.create_ip(
                    floating_network_id=network.id,
                    floating_ip_address=spec.ip,
                    port_id=port.id,
                    fixed_ip_address=spec.fixed_ip,
                    description=marker(spec.id),
                )
            elif (floating_ip.port_id, floating_ip.fixed_ip_address) != (port.id, spec.fixed_ip):
                conn.network.update_ip(floating_ip, port_id=port.id, fixed_ip_address=spec.fixed_ip)
            return FloatingIpInfo(
                id=spec.id,
                ip=spec.ip,
                port_id=spec.port_id,
                fixed_ip=spec.fixed_ip,
                backend_id=floating_ip.id,
            )

        return await self.backend.calls.run(ensure, kind=PORT, resource_id=spec.port_id)

    async def disassociate_floating_ip(self, floating_ip_id: str) -> None:
        conn = self.backend.conn

        def release() -> None:
            floating_ip = _find_floating_ip(conn, floating_ip_id)
            if floating_ip is not None:
                conn.network.delete_ip(floating_ip.id, ignore_missing=True)

        await self.backend.calls.run(release)

    async def list_floating_ips(self) -> list[FloatingIpInfo]:
        conn = self.backend.conn

        def read() -> list[FloatingIpInfo]:
            ports = {p.id: id_from_name(p.name) for p in conn.network.ports()}
            infos = []
            for floating_ip in conn.network.ips():
                floating_ip_id = id_from_marker(floating_ip.description)
                port_id = ports.get(floating_ip.port_id) if floating_ip.port_id else None
                if floating_ip_id is None or port_id is None:
                    continue
                infos.append(
                    FloatingIpInfo(
                        id=floating_ip_id,
                        ip=floating_ip.floating_ip_address,
                        port_id=port_id,
                        fixed_ip=floating_ip.fixed_ip_address,
                        backend_id=floating_ip.id,
                    )
                )
            return infos

        return await self.backend.calls.run(read)

    async def apply_security_groups(self, port_id: str, rules: Sequence[SecurityRuleSpec]) -> None:
        conn = self.backend.conn

        def apply() -> None:
            port = _find(conn.network.ports, cloud_name(port_id))
            if port is None:
                raise ResourceNotFound(PORT, port_id)
            group = ensure_port_group(conn, port_id)
            address_groups = self.backend.has_address_groups(conn)
            replace_rules(conn, group, rules, address_groups=address_groups)
            if list(port.security_group_ids or []) != [group.id]:
                conn.network.update_port(port, security_group_ids=[group.id])

        await self.backend.calls.run(apply, kind=PORT, resource_id=port_id)

    async def set_group_peers(self, peers: GroupPeers) -> None:
        conn = self.backend.conn

        def push() -> None:
            if not self.backend.has_address_groups(conn):
                raise Unsupported(Capability.GROUP_PEERS)
            set_peers(conn, peers)

        await self.backend.calls.run(push)

    async def delete_group_peers(self, group_id: str) -> None:
        conn = self.backend.conn

        def forget() -> None:
            if self.backend.has_address_groups(conn):
                delete_peers(conn, group_id)

        await self.backend.calls.run(forget)

    async def list_group_peers(self) -> list[GroupPeers]:
        conn = self.backend.conn

        def read() -> list[GroupPeers]:
            return list_peers(conn) if self.backend.has_address_groups(conn) else []

        return await self.backend.calls.run(read)


def _find(listing: Any, name: str) -> Any:
    return next(iter(listing(name=name)), None)


def _find_floating_ip(conn: Any, floating_ip_id: str) -> Any:
    wanted = marker(floating_ip_id)
    return next((f for f in conn.network.ips() if f.description == wanted), None)


def _external_network(conn: Any, network_id: str, configured: str | None) -> Any:
    """cloudplane's external network when it is in the cloud, else the configured one."""
    network = _find(conn.network.networks, cloud_name(network_id))
    if network is not None:
        return network
    if configured is None:
        raise DriverError(
            "no external network for floating IPs (set CLOUDPLANE_OPENSTACK_EXTERNAL_NETWORK)",
            code="bad_spec",
        )
    try:
        return conn.network.find_network(configured, ignore_missing=False)
    except sdk_exceptions.NotFoundException as exc:
        raise ResourceNotFound(NETWORK, configured) from exc


def _remove_port(conn: Any, port: Any) -> None:
    """Release our floating IPs on the port, then the port, then its own security group."""
    for floating_ip in conn.network.ips(port_id=port.id):
        if id_from_marker(floating_ip.description) is not None:
            conn.network.delete_ip(floating_ip.id, ignore_missing=True)
    conn.network.delete_port(port.id, ignore_missing=True)
    port_id = id_from_name(port.name)
    if port_id is not None:
        _remove_port_group(conn, port_id)


def _remove_port_group(conn: Any, port_id: str) -> None:

    group = _find(conn.network.security_groups, port_group_name(port_id))
    if group is not None:
        conn.network.delete_security_group(group.id, ignore_missing=True)


def _port_info(conn: Any, port: Any, network_id: str, *, address_groups: bool) -> PortInfo:
    groups = list(conn.network.security_groups())
    names = peer_names(conn, groups, address_groups=address_groups)
    rules: tuple[SecurityRuleSpec, ...] = ()
    for group in groups:
        if group.id in (port.security_group_ids or []):
            rules += rules_of(group, names)
    return PortInfo(
        id=str(id_from_name(port.name)),
        network_id=network_id,
        mac=port.mac_address,
        fixed_ips=tuple(ip["ip_address"] for ip in port.fixed_ips or []),
        security_rules=rules,
        backend_id=port.id,
    )
