"""A worker process: consumes operations from RabbitMQ and runs the periodic jobs."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from taskiq.receiver import Receiver

from cloudplane.app import periodic_jobs
from cloudplane.bootstrap import build_runtime, close_runtime
from cloudplane.compute.drift_watch import DriftWatch
from cloudplane.kit.logging import configure_logging, get_logger
from cloudplane.operations.scheduler import Scheduler
from cloudplane.settings import Settings

log = get_logger(__name__)


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM; a message is acknowledged only after its operation ran."""
    configure_logging(settings.log_level, json=settings.log_json)
    runtime = await build_runtime(settings)
    assert runtime.queue is not None
    broker = runtime.queue.broker
    broker.is_worker_process = True
    await broker.startup()
    scheduler = Scheduler(runtime, periodic_jobs(settings))
    drift_watch = DriftWatch(runtime)
    if settings.run_scheduler:
        await scheduler.start()
        await drift_watch.start()
    finished = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, finished.set)
    receiver = Receiver(broker, max_async_tasks=16, run_startup=False, propagate_exceptions=False)
    log.info("worker_started", worker_id=runtime.worker_id)
    try:
        await receiver.listen(finished)
    finally:
        await drift_watch.stop()
        await scheduler.stop()
        await close_runtime(runtime)
