"""Security group and rule API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cloudplane.drivers.network_contract import Ethertype, RuleDirection, RuleProtocol
from cloudplane.network.schemas import Description, ResourceName

PortNumber = Annotated[int, Field(ge=1, le=65535)]


class SecurityGroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    description: Description = ""


class SecurityGroupRuleCreate(BaseModel):
    """An allow rule. Ports only for tcp/udp; the peer is ``remote_cidr`` or the ports of
    ``remote_group_id`` (anyone when both are absent)."""

    model_config = ConfigDict(extra="forbid")

    direction: RuleDirection
    protocol: RuleProtocol = RuleProtocol.ANY
    port_min: PortNumber | None = None
    port_max: PortNumber | None = None
    remote_cidr: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = (
        None
    )
    remote_group_id: str | None = None
    ethertype: Ethertype | None = Field(
        default=None, description="Default: that of `remote_cidr`, else IPv4."
    )


class SecurityGroupRuleOut(BaseModel):
    id: str
    security_group_id: str
    direction: RuleDirection
    protocol: RuleProtocol
    ethertype: Ethertype
    port_min: int | None
    port_max: int | None
    remote_cidr: str | None
    remote_group_id: str | None
    created_at: datetime


class SecurityGroupOut(BaseModel):
    id: str
    name: str
    description: str
    project_id: str
    rules: list[SecurityGroupRuleOut]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
