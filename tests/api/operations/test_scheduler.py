"""Periodic jobs fire once per due time even with several scheduler replicas racing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.operations.models import PeriodicJob
from cloudplane.operations.scheduler import JobSpec, Scheduler
from cloudplane.runtime import Runtime

ALL_ENGINES = pytest.mark.parametrize(
    "engine_name", ["sqlite", "postgresql", "mariadb"], indirect=True
)


async def _make_due(runtime: Runtime, name: str) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await session.execute(
            update(PeriodicJob)
            .where(PeriodicJob.name == name)
            .values(next_run_at=utcnow() - timedelta(seconds=1))
        )


@ALL_ENGINES
async def test_eight_replicas_ticking_together_fire_each_due_job_once(runtime: Runtime) -> None:
    fired: list[str] = []

    async def job(_runtime: Runtime) -> None:
        fired.append("tick")

    spec = JobSpec("test.job", interval_s=3600, run=job)
    replicas = [Scheduler(runtime, [spec]) for _ in range(8)]
    await asyncio.gather(*(replica.register() for replica in replicas))
    for round_number in range(5):
        await _make_due(runtime, "test.job")
        results = await asyncio.gather(*(replica.tick() for replica in replicas))
        assert sum(len(ran) for ran in results) == 1, (round_number, results)
    assert len(fired) == 5


async def test_a_job_that_is_not_due_does_not_fire(runtime: Runtime) -> None:
    fired: list[str] = []

    async def job(_runtime: Runtime) -> None:
        fired.append("tick")

    scheduler = Scheduler(runtime, [JobSpec("test.later", interval_s=3600, run=job)])
    await scheduler.register()
    assert await scheduler.tick() == ["test.later"]
    assert await scheduler.tick() == []
    assert fired == ["tick"]
