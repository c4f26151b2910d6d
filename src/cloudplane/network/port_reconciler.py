"""Builds again the ports the backend lost, and with them their networks.

A network deleted behind cloudplane's back (``virsh net-destroy`` and ``net-undefine``, the
cloud's own console) takes every port on it along, yet its ports would stay ``ACTIVE`` or
``DOWN`` in the database while their servers lost their addresses. The database is the record
of what should exist and a port holds no data, so each port missing from the backend's listing
is created again as it was (same MAC, fixed IPs and rules), its network first: both calls are
idempotent by id. A guest gets its link back when its interface is plugged again, at its next
start or hard reboot.

Only built ports (``ACTIVE`` or ``DOWN``) last changed before the backend's report are compared:
a port still being built is its operation's business. A port deleted while it was being built
again is removed from the backend again. The driver's listing is complete or raises; a round
whose listing failed repairs nothing. Each port built again gets an audit record
(``request_id`` ``reconciler``).
"""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import Select, bindparam, select

from cloudplane.audit.repairs import RECONCILER, record_repair
from cloudplane.drivers.errors import DriverError
from cloudplane.kit.batch_walk import walk_in_batches
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE, unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.network import repository
from cloudplane.network.models import Port
from cloudplane.network.port_building import build_ports_on_backend
from cloudplane.network.schemas import PortStatus
from cloudplane.runtime import Runtime

log = get_logger(__name__)

_BUILT = (PortStatus.ACTIVE.value, PortStatus.DOWN.value)


async def reconcile_ports_job(runtime: Runtime) -> None:
    """The periodic form of ``reconcile_ports``."""
    await reconcile_ports(runtime)


async def reconcile_ports(runtime: Runtime, *, batch_size: int = 200) -> int:
    """One full comparison; returns how many ports were built again.

    Live rows are walked in batches of ``batch_size`` along the primary key
    (``walk_in_batches``). A port whose building fails is logged and tried again next round.
    """
    reported_at = utcnow()
    try:
        reported = {port.id for port in await runtime.driver.list_ports()}
    except DriverError as exc:
        log.warning("port_reconcile_skipped", reason=str(exc) or exc.code)
        return 0
    lost: list[str] = []
    async for rows in walk_in_batches(runtime.sessions, _batch_statement(), batch_size=batch_size):
        lost.extend(
            port_id
            for port_id, status, updated_at in rows
            if port_id not in reported and status in _BUILT and updated_at < reported_at
        )
    rebuilt = 0
    for port_id in lost:
        try:
            rebuilt += await _build_again(runtime, port_id)
        except DriverError as exc:
            log.warning("port_rebuild_failed", port_id=port_id, reason=str(exc) or exc.code)
    return rebuilt


@functools.cache
def _batch_statement() -> Select[str, str, datetime]:
    ports = Port.__table__.c
    return (
        select(ports.id, ports.status, ports.updated_at)
        .where(ports.id > bindparam("after"), ports.deleted_key == LIVE)
        .order_by(ports.id)
        .limit(bindparam("batch_size"))
    )


async def _build_again(runtime: Runtime, port_id: str) -> int:
    """Build the port (and its network) on the backend; 1 if it is still live afterwards."""
    built = await build_ports_on_backend(runtime, [port_id])
    if not built:
        return 0  # deleted before it was read
    async with unit_of_work(runtime.sessions, write=True) as session:
        port = await repository.get_row(session, Port, port_id)
        if port is not None:
            record_repair(
                session,
                RECONCILER,
                action="reconcile.rebuild_port",
                resource_type="ports",
                resource_id=port.id,
                project_id=port.project_id,
            )
    if port is None:
        # Deleted while it was being built: its delete may have reached the backend first.
        await runtime.driver.delete_port(port_id)
        return 0
    log.warning("port_rebuilt", port_id=port_id, network_id=port.network_id)
    return 1
