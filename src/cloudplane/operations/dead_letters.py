"""The dead-letter queue: an operation whose message ends there is failed with the reason.

A message reaches it two ways: RabbitMQ moves it there after ``broker_delivery_limit``
deliveries (workers died under it each time), or a worker puts it there after its retries were
used up (the database stayed away). The worker consuming the queue fails the operation through
its handler, so the resource shows ERROR with a fault instead of waiting for its deadline. An
operation that finished meanwhile is left alone; one that a worker holds (its lease is current)
is looked at again after a pause, until it finishes or its lease lapses.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from taskiq import Context

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.kit.task_queue import dead_letter_queue_name
from cloudplane.operations.models import Operation
from cloudplane.operations.service import FINISHED, RUNNING, finish_operation
from cloudplane.runtime import Runtime

if TYPE_CHECKING:
    from taskiq_aio_pika import AioPikaBroker

log = get_logger(__name__)

REASON_HEADER = "x-cloudplane-reason"
_RETRY_AFTER_FAILURE_S = 1.0


async def publish_dead_letter(runtime: Runtime, context: Context, reason: str) -> None:
    """Put the message being run into the dead-letter queue (persistent, confirmed)."""
    broker: AioPikaBroker = context.broker  # type: ignore[assignment]
    if broker.write_channel is None:
        raise ConnectionError("not connected to the broker")
    body = broker.formatter.dumps(context.message).message
    await broker.write_channel.default_exchange.publish(
        Message(body, headers={REASON_HEADER: reason}, delivery_mode=DeliveryMode.PERSISTENT),
        routing_key=dead_letter_queue_name(runtime.settings),
    )


class DeadLetterConsumer:
    """Consumes the dead-letter queue in a worker process."""

    def __init__(self, runtime: Runtime, broker: AioPikaBroker) -> None:
        self.runtime = runtime
        self.broker = broker
        self._channel: AbstractChannel | None = None

    async def start(self) -> None:
        connection = self.broker.read_conn or self.broker.write_conn
        if connection is None:
            raise ConnectionError("the broker is not started")
        self._channel = await connection.channel()
        await self._channel.set_qos(prefetch_count=1)
        queue = await self._channel.get_queue(dead_letter_queue_name(self.runtime.settings))
        await queue.consume(self._on_message)

    async def stop(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        try:
            operation_id = str(self.broker.formatter.loads(message.body).args[0])
        except Exception:
            log.warning("dead_letter_unreadable", body=message.body[:200].decode(errors="replace"))
            await message.ack()
            return
        reason = _reason(message.headers)
        try:
            outcome = await fail_dead_lettered(self.runtime, operation_id, reason)
        except Exception as exc:  # the database is away: keep the message for later
            outcome = HELD
            log.warning("dead_letter_deferred", operation_id=operation_id, error=str(exc))
        if outcome == HELD:
            await asyncio.sleep(_RETRY_AFTER_FAILURE_S)
            await message.nack(requeue=True)
            return
        await message.ack()


FAILED_NOW = "failed"
ALREADY_FINISHED = "finished"
HELD = "held"


async def fail_dead_lettered(runtime: Runtime, operation_id: str, reason: str) -> str:
    """Fail the operation, unless it finished (or never existed) or a worker's lease holds it.

    Returns ``FAILED_NOW``, ``ALREADY_FINISHED`` or ``HELD``.
    """
    async with unit_of_work(runtime.sessions) as session:
        operation = await session.get(Operation, operation_id)
    if operation is None or operation.status in FINISHED:
        return ALREADY_FINISHED
    held = (
        operation.status == RUNNING
        and operation.lease_expires_at is not None
        and operation.lease_expires_at > utcnow()
    )
    if held:
        return HELD
    message = f"dead-lettered: {reason}"
    log.warning("operation_dead_lettered", operation_id=operation_id, reason=reason)
    handler = runtime.handlers.get(operation.resource_type, operation.action)
    if handler is not None:
        await handler.fail(runtime, operation, message)
    else:
        async with unit_of_work(runtime.sessions, write=True) as session:
            await finish_operation(session, operation_id, error=message)
    return FAILED_NOW


def _reason(headers: dict[str, Any]) -> str:
    explicit = headers.get(REASON_HEADER)
    if explicit:
        return str(explicit)
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        why = str(deaths[0].get("reason", "unknown"))
        if why == "delivery_limit":
            return "delivered too many times without finishing (workers died running it)"
        return f"rejected by the broker ({why})"
    return "rejected by the broker"
