"""Floating IP rules: allocation from an external network, association, release.

Allocation takes an address through the IPAM and counts the ``floating_ips`` quota under the
project's lock. Association is a compare-and-set on the row (only an unassociated floating IP
with no change in flight moves), so of racing requests exactly one wins and the rest get 409;
``UNIQUE(port_id, fixed_ip)`` keeps a fixed IP from getting two floating IPs. The backend
mapping follows in an operation (202). Release hides the row at once; the address is handed out
again only once the backend mapping is gone.
"""

from __future__ import annotations

import ipaddress

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.base import Capability
from cloudplane.drivers.network_contract import FloatingIpSpec
from cloudplane.identity.principal import Principal
from cloudplane.identity.quotas import check_quota, lock_quota
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE, new_id
from cloudplane.kit.errors import Conflict, NotFound, NotSupported, ValidationFailed
from cloudplane.network import repository
from cloudplane.network.floating_ip_schemas import (
    FloatingIpCreate,
    FloatingIpStatus,
    FloatingIpTask,
    FloatingIpUpdate,
)
from cloudplane.network.ipam import allocate_ip, release_floating_address
from cloudplane.network.models import FloatingIp, Network, Port
from cloudplane.network.repository import RowLock
from cloudplane.operations.models import Operation
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime

RESOURCE = "floating_ip"


def require_floating_ips(runtime: Runtime) -> None:
    """501 ``not_supported`` when the driver cannot map floating IPs."""
    if Capability.FLOATING_IPS not in runtime.driver.capabilities:
        raise NotSupported("the driver does not support floating IPs")


async def get_floating_ip(
    session: AsyncSession,
    principal: Principal,
    floating_ip_id: str,
    *,
    include_deleted: bool = False,
    lock: RowLock = RowLock.NONE,
) -> FloatingIp:
    floating_ip = await repository.get_row(
        session,
        FloatingIp,
        floating_ip_id,
        include_deleted=include_deleted and principal.is_admin,
        lock=lock,
    )
    if floating_ip is None or not (
        principal.is_admin or floating_ip.project_id == principal.project_id
    ):
        raise NotFound(RESOURCE, floating_ip_id)
    return floating_ip


async def allocate_floating_ip(
    session: AsyncSession, principal: Principal, body: FloatingIpCreate
) -> FloatingIp:
    """Take an address of an external network for the principal's project (quota checked)."""
    network = await _external_network(session, body.network_id)
    quota = await lock_quota(session, principal.project_id)
    usage = await repository.network_usage(session, principal.project_id)
    check_quota(quota, usage, {"floating_ips": 1})
    floating_ip_id = new_id()
    ip = await allocate_ip(session, network, floating_ip_id=floating_ip_id)
    floating_ip = FloatingIp(
        id=floating_ip_id,
        project_id=principal.project_id,
        network_id=network.id,
        ip=ip,
        status=FloatingIpStatus.DOWN.value,
        description=body.description,
    )
    session.add(floating_ip)
    await session.flush()
    return floating_ip


async def update_floating_ip(
    session: AsyncSession, principal: Principal, floating_ip_id: str, body: FloatingIpUpdate
) -> FloatingIp:
    floating_ip = await get_floating_ip(session, principal, floating_ip_id, lock=RowLock.UPDATE)
    if body.description is not None:
        floating_ip.description = body.description
        floating_ip.updated_at = utcnow()
    await session.flush()
    return floating_ip


async def first_port_of_server(session: AsyncSession, server_id: str) -> Port:
    """The port a floating IP goes to when associated with a server (its first interface)."""
    port = await session.scalar(
        select(Port)
        .where(Port.device_id == server_id, Port.deleted_key == LIVE)
        .order_by(Port.created_at, Port.id)
        .limit(1)
    )
    if port is None:
        raise Conflict(f"server {server_id} has no network port", status="no_port")
    return port


async def associate_floating_ip(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    floating_ip_id: str,
    port: Port,
    fixed_ip: str | None,
) -> tuple[FloatingIp, Operation]:
    """Map the floating IP onto ``port`` (one the principal may see) and start the backend
    change. Associated already, or a change in flight: 409 with ``details.status``."""
    floating_ip = await get_floating_ip(session, principal, floating_ip_id)
    if port.project_id != floating_ip.project_id:
        raise NotFound("port", port.id)
    target = _fixed_ip_for(floating_ip, port, fixed_ip)
    try:
        changed = await repository.compare_and_set(
            session,
            FloatingIp,
            floating_ip.id,
            expect={"port_id": None, "task_state": None},
            values={
                "port_id": port.id,
                "fixed_ip": target,
                "task_state": FloatingIpTask.ASSOCIATING.value,
            },
        )
    except IntegrityError as exc:
        raise Conflict(
            f"{target} of port {port.id} already has a floating IP", status=floating_ip.status
        ) from exc
    await session.refresh(floating_ip)
    if not changed:
        raise _busy(floating_ip, "associate")
    operation = await start_operation(
        session,
        runtime,
        principal,
        action="associate",
        resource_type=RESOURCE,
        resource_id=floating_ip.id,
    )
    return floating_ip, operation


