"""What ``/api/v1/hosts`` answers."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel


class HostState(enum.StrEnum):
    UP = "up"
    DOWN = "down"


class HostOut(BaseModel):
    """A host: its capacity as it last reported, what cloudplane placed on it, and its state."""

    id: str
    name: str | None
    uri: str
    state: HostState
    error: str | None
    vcpus: int
    memory_mb: int
    free_memory_mb: int
    allocated_vcpus: int
    allocated_ram_mb: int
    servers: int
    last_seen_at: datetime | None
    created_at: datetime
    updated_at: datetime
