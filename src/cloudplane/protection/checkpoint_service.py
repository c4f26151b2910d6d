"""Checkpoint rules: protect a plan now (manually or for a scheduled firing), delete, prune.

A protect stores the checkpoint ``protecting`` with its resource graph and each resource's
metadata, taken in the request's transaction (so it is the plan as it was then), counts it
against the ``checkpoints`` quota under the project's quota lock, and hands the data work to a
worker. A delete moves an ``available`` or ``error`` checkpoint to ``deleting`` by
compare-and-set; the worker removes the stored data and then the row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.principal import Principal
from cloudplane.identity.quotas import check_quota, lock_quota
from cloudplane.kit.db import LIVE, new_id
from cloudplane.kit.errors import Conflict, NotFound
from cloudplane.operations.models import Operation
from cloudplane.operations.service import start_operation
from cloudplane.protection import oplog, repository
from cloudplane.protection.graph import GraphLoop, MissingResource, as_graph_json, build_graph
from cloudplane.protection.models import Checkpoint, Restore, Verification
from cloudplane.protection.plan_service import get_plan, require_capability, visible
from cloudplane.protection.protectables import ResourceRef
from cloudplane.protection.states import (
    CHECKPOINT,
    DELETABLE_CHECKPOINTS,
    Action,
    CheckpointStatus,
    LogType,
    ResourceStatus,
    RunStatus,
)
from cloudplane.protection.validation import provider_by_id
from cloudplane.runtime import Runtime


async def get_checkpoint(
    session: AsyncSession,
    principal: Principal,
    checkpoint_id: str,
    *,
    include_deleted: bool = False,
) -> Checkpoint:
    """A checkpoint the principal may see; another project's is 404."""
    stmt = select(Checkpoint).where(Checkpoint.id == checkpoint_id)
    if not (include_deleted and principal.is_admin):
        stmt = stmt.where(Checkpoint.deleted_key == LIVE)
    checkpoint = await session.scalar(stmt)
    if checkpoint is None or not visible(principal, checkpoint.project_id):
        raise NotFound("checkpoint", checkpoint_id)
    return checkpoint


async def start_protect(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    plan_id: str,
    *,
    scheduled_operation_id: str | None = None,
    scheduled_for: datetime | None = None,
) -> tuple[Checkpoint, Operation]:
    """Store a ``protecting`` checkpoint of the plan and its ``protect`` operation.

    404 for an unknown plan; 409 when one of its resources is gone; 409 ``quota_exceeded``
    beyond the ``checkpoints`` quota; 501 when the driver cannot serve the provider.
    """
    plan = await get_plan(session, principal, plan_id)
    provider = provider_by_id(runtime.settings, plan.provider_id)
    require_capability(runtime, provider)
    refs = [ResourceRef(str(item["type"]), str(item["id"])) for item in plan.resources]
    try:
        nodes = await build_graph(session, plan.project_id, refs)
    except (MissingResource, GraphLoop) as exc:
        raise Conflict(f"plan {plan.id} cannot be protected: {exc}", status=plan.status) from exc
    quota = await lock_quota(session, plan.project_id)
    usage = await repository.protection_usage(session, plan.project_id)
    check_quota(quota, usage, {"checkpoints": 1})
    checkpoint = Checkpoint(
        id=new_id(),
        project_id=plan.project_id,
        user_id=principal.user_id,
        plan_id=plan.id,
        provider_id=plan.provider_id,
        status=CheckpointStatus.PROTECTING.value,
        created_by="scheduled" if scheduled_operation_id else "manual",
        scheduled_operation_id=scheduled_operation_id,
        resource_graph=as_graph_json(nodes),
        resources=[
            {
                "type": node.ref.type,
                "id": node.ref.id,
                "name": node.name,
                "status": ResourceStatus.PROTECTING.value,
                "reason": None,
                "metadata": node.metadata,
                "saved": None,
            }
            for node in nodes
        ],
        parameters=dict(plan.parameters),
    )
    session.add(checkpoint)
    await session.flush()
    oplog.open_log(
        session,
        project_id=plan.project_id,
        operation_type=LogType.SCHEDULED if scheduled_operation_id else LogType.PROTECT,
        plan_id=plan.id,
        checkpoint_id=checkpoint.id,
        scheduled_operation_id=scheduled_operation_id,
        scheduled_for=scheduled_for,
    )
    operation = await start_operation(
        session,
        runtime,
        principal,
        action=Action.PROTECT.value,
        resource_type=CHECKPOINT,
        resource_id=checkpoint.id,
        deadline_s=runtime.settings.protection_deadline_s,
    )
    return checkpoint, operation


