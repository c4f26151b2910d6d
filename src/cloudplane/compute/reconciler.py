"""Compares what the database says with what the driver reports, and repairs the database.

Only settled servers (no operation in flight) are compared. Rows are read before the driver
is asked, and every repair is a compare-and-set on the row as it was read: a server that an
operation touched in between is left alone and looked at again on the next round.
"""

from __future__ import annotations

from sqlalchemy import select

from cloudplane.compute import repository
from cloudplane.compute.models import Server
from cloudplane.compute.states import STATUS_FOR_POWER_STATE, ServerStatus
from cloudplane.drivers.base import PowerState
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE, unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.runtime import Runtime

log = get_logger(__name__)

_SETTLED = (
    ServerStatus.ACTIVE.value,
    ServerStatus.SHUTOFF.value,
    ServerStatus.PAUSED.value,
    ServerStatus.ERROR.value,
)


async def reconcile_servers_job(runtime: Runtime) -> None:
    """The periodic form of ``reconcile_servers``."""
    await reconcile_servers(runtime)


async def reconcile_servers(runtime: Runtime) -> int:
    """One full comparison; returns how many servers were repaired."""
    async with unit_of_work(runtime.sessions) as session:
        rows = (
            await session.execute(
                select(Server.id, Server.status, Server.power_state, Server.updated_at).where(
                    Server.deleted_key == LIVE,
                    Server.task_state.is_(None),
                    Server.status.in_(_SETTLED),
                )
            )
        ).all()
    reported = {info.id: info for info in await runtime.driver.list_servers()}
    repaired = 0
    for server_id, status, power_state, updated_at in rows:
        info = reported.get(server_id)
        if info is None:
            values = _vanished(status)
        elif info.power_state.value != power_state:
            values = _drifted(status, info.power_state)
        else:
            continue
        if values is None:
            continue
        async with unit_of_work(runtime.sessions, write=True) as session:
            changed = await repository.compare_and_set(
                session,
                server_id,
                expect={"task_state": None, "status": status, "updated_at": updated_at},
                values=values,
            )
        if changed:
            repaired += 1
            log.warning(
                "server_drift_repaired",
                server_id=server_id,
                **{k: str(v) for k, v in values.items() if k in ("status", "power_state")},
            )
    return repaired


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


def _drifted(status: str, power_state: PowerState) -> dict[str, object]:
    values: dict[str, object] = {"power_state": power_state.value}
    new_status = STATUS_FOR_POWER_STATE.get(power_state)
    if status != ServerStatus.ERROR.value and new_status is not None and new_status != status:
        values["status"] = new_status.value
        if new_status is ServerStatus.ERROR:
            values.update(
                fault_code="crashed",
                fault_message="the hypervisor reports the server crashed",
                fault_at=utcnow(),
            )
    return values
