"""A server's delete operation deletes the ports made for it itself, with no operation per port."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from tests.api.network.network_factories import create_network, create_port
from tests.support.api import ApiSession, assert_error
from tests.support.databases import ALL_ENGINES
from tests.support.factories import create_server, new_project_member
from tests.support.held_calls import build_overtaken_by_delete

from cloudplane.network.server_ports import delete_made_ports_on_backend


@dataclass(frozen=True)
class _ServerWithPorts:
    server_id: str
    network: dict[str, Any]
    given: dict[str, Any]
    made_id: str


async def _server_with_made_and_given_port(
    member: ApiSession, cidr: str, made_ip: str
) -> _ServerWithPorts:
    """An ACTIVE server with a port made for it (at ``made_ip``) and a port it was given."""
    network = await create_network(member, cidr=cidr)
    given = await create_port(member, network["id"])
    server = await create_server(
        member,
        networks=[
            {"network_id": network["id"], "fixed_ip": made_ip},
            {"port_id": given["id"]},
        ],
    )
    await member.settle()
    shown = (await member.get(f"/servers/{server['id']}")).json()
    assert shown["status"] == "ACTIVE", shown
    (made_id,) = {a["port_id"] for a in shown["addresses"]} - {given["id"]}
    return _ServerWithPorts(server["id"], network, given, made_id)


async def _operations_on(api: ApiSession, resource_id: str) -> list[dict[str, Any]]:
    response = await api.get(
        "/operations", params={"resource_id": resource_id, "all_projects": "true"}
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_a_server_delete_removes_its_made_ports_and_frees_their_addresses_itself(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)
    made = await _server_with_made_and_given_port(member, "10.61.0.0/24", "10.61.0.9")
    server_id, network, given, made_id = made.server_id, made.network, made.given, made.made_id

    deleted = await member.delete(f"/servers/{server_id}")
    assert deleted.status_code == 202, deleted.text
    await member.settle()

    assert_error(await member.get(f"/ports/{made_id}"), 404, "not_found")
    assert made_id not in {p.id for p in await member.runtime.driver.list_ports()}
    assert await _operations_on(admin, made_id) == []
    operation = (await member.get(f"/operations/{deleted.json()['operation_id']}")).json()
    assert (operation["status"], operation["error"]) == ("succeeded", None)
    kept = (await member.get(f"/ports/{given['id']}")).json()
    assert (kept["device_id"], kept["status"]) == (None, "DOWN")
    again = await create_port(member, network["id"], fixed_ip="10.61.0.9")
    assert again["fixed_ips"] == ["10.61.0.9"]


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_a_delete_that_died_after_the_backend_deletes_converges_when_run_again(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)
    made = await _server_with_made_and_given_port(member, "10.62.0.0/24", "10.62.0.9")
    server_id, network, made_id = made.server_id, made.network, made.made_id
    # What a run that died before its transaction had already done on the backend.
    await member.runtime.driver.delete_server(server_id)
    done = await delete_made_ports_on_backend(member.runtime, [made_id])
    assert (done.gone, done.failed) == (frozenset({made_id}), {})

    assert (await member.delete(f"/servers/{server_id}")).status_code == 202
    await member.settle()

    assert_error(await member.get(f"/servers/{server_id}"), 404, "not_found")
    assert_error(await member.get(f"/ports/{made_id}"), 404, "not_found")
    again = await create_port(member, network["id"], fixed_ip="10.62.0.9")
    assert again["fixed_ips"] == ["10.62.0.9"]


async def test_a_server_deleted_while_its_ports_are_built_leaves_no_port_on_the_backend(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The delete ran to its end before the create made the port on the backend, so it found
    # nothing there to remove: the create must remove it itself.
    member = await new_project_member(admin)
    driver = member.runtime.driver
    overtaken = await build_overtaken_by_delete(member, monkeypatch, "10.63.0.0/24")
    assert overtaken.made_port_id not in {port.id for port in await driver.list_ports()}

    overtaken.port_creation.release()
    await member.settle()

    assert overtaken.made_port_id not in {port.id for port in await driver.list_ports()}
    assert overtaken.server["id"] not in {found.id for found in await driver.list_servers()}
    operation_id = overtaken.server["operation_id"]
    operation = (await member.get(f"/operations/{operation_id}")).json()
    assert operation["status"] == "failed"
    assert "deleted while it was being built" in operation["error"]
