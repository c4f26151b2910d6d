"""Block-storage rows as API bodies. Lists load type names and attachments in one query each."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.storage import repository
from cloudplane.storage.models import Snapshot, StoragePool, Volume, VolumeAttachment, VolumeType
from cloudplane.storage.pool_service import PoolFigures, pool_figures
from cloudplane.storage.schemas import (
    PoolKind,
    SnapshotAccepted,
    SnapshotOut,
    StoragePoolOut,
    VolumeAccepted,
    VolumeAttachmentOut,
    VolumeOut,
    VolumeTypeOut,
)
from cloudplane.storage.states import SnapshotStatus, VolumeStatus


async def volume_views(session: AsyncSession, volumes: Sequence[Volume]) -> list[VolumeOut]:
    type_names = await repository.type_names(session, [v.volume_type_id for v in volumes])
    attachments = await repository.attachments_of_volumes(session, [v.id for v in volumes])
    return [
        volume_out(volume, type_names.get(volume.volume_type_id, ""), attachments.get(volume.id))
        for volume in volumes
    ]


async def volume_view(session: AsyncSession, volume: Volume) -> VolumeOut:
    return (await volume_views(session, [volume]))[0]


async def volume_accepted(
    session: AsyncSession, volume: Volume, operation_id: str
) -> VolumeAccepted:
    view = await volume_view(session, volume)
    return VolumeAccepted(**view.model_dump(), operation_id=operation_id)


def volume_out(volume: Volume, type_name: str, attachment: VolumeAttachment | None) -> VolumeOut:
    status = VolumeStatus.DELETED if volume.deleted_at is not None else VolumeStatus(volume.status)
    return VolumeOut(
        id=volume.id,
        name=volume.name,
        description=volume.description,
        project_id=volume.project_id,
        user_id=volume.user_id,
        size_gb=volume.size_gb,
        volume_type=type_name,
        volume_type_id=volume.volume_type_id,
        storage_pool_id=volume.storage_pool_id,
        status=status,
        bootable=volume.bootable,
        image_id=volume.image_id,
        snapshot_id=volume.snapshot_id,
        attachments=[]
        if attachment is None
        else [VolumeAttachmentOut(server_id=attachment.server_id, device=attachment.device)],
        delete_on_termination=volume.owner_server_id is not None,
        error=volume.error_message,
        created_at=volume.created_at,
        updated_at=volume.updated_at,
        deleted_at=volume.deleted_at,
    )


def snapshot_out(snapshot: Snapshot) -> SnapshotOut:
    status = (
        SnapshotStatus.DELETED
        if snapshot.deleted_at is not None
        else SnapshotStatus(snapshot.status)
    )
    return SnapshotOut(
        id=snapshot.id,
        volume_id=snapshot.volume_id,
        project_id=snapshot.project_id,
        name=snapshot.name,
        description=snapshot.description,
        size_gb=snapshot.size_gb,
        status=status,
        error=snapshot.error_message,
        created_at=snapshot.created_at,
        updated_at=snapshot.updated_at,
        deleted_at=snapshot.deleted_at,
    )


def snapshot_accepted(snapshot: Snapshot, operation_id: str) -> SnapshotAccepted:
    return SnapshotAccepted(**snapshot_out(snapshot).model_dump(), operation_id=operation_id)


async def pool_views(session: AsyncSession, pools: Sequence[StoragePool]) -> list[StoragePoolOut]:
    figures = await pool_figures(session, list(pools))
    return [pool_out(pool, figures[pool.id]) for pool in pools]


async def pool_view(session: AsyncSession, pool: StoragePool) -> StoragePoolOut:
    return (await pool_views(session, [pool]))[0]


def pool_out(pool: StoragePool, figures: PoolFigures) -> StoragePoolOut:
    return StoragePoolOut(
        id=pool.id,
        name=pool.name,
        kind=PoolKind(pool.kind),
        path=pool.path,
        export=pool.export,
        capacity_gb=figures.capacity_gb,
        allocated_gb=figures.allocated_gb,
        available_gb=figures.available_gb,
        status=figures.status,
        created_at=pool.created_at,
        updated_at=pool.updated_at,
        deleted_at=pool.deleted_at,
    )


def volume_type_out(volume_type: VolumeType) -> VolumeTypeOut:
    return VolumeTypeOut(
        id=volume_type.id,
        name=volume_type.name,
        description=volume_type.description,
        storage_pool_id=volume_type.storage_pool_id,
        is_default=bool(volume_type.is_default),
        created_at=volume_type.created_at,
        updated_at=volume_type.updated_at,
        deleted_at=volume_type.deleted_at,
    )
