"""Runs one operation in a worker: claim it, call its handler, record the outcome.

A claim is a compare-and-set on the operation row: pending (or running with a lapsed lease,
meaning its worker died) becomes running under this worker's name. Only one worker can win it,
so an operation never runs twice at once, and a duplicate message finds nothing to do.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select, update

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.kit.write_queue import writes_first
from cloudplane.operations.models import Operation
from cloudplane.operations.service import PENDING, RUNNING, finish_operation, record_event
from cloudplane.runtime import Runtime

log = get_logger(__name__)


async def execute_operation(runtime: Runtime, operation_id: str) -> None:
    """Run ``operation_id`` if nobody else is running it and it has not finished.

    Its transactions get the database's write lock ahead of requests (``writes_first``): an
    operation that was accepted finishes before new work is accepted behind it.
    """
    with writes_first():
        await _run_operation(runtime, operation_id)


async def _run_operation(runtime: Runtime, operation_id: str) -> None:
    operation = await _claim(runtime, operation_id)
    if operation is None:
        return
    handler = runtime.handlers.get(operation.resource_type, operation.action)
    if handler is None:
        await _fail_without_handler(runtime, operation)
        return
    if operation.attempts > runtime.settings.operation_max_attempts:
        await handler.fail(runtime, operation, f"gave up after {operation.attempts - 1} attempts")
        return
    if operation.deadline_at <= utcnow():
        await handler.fail(runtime, operation, "deadline exceeded before the operation ran")
        return
    log.info(
        "operation_started",
        operation_id=operation.id,
        action=operation.action,
        resource_id=operation.resource_id,
        attempt=operation.attempts,
    )
    try:
        await handler.run(runtime, operation)
    except Exception as exc:
        reason = str(exc) or type(exc).__name__
        log.warning("operation_failed", operation_id=operation.id, reason=reason)
        await handler.fail(runtime, operation, reason)
        runtime.metrics.operations.labels(operation.action, "failed").inc()
    else:
        log.info("operation_finished", operation_id=operation.id)
        runtime.metrics.operations.labels(operation.action, "finished").inc()


async def _claim(runtime: Runtime, operation_id: str) -> Operation | None:
    now = utcnow()
    lease_until = now + timedelta(seconds=runtime.settings.operation_lease_s)
    async with unit_of_work(runtime.sessions, write=True) as session:
        result = await session.execute(
            update(Operation)
            .where(
                Operation.id == operation_id,
                or_(
                    Operation.status == PENDING,
                    and_(Operation.status == RUNNING, Operation.lease_expires_at < now),
                ),
            )
            .values(
                status=RUNNING,
                claimed_by=runtime.worker_id,
                lease_expires_at=lease_until,
                attempts=Operation.attempts + 1,
                started_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            return None
        operation = await session.scalar(select(Operation).where(Operation.id == operation_id))
        if operation is None:
            return None
        record_event(session, operation_id, f"started on {runtime.worker_id}")
    return operation


async def _fail_without_handler(runtime: Runtime, operation: Operation) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await finish_operation(
            session,
            operation.id,
            error=f"no handler for {operation.resource_type}/{operation.action}",
        )
