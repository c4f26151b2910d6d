"""Volume types (admin writes, everyone reads): which pool a kind of volume goes to, and the
one default used when a volume names no type.

Exactly one live type is the default, kept by the database: ``is_default`` is True on one row and
NULL elsewhere under a unique constraint. Making a type the default moves the flag in two
statements. Writers that may move it first lock every live type in id order, so on PostgreSQL and
MariaDB concurrent moves queue rather than deadlock; should a move still trip the constraint, it
is retried inside a savepoint. Concurrent "make default" requests all succeed and the last one to
commit wins.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.db import new_id
from cloudplane.kit.errors import Conflict, NotFound, ValidationFailed
from cloudplane.storage import repository
from cloudplane.storage.models import Volume, VolumeType
from cloudplane.storage.repository import RowLock
from cloudplane.storage.schemas import VolumeTypeCreate, VolumeTypeUpdate

RESOURCE = "volume type"

_DEFAULT_MOVE_ATTEMPTS = 20


async def get_volume_type(
    session: AsyncSession, ref: str, *, include_deleted: bool = False
) -> VolumeType:
    """A volume type by id or name; 404 when there is none."""
    volume_type = await repository.get_volume_type(
        session, ref, include_deleted=include_deleted, by_name=True
    )
    if volume_type is None:
        raise NotFound(RESOURCE, ref)
    return volume_type


async def type_for_new_volume(session: AsyncSession, ref: str | None) -> VolumeType:
    """The type a new volume gets: ``ref`` (id or name) or the default.

    Share-locked until the transaction ends, so a concurrent type delete waits and then counts
    the new volume. 422 for an unknown type (it is a field of the request), 409 when no default
    exists.
    """
    if ref is None:
        volume_type = await repository.get_default_volume_type(session, lock=RowLock.SHARE)
        if volume_type is None:
            raise Conflict("no default volume type is configured; name one", status="no_default")
        return volume_type
    volume_type = await repository.get_volume_type(session, ref, by_name=True, lock=RowLock.SHARE)
    if volume_type is None:
        raise ValidationFailed(f"volume type {ref!r} does not exist", field="body.volume_type")
    return volume_type


async def create_volume_type(session: AsyncSession, body: VolumeTypeCreate) -> VolumeType:
    """Store a type in a live pool (422 otherwise); the first type, or ``is_default``, becomes
    the default. A taken name is 409."""
    await repository.lock_live_volume_types(session)
    pool = await repository.get_pool(session, body.storage_pool_id)
    if pool is None:
        raise ValidationFailed(
            f"storage pool {body.storage_pool_id} does not exist", field="body.storage_pool_id"
        )
    volume_type = VolumeType(
        id=new_id(),
        name=body.name,
        description=body.description,
        storage_pool_id=pool.id,
        is_default=None,
    )
    session.add(volume_type)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a volume type named {body.name!r} already exists") from exc
    if body.is_default or await repository.get_default_volume_type(session) is None:
        await _make_default(session, volume_type)
    return volume_type


async def update_volume_type(
    session: AsyncSession, type_id: str, body: VolumeTypeUpdate
) -> VolumeType:
    """Rename or describe a type, or make it the default (``is_default: true``)."""
    if body.is_default:
        await repository.lock_live_volume_types(session)
    volume_type = await repository.get_volume_type(session, type_id)
    if volume_type is None:
        raise NotFound(RESOURCE, type_id)
    if body.name is not None:
        volume_type.name = body.name
    if body.description is not None:
        volume_type.description = body.description
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a volume type named {volume_type.name!r} already exists") from exc
    if body.is_default:
        await _make_default(session, volume_type)
    return volume_type


async def delete_volume_type(session: AsyncSession, type_id: str) -> None:
    """Soft-delete a type that is not the default and that no live volume uses (409)."""
    volume_type = await repository.get_volume_type(session, type_id, lock=RowLock.UPDATE)
    if volume_type is None:
        raise NotFound(RESOURCE, type_id)
    if volume_type.is_default:
        raise Conflict(
            f"volume type {volume_type.name} is the default; make another type the default first",
            status="default",
        )
    volumes = await repository.count_live(session, Volume.volume_type_id, type_id, Volume)
    if volumes:
        raise Conflict(
            f"volume type {volume_type.name} is used by {volumes} volume(s)",
            status="in_use",
            in_use_by={"volumes": volumes},
        )
    volume_type.mark_deleted(volume_type.id)
    await session.flush()


async def _make_default(session: AsyncSession, volume_type: VolumeType) -> None:
    for _ in range(_DEFAULT_MOVE_ATTEMPTS):
        try:
            async with session.begin_nested():
                moved = await repository.move_default_volume_type(session, volume_type.id)
        except IntegrityError:
            continue  # another move committed meanwhile; the next attempt clears its flag
        if not moved:
            raise NotFound(RESOURCE, volume_type.id)
        await session.refresh(volume_type)
        return
    raise Conflict("the default volume type is changing too often; retry", status="busy")
