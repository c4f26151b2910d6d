"""A worker process: consumes operations from RabbitMQ and runs the periodic jobs.

Messages are acknowledged only after their operation ran, so a worker killed mid-operation
leaves its messages unacknowledged and RabbitMQ hands them to another worker (or to this one
restarted). At most ``broker_prefetch`` messages are held, and run, at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from taskiq import Context
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver

from cloudplane.app import periodic_jobs
from cloudplane.bootstrap import build_runtime, close_runtime
from cloudplane.compute.drift_watch import DriftWatch
from cloudplane.kit.logging import configure_logging, get_logger
from cloudplane.operations.dead_letters import DeadLetterConsumer, publish_dead_letter
from cloudplane.operations.scheduler import Scheduler
from cloudplane.settings import Settings

log = get_logger(__name__)


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; a message is acknowledged only after its operation ran."""
    from taskiq_aio_pika import AioPikaBroker

    configure_logging(settings.log_level, json=settings.log_json)
    runtime = await build_runtime(settings)
    queue = runtime.queue
    assert queue is not None
    broker = queue.broker
    assert isinstance(broker, AioPikaBroker), "a worker needs CLOUDPLANE_BROKER_URL"
    broker.is_worker_process = True

    async def _dead_letter(context: Context, reason: str) -> None:
        await publish_dead_letter(runtime, context, reason)

    queue.dead_letter = _dead_letter
    await queue.start(wait=True)
    dead_letters = DeadLetterConsumer(runtime, broker)
    await dead_letters.start()
    scheduler = Scheduler(runtime, periodic_jobs(settings), tick_s=settings.scheduler_tick_s)
    drift_watch = DriftWatch(runtime)
    if settings.run_scheduler:
        await scheduler.start()
        await drift_watch.start()
    finished = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, finished.set)
    receiver = Receiver(
        broker,
        max_async_tasks=settings.broker_prefetch,
        run_startup=False,
        propagate_exceptions=False,
        ack_type=AcknowledgeType.WHEN_EXECUTED,
    )
    log.info("worker_started", worker_id=runtime.worker_id)
    try:
        await receiver.listen(finished)
    finally:
        await drift_watch.stop()
        await scheduler.stop()
        await dead_letters.stop()
        await close_runtime(runtime)
