"""Block-storage queries, counts and compare-and-set updates. No rules live here."""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE
from cloudplane.storage.models import Snapshot, StoragePool, Volume, VolumeAttachment, VolumeType


class RowLock(enum.Enum):
    """How a read locks the row until the transaction ends (SQLite has one writer anyway)."""

    NONE = "none"
    SHARE = "share"
    UPDATE = "update"


Row = TypeVar("Row")


def _locked(stmt: Select[Row], lock: RowLock) -> Select[Row]:
    if lock is RowLock.SHARE:
        return stmt.with_for_update(read=True)
    if lock is RowLock.UPDATE:
        return stmt.with_for_update()
    return stmt


async def get_volume(
    session: AsyncSession,
    volume_id: str,
    *,
    include_deleted: bool = False,
    for_update: bool = False,
) -> Volume | None:
    stmt = select(Volume).where(Volume.id == volume_id)
    if not include_deleted:
        stmt = stmt.where(Volume.deleted_key == LIVE)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def get_snapshot(
    session: AsyncSession,
    snapshot_id: str,
    *,
    include_deleted: bool = False,
    for_update: bool = False,
    for_share: bool = False,
) -> Snapshot | None:
    stmt = select(Snapshot).where(Snapshot.id == snapshot_id)
    if not include_deleted:
        stmt = stmt.where(Snapshot.deleted_key == LIVE)
    if for_update:
        stmt = stmt.with_for_update()
    elif for_share:
        stmt = stmt.with_for_update(read=True)
    return await session.scalar(stmt)


def volumes_query(*, project_id: str | None, include_deleted: bool) -> Select[Volume]:
    stmt = select(Volume)
    if project_id is not None:
        stmt = stmt.where(Volume.project_id == project_id)
    if not include_deleted:
        stmt = stmt.where(Volume.deleted_key == LIVE)
    return stmt


def snapshots_query(*, project_id: str | None, include_deleted: bool) -> Select[Snapshot]:
    stmt = select(Snapshot)
    if project_id is not None:
        stmt = stmt.where(Snapshot.project_id == project_id)
    if not include_deleted:
        stmt = stmt.where(Snapshot.deleted_key == LIVE)
    return stmt


async def storage_usage(session: AsyncSession, project_id: str) -> Mapping[str, int]:
    """Live volumes, their gigabytes, and live snapshots of a project, counted from the rows."""
    count, size_gb = (
        await session.execute(
            select(func.count(Volume.id), func.coalesce(func.sum(Volume.size_gb), 0)).where(
                Volume.project_id == project_id, Volume.deleted_key == LIVE
            )
        )
    ).one()
    snapshots = await session.scalar(
        select(func.count(Snapshot.id)).where(
            Snapshot.project_id == project_id, Snapshot.deleted_key == LIVE
        )
    )
    return {"volumes": int(count), "volume_gb": int(size_gb), "snapshots": int(snapshots or 0)}


async def allocated_gb(session: AsyncSession, pool_ids: Sequence[str]) -> dict[str, int]:
    """Gigabytes of live volumes in each pool (zero for a pool without any)."""
    if not pool_ids:
        return {}
    rows = await session.execute(
        select(Volume.storage_pool_id, func.coalesce(func.sum(Volume.size_gb), 0))
        .where(Volume.storage_pool_id.in_(list(pool_ids)), Volume.deleted_key == LIVE)
        .group_by(Volume.storage_pool_id)
    )
    allocated = dict.fromkeys(pool_ids, 0)
    for pool_id, total in rows.all():
        allocated[pool_id] = int(total)
    return allocated


async def count_live(session: AsyncSession, column: Any, value: str, model: Any) -> int:
    """How many live rows of ``model`` have ``column == value``."""
    count = await session.scalar(
        select(func.count()).select_from(model).where(column == value, model.deleted_key == LIVE)
    )
    return int(count or 0)


async def volumes_being_made_from(session: AsyncSession, snapshot_id: str) -> int:
    """Live volumes still ``creating`` from the snapshot (its data is being copied)."""
    count = await session.scalar(
        select(func.count(Volume.id)).where(
            Volume.snapshot_id == snapshot_id,
            Volume.status == "creating",
            Volume.deleted_key == LIVE,
        )
    )
    return int(count or 0)


async def get_pool(
    session: AsyncSession, pool_id: str, *, include_deleted: bool = False, for_update: bool = False
) -> StoragePool | None:
    stmt = select(StoragePool).where(StoragePool.id == pool_id)
    if not include_deleted:
        stmt = stmt.where(StoragePool.deleted_key == LIVE)
    if for_update:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def get_volume_type(
    session: AsyncSession,
    ref: str,
    *,
    include_deleted: bool = False,
    by_name: bool = False,
    lock: RowLock = RowLock.NONE,
) -> VolumeType | None:
    """A volume type by id (or, with ``by_name``, else by name among live types)."""
    stmt = _locked(select(VolumeType).where(VolumeType.id == ref), lock)
    if not include_deleted:
        stmt = stmt.where(VolumeType.deleted_key == LIVE)
    found = await session.scalar(stmt)
    if found is not None or not by_name:
        return found
    return await session.scalar(
        _locked(
            select(VolumeType).where(VolumeType.name == ref, VolumeType.deleted_key == LIVE), lock
        )
    )


