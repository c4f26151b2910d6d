"""A restore in place whose run is cancelled in the middle of a write (its operation was given
up, so its worker lost the lease) leaves the server held, even once the write has ended, until
an administrator resets it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from tests.api.protection.protection_factories import (
    checkpoint_of,
    create_plan,
    server_with_two_volumes,
    show,
)
from tests.api.storage.storage_factories import show_volume
from tests.support.api import ApiSession
from tests.support.held_calls import HeldCall

from cloudplane.operations.models import Operation
from cloudplane.protection.restore_tasks import RunRestore
from cloudplane.settings import Settings

LEASE_S = 0.3


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The worker renews its lease every LEASE_S / 3 and so learns of the give-up at once.
    return settings.model_copy(update={"operation_lease_s": LEASE_S})


async def _until(condition_met: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(500):
        if await condition_met():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_the_server_stays_held_until_the_cancelled_runs_write_has_ended(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, volume_ids = await server_with_two_volumes(admin)
    plan = await create_plan(admin, [{"type": "volume", "id": volume_ids[0]}])
    checkpoint = await checkpoint_of(admin, plan["id"])
    assert (await admin.post(f"/servers/{server['id']}/stop")).status_code == 202
    await admin.settle()
    writing = HeldCall(monkeypatch, admin.runtime.driver, "import_volume")
    started = await admin.post(
        "/protection/restores", json={"checkpoint_id": checkpoint["id"], "target": "in_place"}
    )
    await writing.reached()
    async with admin.runtime.sessions() as session:
        operation = await session.get(Operation, started.json()["operation_id"])
    assert operation is not None

    await RunRestore().fail(admin.runtime, operation, "deadline exceeded")
    queue = admin.runtime.queue
    assert queue is not None

    async def run_was_cancelled() -> bool:
        return not queue.busy

    await _until(run_was_cancelled, "the restore's run stops once its lease is lost")
    assert (await show(admin, f"/servers/{server['id']}"))["task_state"] == "restoring_volume"
    writing.release()
    await admin.settle()

    assert (await show_volume(admin, volume_ids[0]))["status"] == "error"
    assert (await show(admin, f"/servers/{server['id']}"))["task_state"] == "restoring_volume"
    reset = await admin.post(f"/servers/{server['id']}/reset-state", json={"status": "SHUTOFF"})
    assert reset.json()["task_state"] is None
