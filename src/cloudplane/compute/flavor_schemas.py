"""Flavor API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

FlavorName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^/\x00-\x1f]+$"
    ),
]


class FlavorCreate(BaseModel):
    """A new flavor: the size of the servers made from it."""

    model_config = ConfigDict(extra="forbid")

    name: FlavorName
    vcpus: Annotated[int, Field(ge=1, le=1024)]
    ram_mb: Annotated[int, Field(ge=64, le=16 * 1024 * 1024)]
    disk_gb: Annotated[int, Field(ge=0, le=65536)]
    is_public: Annotated[bool, Field(description="Non-public flavors are for admins only.")] = True


class FlavorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    is_public: bool
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
