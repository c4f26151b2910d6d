"""Two scheduler replicas — two runtimes with their own connection pools, each in its own thread
and event loop — race over the same due firings on one database; each firing runs once."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from tests.api.protection.protection_factories import (
    checkpoints_of,
    create_scheduled_operation,
    create_trigger,
    logs_of,
    start_plan,
    top_of_next_hour,
    volume_plan,
)
from tests.support.api import ApiSession
from tests.support.databases import ALL_ENGINES

from cloudplane.bootstrap import build_runtime, close_runtime
from cloudplane.kit.clock import utcnow
from cloudplane.operations.sweeper import recover_after_restart
from cloudplane.protection.scheduling import fire_due_operations
from cloudplane.settings import Settings

OPERATIONS = 3
TICKS = 3


def replica(settings: Settings, moments: list[datetime], barrier: threading.Barrier) -> list[str]:
    """One scheduler replica: fires at each moment, in step with the other one."""

    async def main() -> list[str]:
        runtime = await build_runtime(settings)
        runtime.queue = None  # this replica only schedules; the test's worker runs the work
        won: list[str] = []
        try:
            for moment in moments:
                await asyncio.to_thread(barrier.wait)
                fired = await fire_due_operations(runtime, moment)
                won += [f"{f.scheduled_operation_id}@{f.due.isoformat()}" for f in fired]
        finally:
            await close_runtime(runtime)
        return won

    return asyncio.run(main())


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_two_scheduler_replicas_fire_each_firing_exactly_once(
    admin: ApiSession, settings: Settings
) -> None:
    start = top_of_next_hour(utcnow())
    plans, operations = [], []
    for _ in range(OPERATIONS):
        plan = await volume_plan(admin)
        trigger = await create_trigger(admin, "*/10 * * * *", start=start, window_s=120)
        operations.append(await create_scheduled_operation(admin, plan["id"], trigger["id"]))
        await start_plan(admin, plan["id"])
        plans.append(plan)
    moments = [start + timedelta(minutes=10 * tick, seconds=5) for tick in range(TICKS)]
    barrier = threading.Barrier(2)

    first, second = await asyncio.gather(
        asyncio.to_thread(replica, settings, moments, barrier),
        asyncio.to_thread(replica, settings, moments, barrier),
    )

    claims = Counter(first + second)
    assert len(claims) == OPERATIONS * TICKS
    assert set(claims.values()) == {1}
    await recover_after_restart(admin.runtime)  # run the protect operations the replicas sent
    await admin.settle()
    for plan, operation in zip(plans, operations, strict=True):
        checkpoints = await checkpoints_of(admin, plan["id"])
        assert [c["status"] for c in checkpoints] == ["available"] * TICKS
        logs = await logs_of(admin, operation["id"])
        assert sorted(entry["scheduled_for"][:19] for entry in logs) == [
            moment.replace(second=0).strftime("%Y-%m-%dT%H:%M:%S") for moment in moments
        ]
        assert {entry["status"] for entry in logs} == {"success"}
