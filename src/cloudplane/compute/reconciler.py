"""Compares what the database says with what the driver reports, and repairs the database.

Only settled servers (no operation in flight) are compared, and every repair is a
compare-and-set on the row as it was read: a server that an operation touched in between is left
alone and looked at again on the next round.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime

from sqlalchemy import Select, bindparam, select

from cloudplane.compute import repository
from cloudplane.compute.states import STATUS_FOR_POWER_STATE, ServerStatus
from cloudplane.drivers.base import PowerState, ServerInfo
from cloudplane.kit.batch_walk import walk_in_batches
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE, unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.runtime import Runtime

log = get_logger(__name__)

_SETTLED = frozenset(
    {
        ServerStatus.ACTIVE.value,
        ServerStatus.SHUTOFF.value,
        ServerStatus.PAUSED.value,
        ServerStatus.ERROR.value,
    }
)


async def reconcile_servers_job(runtime: Runtime) -> None:
    """The periodic form of ``reconcile_servers``."""
    await reconcile_servers(runtime)


async def reconcile_servers(runtime: Runtime, *, batch_size: int = 100) -> int:
    """One full comparison; returns how many servers were repaired.

    The driver is asked first, once; then the live rows are walked in batches of
    ``batch_size`` along the primary key, yielding to the event loop between batches so
    requests are not held up. Only settled rows (no operation in flight) whose last change is
    older than the driver's report are compared: for those the report is at least as new as
    the row, and the compare-and-set on ``updated_at`` skips any row changed since it was read.
    Younger rows are looked at on the next round.

    The walk selects by id alone and leaves the other conditions to Python: with them in the
    query, a database may pick the status index and sort every settled row again for each
    batch, which made one round at 100,000 servers cost seconds of work.
    """
    reported_at = utcnow()
    reported = await _by_id(await runtime.driver.list_servers(), batch_size)
    repaired = 0
    batches = walk_in_batches(runtime.sessions, _batch_statement(), batch_size=batch_size)
    async for rows in batches:
        for server_id, status, task_state, power_state, updated_at in rows:
            if task_state is not None or status not in _SETTLED or updated_at >= reported_at:
                continue
            if await _repair(runtime, server_id, status, power_state, updated_at, reported):
                repaired += 1
    return repaired


async def _by_id(infos: list[ServerInfo], batch_size: int) -> dict[str, ServerInfo]:
    """The driver's report by server id, built a slice at a time between other work."""
    reported: dict[str, ServerInfo] = {}
    step = batch_size * 40
    for start in range(0, len(infos), step):
        reported.update((info.id, info) for info in infos[start : start + step])
        await asyncio.sleep(0)
    return reported


@functools.cache
def _batch_statement() -> Select[str, str, str | None, str, datetime]:
    # Table columns: a batch is plain rows, and the ORM's compile and loading steps would cost
    # more than the query. Each batch holds the event loop, so it stays small.
    servers = repository.SERVERS
    return (
        select(
            servers.id, servers.status, servers.task_state, servers.power_state, servers.updated_at
        )
        .where(servers.id > bindparam("after"), servers.deleted_key == LIVE)
        .order_by(servers.id)
        .limit(bindparam("batch_size"))
    )


async def _repair(
    runtime: Runtime,
    server_id: str,
    status: str,
    power_state: str,
    updated_at: datetime,
    reported: dict[str, ServerInfo],
) -> bool:
    info = reported.get(server_id)
    if info is None:
        values = _vanished(status)
    elif info.power_state.value != power_state:
        values = _drifted(status, info.power_state, info.fault)
    else:
        return False
    if values is None:
        return False
    async with unit_of_work(runtime.sessions, write=True) as session:
        changed = await repository.compare_and_set(
            session,
            server_id,
            expect={"task_state": None, "status": status, "updated_at": updated_at},
            values=values,
        )
    if changed:
        log.warning(
            "server_drift_repaired",
            server_id=server_id,
            status=str(values.get("status", status)),
            power_state=str(values.get("power_state", power_state)),
        )
    return changed


def _vanished(status: str) -> dict[str, object] | None:
    if status == ServerStatus.ERROR.value:
        return None
    return {
        "status": ServerStatus.ERROR.value,
        "power_state": PowerState.NOSTATE.value,
        "fault_code": "vanished",
        "fault_message": "the server no longer exists on the backend",
        "fault_at": utcnow(),
    }


def _drifted(status: str, power_state: PowerState, fault: str | None) -> dict[str, object]:
    values: dict[str, object] = {"power_state": power_state.value}
    new_status = STATUS_FOR_POWER_STATE.get(power_state)
    if status != ServerStatus.ERROR.value and new_status is not None and new_status != status:
        values["status"] = new_status.value
        if new_status is ServerStatus.ERROR:
            values.update(
                fault_code="crashed",
                # A backend that says why (a cloud's fault message) is quoted as it said it.
                fault_message=(fault or "the hypervisor reports the server crashed")[:1024],
                fault_at=utcnow(),
            )
    return values
