"""Image API bodies and the image's states."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloudplane.images.formats import DiskFormat


class ImageStatus(enum.StrEnum):
    """``queued`` (no file yet) → ``saving`` (upload running) → ``active``; ``deleted`` at the end.

    A failed upload goes back to ``queued`` so it can be retried: nothing was stored, and
    ``error`` would be a dead end that only deletion leaves. ``error`` is kept for an image whose
    stored file is later found bad (nothing sets it yet).
    """

    QUEUED = "queued"
    SAVING = "saving"
    ACTIVE = "active"
    ERROR = "error"
    DELETED = "deleted"


class Visibility(enum.StrEnum):
    """``public``: every project sees it (only admins may make one); ``private``: its project."""

    PUBLIC = "public"
    PRIVATE = "private"


ImageName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[^/\x00-\x1f]+$"
    ),
]
DiskGb = Annotated[int, Field(ge=0, le=65536, description="Smallest root disk, in GB.")]
RamMb = Annotated[int, Field(ge=0, le=16 * 1024 * 1024, description="Smallest RAM, in MB.")]


class ImageCreate(BaseModel):
    """A new image record; its file is uploaded afterwards with ``PUT /images/{id}/file``."""

    model_config = ConfigDict(extra="forbid")

    name: ImageName
    disk_format: DiskFormat
    min_disk_gb: DiskGb = 0
    min_ram_mb: RamMb = 0
    visibility: Visibility = Visibility.PRIVATE


class ImageUpdate(BaseModel):
    """Fields to change; absent or null fields keep their value."""

    model_config = ConfigDict(extra="forbid")

    name: ImageName | None = None
    min_disk_gb: DiskGb | None = None
    min_ram_mb: RamMb | None = None
    visibility: Visibility | None = None


class ImageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    status: ImageStatus
    disk_format: DiskFormat
    size_bytes: int | None = Field(description="Bytes of the stored file; null until uploaded.")
    checksum_sha256: str | None = Field(description="Hex sha256 of the stored file.")
    min_disk_gb: int
    min_ram_mb: int
    visibility: Visibility
    project_id: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
