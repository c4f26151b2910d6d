"""Ports the backend lost (with their network, deleted behind cloudplane's back) are built again
as they were by a reconcile round; ports being built, or deleted meanwhile, are not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from tests.api.network.network_factories import create_network, create_port
from tests.support.api import ApiSession, worker_held
from tests.support.databases import ALL_ENGINES
from tests.support.factories import active_server
from tests.support.held_calls import HeldCall

from cloudplane.drivers.network_contract import PortInfo
from cloudplane.network.port_reconciler import reconcile_ports
from cloudplane.operations.models import Operation


async def _backend_ports(api: ApiSession) -> dict[str, PortInfo]:
    return {port.id: port for port in await api.runtime.driver.list_ports()}


async def _backend_network_ids(api: ApiSession) -> set[str]:
    return {network.id for network in await api.runtime.driver.list_networks()}


def _as_built(port: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    return port["network_id"], port["mac"], tuple(port["fixed_ips"])


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_the_ports_of_a_network_deleted_behind_cloudplanes_back_are_built_again(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    network = await create_network(admin, cidr="10.20.0.0/24")
    (server_address,) = server["addresses"]
    standalone = await create_port(admin, network["id"])
    on_other_network = await create_port(admin, server_address["network_id"])
    await admin.settle()
    assert (await admin.post(f"/servers/{server['id']}/stop")).status_code == 202
    await admin.settle()
    listed = (await admin.get("/ports", params={"limit": 1000})).json()["items"]
    ports = {port["id"]: port for port in listed}
    await admin.runtime.driver.delete_network(network["id"])
    await admin.runtime.driver.delete_network(server_address["network_id"])
    lost = {standalone["id"], on_other_network["id"], server_address["port_id"]}
    assert not lost & set(await _backend_ports(admin))

    # Every page of the walk is read, however the ids fall.
    assert await reconcile_ports(admin.runtime, batch_size=1) == 3

    backend = await _backend_ports(admin)
    for port_id in lost:
        built = backend[port_id]
        assert (built.network_id, built.mac, built.fixed_ips) == _as_built(ports[port_id])
    assert {network["id"], server_address["network_id"]} <= await _backend_network_ids(admin)
    audit = (await admin.get("/audit-events", params={"limit": 1000})).json()["items"]
    repairs = [event for event in audit if event["action"] == "reconcile.rebuild_port"]
    assert {event["resource_id"] for event in repairs} == lost
    assert {(event["request_id"], event["user_id"]) for event in repairs} == {("reconciler", None)}
    # Built again, they are the backend's once more: the next round has nothing to do, and
    # the server starts on its port.
    assert await reconcile_ports(admin.runtime) == 0
    assert (await admin.post(f"/servers/{server['id']}/start")).status_code == 202
    await admin.settle()
    assert (await admin.get(f"/servers/{server['id']}")).json()["status"] == "ACTIVE"


async def test_a_port_still_being_built_is_left_to_its_operation(admin: ApiSession) -> None:
    network = await create_network(admin, cidr="10.21.0.0/24")
    await admin.settle()
    async with worker_held(admin.runtime):
        building = await create_port(admin, network["id"])
        assert building["status"] == "BUILD"

        assert await reconcile_ports(admin.runtime) == 0

        assert building["id"] not in await _backend_ports(admin)
    await admin.settle()
    assert building["id"] in await _backend_ports(admin)


async def test_a_port_deleted_while_it_is_built_again_does_not_stay_on_the_backend(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    network = await create_network(admin, cidr="10.22.0.0/24")
    port = await create_port(admin, network["id"])
    await admin.settle()
    await admin.runtime.driver.delete_port(port["id"])
    building = HeldCall(monkeypatch, admin.runtime.driver, "create_port")
    round_ = asyncio.ensure_future(reconcile_ports(admin.runtime))
    await building.reached()

    assert (await admin.delete(f"/ports/{port['id']}")).status_code == 204
    await admin.settle()
    building.release()

    assert await round_ == 0
    assert port["id"] not in await _backend_ports(admin)


async def test_rules_changed_on_the_backend_by_hand_are_applied_again(admin: ApiSession) -> None:
    network = await create_network(admin, cidr="10.24.0.0/24")
    port = await create_port(admin, network["id"])
    await admin.settle()
    applied = (await _backend_ports(admin))[port["id"]].security_rules
    assert applied  # the default group's rules
    await admin.runtime.driver.apply_security_groups(port["id"], [])

    assert await reconcile_ports(admin.runtime) == 1
    await admin.settle()

    assert set((await _backend_ports(admin))[port["id"]].security_rules) == set(applied)
    async with admin.runtime.sessions() as session:
        actions = await session.scalars(
            select(Operation.action).where(Operation.resource_id == port["id"])
        )
        assert "apply_security_groups" in set(actions)
    audit = (await admin.get("/audit-events", params={"limit": 1000})).json()["items"]
    reapplied = [e["resource_id"] for e in audit if e["action"] == "reconcile.reapply_port_rules"]
    assert reapplied == [port["id"]]
    assert await reconcile_ports(admin.runtime) == 0
