"""Networks on libvirt: cloudplane networks as libvirt networks, ports as static DHCP hosts,
security groups as network filters.

A network is ``<prefix>net-<id>``: isolated (no forwarding) unless the driver is set to NAT, with
its gateway address on the bridge and DHCP over its allocation pools. A port is a static DHCP
host entry (its MAC gets its fixed IP) named ``port-<id>``; a server's interface joins the port's
network with the port's MAC. A port's security rules are the nwfilter ``<prefix>port-<id>``
(``filter_xml``), which the interface refers to; redefining it changes the host's firewall rules
of running guests at once. libvirt's test hypervisor has no network filters, so there the
``security_groups`` capability is off. The peers of security groups are ipsets on a local host
(``peer_sets``), which the filters name; without ``ipset`` (or on a remote host) the
``group_peers`` capability is off; the groups' peers are in ``group_peers``, floating IPs in
``floating_ips``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import libvirt

from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import DriverError, ResourceNotFound, Unsupported
from cloudplane.drivers.libvirt.connection import is_missing, start_unless_running
from cloudplane.drivers.libvirt.domain_xml import (
    NetworkInterface,
    port_filters_of,
    unfiltered_nics,
    with_port_filters,
)
from cloudplane.drivers.libvirt.filter_xml import (
    drops_spoofed_traffic,
    port_filter_xml,
    rules_of_filter,
)
from cloudplane.drivers.libvirt.network_xml import (
    DhcpHost,
    NetworkDefinition,
    dhcp_hosts,
    has_dhcp,
    network_cidr,
)
from cloudplane.drivers.libvirt.parts import LibvirtParts
from cloudplane.drivers.network_contract import (
    InterfaceSpec,
    NetworkDriver,
    NetworkInfo,
    NetworkSpec,
    PortInfo,
    PortSpec,
    SecurityRuleSpec,
)
from cloudplane.kit.process_lock import exclusive

_HOST_SECTION = libvirt.VIR_NETWORK_SECTION_IP_DHCP_HOST

_T = TypeVar("_T")


class LibvirtNetwork(LibvirtParts, NetworkDriver):
    """The ``NetworkDriver`` half of ``LibvirtDriver``."""

    _nat: bool = False
    _network_changes: asyncio.Lock | None = None

    async def create_network(self, spec: NetworkSpec) -> NetworkInfo:
        return await self._changing(
            f"creating network {spec.id}", self._create_network_blocking, spec
        )

    async def delete_network(self, network_id: str) -> None:
        await self._changing(
            f"deleting network {network_id}", self._delete_network_blocking, network_id
        )

    async def list_networks(self) -> list[NetworkInfo]:
        return await self._host.call("listing networks", self._list_networks_blocking)

    async def create_port(self, spec: PortSpec) -> PortInfo:
        return await self._changing(f"creating port {spec.id}", self._create_port_blocking, spec)

    async def delete_port(self, port_id: str) -> None:
        await self._changing(f"deleting port {port_id}", self._delete_port_blocking, port_id)

    async def list_ports(self) -> list[PortInfo]:
        return await self._host.call("listing ports", self._list_ports_blocking)

    async def apply_security_groups(self, port_id: str, rules: Sequence[SecurityRuleSpec]) -> None:
        if not self._filters_ports:
            raise Unsupported(Capability.SECURITY_GROUPS)
        await self._changing(
            f"applying the rules of port {port_id}", self._apply_rules_blocking, port_id, rules
        )

    async def _bring_filters_up_to_date(self) -> None:
        """Redefine each port filter an older version wrote without the drop of spoofed
        traffic, with the same rules; libvirt applies it to running guests at once."""
        if self._filters_ports:
            await self._changing("bringing port filters up to date", self._update_filters_blocking)

    @property
    def _filters_ports(self) -> bool:
        """Whether ports get network filters (not on the test hypervisor, which has none)."""
        return not self._host.is_test_driver

    async def _changing(self, doing: str, function: Callable[..., _T], *args: Any) -> _T:
        """``self._host.call``, one change to networks, ports and filters at a time, in this
        process and in every other process sharing the state directory.

        Their steps (look up, define, start; find a DHCP host, add it) race with themselves:
        two operations building one port, or two ports' operations creating their network at
        its first use, would both find it missing and the second define would fail.
        """
        if self._network_changes is None:
            self._network_changes = asyncio.Lock()
        async with self._network_changes, exclusive(self._options.network_changes_dir):
            return await self._host.call(doing, function, *args)

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
        else:
            start_unless_running(network)
        return self._network_info(spec.id, network)

    def _delete_network_blocking(self, connection: libvirt.virConnect, network_id: str) -> None:
        network = self._find_network(connection, network_id)
        if network is None:
            return
        # The ports' filters first: one a guest still uses cannot go, and then the call fails
        # with the network still there to be deleted again.
        ports = dhcp_hosts(self._config_xml(network))
        for host in ports:
            self._undefine_filter(connection, host.port_id)
        port_ids = {host.port_id for host in ports}
        self._unmap_blocking(lambda mapping: mapping.port_id in port_ids)
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
            network_id, existing_host = existing
            if self._filters_ports and self._find_filter(connection, spec.id) is None:
                self._define_filter(connection, spec.id, existing_host.ip, spec.security_rules)
            rules = self._rules_blocking(connection, spec.id)
            return _port_info(network_id, existing_host, rules=rules)
        network = self._find_network(connection, spec.network_id)
        if network is None:
            raise ResourceNotFound("network", spec.network_id)
        if len(spec.fixed_ips) != 1 or not has_dhcp(network.XMLDesc(0)):
            raise DriverError(
                "a port on the libvirt backend has exactly one fixed IP, on a network with DHCP",
                code="not_supported",
            )
        host = DhcpHost(port_id=spec.id, mac=spec.mac, ip=spec.fixed_ips[0])
        # The filter first: a port is listed once its DHCP host exists, and then it is whole.
        if self._filters_ports:
            self._define_filter(connection, spec.id, host.ip, spec.security_rules)
        flags = libvirt.VIR_NETWORK_UPDATE_AFFECT_CONFIG
        if network.isActive():
            flags |= libvirt.VIR_NETWORK_UPDATE_AFFECT_LIVE
        network.update(
            libvirt.VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, _HOST_SECTION, -1, host.xml(), flags
        )
        return _port_info(spec.network_id, host, rules=spec.security_rules)

    def _delete_port_blocking(self, connection: libvirt.virConnect, port_id: str) -> None:
        self._unmap_blocking(lambda mapping: mapping.port_id == port_id)
        found = self._find_port(connection, port_id)
        if found is not None:
            self._delete_dhcp_host(connection, *found)
        # Also when the port is gone: a create that stopped after its filter leaves only that.
        self._undefine_filter(connection, port_id)

    def _undefine_filter(self, connection: libvirt.virConnect, port_id: str) -> None:
        """Remove the port's filter, if any, and the sets of pairs only it named."""
        port_filter = self._find_filter(connection, port_id)
        if port_filter is not None:
            rules = rules_of_filter(port_filter.XMLDesc(0))
            port_filter.undefine()
            self._retire_pair_sets(connection, rules)

    def _delete_dhcp_host(
        self, connection: libvirt.virConnect, network_id: str, host: DhcpHost
    ) -> None:
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
        rules = self._all_rules(connection)
        return [
            _port_info(network_id, host, rules=rules.get(host.port_id, ()))
            for network_id, host in self._all_ports(connection)
        ]

    def _apply_rules_blocking(
        self, connection: libvirt.virConnect, port_id: str, rules: Sequence[SecurityRuleSpec]
    ) -> None:
        found = self._find_port(connection, port_id)
        if found is None:
            raise ResourceNotFound("port", port_id)
        _network_id, host = found
        # libvirt applies a redefined filter to the interfaces using it at once.
        self._define_filter(connection, port_id, host.ip, rules)

    def _update_filters_blocking(self, connection: libvirt.virConnect) -> None:
        addresses = {host.port_id: host.ip for _network_id, host in self._all_ports(connection)}
        for port_filter in connection.listAllNWFilters(0):
            port_id = self._options.port_id_of_filter(port_filter.name())
            if port_id is None or port_id not in addresses:
                continue  # not ours, or a port half deleted: its delete removes the filter
            definition = port_filter.XMLDesc(0)
            if not drops_spoofed_traffic(definition):
                rules = rules_of_filter(definition)
                self._define_filter(connection, port_id, addresses[port_id], rules)

    def _plug_blocking(
        self, connection: libvirt.virConnect, interface: InterfaceSpec
    ) -> NetworkInterface:
        self._create_port_blocking(
            connection,
            PortSpec(
                id=interface.port_id,
                network_id=interface.network_id,
                mac=interface.mac,
                fixed_ips=interface.fixed_ips,
            ),
        )
        return NetworkInterface(
            network=self._options.network_name(interface.network_id),
            mac=interface.mac,
            port_filter=(
                self._options.port_filter_name(interface.port_id) if self._filters_ports else None
            ),
        )

    def _define_filter(
        self,
        connection: libvirt.virConnect,
        port_id: str,
        ip: str,
        rules: Sequence[SecurityRuleSpec],
    ) -> None:
        existing = self._find_filter(connection, port_id)
        # Redefining under the same name needs the same UUID, or libvirt refuses.
        uuid = existing.UUIDString() if existing is not None else None
        former_rules = rules_of_filter(existing.XMLDesc(0)) if existing is not None else ()
        members = self._ready_sets(rules)
        connection.nwfilterDefineXML(self._filter_xml(port_id, ip, rules, uuid, members))
        self._retire_pair_sets(connection, former_rules, rules)

    def _filter_xml(
        self,
        port_id: str,
        ip: str,
        rules: Sequence[SecurityRuleSpec],
        uuid: str | None,
        members: dict[str, tuple[str, ...]],
    ) -> str:
        """The port's filter (``port_filter_xml``), listing ``members`` where it lists them."""
        return port_filter_xml(
            self._options.port_filter_name(port_id),
            rules,
            address=ip,
            uuid=uuid,
            peer_sets=self._peer_sets,
            members=members,
        )

    def _prepare_to_boot(
        self, connection: libvirt.virConnect, domain: libvirt.virDomain
    ) -> libvirt.virDomain:
        """The domain, made ready to start where ports are filtered: each interface refers to
        its port's filter, and the peer sets those filters name exist."""
        if not self._filters_ports:
            return domain
        domain, definition = self._filter_unfiltered_nics(connection, domain)
        if self._peer_sets is not None:
            # A host restart empties the kernel's sets, and libvirt cannot start a guest whose
            # filter names a missing set. The groups' sets stay empty until the next
            # set_group_peers, and the sets of pairs follow them.
            for filter_name in port_filters_of(definition):
                port_id = self._options.port_id_of_filter(filter_name)
                if port_id is not None:
                    self._ready_sets(self._rules_blocking(connection, port_id))
        return domain

    def _filter_unfiltered_nics(
        self, connection: libvirt.virConnect, domain: libvirt.virDomain
    ) -> tuple[libvirt.virDomain, str]:
        """Give an interface with no filter its port's (a server defined before ports were
        filtered here): unfiltered traffic must not pass for filtered. A port without a filter
        gets one that admits only what its address needs, until the reconciler pushes the
        port's rules. Returns the domain and its persistent definition, as changed."""
        persistent = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        unfiltered = unfiltered_nics(persistent)
        if not unfiltered:
            return domain, persistent
        filters: dict[str, str] = {}
        ports = {
            (self._options.network_name(network_id), host.mac): host
            for network_id, host in self._all_ports(connection)
        }
        for nic in unfiltered:
            host = ports.get((nic.network, nic.mac))
            if host is None:
                continue  # not on one of cloudplane's networks
            if self._find_filter(connection, host.port_id) is None:
                self._define_filter(connection, host.port_id, host.ip, ())
            filters[nic.mac] = self._options.port_filter_name(host.port_id)
        if not filters:
            return domain, persistent
        definition = with_port_filters(persistent, filters)
        return connection.defineXML(definition), definition

    def _rules_blocking(
        self, connection: libvirt.virConnect, port_id: str
    ) -> tuple[SecurityRuleSpec, ...]:
        port_filter = self._find_filter(connection, port_id)
        return rules_of_filter(port_filter.XMLDesc(0)) if port_filter is not None else ()

    def _all_rules(self, connection: libvirt.virConnect) -> dict[str, tuple[SecurityRuleSpec, ...]]:
        if not self._filters_ports:
            return {}
        rules = {}
        for port_filter in connection.listAllNWFilters(0):
            port_id = self._options.port_id_of_filter(port_filter.name())
            if port_id is not None:
                rules[port_id] = rules_of_filter(port_filter.XMLDesc(0))
        return rules

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

    def _find_filter(
        self, connection: libvirt.virConnect, port_id: str
    ) -> libvirt.virNWFilter | None:
        if not self._filters_ports:
            return None
        try:
            return connection.nwfilterLookupByName(self._options.port_filter_name(port_id))
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


def _port_info(
    network_id: str, host: DhcpHost, *, rules: Sequence[SecurityRuleSpec] = ()
) -> PortInfo:
    return PortInfo(
        id=host.port_id,
        network_id=network_id,
        mac=host.mac,
        fixed_ips=(host.ip,),
        security_rules=tuple(rules),
        backend_id=f"dhcp-host:{host.mac}",
    )
