"""Volume rules: who sees which volume, create with quota and pool capacity, rename, extend,
delete.

Every change that needs the backend is a compare-and-set on the volume's ``status`` plus a
pending operation in the same transaction; the worker does the rest after commit. Creates lock
the project's quota row and then the pool row, in that order everywhere, before counting.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.base import Capability
from cloudplane.identity.principal import Principal
from cloudplane.identity.quotas import check_quota, lock_quota
from cloudplane.images.models import Image
from cloudplane.images.service import get_bootable_image
from cloudplane.kit.db import new_id
from cloudplane.kit.errors import Conflict, NotFound, NotSupported, ValidationFailed
from cloudplane.operations.models import Operation
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime
from cloudplane.storage import repository
from cloudplane.storage.image_sources import minimum_volume_gb
from cloudplane.storage.models import Snapshot, Volume
from cloudplane.storage.pool_service import reserve_pool_space
from cloudplane.storage.schemas import VolumeCreate, VolumeExtend, VolumeUpdate
from cloudplane.storage.states import (
    DELETABLE_FROM,
    EXTENDABLE_FROM,
    SnapshotStatus,
    VolumeAction,
    VolumeStatus,
    values,
)
from cloudplane.storage.volume_type_service import type_for_new_volume

RESOURCE = "volume"


def visible(principal: Principal, project_id: str) -> bool:
    return principal.is_admin or project_id == principal.project_id


async def get_volume(
    session: AsyncSession, principal: Principal, volume_id: str, *, for_update: bool = False
) -> Volume:
    """A live volume the principal may see; another project's is 404 (admins see all)."""
    volume = await repository.get_volume(session, volume_id, for_update=for_update)
    if volume is None or not visible(principal, volume.project_id):
        raise NotFound(RESOURCE, volume_id)
    return volume


async def get_volume_any_state(
    session: AsyncSession, principal: Principal, volume_id: str, *, include_deleted: bool
) -> Volume:
    volume = await repository.get_volume(
        session, volume_id, include_deleted=include_deleted and principal.is_admin
    )
    if volume is None or not visible(principal, volume.project_id):
        raise NotFound(RESOURCE, volume_id)
    return volume


async def create_volume(
    session: AsyncSession, runtime: Runtime, principal: Principal, body: VolumeCreate
) -> tuple[Volume, Operation]:
    """Validate the source, check quota and pool space under their locks, then store the
    volume ``creating`` with a ``create`` operation. Nothing is stored when a check fails."""
    image = None
    snapshot = None
    if body.image_id is not None:
        image = await get_bootable_image(session, principal, body.image_id)
        await check_fits_image(runtime, image, body.size_gb, field="body.size_gb")
    if body.snapshot_id is not None:
        snapshot = await _snapshot_to_copy(session, principal, body.snapshot_id, body.size_gb)
    volume = await store_new_volume(
        session,
        runtime,
        principal,
        name=body.name,
        description=body.description,
        size_gb=body.size_gb,
        volume_type=body.volume_type,
        image=image,
        snapshot=snapshot,
    )
    operation = await start_operation(
        session,
        runtime,
        principal,
        action=VolumeAction.CREATE.value,
        resource_type=RESOURCE,
        resource_id=volume.id,
    )
    return volume, operation


async def check_fits_image(runtime: Runtime, image: Image, size_gb: int, *, field: str) -> None:
    """422 unless ``size_gb`` holds the image (its minimum disk and its virtual size)."""
    needed = await minimum_volume_gb(runtime, image)
    if size_gb < needed:
        raise ValidationFailed(
            f"image {image.name} needs a volume of at least {needed} GB; {size_gb} GB requested",
            field=field,
            minimum_gb=needed,
        )


async def store_new_volume(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    *,
    name: str,
    description: str,
    size_gb: int,
    volume_type: str | None,
    image: Image | None = None,
    snapshot: Snapshot | None = None,
    owner_server_id: str | None = None,
) -> Volume:
    """Check quota (``volumes``, ``volume_gb``) and pool space, then add a ``creating`` volume.

    A name taken by a live volume of the project is 409.
    """
    chosen_type = await type_for_new_volume(session, volume_type)
    quota = await lock_quota(session, principal.project_id)
    usage = await repository.storage_usage(session, principal.project_id)
    check_quota(quota, usage, {"volumes": 1, "volume_gb": size_gb})
    await reserve_pool_space(session, chosen_type.storage_pool_id, size_gb)
    volume = Volume(
        id=new_id(),
        project_id=principal.project_id,
        user_id=principal.user_id,
        name=name,
        description=description,
        size_gb=size_gb,
        volume_type_id=chosen_type.id,
        storage_pool_id=chosen_type.storage_pool_id,
        status=VolumeStatus.CREATING.value,
        bootable=image is not None,
        image_id=image.id if image else None,
        snapshot_id=snapshot.id if snapshot else None,
        owner_server_id=owner_server_id,
    )
    if snapshot is not None:
        origin = await repository.get_volume(session, snapshot.volume_id, include_deleted=True)
        volume.bootable = origin is not None and origin.bootable
    session.add(volume)
    await flush_or_conflict(session, name)
    return volume


