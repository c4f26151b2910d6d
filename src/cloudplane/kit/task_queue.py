"""The seam between the API and the workers: operation ids handed to a taskiq broker.

The embedded form uses taskiq's in-process broker, so tasks run as background coroutines of the
API process; the distributed form uses RabbitMQ through taskiq-aio-pika with durable queues and
acknowledgement after execution. Either way a message carries only an operation id: the handler
reloads everything from the database, so a duplicate or late message does no harm.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from taskiq import AsyncBroker, InMemoryBroker

from cloudplane.kit.logging import get_logger
from cloudplane.settings import Settings

log = get_logger(__name__)

RUN_OPERATION_TASK = "cloudplane.run_operation"

OperationExecutor = Callable[[str], Awaitable[None]]


def build_broker(settings: Settings) -> AsyncBroker:
    """The in-process broker, or RabbitMQ when ``CLOUDPLANE_BROKER_URL`` is set."""
    if not settings.broker_url:
        return InMemoryBroker(max_async_tasks=64, propagate_exceptions=False)
    from taskiq_aio_pika import AioPikaBroker

    broker: AsyncBroker = AioPikaBroker(
        url=settings.broker_url,
        queue_name="cloudplane.operations",
        qos=8,
    )
    return broker


class TaskQueue:
    """Sends operation ids to the workers and, in a worker, runs them."""

    def __init__(self, broker: AsyncBroker, execute: OperationExecutor) -> None:
        self.broker = broker
        self._task = broker.register_task(execute, task_name=RUN_OPERATION_TASK)

    @property
    def in_process(self) -> bool:
        return isinstance(self.broker, InMemoryBroker)

    async def start(self) -> None:
        await self.broker.startup()

    async def stop(self) -> None:
        await self.broker.shutdown()

    async def dispatch(self, operation_id: str) -> None:
        """Hand an operation to a worker; on failure the sweeper sends it again later."""
        try:
            await self._task.kiq(operation_id)
        except Exception as exc:  # the broker is down: the operation row stays pending
            log.warning("dispatch_failed", operation_id=operation_id, error=str(exc))

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
