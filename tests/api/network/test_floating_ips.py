"""Floating IPs: allocation from the external pool, association, disassociation, release."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.network.network_factories import (
    allocate_floating_ip,
    create_network,
    create_port,
    seeded_network,
)
from tests.support.api import ApiSession, assert_error, until_finished
from tests.support.factories import (
    active_server,
    create_server,
    new_member,
    new_project_member,
    set_quota,
)
from tests.support.held_calls import HeldCall

from cloudplane.drivers.base import Capability
from cloudplane.drivers.simulator import SimulatorDriver


async def _associated(api: ApiSession, floating_ip_id: str, **target: str) -> dict[str, Any]:
    response = await api.post(f"/floating-ips/{floating_ip_id}/associate", json=target)
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/api/v1/operations/{response.json()['operation_id']}"
    await api.settle()
    shown: dict[str, Any] = (await api.get(f"/floating-ips/{floating_ip_id}")).json()
    return shown


async def test_a_floating_ip_comes_from_the_public_network_and_starts_down(
    admin: ApiSession,
) -> None:
    public = await seeded_network(admin, "public")

    floating_ip = await allocate_floating_ip(admin, description="for the web server")

    assert floating_ip["network_id"] == public["id"]
    assert floating_ip["ip"].startswith("203.0.113.")
    assert (floating_ip["status"], floating_ip["port_id"], floating_ip["server_id"]) == (
        "DOWN",
        None,
        None,
    )
    assert floating_ip["description"] == "for the web server"


async def test_a_floating_ip_associated_with_a_port_becomes_active_on_the_backend(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    network = await create_network(admin)
    port = await create_port(admin, network["id"], device_id=server["id"])
    floating_ip = await allocate_floating_ip(admin)

    shown = await _associated(admin, floating_ip["id"], port_id=port["id"])

    assert shown["status"] == "ACTIVE"
    assert (shown["port_id"], shown["fixed_ip"]) == (port["id"], port["fixed_ips"][0])
    assert shown["server_id"] == server["id"]
    backend = {f.id: f for f in await admin.runtime.driver.list_floating_ips()}
    assert backend[floating_ip["id"]].fixed_ip == port["fixed_ips"][0]
    by_server = await admin.get("/floating-ips", params={"server_id": server["id"]})
    assert [f["id"] for f in by_server.json()["items"]] == [floating_ip["id"]]


async def test_associating_with_a_server_uses_its_first_port(admin: ApiSession) -> None:
    member = await new_project_member(admin)  # no network yet, so the server starts portless
    server = await active_server(member)
    network = await create_network(member)
    first = await create_port(member, network["id"], device_id=server["id"])
    await create_port(member, network["id"], device_id=server["id"])
    floating_ip = await allocate_floating_ip(member)

    shown = await _associated(member, floating_ip["id"], server_id=server["id"])

    assert shown["port_id"] == first["id"]


async def test_a_server_without_ports_cannot_get_a_floating_ip(admin: ApiSession) -> None:
    member = await new_project_member(admin)  # no network, so the server has no port
    server = await active_server(member)
    floating_ip = await allocate_floating_ip(member)

    response = await member.post(
        f"/floating-ips/{floating_ip['id']}/associate", json={"server_id": server["id"]}
    )

    assert_error(response, 409, "conflict")


async def test_an_associated_floating_ip_cannot_be_associated_again(admin: ApiSession) -> None:
    network = await create_network(admin)
    first, second = [await create_port(admin, network["id"]) for _ in range(2)]
    floating_ip = await allocate_floating_ip(admin)
    await _associated(admin, floating_ip["id"], port_id=first["id"])

    again = await admin.post(
        f"/floating-ips/{floating_ip['id']}/associate", json={"port_id": second["id"]}
    )

    error = assert_error(again, 409, "conflict")
    assert error["details"]["status"] == "ACTIVE"


async def test_a_fixed_ip_gets_at_most_one_floating_ip(admin: ApiSession) -> None:
    network = await create_network(admin)
    port = await create_port(admin, network["id"])
    first, second = [await allocate_floating_ip(admin) for _ in range(2)]
    await _associated(admin, first["id"], port_id=port["id"])

    refused = await admin.post(
        f"/floating-ips/{second['id']}/associate", json={"port_id": port["id"]}
    )

    assert_error(refused, 409, "conflict")


async def test_disassociating_leaves_the_floating_ip_allocated_and_down(admin: ApiSession) -> None:
    network = await create_network(admin)
    port = await create_port(admin, network["id"])
    floating_ip = await allocate_floating_ip(admin)
    await _associated(admin, floating_ip["id"], port_id=port["id"])

    response = await admin.post(f"/floating-ips/{floating_ip['id']}/disassociate")
    await admin.settle()

    assert response.status_code == 202, response.text
    shown = (await admin.get(f"/floating-ips/{floating_ip['id']}")).json()
    assert (shown["status"], shown["port_id"], shown["fixed_ip"]) == ("DOWN", None, None)
    assert floating_ip["id"] not in {f.id for f in await admin.runtime.driver.list_floating_ips()}
    again = await admin.post(f"/floating-ips/{floating_ip['id']}/disassociate")
    assert_error(again, 409, "conflict")


async def test_releasing_an_associated_floating_ip_unmaps_it_and_frees_the_address(
    admin: ApiSession,
) -> None:
    network = await create_network(admin)
    port = await create_port(admin, network["id"])
    floating_ip = await allocate_floating_ip(admin)
    await _associated(admin, floating_ip["id"], port_id=port["id"])

    assert (await admin.delete(f"/floating-ips/{floating_ip['id']}")).status_code == 204
    await admin.settle()

    assert_error(await admin.get(f"/floating-ips/{floating_ip['id']}"), 404, "not_found")
    assert floating_ip["id"] not in {f.id for f in await admin.runtime.driver.list_floating_ips()}
    listed = (await admin.get("/floating-ips", params={"deleted": "true"})).json()["items"]
    assert floating_ip["id"] in {f["id"] for f in listed}


async def test_deleting_a_port_disassociates_its_floating_ip(admin: ApiSession) -> None:
    network = await create_network(admin)
    port = await create_port(admin, network["id"])
    floating_ip = await allocate_floating_ip(admin)
    await _associated(admin, floating_ip["id"], port_id=port["id"])

    assert (await admin.delete(f"/ports/{port['id']}")).status_code == 204
    await admin.settle()

    shown = (await admin.get(f"/floating-ips/{floating_ip['id']}")).json()
    assert (shown["status"], shown["port_id"]) == ("DOWN", None)


async def test_the_floating_ips_quota_is_409_with_details(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    await set_quota(admin, member.project_id, floating_ips=2)
    for _ in range(2):
        await allocate_floating_ip(member)

    refused = await member.post("/floating-ips", json={})

    error = assert_error(refused, 409, "quota_exceeded")
    assert error["details"] == {"resource": "floating_ips", "limit": 2, "in_use": 2, "requested": 1}


async def test_only_an_external_network_hands_out_floating_ips(admin: ApiSession) -> None:
    network = await create_network(admin)

    response = await admin.post("/floating-ips", json={"network_id": network["id"]})

    error = assert_error(response, 422, "validation_error")
    assert error["details"]["errors"][0]["loc"] == ["body", "network_id"]


async def test_another_projects_floating_ip_is_404_and_a_reader_cannot_write(
    admin: ApiSession,
) -> None:
    owner = await new_project_member(admin)
    reader = await new_member(admin, owner.project_id, role="reader")
    stranger = await new_project_member(admin)
    floating_ip = await allocate_floating_ip(owner)
    path = f"/floating-ips/{floating_ip['id']}"

    assert_error(await stranger.get(path), 404, "not_found")
    assert_error(await stranger.delete(path), 404, "not_found")
    assert_error(await stranger.post(f"{path}/disassociate"), 404, "not_found")
    assert (await reader.get(path)).status_code == 200
    assert_error(await reader.post("/floating-ips", json={}), 403, "forbidden")
    assert_error(await reader.delete(path), 403, "forbidden")
    assert_error(await reader.patch(path, json={"description": "x"}), 403, "forbidden")


async def test_a_port_of_another_project_cannot_take_my_floating_ip(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    stranger = await new_project_member(admin)
    shared = await create_network(admin, shared=True)
    their_port = await create_port(stranger, shared["id"])
    floating_ip = await allocate_floating_ip(owner)

    response = await owner.post(
        f"/floating-ips/{floating_ip['id']}/associate", json={"port_id": their_port["id"]}
    )

    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("capability", "path"),
    [(Capability.FLOATING_IPS, "/floating-ips"), (Capability.SECURITY_GROUPS, "/security-groups")],
)
async def test_a_driver_without_the_capability_answers_501(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch, capability: Capability, path: str
) -> None:
    monkeypatch.setattr(
        SimulatorDriver,
        "capabilities",
        property(lambda _self: frozenset(Capability) - {capability}),
    )

    assert_error(await admin.get(path), 501, "not_supported")
    assert_error(await admin.post(path, json={"name": "x"}), 501, "not_supported")


async def test_a_server_deleted_while_its_floating_ip_is_associated_leaves_no_port_behind(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The association builds the server's port on the backend (in case the server's own
    # build has not yet); the server's delete runs to its end just before that.
    member = await new_project_member(admin)
    driver = member.runtime.driver
    network = await create_network(member)
    server = await create_server(member, networks=[{"network_id": network["id"]}])
    await member.settle()
    (port_id,) = [address["port_id"] for address in server["addresses"]]
    floating_ip = await allocate_floating_ip(member)
    port_building = HeldCall(monkeypatch, driver, "create_port")
    associating = await member.post(
        f"/floating-ips/{floating_ip['id']}/associate", json={"server_id": server["id"]}
    )
    assert associating.status_code == 202, associating.text
    await port_building.reached()

    deleted = await member.delete(f"/servers/{server['id']}")
    assert (await until_finished(member, deleted.json()["operation_id"]))["status"] == "succeeded"
    port_building.release()
    await member.settle()

    assert port_id not in {port.id for port in await driver.list_ports()}
    assert floating_ip["id"] not in {found.id for found in await driver.list_floating_ips()}
    shown = (await member.get(f"/floating-ips/{floating_ip['id']}")).json()
    assert (shown["status"], shown["port_id"]) == ("DOWN", None)
