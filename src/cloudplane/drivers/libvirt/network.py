"""Networks on libvirt: cloudplane networks as libvirt networks, ports as static DHCP hosts.

A network is ``<prefix>net-<id>``: isolated (no forwarding) unless the driver is set to NAT, with
its gateway address on the bridge and DHCP over its allocation pools. A port is a static DHCP
host entry (its MAC gets its fixed IP) named ``port-<id>``; a server's interface joins the port's
network with the port's MAC. Floating IPs and security groups are not implemented on this
backend: the capabilities are off, so the API answers 501 before calling these.
"""

from __future__ import annotations

from collections.abc import Sequence

import libvirt

from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import DriverError, ResourceNotFound, Unsupported
from cloudplane.drivers.libvirt.connection import is_missing
from cloudplane.drivers.libvirt.network_xml import (
    DhcpHost,
    NetworkDefinition,
    dhcp_hosts,
    has_dhcp,
    network_cidr,
)
from cloudplane.drivers.libvirt.parts import LibvirtParts
from cloudplane.drivers.network_contract import (
    FloatingIpInfo,
    FloatingIpSpec,
    InterfaceSpec,
    NetworkDriver,
    NetworkInfo,
    NetworkSpec,
    PortInfo,
    PortSpec,
    SecurityRuleSpec,
)

_HOST_SECTION = libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST


