"""A reconcile round whose volume listing fails marks nothing, not even a volume that is gone."""

from __future__ import annotations

import pytest
from tests.api.storage.storage_factories import available_volume, expect_volume_status
from tests.support.api import ApiSession

from cloudplane.settings import Settings
from cloudplane.storage.reconciler import reconcile_volumes


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"simulator_fail": ["list_volumes"]})


async def test_a_round_whose_listing_fails_repairs_nothing(admin: ApiSession) -> None:
    volume = await available_volume(admin)
    await admin.runtime.driver.delete_volume(volume["id"])

    assert await reconcile_volumes(admin.runtime) == 0

    await expect_volume_status(admin, volume["id"], "available")
