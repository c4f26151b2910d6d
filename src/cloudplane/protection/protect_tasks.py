"""Worker side of checkpoints: protect a plan's resources, and delete a checkpoint's data.

Protecting saves each volume through the provider (children first, as the graph orders them),
then finishes the other resources from the metadata recorded at request time: a server is
``available`` when every volume it depends on is. The checkpoint becomes ``available`` when every
resource is, else ``error`` with each failed resource's reason. A scheduled
``retention_protect`` then prunes the plan's older checkpoints in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.models import Role
from cloudplane.identity.principal import Principal
from cloudplane.kit.clock import rfc3339, utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.operations.models import Operation
from cloudplane.operations.service import finish_operation, record_event
from cloudplane.protection import oplog, repository
from cloudplane.protection.checkpoint_service import prune
from cloudplane.protection.models import Checkpoint, ScheduledOperation
from cloudplane.protection.providers import build_providers
from cloudplane.protection.providers.base import Provider
from cloudplane.protection.states import (
    CheckpointStatus,
    LogType,
    OperationType,
    ResourceStatus,
    ResourceType,
)
from cloudplane.runtime import Runtime

_PROTECT_LOGS = (LogType.PROTECT, LogType.SCHEDULED)


def _owner(checkpoint: Checkpoint) -> Principal:
    return Principal(
        user_id=checkpoint.user_id or "",
        username="protection",
        project_id=checkpoint.project_id,
        roles=frozenset({Role.MEMBER}),
    )


class ProtectCheckpoint:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            checkpoint = await repository.get_live(session, Checkpoint, operation.resource_id)
        if checkpoint is None or checkpoint.status != CheckpointStatus.PROTECTING.value:
            await _finish(runtime, operation, "the checkpoint is no longer being protected")
            return
        provider = build_providers(runtime.settings)[checkpoint.provider_id]
        resources = await _protect_resources(runtime, provider, checkpoint)
        failed = [r for r in resources if r["status"] != ResourceStatus.AVAILABLE.value]
        error = (
            "; ".join(f"{r['type']} {r['id']}: {r['reason']}" for r in failed) if failed else None
        )
        try:
            await provider.finish_checkpoint(
                runtime, checkpoint.id, _manifest(checkpoint, resources)
            )
        except OSError as exc:
            error = f"cannot write the checkpoint's manifest: {exc}"
        async with unit_of_work(runtime.sessions, write=True) as session:
            done = await repository.compare_and_set(
                session,
                Checkpoint,
                checkpoint.id,
                expect={"status": CheckpointStatus.PROTECTING.value},
                values={
                    "status": (
                        CheckpointStatus.ERROR if error else CheckpointStatus.AVAILABLE
                    ).value,
                    "resources": resources,
                    "error_message": error[:1024] if error else None,
                    "updated_at": utcnow(),
                },
            )
            if done:
                await oplog.close_logs(
                    session,
                    operation_types=_PROTECT_LOGS,
                    subject_column="checkpoint_id",
                    subject_id=checkpoint.id,
                    error=error,
                )
                if error is None:
                    await _apply_retention(session, runtime, operation, checkpoint)
                await finish_operation(session, operation.id, error=error)
                return
        # Failed by its deadline while the data was being saved: remove what was saved.
        await provider.delete_checkpoint_data(runtime, checkpoint.id, _saved(resources))
        await _finish(runtime, operation, "the checkpoint stopped being protected meanwhile")

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set(
                session,
                Checkpoint,
                operation.resource_id,
                expect={"status": CheckpointStatus.PROTECTING.value},
                values={"status": CheckpointStatus.ERROR.value, "error_message": reason[:1024]},
            )
            await oplog.close_logs(
                session,
                operation_types=_PROTECT_LOGS,
                subject_column="checkpoint_id",
                subject_id=operation.resource_id,
                error=reason,
            )
            await finish_operation(session, operation.id, error=reason)


async def _protect_resources(
    runtime: Runtime, provider: Provider, checkpoint: Checkpoint
) -> list[dict[str, Any]]:
    options = provider.options_model.model_validate(checkpoint.parameters)
    resources = [dict(resource) for resource in checkpoint.resources]
    for resource in resources:
        if resource["type"] != ResourceType.VOLUME.value:
            continue
        try:
            resource["saved"] = await provider.protect_volume(
                runtime, checkpoint.id, str(resource["id"]), options
            )
        except Exception as exc:  # the reason goes into the resource; the others go on
            resource["status"], resource["reason"] = ResourceStatus.ERROR.value, _reason(exc)
        else:
            resource["status"], resource["reason"] = ResourceStatus.AVAILABLE.value, None
    by_key = {(r["type"], r["id"]): r for r in resources}
    for node in checkpoint.resource_graph:
        resource = by_key[(node["type"], node["id"])]
        if resource["type"] == ResourceType.VOLUME.value:
            continue
        broken = [
            f"{child['type']} {child['id']}"
            for child in node["children"]
            if by_key[(child["type"], child["id"])]["status"] != ResourceStatus.AVAILABLE.value
        ]
        if broken:
            resource["status"] = ResourceStatus.ERROR.value
            resource["reason"] = "not protected: " + ", ".join(broken) + " failed"
        else:
            resource["status"], resource["reason"] = ResourceStatus.AVAILABLE.value, None
    return resources


def _reason(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:1024]


def _saved(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [dict(r["saved"]) for r in resources if r.get("saved")]


def _manifest(checkpoint: Checkpoint, resources: list[dict[str, Any]]) -> dict[str, Any]:
    """What the backup store keeps beside the data: enough to rebuild without the database."""
    return {
        "checkpoint_id": checkpoint.id,
        "plan_id": checkpoint.plan_id,
        "project_id": checkpoint.project_id,
        "provider_id": checkpoint.provider_id,
        "created_at": rfc3339(checkpoint.created_at),
        "resource_graph": checkpoint.resource_graph,
        "resources": resources,
    }


async def _apply_retention(
    session: AsyncSession, runtime: Runtime, operation: Operation, checkpoint: Checkpoint
) -> None:
    if checkpoint.scheduled_operation_id is None:
        return
    scheduled = await session.get(ScheduledOperation, checkpoint.scheduled_operation_id)
    if scheduled is None or scheduled.operation_type != OperationType.RETENTION_PROTECT.value:
        return
    pruned = await prune(
        session,
        runtime,
        _owner(checkpoint),
        checkpoint.plan_id,
        max_backups=scheduled.max_backups,
        retention_days=scheduled.retention_days,
        now=utcnow(),
    )
    if pruned:
        record_event(session, operation.id, f"retention: deleting {', '.join(pruned)}")


class DeleteCheckpoint:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            checkpoint = await repository.get_live(session, Checkpoint, operation.resource_id)
        if checkpoint is None or checkpoint.status != CheckpointStatus.DELETING.value:
            await _finish(runtime, operation, "the checkpoint is no longer being deleted")
            return
        provider = build_providers(runtime.settings)[checkpoint.provider_id]
        await provider.delete_checkpoint_data(runtime, checkpoint.id, _saved(checkpoint.resources))
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set(
                session,
                Checkpoint,
                checkpoint.id,
                expect={"status": CheckpointStatus.DELETING.value},
                values={
                    "status": CheckpointStatus.DELETED.value,
                    "deleted_at": utcnow(),
                    "deleted_key": checkpoint.id,
                },
            )
            await oplog.close_logs(
                session,
                operation_types=(LogType.DELETE,),
                subject_column="checkpoint_id",
                subject_id=checkpoint.id,
                error=None,
            )
            await finish_operation(session, operation.id)

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set(
                session,
                Checkpoint,
                operation.resource_id,
                expect={"status": CheckpointStatus.DELETING.value},
                values={"status": CheckpointStatus.ERROR.value, "error_message": reason[:1024]},
            )
            await oplog.close_logs(
                session,
                operation_types=(LogType.DELETE,),
                subject_column="checkpoint_id",
                subject_id=operation.resource_id,
                error=reason,
            )
            await finish_operation(session, operation.id, error=reason)


async def _finish(runtime: Runtime, operation: Operation, error: str | None = None) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await finish_operation(session, operation.id, error=error)
