"""Servers with their network interfaces, floating IPs and volumes, from create to delete."""

from __future__ import annotations

from typing import Any

import pytest
from tests.support.api import ApiSession, assert_error
from tests.support.factories import catalogue_ids, create_server

from cloudplane.compute.schemas import ServerOut


async def _network(api: ApiSession, name: str) -> dict[str, Any]:
    listed = (await api.get("/networks", params={"name": name})).json()["items"]
    assert listed, f"no network {name}"
    network: dict[str, Any] = listed[0]
    return network


async def _show(api: ApiSession, server_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await api.get(f"/servers/{server_id}")).json()
    return body


async def _new_network(api: ApiSession, name: str, cidr: str) -> dict[str, Any]:
    response = await api.post("/networks", json={"name": name, "cidr": cidr})
    assert response.status_code in (201, 202), response.text
    network: dict[str, Any] = response.json()
    return network


async def test_a_server_gets_a_port_on_the_projects_only_network(admin: ApiSession) -> None:
    demo_net = await _network(admin, "demo-net")
    server = await create_server(admin)
    await admin.settle()
    addresses = (await _show(admin, server["id"]))["addresses"]
    assert len(addresses) == 1
    assert addresses[0]["network_id"] == demo_net["id"]
    assert addresses[0]["ip"].startswith("10.")
    assert addresses[0]["mac"]


async def test_an_empty_network_list_gives_a_server_no_interfaces(admin: ApiSession) -> None:
    server = await create_server(admin, networks=[])
    await admin.settle()
    assert (await _show(admin, server["id"]))["addresses"] == []


async def test_a_server_with_two_nics_on_two_networks_shows_both_addresses(
    admin: ApiSession,
) -> None:
    demo_net = await _network(admin, "demo-net")
    backend = await _new_network(admin, "backend-net", "192.168.50.0/24")
    server = await create_server(
        admin,
        networks=[
            {"network_id": demo_net["id"]},
            {"network_id": backend["id"], "fixed_ip": "192.168.50.77"},
        ],
    )
    await admin.settle()
    shown = await _show(admin, server["id"])
    assert shown["status"] == "ACTIVE"
    assert [a["network_id"] for a in shown["addresses"]] == [demo_net["id"], backend["id"]]
    assert shown["addresses"][1]["ip"] == "192.168.50.77"
    port_ids = {a["port_id"] for a in shown["addresses"]}
    for port_id in port_ids:
        assert (await admin.get(f"/ports/{port_id}")).json()["status"] == "ACTIVE"
    assert (await admin.get(f"/networks/{backend['id']}")).json()["status"] == "ACTIVE"
    await admin.delete(f"/servers/{server['id']}")
    await admin.settle()
    for port_id in port_ids:
        assert_error(await admin.get(f"/ports/{port_id}"), 404, "not_found")
    # The released address can be taken again.
    again = await create_server(
        admin, networks=[{"network_id": backend["id"], "fixed_ip": "192.168.50.77"}]
    )
    await admin.settle()
    assert (await _show(admin, again["id"]))["addresses"][0]["ip"] == "192.168.50.77"


async def test_an_unknown_network_refuses_the_create_and_stores_nothing(
    admin: ApiSession,
) -> None:
    flavor_id, image_id = await catalogue_ids(admin)
    response = await admin.post(
        "/servers",
        json={
            "name": "nowhere",
            "flavor_id": flavor_id,
            "image_id": image_id,
            "networks": [{"network_id": "00000000-0000-0000-0000-000000000000"}],
        },
    )
    assert_error(response, 404, "not_found")
    assert (await admin.get("/servers")).json()["items"] == []
    assert (await admin.get("/ports")).json()["items"] == []


async def test_a_floating_ip_follows_its_server_and_stays_allocated_after_delete(
    admin: ApiSession,
) -> None:
    server = await create_server(admin)
    await admin.settle()
    allocated = await admin.post("/floating-ips", json={})
    assert allocated.status_code == 201, allocated.text
    floating_ip = allocated.json()
    associated = await admin.post(
        f"/floating-ips/{floating_ip['id']}/associate", json={"server_id": server["id"]}
    )
    assert associated.status_code == 202, associated.text
    await admin.settle()
    shown = await _show(admin, server["id"])
    assert shown["floating_ips"] == [{"id": floating_ip["id"], "ip": floating_ip["ip"]}]
    active = (await admin.get(f"/floating-ips/{floating_ip['id']}")).json()
    assert active["status"] == "ACTIVE"
    assert active["server_id"] == server["id"]
    await admin.delete(f"/servers/{server['id']}")
    await admin.settle()
    after = (await admin.get(f"/floating-ips/{floating_ip['id']}")).json()
    assert after["port_id"] is None
    assert after["server_id"] is None


