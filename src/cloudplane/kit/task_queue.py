"""The seam between the API and the workers: operation ids handed to a taskiq broker.

The embedded form uses taskiq's in-process broker, so tasks run as background coroutines of the
API process; the distributed form uses RabbitMQ through taskiq-aio-pika: a durable quorum queue,
persistent messages published with confirms, acknowledgement after execution, a bounded
prefetch, a retry queue whose message TTL gives the backoff, and a dead-letter queue (see
``dead_letters``). Either way a message carries only an operation id: the handler reloads
everything from the database, so a duplicate or late message does no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from taskiq import AsyncBroker, Context, InMemoryBroker, TaskiqDepends

from cloudplane.kit.logging import get_logger
from cloudplane.settings import Settings

log = get_logger(__name__)

RUN_OPERATION_TASK = "cloudplane.run_operation"
RETRIES_LABEL = "retries"
_RECONNECT_EVERY_S = 2.0

OperationExecutor = Callable[[str], Awaitable[None]]
#: Called with the message and the reason when a message's retries are used up.
DeadLetterSink = Callable[[Context, str], Awaitable[None]]


def dead_letter_queue_name(settings: Settings) -> str:
    return f"{settings.broker_queue}.dead"


def build_broker(settings: Settings) -> AsyncBroker:
    """The in-process broker, or RabbitMQ when ``CLOUDPLANE_BROKER_URL`` is set."""
    if not settings.broker_url:
        return InMemoryBroker(max_async_tasks=64, propagate_exceptions=False)
    from aio_pika import ExchangeType
    from taskiq_aio_pika import AioPikaBroker, Exchange, Queue, QueueType

    name = settings.broker_queue
    broker: AsyncBroker = AioPikaBroker(
        url=settings.broker_url,
        qos=settings.broker_prefetch,
        exchange=Exchange(name=name, type=ExchangeType.DIRECT),
        # A quorum queue counts deliveries: a message whose worker keeps dying under it is
        # dead-lettered after ``broker_delivery_limit`` tries instead of circling for ever.
        task_queues=[
            Queue(
                name=name,
                type=QueueType.QUORUM,
                arguments={"x-delivery-limit": settings.broker_delivery_limit},
            )
        ],
        dead_letter_queue=Queue(name=dead_letter_queue_name(settings), type=QueueType.QUORUM),
        delay_queue=Queue(name=f"{name}.retry", type=QueueType.CLASSIC),
    )
    return broker


class TaskQueue:
    """Sends operation ids to the workers and, in a worker, runs them."""

    def __init__(self, broker: AsyncBroker, execute: OperationExecutor, settings: Settings) -> None:
        self.broker = broker
        self.settings = settings
        self.dead_letter: DeadLetterSink | None = None
        self._execute = execute
        self._started = False
        self._connecting: asyncio.Task[None] | None = None

        async def run_operation(operation_id: str, context: Context = TaskiqDepends()) -> None:
            await self._run(operation_id, context)

        self._task = broker.register_task(run_operation, task_name=RUN_OPERATION_TASK)

    @property
    def in_process(self) -> bool:
        return isinstance(self.broker, InMemoryBroker)

    async def start(self, *, wait: bool = False) -> None:
        """Connect to the broker; with ``wait=False`` an unreachable broker is retried meanwhile.

        An API process must start while RabbitMQ is away: its requests are still accepted (the
        operations stay pending) and the sweeper sends them once the broker is back.
        """
        if wait or self.in_process:
            await self.broker.startup()
            self._started = True
            return
        try:
            await self.broker.startup()
            self._started = True
        except Exception as exc:
            log.warning("broker_unreachable", error=str(exc))
            self._connecting = asyncio.create_task(self._keep_connecting())

    async def _keep_connecting(self) -> None:
        while not self._started:
            await asyncio.sleep(_RECONNECT_EVERY_S)
            try:
                await self.broker.startup()
                self._started = True
                log.info("broker_connected")
            except Exception as exc:
                log.warning("broker_unreachable", error=str(exc))

    async def stop(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        await self.broker.shutdown()

    async def dispatch(self, operation_id: str) -> None:
        """Hand an operation to a worker; on failure the sweeper sends it again later.

        Never raises and never waits longer than ``broker_publish_timeout_s``: a broker outage
        must not fail (or hold) the request that recorded the operation.
        """
        try:
            await self.send(operation_id)
        except Exception as exc:  # the broker is down: the operation row stays pending
            log.warning("dispatch_failed", operation_id=operation_id, error=str(exc) or repr(exc))

    async def send(
        self, operation_id: str, *, delay_s: float | None = None, retries: int = 0
    ) -> None:
        """Publish (confirmed by the broker when it is RabbitMQ); raises when that fails."""
        if not self.in_process:
            self._require_connection()
        kicker = self._task.kicker()
        if delay_s is not None:
            kicker = kicker.with_labels(delay=delay_s, **{RETRIES_LABEL: retries})
        await asyncio.wait_for(
            kicker.kiq(operation_id), timeout=self.settings.broker_publish_timeout_s
        )

    async def check(self) -> None:
        """Raise unless messages can be published now (readiness)."""
        if not self.in_process:
            self._require_connection()

    def _require_connection(self) -> None:
        """Fail at once while the broker is away, instead of waiting for the publish timeout."""
        if not self._started:
            raise ConnectionError("not connected to the broker yet")
        connection = getattr(self.broker, "write_conn", None)
        connected = getattr(connection, "connected", None)
        if isinstance(connected, asyncio.Event) and not connected.is_set():
            raise ConnectionError("the connection to the broker is lost; reconnecting")

    async def _run(self, operation_id: str, context: Context) -> None:
        """Run one message; an error escaping the runner (an outage) is retried with backoff.

        The message itself is acknowledged by the receiver after this returns, so a worker
        that dies here leaves it unacknowledged and RabbitMQ delivers it again.
        """
        try:
            await self._execute(operation_id)
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            if self.in_process:
                log.warning("operation_run_interrupted", operation_id=operation_id, error=reason)
                return  # the sweeper sends it again once its lease lapses
            retries = int(context.message.labels.get(RETRIES_LABEL, 0))
            if retries < self.settings.broker_retry_limit:
                delay_s = self.settings.broker_retry_backoff_s * 2**retries
                log.warning(
                    "operation_retry_scheduled",
                    operation_id=operation_id,
                    retry=retries + 1,
                    delay_s=delay_s,
                    error=reason,
                )
                await self.send(operation_id, delay_s=delay_s, retries=retries + 1)
            elif self.dead_letter is not None:
                await self.dead_letter(context, f"gave up after {retries} retries: {reason}")

    @property
    def busy(self) -> bool:
        """Whether in-process tasks are running now."""
        if not isinstance(self.broker, InMemoryBroker):
            return False
        # The broker keeps its tasks here until their done-callbacks run; count unfinished ones.
        return any(not task.done() for task in self.broker._running_tasks)

    async def drain(self) -> None:
        """Wait for in-process tasks that are running now (tests and graceful shutdown)."""
        if isinstance(self.broker, InMemoryBroker):
            await self.broker.wait_all()
