"""Floating IP API bodies and states."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloudplane.network.schemas import Description, IpText


class FloatingIpStatus(enum.StrEnum):
    """``ACTIVE`` when mapped onto a port on the backend, ``DOWN`` when not, ``ERROR`` when a
    change failed (disassociate or delete it to recover)."""

    DOWN = "DOWN"
    ACTIVE = "ACTIVE"
    ERROR = "ERROR"


class FloatingIpTask(enum.StrEnum):
    ASSOCIATING = "associating"
    DISASSOCIATING = "disassociating"


class FloatingIpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network_id: str | None = Field(
        default=None, description="An external network; default: the oldest one."
    )
    description: Description = ""


class FloatingIpUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Description | None = None


class FloatingIpAssociate(BaseModel):
    """Where to map the floating IP: a server (its first port) or a port."""

    model_config = ConfigDict(extra="forbid")

    server_id: Annotated[str, StringConstraints(min_length=1)] | None = None
    port_id: Annotated[str, StringConstraints(min_length=1)] | None = None
    fixed_ip: IpText | None = Field(
        default=None, description="Which of the port's addresses; default: its first."
    )

    @model_validator(mode="after")
    def _one_target(self) -> FloatingIpAssociate:
        if (self.server_id is None) == (self.port_id is None):
            raise ValueError("give either server_id or port_id")
        return self


class FloatingIpOut(BaseModel):
    id: str
    ip: str
    network_id: str
    project_id: str
    port_id: str | None
    server_id: str | None
    fixed_ip: str | None
    status: FloatingIpStatus
    task_state: str | None
    description: str
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class FloatingIpAccepted(FloatingIpOut):
    """A floating IP whose change has been accepted; ``operation_id`` tracks the work."""

    operation_id: str
