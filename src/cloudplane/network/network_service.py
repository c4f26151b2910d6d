"""Network rules: who sees and uses which network, creation with quota, changes, deletion.

Visibility: a project sees its own networks plus every shared and every external one; admins
see all. Ports go on a project's own or shared networks; external networks are floating-IP
pools. Another project's private network is 404, never 403. Creating or changing ``external``
or ``shared`` is for admins (403 otherwise). The rows are the source of truth and the API
answers at once (201, ``BUILD``); an operation then builds the network on the backend
(``ACTIVE``).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.network_contract import AddressRange, NetworkSpec
from cloudplane.identity.principal import Principal
from cloudplane.identity.quotas import check_quota, lock_quota
from cloudplane.kit.db import LIVE, new_id
from cloudplane.kit.errors import Conflict, Forbidden, NotFound
from cloudplane.network import repository
from cloudplane.network.addressing import plan_subnet
from cloudplane.network.models import Network, Port
from cloudplane.network.repository import RowLock
from cloudplane.network.schemas import NetworkCreate, NetworkStatus, NetworkUpdate
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime

RESOURCE = "network"


def can_see(principal: Principal, network: Network) -> bool:
    return (
        principal.is_admin
        or network.project_id == principal.project_id
        or network.shared
        or network.external
    )


def can_use(principal: Principal, network: Network) -> bool:
    """Whether the principal may put ports on the network."""
    return principal.is_admin or network.project_id == principal.project_id or network.shared


def can_change(principal: Principal, network: Network) -> bool:
    return principal.is_admin or network.project_id == principal.project_id


async def get_network(
    session: AsyncSession,
    principal: Principal,
    network_id: str,
    *,
    include_deleted: bool = False,
    lock: RowLock = RowLock.NONE,
) -> Network:
    """A network the principal may see; 404 otherwise. ``include_deleted`` is for admins."""
    network = await repository.get_row(
        session,
        Network,
        network_id,
        include_deleted=include_deleted and principal.is_admin,
        lock=lock,
    )
    if network is None or not can_see(principal, network):
        raise NotFound(RESOURCE, network_id)
    return network


async def get_usable_network(
    session: AsyncSession, principal: Principal, network_id: str
) -> Network:
    """A network the principal may put a port on, share-locked so it cannot be deleted under
    the port being made. 404 when invisible; 403 for an external network that is not shared."""
    network = await get_network(session, principal, network_id, lock=RowLock.SHARE)
    if not can_use(principal, network):
        raise Forbidden(
            f"network {network.name} is an external network; ports on it are for admins"
        )
    return network


async def create_network(
    session: AsyncSession, runtime: Runtime, principal: Principal, body: NetworkCreate
) -> Network:
    """Validate the addressing, check the ``networks`` quota under the project's lock, store
    the network (``BUILD``) and start building it. A taken name is 409."""
    if (body.external or body.shared) and not principal.is_admin:
        raise Forbidden("only admins may create external or shared networks")
    pools = None
    if body.allocation_pools is not None:
        pools = [(pool.start, pool.end) for pool in body.allocation_pools]
    subnet = plan_subnet(
        body.cidr,
        gateway_ip=body.gateway_ip,
        gateway_given="gateway_ip" in body.model_fields_set,
        pools=pools,
    )
    quota = await lock_quota(session, principal.project_id)
    check_quota(
        quota, await repository.network_usage(session, principal.project_id), {"networks": 1}
    )
    network = Network(
        id=new_id(),
        project_id=principal.project_id,
        name=body.name,
        description=body.description,
        cidr=str(subnet.network),
        ip_version=subnet.network.version,
        gateway_ip=str(subnet.gateway) if subnet.gateway is not None else None,
        allocation_pools=[pool.as_json() for pool in subnet.pools],
        external=body.external,
        shared=body.shared,
        status=NetworkStatus.BUILD.value,
    )
    session.add(network)
    await _flush_or_conflict(session, network.name)
    await start_operation(
        session, runtime, principal, action="create", resource_type=RESOURCE, resource_id=network.id
    )
    return network


async def update_network(
    session: AsyncSession, principal: Principal, network_id: str, body: NetworkUpdate
) -> Network:
    """Rename or describe a network; ``external``/``shared`` are for admins and cannot be
    turned off while floating IPs or other projects' ports depend on them (409)."""
    network = await get_network(session, principal, network_id, lock=RowLock.UPDATE)
    if not can_change(principal, network):
        raise Forbidden(f"network {network.name} belongs to another project")
    if (body.external is not None or body.shared is not None) and not principal.is_admin:
        raise Forbidden("only admins may change whether a network is external or shared")
    if body.external is False and network.external:
        in_use = await repository.live_floating_ips_on_network(session, network.id)
        if in_use:
            raise Conflict(
                f"network {network.name} still has {in_use} floating IPs",
                status=network.status,
                floating_ips=in_use,
            )
    if body.shared is False and network.shared:
        foreign = await _foreign_ports(session, network)
        if foreign:
            raise Conflict(
                f"network {network.name} has {foreign} ports of other projects",
                status=network.status,
                ports=foreign,
            )
    for name in ("name", "description", "external", "shared"):
        value = getattr(body, name)
        if value is not None:
            setattr(network, name, value)
    await _flush_or_conflict(session, network.name)
    return network


async def delete_network(
    session: AsyncSession, runtime: Runtime, principal: Principal, network_id: str
) -> None:
    """Delete a network without ports or floating IPs (else 409); the backend follows."""
    network = await get_network(session, principal, network_id, lock=RowLock.UPDATE)
    if not can_change(principal, network):
        raise Forbidden(f"network {network.name} belongs to another project")
    ports = await repository.live_ports_on_network(session, network.id)
    if ports:
        raise Conflict(
            f"network {network.name} still has {ports} ports", status=network.status, ports=ports
        )
    floating_ips = await repository.live_floating_ips_on_network(session, network.id)
    if floating_ips:
        raise Conflict(
            f"network {network.name} still has {floating_ips} floating IPs",
            status=network.status,
            floating_ips=floating_ips,
        )
    await repository.soft_delete(session, Network, network.id)
    await start_operation(
        session, runtime, principal, action="delete", resource_type=RESOURCE, resource_id=network.id
    )


def network_spec(network: Network) -> NetworkSpec:
    return NetworkSpec(
        id=network.id,
        name=network.name,
        cidr=network.cidr,
        gateway_ip=network.gateway_ip,
        allocation_pools=tuple(
            AddressRange(start=pool["start"], end=pool["end"]) for pool in network.allocation_pools
        ),
        external=network.external,
        shared=network.shared,
    )


async def _foreign_ports(session: AsyncSession, network: Network) -> int:
    count = await session.scalar(
        select(func.count(Port.id)).where(
            Port.network_id == network.id,
            Port.deleted_key == LIVE,
            Port.project_id != network.project_id,
        )
    )
    return int(count or 0)


async def _flush_or_conflict(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a network named {name!r} already exists in this project") from exc
