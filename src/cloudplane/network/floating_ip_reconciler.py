"""Repairs floating-IP mappings the backend lost, changed or kept past their association.

A libvirt host forgets its NAT rules when it restarts, and rules or a cloud's floating IPs can
be edited behind cloudplane's back. The database is the record: a floating IP that is
``ACTIVE`` with no change in flight is mapped onto its port's fixed IP, and no other floating IP
is mapped at all. Each round lists the backend first, then maps again each floating IP that
should be mapped and is not (or is mapped elsewhere), and removes each mapping that should not
be there. Rows changed after the listing are left to their own operations, as are rows with
a change in flight.

A round that races with a change made between its read and its repair (an association made
just after the database was read, say) can leave a mapping wrong; the next round repairs it.
Each repair gets an audit record (``request_id`` ``reconciler``).
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.audit.repairs import RECONCILER, record_repair
from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.network_contract import FloatingIpInfo
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE, unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.network.floating_ip_schemas import FloatingIpStatus
from cloudplane.network.floating_ip_service import mapping_spec
from cloudplane.network.models import FloatingIp
from cloudplane.runtime import Runtime

log = get_logger(__name__)

_RESOURCE_TYPE = "floating-ips"


async def reconcile_floating_ips(runtime: Runtime) -> int:
    """One full comparison; returns how many mappings it made or removed."""
    if Capability.FLOATING_IPS not in runtime.driver.capabilities:
        return 0
    reported_at = utcnow()
    try:
        reported = {mapping.id: mapping for mapping in await runtime.driver.list_floating_ips()}
    except DriverError as exc:
        log.warning("floating_ip_reconcile_skipped", reason=str(exc) or exc.code)
        return 0
    async with unit_of_work(runtime.sessions) as session:
        rows = await _rows_to_compare(session, reported.keys())
    wanted = {
        row.id: row
        for row in rows
        if row.deleted_key == LIVE
        and row.status == FloatingIpStatus.ACTIVE.value
        and row.task_state is None
        and row.port_id is not None
    }
    # A change in flight, or made after the listing, is its own operation's to finish.
    busy = {row.id for row in rows if row.task_state is not None or row.updated_at >= reported_at}
    repaired = 0
    for row in wanted.values():
        if row.id not in busy and not _maps_as_recorded(reported.get(row.id), row):
            repaired += await _map_again(runtime, row)
    owners = {row.id: row.project_id for row in rows}
    for floating_ip_id in reported.keys() - wanted.keys() - busy:
        repaired += await _unmap(runtime, floating_ip_id, owners.get(floating_ip_id))
    return repaired


async def _rows_to_compare(
    session: AsyncSession, reported_ids: Collection[str]
) -> list[FloatingIp]:
    """Every live row that is or is becoming associated, and every row (deleted ones too)
    of a floating IP the backend maps."""
    result = await session.scalars(
        select(FloatingIp).where(
            or_(
                (FloatingIp.deleted_key == LIVE)
                & (FloatingIp.port_id.is_not(None) | FloatingIp.task_state.is_not(None)),
                FloatingIp.id.in_(list(reported_ids)),
            )
        )
    )
    return list(result)


def _maps_as_recorded(mapping: FloatingIpInfo | None, row: FloatingIp) -> bool:
    return mapping is not None and (mapping.ip, mapping.port_id, mapping.fixed_ip) == (
        row.ip,
        row.port_id,
        row.fixed_ip,
    )


async def _map_again(runtime: Runtime, row: FloatingIp) -> int:
    """Map the floating IP as its row says; 1 when that worked."""
    assert row.port_id is not None
    try:
        await runtime.driver.associate_floating_ip(mapping_spec(row, row.port_id))
    except DriverError as exc:
        # A port the backend lost is built again by the port reconcile; the next round maps.
        log.warning("floating_ip_not_mapped", floating_ip_id=row.id, reason=str(exc) or exc.code)
        return 0
    await _record(runtime, "reconcile.associate_floating_ip", row.id, row.project_id)
    log.warning("floating_ip_mapped_again", floating_ip_id=row.id, port_id=row.port_id)
    return 1


async def _unmap(runtime: Runtime, floating_ip_id: str, project_id: str | None) -> int:
    """Remove a mapping no association stands for; 1 when that worked."""
    try:
        await runtime.driver.disassociate_floating_ip(floating_ip_id)
    except DriverError as exc:
        log.warning(
            "floating_ip_not_unmapped", floating_ip_id=floating_ip_id, reason=str(exc) or exc.code
        )
        return 0
    await _record(runtime, "reconcile.disassociate_floating_ip", floating_ip_id, project_id)
    log.warning("floating_ip_unmapped", floating_ip_id=floating_ip_id)
    return 1


async def _record(runtime: Runtime, action: str, floating_ip_id: str, project: str | None) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        record_repair(
            session,
            RECONCILER,
            action=action,
            resource_type=_RESOURCE_TYPE,
            resource_id=floating_ip_id,
            project_id=project,
        )
