"""Rows of the protection tables as API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cloudplane.protection.models import (
    Checkpoint,
    ProtectionLog,
    ProtectionPlan,
    ProtectionTrigger,
    Restore,
    ScheduledOperation,
    Verification,
)
from cloudplane.protection.providers.base import Provider
from cloudplane.protection.schemas import (
    CheckpointAccepted,
    CheckpointOut,
    CheckpointResourceOut,
    GraphNodeOut,
    OperationDefinition,
    OperationLogOut,
    PlanOut,
    ProviderOut,
    ResourceRefOut,
    RestoreAccepted,
    RestoreOut,
    ScheduledOperationOut,
    TriggerOut,
    TriggerPropertiesOut,
    VerificationAccepted,
    VerificationOut,
)
from cloudplane.protection.states import (
    CheckpointStatus,
    LogStatus,
    OperationType,
    PlanStatus,
    RunStatus,
)


def provider_out(provider: Provider) -> ProviderOut:
    return ProviderOut(
        id=provider.id,
        name=provider.name,
        description=provider.description,
        options_schema=provider.options_model.model_json_schema(),
        restore_schema=provider.restore_model.model_json_schema(),
        restore_targets=["new", "in_place"] if provider.restores_in_place else ["new"],
    )


def plan_out(plan: ProtectionPlan) -> PlanOut:
    return PlanOut(
        id=plan.id,
        name=plan.name,
        description=plan.description,
        project_id=plan.project_id,
        provider_id=plan.provider_id,
        status=PlanStatus(plan.status),
        resources=[ResourceRefOut(**item) for item in plan.resources],
        parameters=plan.parameters,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        deleted_at=plan.deleted_at,
    )


def trigger_out(trigger: ProtectionTrigger) -> TriggerOut:
    properties: dict[str, Any] = trigger.properties
    end = properties.get("end_time")
    return TriggerOut(
        id=trigger.id,
        name=trigger.name,
        project_id=trigger.project_id,
        type=trigger.type,
        properties=TriggerPropertiesOut(
            format=properties["format"],
            pattern=properties["pattern"],
            start_time=datetime.fromisoformat(properties["start_time"]),
            end_time=datetime.fromisoformat(end) if end else None,
            window_s=properties["window_s"],
        ),
        created_at=trigger.created_at,
        updated_at=trigger.updated_at,
        deleted_at=trigger.deleted_at,
    )


def scheduled_operation_out(operation: ScheduledOperation) -> ScheduledOperationOut:
    return ScheduledOperationOut(
        id=operation.id,
        name=operation.name,
        description=operation.description,
        project_id=operation.project_id,
        operation_type=OperationType(operation.operation_type),
        trigger_id=operation.trigger_id,
        operation_definition=OperationDefinition(
            plan_id=operation.plan_id,
            max_backups=operation.max_backups,
            retention_days=operation.retention_days,
        ),
        enabled=operation.enabled,
        next_run_at=operation.next_run_at,
        last_run_at=operation.last_run_at,
        created_at=operation.created_at,
        deleted_at=operation.deleted_at,
    )


def checkpoint_out(checkpoint: Checkpoint) -> CheckpointOut:
    return CheckpointOut(
        id=checkpoint.id,
        project_id=checkpoint.project_id,
        plan_id=checkpoint.plan_id,
        provider_id=checkpoint.provider_id,
        status=CheckpointStatus(checkpoint.status),
        resource_graph=[GraphNodeOut(**node) for node in checkpoint.resource_graph],
        resources=[
            CheckpointResourceOut(
                type=item["type"],
                id=item["id"],
                name=item["name"],
                status=item["status"],
                reason=item.get("reason"),
            )
            for item in checkpoint.resources
        ],
        created_by="scheduled" if checkpoint.created_by == "scheduled" else "manual",
        error=checkpoint.error_message,
        created_at=checkpoint.created_at,
        updated_at=checkpoint.updated_at,
    )


def checkpoint_accepted(checkpoint: Checkpoint, operation_id: str) -> CheckpointAccepted:
    return CheckpointAccepted(**checkpoint_out(checkpoint).model_dump(), operation_id=operation_id)


def restore_out(restore: Restore) -> RestoreOut:
    return RestoreOut(
        id=restore.id,
        project_id=restore.project_id,
        checkpoint_id=restore.checkpoint_id,
        target=restore.target,
        parameters=restore.parameters,
        status=RunStatus(restore.status),
        resources_status=restore.resources_status,
        resources_reason=restore.resources_reason,
        restored_resources=restore.restored,
        created_at=restore.created_at,
        updated_at=restore.updated_at,
    )


def restore_accepted(restore: Restore, operation_id: str) -> RestoreAccepted:
    return RestoreAccepted(**restore_out(restore).model_dump(), operation_id=operation_id)


def verification_out(verification: Verification) -> VerificationOut:
    return VerificationOut(
        id=verification.id,
        project_id=verification.project_id,
        checkpoint_id=verification.checkpoint_id,
        status=RunStatus(verification.status),
        resources_status=verification.resources_status,
        resources_reason=verification.resources_reason,
        created_at=verification.created_at,
        updated_at=verification.updated_at,
    )


def verification_accepted(verification: Verification, operation_id: str) -> VerificationAccepted:
    return VerificationAccepted(
        **verification_out(verification).model_dump(), operation_id=operation_id
    )


def log_out(entry: ProtectionLog) -> OperationLogOut:
    return OperationLogOut(
        id=entry.id,
        project_id=entry.project_id,
        operation_type=entry.operation_type,
        status=LogStatus(entry.status),
        plan_id=entry.plan_id,
        checkpoint_id=entry.checkpoint_id,
        restore_id=entry.restore_id,
        verification_id=entry.verification_id,
        scheduled_operation_id=entry.scheduled_operation_id,
        scheduled_for=entry.scheduled_for,
        error_info=entry.error_info,
        created_at=entry.created_at,
        ended_at=entry.ended_at,
    )
