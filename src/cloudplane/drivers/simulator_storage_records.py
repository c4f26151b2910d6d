"""The simulator's block-storage records and the directory of JSON files that keeps them.

One ``<kind>-<quoted id>.json`` file per volume or snapshot, replaced atomically (temporary file,
then rename) on every change, so a reader sees the old content or the new, never half of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.simulator_sharing import EVERY, remove_stale_temp_files
from cloudplane.drivers.storage_contract import AttachmentInfo, SnapshotInfo, VolumeInfo

_FORMAT = 1
_TEMP_PREFIX = "."
_TEMP_SUFFIX = ".tmp"
VOLUME = "volume"
SNAPSHOT = "snapshot"


@dataclass(frozen=True, slots=True)
class SimulatedVolume:
    id: str
    name: str
    size_gb: int
    bootable: bool
    source_image_id: str | None
    source_snapshot_id: str | None
    attachment: AttachmentInfo | None

    def info(self) -> VolumeInfo:
        return VolumeInfo(
            id=self.id,
            size_gb=self.size_gb,
            bootable=self.bootable,
            attachment=self.attachment,
            source_image_id=self.source_image_id,
            source_snapshot_id=self.source_snapshot_id,
            backend_id=f"sim-vol-{self.id}",
        )

    def to_json(self) -> dict[str, Any]:
        attachment = self.attachment
        return {
            "format": _FORMAT,
            "kind": VOLUME,
            "id": self.id,
            "name": self.name,
            "size_gb": self.size_gb,
            "bootable": self.bootable,
            "source_image_id": self.source_image_id,
            "source_snapshot_id": self.source_snapshot_id,
            "attachment": None
            if attachment is None
            else {"server_id": attachment.server_id, "device": attachment.device},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SimulatedVolume:
        attached = data["attachment"]
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            size_gb=int(data["size_gb"]),
            bootable=bool(data["bootable"]),
            source_image_id=_optional_str(data["source_image_id"]),
            source_snapshot_id=_optional_str(data["source_snapshot_id"]),
            attachment=None
            if attached is None
            else AttachmentInfo(
                volume_id=str(data["id"]),
                server_id=str(attached["server_id"]),
                device=str(attached["device"]),
            ),
        )


@dataclass(frozen=True, slots=True)
class SimulatedSnapshot:
    id: str
    volume_id: str
    size_gb: int

    def info(self) -> SnapshotInfo:
        return SnapshotInfo(
            id=self.id,
            volume_id=self.volume_id,
            size_gb=self.size_gb,
            backend_id=f"sim-snap-{self.id}",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "kind": SNAPSHOT,
            "id": self.id,
            "volume_id": self.volume_id,
            "size_gb": self.size_gb,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SimulatedSnapshot:
        return cls(
            id=str(data["id"]), volume_id=str(data["volume_id"]), size_gb=int(data["size_gb"])
        )


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


class StorageFiles:
    """``<kind>-<quoted id>.json`` files in one directory; every method blocks (run in a thread)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, kind: str, record_id: str) -> Path:
        return self.directory / f"{kind}-{quote(record_id, safe='')}.json"

    def load_all(self) -> tuple[dict[str, SimulatedVolume], dict[str, SimulatedSnapshot]]:
        """Read every record, dropping temp files a crash left; a missing directory is empty."""
        if self.directory.is_dir():
            remove_stale_temp_files(self.directory, f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}")
        return self.load_some(volume_ids=EVERY, snapshot_ids=EVERY)

    def load_some(
        self, *, volume_ids: Collection[str] | None, snapshot_ids: Collection[str] | None
    ) -> tuple[dict[str, SimulatedVolume], dict[str, SimulatedSnapshot]]:
        """The volumes and snapshots named (ids, or ``EVERY``); missing ids are left out."""
        volumes: dict[str, SimulatedVolume] = {}
        snapshots: dict[str, SimulatedSnapshot] = {}
        for path in self._paths(VOLUME, volume_ids) + self._paths(SNAPSHOT, snapshot_ids):
            record = self._read(path)
            if isinstance(record, SimulatedVolume):
                volumes[record.id] = record
            elif isinstance(record, SimulatedSnapshot):
                snapshots[record.id] = record
        return volumes, snapshots

    def _paths(self, kind: str, record_ids: Collection[str] | None) -> list[Path]:
        if record_ids is not EVERY:
            return [self.path_of(kind, record_id) for record_id in record_ids]
        if not self.directory.is_dir():
            return []
        return list(self.directory.glob(f"{kind}-*.json"))

    def write(self, kind: str, record_id: str, content: dict[str, Any]) -> None:
        """Replace the record's file atomically (temp file, then rename)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(
            dir=self.directory, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as temp_file:
                json.dump(content, temp_file)
            os.replace(temp_name, self.path_of(kind, record_id))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise

    def remove(self, kind: str, record_id: str) -> None:
        self.path_of(kind, record_id).unlink(missing_ok=True)

    @staticmethod
    def _read(path: Path) -> SimulatedVolume | SimulatedSnapshot | None:
        """The record in ``path``; None when there is no such file (removed meanwhile)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["format"] != _FORMAT:
                raise ValueError(f"unknown state format {data['format']!r}")
            if data.get("kind") == VOLUME:
                return SimulatedVolume.from_json(data)
            return SimulatedSnapshot.from_json(data)
        except FileNotFoundError:
            return None
        except (KeyError, TypeError, ValueError) as exc:
            raise DriverError(
                f"simulator state file {path} is unreadable: {exc}", code="corrupt_state"
            ) from exc


class StorageState:
    """The loaded volumes and snapshots, and the lock every change to them takes."""

    def __init__(
        self,
        files: StorageFiles,
        volumes: dict[str, SimulatedVolume],
        snapshots: dict[str, SimulatedSnapshot],
    ) -> None:
        self.files = files
        self.volumes = volumes
        self.snapshots = snapshots
        self.lock = asyncio.Lock()

    async def write(self, kind: str, record_id: str, content: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(self.files.write, kind, record_id, content)
        except OSError as exc:
            raise DriverError(
                f"cannot save {kind} {record_id}: {exc}", code="storage_error"
            ) from exc

    async def remove(self, kind: str, record_id: str) -> None:
        try:
            await asyncio.to_thread(self.files.remove, kind, record_id)
        except OSError as exc:
            raise DriverError(
                f"cannot remove {kind} {record_id}: {exc}", code="storage_error"
            ) from exc
