"""Scheduled-operation rules: a plan and a trigger of the project, locked while the operation
is stored so neither can be deleted meanwhile; the first firing is set when the plan is started."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.principal import Principal
from cloudplane.kit.db import new_id
from cloudplane.kit.errors import Conflict, NotFound
from cloudplane.protection import repository
from cloudplane.protection.models import ScheduledOperation
from cloudplane.protection.plan_service import get_plan, visible
from cloudplane.protection.schedule_times import time_trigger
from cloudplane.protection.schemas import ScheduledOperationCreate
from cloudplane.protection.states import PlanStatus
from cloudplane.protection.trigger_service import get_trigger

RESOURCE = "scheduled_operation"


async def get_scheduled_operation(
    session: AsyncSession, principal: Principal, operation_id: str
) -> ScheduledOperation:
    operation = await repository.get_live(session, ScheduledOperation, operation_id)
    if operation is None or not visible(principal, operation.project_id):
        raise NotFound(RESOURCE, operation_id)
    return operation


async def create_scheduled_operation(
    session: AsyncSession, principal: Principal, body: ScheduledOperationCreate, now: datetime
) -> ScheduledOperation:
    """404 for a plan or trigger the project does not have; a taken name is 409."""
    plan = await get_plan(session, principal, body.operation_definition.plan_id, for_update=True)
    trigger = await get_trigger(session, principal, body.trigger_id, for_update=True)
    if plan.project_id != trigger.project_id:
        raise NotFound("trigger", body.trigger_id)
    started = plan.status == PlanStatus.STARTED.value
    operation = ScheduledOperation(
        id=new_id(),
        project_id=plan.project_id,
        user_id=principal.user_id,
        name=body.name,
        description=body.description,
        operation_type=body.operation_type.value,
        trigger_id=trigger.id,
        plan_id=plan.id,
        max_backups=body.operation_definition.max_backups,
        retention_days=body.operation_definition.retention_days,
        enabled=body.enabled,
        next_run_at=time_trigger(trigger).first_at_or_after(now) if started else None,
    )
    session.add(operation)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"a scheduled operation named {body.name!r} already exists in this project"
        ) from exc
    return operation


async def delete_scheduled_operation(
    session: AsyncSession, principal: Principal, operation_id: str
) -> None:
    operation = await get_scheduled_operation(session, principal, operation_id)
    operation.mark_deleted(operation.id)
    operation.next_run_at = None
    await session.flush()
