"""Volumes the backend no longer has show ``error`` after a reconcile round; nothing else does."""

from __future__ import annotations

import pytest
from tests.api.storage.storage_factories import (
    available_volume,
    create_volume,
    expect_volume_status,
    show_volume,
)
from tests.support.api import ApiSession, assert_error, worker_held
from tests.support.databases import ALL_ENGINES

from cloudplane.storage.reconciler import VANISHED, reconcile_volumes


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_an_available_volume_deleted_behind_cloudplanes_back_shows_error(
    admin: ApiSession,
) -> None:
    gone = await available_volume(admin)
    kept = await available_volume(admin)
    await admin.runtime.driver.delete_volume(gone["id"])

    # Every page of the walk is read, however the ids fall.
    assert await reconcile_volumes(admin.runtime, batch_size=1) == 1

    shown = await expect_volume_status(admin, gone["id"], "error")
    assert shown["error"] == VANISHED
    await expect_volume_status(admin, kept["id"], "available")
    # Once marked, a second round has nothing to do, and the volume can still be deleted.
    assert await reconcile_volumes(admin.runtime) == 0
    assert (await admin.delete(f"/volumes/{gone['id']}")).status_code == 202
    await admin.settle()
    assert_error(await admin.get(f"/volumes/{gone['id']}"), 404, "not_found")


async def test_a_volume_whose_create_has_not_run_is_left_to_its_operation(
    admin: ApiSession,
) -> None:
    async with worker_held(admin.runtime):
        # Not on the backend yet: its create operation has not run.
        creating = await create_volume(admin)
        assert await reconcile_volumes(admin.runtime) == 0
        assert (await show_volume(admin, creating["id"]))["status"] == "creating"
    await admin.settle()

    await expect_volume_status(admin, creating["id"], "available")
