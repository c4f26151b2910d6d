"""The networking leak sweep: ports and floating-IP associations left pointing at servers that
no longer exist, and addresses still held by ports deleted long ago.

Each repair is recorded as an audit event (``user_id`` null, ``request_id`` "sweeper") so an
operator can see what the sweep did and why.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.audit.repairs import SWEEPER, record_repair
from cloudplane.compute.models import Server
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE, unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.network.models import FloatingIp, IpAllocation, Port
from cloudplane.network.port_service import clear_floating_ips_of_ports
from cloudplane.network.server_ports import release_server_ports
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime

log = get_logger(__name__)

_BATCH = 200


async def sweep_network_leaks(runtime: Runtime) -> int:
    """One round of the sweep; returns how many repairs it made (each one audited).

    - a live port bound to a deleted (or unknown) server: deleted when the server made it,
      unbound otherwise; floating IPs on kept ports are disassociated (``release_server_ports``);
    - a live floating IP still associated with a deleted port: its association is cleared;
    - a port deleted longer ago than the operation deadline whose addresses are still held
      (its backend delete failed): the backend delete is started again.
    """
    repairs = 0
    for server_id in await _servers_gone_with_ports(runtime):
        async with unit_of_work(runtime.sessions, write=True) as session:
            released = await release_server_ports(session, runtime, server_id)
            for port in released.deleted:
                _audit(session, "sweep.release_port", "ports", port.id, port.project_id)
            for port in released.unbound:
                _audit(session, "sweep.unbind_port", "ports", port.id, port.project_id)
            for floating_ip in released.disassociated:
                _audit(
                    session,
                    "sweep.disassociate_floating_ip",
                    "floating-ips",
                    floating_ip.id,
                    floating_ip.project_id,
                )
            repairs += len(released.deleted) + len(released.unbound)
            repairs += len(released.disassociated)
    repairs += await _clear_associations_with_deleted_ports(runtime)
    repairs += await _retry_stuck_port_deletes(runtime)
    if repairs:
        log.warning("network_leaks_repaired", repairs=repairs)
    return repairs


async def _servers_gone_with_ports(runtime: Runtime) -> list[str]:
    async with unit_of_work(runtime.sessions) as session:
        rows = await session.scalars(
            select(Port.device_id)
            .outerjoin(Server, Server.id == Port.device_id)
            .where(
                Port.deleted_key == LIVE,
                Port.device_id.is_not(None),
                or_(Server.id.is_(None), Server.deleted_key != LIVE),
            )
            .distinct()
            .limit(_BATCH)
        )
        return [server_id for server_id in rows.all() if server_id is not None]


async def _clear_associations_with_deleted_ports(runtime: Runtime) -> int:
    async with unit_of_work(runtime.sessions, write=True) as session:
        stale = list(
            (
                await session.scalars(
                    select(FloatingIp)
                    .join(Port, Port.id == FloatingIp.port_id)
                    .where(FloatingIp.deleted_key == LIVE, Port.deleted_key != LIVE)
                    .limit(_BATCH)
                )
            ).all()
        )
        await clear_floating_ips_of_ports(
            session, [f.port_id for f in stale if f.port_id is not None]
        )
        for floating_ip in stale:
            _audit(
                session,
                "sweep.disassociate_floating_ip",
                "floating-ips",
                floating_ip.id,
                floating_ip.project_id,
            )
    return len(stale)


async def _retry_stuck_port_deletes(runtime: Runtime) -> int:
    deleted_before = utcnow() - timedelta(seconds=runtime.settings.operation_deadline_s)
    async with unit_of_work(runtime.sessions, write=True) as session:
        stuck = list(
            (
                await session.scalars(
                    # IN, not JOIN + DISTINCT: PostgreSQL cannot compare the JSON columns.
                    select(Port)
                    .where(
                        Port.deleted_key != LIVE,
                        Port.deleted_at < deleted_before,
                        Port.id.in_(select(IpAllocation.port_id)),
                    )
                    .limit(_BATCH)
                )
            ).all()
        )
        for port in stuck:
            await start_operation(
                session, runtime, None, action="delete", resource_type="port", resource_id=port.id
            )
            _audit(session, "sweep.retry_port_delete", "ports", port.id, port.project_id)
    return len(stuck)


def _audit(
    session: AsyncSession, action: str, resource_type: str, resource_id: str, project_id: str
) -> None:
    record_repair(
        session,
        SWEEPER,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        project_id=project_id,
    )
