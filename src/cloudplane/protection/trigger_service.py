"""Trigger rules: a pattern that parses and fires no more often than the minimum interval;
a trigger used by a scheduled operation cannot be deleted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.principal import Principal
from cloudplane.kit.db import new_id
from cloudplane.kit.errors import Conflict, NotFound, ValidationFailed
from cloudplane.protection import repository, schedule_times
from cloudplane.protection.models import ProtectionTrigger, ScheduledOperation
from cloudplane.protection.plan_service import visible
from cloudplane.protection.schemas import TriggerCreate, TriggerProperties, TriggerUpdate
from cloudplane.protection.triggers import InvalidTrigger, TimeTrigger, check_trigger
from cloudplane.runtime import Runtime

RESOURCE = "trigger"


async def get_trigger(
    session: AsyncSession, principal: Principal, trigger_id: str, *, for_update: bool = False
) -> ProtectionTrigger:
    trigger = await repository.get_live(
        session, ProtectionTrigger, trigger_id, for_update=for_update
    )
    if trigger is None or not visible(principal, trigger.project_id):
        raise NotFound(RESOURCE, trigger_id)
    return trigger


def checked_properties(
    runtime: Runtime, properties: TriggerProperties, now: datetime
) -> dict[str, Any]:
    """The stored form of the properties; 422 when the pattern is bad or fires too often."""
    start = (properties.start_time or now).astimezone(UTC)
    end = properties.end_time.astimezone(UTC) if properties.end_time else None
    rules = TimeTrigger(
        properties.format, properties.pattern.strip(), start, end, properties.window_s
    )
    try:
        check_trigger(rules, min_interval_s=runtime.settings.protection_min_trigger_interval_s)
    except InvalidTrigger as exc:
        raise ValidationFailed(str(exc), field="body.properties.pattern") from exc
    if end is not None and end <= start:
        raise ValidationFailed(
            "end_time must be after start_time", field="body.properties.end_time"
        )
    return {
        "format": rules.format,
        "pattern": rules.pattern,
        "start_time": start.isoformat(),
        "end_time": end.isoformat() if end else None,
        "window_s": rules.window_s,
    }


async def create_trigger(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    body: TriggerCreate,
    now: datetime,
) -> ProtectionTrigger:
    trigger = ProtectionTrigger(
        id=new_id(),
        project_id=principal.project_id,
        user_id=principal.user_id,
        name=body.name,
        type=body.type,
        properties=checked_properties(runtime, body.properties, now),
    )
    session.add(trigger)
    await _flush_or_conflict(session, body.name)
    return trigger


async def update_trigger(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    trigger_id: str,
    body: TriggerUpdate,
    now: datetime,
) -> ProtectionTrigger:
    """Rename it or change when it fires; operations using it fire by the new rules from now."""
    trigger = await get_trigger(session, principal, trigger_id, for_update=True)
    if body.properties is not None:
        trigger.properties = checked_properties(runtime, body.properties, now)
    if body.name is not None:
        trigger.name = body.name
    await _flush_or_conflict(session, trigger.name)
    if body.properties is not None:
        await schedule_times.reschedule_trigger(session, trigger, now)
    return trigger


async def delete_trigger(session: AsyncSession, principal: Principal, trigger_id: str) -> None:
    """Soft-delete the trigger; 409 while a scheduled operation uses it."""
    trigger = await get_trigger(session, principal, trigger_id, for_update=True)
    in_use = await repository.operations_using(session, ScheduledOperation.trigger_id, trigger.id)
    if in_use:
        raise Conflict(f"trigger {trigger_id} is used by {in_use} scheduled operation(s)")
    trigger.mark_deleted(trigger.id)
    await session.flush()


async def _flush_or_conflict(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a trigger named {name!r} already exists in this project") from exc