async def test_a_server_boots_from_a_new_volume_that_goes_with_it(admin: ApiSession) -> None:
    server = await create_server(admin, boot_volume={"size_gb": 2}, networks=[])
    await admin.settle()
    shown = await _show(admin, server["id"])
    assert shown["status"] == "ACTIVE", shown
    assert len(shown["volumes"]) == 1
    boot = shown["volumes"][0]
    assert boot["boot"] is True
    assert boot["device"] == "vda"
    volume = (await admin.get(f"/volumes/{boot['volume_id']}")).json()
    assert volume["status"] == "in-use"
    assert volume["bootable"] is True
    assert volume["size_gb"] == 2
    assert_error(
        await admin.delete(f"/servers/{server['id']}/volumes/{boot['volume_id']}"),
        409,
        "conflict",
    )
    await admin.delete(f"/servers/{server['id']}")
    await admin.settle()
    assert_error(await admin.get(f"/volumes/{boot['volume_id']}"), 404, "not_found")


async def test_a_server_boots_from_an_existing_volume_and_gives_it_back(
    admin: ApiSession,
) -> None:
    _, image_id = await catalogue_ids(admin)
    created = await admin.post(
        "/volumes", json={"name": "root-disk", "size_gb": 2, "image_id": image_id}
    )
    assert created.status_code == 202, created.text
    await admin.settle()
    volume_id = created.json()["id"]
    flavor_id, _ = await catalogue_ids(admin)
    response = await admin.post(
        "/servers",
        json={
            "name": "from-volume",
            "flavor_id": flavor_id,
            "boot_volume": {"volume_id": volume_id},
            "networks": [],
        },
    )
    assert response.status_code == 202, response.text
    await admin.settle()
    server_id = response.json()["id"]
    shown = await _show(admin, server_id)
    assert shown["status"] == "ACTIVE"
    assert shown["image_id"] is None
    assert shown["volumes"] == [{"volume_id": volume_id, "device": "vda", "boot": True}]
    await admin.delete(f"/servers/{server_id}")
    await admin.settle()
    volume = (await admin.get(f"/volumes/{volume_id}")).json()
    assert volume["status"] == "available"
    assert volume["attachments"] == []


async def test_a_create_without_a_boot_source_is_422(admin: ApiSession) -> None:
    flavor_id, _ = await catalogue_ids(admin)
    response = await admin.post("/servers", json={"name": "x", "flavor_id": flavor_id})
    assert_error(response, 422, "validation_error")


async def test_an_image_a_volume_was_made_from_cannot_be_deleted(admin: ApiSession) -> None:
    _, image_id = await catalogue_ids(admin)
    created = await admin.post(
        "/volumes", json={"name": "copy", "size_gb": 1, "image_id": image_id}
    )
    assert created.status_code == 202, created.text
    await admin.settle()
    error = assert_error(await admin.delete(f"/images/{image_id}"), 409, "conflict")
    assert error["details"]["in_use_by"] == {"volumes": 1}


@pytest.mark.parametrize("engine_name", ["sqlite", "postgresql", "mariadb"], indirect=True)
async def test_show_and_list_bodies_are_exactly_what_the_server_model_serialises(
    admin: ApiSession,
) -> None:
    # Show and list send bodies built as plain data; they must match ``ServerOut`` field for
    # field and byte for byte (times in ISO 8601 with Z), extras included.
    server = await create_server(admin, name="shape", boot_volume={"size_gb": 1})
    await admin.settle()
    allocated = await admin.post("/floating-ips", json={})
    floating_ip = allocated.json()
    associated = await admin.post(
        f"/floating-ips/{floating_ip['id']}/associate", json={"server_id": server["id"]}
    )
    assert associated.status_code == 202, associated.text
    await admin.settle()
    shown = await admin.get(f"/servers/{server['id']}")
    body = shown.json()
    assert len(body["addresses"]) == 1
    assert len(body["floating_ips"]) == 1
    assert len(body["volumes"]) == 1
    assert shown.headers["content-type"] == "application/json"
    assert shown.content == ServerOut.model_validate(body).model_dump_json().encode()
    listed = (await admin.get("/servers", params={"name": "shape"})).json()
    assert listed == {"items": [body], "next_marker": None}
