"""Recording operations: creating them with a state change, their events, and their outcome.

A handler marks its operation succeeded or failed in the same transaction that writes the
resource's final state, so the two never disagree.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from sqlalchemy import String, Text, Update, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.principal import Principal
from cloudplane.kit import request_context
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import UtcDateTime, after_commit, new_id
from cloudplane.operations.models import Operation, OperationEvent
from cloudplane.runtime import Runtime

PENDING = "pending"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
FINISHED = (SUCCEEDED, FAILED)


async def start_operation(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal | None,
    *,
    action: str,
    resource_type: str,
    resource_id: str,
    params: dict[str, Any] | None = None,
    deadline_s: float | None = None,
) -> Operation:
    """Record a pending operation and send it to a worker once the transaction commits.

    It must finish within ``deadline_s`` (default ``operation_deadline_s``) or the sweeper
    fails it.
    """
    now = utcnow()
    operation = Operation(
        id=new_id(),
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        project_id=principal.project_id if principal else None,
        user_id=principal.user_id if principal else None,
        request_id=request_context.current_request_id() or None,
        params=params or {},
        status=PENDING,
        created_at=now,
        deadline_at=now + timedelta(seconds=deadline_s or runtime.settings.operation_deadline_s),
    )
    session.add(operation)
    session.add(OperationEvent(operation_id=operation.id, at=now, message=f"{action} requested"))
    queue = runtime.queue
    if queue is not None:
        operation_id = operation.id

        async def _dispatch() -> None:
            await queue.dispatch(operation_id)

        after_commit(session, _dispatch)
    return operation


def record_event(session: AsyncSession, operation_id: str, message: str) -> None:
    session.add(OperationEvent(operation_id=operation_id, at=utcnow(), message=message[:1024]))


@functools.cache
def _finish_statement() -> Update:
    # Built once: every operation runs it.
    return (
        update(Operation)
        .where(Operation.id == bindparam("operation_id"), Operation.status.in_((PENDING, RUNNING)))
        .values(
            status=bindparam("status", type_=String()),
            error=bindparam("error", type_=Text()),
            finished_at=bindparam("finished_at", type_=UtcDateTime()),
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )


async def finish_operation(
    session: AsyncSession, operation_id: str, *, error: str | None = None
) -> bool:
    """Mark a running or pending operation succeeded (or failed with ``error``).

    Returns False when it had already finished, so a late duplicate changes nothing.
    """
    result = await session.execute(
        _finish_statement(),
        {
            "operation_id": operation_id,
            "status": FAILED if error else SUCCEEDED,
            "error": error,
            "finished_at": utcnow(),
        },
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        return False
    record_event(session, operation_id, f"failed: {error}" if error else "succeeded")
    return True
