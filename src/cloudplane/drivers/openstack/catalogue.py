"""The cloud's flavors and images as plain values, for cloudplane's catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CloudFlavor:
    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    is_public: bool


@dataclass(frozen=True, slots=True)
class CloudImage:
    id: str
    name: str
    disk_format: str
    size_bytes: int | None
    min_disk_gb: int
    min_ram_mb: int
    visibility: str
    checksum_sha512: str | None


def read_flavors(conn: Any) -> list[CloudFlavor]:
    """Every enabled flavor the project may use (blocking; one list call)."""
    return [
        CloudFlavor(
            id=str(flavor.id),
            name=str(flavor.name),
            vcpus=int(flavor.vcpus),
            ram_mb=int(flavor.ram),
            disk_gb=int(flavor.disk),
            is_public=bool(flavor.is_public),
        )
        for flavor in conn.compute.flavors(details=True)
        if not flavor.is_disabled
    ]


def read_images(conn: Any) -> list[CloudImage]:
    """Every active image the project may boot (blocking; Glance pages through them)."""
    return [
        CloudImage(
            id=str(image.id),
            name=str(image.name or image.id),
            disk_format=str(image.disk_format or "raw"),
            size_bytes=image.size,
            min_disk_gb=int(image.min_disk or 0),
            min_ram_mb=int(image.min_ram or 0),
            visibility=str(image.visibility or "private"),
            checksum_sha512=image.hash_value if image.hash_algo == "sha512" else None,
        )
        for image in conn.image.images()
        if image.status == "active"
    ]
