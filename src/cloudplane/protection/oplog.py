"""The protection operation log: one row per protect, restore, verify, delete or firing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import new_id
from cloudplane.protection import repository
from cloudplane.protection.models import ProtectionLog
from cloudplane.protection.states import LogStatus, LogType


def open_log(
    session: AsyncSession,
    *,
    project_id: str,
    operation_type: LogType,
    status: LogStatus = LogStatus.RUNNING,
    plan_id: str | None = None,
    checkpoint_id: str | None = None,
    restore_id: str | None = None,
    verification_id: str | None = None,
    scheduled_operation_id: str | None = None,
    scheduled_for: datetime | None = None,
    error_info: str | None = None,
) -> ProtectionLog:
    """Add a log row; one that is not ``running`` is closed at once."""
    now = utcnow()
    entry = ProtectionLog(
        id=new_id(),
        project_id=project_id,
        operation_type=operation_type.value,
        status=status.value,
        plan_id=plan_id,
        checkpoint_id=checkpoint_id,
        restore_id=restore_id,
        verification_id=verification_id,
        scheduled_operation_id=scheduled_operation_id,
        scheduled_for=scheduled_for,
        error_info=error_info,
        created_at=now,
        ended_at=None if status is LogStatus.RUNNING else now,
    )
    session.add(entry)
    return entry


async def close_logs(
    session: AsyncSession,
    *,
    operation_types: tuple[LogType, ...],
    subject_column: str,
    subject_id: str,
    error: str | None,
) -> None:
    """Close the running log rows of one subject (``checkpoint_id``, ``restore_id`` …)."""
    status = LogStatus.FAIL if error else LogStatus.SUCCESS
    rows = await session.scalars(
        select(ProtectionLog.id).where(
            getattr(ProtectionLog, subject_column) == subject_id,
            ProtectionLog.operation_type.in_([kind.value for kind in operation_types]),
            ProtectionLog.status == LogStatus.RUNNING.value,
        )
    )
    for log_id in rows.all():
        await repository.compare_and_set(
            session,
            ProtectionLog,
            log_id,
            expect={"status": LogStatus.RUNNING.value},
            values={"status": status.value, "error_info": error, "ended_at": utcnow()},
        )