async def request_delete(
    session: AsyncSession, runtime: Runtime, principal: Principal, checkpoint_id: str
) -> tuple[Checkpoint, Operation]:
    """Move an ``available``/``error`` checkpoint to ``deleting`` and start its removal.

    409 in any other state, and while a restore or verification of it is in progress.
    """
    checkpoint = await get_checkpoint(session, principal, checkpoint_id)
    return checkpoint, await _start_delete(session, runtime, principal, checkpoint)


async def _start_delete(
    session: AsyncSession, runtime: Runtime, principal: Principal, checkpoint: Checkpoint
) -> Operation:
    # Lock first, then look for readers: a restore or verification being requested holds a
    # share lock on the checkpoint until it commits, so this waits for it and then sees it.
    await session.refresh(checkpoint, with_for_update=True)
    for model in (Restore, Verification):
        busy = await session.scalar(
            select(model.id).where(
                model.checkpoint_id == checkpoint.id,
                model.status == RunStatus.IN_PROGRESS.value,
            )
        )
        if busy is not None:
            raise Conflict(
                f"checkpoint {checkpoint.id} is being read by {model.__tablename__} {busy}",
                status=checkpoint.status,
            )
    changed = await repository.compare_and_set(
        session,
        Checkpoint,
        checkpoint.id,
        expect={"status": DELETABLE_CHECKPOINTS, "deleted_key": LIVE},
        values={"status": CheckpointStatus.DELETING.value},
    )
    await session.refresh(checkpoint)
    if not changed:
        raise Conflict(
            f"cannot delete checkpoint {checkpoint.id} while it is {checkpoint.status}",
            status=checkpoint.status,
        )
    oplog.open_log(
        session,
        project_id=checkpoint.project_id,
        operation_type=LogType.DELETE,
        plan_id=checkpoint.plan_id,
        checkpoint_id=checkpoint.id,
    )
    return await start_operation(
        session,
        runtime,
        principal,
        action=Action.DELETE.value,
        resource_type=CHECKPOINT,
        resource_id=checkpoint.id,
        deadline_s=runtime.settings.protection_deadline_s,
    )


async def prune(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    plan_id: str,
    *,
    max_backups: int | None,
    retention_days: int | None,
    now: datetime,
) -> list[str]:
    """Delete the plan's ``available`` checkpoints beyond the newest ``max_backups`` and those
    older than ``retention_days``; returns the ids sent for deletion."""
    rows = await session.scalars(
        select(Checkpoint)
        .where(
            Checkpoint.plan_id == plan_id,
            Checkpoint.deleted_key == LIVE,
            Checkpoint.status == CheckpointStatus.AVAILABLE.value,
        )
        .order_by(Checkpoint.created_at.desc(), Checkpoint.id.desc())
    )
    kept = rows.all()
    doomed = list(kept[max_backups:]) if max_backups is not None else []
    if retention_days is not None:
        oldest_allowed = now - timedelta(days=retention_days)
        doomed += [row for row in kept if row.created_at < oldest_allowed and row not in doomed]
    pruned: list[str] = []
    for checkpoint in doomed:
        try:
            await _start_delete(session, runtime, principal, checkpoint)
        except Conflict:
            continue  # being restored or verified now: the next run prunes it
        pruned.append(checkpoint.id)
    return pruned
