"""Networks: validated addressing, admin-only external and shared, quota, scoping, deletion."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from tests.api.network.network_factories import create_network, create_port, unique
from tests.support.api import ApiSession, assert_error
from tests.support.factories import new_member, new_project_member, set_quota


async def test_a_network_gets_the_first_host_as_gateway_and_every_other_host_as_pool(
    admin: ApiSession,
) -> None:
    network = await create_network(admin, cidr="10.1.0.0/24")

    assert network["status"] == "BUILD"
    assert network["gateway_ip"] == "10.1.0.1"
    assert network["allocation_pools"] == [{"start": "10.1.0.2", "end": "10.1.0.254"}]
    assert (network["ip_version"], network["external"], network["shared"]) == (4, False, False)
    await admin.settle()
    shown = (await admin.get(f"/networks/{network['id']}")).json()
    assert shown["status"] == "ACTIVE"


async def test_a_gateway_in_the_middle_splits_the_default_pool(admin: ApiSession) -> None:
    network = await create_network(admin, cidr="10.2.0.0/29", gateway_ip="10.2.0.3")

    assert network["allocation_pools"] == [
        {"start": "10.2.0.1", "end": "10.2.0.2"},
        {"start": "10.2.0.4", "end": "10.2.0.6"},
    ]


async def test_an_explicit_null_gateway_leaves_every_host_to_the_pool(admin: ApiSession) -> None:
    network = await create_network(admin, cidr="10.3.0.0/29", gateway_ip=None)

    assert network["gateway_ip"] is None
    assert network["allocation_pools"] == [{"start": "10.3.0.1", "end": "10.3.0.6"}]


async def test_an_ipv6_network_is_a_64_whose_pool_skips_the_router_address(
    admin: ApiSession,
) -> None:
    network = await create_network(admin, cidr="2001:db8:1::/64")

    assert network["ip_version"] == 6
    assert network["gateway_ip"] == "2001:db8:1::1"
    assert network["allocation_pools"] == [
        {"start": "2001:db8:1::2", "end": "2001:db8:1:0:ffff:ffff:ffff:ffff"}
    ]
    port = await create_port(admin, network["id"])
    address = ipaddress.IPv6Address(port["fixed_ips"][0])
    assert address in ipaddress.IPv6Network("2001:db8:1::/64")
    assert address > ipaddress.IPv6Address("2001:db8:1::1")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"cidr": "10.0.0.0/33"}, "cidr"),
        ({"cidr": "not-a-cidr"}, "cidr"),
        ({"cidr": "10.0.0.1/24"}, "cidr"),
        ({"cidr": "10.0.0.0/31"}, "cidr"),
        ({"cidr": "10.0.0.0/4"}, "cidr"),
        ({"cidr": "2001:db8::/48"}, "cidr"),
        ({"gateway_ip": "10.9.9.1"}, "gateway_ip"),
        ({"gateway_ip": "10.0.0.255"}, "gateway_ip"),
        ({"gateway_ip": "banana"}, "gateway_ip"),
        ({"allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.9"}]}, "allocation_pools"),
        ({"allocation_pools": [{"start": "10.0.0.0", "end": "10.0.0.9"}]}, "allocation_pools"),
        ({"allocation_pools": [{"start": "10.0.0.9", "end": "10.0.0.2"}]}, "allocation_pools"),
        ({"allocation_pools": [{"start": "10.0.0.2", "end": "10.0.1.9"}]}, "allocation_pools"),
        (
            {
                "allocation_pools": [
                    {"start": "10.0.0.2", "end": "10.0.0.20"},
                    {"start": "10.0.0.10", "end": "10.0.0.30"},
                ]
            },
            "allocation_pools",
        ),
        ({"name": ""}, "name"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_addressing_is_422_naming_the_field(
    admin: ApiSession, extra: dict[str, Any], field: str
) -> None:
    body = {"name": unique("bad"), "cidr": "10.0.0.0/24", **extra}

    error = assert_error(await admin.post("/networks", json=body), 422, "validation_error")

    assert any(field in entry["loc"] for entry in error["details"]["errors"]), error


async def test_custom_pools_are_kept_in_address_order(admin: ApiSession) -> None:
    pools = [
        {"start": "10.4.0.100", "end": "10.4.0.110"},
        {"start": "10.4.0.10", "end": "10.4.0.20"},
    ]

    network = await create_network(admin, cidr="10.4.0.0/24", allocation_pools=pools)

    assert network["allocation_pools"] == [pools[1], pools[0]]


async def test_a_taken_name_is_409_and_a_deleted_name_is_free_again(admin: ApiSession) -> None:
    network = await create_network(admin)
    duplicate = await admin.post("/networks", json={"name": network["name"], "cidr": "10.5.0.0/24"})
    assert_error(duplicate, 409, "conflict")

    assert (await admin.delete(f"/networks/{network['id']}")).status_code == 204
    again = await admin.post("/networks", json={"name": network["name"], "cidr": "10.5.0.0/24"})
    assert again.status_code == 201, again.text


@pytest.mark.parametrize("flag", ["external", "shared"])
async def test_only_admins_make_or_change_external_and_shared_networks(
    admin: ApiSession, flag: str
) -> None:
    member = await new_project_member(admin)
    created = await member.post(
        "/networks", json={"name": "mine", "cidr": "10.6.0.0/24", flag: True}
    )
    assert_error(created, 403, "forbidden")
    network = await create_network(member)
    changed = await member.patch(f"/networks/{network['id']}", json={flag: True})
    assert_error(changed, 403, "forbidden")

    by_admin = await admin.patch(f"/networks/{network['id']}", json={flag: True})

    assert by_admin.status_code == 200, by_admin.text
    assert by_admin.json()[flag] is True


async def test_shared_and_external_networks_are_seen_by_every_project(admin: ApiSession) -> None:
    shared = await create_network(admin, shared=True)
    private = await create_network(admin)
    member = await new_project_member(admin)

    names = {n["name"] for n in (await member.get("/networks")).json()["items"]}

    assert shared["name"] in names
    assert "public" in names
    assert private["name"] not in names
    assert_error(await member.get(f"/networks/{private['id']}"), 404, "not_found")
    assert_error(await member.delete(f"/networks/{shared['id']}"), 403, "forbidden")


async def test_another_projects_network_is_404_everywhere(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    stranger = await new_project_member(admin)
    network = await create_network(owner)
    path = f"/networks/{network['id']}"

    assert_error(await stranger.get(path), 404, "not_found")
    assert_error(await stranger.patch(path, json={"name": "x"}), 404, "not_found")
    assert_error(await stranger.delete(path), 404, "not_found")
    port = await stranger.post("/ports", json={"network_id": network["id"]})
    assert_error(port, 404, "not_found")


async def test_a_reader_cannot_create_change_or_delete_networks(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    reader = await new_member(admin, member.project_id, role="reader")
    network = await create_network(member)

    assert_error(
        await reader.post("/networks", json={"name": "r", "cidr": "10.7.0.0/24"}), 403, "forbidden"
    )
    assert_error(
        await reader.patch(f"/networks/{network['id']}", json={"name": "r"}), 403, "forbidden"
    )
    assert_error(await reader.delete(f"/networks/{network['id']}"), 403, "forbidden")
    assert (await reader.get(f"/networks/{network['id']}")).status_code == 200


async def test_the_networks_quota_is_409_with_details(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    await set_quota(admin, member.project_id, networks=1)
    await create_network(member)

    refused = await member.post("/networks", json={"name": "two", "cidr": "10.8.0.0/24"})

    error = assert_error(refused, 409, "quota_exceeded")
    assert error["details"] == {"resource": "networks", "limit": 1, "in_use": 1, "requested": 1}
    quota = (await admin.get(f"/projects/{member.project_id}/quotas")).json()
    assert quota["in_use"]["networks"] == 1


async def test_a_network_with_ports_cannot_be_deleted(admin: ApiSession) -> None:
    network = await create_network(admin)
    port = await create_port(admin, network["id"])

    refused = await admin.delete(f"/networks/{network['id']}")

    error = assert_error(refused, 409, "conflict")
    assert error["details"]["ports"] == 1
    assert (await admin.delete(f"/ports/{port['id']}")).status_code == 204
    assert (await admin.delete(f"/networks/{network['id']}")).status_code == 204
    await admin.settle()
    assert_error(await admin.get(f"/networks/{network['id']}"), 404, "not_found")
    shown = await admin.get(f"/networks/{network['id']}", params={"deleted": "true"})
    assert shown.json()["status"] == "DELETED"
    backend = {n.id for n in await admin.runtime.driver.list_networks()}
    assert network["id"] not in backend


async def test_networks_list_filters_and_paginates(admin: ApiSession) -> None:
    made = [await create_network(admin, cidr=f"10.9.{n}.0/24") for n in range(3)]

    first = (await admin.get("/networks", params={"limit": 2, "name_prefix": "net-"})).json()
    second = await admin.get(
        "/networks", params={"limit": 2, "name_prefix": "net-", "marker": first["next_marker"]}
    )

    names = [n["name"] for n in first["items"] + second.json()["items"]]
    assert sorted(names) == sorted(n["name"] for n in made)
    external = (await admin.get("/networks", params={"external": "true"})).json()["items"]
    assert [n["name"] for n in external] == ["public"]
    assert_error(await admin.get("/networks", params={"marker": "nope"}), 400, "bad_request")


async def test_creating_with_an_idempotency_key_twice_makes_one_network(admin: ApiSession) -> None:
    body = {"name": unique("idem"), "cidr": "10.11.0.0/24"}
    headers = {"Idempotency-Key": unique("key")}

    first = await admin.post("/networks", json=body, headers=headers)
    second = await admin.post("/networks", json=body, headers=headers)

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["Location"] == f"/api/v1/networks/{first.json()['id']}"
