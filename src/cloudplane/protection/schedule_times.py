"""When each scheduled operation fires next: kept in ``next_run_at``, set when a plan starts
(from that moment), cleared when it is suspended, and recomputed when a trigger changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.db import LIVE
from cloudplane.protection.models import ProtectionPlan, ProtectionTrigger, ScheduledOperation
from cloudplane.protection.states import PlanStatus
from cloudplane.protection.triggers import TimeTrigger


def time_trigger(row: ProtectionTrigger) -> TimeTrigger:
    """The firing rules stored in a trigger row."""
    properties = row.properties
    end = properties.get("end_time")
    return TimeTrigger(
        format=str(properties["format"]),
        pattern=str(properties["pattern"]),
        start_time=datetime.fromisoformat(str(properties["start_time"])),
        end_time=datetime.fromisoformat(str(end)) if end else None,
        window_s=int(properties["window_s"]),
    )


async def reschedule_plan(session: AsyncSession, plan_id: str, now: datetime | None) -> None:
    """Set the next firing of each of the plan's operations from ``now`` (None: clear them)."""
    rows = await session.execute(
        select(ScheduledOperation, ProtectionTrigger)
        .join(ProtectionTrigger, ProtectionTrigger.id == ScheduledOperation.trigger_id)
        .where(ScheduledOperation.plan_id == plan_id, ScheduledOperation.deleted_key == LIVE)
    )
    for operation, trigger in rows.all():
        operation.next_run_at = (
            None if now is None else time_trigger(trigger).first_at_or_after(now)
        )
    await session.flush()


async def reschedule_trigger(
    session: AsyncSession, trigger: ProtectionTrigger, now: datetime
) -> None:
    """After a trigger changed: the next firing of each operation using it (started plans)."""
    rows = await session.execute(
        select(ScheduledOperation, ProtectionPlan)
        .join(ProtectionPlan, ProtectionPlan.id == ScheduledOperation.plan_id)
        .where(
            ScheduledOperation.trigger_id == trigger.id,
            ScheduledOperation.deleted_key == LIVE,
        )
    )
    rules = time_trigger(trigger)
    for operation, plan in rows.all():
        started = plan.status == PlanStatus.STARTED.value
        operation.next_run_at = rules.first_at_or_after(now) if started else None
    await session.flush()
