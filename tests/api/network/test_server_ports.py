"""The functions compute calls: a server's ports at create, its addresses, and their release."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.network.network_factories import (
    allocate_floating_ip,
    create_network,
    create_port,
    principal_of,
)
from tests.support.api import ApiSession
from tests.support.factories import active_server, new_project_member

from cloudplane.compute.server_extras import load_server_extras
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.errors import Conflict, NotFound, ValidationFailed
from cloudplane.network.models import Port
from cloudplane.network.schemas import NetworkRequest
from cloudplane.network.server_ports import (
    allocate_server_ports,
    interfaces_for,
    load_server_port_builds,
    mark_ports_active,
    plug_loaded_ports,
    release_server_ports,
)


async def allocate(api: ApiSession, server_id: str, *requests: dict[str, Any]) -> list[Port]:
    async with unit_of_work(api.runtime.sessions, write=True) as session:
        return await allocate_server_ports(
            session,
            api.runtime,
            principal_of(api),
            server_id,
            [NetworkRequest.model_validate(r) for r in requests],
            [],
        )


async def test_a_server_gets_a_port_per_request_in_order(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    server = await active_server(member)
    first = await create_network(member, cidr="10.40.0.0/24")
    second = await create_network(member, cidr="10.41.0.0/24")

    ports = await allocate(
        member,
        server["id"],
        {"network_id": first["id"], "fixed_ip": "10.40.0.40"},
        {"network_id": second["id"]},
    )

    assert [p.network_id for p in ports] == [first["id"], second["id"]]
    assert ports[0].fixed_ips == ["10.40.0.40"]
    assert {(p.device_id, p.device_owner) for p in ports} == {(server["id"], "compute")}
    interfaces = interfaces_for(ports)
    assert [(i.port_id, i.mac, i.fixed_ips) for i in interfaces] == [
        (p.id, p.mac, tuple(p.fixed_ips)) for p in ports
    ]
    async with unit_of_work(member.runtime.sessions) as session:
        extras = await load_server_extras(session, [server["id"], "unknown"])
    assert [(a["network_id"], a["ip"]) for a in extras[server["id"]].addresses] == [
        (first["id"], "10.40.0.40"),
        (second["id"], ports[1].fixed_ips[0]),
    ]
    assert "unknown" not in extras
    await member.settle()
    assert (await member.get(f"/ports/{ports[0].id}")).json()["status"] == "BUILD"

    # What a server's create operation does: load, build on the backend, mark ACTIVE.
    async with unit_of_work(member.runtime.sessions) as session:
        builds = await load_server_port_builds(session, member.runtime, server["id"])
    assert await plug_loaded_ports(member.runtime, builds) == interfaces
    async with unit_of_work(member.runtime.sessions, write=True) as session:
        await mark_ports_active(session, builds)

    shown = (await member.get(f"/ports/{ports[0].id}")).json()
    assert shown["status"] == "ACTIVE"
    assert len(shown["security_groups"]) == 1
    backend = {p.id: p for p in await member.runtime.driver.list_ports()}
    assert backend[ports[0].id].fixed_ips == ("10.40.0.40",)
    assert len(backend[ports[0].id].security_rules) == 4


async def test_without_requests_the_only_usable_network_is_used(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    server = await active_server(member)

    assert await allocate(member, server["id"]) == []
    network = await create_network(member)
    (port,) = await allocate(member, server["id"])
    assert port.network_id == network["id"]
    await create_network(member, cidr="10.42.0.0/24")
    with pytest.raises(Conflict) as raised:
        await allocate(member, server["id"])
    assert raised.value.details["reason"] == "network_ambiguous"


async def test_a_given_port_is_bound_as_it_is_and_a_bound_one_is_409(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    server = await active_server(member)
    network = await create_network(member)
    given = await create_port(member, network["id"])

    (port,) = await allocate(member, server["id"], {"port_id": given["id"]})

    assert (port.id, port.device_id, port.device_owner) == (
        given["id"],
        server["id"],
        "compute:attached",
    )
    with pytest.raises(Conflict):
        await allocate(member, server["id"], {"port_id": given["id"]})


async def test_bad_requests_raise_before_anything_is_stored(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    stranger = await new_project_member(admin)
    server = await active_server(member)
    network = await create_network(member, cidr="10.43.0.0/24")
    foreign = await create_network(stranger)

    with pytest.raises(ValidationFailed) as raised:
        await allocate(
            member,
            server["id"],
            {"network_id": network["id"]},
            {"network_id": network["id"], "fixed_ip": "192.0.2.1"},
        )
    assert raised.value.details["errors"][0]["loc"] == ["body", "networks", "1", "fixed_ip"]
    with pytest.raises(NotFound):
        await allocate(member, server["id"], {"network_id": foreign["id"]})
    assert (await member.get("/ports")).json()["items"] == []


async def test_releasing_deletes_made_ports_unbinds_given_ones_and_keeps_floating_ips(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)
    server = await active_server(member)
    network = await create_network(member, cidr="10.44.0.0/24")
    given = await create_port(member, network["id"])
    made, bound = await allocate(
        member, server["id"], {"network_id": network["id"]}, {"port_id": given["id"]}
    )
    on_made, on_given = [await allocate_floating_ip(member) for _ in range(2)]
    await member.settle()
    for floating_ip, port in ((on_made, made), (on_given, bound)):
        response = await member.post(
            f"/floating-ips/{floating_ip['id']}/associate", json={"port_id": port.id}
        )
        assert response.status_code == 202, response.text
    await member.settle()
    async with unit_of_work(member.runtime.sessions) as session:
        extras = await load_server_extras(session, [server["id"]])
    assert {f["id"] for f in extras[server["id"]].floating_ips} == {on_made["id"], on_given["id"]}

    async with unit_of_work(member.runtime.sessions, write=True) as session:
        await release_server_ports(session, member.runtime, server["id"])
    await member.settle()

    ports = {p["id"]: p for p in (await member.get("/ports")).json()["items"]}
    assert set(ports) == {given["id"]}
    assert (ports[given["id"]]["device_id"], ports[given["id"]]["status"]) == (None, "DOWN")
    for floating_ip in (on_made, on_given):
        shown = (await member.get(f"/floating-ips/{floating_ip['id']}")).json()
        assert (shown["status"], shown["port_id"]) == ("DOWN", None)
    assert not {f.id for f in await member.runtime.driver.list_floating_ips()} & {
        on_made["id"],
        on_given["id"],
    }
    again = await create_port(member, network["id"], fixed_ip=made.fixed_ips[0])
    assert again["fixed_ips"] == made.fixed_ips