async def get_default_volume_type(
    session: AsyncSession, *, lock: RowLock = RowLock.NONE
) -> VolumeType | None:
    return await session.scalar(
        _locked(
            select(VolumeType).where(
                VolumeType.is_default.is_(True), VolumeType.deleted_key == LIVE
            ),
            lock,
        )
    )


async def lock_live_volume_types(session: AsyncSession) -> None:
    """Write-lock every live volume type, in id order, until the transaction ends.

    Taken before anything else by whoever may move the default flag, so concurrent moves queue
    on the first row instead of locking rows in different orders and deadlocking.
    """
    await session.execute(
        select(VolumeType.id)
        .where(VolumeType.deleted_key == LIVE)
        .order_by(VolumeType.id)
        .with_for_update()
    )


async def move_default_volume_type(session: AsyncSession, volume_type_id: str) -> bool:
    """Clear the default flag wherever it is and set it on ``volume_type_id`` (if still live).

    Two statements in the caller's transaction; a concurrent mover that committed in between
    makes the second one hit the unique constraint (``IntegrityError``), and the caller retries.
    """
    await session.execute(
        update(VolumeType)
        .where(VolumeType.is_default.is_(True), VolumeType.id != volume_type_id)
        .values(is_default=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(
        update(VolumeType)
        .where(VolumeType.id == volume_type_id, VolumeType.deleted_key == LIVE)
        .values(is_default=True, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def type_names(session: AsyncSession, type_ids: Sequence[str]) -> dict[str, str]:
    if not type_ids:
        return {}
    rows = await session.execute(
        select(VolumeType.id, VolumeType.name).where(VolumeType.id.in_(list(set(type_ids))))
    )
    return {type_id: name for type_id, name in rows.all()}


async def attachments_of_volumes(
    session: AsyncSession, volume_ids: Sequence[str]
) -> dict[str, VolumeAttachment]:
    if not volume_ids:
        return {}
    rows = await session.scalars(
        select(VolumeAttachment).where(VolumeAttachment.volume_id.in_(list(volume_ids)))
    )
    return {row.volume_id: row for row in rows}


async def attachments_of_servers(
    session: AsyncSession, server_ids: Sequence[str]
) -> list[VolumeAttachment]:
    if not server_ids:
        return []
    rows = await session.scalars(
        select(VolumeAttachment)
        .where(VolumeAttachment.server_id.in_(list(server_ids)))
        .order_by(VolumeAttachment.device)
    )
    return list(rows)


@functools.cache
def _server_volume_entries_statement() -> Select[Any]:
    # Built once and read as Core rows: server show and list run it for every request.
    attachments = VolumeAttachment.__table__
    return (
        select(
            attachments.c.server_id,
            attachments.c.volume_id,
            attachments.c.device,
            attachments.c.boot,
        )
        .where(attachments.c.server_id.in_(bindparam("server_ids", expanding=True)))
        .order_by(attachments.c.device)
    )


async def server_volume_rows(session: AsyncSession, server_ids: Sequence[str]) -> Sequence[Any]:
    """``(server_id, volume_id, device, boot)`` of every attachment of ``server_ids``, by
    device."""
    if not server_ids:
        return []
    result = await session.execute(
        _server_volume_entries_statement(), {"server_ids": list(server_ids)}
    )
    return list(result.all())


async def get_attachment(session: AsyncSession, volume_id: str) -> VolumeAttachment | None:
    return await session.scalar(
        select(VolumeAttachment).where(VolumeAttachment.volume_id == volume_id)
    )


async def compare_and_set_volume(
    session: AsyncSession,
    volume_id: str,
    *,
    expect: Mapping[str, Any],
    values: Mapping[str, Any],
) -> bool:
    """Update a live volume only if its columns still hold ``expect``; True when it did.

    ``expect`` values that are collections match any member; None matches NULL.
    """
    return await _compare_and_set(session, Volume, volume_id, expect=expect, values=values)


async def compare_and_set_snapshot(
    session: AsyncSession,
    snapshot_id: str,
    *,
    expect: Mapping[str, Any],
    values: Mapping[str, Any],
) -> bool:
    """As ``compare_and_set_volume``, for a live snapshot."""
    return await _compare_and_set(session, Snapshot, snapshot_id, expect=expect, values=values)


async def _compare_and_set(
    session: AsyncSession,
    model: type[Volume] | type[Snapshot],
    row_id: str,
    *,
    expect: Mapping[str, Any],
    values: Mapping[str, Any],
) -> bool:
    stmt = update(model).where(model.id == row_id, model.deleted_key == LIVE)
    for name, wanted in expect.items():
        column = getattr(model, name)
        if wanted is None:
            stmt = stmt.where(column.is_(None))
        elif isinstance(wanted, (set, frozenset, list, tuple)):
            stmt = stmt.where(column.in_(list(wanted)))
        else:
            stmt = stmt.where(column == wanted)
    result = await session.execute(
        stmt.values(updated_at=utcnow(), **values).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def pools_query(*, include_deleted: bool) -> Select[StoragePool]:
    stmt = select(StoragePool)
    if not include_deleted:
        stmt = stmt.where(StoragePool.deleted_key == LIVE)
    return stmt


def volume_types_query(*, include_deleted: bool) -> Select[VolumeType]:
    stmt = select(VolumeType)
    if not include_deleted:
        stmt = stmt.where(VolumeType.deleted_key == LIVE)
    return stmt