async def _snapshot_to_copy(
    session: AsyncSession, principal: Principal, snapshot_id: str, size_gb: int
) -> Snapshot:
    """An available snapshot of the project, share-locked so it cannot be deleted meanwhile;
    404 / 409 (not available) / 422 (larger than ``size_gb``)."""
    snapshot = await repository.get_snapshot(session, snapshot_id, for_share=True)
    if snapshot is None or not visible(principal, snapshot.project_id):
        raise NotFound("snapshot", snapshot_id)
    if snapshot.status != SnapshotStatus.AVAILABLE.value:
        raise Conflict(
            f"snapshot {snapshot_id} is {snapshot.status}; only an available one can be copied",
            status=snapshot.status,
        )
    if size_gb < snapshot.size_gb:
        raise ValidationFailed(
            f"snapshot {snapshot_id} has {snapshot.size_gb} GB; a volume made from it needs "
            f"at least that, {size_gb} GB requested",
            field="body.size_gb",
            minimum_gb=snapshot.size_gb,
        )
    return snapshot


async def update_volume(
    session: AsyncSession, principal: Principal, volume_id: str, body: VolumeUpdate
) -> Volume:
    """Rename or describe a volume; allowed in any live state."""
    volume = await get_volume(session, principal, volume_id)
    if body.name is not None:
        volume.name = body.name
    if body.description is not None:
        volume.description = body.description
    await flush_or_conflict(session, volume.name)
    return volume


async def request_extend(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    volume_id: str,
    body: VolumeExtend,
) -> tuple[Volume, Operation]:
    """Grow a volume (``available``, or ``in-use`` where the driver extends online).

    The new size counts at once against ``volume_gb`` and the pool, so nothing can take the
    space while the backend works; a failure gives it back. Not larger than now: 422.
    """
    volume = await get_volume(session, principal, volume_id)
    if body.size_gb <= volume.size_gb:
        raise ValidationFailed(
            f"volume {volume_id} has {volume.size_gb} GB; extend needs a larger size "
            f"(volumes never shrink)",
            field="body.size_gb",
            size_gb=volume.size_gb,
        )
    if (
        volume.status == VolumeStatus.IN_USE.value
        and Capability.VOLUME_EXTEND_ONLINE not in runtime.driver.capabilities
    ):
        raise NotSupported("the driver cannot extend an attached volume; detach it first")
    growth = body.size_gb - volume.size_gb
    quota = await lock_quota(session, volume.project_id)
    usage = await repository.storage_usage(session, volume.project_id)
    check_quota(quota, usage, {"volume_gb": growth})
    await reserve_pool_space(session, volume.storage_pool_id, growth)
    previous_size = volume.size_gb
    changed = await repository.compare_and_set_volume(
        session,
        volume.id,
        expect={"status": values(EXTENDABLE_FROM), "size_gb": previous_size},
        values={
            "status": VolumeStatus.EXTENDING.value,
            "status_before": volume.status,
            "size_gb": body.size_gb,
            "error_message": None,
        },
    )
    await session.refresh(volume)
    if not changed:
        raise cannot("extend", volume)
    operation = await start_operation(
        session,
        runtime,
        principal,
        action=VolumeAction.EXTEND.value,
        resource_type=RESOURCE,
        resource_id=volume.id,
        params={"from_gb": previous_size, "to_gb": body.size_gb},
    )
    return volume, operation


async def request_delete(
    session: AsyncSession, runtime: Runtime, principal: Principal, volume_id: str
) -> tuple[Volume, Operation]:
    """Delete an ``available`` or ``error`` volume that is not attached and has no live
    snapshots (409 otherwise, with ``details.status``).

    The volume row is locked first, so a snapshot being created from it either committed
    before (and is counted) or waits and then finds it ``deleting``.
    """
    volume = await get_volume(session, principal, volume_id, for_update=True)
    attachment = await repository.get_attachment(session, volume.id)
    if attachment is not None:
        raise Conflict(
            f"volume {volume_id} is attached to server {attachment.server_id}; detach it first",
            status=volume.status,
            server_id=attachment.server_id,
        )
    snapshots = await repository.count_live(session, Snapshot.volume_id, volume.id, Snapshot)
    if snapshots:
        raise Conflict(
            f"volume {volume_id} has {snapshots} snapshot(s); delete them first",
            status=volume.status,
            snapshots=snapshots,
        )
    changed = await repository.compare_and_set_volume(
        session,
        volume.id,
        expect={"status": values(DELETABLE_FROM)},
        values={"status": VolumeStatus.DELETING.value},
    )
    await session.refresh(volume)
    if not changed:
        raise cannot("delete", volume)
    operation = await start_operation(
        session,
        runtime,
        principal,
        action=VolumeAction.DELETE.value,
        resource_type=RESOURCE,
        resource_id=volume.id,
    )
    return volume, operation


def cannot(verb: str, volume: Volume) -> Conflict:
    return Conflict(
        f"cannot {verb} volume {volume.id} while it is {volume.status}", status=volume.status
    )


async def flush_or_conflict(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a volume named {name!r} already exists in this project") from exc


def listing_scope(
    principal: Principal, *, project_id: str | None, all_projects: bool
) -> str | None:
    """Which project a list shows: the caller's; admins may name one or ask for all (None)."""
    if principal.is_admin and all_projects:
        return None
    if principal.is_admin and project_id is not None:
        return project_id
    return principal.project_id
