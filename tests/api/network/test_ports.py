"""Ports: automatic and requested addresses, MACs, security groups, scoping and deletion."""

from __future__ import annotations

import re

from tests.api.network.network_factories import create_network, create_port
from tests.support.api import ApiSession, assert_error
from tests.support.factories import active_server, new_member, new_project_member

MAC = re.compile(r"^fa:16:3e(:[0-9a-f]{2}){3}$")


async def test_a_port_gets_a_pool_address_a_local_mac_and_the_default_group(
    admin: ApiSession,
) -> None:
    network = await create_network(admin, cidr="10.20.0.0/24")

    port = await create_port(admin, network["id"], name="eth0")

    assert port["status"] == "BUILD"
    assert MAC.match(port["mac"]), port["mac"]
    (ip,) = port["fixed_ips"]
    assert ip.startswith("10.20.0.")
    assert ip not in ("10.20.0.0", "10.20.0.1", "10.20.0.255")
    groups = (await admin.get("/security-groups", params={"name": "default"})).json()["items"]
    assert port["security_groups"] == [groups[0]["id"]]
    await admin.settle()
    shown = (await admin.get(f"/ports/{port['id']}")).json()
    assert shown["status"] == "DOWN"
    backend = {p.id: p for p in await admin.runtime.driver.list_ports()}
    assert backend[port["id"]].fixed_ips == (ip,)
    assert len(backend[port["id"]].security_rules) == 4


async def test_a_requested_fixed_ip_is_given_and_a_taken_one_is_409(admin: ApiSession) -> None:
    network = await create_network(admin, cidr="10.21.0.0/24")

    port = await create_port(admin, network["id"], fixed_ip="10.21.0.50")
    taken = await admin.post("/ports", json={"network_id": network["id"], "fixed_ip": "10.21.0.50"})

    assert port["fixed_ips"] == ["10.21.0.50"]
    error = assert_error(taken, 409, "conflict")
    assert error["details"]["reason"] == "ip_address_in_use"


async def test_a_fixed_ip_outside_the_network_or_on_the_gateway_is_422(admin: ApiSession) -> None:
    network = await create_network(admin, cidr="10.22.0.0/24")

    for address in ("10.99.0.5", "10.22.0.1", "10.22.0.255", "nonsense"):
        response = await admin.post(
            "/ports", json={"network_id": network["id"], "fixed_ip": address}
        )
        error = assert_error(response, 422, "validation_error")
        assert error["details"]["errors"][0]["loc"] == ["body", "fixed_ip"], address


async def test_deleting_a_port_frees_its_address_once_the_backend_let_go(
    admin: ApiSession,
) -> None:
    network = await create_network(admin, cidr="10.23.0.0/24")
    port = await create_port(admin, network["id"], fixed_ip="10.23.0.7")
    await admin.settle()

    assert (await admin.delete(f"/ports/{port['id']}")).status_code == 204
    await admin.settle()

    assert_error(await admin.get(f"/ports/{port['id']}"), 404, "not_found")
    again = await create_port(admin, network["id"], fixed_ip="10.23.0.7")
    assert again["fixed_ips"] == ["10.23.0.7"]
    assert port["id"] not in {p.id for p in await admin.runtime.driver.list_ports()}


async def test_the_last_free_address_goes_and_then_the_network_is_exhausted(
    admin: ApiSession,
) -> None:
    network = await create_network(admin, cidr="10.24.0.0/29")  # 5 pool addresses
    ips = {(await create_port(admin, network["id"]))["fixed_ips"][0] for _ in range(5)}

    refused = await admin.post("/ports", json={"network_id": network["id"]})

    assert ips == {f"10.24.0.{n}" for n in range(2, 7)}
    error = assert_error(refused, 409, "conflict")
    assert error["details"]["reason"] == "ip_addresses_exhausted"


