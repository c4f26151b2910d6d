"""A reconcile round whose port listing fails builds nothing, not even a port that is gone."""

from __future__ import annotations

import pytest
from tests.api.network.network_factories import create_network, create_port
from tests.support.api import ApiSession

from cloudplane.network.port_reconciler import reconcile_ports
from cloudplane.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"simulator_fail": ["list_ports"]})


async def test_a_round_whose_listing_fails_builds_nothing(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    network = await create_network(admin, cidr="10.23.0.0/24")
    port = await create_port(admin, network["id"])
    await admin.settle()
    await admin.runtime.driver.delete_network(network["id"])
    created: list[str] = []
    real_create_port = admin.runtime.driver.create_port

    async def counted(spec):  # type: ignore[no-untyped-def]
        created.append(spec.id)
        return await real_create_port(spec)

    monkeypatch.setattr(admin.runtime.driver, "create_port", counted)

    assert await reconcile_ports(admin.runtime) == 0

    assert created == []
    assert (await admin.get(f"/ports/{port['id']}")).json()["status"] == "DOWN"
