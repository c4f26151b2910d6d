"""Server API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloudplane.compute.states import ServerStatus

ResourceName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[^/\x00-\x1f]+$"
    ),
]
MetadataMap = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=255)],
        Annotated[str, StringConstraints(max_length=255)],
    ],
    Field(max_length=128),
]


class ServerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    description: Annotated[str, StringConstraints(max_length=1024)] = ""
    flavor_id: str
    image_id: str
    user_data: Annotated[str | None, StringConstraints(max_length=65535)] = None
    metadata: MetadataMap = Field(default_factory=dict)


class ServerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ResourceName | None = None
    description: Annotated[str | None, StringConstraints(max_length=1024)] = None
    metadata: MetadataMap | None = None


class RebootRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["soft", "hard"] = "soft"


class Fault(BaseModel):
    code: str
    message: str
    at: datetime


class ServerAddress(BaseModel):
    network_id: str
    port_id: str
    ip: str
    mac: str


class ServerFloatingIp(BaseModel):
    id: str
    ip: str


class ServerVolume(BaseModel):
    volume_id: str
    device: str
    boot: bool


class ServerOut(BaseModel):
    id: str
    name: str
    description: str
    project_id: str
    user_id: str
    flavor_id: str
    image_id: str | None
    status: ServerStatus
    task_state: str | None
    power_state: str
    addresses: list[ServerAddress]
    floating_ips: list[ServerFloatingIp]
    volumes: list[ServerVolume]
    metadata: dict[str, str]
    fault: Fault | None
    host: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class ServerAccepted(ServerOut):
    """A server whose change has been accepted; ``operation_id`` tracks the work."""

    operation_id: str


class ConsoleOut(BaseModel):
    type: Literal["vnc", "serial", "none"]
    url: str | None = None
