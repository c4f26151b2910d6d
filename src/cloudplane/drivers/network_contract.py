"""The networking half of the driver contract: networks, ports, floating IPs, security groups.

Like the compute half, every method is idempotent by the ids it is given and states its
postconditions; the contract test suite checks each of them against every driver. cloudplane's
database decides every address: a backend never picks an IP or a MAC itself, it applies the
ones it is given.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InterfaceSpec:
    """A server's network interface: the port that backs it, its MAC and fixed IPs.

    The port has been, or is being, created with ``create_port``; a backend whose
    ``create_server`` finds it missing creates it as ``create_port`` would (same id, MAC, IPs).
    """

    port_id: str
    network_id: str
    mac: str
    fixed_ips: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AddressRange:
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    """A network with one subnet. ``id`` is cloudplane's id and is the key."""

    id: str
    name: str
    cidr: str
    gateway_ip: str | None
    allocation_pools: tuple[AddressRange, ...]
    external: bool = False
    shared: bool = False


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    id: str
    cidr: str
    backend_id: str | None = None


class RuleDirection(enum.StrEnum):
    INGRESS = "ingress"
    EGRESS = "egress"


class RuleProtocol(enum.StrEnum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"
    ANY = "any"


class Ethertype(enum.StrEnum):
    IPV4 = "IPv4"
    IPV6 = "IPv6"


@dataclass(frozen=True, slots=True)
class SecurityRuleSpec:
    """One allow rule. Traffic that no rule of a port allows is dropped.

    ``port_min``/``port_max`` are set only for tcp and udp (both or neither). The peer is
    ``remote_cidr``, or the ports of security group ``remote_group_id``, or anyone when both
    are None. cloudplane tells the backend which addresses a group stands for with
    ``set_group_peers``; with a peer group the backend has not been told of, the rule admits
    nobody.
    """

    id: str
    direction: RuleDirection
    protocol: RuleProtocol
    ethertype: Ethertype
    port_min: int | None = None
    port_max: int | None = None
    remote_cidr: str | None = None
    remote_group_id: str | None = None


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A port: its network, MAC and fixed IPs (decided by cloudplane), and its rules."""

    id: str
    network_id: str
    mac: str
    fixed_ips: tuple[str, ...]
    device_id: str | None = None
    security_rules: tuple[SecurityRuleSpec, ...] = ()
    """Applied only by backends with the ``security_groups`` capability."""


@dataclass(frozen=True, slots=True)
class PortInfo:
    id: str
    network_id: str
    mac: str
    fixed_ips: tuple[str, ...]
    security_rules: tuple[SecurityRuleSpec, ...] = ()
    backend_id: str | None = None


@dataclass(frozen=True, slots=True)
class GroupPeers:
    """The addresses that rules naming security group ``id`` as their peer admit: the fixed
    IPs (IPv4 and IPv6 alike) of the group's live ports."""

    id: str
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FloatingIpSpec:
    """Map public address ``ip`` onto ``fixed_ip`` of port ``port_id``."""

    id: str
    ip: str
    network_id: str
    port_id: str
    fixed_ip: str


@dataclass(frozen=True, slots=True)
class FloatingIpInfo:
    id: str
    ip: str
    port_id: str
    fixed_ip: str
    backend_id: str | None = None


class NetworkDriver(abc.ABC):
    """A backend that builds networks and ports and maps floating IPs onto them.

    Unknown ids: calls that need an existing network or port raise ``ResourceNotFound`` with
    ``kind`` ``"network"`` or ``"port"``; deletes of unknown ids succeed.
    """

    @abc.abstractmethod
    async def create_network(self, spec: NetworkSpec) -> NetworkInfo:
        """Build the network. Afterwards ports can be created on it and it is listed.

        Calling it again for an existing id returns that network unchanged.
        """

    @abc.abstractmethod
    async def delete_network(self, network_id: str) -> None:
        """Remove the network together with any ports still on it (and their floating-IP
        mappings). Deleting an unknown network succeeds."""

    @abc.abstractmethod
    async def list_networks(self) -> list[NetworkInfo]:
        """Every network the backend holds for cloudplane, in one call."""

    @abc.abstractmethod
    async def create_port(self, spec: PortSpec) -> PortInfo:
        """Build the port on its network with exactly the MAC and fixed IPs of ``spec`` and,
        where security groups are supported, exactly its rules.

        Raises ``ResourceNotFound("network", …)`` when the network does not exist. Calling it
        again for an existing id returns that port unchanged.
        """

    @abc.abstractmethod
    async def delete_port(self, port_id: str) -> None:
        """Remove the port and any floating-IP mapping onto it. Deleting an unknown port
        succeeds."""

    @abc.abstractmethod
    async def list_ports(self) -> list[PortInfo]:
        """Every port the backend holds for cloudplane, with its current rules, in one call."""

    @abc.abstractmethod
    async def associate_floating_ip(self, spec: FloatingIpSpec) -> FloatingIpInfo:
        """Map the floating IP onto the port's fixed IP. Afterwards it is listed with that port.

        A floating IP already mapped elsewhere is moved; repeating a call is a no-op. Raises
        ``ResourceNotFound("port", …)`` for an unknown port and ``DriverError`` with code
        ``invalid_address`` when ``fixed_ip`` is not one of the port's addresses.
        """

    @abc.abstractmethod
    async def disassociate_floating_ip(self, floating_ip_id: str) -> None:
        """Remove the floating IP's mapping. Unknown or unmapped floating IPs succeed."""

    @abc.abstractmethod
    async def list_floating_ips(self) -> list[FloatingIpInfo]:
        """Every mapped floating IP, in one call."""

    @abc.abstractmethod
    async def apply_security_groups(self, port_id: str, rules: Sequence[SecurityRuleSpec]) -> None:
        """Replace the port's rules with ``rules``; afterwards ``list_ports`` reports exactly
        them. Raises ``ResourceNotFound("port", …)`` for an unknown port and ``Unsupported``
        when the backend lacks the ``security_groups`` capability."""

    @abc.abstractmethod
    async def set_group_peers(self, peers: GroupPeers) -> None:
        """Make ``peers.addresses`` exactly the peers of every rule, on every port, whose
        ``remote_group_id`` is ``peers.id``, without the ports' rules being applied again.

        Afterwards ``list_group_peers`` reports them (in any order). Repeating a call is a
        no-op. Raises ``Unsupported`` when the backend lacks the ``group_peers`` capability.
        """

    @abc.abstractmethod
    async def delete_group_peers(self, group_id: str) -> None:
        """Forget the group's peers: afterwards rules that still name it admit nobody. The
        group is no longer listed, except where a port's rules on the backend still name it:
        there it may stay listed with no addresses until a later delete. Unknown groups
        succeed."""

    @abc.abstractmethod
    async def list_group_peers(self) -> list[GroupPeers]:
        """Every group whose peers were set (and not deleted), in one call; empty without the
        ``group_peers`` capability."""
