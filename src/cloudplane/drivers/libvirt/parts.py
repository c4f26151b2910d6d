"""What the compute, storage and network halves of the libvirt driver share."""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import libvirt

from cloudplane.drivers.libvirt.connection import HostConnection
from cloudplane.drivers.libvirt.domain_xml import NetworkInterface
from cloudplane.drivers.libvirt.network_xml import DhcpHost
from cloudplane.drivers.libvirt.options import LibvirtOptions
from cloudplane.drivers.libvirt.peer_sets import PeerSets
from cloudplane.drivers.network_contract import FloatingIpInfo, InterfaceSpec, SecurityRuleSpec

_T = TypeVar("_T")


def host_path(path: str) -> str:
    """``path`` made absolute against this process's directory: libvirt and QEMU resolve a
    relative path against their own, so a relative data directory (the default ``./var``) would
    point elsewhere on the host."""
    return os.path.abspath(path)


class LibvirtParts(abc.ABC):
    """The connection and options every half uses, and the calls one half makes on another.

    Methods ending in ``_blocking`` take an open connection and block: run them through
    ``self._host.call``.
    """

    _host: HostConnection
    _options: LibvirtOptions
    _virt_type: str = "qemu"
    _hypervisor_host: str | None = None
    _peer_sets: PeerSets | None = None
    """Where groups' peers are kept; None without the ``group_peers`` capability."""

    @abc.abstractmethod
    def _volume_path_blocking(self, connection: libvirt.virConnect, volume_id: str) -> str:
        """The file of volume ``volume_id``; ``ResourceNotFound("volume", …)`` when unknown."""

    @abc.abstractmethod
    def _plug_blocking(
        self, connection: libvirt.virConnect, interface: InterfaceSpec
    ) -> NetworkInterface:
        """Make sure the interface's port exists; return the domain's NIC for it."""

    @abc.abstractmethod
    def _prepare_to_boot(
        self, connection: libvirt.virConnect, domain: libvirt.virDomain
    ) -> libvirt.virDomain:
        """The domain with its interfaces' filters in place and what they name on the host,
        ready to start (redefined when an interface lacked its filter)."""

    @abc.abstractmethod
    def _domain(self, connection: libvirt.virConnect, server_id: str) -> libvirt.virDomain:
        """The server's domain; ``ServerNotFound`` when there is none."""

    @abc.abstractmethod
    async def _changing(self, doing: str, function: Callable[..., _T], *args: Any) -> _T:
        """``self._host.call``, one change to networks, ports, filters and floating IPs at a
        time, across the processes sharing the state directory."""

    @abc.abstractmethod
    def _find_port(
        self, connection: libvirt.virConnect, port_id: str
    ) -> tuple[str, DhcpHost] | None:
        """The port's network id and DHCP host; None when the port is unknown."""

    @abc.abstractmethod
    def _unmap_blocking(self, unmapped: Callable[[FloatingIpInfo], bool]) -> None:
        """Remove the floating-IP mappings ``unmapped`` picks (none where there are none)."""

    @abc.abstractmethod
    def _all_ports(self, connection: libvirt.virConnect) -> list[tuple[str, DhcpHost]]:
        """Every port of cloudplane's networks, with its network's id."""

    @abc.abstractmethod
    def _all_rules(self, connection: libvirt.virConnect) -> dict[str, tuple[SecurityRuleSpec, ...]]:
        """The rules of every port filter of this driver, by port id."""

    @abc.abstractmethod
    def _find_filter(
        self, connection: libvirt.virConnect, port_id: str
    ) -> libvirt.virNWFilter | None:
        """The port's filter; None when it has none (or ports are not filtered here)."""

    @abc.abstractmethod
    def _filter_xml(
        self,
        port_id: str,
        ip: str,
        rules: Sequence[SecurityRuleSpec],
        uuid: str | None,
        members: dict[str, tuple[str, ...]],
    ) -> str:
        """The port's filter (``filter_xml.port_filter_xml``), listing ``members`` where it
        lists a group's members."""

    @abc.abstractmethod
    def _ready_sets(self, rules: Sequence[SecurityRuleSpec]) -> dict[str, tuple[str, ...]]:
        """Make the sets a filter of ``rules`` names exist and hold the members; returns the
        members of the groups it lists."""

    @abc.abstractmethod
    def _retire_pair_sets(
        self,
        connection: libvirt.virConnect,
        former_rules: Sequence[SecurityRuleSpec],
        rules: Sequence[SecurityRuleSpec] = (),
    ) -> None:
        """Destroy the sets of pairs of ``former_rules`` (a filter's rules before it changed
        to ``rules``, or went) that no port filter names any more."""
