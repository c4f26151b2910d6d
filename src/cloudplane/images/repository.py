"""Image queries and compare-and-set updates. No rules live here; the service has them."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute.models import Server
from cloudplane.images.models import Image
from cloudplane.images.schemas import ImageStatus, Visibility
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE
from cloudplane.storage.models import Volume


class RowLock(enum.Enum):
    """How a read locks the row until the transaction ends (ignored by SQLite, which has one
    writer at a time anyway)."""

    NONE = "none"
    SHARE = "share"
    """Others may read and share-lock it, but not change it: taken by code about to use it."""
    UPDATE = "update"
    """Taken before deciding to change it, so users counted after the lock are all the users."""


async def get_image(
    session: AsyncSession,
    image_id: str,
    *,
    include_deleted: bool = False,
    lock: RowLock = RowLock.NONE,
) -> Image | None:
    stmt = select(Image).where(Image.id == image_id)
    if not include_deleted:
        stmt = stmt.where(Image.deleted_key == LIVE)
    if lock is RowLock.SHARE:
        stmt = stmt.with_for_update(read=True)
    elif lock is RowLock.UPDATE:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def get_status(session: AsyncSession, image_id: str) -> str | None:
    """The image's status as committed now (bypasses the session's identity map)."""
    return await session.scalar(select(Image.status).where(Image.id == image_id))


def images_query(
    *, owner_project_id: str | None, public_too: bool, include_deleted: bool
) -> Select[Image]:
    """Images owned by ``owner_project_id`` (every project's when None), plus every public image
    when ``public_too``."""
    stmt = select(Image)
    if owner_project_id is not None:
        owned = Image.project_id == owner_project_id
        stmt = stmt.where(
            or_(owned, Image.visibility == Visibility.PUBLIC.value) if public_too else owned
        )
    if not include_deleted:
        stmt = stmt.where(Image.deleted_key == LIVE)
    return stmt


async def compare_and_set(
    session: AsyncSession, image_id: str, *, expect_status: str, values: Mapping[str, Any]
) -> bool:
    """Update a live image only while its status is ``expect_status``; True when it did."""
    result = await session.execute(
        update(Image)
        .where(
            Image.id == image_id,
            Image.deleted_key == LIVE,
            Image.status == expect_status,
        )
        .values(updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def requeue_all_saving(session: AsyncSession) -> list[str]:
    """Put every live ``saving`` image back to ``queued``; returns their ids.

    Two statements, not UPDATE … RETURNING, which MariaDB lacks.
    """
    saving = (
        Image.deleted_key == LIVE,
        Image.status == ImageStatus.SAVING.value,
    )
    image_ids = list((await session.scalars(select(Image.id).where(*saving))).all())
    if image_ids:
        await session.execute(
            update(Image)
            .where(Image.id.in_(image_ids), *saving)
            .values(status=ImageStatus.QUEUED.value, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return image_ids


async def image_usage(session: AsyncSession, image_id: str) -> dict[str, int]:
    """The in-use check: how many live resources of each kind use the image.

    An image with any non-zero count cannot be deleted. Every kind that can refer to an image
    adds its count here.
    """
    servers = await session.scalar(
        select(func.count(Server.id)).where(Server.image_id == image_id, Server.deleted_key == LIVE)
    )
    volumes = await session.scalar(
        select(func.count(Volume.id)).where(Volume.image_id == image_id, Volume.deleted_key == LIVE)
    )
    return {"servers": int(servers or 0), "volumes": int(volumes or 0)}
