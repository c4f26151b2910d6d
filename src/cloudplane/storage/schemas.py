"""Block-storage API bodies: pools, volume types, volumes, snapshots and attachments."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloudplane.storage.states import SnapshotStatus, VolumeStatus

ResourceName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[^/\x00-\x1f]+$"
    ),
]
ShortName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^/\x00-\x1f]+$"
    ),
]
Description = Annotated[str, StringConstraints(max_length=1024)]
SizeGb = Annotated[int, Field(ge=1, le=1_000_000)]
DeviceName = Annotated[str, StringConstraints(pattern=r"^vd[b-z]$")]
NfsExport = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=512,
        # host (name, IPv4 or [IPv6]) ":" absolute path
        pattern=r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):/[^\x00-\x1f]*$",
    ),
]
HostPath = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=512, pattern=r"^/[^\x00-\x1f]*$")
]


class PoolKind(enum.StrEnum):
    DIR = "dir"
    NFS = "nfs"


class PoolStatus(enum.StrEnum):
    """``active``: the path is there (and mounted, for NFS); ``unavailable``: it is not."""

    ACTIVE = "active"
    UNAVAILABLE = "unavailable"


class StoragePoolCreate(BaseModel):
    """``dir``: ``path`` (created if missing). ``nfs``: ``export`` (mounted by cloudplane) or the
    ``path`` of an NFS export that is already mounted."""

    model_config = ConfigDict(extra="forbid")

    name: ShortName
    kind: PoolKind
    path: HostPath | None = None
    export: NfsExport | None = None
    capacity_gb: SizeGb | None = Field(
        default=None, description="Explicit capacity; omitted means the file system's size."
    )

    @model_validator(mode="after")
    def _one_location(self) -> StoragePoolCreate:
        if self.kind is PoolKind.DIR and (self.path is None or self.export is not None):
            raise ValueError("a dir pool takes a path and no export")
        if self.kind is PoolKind.NFS and (self.path is None) == (self.export is None):
            raise ValueError("an nfs pool takes either an export to mount or a mounted path")
        return self


class StoragePoolUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortName | None = None
    capacity_gb: SizeGb | None = Field(
        default=None, description="Explicit capacity; null returns to the file system's size."
    )


class StoragePoolOut(BaseModel):
    id: str
    name: str
    kind: PoolKind
    path: str
    export: str | None
    capacity_gb: int
    allocated_gb: int
    available_gb: int
    status: PoolStatus
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class VolumeTypeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortName
    description: Description = ""
    storage_pool_id: str
    is_default: bool = False


class VolumeTypeUpdate(BaseModel):
    """``is_default: true`` makes this the default type (the previous default stops being it)."""

    model_config = ConfigDict(extra="forbid")

    name: ShortName | None = None
    description: Description | None = None
    is_default: Literal[True] | None = None


class VolumeTypeOut(BaseModel):
    id: str
    name: str
    description: str
    storage_pool_id: str
    is_default: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class VolumeCreate(BaseModel):
    """A blank volume, or one made from ``image_id`` (bootable) or ``snapshot_id``."""

    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    description: Description = ""
    size_gb: SizeGb
    volume_type: str | None = Field(
        default=None, max_length=64, description="Name or id; omitted means the default type."
    )
    image_id: str | None = None
    snapshot_id: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> VolumeCreate:
        if self.image_id is not None and self.snapshot_id is not None:
            raise ValueError("a volume comes from an image or from a snapshot, not both")
        return self


class VolumeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ResourceName | None = None
    description: Description | None = None


class VolumeExtend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size_gb: SizeGb


class VolumeAttachmentOut(BaseModel):
    server_id: str
    device: str


class VolumeOut(BaseModel):
    id: str
    name: str
    description: str
    project_id: str
    user_id: str
    size_gb: int
    volume_type: str
    volume_type_id: str
    storage_pool_id: str
    status: VolumeStatus
    bootable: bool
    image_id: str | None
    snapshot_id: str | None
    attachments: list[VolumeAttachmentOut]
    delete_on_termination: bool
    error: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class VolumeAccepted(VolumeOut):
    """A volume whose change has been accepted; ``operation_id`` tracks the work."""

    operation_id: str


class SnapshotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    volume_id: str
    name: ResourceName
    description: Description = ""


class SnapshotUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ResourceName | None = None
    description: Description | None = None


class SnapshotOut(BaseModel):
    id: str
    volume_id: str
    project_id: str
    name: str
    description: str
    size_gb: int
    status: SnapshotStatus
    error: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class SnapshotAccepted(SnapshotOut):
    operation_id: str


class AttachRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    volume_id: str
    device: DeviceName | None = Field(
        default=None, description="`vdb` … `vdz`; omitted means the first free one."
    )


class BootVolumeNew(BaseModel):
    """A new boot volume made from the server's image."""

    model_config = ConfigDict(extra="forbid")

    size_gb: SizeGb
    volume_type: str | None = Field(default=None, max_length=64)


class BootVolumeExisting(BaseModel):
    """An existing bootable volume of the project, available."""

    model_config = ConfigDict(extra="forbid")

    volume_id: str


BootVolumeRequest = BootVolumeNew | BootVolumeExisting
"""``boot_volume`` of a server create: ``{size_gb, volume_type?}`` or ``{volume_id}``."""


class ServerVolumeEntry(BaseModel):
    """One entry of a server body's ``volumes``."""

    volume_id: str
    device: str
    boot: bool


class AttachmentAccepted(BaseModel):
    """An attach or detach that has been accepted; ``operation_id`` tracks the work."""

    volume: VolumeOut
    server_id: str
    device: str
    operation_id: str
