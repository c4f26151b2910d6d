"""Subnet arithmetic: validating a network's CIDR, gateway and pools, and finding free addresses.

IPv4 networks are /8 to /30; the network and broadcast addresses are never handed out. IPv6
networks are /64 to /126; the subnet-router anycast address (the first one) is never handed
out. The gateway defaults to the first host and is never in a pool; pools default to every
other host. Addresses are kept in their canonical text form (``ipaddress``'s ``str``), so equal
addresses are equal strings and the database's uniqueness holds.
"""

from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from cloudplane.kit.errors import ValidationFailed

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

PREFIX_LIMITS = {4: (8, 30), 6: (64, 126)}


@dataclass(frozen=True, slots=True)
class AddressPool:
    start: IpAddress
    end: IpAddress

    @property
    def size(self) -> int:
        """How many addresses the pool holds (``len`` cannot say it for an IPv6 /64)."""
        return int(self.end) - int(self.start) + 1

    def __len__(self) -> int:
        return self.size

    def __contains__(self, address: object) -> bool:
        return isinstance(address, type(self.start)) and int(self.start) <= int(address) <= int(
            self.end
        )

    def as_json(self) -> dict[str, str]:
        return {"start": str(self.start), "end": str(self.end)}


@dataclass(frozen=True, slots=True)
class Subnet:
    """A validated network layout: what may be handed out and what never is."""

    network: IpNetwork
    gateway: IpAddress | None
    pools: tuple[AddressPool, ...]

    @property
    def first_host(self) -> IpAddress:
        return self.network.network_address + 1

    @property
    def last_host(self) -> IpAddress:
        if self.network.version == 4:
            return self.network.broadcast_address - 1
        return self.network.broadcast_address

    def is_host(self, address: IpAddress) -> bool:
        """Inside the network and neither its first address nor (IPv4) its broadcast address."""
        return address.version == self.network.version and int(self.first_host) <= int(
            address
        ) <= int(self.last_host)

    def free_addresses(self, taken: Collection[str], *, limit: int) -> list[str]:
        """Up to ``limit`` pool addresses not in ``taken``, lowest first.

        Walks the pools from their start and skips taken ones, so the cost grows with the
        number of addresses in use, not with the size of the network.
        """
        found: list[str] = []
        for pool in self.pools:
            for number in range(int(pool.start), int(pool.end) + 1):
                text = str(self._address(number))
                if text not in taken:
                    found.append(text)
                    if len(found) >= limit:
                        return found
        return found

    def random_pool_address(self, rng: random.Random) -> str:
        """One pool address drawn uniformly from all pools, taken or not.

        Costs the same whatever the size of the network or the number of addresses in use.
        """
        index = rng.randrange(self.pool_size())
        for pool in self.pools:
            if index < pool.size:
                return str(self._address(int(pool.start) + index))
            index -= pool.size
        raise ValueError("the subnet has no pool address")

    def _address(self, number: int) -> IpAddress:
        if self.network.version == 4:
            return ipaddress.IPv4Address(number)
        return ipaddress.IPv6Address(number)

    def pool_size(self) -> int:
        return sum(pool.size for pool in self.pools)


def canonical_ip(text: str, *, field: str) -> IpAddress:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError as exc:
        raise ValidationFailed(f"{text!r} is not an IP address", field=field) from exc


def parse_cidr(text: str, *, field: str = "body.cidr") -> IpNetwork:
    """A network in CIDR form with no host bits set and a prefix this service supports."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        raise ValidationFailed(f"{text!r} is not a valid CIDR: {exc}", field=field) from exc
    shortest, longest = PREFIX_LIMITS[network.version]
    if not shortest <= network.prefixlen <= longest:
        raise ValidationFailed(
            f"IPv{network.version} networks must be /{shortest} to /{longest}, not "
            f"/{network.prefixlen}",
            field=field,
        )
    return network


def plan_subnet(
    cidr: str,
    *,
    gateway_ip: str | None,
    gateway_given: bool,
    pools: Sequence[tuple[str, str]] | None,
) -> Subnet:
    """Validate a new network's addressing; every error is 422 naming the field at fault.

    ``gateway_given`` with ``gateway_ip=None`` means "no gateway"; not given means the first
    host. ``pools=None`` means every host but the gateway.
    """
    network = parse_cidr(cidr)
    subnet = Subnet(network=network, gateway=None, pools=())
    gateway: IpAddress | None = subnet.first_host
    if gateway_given:
        gateway = None if gateway_ip is None else canonical_ip(gateway_ip, field="body.gateway_ip")
    if gateway is not None and not subnet.is_host(gateway):
        raise ValidationFailed(
            f"gateway_ip {gateway} is not a host address of {network}", field="body.gateway_ip"
        )
    subnet = Subnet(network=network, gateway=gateway, pools=())
    planned = _default_pools(subnet) if pools is None else _checked_pools(subnet, pools)
    if not planned:
        raise ValidationFailed(
            f"{network} leaves no address to hand out", field="body.allocation_pools"
        )
    return Subnet(network=network, gateway=gateway, pools=planned)


def subnet_of(cidr: str, gateway_ip: str | None, pools: Sequence[dict[str, Any]]) -> Subnet:
    """The layout of a stored (already validated) network."""
    return Subnet(
        network=ipaddress.ip_network(cidr),
        gateway=ipaddress.ip_address(gateway_ip) if gateway_ip else None,
        pools=tuple(
            AddressPool(ipaddress.ip_address(p["start"]), ipaddress.ip_address(p["end"]))
            for p in pools
        ),
    )


def _default_pools(subnet: Subnet) -> tuple[AddressPool, ...]:
    """Every host, split around the gateway."""
    first, last, gateway = subnet.first_host, subnet.last_host, subnet.gateway
    if gateway is None or not int(first) <= int(gateway) <= int(last):
        return (AddressPool(first, last),)
    pools = []
    if int(gateway) > int(first):
        pools.append(AddressPool(first, gateway - 1))
    if int(gateway) < int(last):
        pools.append(AddressPool(gateway + 1, last))
    return tuple(pools)


def _checked_pools(subnet: Subnet, raw: Sequence[tuple[str, str]]) -> tuple[AddressPool, ...]:
    pools: list[AddressPool] = []
    for index, (start_text, end_text) in enumerate(raw):
        field = f"body.allocation_pools.{index}"
        start = canonical_ip(start_text, field=f"{field}.start")
        end = canonical_ip(end_text, field=f"{field}.end")
        for name, address in (("start", start), ("end", end)):
            if not subnet.is_host(address):
                raise ValidationFailed(
                    f"pool {name} {address} is not a host address of {subnet.network}",
                    field=f"{field}.{name}",
                )
        if int(end) < int(start):
            raise ValidationFailed(f"pool end {end} is before its start {start}", field=field)
        pool = AddressPool(start, end)
        if subnet.gateway is not None and subnet.gateway in pool:
            raise ValidationFailed(
                f"pool {start}-{end} contains the gateway {subnet.gateway}", field=field
            )
        pools.append(pool)
    ordered = sorted(pools, key=lambda pool: int(pool.start))
    for before, after in itertools.pairwise(ordered):
        if int(after.start) <= int(before.end):
            raise ValidationFailed(
                f"pools {before.start}-{before.end} and {after.start}-{after.end} overlap",
                field="body.allocation_pools",
            )
    return tuple(ordered)