class LibvirtNetwork(LibvirtParts, NetworkDriver):
    """The ``NetworkDriver`` half of ``LibvirtDriver``."""

    _nat: bool = False

    async def create_network(self, spec: NetworkSpec) -> NetworkInfo:
        return await self._host.call(
            f"creating network {spec.id}", self._create_network_blocking, spec
        )

    async def delete_network(self, network_id: str) -> None:
        await self._host.call(
            f"deleting network {network_id}", self._delete_network_blocking, network_id
        )

    async def list_networks(self) -> list[NetworkInfo]:
        return await self._host.call("listing networks", self._list_networks_blocking)

    async def create_port(self, spec: PortSpec) -> PortInfo:
        return await self._host.call(f"creating port {spec.id}", self._create_port_blocking, spec)

    async def delete_port(self, port_id: str) -> None:
        await self._host.call(f"deleting port {port_id}", self._delete_port_blocking, port_id)

    async def list_ports(self) -> list[PortInfo]:
        return await self._host.call("listing ports", self._list_ports_blocking)

    async def associate_floating_ip(self, spec: FloatingIpSpec) -> FloatingIpInfo:
        raise Unsupported(Capability.FLOATING_IPS)

    async def disassociate_floating_ip(self, floating_ip_id: str) -> None:
        """Nothing is ever mapped on this backend, so there is nothing to remove."""

    async def list_floating_ips(self) -> list[FloatingIpInfo]:
        return []

    async def apply_security_groups(self, port_id: str, rules: Sequence[SecurityRuleSpec]) -> None:
        raise Unsupported(Capability.SECURITY_GROUPS)

    # --- blocking halves -----------------------------------------------------------------------

    def _create_network_blocking(
        self, connection: libvirt.virConnect, spec: NetworkSpec
    ) -> NetworkInfo:
        name = self._options.network_name(spec.id)
        network = self._find_network(connection, spec.id)
        if network is None:
            definition = NetworkDefinition(
                name=name,
                cidr=spec.cidr,
                gateway_ip=spec.gateway_ip,
                ranges=tuple((pool.start, pool.end) for pool in spec.allocation_pools),
                nat=self._nat,
            )
            network = connection.networkDefineXML(definition.xml())
            try:
                network.create()
                network.setAutostart(1)
            except libvirt.libvirtError:
                network.undefine()
                raise
        elif not network.isActive():
            network.create()
        return self._network_info(spec.id, network)

    def _delete_network_blocking(self, connection: libvirt.virConnect, network_id: str) -> None:
        network = self._find_network(connection, network_id)
        if network is None:
            return
        if network.isActive():
            network.destroy()
        network.undefine()

    def _list_networks_blocking(self, connection: libvirt.virConnect) -> list[NetworkInfo]:
        found = []
        for network in connection.listAllNetworks(0):
            network_id = self._options.network_id_of(network.name())
            if network_id is not None:
                found.append(self._network_info(network_id, network))
        return found

    def _create_port_blocking(self, connection: libvirt.virConnect, spec: PortSpec) -> PortInfo:
        existing = self._find_port(connection, spec.id)
        if existing is not None:
            return _port_info(*existing)
        network = self._find_network(connection, spec.network_id)
        if network is None:
            raise ResourceNotFound("network", spec.network_id)
        if len(spec.fixed_ips) != 1 or not has_dhcp(network.XMLDesc(0)):
            raise DriverError(
                "a port on the libvirt backend has exactly one fixed IP, on a network with DHCP",
                code="not_supported",
            )
        host = DhcpHost(port_id=spec.id, mac=spec.mac, ip=spec.fixed_ips[0])
        flags = libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG
        if network.isActive():
            flags |= libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE
        network.update(
            libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, _HOST_SECTION, -1, host.xml(), flags
        )
        return _port_info(spec.network_id, host)

    def _delete_port_blocking(self, connection: libvirt.virConnect, port_id: str) -> None:
        found = self._find_port(connection, port_id)
        if found is None:
            return
        network_id, host = found
        network = self._find_network(connection, network_id)
        if network is None:
            return
        flags = libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG
        if network.isActive():
            flags |= libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE
        network.update(
            libvirt.VIR_NETWORK_UPDATE_COMMAND_DELETE, _HOST_SECTION, -1, host.xml(), flags
        )

    def _list_ports_blocking(self, connection: libvirt.virConnect) -> list[PortInfo]:
        return [_port_info(network_id, host) for network_id, host in self._all_ports(connection)]

    def _plug_blocking(self, connection: libvirt.virConnect, interface: InterfaceSpec) -> str:
        self._create_port_blocking(
            connection,
            PortSpec(
                id=interface.port_id,
                network_id=interface.network_id,
                mac=interface.mac,
                fixed_ips=interface.fixed_ips,
            ),
        )
        return self._options.network_name(interface.network_id)

    # --- lookups -------------------------------------------------------------------------------

    def _find_network(
        self, connection: libvirt.virConnect, network_id: str
    ) -> libvirt.virNetwork | None:
        try:
            return connection.networkLookupByName(self._options.network_name(network_id))
        except libvirt.libvirtError as exc:
            if is_missing(exc):
                return None
            raise

    def _find_port(
        self, connection: libvirt.virConnect, port_id: str
    ) -> tuple[str, DhcpHost] | None:
        for network_id, host in self._all_ports(connection):
            if host.port_id == port_id:
                return network_id, host
        return None

    def _all_ports(self, connection: libvirt.virConnect) -> list[tuple[str, DhcpHost]]:
        ports: list[tuple[str, DhcpHost]] = []
        for network in connection.listAllNetworks(0):
            network_id = self._options.network_id_of(network.name())
            if network_id is not None:
                # The persistent definition: it holds every port, running network or not.
                config = self._config_xml(network)
                ports.extend((network_id, host) for host in dhcp_hosts(config))
        return ports

    def _config_xml(self, network: libvirt.virNetwork) -> str:
        """The persistent definition (on the test hypervisor, which has only one, the XML)."""
        flags = 0 if self._host.is_test_driver else libvirt.VIR_NETWORK_XML_INACTIVE
        xml: str = network.XMLDesc(flags)
        return xml

    def _network_info(self, network_id: str, network: libvirt.virNetwork) -> NetworkInfo:
        cidr = network_cidr(self._config_xml(network)) or ""
        return NetworkInfo(id=network_id, cidr=cidr, backend_id=network.UUIDString())


def _port_info(network_id: str, host: DhcpHost) -> PortInfo:
    return PortInfo(
        id=host.port_id,
        network_id=network_id,
        mac=host.mac,
        fixed_ips=(host.ip,),
        backend_id=f"dhcp-host:{host.mac}",
    )
