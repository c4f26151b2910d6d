"""The cloud's flavors and images as plain values (blocking; run through ``CloudCalls``)."""

from __future__ import annotations

from typing import Any

from cloudplane.drivers.catalogue_source import CloudFlavor, CloudImage


def read_flavors(conn: Any) -> list[CloudFlavor]:
    """Every enabled flavor the project may use (one list call)."""
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
    """Every active image the project may boot (Glance pages through them)."""
    return [
        CloudImage(
            id=str(image.id),
            name=str(image.name or image.id),
            disk_format=str(image.disk_format or "raw"),
            size_bytes=image.size,
            min_disk_gb=int(image.min_disk or 0),
            min_ram_mb=int(image.min_ram or 0),
        )
        for image in conn.image.images()
        if image.status == "active"
    ]
