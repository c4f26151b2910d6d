"""Runs one operation in a worker: claim it, call its handler, record the outcome.

A claim is a compare-and-set on the operation row: pending (or running with a lapsed lease,
meaning its worker died) becomes running under this worker's name. Only one worker can win it,
so an operation never runs twice at once, and a duplicate message finds nothing to do. While the
handler runs, the worker renews its lease every third of ``operation_lease_s``; a worker that
finds its lease taken by another stops its run. A database outage in the middle of a run is
raised to the task queue, which retries the message later: the claim stays this worker's, and a
retry by the same worker (not running it now) may take it back at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable
from datetime import timedelta

from sqlalchemy import Select, String, Update, and_, bindparam, or_, select, update

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import UtcDateTime, unit_of_work
from cloudplane.kit.errors import is_database_outage
from cloudplane.kit.logging import get_logger
from cloudplane.kit.write_queue import writes_first
from cloudplane.operations.failure_code import failing_because
from cloudplane.operations.models import Operation
from cloudplane.operations.service import PENDING, RUNNING, finish_operation, record_event
from cloudplane.runtime import Runtime

log = get_logger(__name__)


async def execute_operation(runtime: Runtime, operation_id: str) -> None:
    """Run ``operation_id`` if nobody else is running it and it has not finished.

    Its transactions get the database's write lock ahead of requests (``writes_first``): an
    operation that was accepted finishes before new work is accepted behind it.
    """
    if operation_id in runtime.running_operations:
        return  # a duplicate message while this process runs it
    runtime.running_operations.add(operation_id)
    try:
        with writes_first():
            await _execute_claimed(runtime, operation_id)
    finally:
        runtime.running_operations.discard(operation_id)


async def _execute_claimed(runtime: Runtime, operation_id: str) -> None:
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
        held = await _holding_lease(runtime, operation.id, handler.run(runtime, operation))
    except Exception as exc:
        if is_database_outage(exc):
            raise  # not the operation's fault: the task queue tries the message again
        reason = str(exc) or type(exc).__name__
        log.warning("operation_failed", operation_id=operation.id, reason=reason)
        with failing_because(exc):
            await handler.fail(runtime, operation, reason)
        runtime.metrics.operations.labels(operation.action, "failed").inc()
    else:
        if held:
            log.info("operation_finished", operation_id=operation.id)
            runtime.metrics.operations.labels(operation.action, "finished").inc()


async def _holding_lease(runtime: Runtime, operation_id: str, work: Awaitable[None]) -> bool:
    """Await ``work`` while renewing the lease; False if the lease was lost and work stopped."""
    task = asyncio.ensure_future(work)
    every_s = runtime.settings.operation_lease_s / 3
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every_s)
            if done:
                task.result()
                return True
            try:
                renewed = await _renew_lease(runtime, operation_id)
            except Exception as exc:  # the database is away; the run may still finish
                log.warning("lease_renewal_failed", operation_id=operation_id, error=str(exc))
                continue
            if not renewed:
                log.warning("lease_lost", operation_id=operation_id)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                return False
    except asyncio.CancelledError:
        task.cancel()
        raise


async def _renew_lease(runtime: Runtime, operation_id: str) -> bool:
    lease_until = utcnow() + timedelta(seconds=runtime.settings.operation_lease_s)
    async with unit_of_work(runtime.sessions, write=True) as session:
        result = await session.execute(
            update(Operation)
            .where(
                Operation.id == operation_id,
                Operation.status == RUNNING,
                Operation.claimed_by == runtime.worker_id,
            )
            .values(lease_expires_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


@functools.cache
def _claim_statement() -> Update:
    # Built once: every operation runs it. Parameters: operation_id, now, lease_until, worker_id.
    now = bindparam("now", type_=UtcDateTime())
    worker_id = bindparam("worker_id", type_=String())
    return (
        update(Operation)
        .where(
            Operation.id == bindparam("operation_id"),
            or_(
                Operation.status == PENDING,
                and_(Operation.status == RUNNING, Operation.lease_expires_at < now),
                # Its own claim, left by a run that an outage interrupted in this process.
                and_(Operation.status == RUNNING, Operation.claimed_by == worker_id),
            ),
        )
        .values(
            status=RUNNING,
            claimed_by=worker_id,
            lease_expires_at=bindparam("lease_until", type_=UtcDateTime()),
            attempts=Operation.attempts + 1,
            started_at=now,
        )
        .execution_options(synchronize_session=False)
    )


@functools.cache
def _claimed_statement() -> Select[Operation]:
    return select(Operation).where(Operation.id == bindparam("operation_id"))


async def _claim(runtime: Runtime, operation_id: str) -> Operation | None:
    now = utcnow()
    lease_until = now + timedelta(seconds=runtime.settings.operation_lease_s)
    async with unit_of_work(runtime.sessions, write=True) as session:
        result = await session.execute(
            _claim_statement(),
            {
                "operation_id": operation_id,
                "now": now,
                "lease_until": lease_until,
                "worker_id": runtime.worker_id,
            },
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            return None
        operation = await session.scalar(_claimed_statement(), {"operation_id": operation_id})
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
