"""Server API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloudplane.compute.states import ServerStatus
from cloudplane.network.schemas import NetworkRequest
from cloudplane.storage.schemas import BootVolumeExisting, BootVolumeRequest

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
    """A new server boots from ``image_id``, from a new volume made from it
    (``boot_volume: {size_gb}``), or from an existing volume (``boot_volume: {volume_id}``).

    ``networks`` left out gives the server a port on the project's only usable network (if it
    has exactly one); ``[]`` gives it none.
    """

    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    description: Annotated[str, StringConstraints(max_length=1024)] = ""
    flavor_id: str
    image_id: str | None = None
    boot_volume: BootVolumeRequest | None = None
    networks: Annotated[list[NetworkRequest], Field(max_length=16)] | None = None
    security_groups: Annotated[list[str], Field(max_length=16)] = Field(default_factory=list)
    user_data: Annotated[str | None, StringConstraints(max_length=65535)] = None
    metadata: MetadataMap = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_a_boot_source(self) -> ServerCreate:
        if self.image_id is None and not isinstance(self.boot_volume, BootVolumeExisting):
            raise ValueError("give image_id, or boot_volume with a volume_id")
        return self


class ServerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ResourceName | None = None
    description: Annotated[str | None, StringConstraints(max_length=1024)] = None
    metadata: MetadataMap | None = None


class RebootRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["soft", "hard"] = "soft"


class ServerResetState(BaseModel):
    """An administrator's reset of a server's status (its ``task_state`` is cleared)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ACTIVE", "SHUTOFF", "ERROR"] = Field(
        default="ERROR",
        description="The status to record. The power state is read again at the next "
        "reconcile, which then sets the status it implies (except for ERROR).",
    )


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
