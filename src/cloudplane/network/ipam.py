"""IP address management that stays correct under concurrent requests.

The database decides: an address is taken by inserting ``(network_id, ip)`` into
``ip_allocations``, whose primary key refuses a second holder. Each attempt runs in a SAVEPOINT,
so a lost race costs one rolled-back insert and the transaction carries on with the next
candidate.

The first candidates are drawn at random from the whole pool range without reading what is
taken, so an allocation costs the same on an empty network and on one with thousands of ports,
and racing requests rarely pick the same address. Only when those draws keep hitting taken
addresses (a nearly full network) are the taken addresses read, and a candidate drawn at random
from the lowest free ones; that path also tells a full network from a busy one.
"""

from __future__ import annotations

import random

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.errors import Conflict, ValidationFailed
from cloudplane.network.addressing import Subnet, canonical_ip, subnet_of
from cloudplane.network.models import IpAllocation, Network

RANDOM_DRAWS = 3
"""Addresses tried blind before reading the taken ones: at most 1 in 8 allocations on a network
half full needs the read, and a network under 10% full almost never does."""

CANDIDATES = 16
"""How many of the lowest free addresses a request picks its candidate from, once it reads."""

_random = random.SystemRandom()
"""Not seeded from the process start: replicas started together must not draw alike."""

MAX_ATTEMPTS = 64
"""Lost races before giving up; each loss means another request got an address."""


class AddressesExhausted(Conflict):
    """409 ``conflict`` with ``details.reason = "ip_addresses_exhausted"``."""

    def __init__(self, network: Network) -> None:
        super().__init__(
            f"network {network.name} ({network.cidr}) has no free address left",
            reason="ip_addresses_exhausted",
            network_id=network.id,
        )


class AddressInUse(Conflict):
    """409 ``conflict`` with ``details.reason = "ip_address_in_use"``."""

    def __init__(self, network: Network, ip: str) -> None:
        super().__init__(
            f"{ip} is already in use on network {network.name}",
            reason="ip_address_in_use",
            network_id=network.id,
            ip=ip,
        )


def network_subnet(network: Network) -> Subnet:
    return subnet_of(network.cidr, network.gateway_ip, network.allocation_pools)


def check_requested_ip(network: Network, requested: str, *, field: str) -> str:
    """The canonical form of ``requested`` if it may be given to a port of ``network``.

    Like Neutron, a requested address may lie outside the pools (they only bound automatic
    allocation) but must be a host address of the network and not its gateway.
    """
    subnet = network_subnet(network)
    address = canonical_ip(requested, field=field)
    if not subnet.is_host(address) or address == subnet.gateway:
        raise ValidationFailed(
            f"{address} is not an assignable address of network {network.name} ({network.cidr})",
            field=field,
        )
    return str(address)


async def allocate_ip(
    session: AsyncSession,
    network: Network,
    *,
    port_id: str | None = None,
    floating_ip_id: str | None = None,
    requested: str | None = None,
    first_draw: str | None = None,
) -> str:
    """Take an address of ``network`` for a port or a floating IP and return it.

    ``requested`` must already be checked with ``check_requested_ip``; when someone holds it the
    answer is ``AddressInUse``. Otherwise a free pool address is taken, or ``AddressesExhausted``
    raised when there is none; ``first_draw`` (from ``draw_address``) is the first one tried, so
    a caller can store it before it is taken and rewrite it only when another was taken.
    """
    if requested is not None:
        if not await _try_take(session, network.id, requested, port_id, floating_ip_id):
            raise AddressInUse(network, requested)
        return requested
    subnet = network_subnet(network)
    known_taken: set[str] = set()
    for draw in range(RANDOM_DRAWS):
        candidate = (
            first_draw
            if draw == 0 and first_draw is not None
            else subnet.random_pool_address(_random)
        )
        if await _try_take(session, network.id, candidate, port_id, floating_ip_id):
            return candidate
        known_taken.add(candidate)
    for _ in range(MAX_ATTEMPTS):
        known_taken |= await taken_addresses(session, network.id)
        candidates = subnet.free_addresses(known_taken, limit=CANDIDATES)
        if not candidates:
            raise AddressesExhausted(network)
        candidate = _random.choice(candidates)
        if await _try_take(session, network.id, candidate, port_id, floating_ip_id):
            return candidate
        known_taken.add(candidate)
    raise Conflict(
        f"network {network.name} is too busy to allocate an address; retry",
        reason="ip_allocation_contended",
        network_id=network.id,
    )


def draw_address(network: Network) -> str:
    """A pool address of ``network`` drawn at random, taken or not (see ``allocate_ip``)."""
    return network_subnet(network).random_pool_address(_random)


async def taken_addresses(session: AsyncSession, network_id: str) -> set[str]:
    rows = await session.scalars(
        select(IpAllocation.ip).where(IpAllocation.network_id == network_id)
    )
    return set(rows.all())


async def release_port_addresses(session: AsyncSession, port_id: str) -> None:
    await session.execute(delete(IpAllocation).where(IpAllocation.port_id == port_id))


async def release_floating_address(session: AsyncSession, floating_ip_id: str) -> None:
    await session.execute(delete(IpAllocation).where(IpAllocation.floating_ip_id == floating_ip_id))


async def _try_take(
    session: AsyncSession,
    network_id: str,
    ip: str,
    port_id: str | None,
    floating_ip_id: str | None,
) -> bool:
    try:
        async with session.begin_nested():
            session.add(
                IpAllocation(
                    network_id=network_id, ip=ip, port_id=port_id, floating_ip_id=floating_ip_id
                )
            )
    except IntegrityError:
        return False
    return True
