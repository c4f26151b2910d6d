"""Snapshot rules: create from an ``available`` or ``in-use`` volume, rename, delete.

Creating locks the volume row, so it serialises with the volume's delete (which counts live
snapshots under the same lock): a volume never goes away with a snapshot being taken of it.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.base import Capability
from cloudplane.identity.principal import Principal
from cloudplane.identity.quotas import check_quota, lock_quota
from cloudplane.kit.db import new_id
from cloudplane.kit.errors import Conflict, NotFound, NotSupported
from cloudplane.operations.models import Operation
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime
from cloudplane.storage import repository
from cloudplane.storage.models import Snapshot
from cloudplane.storage.schemas import SnapshotCreate, SnapshotUpdate
from cloudplane.storage.service import get_volume, visible
from cloudplane.storage.states import (
    SNAPSHOTTABLE_FROM,
    SnapshotAction,
    SnapshotStatus,
)

RESOURCE = "snapshot"

_DELETABLE_FROM = {SnapshotStatus.AVAILABLE.value, SnapshotStatus.ERROR.value}


async def get_snapshot(
    session: AsyncSession,
    principal: Principal,
    snapshot_id: str,
    *,
    include_deleted: bool = False,
    for_update: bool = False,
) -> Snapshot:
    """A snapshot the principal may see; another project's is 404 (admins see all)."""
    snapshot = await repository.get_snapshot(
        session,
        snapshot_id,
        include_deleted=include_deleted and principal.is_admin,
        for_update=for_update,
    )
    if snapshot is None or not visible(principal, snapshot.project_id):
        raise NotFound(RESOURCE, snapshot_id)
    return snapshot


async def create_snapshot(
    session: AsyncSession, runtime: Runtime, principal: Principal, body: SnapshotCreate
) -> tuple[Snapshot, Operation]:
    """Store a ``creating`` snapshot of the volume's current size and its ``create`` operation.

    501 without ``Capability.SNAPSHOTS``; 409 when the volume is not ``available``/``in-use``
    or the ``snapshots`` quota is used up; a taken name is 409.
    """
    if Capability.SNAPSHOTS not in runtime.driver.capabilities:
        raise NotSupported("the driver cannot take volume snapshots")
    quota = await lock_quota(session, principal.project_id)
    volume = await get_volume(session, principal, body.volume_id, for_update=True)
    if volume.status not in {status.value for status in SNAPSHOTTABLE_FROM}:
        raise Conflict(
            f"cannot snapshot volume {volume.id} while it is {volume.status}",
            status=volume.status,
        )
    usage = await repository.storage_usage(session, principal.project_id)
    check_quota(quota, usage, {"snapshots": 1})
    snapshot = Snapshot(
        id=new_id(),
        project_id=volume.project_id,
        user_id=principal.user_id,
        volume_id=volume.id,
        name=body.name,
        description=body.description,
        size_gb=volume.size_gb,
        status=SnapshotStatus.CREATING.value,
    )
    session.add(snapshot)
    await _flush_or_conflict(session, body.name)
    operation = await start_operation(
        session,
        runtime,
        principal,
        action=SnapshotAction.CREATE.value,
        resource_type=RESOURCE,
        resource_id=snapshot.id,
    )
    return snapshot, operation


async def update_snapshot(
    session: AsyncSession, principal: Principal, snapshot_id: str, body: SnapshotUpdate
) -> Snapshot:
    """Rename or describe a snapshot; allowed in any live state."""
    snapshot = await get_snapshot(session, principal, snapshot_id)
    if body.name is not None:
        snapshot.name = body.name
    if body.description is not None:
        snapshot.description = body.description
    await _flush_or_conflict(session, snapshot.name)
    return snapshot


async def request_delete(
    session: AsyncSession, runtime: Runtime, principal: Principal, snapshot_id: str
) -> tuple[Snapshot, Operation]:
    """Delete an ``available`` or ``error`` snapshot no volume is being made from (409)."""
    snapshot = await get_snapshot(session, principal, snapshot_id, for_update=True)
    copying = await repository.volumes_being_made_from(session, snapshot.id)
    if copying:
        raise Conflict(
            f"snapshot {snapshot_id} is being copied into {copying} new volume(s)",
            status=snapshot.status,
        )
    changed = await repository.compare_and_set_snapshot(
        session,
        snapshot.id,
        expect={"status": _DELETABLE_FROM},
        values={"status": SnapshotStatus.DELETING.value},
    )
    await session.refresh(snapshot)
    if not changed:
        raise Conflict(
            f"cannot delete snapshot {snapshot_id} while it is {snapshot.status}",
            status=snapshot.status,
        )
    operation = await start_operation(
        session,
        runtime,
        principal,
        action=SnapshotAction.DELETE.value,
        resource_type=RESOURCE,
        resource_id=snapshot.id,
    )
    return snapshot, operation


async def _flush_or_conflict(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a snapshot named {name!r} already exists in this project") from exc
