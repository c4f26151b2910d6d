"""The block-storage half of the OpenStack driver: volumes and snapshots in Cinder.

Volumes and snapshots are named ``cloudplane-<id>`` in Cinder and carry cloudplane's ids of
their sources in their metadata. Attaching goes through Nova (``os-volume_attachments``), as
OpenStack wants. Copying a volume's bytes in and out (``volume_data``) is not offered.
"""

from __future__ import annotations

from typing import Any

from cloudplane.drivers.errors import DriverError, ResourceNotFound, ServerNotFound
from cloudplane.drivers.openstack.backend import CloudBackend
from cloudplane.drivers.openstack.images import ensure_glance_image
from cloudplane.drivers.openstack.names import (
    ID_KEY,
    IMAGE_KEY,
    SNAPSHOT_KEY,
    VOLUME_KEY,
    cloud_name,
    id_from_name,
)
from cloudplane.drivers.openstack.status import block_settled
from cloudplane.drivers.storage_contract import (
    GIB,
    AttachmentInfo,
    SnapshotInfo,
    StorageDriver,
    VolumeInfo,
    VolumeSpec,
)

VOLUME = "volume"
SNAPSHOT = "snapshot"


class OpenStackStorage(StorageDriver):
    """``StorageDriver`` over Cinder and Nova; mixed into ``OpenStackDriver``."""

    backend: CloudBackend

    async def create_volume(self, spec: VolumeSpec) -> VolumeInfo:
        existing = await self._find_volume(spec.id)
        if existing is not None:
            return await self._volume_info(await self._settled_volume(spec.id, existing))
        metadata = {ID_KEY: spec.id}
        body: dict[str, Any] = {
            "name": cloud_name(spec.id),
            "description": spec.name[:255],
            "size": spec.size_gb,
            "metadata": metadata,
        }
        if spec.image is not None:
            image = spec.image
            if image.virtual_size_bytes > spec.size_gb * GIB:
                raise DriverError(
                    f"image {image.image_id} needs {image.virtual_size_bytes} bytes; "
                    f"volume {spec.id} has {spec.size_gb} GB",
                    code="too_small",
                )
            conn = self.backend.conn
            body["image_id"] = await self.backend.calls.run(
                lambda: ensure_glance_image(conn, image)
            )
            metadata[IMAGE_KEY] = image.image_id
        if spec.snapshot_id is not None:
            snapshot = await self._require_snapshot(spec.snapshot_id)
            if snapshot.size > spec.size_gb:
                raise DriverError(
                    f"snapshot {spec.snapshot_id} has {snapshot.size} GB; "
                    f"volume {spec.id} has {spec.size_gb} GB",
                    code="too_small",
                )
            body["snapshot_id"] = snapshot.id
            metadata[SNAPSHOT_KEY] = spec.snapshot_id
        conn = self.backend.conn

        def find_or_create() -> Any:
            # A retried create must not make a second volume.
            found = next(
                iter(conn.block_storage.volumes(details=True, name=cloud_name(spec.id))), None
            )
            return found if found is not None else conn.block_storage.create_volume(**body)

        created = await self.backend.calls.run(find_or_create, kind=VOLUME, resource_id=spec.id)
        volume = await self._settled_volume(spec.id, created)
        if volume.status != "available":
            await self._delete_cinder_volume(spec.id, volume)
            raise DriverError(
                f"the cloud could not create volume {spec.id}: it ended {volume.status}",
                code="create_failed",
            )
        return await self._volume_info(volume)

    async def delete_volume(self, volume_id: str) -> None:
        volume = await self._find_volume(volume_id)
        if volume is None:
            return
        volume = await self._settled_volume(volume_id, volume)
        if volume.attachments:
            raise DriverError(f"volume {volume_id} is attached to a server", code="in_use")
        conn = self.backend.conn
        backend_id = volume.id
        snapshots = await self.backend.calls.run(
            lambda: list(conn.block_storage.snapshots(details=True, volume_id=backend_id))
        )
        if snapshots:
            raise DriverError(f"volume {volume_id} has snapshots", code="in_use")
        await self._delete_cinder_volume(volume_id, volume)

    async def extend_volume(self, volume_id: str, size_gb: int) -> VolumeInfo:
        volume = await self._settled_volume(volume_id, await self.cinder_volume(volume_id))
        if size_gb < volume.size:
            raise DriverError(
                f"volume {volume_id} has {volume.size} GB and cannot shrink to {size_gb}",
                code="invalid_size",
            )
        if size_gb > volume.size:
            conn = self.backend.conn
            await self.backend.calls.run(
                lambda: conn.block_storage.extend_volume(volume.id, size_gb),
                kind=VOLUME,
                resource_id=volume_id,
            )
            volume = await self._settled_volume(volume_id, volume)
            if volume.size != size_gb:
                raise DriverError(
                    f"volume {volume_id} did not grow: it is {volume.status}", code="extend_failed"
                )
        return await self._volume_info(volume)

    async def create_snapshot(self, snapshot_id: str, volume_id: str) -> SnapshotInfo:
        existing = await self._find_snapshot(snapshot_id)
        if existing is None:
            volume = await self._settled_volume(volume_id, await self.cinder_volume(volume_id))
            conn = self.backend.conn

            def find_or_create() -> Any:
                name = cloud_name(snapshot_id)
                found = next(iter(conn.block_storage.snapshots(details=True, name=name)), None)
                if found is not None:
                    return found
                return conn.block_storage.create_snapshot(
                    volume_id=volume.id,
                    name=name,
                    force=True,  # Cinder snapshots an attached volume only when told to
                    metadata={ID_KEY: snapshot_id, VOLUME_KEY: volume_id},
                )

            existing = await self.backend.calls.run(
                find_or_create, kind=VOLUME, resource_id=volume_id
            )
        snapshot = await self._settled_snapshot(snapshot_id, existing)
        if snapshot.status != "available":
            raise DriverError(
                f"the cloud could not take snapshot {snapshot_id}: it ended {snapshot.status}",
                code="snapshot_failed",
            )
        return _snapshot_info(snapshot, snapshot_id)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        snapshot = await self._find_snapshot(snapshot_id)
        if snapshot is None:
            return
        snapshot = await self._settled_snapshot(snapshot_id, snapshot)
        conn = self.backend.conn
        await self.backend.calls.run(
            lambda: conn.block_storage.delete_snapshot(snapshot.id, ignore_missing=True)
        )
        await self.backend.calls.wait_for(
            lambda: self._find_snapshot(snapshot_id),
            lambda found: found is None,
            what=f"deleting snapshot {snapshot_id}",
        )

    async def attach_volume(self, server_id: str, volume_id: str, device: str) -> AttachmentInfo:
        server = await self.backend.nova_server(server_id)
        volume = await self._settled_volume(volume_id, await self.cinder_volume(volume_id))
        current = await self._attachment_of(volume_id, volume)
        if current is not None and current.server_id == server_id:
            return current
        if current is not None:
            raise DriverError(
                f"volume {volume_id} is attached to server {current.server_id}", code="in_use"
            )
        conn = self.backend.conn
        attached = await self.backend.calls.run(
            lambda: list(conn.compute.volume_attachments(server.id)),
            kind="server",
            resource_id=server_id,
        )
        wanted = f"/dev/{device}"
        if any(a.device == wanted for a in attached):
            raise DriverError(f"device {device} of server {server_id} is in use", code="in_use")
        await self.backend.calls.run(
            lambda: conn.compute.create_volume_attachment(
                server.id, volume=volume.id, device=wanted
            ),
            kind=VOLUME,
            resource_id=volume_id,
        )
        volume = await self._settled_volume(volume_id, volume)
        attachment = await self._attachment_of(volume_id, volume)
        if attachment is None or attachment.server_id != server_id:
            raise DriverError(
                f"volume {volume_id} did not attach: it is {volume.status}", code="attach_failed"
            )
        return attachment

    async def detach_volume(self, server_id: str, volume_id: str) -> None:
        volume = await self._find_volume(volume_id)
        if volume is None:
            return
        volume = await self._settled_volume(volume_id, volume)
        current = await self._attachment_of(volume_id, volume)
        if current is None or current.server_id != server_id:
            return
        try:
            server = await self.backend.nova_server(server_id)
        except ServerNotFound:
            return
        conn = self.backend.conn
        await self.backend.calls.run(
            lambda: conn.compute.delete_volume_attachment(server.id, volume.id, ignore_missing=True)
        )
        await self._settled_volume(volume_id, volume)

    async def get_volume(self, volume_id: str) -> VolumeInfo:
        return await self._volume_info(await self.cinder_volume(volume_id))

    async def list_volumes(self) -> list[VolumeInfo]:
        conn = self.backend.conn
        volumes = await self.backend.calls.run(
            lambda: list(conn.block_storage.volumes(details=True))
        )
        return [
            await self._volume_info(volume)
            for volume in volumes
            if (volume.metadata or {}).get(ID_KEY)
        ]

    async def get_snapshot(self, snapshot_id: str) -> SnapshotInfo:
        return _snapshot_info(await self._require_snapshot(snapshot_id), snapshot_id)

    # --- lookups ------------------------------------------------------------------------------

    async def cinder_volume(self, volume_id: str) -> Any:
        volume = await self._find_volume(volume_id)
        if volume is None:
            raise ResourceNotFound(VOLUME, volume_id)
        return volume

    async def _find_volume(self, volume_id: str) -> Any:
        conn = self.backend.conn
        name = cloud_name(volume_id)
        return await self.backend.calls.run(
            lambda: next(iter(conn.block_storage.volumes(details=True, name=name)), None)
        )

    async def _find_snapshot(self, snapshot_id: str) -> Any:
        conn = self.backend.conn
        name = cloud_name(snapshot_id)
        return await self.backend.calls.run(
            lambda: next(iter(conn.block_storage.snapshots(details=True, name=name)), None)
        )

    async def _require_snapshot(self, snapshot_id: str) -> Any:
        snapshot = await self._find_snapshot(snapshot_id)
        if snapshot is None:
            raise ResourceNotFound(SNAPSHOT, snapshot_id)
        return snapshot

    async def _settled_volume(self, volume_id: str, volume: Any) -> Any:
        conn = self.backend.conn
        backend_id = volume.id

        async def fetch() -> Any:
            return await self.backend.calls.run(
                lambda: conn.block_storage.get_volume(backend_id),
                kind=VOLUME,
                resource_id=volume_id,
            )

        return await self.backend.calls.wait_for(fetch, block_settled, what=f"volume {volume_id}")

    async def _settled_snapshot(self, snapshot_id: str, snapshot: Any) -> Any:
        conn = self.backend.conn
        backend_id = snapshot.id

        async def fetch() -> Any:
            return await self.backend.calls.run(
                lambda: conn.block_storage.get_snapshot(backend_id),
                kind=SNAPSHOT,
                resource_id=snapshot_id,
            )

        return await self.backend.calls.wait_for(
            fetch, block_settled, what=f"snapshot {snapshot_id}"
        )

    async def _delete_cinder_volume(self, volume_id: str, volume: Any) -> None:
        conn = self.backend.conn
        await self.backend.calls.run(
            lambda: conn.block_storage.delete_volume(volume.id, ignore_missing=True),
            kind=VOLUME,
            resource_id=volume_id,
        )
        await self.backend.calls.wait_for(
            lambda: self._find_volume(volume_id),
            lambda found: found is None,
            what=f"deleting volume {volume_id}",
        )

    async def _attachment_of(self, volume_id: str, volume: Any) -> AttachmentInfo | None:
        for attachment in volume.attachments or []:
            server_id = await self.backend.cloudplane_server_id(attachment["server_id"])
            if server_id is None:
                continue  # attached to a server cloudplane does not hold
            device = str(attachment.get("device") or "").removeprefix("/dev/")
            return AttachmentInfo(volume_id=volume_id, server_id=server_id, device=device)
        return None

    async def _volume_info(self, volume: Any) -> VolumeInfo:
        metadata = volume.metadata or {}
        volume_id = str(metadata.get(ID_KEY) or id_from_name(volume.name) or volume.id)
        return VolumeInfo(
            id=volume_id,
            size_gb=int(volume.size),
            bootable=str(volume.is_bootable).lower() == "true",
            attachment=await self._attachment_of(volume_id, volume),
            source_image_id=metadata.get(IMAGE_KEY),
            source_snapshot_id=metadata.get(SNAPSHOT_KEY),
            backend_id=volume.id,
        )


def _snapshot_info(snapshot: Any, snapshot_id: str) -> SnapshotInfo:
    metadata = snapshot.metadata or {}
    return SnapshotInfo(
        id=snapshot_id,
        volume_id=str(metadata.get(VOLUME_KEY) or ""),
        size_gb=int(snapshot.size),
        backend_id=snapshot.id,
    )