async def disassociate_floating_ip(
    session: AsyncSession, runtime: Runtime, principal: Principal, floating_ip_id: str
) -> tuple[FloatingIp, Operation]:
    """Start removing the floating IP's mapping; 409 when it has none or a change is in flight."""
    floating_ip = await get_floating_ip(session, principal, floating_ip_id)
    result = await session.execute(
        update(FloatingIp)
        .where(
            FloatingIp.id == floating_ip.id,
            FloatingIp.deleted_key == LIVE,
            FloatingIp.port_id.is_not(None),
            FloatingIp.task_state.is_(None),
        )
        .values(task_state=FloatingIpTask.DISASSOCIATING.value, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.refresh(floating_ip)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise _busy(floating_ip, "disassociate")
    operation = await start_operation(
        session,
        runtime,
        principal,
        action="disassociate",
        resource_type=RESOURCE,
        resource_id=floating_ip.id,
    )
    return floating_ip, operation


async def release_floating_ip(
    session: AsyncSession, runtime: Runtime, principal: Principal, floating_ip_id: str
) -> None:
    """Give the floating IP back (disassociating it first). A change in flight: 409."""
    floating_ip = await get_floating_ip(session, principal, floating_ip_id, lock=RowLock.UPDATE)
    if floating_ip.task_state is not None:
        raise _busy(floating_ip, "release")
    mapped = floating_ip.port_id is not None or floating_ip.status != FloatingIpStatus.DOWN.value
    await repository.soft_delete(
        session,
        FloatingIp,
        floating_ip.id,
        port_id=None,
        fixed_ip=None,
        status=FloatingIpStatus.DOWN.value,
    )
    if not mapped:
        await release_floating_address(session, floating_ip.id)
        return
    # The address stays taken until the release operation has removed the backend mapping.
    await start_operation(
        session,
        runtime,
        principal,
        action="release",
        resource_type=RESOURCE,
        resource_id=floating_ip.id,
    )


async def _external_network(session: AsyncSession, network_id: str | None) -> Network:
    """The external network to allocate from (share-locked): the given one, or the oldest."""
    stmt = select(Network).where(Network.deleted_key == LIVE)
    if network_id is not None:
        stmt = stmt.where(Network.id == network_id)
    else:
        stmt = stmt.where(Network.external.is_(True)).order_by(Network.created_at, Network.id)
    network = await session.scalar(stmt.limit(1).with_for_update(read=True))
    if network_id is None and network is None:
        raise ValidationFailed(
            "there is no external network to allocate from", field="body.network_id"
        )
    if network is None:
        raise NotFound("network", network_id)
    if not network.external:
        raise ValidationFailed(
            f"network {network.name} is not an external network", field="body.network_id"
        )
    return network


def _fixed_ip_for(floating_ip: FloatingIp, port: Port, requested: str | None) -> str:
    if requested is not None:
        canonical = str(ipaddress.ip_address(requested)) if _is_ip(requested) else requested
        if canonical not in port.fixed_ips:
            raise ValidationFailed(
                f"{requested} is not an address of port {port.id}", field="body.fixed_ip"
            )
        return canonical
    version = ipaddress.ip_address(floating_ip.ip).version
    for address in port.fixed_ips:
        if ipaddress.ip_address(address).version == version:
            return address
    raise Conflict(
        f"port {port.id} has no IPv{version} address to map {floating_ip.ip} onto",
        status=port.status,
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _busy(floating_ip: FloatingIp, verb: str) -> Conflict:
    if floating_ip.task_state is not None:
        reason = f"{floating_ip.task_state} is in progress"
    elif verb == "associate":
        reason = f"it is already associated with port {floating_ip.port_id}"
    else:
        reason = "it is not associated"
    return Conflict(
        f"cannot {verb} floating IP {floating_ip.ip}: {reason}",
        status=floating_ip.status,
        task_state=floating_ip.task_state,
        port_id=floating_ip.port_id,
    )


def mapping_spec(floating_ip: FloatingIp, port_id: str) -> FloatingIpSpec:
    """What the backend maps for ``floating_ip`` onto port ``port_id`` (its row's port)."""
    return FloatingIpSpec(
        id=floating_ip.id,
        ip=floating_ip.ip,
        network_id=floating_ip.network_id,
        port_id=port_id,
        fixed_ip=floating_ip.fixed_ip or "",
    )
