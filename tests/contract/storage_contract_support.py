"""Helpers shared by the block-storage contract tests: specs with fresh ids, a fresh server."""

from __future__ import annotations

import uuid
from pathlib import Path

from cloudplane.drivers.base import ComputeDriver, ServerSpec
from cloudplane.drivers.contract import Driver
from cloudplane.drivers.storage_contract import ImageSource, VolumeSpec


def whole_driver(driver: ComputeDriver) -> Driver:
    """The opened ``driver`` fixture seen through the whole contract (it composes every half)."""
    assert isinstance(driver, Driver)
    return driver


def volume_spec(
    pool: Path,
    size_gb: int = 1,
    *,
    image: ImageSource | None = None,
    snapshot_id: str | None = None,
) -> VolumeSpec:
    return VolumeSpec(
        id=str(uuid.uuid4()),
        name="contract-volume",
        size_gb=size_gb,
        pool_path=str(pool),
        image=image,
        snapshot_id=snapshot_id,
    )


async def new_server(storage: Driver) -> str:
    spec = ServerSpec(
        id=str(uuid.uuid4()), name="contract-server", vcpus=1, ram_mb=256, disk_gb=1, image=None
    )
    await storage.create_server(spec)
    return spec.id


async def listed_volume_ids(storage: Driver) -> list[str]:
    return [volume.id for volume in await storage.list_volumes()]
