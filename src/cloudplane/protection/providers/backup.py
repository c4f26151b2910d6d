"""The ``backup`` provider: a full, checksummed copy of each volume in the backup store.

The store is a directory (a local path, or an NFS export the admin mounted there):
``<store>/<checkpoint id>/volume-<volume id>.img`` per volume, plus ``manifest.json`` with
the checkpoint's resources and the metadata needed to rebuild its servers. Each file's SHA-256
is computed while it is written and kept in the checkpoint; verification recomputes it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloudplane.protection.providers.base import Provider, SavedDataNotWhole, SavedInfo
from cloudplane.runtime import Runtime

_CHUNK = 1 << 20


class BackupOptions(BaseModel):
    """Plan parameters of the backup provider."""

    model_config = ConfigDict(extra="forbid")

    description: Annotated[str, StringConstraints(max_length=255)] = Field(
        default="", description="Kept in each checkpoint's manifest."
    )
    verify_after_protect: bool = Field(
        default=False,
        description="Re-read every file after writing it and fail the volume on a mismatch.",
    )


class RestoreOptions(BaseModel):
    """Restore parameters shared by both providers."""

    model_config = ConfigDict(extra="forbid")

    name_prefix: Annotated[str, StringConstraints(max_length=64, pattern=r"^[^/\x00-\x1f]*$")] = (
        Field(default="restored-", description="Put before the names of the restored resources.")
    )
    volume_type: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="Volume type (id or name) of the restored volumes."
    )
    network_id: str | None = Field(
        default=None,
        description="Attach restored servers to this network instead of their original ones.",
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class BackupProvider(Provider):
    id: ClassVar[str] = "cf56bd3e-97a7-4078-b6d5-f36246333fd9"
    name: ClassVar[str] = "backup"
    description: ClassVar[str] = (
        "A full, checksummed copy of each volume's data in the backup store, with the metadata "
        "needed to rebuild servers."
    )
    options_model: ClassVar[type[BaseModel]] = BackupOptions
    restore_model: ClassVar[type[BaseModel]] = RestoreOptions
    restores_in_place: ClassVar[bool] = True

    def __init__(self, store: Path) -> None:
        self.store = store

    def checkpoint_dir(self, checkpoint_id: str) -> Path:
        return self.store / checkpoint_id

    async def protect_volume(
        self, runtime: Runtime, checkpoint_id: str, volume_id: str, options: BaseModel
    ) -> SavedInfo:
        directory = self.checkpoint_dir(checkpoint_id)
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        name = f"volume-{volume_id}.img"
        partial = directory / f".{name}.partial"
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        disk_format = await runtime.driver.export_volume(volume_id, partial)
        checksum = await asyncio.to_thread(sha256_of, partial)
        size = (await asyncio.to_thread(partial.stat)).st_size
        await asyncio.to_thread(os.replace, partial, directory / name)
        if isinstance(options, BackupOptions) and options.verify_after_protect:
            reread = await asyncio.to_thread(sha256_of, directory / name)
            if reread != checksum:
                raise OSError(f"{name} changed while it was written")
        return {
            "checkpoint_id": checkpoint_id,
            "file": name,
            "sha256": checksum,
            "size_bytes": size,
            "disk_format": disk_format,
        }

    def restore_source_snapshot(self, saved: SavedInfo) -> str | None:
        return None

    async def restore_volume_data(self, runtime: Runtime, saved: SavedInfo, volume_id: str) -> None:
        path = self._file(saved)
        reason = await self.verify_volume(runtime, saved)
        if reason is not None:
            raise SavedDataNotWhole(f"the backup is not whole: {reason}")
        await runtime.driver.import_volume(volume_id, path, str(saved["disk_format"]))

    async def verify_volume(self, runtime: Runtime, saved: SavedInfo) -> str | None:
        path = self._file(saved)
        if not await asyncio.to_thread(path.is_file):
            return f"{path.name} is missing from the backup store"
        actual = await asyncio.to_thread(sha256_of, path)
        if actual != saved["sha256"]:
            return f"{path.name} has checksum {actual}, expected {saved['sha256']}"
        return None

    async def delete_checkpoint_data(
        self, runtime: Runtime, checkpoint_id: str, saved: list[SavedInfo]
    ) -> None:
        await asyncio.to_thread(
            shutil.rmtree, self.checkpoint_dir(checkpoint_id), ignore_errors=True
        )

    async def finish_checkpoint(
        self, runtime: Runtime, checkpoint_id: str, manifest: dict[str, Any]
    ) -> None:
        directory = self.checkpoint_dir(checkpoint_id)
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
        await asyncio.to_thread((directory / "manifest.json").write_text, text, "utf-8")

    def _file(self, saved: SavedInfo) -> Path:
        return self.checkpoint_dir(str(saved["checkpoint_id"])) / str(saved["file"])
