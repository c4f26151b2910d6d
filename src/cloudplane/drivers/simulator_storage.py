"""The simulator's block storage: volumes and snapshots kept as small JSON files.

Data is simulated (a few KiB of deterministic bytes per volume, see ``simulator_volume_data``,
so exports and checksums are real) but sizes are real: a volume reports exactly the
size it was created or extended to, an image must really fit the volume made from it (its file
must exist), and a snapshot keeps the size its volume had when it was taken. Each volume and
snapshot is one JSON file under ``<simulator dir>/volumes/``, replaced atomically on every change
and loaded on open, so a restart loses nothing. The directory appears with the first volume.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Collection
from dataclasses import replace
from pathlib import Path

from cloudplane.drivers.base import PowerState, ServerInfo
from cloudplane.drivers.errors import DriverError, ResourceNotFound, ServerNotFound
from cloudplane.drivers.simulator_sharing import EVERY
from cloudplane.drivers.simulator_storage_records import (
    SNAPSHOT,
    VOLUME,
    SimulatedSnapshot,
    SimulatedVolume,
    StorageFiles,
    StorageState,
)
from cloudplane.drivers.simulator_volume_data import (
    EXPORT_FORMAT,
    VolumeDataFiles,
    derived_bytes,
)
from cloudplane.drivers.storage_contract import (
    GIB,
    AttachmentInfo,
    SnapshotInfo,
    StorageDriver,
    VolumeInfo,
    VolumeSpec,
)
from cloudplane.kit.process_lock import exclusive

#: Operation names the simulator's latency and fault knobs accept for block storage.
STORAGE_OPERATIONS = frozenset(
    {
        "create_volume",
        "delete_volume",
        "extend_volume",
        "create_snapshot",
        "delete_snapshot",
        "attach_volume",
        "detach_volume",
        "get_volume",
        "list_volumes",
        "get_snapshot",
        "export_volume",
        "import_volume",
    }
)


class SimulatedStorage(StorageDriver):
    """Block storage for the simulator driver, mixed into ``SimulatorDriver``.

    The class it is mixed into supplies ``get_server`` (attachments need a real server) and
    ``_simulate`` (the latency and fault knobs), and calls ``open_storage``/``close_storage``
    from its own open and close.
    """

    _block_storage: StorageState | None = None
    _volume_data: VolumeDataFiles | None = None
    _storage_shared: bool = False

    @abc.abstractmethod
    async def get_server(self, server_id: str) -> ServerInfo:
        """Report one server; ``ServerNotFound`` when unknown (from the compute half)."""

    @abc.abstractmethod
    async def _simulate(self, operation: str) -> None:
        """Spend the operation's latency, then raise its injected fault if one is configured."""

    async def open_storage(self, directory: Path, *, shared: bool = False) -> None:
        """Load every volume and snapshot kept under ``directory``.

        ``shared``: other processes use the same directory, so every call reads again the
        records it touches and every change holds the directory's lock.
        """
        self._storage_shared = shared
        files = StorageFiles(directory)
        volumes, snapshots = await asyncio.to_thread(files.load_all)
        self._block_storage = StorageState(files, volumes, snapshots)
        self._volume_data = VolumeDataFiles(directory)

    async def close_storage(self) -> None:
        """Forget the in-memory copy; the files stay. Safe to call more than once."""
        self._block_storage = None
        self._volume_data = None

    async def create_volume(self, spec: VolumeSpec) -> VolumeInfo:
        await self._simulate("create_volume")
        snapshot_ids = [spec.snapshot_id] if spec.snapshot_id is not None else []
        async with self._storage_locked(
            # From a snapshot it needs the snapshot's volume too, whose id is in the snapshot.
            volume_ids=EVERY if snapshot_ids else [spec.id],
            snapshot_ids=snapshot_ids,
        ) as state:
            existing = state.volumes.get(spec.id)
            if existing is not None:
                return existing.info()
            await _check_source_fits(state, spec)
            volume = SimulatedVolume(
                id=spec.id,
                name=spec.name,
                size_gb=spec.size_gb,
                bootable=spec.image is not None,
                source_image_id=spec.image.image_id if spec.image else None,
                source_snapshot_id=spec.snapshot_id,
                attachment=None,
            )
            if spec.snapshot_id is not None:
                # A volume made from a snapshot is bootable when the snapshot's volume was.
                origin = state.volumes.get(state.snapshots[spec.snapshot_id].volume_id)
                volume = replace(volume, bootable=origin is not None and origin.bootable)
            await self._initial_data(spec)
            await self._storage_save_volume(state, volume)
            return volume.info()

    async def delete_volume(self, volume_id: str) -> None:
        await self._simulate("delete_volume")
        async with self._storage_locked(volume_ids=[volume_id], snapshot_ids=EVERY) as state:
            volume = state.volumes.get(volume_id)
            if volume is None:
                await state.remove(VOLUME, volume_id)
                return
            if volume.attachment is not None:
                raise DriverError(
                    f"volume {volume_id} is attached to server {volume.attachment.server_id}",
                    code="in_use",
                )
            if any(s.volume_id == volume_id for s in state.snapshots.values()):
                raise DriverError(f"volume {volume_id} has snapshots", code="in_use")
            await state.remove(VOLUME, volume_id)
            state.volumes.pop(volume_id, None)
            await asyncio.to_thread(self._data_files().remove, VOLUME, volume_id)

    async def extend_volume(self, volume_id: str, size_gb: int) -> VolumeInfo:
        await self._simulate("extend_volume")
        async with self._storage_locked(volume_ids=[volume_id]) as state:
            volume = _require_volume(state, volume_id)
            if size_gb < volume.size_gb:
                raise DriverError(
                    f"volume {volume_id} has {volume.size_gb} GB and cannot shrink to {size_gb}",
                    code="invalid_size",
                )
            if size_gb != volume.size_gb:
                volume = replace(volume, size_gb=size_gb)
                await self._storage_save_volume(state, volume)
            return volume.info()

    async def create_snapshot(self, snapshot_id: str, volume_id: str) -> SnapshotInfo:
        await self._simulate("create_snapshot")
        async with self._storage_locked(
            volume_ids=[volume_id], snapshot_ids=[snapshot_id]
        ) as state:
            existing = state.snapshots.get(snapshot_id)
            if existing is not None:
                return existing.info()
            volume = _require_volume(state, volume_id)
            snapshot = SimulatedSnapshot(
                id=snapshot_id, volume_id=volume_id, size_gb=volume.size_gb
            )
            await asyncio.to_thread(
                self._data_files().copy, VOLUME, volume_id, SNAPSHOT, snapshot_id, seed=volume_id
            )
            await state.write(SNAPSHOT, snapshot_id, snapshot.to_json())
            state.snapshots[snapshot_id] = snapshot
            return snapshot.info()

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self._simulate("delete_snapshot")
        async with self._storage_locked(snapshot_ids=[snapshot_id]) as state:
            await state.remove(SNAPSHOT, snapshot_id)
            state.snapshots.pop(snapshot_id, None)
            await asyncio.to_thread(self._data_files().remove, SNAPSHOT, snapshot_id)

    async def attach_volume(self, server_id: str, volume_id: str, device: str) -> AttachmentInfo:
        await self._simulate("attach_volume")
        await self.get_server(server_id)  # raises ServerNotFound for an unknown server
        # Every volume: the device must be free among the server's other volumes.
        async with self._storage_locked(volume_ids=EVERY) as state:
            volume = _require_volume(state, volume_id)
            current = volume.attachment
            if current is not None and current.server_id == server_id:
                return current
            if current is not None:
                raise DriverError(
                    f"volume {volume_id} is attached to server {current.server_id}",
                    code="in_use",
                )
            for other in state.volumes.values():
                taken = other.attachment
                if taken is not None and taken.server_id == server_id and taken.device == device:
                    raise DriverError(
                        f"device {device} of server {server_id} is used by volume {other.id}",
                        code="in_use",
                    )
            attachment = AttachmentInfo(volume_id=volume_id, server_id=server_id, device=device)
            await self._storage_save_volume(state, replace(volume, attachment=attachment))
            return attachment

    async def detach_volume(self, server_id: str, volume_id: str) -> None:
        await self._simulate("detach_volume")
        async with self._storage_locked(volume_ids=[volume_id]) as state:
            volume = state.volumes.get(volume_id)
            if volume is None or volume.attachment is None:
                return
            if volume.attachment.server_id != server_id:
                return
            await self._storage_save_volume(state, replace(volume, attachment=None))

    async def get_volume(self, volume_id: str) -> VolumeInfo:
        await self._simulate("get_volume")
        state = await self._storage_current(volume_ids=[volume_id])
        return _require_volume(state, volume_id).info()

    async def list_volumes(self) -> list[VolumeInfo]:
        await self._simulate("list_volumes")
        state = await self._storage_current(volume_ids=EVERY)
        return [volume.info() for volume in state.volumes.values()]

    async def get_snapshot(self, snapshot_id: str) -> SnapshotInfo:
        await self._simulate("get_snapshot")
        state = await self._storage_current(snapshot_ids=[snapshot_id])
        snapshot = state.snapshots.get(snapshot_id)
        if snapshot is None:
            raise ResourceNotFound(SNAPSHOT, snapshot_id)
        return snapshot.info()

    async def export_volume(self, volume_id: str, destination: Path) -> str:
        await self._simulate("export_volume")
        async with self._storage_locked(volume_ids=[volume_id]) as state:
            volume = _require_volume(state, volume_id)
            files = self._data_files()
            data = await asyncio.to_thread(files.read, VOLUME, volume_id, fallback_seed=volume_id)
            await asyncio.to_thread(files.export, data, volume.size_gb, destination)
        return EXPORT_FORMAT

    async def import_volume(self, volume_id: str, source: Path, disk_format: str) -> None:
        await self._simulate("import_volume")
        if disk_format != EXPORT_FORMAT:
            raise DriverError(f"cannot import {disk_format} data", code="invalid_format")
        async with self._storage_locked(volume_ids=[volume_id]) as state:
            volume = _require_volume(state, volume_id)
            if volume.attachment is not None:
                server_id = volume.attachment.server_id
                if await self._runs(server_id):
                    raise DriverError(
                        f"volume {volume_id} is attached to server {server_id}, which is not "
                        "shut off",
                        code="in_use",
                    )
            files = self._data_files()
            size_gb, data = await asyncio.to_thread(files.parse_export, source)
            if size_gb > volume.size_gb:
                raise DriverError(
                    f"the data needs {size_gb} GB; volume {volume_id} has {volume.size_gb} GB",
                    code="too_small",
                )
            await asyncio.to_thread(files.write, VOLUME, volume_id, data)

    async def _runs(self, server_id: str) -> bool:
        """Whether the server is there and not shut off (its disks are then in use)."""
        try:
            server = await self.get_server(server_id)
        except ServerNotFound:
            return False
        return server.power_state is not PowerState.SHUTDOWN

    async def write_volume_data(self, volume_id: str, offset: int, data: bytes) -> None:
        """Overwrite part of the volume's simulated data, as a guest writing to it would."""
        async with self._storage_locked(volume_ids=[volume_id]) as state:
            _require_volume(state, volume_id)
            files = self._data_files()
            current = await asyncio.to_thread(
                files.read, VOLUME, volume_id, fallback_seed=volume_id
            )
            if offset < 0 or offset + len(data) > len(current):
                raise DriverError("the write falls outside the simulated data", code="invalid")
            changed = current[:offset] + data + current[offset + len(data) :]
            await asyncio.to_thread(files.write, VOLUME, volume_id, changed)

    async def _initial_data(self, spec: VolumeSpec) -> None:
        """Give a new volume its bytes: its snapshot's, its image's, or its own blank ones."""
        files = self._data_files()
        if spec.snapshot_id is not None:
            await asyncio.to_thread(
                files.copy, SNAPSHOT, spec.snapshot_id, VOLUME, spec.id, seed=spec.snapshot_id
            )
            return
        seed = f"image:{spec.image.image_id}" if spec.image is not None else spec.id
        await asyncio.to_thread(files.write, VOLUME, spec.id, derived_bytes(seed))

    def _data_files(self) -> VolumeDataFiles:
        if self._volume_data is None:
            raise DriverError("the simulator driver is not open", code="not_open")
        return self._volume_data

    @contextlib.asynccontextmanager
    async def _storage_locked(
        self,
        *,
        volume_ids: Collection[str] | None = (),
        snapshot_ids: Collection[str] | None = (),
    ) -> AsyncIterator[StorageState]:
        """The state under this process's lock. Alone, that is every record in memory. With a
        shared directory it is also under the directory's lock (so a change by another process
        is never interleaved), and holds only the records named (ids, or ``EVERY``), read
        again from the files."""
        state = self._storage_state()
        if not self._storage_shared:
            async with state.lock:
                yield state
            return
        async with state.lock, exclusive(state.files.directory):
            yield await self._storage_current(volume_ids=volume_ids, snapshot_ids=snapshot_ids)

    async def _storage_current(
        self,
        *,
        volume_ids: Collection[str] | None = (),
        snapshot_ids: Collection[str] | None = (),
    ) -> StorageState:
        """The state for reading; with a shared directory, a copy holding only the records
        named, as the files say now (a copy, so that concurrent calls never see each other's
        selection)."""
        state = self._storage_state()
        if not self._storage_shared:
            return state
        volumes, snapshots = await asyncio.to_thread(
            state.files.load_some, volume_ids=volume_ids, snapshot_ids=snapshot_ids
        )
        return StorageState(state.files, volumes, snapshots)

    def _storage_state(self) -> StorageState:
        if self._block_storage is None:
            raise DriverError("the simulator driver is not open", code="not_open")
        return self._block_storage

    async def _storage_save_volume(self, state: StorageState, volume: SimulatedVolume) -> None:
        # Disk first, memory second: a failed write leaves both as they were.
        await state.write(VOLUME, volume.id, volume.to_json())
        state.volumes[volume.id] = volume


async def _check_source_fits(state: StorageState, spec: VolumeSpec) -> None:
    if spec.image is not None:
        image = spec.image
        if not await asyncio.to_thread(os.path.isfile, image.path):
            raise DriverError(
                f"the file of image {image.image_id} is missing", code="image_unavailable"
            )
        if image.virtual_size_bytes > spec.size_gb * GIB:
            raise DriverError(
                f"image {image.image_id} needs {image.virtual_size_bytes} bytes; "
                f"volume {spec.id} has {spec.size_gb} GB",
                code="too_small",
            )
    if spec.snapshot_id is not None:
        snapshot = state.snapshots.get(spec.snapshot_id)
        if snapshot is None:
            raise ResourceNotFound(SNAPSHOT, spec.snapshot_id)
        if snapshot.size_gb > spec.size_gb:
            raise DriverError(
                f"snapshot {snapshot.id} has {snapshot.size_gb} GB; "
                f"volume {spec.id} has {spec.size_gb} GB",
                code="too_small",
            )


def _require_volume(state: StorageState, volume_id: str) -> SimulatedVolume:
    volume = state.volumes.get(volume_id)
    if volume is None:
        raise ResourceNotFound(VOLUME, volume_id)
    return volume
