"""The ``snapshot`` provider: a backend snapshot of each volume, in the volume's own pool.

Fast, and restores are quick, but it is not a backup: the data lives beside the original and
goes when the pool goes. Verification checks that each snapshot still exists on the backend.
"""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloudplane.drivers.errors import ResourceNotFound
from cloudplane.protection.providers.backup import RestoreOptions
from cloudplane.protection.providers.base import Provider, SavedInfo
from cloudplane.runtime import Runtime

_SNAPSHOT_NAMESPACE = uuid.UUID("0d1b8a52-5f42-4d44-93a4-6a0f3e7f9c11")


class SnapshotOptions(BaseModel):
    """Plan parameters of the snapshot provider."""

    model_config = ConfigDict(extra="forbid")

    description: Annotated[str, StringConstraints(max_length=255)] = Field(
        default="", description="Kept with each checkpoint."
    )


def backend_snapshot_id(checkpoint_id: str, volume_id: str) -> str:
    """The same id for the same checkpoint and volume, so a repeated protect finds its own."""
    return str(uuid.uuid5(_SNAPSHOT_NAMESPACE, f"{checkpoint_id}/{volume_id}"))


class SnapshotProvider(Provider):
    id: ClassVar[str] = "8a9e4c1f-2d6b-4f0e-9b57-3c2a1d0e6f48"
    name: ClassVar[str] = "snapshot"
    description: ClassVar[str] = (
        "A backend snapshot of each volume in its own pool: fast, but not a backup."
    )
    options_model: ClassVar[type[BaseModel]] = SnapshotOptions
    restore_model: ClassVar[type[BaseModel]] = RestoreOptions

    async def protect_volume(
        self, runtime: Runtime, checkpoint_id: str, volume_id: str, options: BaseModel
    ) -> SavedInfo:
        snapshot_id = backend_snapshot_id(checkpoint_id, volume_id)
        info = await runtime.driver.create_snapshot(snapshot_id, volume_id)
        return {"snapshot_id": snapshot_id, "size_gb": info.size_gb}

    def restore_source_snapshot(self, saved: SavedInfo) -> str | None:
        return str(saved["snapshot_id"])

    async def restore_volume_data(self, runtime: Runtime, saved: SavedInfo, volume_id: str) -> None:
        return None  # the volume was created from the snapshot, data and all

    async def verify_volume(self, runtime: Runtime, saved: SavedInfo) -> str | None:
        try:
            await runtime.driver.get_snapshot(str(saved["snapshot_id"]))
        except ResourceNotFound:
            return f"snapshot {saved['snapshot_id']} is gone from the backend"
        return None

    async def delete_checkpoint_data(
        self, runtime: Runtime, checkpoint_id: str, saved: list[SavedInfo]
    ) -> None:
        for entry in saved:
            if "snapshot_id" in entry:
                await runtime.driver.delete_snapshot(str(entry["snapshot_id"]))
