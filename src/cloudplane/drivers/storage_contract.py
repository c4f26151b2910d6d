"""The block-storage half of the driver contract: volumes, snapshots, attachments.

Like the compute half, every method is idempotent by the ids it is given and states its
postconditions; the contract test suite checks each of them against every driver. Ids are
cloudplane's ids: a backend keys its own objects by them (or maps them) so a repeated call finds
what an earlier one made.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path

from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import Unsupported

GIB = 1 << 30
"""Bytes in one GB as volume sizes count them (``size_gb`` is in GiB, as Cinder's are)."""


@dataclass(frozen=True, slots=True)
class BlockDeviceSpec:
    """A volume a server gets at boot: its backend volume, the device name, and boot order."""

    volume_id: str
    device: str
    boot: bool = False


@dataclass(frozen=True, slots=True)
class ImageSource:
    """An image to copy into a new volume: where its file is, its format and virtual size."""

    image_id: str
    path: str
    disk_format: str
    virtual_size_bytes: int


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    """A volume to create: blank, from ``image``, or from the snapshot ``snapshot_id``.

    ``pool_path`` is where the storage pool that holds it lives on the host (a directory or a
    mount point); backends that manage placement themselves may ignore it.
    """

    id: str
    name: str
    size_gb: int
    pool_path: str
    image: ImageSource | None = None
    snapshot_id: str | None = None

    def __post_init__(self) -> None:
        if self.size_gb < 1:
            raise ValueError(f"a volume needs at least 1 GB, got {self.size_gb}")
        if self.image is not None and self.snapshot_id is not None:
            raise ValueError("a volume comes from an image or from a snapshot, not both")


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """A volume attached to a server as ``device`` (``vda``, ``vdb``, …)."""

    volume_id: str
    server_id: str
    device: str


@dataclass(frozen=True, slots=True)
class VolumeInfo:
    """What a backend reports about one volume."""

    id: str
    size_gb: int
    bootable: bool
    attachment: AttachmentInfo | None = None
    source_image_id: str | None = None
    source_snapshot_id: str | None = None
    backend_id: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """What a backend reports about one snapshot: the volume it was taken of, and its size."""

    id: str
    volume_id: str
    size_gb: int
    backend_id: str | None = None


class StorageDriver(abc.ABC):
    """A backend that stores volumes and their snapshots and attaches them to servers.

    Errors: ``ResourceNotFound`` (kind ``volume`` or ``snapshot``) for an unknown id where that is
    an error, ``ServerNotFound`` for an unknown server, ``Unsupported`` for a missing capability,
    and ``DriverError`` with ``code`` ``in_use``, ``too_small`` or ``invalid_size`` for requests
    the backend refuses. A refused call changes nothing.
    """

    @abc.abstractmethod
    async def create_volume(self, spec: VolumeSpec) -> VolumeInfo:
        """Create the volume described by ``spec``.

        After success the volume exists with ``spec.size_gb``, unattached; one made from an
        image is bootable and holds the image's disk, one made from a snapshot holds the
        snapshot's data. A size below the image's virtual size or the snapshot's size is
        ``DriverError(code="too_small")``; an unknown snapshot is ``ResourceNotFound``. If it
        fails, nothing it made is left behind. Creating an id that exists returns that volume
        unchanged.
        """

    @abc.abstractmethod
    async def delete_volume(self, volume_id: str) -> None:
        """Remove the volume and its data. Deleting an unknown volume succeeds.

        An attached volume, or one with snapshots, is ``DriverError(code="in_use")``: detach it
        and delete its snapshots first.
        """

    @abc.abstractmethod
    async def extend_volume(self, volume_id: str, size_gb: int) -> VolumeInfo:
        """Grow the volume to ``size_gb``; afterwards it reports that size and keeps its data.

        Extending to the current size is a no-op (so a repeated call succeeds); a smaller size is
        ``DriverError(code="invalid_size")``. An attached volume grows only on a backend with
        ``VOLUME_EXTEND_ONLINE``, else ``Unsupported``. Unknown volume: ``ResourceNotFound``.
        """

    @abc.abstractmethod
    async def create_snapshot(self, snapshot_id: str, volume_id: str) -> SnapshotInfo:
        """Take a point-in-time copy of the volume (attached or not).

        Afterwards the snapshot exists with the volume's size at that moment; later changes to
        the volume do not change it. An unknown volume is ``ResourceNotFound``. Creating an id
        that exists returns that snapshot unchanged.
        """

    @abc.abstractmethod
    async def delete_snapshot(self, snapshot_id: str) -> None:
        """Remove the snapshot. Deleting an unknown snapshot succeeds; its volume is untouched."""

    @abc.abstractmethod
    async def attach_volume(self, server_id: str, volume_id: str, device: str) -> AttachmentInfo:
        """Attach the volume to the server as ``device``.

        Afterwards the volume reports the attachment. Attaching it again to the same server
        returns the existing attachment (with the device it has). A volume attached to another
        server, or a device of the server already used by another volume, is
        ``DriverError(code="in_use")``. Unknown server: ``ServerNotFound``; unknown volume:
        ``ResourceNotFound``. Attaching to a running server needs ``HOT_ATTACH``, else
        ``Unsupported``.
        """

    @abc.abstractmethod
    async def detach_volume(self, server_id: str, volume_id: str) -> None:
        """Detach the volume from the server; afterwards it reports no attachment.

        Detaching a volume that is not attached to that server, an unknown volume, or from an
        unknown (for example deleted) server succeeds.
        """

    @abc.abstractmethod
    async def get_volume(self, volume_id: str) -> VolumeInfo:
        """Report one volume; raise ``ResourceNotFound`` when the backend has none with that id."""

    @abc.abstractmethod
    async def list_volumes(self) -> list[VolumeInfo]:
        """Report every volume the backend holds for cloudplane, in one call.

        The list is complete or the call raises ``DriverError``: a volume missing from it is
        taken to be gone from the backend.
        """

    @abc.abstractmethod
    async def get_snapshot(self, snapshot_id: str) -> SnapshotInfo:
        """Report one snapshot; raise ``ResourceNotFound`` when there is none with that id."""

    async def export_volume(self, volume_id: str, destination: Path) -> str:
        """Write a point-in-time copy of the volume's data to the new file ``destination`` and
        return its disk format (``qcow2`` or ``raw``).

        The volume may be attached; the copy is consistent as of one moment. Exporting the same
        unchanged volume twice gives files with the same content. Unknown volume:
        ``ResourceNotFound``. A backend without ``Capability.VOLUME_DATA`` raises ``Unsupported``
        (the default).
        """
        raise Unsupported(Capability.VOLUME_DATA)

    async def import_volume(self, volume_id: str, source: Path, disk_format: str) -> None:
        """Replace the data of the existing volume with the file ``source`` (of
        ``disk_format``, as ``export_volume`` returned it); afterwards exporting the volume gives
        that data back. The volume is unattached, or attached to a server that is shut off
        (which sees the new data when it next starts).

        A volume smaller than the data is ``DriverError(code="too_small")``, one attached to a
        server that is not shut off ``DriverError(code="in_use")``, both raised before anything
        is written; unknown volume: ``ResourceNotFound``. Without ``Capability.VOLUME_DATA``:
        ``Unsupported`` (the default).
        """
        raise Unsupported(Capability.VOLUME_DATA)
