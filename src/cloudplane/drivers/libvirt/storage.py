"""Block storage on libvirt: dir pools, qcow2 volumes, snapshots as copies, hot-plug.

A cloudplane storage pool is a libvirt ``dir`` pool over its path (an existing pool over that
directory is reused). A volume is the qcow2 file ``<prefix>vol-<id>.qcow2`` in it; one made from
an image is a qcow2 overlay on the image's file, which the image store keeps while a volume uses
it. A snapshot is a full qcow2 copy ``<prefix>snap-<id>.qcow2`` beside its volume, so it stays
valid whatever later happens to the volume. Attachments are read from the servers' persistent
domain XML, so they are never out of step with what the domain really has.
"""

from __future__ import annotations

import hashlib
from contextlib import suppress
from pathlib import Path

import libvirt

from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import DriverError, ResourceNotFound, ServerNotFound, Unsupported
from cloudplane.drivers.libvirt import volume_data
from cloudplane.drivers.libvirt.attachments import Paused, disks_of_servers
from cloudplane.drivers.libvirt.connection import start_unless_running
from cloudplane.drivers.libvirt.domain_xml import attached_disks, disk_alias, disk_element
from cloudplane.drivers.libvirt.parts import LibvirtParts, host_path
from cloudplane.drivers.libvirt.pools import ensure_dir_pool, find_volume_anywhere, pool_over
from cloudplane.drivers.libvirt.records import RecordFiles, SnapshotRecord, VolumeRecord
from cloudplane.drivers.libvirt.volume_xml import VolumeDefinition
from cloudplane.drivers.storage_contract import (
    GIB,
    AttachmentInfo,
    SnapshotInfo,
    StorageDriver,
    VolumeInfo,
    VolumeSpec,
)

_BOTH = libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG


