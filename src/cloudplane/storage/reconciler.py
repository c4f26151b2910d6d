"""Finds volumes the backend no longer has and shows them in ``error``.

A volume deleted behind cloudplane's back (in the cloud's own console, with ``virsh vol-delete``)
would otherwise stay ``available`` until an attach or a snapshot failed on it. Only
``available`` volumes last changed before the backend's report are compared (an attached volume
is its server's business, and a volume in an operation is the operation's), and each repair is
a compare-and-set on the row as it was read, so a volume an operation touched in between is
left alone. The driver's listing is complete or raises; a round whose listing failed repairs
nothing. Such a volume can then only be deleted.
"""

from __future__ import annotations

from datetime import datetime

from cloudplane.drivers.errors import DriverError
from cloudplane.kit.batch_walk import live_statuses, walk_in_batches
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.runtime import Runtime
from cloudplane.storage import repository
from cloudplane.storage.models import Volume
from cloudplane.storage.states import VolumeStatus

log = get_logger(__name__)

VANISHED = "the backend no longer has this volume"

AVAILABLE = VolumeStatus.AVAILABLE.value


async def reconcile_volumes_job(runtime: Runtime) -> None:
    """The periodic form of ``reconcile_volumes``."""
    await reconcile_volumes(runtime)


async def reconcile_volumes(runtime: Runtime, *, batch_size: int = 100) -> int:
    """One full comparison; returns how many volumes were marked ``error``.

    Live rows are walked in batches of ``batch_size`` along the primary key
    (``walk_in_batches``).
    """
    reported_at = utcnow()
    try:
        reported = {volume.id for volume in await runtime.driver.list_volumes()}
    except DriverError as exc:
        log.warning("volume_reconcile_skipped", reason=str(exc) or exc.code)
        return 0
    repaired = 0
    batches = walk_in_batches(
        runtime.sessions, live_statuses(Volume.__table__), batch_size=batch_size
    )
    async for rows in batches:
        for volume_id, status, updated_at in rows:
            if volume_id in reported or status != AVAILABLE or updated_at >= reported_at:
                continue
            if await _mark_vanished(runtime, volume_id, updated_at):
                repaired += 1
    return repaired


async def _mark_vanished(runtime: Runtime, volume_id: str, updated_at: datetime) -> bool:
    async with unit_of_work(runtime.sessions, write=True) as session:
        changed = await repository.compare_and_set_volume(
            session,
            volume_id,
            expect={"status": AVAILABLE, "updated_at": updated_at},
            values={"status": VolumeStatus.ERROR.value, "error_message": VANISHED},
        )
    if changed:
        log.warning("volume_vanished", volume_id=volume_id)
    return changed
