"""Seed data for block storage: a ``dir`` pool under the data dir and a default volume type."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.db import new_id
from cloudplane.runtime import Runtime
from cloudplane.storage.models import StoragePool, VolumeType
from cloudplane.storage.schemas import PoolKind

DEFAULT_POOL_NAME = "default"
DEFAULT_VOLUME_TYPE_NAME = "standard"


async def seed_storage(session: AsyncSession, runtime: Runtime) -> None:
    """Add the ``default`` pool (``<data_dir>/volumes``, sized by its file system) and the
    ``standard`` volume type in it, which is the default type."""
    path = (runtime.settings.data_dir / "volumes").resolve()
    await asyncio.to_thread(path.mkdir, parents=True, exist_ok=True)
    pool = StoragePool(id=new_id(), name=DEFAULT_POOL_NAME, kind=PoolKind.DIR.value, path=str(path))
    session.add(pool)
    await session.flush()
    session.add(
        VolumeType(
            id=new_id(),
            name=DEFAULT_VOLUME_TYPE_NAME,
            description="Volumes in the default pool.",
            storage_pool_id=pool.id,
            is_default=True,
        )
    )
    await session.flush()
