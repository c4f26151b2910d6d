"""What libvirt cannot hold about a volume or snapshot, kept as one small JSON file each.

A storage volume in libvirt has a name, a size and a file, but no place for where it came from
(an image, a snapshot) or which volume a snapshot was taken of. Those few facts live here, one
``<kind>-<id>.json`` file each, replaced atomically. Existence and size always come from libvirt.
Every method blocks.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class VolumeRecord:
    bootable: bool = False
    source_image_id: str | None = None
    source_snapshot_id: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    volume_id: str


class RecordFiles:
    """The records directory; it appears with the first record written."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def volume(self, volume_id: str) -> VolumeRecord:
        """The volume's record, or the record of a plain blank volume when there is none."""
        data = self._read("volume", volume_id)
        return VolumeRecord() if data is None else VolumeRecord(**data)

    def snapshot(self, snapshot_id: str) -> SnapshotRecord | None:
        data = self._read("snapshot", snapshot_id)
        return None if data is None else SnapshotRecord(**data)

    def snapshots_of(self, volume_id: str) -> list[str]:
        if not self.directory.is_dir():
            return []
        ids = []
        for path in self.directory.glob("snapshot-*.json"):
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("volume_id") == volume_id:
                ids.append(path.stem.removeprefix("snapshot-"))
        return ids

    def save_volume(self, volume_id: str, record: VolumeRecord) -> None:
        self._write("volume", volume_id, asdict(record))

    def save_snapshot(self, snapshot_id: str, record: SnapshotRecord) -> None:
        self._write("snapshot", snapshot_id, asdict(record))

    def remove(self, kind: str, record_id: str) -> None:
        self._path(kind, record_id).unlink(missing_ok=True)

    def _path(self, kind: str, record_id: str) -> Path:
        if "/" in record_id or record_id.startswith("."):
            raise ValueError(f"not a usable id: {record_id!r}")
        return self.directory / f"{kind}-{record_id}.json"

    def _read(self, kind: str, record_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._path(kind, record_id).read_text("utf-8"))
        except FileNotFoundError:
            return None
        return data

    def _write(self, kind: str, record_id: str, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file)
            os.replace(temp, self._path(kind, record_id))
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
