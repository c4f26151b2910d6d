"""Backends that bring their own catalogue (an OpenStack cloud's flavors and images).

cloudplane imports such a catalogue instead of keeping its own: ``catalogue_sync`` asks any
driver that is a ``CatalogueSource`` for it on a schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


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


@runtime_checkable
class CatalogueSource(Protocol):
    async def list_cloud_flavors(self) -> list[CloudFlavor]:
        """Every flavor the backend offers, in one call."""
        ...

    async def list_cloud_images(self) -> list[CloudImage]:
        """Every active image the backend can boot, in one call."""
        ...
