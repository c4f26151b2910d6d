"""Periodic jobs that fire once per due time, even with several scheduler replicas.

Each job has a row in ``periodic_jobs`` holding its next due time. A replica that finds a job
due claims the firing by moving ``next_run_at`` forward with a compare-and-set on the old value;
only one replica's update matches, and only that replica runs the job.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.operations.models import PeriodicJob
from cloudplane.runtime import Runtime

log = get_logger(__name__)

JobBody = Callable[[Runtime], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    interval_s: float
    run: JobBody


class Scheduler:
    """Ticks about every ``tick_s`` seconds and runs the jobs it wins.

    Each pause is drawn between half and one and a half ``tick_s``, so replicas started
    together do not keep hitting the database at the same instants.
    """

    def __init__(self, runtime: Runtime, jobs: list[JobSpec], *, tick_s: float = 1.0) -> None:
        self.runtime = runtime
        self.jobs = jobs
        self.tick_s = tick_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.register()
        self._task = asyncio.create_task(self._loop(), name="cloudplane-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def tick(self) -> list[str]:
        """Claim and run every due job once; returns the names of the jobs this replica ran."""
        ran: list[str] = []
        for job in self.jobs:
            if await self._claim(job):
                ran.append(job.name)
                try:
                    await job.run(self.runtime)
                except Exception:
                    log.exception("periodic_job_failed", job=job.name)
        return ran

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # the database may be away; try again on the next tick
                log.exception("scheduler_tick_failed")
            await asyncio.sleep(self.tick_s * random.uniform(0.5, 1.5))

    async def register(self) -> None:
        """Create each job's row (due now) unless a replica already did."""
        for job in self.jobs:
            try:
                async with unit_of_work(self.runtime.sessions, write=True) as session:
                    if await session.get(PeriodicJob, job.name) is None:
                        session.add(PeriodicJob(name=job.name, next_run_at=utcnow()))
            except IntegrityError:
                pass  # another replica created it first

    async def _claim(self, job: JobSpec) -> bool:
        now = utcnow()
        async with unit_of_work(self.runtime.sessions, write=True) as session:
            due: datetime | None = await session.scalar(
                select(PeriodicJob.next_run_at).where(PeriodicJob.name == job.name)
            )
            if due is None or due > now:
                return False
            result = await session.execute(
                update(PeriodicJob)
                .where(PeriodicJob.name == job.name, PeriodicJob.next_run_at == due)
                .values(
                    next_run_at=_next_due(due, now, job.interval_s),
                    last_run_at=now,
                    last_claimed_by=self.runtime.worker_id,
                )
                .execution_options(synchronize_session=False)
            )
            claimed = bool(result.rowcount)  # type: ignore[attr-defined]
        if claimed:
            log.info("periodic_job_claimed", job=job.name, due=due.isoformat())
        return claimed


def _next_due(due: datetime, now: datetime, interval_s: float) -> datetime:
    """The first due time after ``now`` on the grid of ``due``: missed firings are not replayed."""
    interval = timedelta(seconds=interval_s)
    missed = int((now - due) / interval) + 1
    return due + missed * interval
