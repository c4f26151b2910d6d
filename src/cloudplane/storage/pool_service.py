"""Storage pools (admin): create (making or mounting the path), show with live figures, delete.

A pool's allocation is the sum of its live volumes' sizes, counted whenever it is needed, never
kept. Capacity is the operator's ``capacity_gb`` or the file system's size. Creating a volume
locks the pool row (``FOR UPDATE``) before counting, so concurrent creates cannot overfill it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.db import after_commit, new_id
from cloudplane.kit.errors import Conflict, NotFound
from cloudplane.runtime import Runtime
from cloudplane.storage import repository
from cloudplane.storage.models import StoragePool, Volume, VolumeType
from cloudplane.storage.pool_host import (
    NfsMounter,
    PoolProbe,
    check_mounted_path,
    mountpoint_for,
    prepare_dir_pool,
    probe_pool,
)
from cloudplane.storage.schemas import (
    PoolKind,
    PoolStatus,
    StoragePoolCreate,
    StoragePoolUpdate,
)

RESOURCE = "storage pool"

nfs_mounter = NfsMounter()
"""The host's NFS mounter; tests replace its commands."""


@dataclass(frozen=True, slots=True)
class PoolFigures:
    """A pool's capacity, allocation and availability as of now."""

    status: PoolStatus
    capacity_gb: int
    allocated_gb: int

    @property
    def available_gb(self) -> int:
        return max(self.capacity_gb - self.allocated_gb, 0)


def figures_of(pool: StoragePool, probe: PoolProbe, allocated_gb: int) -> PoolFigures:
    capacity = pool.capacity_gb if pool.capacity_gb is not None else probe.filesystem_gb
    return PoolFigures(status=probe.status, capacity_gb=capacity, allocated_gb=allocated_gb)


async def pool_figures(session: AsyncSession, pools: list[StoragePool]) -> dict[str, PoolFigures]:
    """Figures of several pools: one allocation query, one file-system probe per pool."""
    allocated = await repository.allocated_gb(session, [pool.id for pool in pools])
    figures = {}
    for pool in pools:
        probe = await probe_pool(pool.kind, pool.path)
        figures[pool.id] = figures_of(pool, probe, allocated[pool.id])
    return figures


async def get_pool(
    session: AsyncSession, pool_id: str, *, include_deleted: bool = False
) -> StoragePool:
    pool = await repository.get_pool(session, pool_id, include_deleted=include_deleted)
    if pool is None:
        raise NotFound(RESOURCE, pool_id)
    return pool


async def reserve_pool_space(session: AsyncSession, pool_id: str, requested_gb: int) -> None:
    """Lock the pool and check ``requested_gb`` more fits; 409 ``conflict`` when it does not.

    The lock holds until the caller's transaction ends, so the volume the caller then stores is
    counted by the next request that locks the pool.
    """
    pool = await repository.get_pool(session, pool_id, for_update=True)
    if pool is None:
        raise Conflict(f"storage pool {pool_id} no longer exists", status="deleted")
    probe = await probe_pool(pool.kind, pool.path)
    if probe.status is not PoolStatus.ACTIVE:
        raise Conflict(
            f"storage pool {pool.name} is unavailable (its path {pool.path} is not there)",
            status=probe.status.value,
            storage_pool_id=pool.id,
        )
    allocated = (await repository.allocated_gb(session, [pool.id]))[pool.id]
    figures = figures_of(pool, probe, allocated)
    if requested_gb > figures.available_gb:
        raise Conflict(
            f"storage pool {pool.name} has {figures.available_gb} GB available; "
            f"{requested_gb} GB requested",
            status="full",
            storage_pool_id=pool.id,
            capacity_gb=figures.capacity_gb,
            allocated_gb=figures.allocated_gb,
            available_gb=figures.available_gb,
            requested_gb=requested_gb,
        )


async def create_pool(
    session: AsyncSession, runtime: Runtime, body: StoragePoolCreate
) -> StoragePool:
    """Store a pool whose path is ready: a dir pool's directory is created if missing, an NFS
    ``path`` must already be mounted, an NFS ``export`` is mounted under the data dir.

    A taken name or path is 409. The row is flushed before mounting, so a conflict mounts
    nothing, and a failed mount (422) rolls the row back.
    """
    pool_id = new_id()
    if body.kind is PoolKind.DIR:
        assert body.path is not None  # the schema requires it
        path = body.path
        await prepare_dir_pool(path)
    elif body.export is None:
        assert body.path is not None  # the schema requires one of them
        path = body.path
        await check_mounted_path(path)
    else:
        nfs_mounter.check_supported()
        path = str(mountpoint_for(runtime.settings.data_dir, pool_id))
    pool = StoragePool(
        id=pool_id,
        name=body.name,
        kind=body.kind.value,
        path=path,
        export=body.export,
        capacity_gb=body.capacity_gb,
    )
    session.add(pool)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a storage pool named {body.name!r} or on {path} already exists") from exc
    if body.export is not None:
        await nfs_mounter.mount(body.export, mountpoint_for(runtime.settings.data_dir, pool_id))
    return pool


async def update_pool(session: AsyncSession, pool_id: str, body: StoragePoolUpdate) -> StoragePool:
    """Rename a pool or change its explicit capacity (null: back to the file system's size)."""
    pool = await get_pool(session, pool_id)
    if body.name is not None:
        pool.name = body.name
    if "capacity_gb" in body.model_fields_set:
        pool.capacity_gb = body.capacity_gb
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a storage pool named {pool.name!r} already exists") from exc
    return pool


async def delete_pool(session: AsyncSession, runtime: Runtime, pool_id: str) -> None:
    """Soft-delete a pool no live volume or volume type uses (409 with counts otherwise); an
    export cloudplane mounted is unmounted after commit."""
    pool = await repository.get_pool(session, pool_id, for_update=True)
    if pool is None:
        raise NotFound(RESOURCE, pool_id)
    volumes = await repository.count_live(session, Volume.storage_pool_id, pool_id, Volume)
    types = await repository.count_live(session, VolumeType.storage_pool_id, pool_id, VolumeType)
    if volumes or types:
        raise Conflict(
            f"storage pool {pool.name} is in use by {volumes} volume(s) and {types} volume type(s)",
            status="in_use",
            in_use_by={"volumes": volumes, "volume_types": types},
        )
    pool.mark_deleted(pool.id)
    await session.flush()
    if pool.export is not None:
        mountpoint = mountpoint_for(runtime.settings.data_dir, pool.id)

        async def _unmount() -> None:
            await nfs_mounter.unmount(mountpoint)

        after_commit(session, _unmount)
