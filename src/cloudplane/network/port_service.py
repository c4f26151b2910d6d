"""Port rules: creating ports (MAC, fixed IP, security groups), changing and deleting them.

A port belongs to its project and is seen by it only (admins: all). It goes on a network the
project may use (``network_service.get_usable_network``); its address comes from the IPAM and
its MAC is random under a per-network unique constraint. The API answers at once (201,
``BUILD``); an operation then builds the port on the backend. Deleting a port hides it at once;
its addresses are handed out again only after the backend has let go of them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.principal import Principal
from cloudplane.kit.db import new_id
from cloudplane.kit.errors import Conflict, NotFound
from cloudplane.network import repository
from cloudplane.network.floating_ip_schemas import FloatingIpStatus
from cloudplane.network.ipam import allocate_ip, check_requested_ip, draw_address
from cloudplane.network.models import FloatingIp, Network, Port, PortSecurityGroup, SecurityGroup
from cloudplane.network.repository import RowLock
from cloudplane.network.schemas import DeviceOwner, PortStatus, PortUpdate
from cloudplane.network.security_group_service import groups_for_port
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime

RESOURCE = "port"
APPLY_SECURITY_GROUPS = "apply_security_groups"
FORMER_GROUPS = "former_groups"
"""The ``apply_security_groups`` parameter naming the groups the port was in before: they lose
a peer (``group_peers``)."""
MAC_PREFIX = "fa:16:3e"
"""Locally administered, unicast: never a real vendor's address."""
MAC_ATTEMPTS = 8


def random_mac() -> str:
    tail = ":".join(f"{byte:02x}" for byte in secrets.token_bytes(3))
    return f"{MAC_PREFIX}:{tail}"


async def get_port(
    session: AsyncSession,
    principal: Principal,
    port_id: str,
    *,
    include_deleted: bool = False,
    lock: RowLock = RowLock.NONE,
) -> Port:
    port = await repository.get_row(
        session, Port, port_id, include_deleted=include_deleted and principal.is_admin, lock=lock
    )
    if port is None or not (principal.is_admin or port.project_id == principal.project_id):
        raise NotFound(RESOURCE, port_id)
    return port


async def create_port(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    *,
    network: Network,
    fixed_ip: str | None = None,
    name: str = "",
    description: str = "",
    device_id: str | None = None,
    device_owner: DeviceOwner | None = None,
    security_group_ids: Sequence[str] | None = None,
    fixed_ip_field: str = "body.fixed_ip",
    build: bool = True,
) -> Port:
    """Store a port of the principal's project on ``network`` and, with ``build``, start an
    operation that builds it on the backend (a server's ports are built by the server's own).

    ``network`` comes from ``get_usable_network`` (share-locked). A requested ``fixed_ip``
    outside the network is 422 (naming ``fixed_ip_field``); a taken one is 409, as is an
    exhausted network. Unknown security groups are 404.
    """
    requested = None
    if fixed_ip is not None:
        requested = check_requested_ip(network, fixed_ip, field=fixed_ip_field)
    groups = await groups_for_port(session, runtime, principal.project_id, security_group_ids)
    return await store_port(
        session,
        runtime,
        principal,
        network=network,
        requested_ip=requested,
        groups=groups,
        name=name,
        description=description,
        device_id=device_id,
        device_owner=device_owner,
        build=build,
    )


async def store_port(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    *,
    network: Network,
    requested_ip: str | None,
    groups: Sequence[SecurityGroup],
    name: str = "",
    description: str = "",
    device_id: str | None = None,
    device_owner: DeviceOwner | None = None,
    build: bool = True,
) -> Port:
    """``create_port`` once its checks are done: ``requested_ip`` comes from
    ``check_requested_ip`` and ``groups`` from ``groups_for_port`` in this transaction.

    For callers that make several ports with the same groups (a server's interfaces), so the
    groups are looked up and locked once. A taken ``requested_ip`` or an exhausted network is
    409.
    """
    port = Port(
        id=new_id(),
        project_id=principal.project_id,
        network_id=network.id,
        name=name,
        description=description,
        device_id=device_id,
        device_owner=device_owner.value if device_owner else None,
        status=PortStatus.BUILD.value,
        # The address to try first goes in with the row; the allocation needs the row first.
        fixed_ips=[requested_ip or draw_address(network)],
    )
    await _insert_with_free_mac(session, port)
    address = await allocate_ip(
        session, network, port_id=port.id, requested=requested_ip, first_draw=port.fixed_ips[0]
    )
    if address != port.fixed_ips[0]:
        port.fixed_ips = [address]  # the first draw was taken meanwhile
    session.add_all(PortSecurityGroup(port_id=port.id, security_group_id=g.id) for g in groups)
    await session.flush()
    if build:
        await start_operation(
            session,
            runtime,
            principal,
            action="create",
            resource_type=RESOURCE,
            resource_id=port.id,
        )
    return port


