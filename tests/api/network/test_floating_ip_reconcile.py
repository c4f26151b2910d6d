"""A reconcile round makes the backend's floating-IP mappings those of the database: a lost or
moved mapping is made again, one no association stands for is removed, and a change in
flight is left to its operation."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from tests.api.network.network_factories import (
    allocate_floating_ip,
    associated_floating_ip,
    create_network,
    create_port,
)
from tests.support.api import ApiSession, worker_held
from tests.support.databases import ALL_ENGINES
from tests.support.factories import active_server

from cloudplane.audit.models import AuditEvent
from cloudplane.drivers.network_contract import FloatingIpInfo, FloatingIpSpec
from cloudplane.network.floating_ip_reconciler import reconcile_floating_ips
from cloudplane.network.port_reconciler import reconcile_ports_job


async def _mappings(api: ApiSession) -> dict[str, FloatingIpInfo]:
    return {mapping.id: mapping for mapping in await api.runtime.driver.list_floating_ips()}


async def _repairs(api: ApiSession, action: str) -> list[str | None]:
    async with api.runtime.sessions() as session:
        found = await session.scalars(
            select(AuditEvent.resource_id).where(AuditEvent.action == action)
        )
        return list(found)


async def _associated_to_a_server(api: ApiSession) -> dict[str, Any]:
    server = await active_server(api)
    return await associated_floating_ip(api, server_id=server["id"])


def _spec(floating_ip: dict[str, Any], port: dict[str, Any]) -> FloatingIpSpec:
    return FloatingIpSpec(
        id=floating_ip["id"],
        ip=floating_ip["ip"],
        network_id=floating_ip["network_id"],
        port_id=port["id"],
        fixed_ip=port["fixed_ips"][0],
    )


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_a_mapping_the_backend_lost_is_made_again_and_audited(admin: ApiSession) -> None:
    floating_ip = await _associated_to_a_server(admin)
    await admin.runtime.driver.disassociate_floating_ip(floating_ip["id"])

    assert await reconcile_floating_ips(admin.runtime) == 1

    mapped = (await _mappings(admin))[floating_ip["id"]]
    assert (mapped.ip, mapped.port_id, mapped.fixed_ip) == (
        floating_ip["ip"],
        floating_ip["port_id"],
        floating_ip["fixed_ip"],
    )
    assert await _repairs(admin, "reconcile.associate_floating_ip") == [floating_ip["id"]]
    assert await reconcile_floating_ips(admin.runtime) == 0  # nothing left to repair


async def test_a_mapping_moved_behind_cloudplanes_back_is_put_back_by_the_periodic_job(
    admin: ApiSession,
) -> None:
    floating_ip = await _associated_to_a_server(admin)
    network = await create_network(admin)
    elsewhere = await create_port(admin, network["id"])
    await admin.settle()
    await admin.runtime.driver.associate_floating_ip(_spec(floating_ip, elsewhere))

    await reconcile_ports_job(admin.runtime)

    assert (await _mappings(admin))[floating_ip["id"]].port_id == floating_ip["port_id"]


async def test_a_mapping_no_association_stands_for_is_removed(admin: ApiSession) -> None:
    network = await create_network(admin)
    port = await create_port(admin, network["id"])
    unassociated = await allocate_floating_ip(admin)
    await admin.settle()
    await admin.runtime.driver.associate_floating_ip(_spec(unassociated, port))

    assert await reconcile_floating_ips(admin.runtime) == 1

    assert unassociated["id"] not in await _mappings(admin)
    assert await _repairs(admin, "reconcile.disassociate_floating_ip") == [unassociated["id"]]


async def test_an_association_in_flight_is_left_to_its_operation(admin: ApiSession) -> None:
    network = await create_network(admin)
    port = await create_port(admin, network["id"])
    floating_ip = await allocate_floating_ip(admin)
    async with worker_held(admin.runtime):
        response = await admin.post(
            f"/floating-ips/{floating_ip['id']}/associate", json={"port_id": port["id"]}
        )
        assert response.status_code == 202

        assert await reconcile_floating_ips(admin.runtime) == 0
        assert floating_ip["id"] not in await _mappings(admin)
    await admin.settle()

    assert (await _mappings(admin))[floating_ip["id"]].port_id == port["id"]
