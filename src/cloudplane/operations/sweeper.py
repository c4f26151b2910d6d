"""Keeps operations honest: re-sends lost ones, takes back dead workers' ones, ends late ones.

- pending longer than ``pending_resend_after_s`` → sent to a worker again (the message may
  have been lost, or the process died between commit and send);
- running with a lapsed lease → sent again; the worker that held it is gone;
- past ``deadline_at`` and not finished → failed through its handler, so the resource shows
  ERROR with a fault instead of staying in a transitional state forever.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, or_, select, update

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.idempotency_models import IdempotencyRecord
from cloudplane.kit.logging import get_logger
from cloudplane.operations.models import Operation
from cloudplane.operations.service import PENDING, RUNNING, finish_operation
from cloudplane.runtime import Runtime

log = get_logger(__name__)

_BATCH = 500


async def sweep_operations(runtime: Runtime) -> None:
    """One round of every check above, plus expiry of stored idempotent answers."""
    await fail_overdue_operations(runtime)
    await resend_stalled_operations(runtime)
    await purge_expired_idempotency_records(runtime)


async def fail_overdue_operations(runtime: Runtime) -> int:
    now = utcnow()
    async with unit_of_work(runtime.sessions) as session:
        overdue = (
            await session.scalars(
                select(Operation)
                .where(Operation.status.in_((PENDING, RUNNING)), Operation.deadline_at < now)
                .limit(_BATCH)
            )
        ).all()
    for operation in overdue:
        handler = runtime.handlers.get(operation.resource_type, operation.action)
        reason = "deadline exceeded: the operation did not finish in time"
        log.warning("operation_overdue", operation_id=operation.id)
        if handler is not None:
            await handler.fail(runtime, operation, reason)
        else:
            async with unit_of_work(runtime.sessions, write=True) as session:
                await finish_operation(session, operation.id, error=reason)
    return len(overdue)


async def resend_stalled_operations(runtime: Runtime) -> int:
    """Send stalled operations again, each at most once per ``pending_resend_after_s``.

    Without that spacing a backlog longer than the interval would be sent again on every
    round, and the copies would bury the queue in messages that find nothing to do.
    """
    if runtime.queue is None:
        return 0
    now = utcnow()
    resend_before = now - timedelta(seconds=runtime.settings.pending_resend_after_s)
    last_sent = func.coalesce(Operation.dispatched_at, Operation.created_at)
    async with unit_of_work(runtime.sessions, write=True) as session:
        stalled = (
            await session.scalars(
                select(Operation.id)
                .where(
                    or_(Operation.status == PENDING, Operation.lease_expires_at < now),
                    Operation.status.in_((PENDING, RUNNING)),
                    last_sent < resend_before,
                )
                .order_by(Operation.created_at)
                .limit(_BATCH)
            )
        ).all()
        if stalled:
            await session.execute(
                update(Operation)
                .where(Operation.id.in_(stalled))
                .values(dispatched_at=now)
                .execution_options(synchronize_session=False)
            )
    for operation_id in stalled:
        log.info("operation_resent", operation_id=operation_id)
        await runtime.queue.dispatch(operation_id)
    return len(stalled)


async def recover_after_restart(runtime: Runtime) -> int:
    """In the embedded form, at start-up: this is the only worker, so nothing runs right now.

    Operations left running by the previous process are released and every unfinished
    operation is sent again at once, instead of waiting for leases to lapse.
    """
    if runtime.queue is None:
        return 0
    async with unit_of_work(runtime.sessions, write=True) as session:
        await session.execute(
            update(Operation)
            .where(Operation.status == RUNNING)
            .values(status=PENDING, claimed_by=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        unfinished = (
            await session.scalars(
                select(Operation.id)
                .where(Operation.status == PENDING)
                .order_by(Operation.created_at)
            )
        ).all()
    for operation_id in unfinished:
        await runtime.queue.dispatch(operation_id)
    return len(unfinished)


async def purge_expired_idempotency_records(runtime: Runtime) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < utcnow())
        )