async def update_port(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    port_id: str,
    body: PortUpdate,
) -> Port:
    """Rename or describe a port, or replace its security groups (pushed to the backend)."""
    port = await get_port(session, principal, port_id, lock=RowLock.UPDATE)
    if body.name is not None:
        port.name = body.name
    if body.description is not None:
        port.description = body.description
    if body.security_groups is not None:
        groups = await groups_for_port(session, runtime, port.project_id, body.security_groups)
        former = await repository.security_group_ids_of_ports(session, [port.id])
        await set_port_groups(session, port.id, groups)
        await start_operation(
            session,
            runtime,
            principal,
            action=APPLY_SECURITY_GROUPS,
            resource_type=RESOURCE,
            resource_id=port.id,
            params={FORMER_GROUPS: former.get(port.id, [])},
        )
    await session.flush()
    return port


async def set_port_groups(
    session: AsyncSession, port_id: str, groups: Sequence[SecurityGroup]
) -> None:
    await session.execute(delete(PortSecurityGroup).where(PortSecurityGroup.port_id == port_id))
    session.add_all(PortSecurityGroup(port_id=port_id, security_group_id=g.id) for g in groups)
    await session.flush()


async def delete_port(
    session: AsyncSession, runtime: Runtime, principal: Principal, port_id: str
) -> None:
    """Delete a port that no server created for itself (409: delete the server instead)."""
    port = await get_port(session, principal, port_id, lock=RowLock.UPDATE)
    if port.made_for_its_server:
        raise Conflict(
            f"port {port.id} belongs to server {port.device_id}; it goes when the server does",
            status=port.status,
            device_id=port.device_id,
        )
    await remove_port(session, runtime, principal, port)


async def remove_port(
    session: AsyncSession, runtime: Runtime, principal: Principal | None, port: Port
) -> bool:
    """Hide the port, drop floating-IP associations onto it, and start its backend delete.
    False when the port was already deleted."""
    if not await hide_port(session, port):
        return False
    await start_operation(
        session, runtime, principal, action="delete", resource_type=RESOURCE, resource_id=port.id
    )
    return True


async def hide_port(session: AsyncSession, port: Port) -> bool:
    """Mark the port deleted and its floating IPs unassociated; False when it already was.

    The backend's ``delete_port`` removes any floating-IP mapping with the port, so the
    floating IPs only need their rows cleared. The port's addresses stay held until its
    backend delete is done.
    """
    if not await repository.soft_delete(session, Port, port.id, status=PortStatus.DELETED.value):
        return False
    await clear_floating_ips_of_ports(session, [port.id])
    return True


async def clear_floating_ips_of_ports(session: AsyncSession, port_ids: Sequence[str]) -> None:
    """Mark the floating IPs on these ports unassociated (their backend mapping is gone)."""
    if not port_ids:
        return
    await session.execute(
        update(FloatingIp)
        .where(FloatingIp.port_id.in_(list(port_ids)))
        .values(
            port_id=None,
            fixed_ip=None,
            status=FloatingIpStatus.DOWN.value,
            task_state=None,
        )
        .execution_options(synchronize_session=False)
    )


async def _insert_with_free_mac(session: AsyncSession, port: Port) -> None:
    for _ in range(MAC_ATTEMPTS):
        port.mac = random_mac()
        try:
            async with session.begin_nested():
                session.add(port)
        except IntegrityError:
            continue
        return
    raise Conflict(f"could not find a free MAC address on network {port.network_id}; retry")
