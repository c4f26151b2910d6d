"""Images as sources of volumes: how big a volume one needs, and how the driver reaches it.

A volume made from an image must hold the image's *virtual* disk, not just its file: a qcow2
file of a few kilobytes can describe a disk of many gigabytes. The virtual size is read from
the qcow2 header; raw and ISO images are as large as their file.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from cloudplane.drivers.storage_contract import GIB, ImageSource
from cloudplane.images.formats import DiskFormat
from cloudplane.images.models import Image
from cloudplane.images.storage import ImageStore
from cloudplane.runtime import Runtime

_QCOW2_SIZE = struct.Struct(">Q")
_QCOW2_SIZE_AT = 24
"""Offset of the virtual size (big-endian u64) in every qcow2 version's header."""


def image_path(runtime: Runtime, image_id: str) -> Path:
    return ImageStore(runtime.settings.images_dir).path_for(image_id)


async def virtual_size_bytes(runtime: Runtime, image: Image) -> int:
    """The size of the disk the image describes (its file size when unreadable or not qcow2)."""
    file_size = image.size_bytes or 0
    if image.disk_format != DiskFormat.QCOW2.value:
        return file_size
    path = image_path(runtime, image.id)
    return await asyncio.to_thread(_qcow2_virtual_size, path, file_size)


def _qcow2_virtual_size(path: Path, fallback: int) -> int:
    try:
        with path.open("rb") as image_file:
            header = image_file.read(_QCOW2_SIZE_AT + _QCOW2_SIZE.size)
    except OSError:
        return fallback
    if len(header) < _QCOW2_SIZE_AT + _QCOW2_SIZE.size:
        return fallback
    (size,) = _QCOW2_SIZE.unpack_from(header, _QCOW2_SIZE_AT)
    return int(size)


async def minimum_volume_gb(runtime: Runtime, image: Image) -> int:
    """The smallest volume that holds ``image``: its ``min_disk_gb`` and its virtual size
    rounded up to whole GB, and at least 1."""
    virtual = await virtual_size_bytes(runtime, image)
    return max(1, image.min_disk_gb, -(-virtual // GIB))


async def image_source(runtime: Runtime, image: Image) -> ImageSource:
    """The image as the driver's ``VolumeSpec`` names it."""
    return ImageSource(
        image_id=image.id,
        path=str(image_path(runtime, image.id)),
        disk_format=image.disk_format,
        virtual_size_bytes=await virtual_size_bytes(runtime, image),
    )
