"""Network and port API bodies, their states, and a server's network request."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

ResourceName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[^/\x00-\x1f]+$"
    ),
]
OptionalName = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=255, pattern=r"^[^/\x00-\x1f]*$")
]
Description = Annotated[str, StringConstraints(max_length=1024)]
IpText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=45)]


class NetworkStatus(enum.StrEnum):
    """``BUILD`` until the backend has it, then ``ACTIVE``; ``ERROR`` if it could not be built."""

    BUILD = "BUILD"
    ACTIVE = "ACTIVE"
    ERROR = "ERROR"
    DELETED = "DELETED"


class PortStatus(enum.StrEnum):
    """``BUILD`` until the backend has it; then ``ACTIVE`` when bound to a server, else ``DOWN``."""

    BUILD = "BUILD"
    DOWN = "DOWN"
    ACTIVE = "ACTIVE"
    ERROR = "ERROR"
    DELETED = "DELETED"


class DeviceOwner(enum.StrEnum):
    """Who bound a port to its device (a server)."""

    SERVER = "compute"
    """Created by the server for itself; deleted with it."""
    ATTACHED = "compute:attached"
    """A port the project made and gave to the server; unbound (kept) when the server goes."""


class AllocationPool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: IpText
    end: IpText


class NetworkCreate(BaseModel):
    """A new network. ``external`` and ``shared`` are for admins."""

    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    description: Description = ""
    cidr: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    gateway_ip: IpText | None = Field(
        default=None, description="Default: the first host. An explicit null means no gateway."
    )
    allocation_pools: list[AllocationPool] | None = Field(
        default=None, max_length=64, description="Default: every host but the gateway."
    )
    external: bool = Field(default=False, description="A floating-IP pool (admins only).")
    shared: bool = Field(default=False, description="Usable by every project (admins only).")


class NetworkUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ResourceName | None = None
    description: Description | None = None
    external: bool | None = None
    shared: bool | None = None


class NetworkOut(BaseModel):
    id: str
    name: str
    description: str
    project_id: str
    cidr: str
    ip_version: int
    gateway_ip: str | None
    allocation_pools: list[AllocationPool]
    external: bool
    shared: bool
    status: NetworkStatus
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class PortCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network_id: str
    name: OptionalName = ""
    description: Description = ""
    fixed_ip: IpText | None = Field(
        default=None, description="A free host address of the network; default: one from a pool."
    )
    device_id: str | None = Field(
        default=None, description="A server of the project to bind the port to."
    )
    security_groups: list[str] | None = Field(
        default=None,
        max_length=16,
        description="Security group ids; default: the project's `default` group.",
    )


class PortUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OptionalName | None = None
    description: Description | None = None
    security_groups: list[str] | None = Field(default=None, max_length=16)


class PortOut(BaseModel):
    id: str
    name: str
    description: str
    project_id: str
    network_id: str
    mac: str
    fixed_ips: list[str]
    device_id: str | None
    device_owner: str | None
    security_groups: list[str]
    status: PortStatus
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class NetworkRequest(BaseModel):
    """One interface of a new server: a new port on ``network_id`` (optionally with
    ``fixed_ip``), or the existing unbound port ``port_id``."""

    model_config = ConfigDict(extra="forbid")

    network_id: str | None = None
    fixed_ip: IpText | None = None
    port_id: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> NetworkRequest:
        if (self.network_id is None) == (self.port_id is None):
            raise ValueError("give either network_id (and optionally fixed_ip) or port_id")
        if self.port_id is not None and self.fixed_ip is not None:
            raise ValueError("fixed_ip goes with network_id, not with port_id")
        return self