async def test_ports_on_another_projects_network_are_404_and_on_external_ones_403(
    admin: ApiSession,
) -> None:
    owner = await new_project_member(admin)
    stranger = await new_project_member(admin)
    private = await create_network(owner)
    public = (await admin.get("/networks", params={"name": "public"})).json()["items"][0]

    assert_error(
        await stranger.post("/ports", json={"network_id": private["id"]}), 404, "not_found"
    )
    assert_error(await stranger.post("/ports", json={"network_id": public["id"]}), 403, "forbidden")


async def test_a_shared_network_takes_ports_of_other_projects(admin: ApiSession) -> None:
    shared = await create_network(admin, cidr="10.25.0.0/24", shared=True)
    member = await new_project_member(admin)

    port = await create_port(member, shared["id"])

    assert port["project_id"] == member.project_id
    unshare = await admin.patch(f"/networks/{shared['id']}", json={"shared": False})
    assert_error(unshare, 409, "conflict")


async def test_another_projects_port_is_404_and_a_reader_cannot_write(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    reader = await new_member(admin, owner.project_id, role="reader")
    stranger = await new_project_member(admin)
    network = await create_network(owner)
    port = await create_port(owner, network["id"])
    path = f"/ports/{port['id']}"

    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        assert_error(await stranger.request(method, path, json=body), 404, "not_found")
    assert (await stranger.get("/ports")).json()["items"] == []
    assert (await reader.get(path)).status_code == 200
    assert_error(await reader.patch(path, json={"name": "x"}), 403, "forbidden")
    assert_error(await reader.delete(path), 403, "forbidden")
    assert_error(await reader.post("/ports", json={"network_id": network["id"]}), 403, "forbidden")


async def test_a_port_can_be_bound_to_a_server_of_the_project(admin: ApiSession) -> None:
    member = await new_project_member(admin)  # no network yet, so the server starts portless
    server = await active_server(member)
    network = await create_network(member)

    port = await create_port(member, network["id"], device_id=server["id"])
    unknown = await member.post(
        "/ports", json={"network_id": network["id"], "device_id": network["id"]}
    )

    assert (port["device_id"], port["device_owner"]) == (server["id"], "compute:attached")
    assert_error(unknown, 404, "not_found")
    await member.settle()
    assert (await member.get(f"/ports/{port['id']}")).json()["status"] == "ACTIVE"
    listed = (await member.get("/ports", params={"device_id": server["id"]})).json()["items"]
    assert [p["id"] for p in listed] == [port["id"]]


async def test_changing_a_ports_groups_reaches_the_backend(admin: ApiSession) -> None:
    network = await create_network(admin)
    port = await create_port(admin, network["id"])
    group = (await admin.post("/security-groups", json={"name": "web"})).json()
    await admin.post(
        f"/security-groups/{group['id']}/rules",
        json={"direction": "ingress", "protocol": "tcp", "port_min": 80, "port_max": 80},
    )

    patched = await admin.patch(f"/ports/{port['id']}", json={"security_groups": [group["id"]]})
    await admin.settle()

    assert patched.json()["security_groups"] == [group["id"]]
    backend = {p.id: p for p in await admin.runtime.driver.list_ports()}[port["id"]]
    assert [(r.protocol.value, r.port_min) for r in backend.security_rules] == [("tcp", 80)]


async def test_ports_list_filters_by_network_and_fixed_ip(admin: ApiSession) -> None:
    network = await create_network(admin, cidr="10.26.0.0/24")
    other = await create_network(admin, cidr="10.27.0.0/24")
    port = await create_port(admin, network["id"], fixed_ip="10.26.0.9")
    await create_port(admin, other["id"])

    on_network = (await admin.get("/ports", params={"network_id": network["id"]})).json()
    by_ip = (await admin.get("/ports", params={"fixed_ip": "10.26.0.9"})).json()

    assert [p["id"] for p in on_network["items"]] == [port["id"]]
    assert [p["id"] for p in by_ip["items"]] == [port["id"]]
