"""Data-protection API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloudplane.protection.states import (
    CheckpointStatus,
    LogStatus,
    OperationType,
    PlanStatus,
    ResourceType,
    RunStatus,
)

ResourceName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=255, pattern=r"^[^/\x00-\x1f]+$"
    ),
]
Description = Annotated[str, StringConstraints(max_length=1024)]


class ProviderOut(BaseModel):
    id: str
    name: str
    description: str
    options_schema: dict[str, Any]
    restore_schema: dict[str, Any]
    restore_targets: list[Literal["new", "in_place"]] = Field(
        description="The restore targets this provider offers."
    )


class ProtectableTypeOut(BaseModel):
    type: ResourceType
    dependent_types: list[ResourceType]


class ResourceRefOut(BaseModel):
    type: str
    id: str
    name: str


class ProtectableInstanceOut(BaseModel):
    type: str
    id: str
    name: str
    dependent_resources: list[ResourceRefOut]


class PlanResource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    type: ResourceType
    name: Annotated[str, StringConstraints(max_length=255)] | None = Field(
        default=None, description="Ignored on input; the resource's current name is kept."
    )


PlanResources = Annotated[list[PlanResource], Field(min_length=1, max_length=64)]


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    description: Description = ""
    provider_id: str
    resources: PlanResources
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Checked against the provider's options_schema."
    )


class PlanUpdate(BaseModel):
    """Only while the plan is suspended."""

    model_config = ConfigDict(extra="forbid")

    name: ResourceName | None = None
    description: Description | None = None
    resources: PlanResources | None = None
    parameters: dict[str, Any] | None = None


class PlanOut(BaseModel):
    id: str
    name: str
    description: str
    project_id: str
    provider_id: str
    status: PlanStatus
    resources: list[ResourceRefOut]
    parameters: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class TriggerProperties(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["crontab", "calendar"]
    pattern: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    start_time: datetime | None = Field(
        default=None, description="First moment the trigger may fire; default: now."
    )
    end_time: datetime | None = None
    window_s: int = Field(
        default=300,
        ge=0,
        le=7 * 24 * 3600,
        description="How late a firing may still run; later ones are logged as dropped.",
    )

    @model_validator(mode="after")
    def _times_are_aware_and_ordered(self) -> TriggerProperties:
        for moment in (self.start_time, self.end_time):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("times need a zone (RFC 3339, e.g. 2026-11-22T02:00:00Z)")
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time")
        return self


class TriggerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    type: Literal["time"] = "time"
    properties: TriggerProperties


class TriggerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ResourceName | None = None
    properties: TriggerProperties | None = None


class TriggerPropertiesOut(BaseModel):
    format: str
    pattern: str
    start_time: datetime
    end_time: datetime | None
    window_s: int


class TriggerOut(BaseModel):
    id: str
    name: str
    project_id: str
    type: str
    properties: TriggerPropertiesOut
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class OperationDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str
    max_backups: int | None = Field(default=None, ge=1, le=10_000)
    retention_days: int | None = Field(default=None, ge=1, le=36_500)


class ScheduledOperationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ResourceName
    description: Description = ""
    operation_type: OperationType
    trigger_id: str
    operation_definition: OperationDefinition
    enabled: bool = True

    @model_validator(mode="after")
    def _retention_has_a_limit(self) -> ScheduledOperationCreate:
        definition = self.operation_definition
        limited = definition.max_backups is not None or definition.retention_days is not None
        if self.operation_type is OperationType.RETENTION_PROTECT and not limited:
            raise ValueError("retention_protect needs max_backups or retention_days")
        if self.operation_type is OperationType.PROTECT and limited:
            raise ValueError("max_backups and retention_days belong to retention_protect")
        return self


class ScheduledOperationOut(BaseModel):
    id: str
    name: str
    description: str
    project_id: str
    operation_type: OperationType
    trigger_id: str
    operation_definition: OperationDefinition
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    created_at: datetime
    deleted_at: datetime | None


class CheckpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str


class CheckpointResourceOut(BaseModel):
    type: str
    id: str
    name: str
    status: str
    reason: str | None


class GraphNodeOut(BaseModel):
    type: str
    id: str
    name: str
    children: list[dict[str, str]]


class CheckpointOut(BaseModel):
    id: str
    project_id: str
    plan_id: str
    provider_id: str
    status: CheckpointStatus
    resource_graph: list[GraphNodeOut]
    resources: list[CheckpointResourceOut]
    created_by: Literal["manual", "scheduled"]
    error: str | None
    created_at: datetime
    updated_at: datetime


class CheckpointAccepted(CheckpointOut):
    operation_id: str


class RestoreCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint_id: str
    target: Literal["new", "in_place"] = Field(
        default="new",
        description=(
            "``new`` makes new volumes and servers; ``in_place`` writes the saved data back "
            "into the protected volumes themselves (each ``available``, or attached to a "
            "``SHUTOFF`` server), where the provider offers it (its ``restore_targets``)."
        ),
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict,
        description="Checked against the provider's restore_schema; ``new`` restores only.",
    )


class RestoreOut(BaseModel):
    id: str
    project_id: str
    checkpoint_id: str
    target: str
    parameters: dict[str, Any]
    status: RunStatus
    resources_status: dict[str, str]
    resources_reason: dict[str, str]
    restored_resources: dict[str, str] = Field(
        description=(
            "``Type#id`` of each protected resource → id of the resource made for it (or, in "
            "place, restored into)."
        )
    )
    created_at: datetime
    updated_at: datetime


class RestoreAccepted(RestoreOut):
    operation_id: str


class VerificationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint_id: str


class VerificationOut(BaseModel):
    id: str
    project_id: str
    checkpoint_id: str
    status: RunStatus
    resources_status: dict[str, str]
    resources_reason: dict[str, str]
    created_at: datetime
    updated_at: datetime


class VerificationAccepted(VerificationOut):
    operation_id: str


class OperationLogOut(BaseModel):
    id: str
    project_id: str
    operation_type: str
    status: LogStatus
    plan_id: str | None
    checkpoint_id: str | None
    restore_id: str | None
    verification_id: str | None
    scheduled_operation_id: str | None
    scheduled_for: datetime | None
    error_info: str | None
    created_at: datetime
    ended_at: datetime | None
