"""Firing scheduled operations: each due firing claimed once, run within its window or logged.

``fire_due_operations(runtime, now)`` is the whole scheduler: it takes its clock as an argument,
so a periodic job passes the wall clock and tests pass a clock they move. For each enabled
operation of a started plan whose ``next_run_at`` has come, it claims the firing with
``UPDATE … SET next_run_at = <next> WHERE id = :id AND next_run_at = <due>``: of several
replicas racing, exactly one update matches, and only that replica acts on the firing, in the
same transaction as the claim. Firings later than ``window_s`` are logged ``dropped`` (never run
late, never silently skipped); the latest firing still inside its window runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.models import Role
from cloudplane.identity.principal import Principal
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE, unit_of_work
from cloudplane.kit.errors import ApiError
from cloudplane.kit.logging import get_logger
from cloudplane.protection import oplog, repository
from cloudplane.protection.checkpoint_service import start_protect
from cloudplane.protection.models import ProtectionPlan, ProtectionTrigger, ScheduledOperation
from cloudplane.protection.schedule_times import time_trigger
from cloudplane.protection.states import LogStatus, LogType, PlanStatus
from cloudplane.runtime import Runtime

log = get_logger(__name__)

MAX_LOGGED_MISSES = 100
"""Dropped firings logged one by one per claim; any beyond are summed up in one more row."""


@dataclass(frozen=True, slots=True)
class Firing:
    """What this replica did with one claimed firing."""

    scheduled_operation_id: str
    due: datetime
    ran_at: datetime | None
    dropped: int
    checkpoint_id: str | None
    error: str | None


async def fire_due_operations(runtime: Runtime, now: datetime) -> list[Firing]:
    """Claim and act on every firing due at ``now``; returns the firings this replica won."""
    async with unit_of_work(runtime.sessions) as session:
        due_rows = await session.execute(
            select(ScheduledOperation.id, ScheduledOperation.next_run_at)
            .join(ProtectionPlan, ProtectionPlan.id == ScheduledOperation.plan_id)
            .where(
                ScheduledOperation.deleted_key == LIVE,
                ScheduledOperation.enabled.is_(True),
                ScheduledOperation.next_run_at <= now,
                ProtectionPlan.status == PlanStatus.STARTED.value,
                ProtectionPlan.deleted_key == LIVE,
            )
            .order_by(ScheduledOperation.next_run_at, ScheduledOperation.id)
        )
        candidates = [(row_id, due) for row_id, due in due_rows.all() if due is not None]
    won: list[Firing] = []
    for operation_id, due in candidates:
        try:
            firing = await _claim_and_fire(runtime, operation_id, due, now)
        except Exception:  # one broken operation must not stop the others
            log.exception("scheduled_operation_failed", scheduled_operation_id=operation_id)
            continue
        if firing is not None:
            won.append(firing)
    return won


async def _claim_and_fire(
    runtime: Runtime, operation_id: str, due: datetime, now: datetime
) -> Firing | None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        row = await session.execute(
            select(ScheduledOperation, ProtectionTrigger)
            .join(ProtectionTrigger, ProtectionTrigger.id == ScheduledOperation.trigger_id)
            .where(ScheduledOperation.id == operation_id)
        )
        found = row.first()
        if found is None:
            return None
        operation, trigger_row = found
        rules = time_trigger(trigger_row)
        missed = rules.firings_between(due, now, limit=MAX_LOGGED_MISSES + 1)
        if not missed or missed[0] != due:
            missed = [due, *[moment for moment in missed if moment != due]]
        late_before = now - timedelta(seconds=rules.window_s)
        in_window = [moment for moment in missed if moment >= late_before]
        run_at = in_window[-1] if in_window else None
        dropped = [moment for moment in missed if moment != run_at]
        claimed = await repository.compare_and_set(
            session,
            ScheduledOperation,
            operation.id,
            expect={"next_run_at": due},
            values={
                "next_run_at": rules.after(now),
                "last_run_at": run_at if run_at is not None else operation.last_run_at,
            },
        )
        if not claimed:
            return None  # another replica took this firing
        _log_dropped(session, operation, dropped[:MAX_LOGGED_MISSES], window_s=rules.window_s)
        if len(missed) > MAX_LOGGED_MISSES:
            oplog.open_log(
                session,
                project_id=operation.project_id,
                operation_type=LogType.SCHEDULED,
                status=LogStatus.DROPPED,
                plan_id=operation.plan_id,
                scheduled_operation_id=operation.id,
                scheduled_for=missed[-1],
                error_info=f"more than {MAX_LOGGED_MISSES} firings missed up to {now.isoformat()}",
            )
        checkpoint_id, error = (None, None)
        if run_at is not None:
            checkpoint_id, error = await _protect(session, runtime, operation, run_at)
    return Firing(operation.id, due, run_at, len(dropped), checkpoint_id, error)


def _log_dropped(
    session: AsyncSession, operation: ScheduledOperation, moments: list[datetime], *, window_s: int
) -> None:
    for moment in moments:
        oplog.open_log(
            session,
            project_id=operation.project_id,
            operation_type=LogType.SCHEDULED,
            status=LogStatus.DROPPED,
            plan_id=operation.plan_id,
            scheduled_operation_id=operation.id,
            scheduled_for=moment,
            error_info=f"missed by more than its window of {window_s} s",
        )


async def _protect(
    session: AsyncSession, runtime: Runtime, operation: ScheduledOperation, run_at: datetime
) -> tuple[str | None, str | None]:
    """Start the firing's checkpoint; a refusal (quota, a resource gone) is logged as failed."""
    principal = Principal(
        user_id=operation.user_id,
        username="scheduler",
        project_id=operation.project_id,
        roles=frozenset({Role.MEMBER}),
    )
    try:
        async with session.begin_nested():
            checkpoint, _ = await start_protect(
                session,
                runtime,
                principal,
                operation.plan_id,
                scheduled_operation_id=operation.id,
                scheduled_for=run_at,
            )
    except ApiError as exc:
        oplog.open_log(
            session,
            project_id=operation.project_id,
            operation_type=LogType.SCHEDULED,
            status=LogStatus.FAIL,
            plan_id=operation.plan_id,
            scheduled_operation_id=operation.id,
            scheduled_for=run_at,
            error_info=exc.message,
        )
        return None, exc.message
    return checkpoint.id, None


async def fire_due_operations_job(runtime: Runtime) -> None:
    """The periodic job: fire what is due by the wall clock."""
    await fire_due_operations(runtime, utcnow())