class LibvirtStorage(LibvirtParts, StorageDriver):
    """The ``StorageDriver`` half of ``LibvirtDriver``."""

    _records: RecordFiles

    @property
    def _hot_plug(self) -> bool:
        # libvirt's test hypervisor has no device hot-plug and no resize.
        return not self._host.is_test_driver

    async def create_volume(self, spec: VolumeSpec) -> VolumeInfo:
        return await self._host.call(
            f"creating volume {spec.id}", self._create_volume_blocking, spec
        )

    async def delete_volume(self, volume_id: str) -> None:
        await self._host.call(
            f"deleting volume {volume_id}", self._delete_volume_blocking, volume_id
        )

    async def extend_volume(self, volume_id: str, size_gb: int) -> VolumeInfo:
        return await self._host.call(
            f"extending volume {volume_id}", self._extend_blocking, volume_id, size_gb
        )

    async def create_snapshot(self, snapshot_id: str, volume_id: str) -> SnapshotInfo:
        return await self._host.call(
            f"snapshotting volume {volume_id}", self._snapshot_blocking, snapshot_id, volume_id
        )

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self._host.call(
            f"deleting snapshot {snapshot_id}", self._delete_snapshot_blocking, snapshot_id
        )

    async def attach_volume(self, server_id: str, volume_id: str, device: str) -> AttachmentInfo:
        return await self._host.call(
            f"attaching volume {volume_id}",
            self._attach_blocking,
            server_id,
            volume_id,
            device,
        )

    async def detach_volume(self, server_id: str, volume_id: str) -> None:
        await self._host.call(
            f"detaching volume {volume_id}", self._detach_blocking, server_id, volume_id
        )

    async def get_volume(self, volume_id: str) -> VolumeInfo:
        return await self._host.call(
            f"reading volume {volume_id}",
            lambda connection: self._volume_info(connection, volume_id),
        )

    async def list_volumes(self) -> list[VolumeInfo]:
        return await self._host.call("listing volumes", self._list_volumes_blocking)

    async def get_snapshot(self, snapshot_id: str) -> SnapshotInfo:
        return await self._host.call(
            f"reading snapshot {snapshot_id}", self._snapshot_info, snapshot_id
        )

    async def export_volume(self, volume_id: str, destination: Path) -> str:
        self._require_local_data()
        await self._host.call(
            f"exporting volume {volume_id}", self._export_blocking, volume_id, destination
        )
        return "qcow2"

    async def import_volume(self, volume_id: str, source: Path, disk_format: str) -> None:
        self._require_local_data()
        await self._host.call(
            f"importing into volume {volume_id}",
            self._import_blocking,
            volume_id,
            source,
            disk_format,
        )

    # --- blocking halves -----------------------------------------------------------------------

    def _create_volume_blocking(
        self, connection: libvirt.virConnect, spec: VolumeSpec
    ) -> VolumeInfo:
        name = self._options.volume_name(spec.id)
        if find_volume_anywhere(connection, name) is not None:
            return self._volume_info(connection, spec.id)
        capacity = spec.size_gb * GIB
        record = VolumeRecord()
        origin: libvirt.virStorageVol | None = None
        definition = VolumeDefinition(name=name, capacity_bytes=capacity)
        if spec.image is not None:
            image = spec.image
            if self._options.is_local and not Path(image.path).is_file():
                raise DriverError(
                    f"the file of image {image.image_id} is missing", code="image_unavailable"
                )
            if image.virtual_size_bytes > capacity:
                raise DriverError(
                    f"image {image.image_id} needs {image.virtual_size_bytes} bytes; "
                    f"volume {spec.id} has {spec.size_gb} GB",
                    code="too_small",
                )
            definition = VolumeDefinition(
                name=name,
                capacity_bytes=capacity,
                backing_path=host_path(image.path),
                backing_format="raw" if image.disk_format == "raw" else "qcow2",
            )
            record = VolumeRecord(bootable=True, source_image_id=image.image_id)
        elif spec.snapshot_id is not None:
            origin, snapshot = self._snapshot_volume(connection, spec.snapshot_id)
            if _capacity(origin) > capacity:
                raise DriverError(
                    f"snapshot {spec.snapshot_id} has {_size_gb(origin)} GB; "
                    f"volume {spec.id} has {spec.size_gb} GB",
                    code="too_small",
                )
            bootable = self._records.volume(snapshot.volume_id).bootable
            record = VolumeRecord(bootable=bootable, source_snapshot_id=spec.snapshot_id)
        pool = self._pool_for(connection, Path(spec.pool_path))
        # The record goes first: a volume never exists without it, and a stray record is harmless.
        self._records.save_volume(spec.id, record)
        if origin is None:
            volume = pool.createXML(definition.xml(), 0)
        else:
            volume = pool.createXMLFrom(definition.xml(), origin, 0)
        try:
            if _capacity(volume) < capacity:
                volume.resize(capacity, 0)  # a copy comes out the size of what it copied
        except BaseException:
            with suppress(libvirt.libvirtError):
                volume.delete(0)
            raise
        return self._volume_info(connection, spec.id)

    def _delete_volume_blocking(self, connection: libvirt.virConnect, volume_id: str) -> None:
        volume = find_volume_anywhere(connection, self._options.volume_name(volume_id))
        if volume is None:
            self._records.remove("volume", volume_id)
            return
        attachment = self._attachment_of(connection, volume_id, volume.path())
        if attachment is not None:
            raise DriverError(
                f"volume {volume_id} is attached to server {attachment.server_id}", code="in_use"
            )
        if self._live_snapshots_of(connection, volume_id):
            raise DriverError(f"volume {volume_id} has snapshots", code="in_use")
        volume.delete(0)
        self._records.remove("volume", volume_id)

    def _extend_blocking(
        self, connection: libvirt.virConnect, volume_id: str, size_gb: int
    ) -> VolumeInfo:
        volume = self._volume(connection, volume_id)
        current = _size_gb(volume)
        if size_gb < current:
            raise DriverError(
                f"volume {volume_id} has {current} GB and cannot shrink to {size_gb}",
                code="invalid_size",
            )
        if size_gb == current:
            return self._volume_info(connection, volume_id)
        attachment = self._attachment_of(connection, volume_id, volume.path())
        domain = None if attachment is None else self._domain(connection, attachment.server_id)
        if domain is not None and domain.isActive():
            if not self._hot_plug:
                raise Unsupported(Capability.VOLUME_EXTEND_ONLINE)
            assert attachment is not None
            domain.blockResize(
                attachment.device, size_gb * GIB, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES
            )
        else:
            volume.resize(size_gb * GIB, 0)
        return self._volume_info(connection, volume_id)

    def _snapshot_blocking(
        self, connection: libvirt.virConnect, snapshot_id: str, volume_id: str
    ) -> SnapshotInfo:
        name = self._options.snapshot_name(snapshot_id)
        made_before = self._records.snapshot(snapshot_id) is not None
        if made_before and find_volume_anywhere(connection, name) is not None:
            return self._snapshot_info(connection, snapshot_id)
        volume = self._volume(connection, volume_id)
        pool = volume.storagePoolLookupByVolume()
        definition = VolumeDefinition(name=name, capacity_bytes=_capacity(volume))
        self._records.save_snapshot(snapshot_id, SnapshotRecord(volume_id=volume_id))
        leftover = find_volume_anywhere(connection, name)
        if leftover is not None:
            leftover.delete(0)  # a copy a crashed call began
        attachment = self._attachment_of(connection, volume_id, volume.path())
        domain = None if attachment is None else self._domain(connection, attachment.server_id)
        if domain is not None and domain.isActive() and self._hot_plug:
            # The running QEMU holds the file: copy it ourselves, with the guest paused.
            copy = pool.createXML(definition.xml(), 0)
            try:
                with Paused(domain):
                    volume_data.copy_into(volume.path(), "qcow2", copy.path(), force_share=True)
            except BaseException:
                with suppress(libvirt.libvirtError):
                    copy.delete(0)
                raise
        else:
            pool.createXMLFrom(definition.xml(), volume, 0)
        return self._snapshot_info(connection, snapshot_id)

    def _delete_snapshot_blocking(self, connection: libvirt.virConnect, snapshot_id: str) -> None:
        copy = find_volume_anywhere(connection, self._options.snapshot_name(snapshot_id))
        if copy is not None:
            copy.delete(0)
        self._records.remove("snapshot", snapshot_id)

    def _attach_blocking(
        self, connection: libvirt.virConnect, server_id: str, volume_id: str, device: str
    ) -> AttachmentInfo:
        domain = self._domain(connection, server_id)
        volume = self._volume(connection, volume_id)
        path = volume.path()
        current = self._attachment_of(connection, volume_id, path)
        if current is not None:
            if current.server_id == server_id:
                return current
            raise DriverError(
                f"volume {volume_id} is attached to server {current.server_id}", code="in_use"
            )
        config = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        if any(disk.target == device for disk in attached_disks(config)):
            raise DriverError(
                f"device {device} of server {server_id} is used by another volume", code="in_use"
            )
        if domain.isActive():
            if not self._hot_plug:
                raise Unsupported(Capability.HOT_ATTACH)
            domain.attachDeviceFlags(disk_element(path, device), _BOTH)
        else:
            domain.attachDeviceFlags(disk_element(path, device), libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        return AttachmentInfo(volume_id=volume_id, server_id=server_id, device=device)

    def _detach_blocking(
        self, connection: libvirt.virConnect, server_id: str, volume_id: str
    ) -> None:
        try:
            domain = self._domain(connection, server_id)
        except ServerNotFound:
            return
        volume = find_volume_anywhere(connection, self._options.volume_name(volume_id))
        if volume is None:
            return
        path = volume.path()
        config = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        disk = next((d for d in attached_disks(config) if d.path == path), None)
        if disk is None:
            return
        domain.detachDeviceFlags(disk_element(path, disk.target), libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        if domain.isActive():
            alias = disk_alias(domain.XMLDesc(0), path)
            if alias is not None:
                # Asks the guest to let go and returns at once; the persistent definition no
                # longer has the disk either way, so the next boot will not see it.
                domain.detachDeviceAlias(alias, libvirt.VIR_DOMAIN_AFFECT_LIVE)

    def _export_blocking(
        self, connection: libvirt.virConnect, volume_id: str, destination: Path
    ) -> None:
        volume = self._volume(connection, volume_id)
        attachment = self._attachment_of(connection, volume_id, volume.path())
        domain = None if attachment is None else self._domain(connection, attachment.server_id)
        if domain is not None and domain.isActive():
            with Paused(domain):
                volume_data.export_to(volume.path(), destination, force_share=True)
        else:
            volume_data.export_to(volume.path(), destination, force_share=False)

    def _import_blocking(
        self, connection: libvirt.virConnect, volume_id: str, source: Path, disk_format: str
    ) -> None:
        volume = self._volume(connection, volume_id)
        attachment = self._attachment_of(connection, volume_id, volume.path())
        if attachment is not None and self._runs(connection, attachment.server_id):
            raise DriverError(
                f"volume {volume_id} is attached to server {attachment.server_id}, which is "
                "not shut off",
                code="in_use",
            )
        needed = volume_data.virtual_size(source, disk_format)
        if needed > _capacity(volume):
            raise DriverError(
                f"the data needs {needed} bytes; volume {volume_id} has {_capacity(volume)}",
                code="too_small",
            )
        volume_data.copy_into(str(source), disk_format, volume.path(), force_share=False)

    def _require_active(self, pool: libvirt.virStoragePool) -> None:
        if pool.isActive():
            return
        name = pool.name()
        if not self._options.is_own_pool(name):
            raise DriverError(
                f"storage pool {name} is stopped, so the volumes in it cannot be listed; "
                "start or undefine it",
                code="unavailable",
            )
        try:
            start_unless_running(pool)
        except libvirt.libvirtError as exc:
            raise DriverError(
                f"storage pool {name} is stopped and cannot be started: {exc}",
                code="unavailable",
            ) from exc

    def _list_volumes_blocking(self, connection: libvirt.virConnect) -> list[VolumeInfo]:
        """Every volume of ours in every pool; ``DriverError`` rather than a partial list when
        a pool is stopped: our own pools are started, and any other stopped pool may hold
        volumes of ours that cannot be seen."""
        head = self._options.volume_name("")
        head = head[: -len(".qcow2")]
        attachments = self._all_attachments(connection)
        volumes: list[VolumeInfo] = []
        for pool in connection.listAllStoragePools(0):
            self._require_active(pool)
            for volume in pool.listAllVolumes(0):
                name = volume.name()
                if name.startswith(head) and name.endswith(".qcow2"):
                    volume_id = name[len(head) : -len(".qcow2")]
                    volumes.append(self._describe(volume_id, volume, attachments))
        return volumes

    # --- lookups -------------------------------------------------------------------------------

    def _volume_path_blocking(self, connection: libvirt.virConnect, volume_id: str) -> str:
        return str(self._volume(connection, volume_id).path())

    def _volume(self, connection: libvirt.virConnect, volume_id: str) -> libvirt.virStorageVol:
        volume = find_volume_anywhere(connection, self._options.volume_name(volume_id))
        if volume is None:
            raise ResourceNotFound("volume", volume_id)
        return volume

    def _snapshot_volume(
        self, connection: libvirt.virConnect, snapshot_id: str
    ) -> tuple[libvirt.virStorageVol, SnapshotRecord]:
        record = self._records.snapshot(snapshot_id)
        copy = find_volume_anywhere(connection, self._options.snapshot_name(snapshot_id))
        if record is None or copy is None:
            raise ResourceNotFound("snapshot", snapshot_id)
        return copy, record

    def _snapshot_info(self, connection: libvirt.virConnect, snapshot_id: str) -> SnapshotInfo:
        copy, record = self._snapshot_volume(connection, snapshot_id)
        return SnapshotInfo(
            id=snapshot_id,
            volume_id=record.volume_id,
            size_gb=_size_gb(copy),
            backend_id=copy.key(),
        )

    def _live_snapshots_of(self, connection: libvirt.virConnect, volume_id: str) -> list[str]:
        return [
            snapshot_id
            for snapshot_id in self._records.snapshots_of(volume_id)
            if find_volume_anywhere(connection, self._options.snapshot_name(snapshot_id))
        ]

    def _volume_info(self, connection: libvirt.virConnect, volume_id: str) -> VolumeInfo:
        volume = self._volume(connection, volume_id)
        return self._describe(volume_id, volume, self._all_attachments(connection))

    def _describe(
        self,
        volume_id: str,
        volume: libvirt.virStorageVol,
        attachments: dict[str, AttachmentInfo],
    ) -> VolumeInfo:
        record = self._records.volume(volume_id)
        attachment = attachments.get(volume.path())
        if attachment is not None:
            attachment = AttachmentInfo(volume_id, attachment.server_id, attachment.device)
        return VolumeInfo(
            id=volume_id,
            size_gb=_size_gb(volume),
            bootable=record.bootable,
            attachment=attachment,
            source_image_id=record.source_image_id,
            source_snapshot_id=record.source_snapshot_id,
            backend_id=volume.key(),
        )

    def _attachment_of(
        self, connection: libvirt.virConnect, volume_id: str, path: str
    ) -> AttachmentInfo | None:
        found = self._all_attachments(connection).get(path)
        return None if found is None else AttachmentInfo(volume_id, found.server_id, found.device)

    def _runs(self, connection: libvirt.virConnect, server_id: str) -> bool:
        """Whether the server's domain has a QEMU process (running, paused or crashed but not
        cleaned up): its disks are then open, and rewriting one under it is refused."""
        try:
            domain = self._domain(connection, server_id)
        except ServerNotFound:
            return False
        return bool(domain.isActive())

    def _all_attachments(self, connection: libvirt.virConnect) -> dict[str, AttachmentInfo]:
        return disks_of_servers(connection, self._options)

    def _pool_for(self, connection: libvirt.virConnect, path: Path) -> libvirt.virStoragePool:
        path = Path(host_path(str(path)))
        existing = pool_over(connection, path)
        if existing is not None:
            return existing
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        return ensure_dir_pool(connection, self._options.pool_name(digest), path)

    def _require_local_data(self) -> None:
        if not self._hot_plug or not self._options.is_local:
            raise Unsupported(Capability.VOLUME_DATA)


def _capacity(volume: libvirt.virStorageVol) -> int:
    _kind, capacity, _allocation = volume.info()
    return int(capacity)


def _size_gb(volume: libvirt.virStorageVol) -> int:
    return -(-_capacity(volume) // GIB)
