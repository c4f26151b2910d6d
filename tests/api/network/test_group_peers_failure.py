"""A backend that cannot take a group's peers fails no boot; the reconciler keeps trying."""

from __future__ import annotations

import pytest
from tests.support.api import ApiSession
from tests.support.factories import active_server

from cloudplane.network.group_peers import reconcile_group_peers
from cloudplane.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"simulator_fail": ["set_group_peers"]})


async def test_a_failed_peer_refresh_leaves_the_server_active_and_the_reconciler_retrying(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)  # ACTIVE, though its group's peers were refused

    operations = (await admin.get("/operations", params={"resource_id": server["id"]})).json()
    assert [op["status"] for op in operations["items"]] == ["succeeded"]
    assert await admin.runtime.driver.list_group_peers() == []
    assert await reconcile_group_peers(admin.runtime) == 0  # still failing: nothing set
