"""Security groups: the lazy default group, validated rules, pushing changes, deletion rules."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.network.network_factories import create_network, create_port
from tests.support.api import ApiSession, assert_error
from tests.support.factories import new_member, new_project_member


async def _group(api: ApiSession, name: str = "web") -> dict[str, Any]:
    response = await api.post("/security-groups", json={"name": name})
    assert response.status_code == 201, response.text
    group: dict[str, Any] = response.json()
    return group


async def test_a_project_sees_its_default_group_allowing_egress_and_its_own_members(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)

    (default,) = (await member.get("/security-groups")).json()["items"]

    assert default["name"] == "default"
    rules = {
        (r["direction"], r["ethertype"], r["protocol"], r["remote_group_id"])
        for r in default["rules"]
    }
    assert rules == {
        ("egress", "IPv4", "any", None),
        ("egress", "IPv6", "any", None),
        ("ingress", "IPv4", "any", default["id"]),
        ("ingress", "IPv6", "any", default["id"]),
    }
    again = (await member.get("/security-groups")).json()["items"]
    assert [g["id"] for g in again] == [default["id"]]


async def test_a_valid_rule_is_added_and_shown_with_its_group(admin: ApiSession) -> None:
    group = await _group(admin)

    response = await admin.post(
        f"/security-groups/{group['id']}/rules",
        json={
            "direction": "ingress",
            "protocol": "tcp",
            "port_min": 443,
            "port_max": 443,
            "remote_cidr": "198.51.100.0/24",
        },
    )

    assert response.status_code == 201, response.text
    rule = response.json()
    assert (rule["ethertype"], rule["remote_cidr"]) == ("IPv4", "198.51.100.0/24")
    shown = (await admin.get(f"/security-groups/{group['id']}")).json()
    assert [r["id"] for r in shown["rules"]] == [rule["id"]]
    assert (await admin.get(f"/security-group-rules/{rule['id']}")).json() == rule


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"protocol": "icmp", "port_min": 1}, "port_min"),
        ({"protocol": "any", "port_max": 80}, "port_min"),
        ({"protocol": "tcp", "port_min": 0}, "port_min"),
        ({"protocol": "udp", "port_max": 65536}, "port_max"),
        ({"protocol": "tcp", "port_min": 90, "port_max": 80}, "port_max"),
        ({"protocol": "gre"}, "protocol"),
        ({"direction": "sideways"}, "direction"),
        ({"remote_cidr": "10.0.0.0/40"}, "remote_cidr"),
        ({"remote_cidr": "banana"}, "remote_cidr"),
        ({"remote_cidr": "2001:db8::/64", "ethertype": "IPv4"}, "ethertype"),
        ({"ethertype": "IPv5"}, "ethertype"),
    ],
)
async def test_a_bad_rule_is_422_naming_the_field(
    admin: ApiSession, rule: dict[str, Any], field: str
) -> None:
    group = await _group(admin)
    body = {"direction": "ingress", **rule}

    response = await admin.post(f"/security-groups/{group['id']}/rules", json=body)

    error = assert_error(response, 422, "validation_error")
    assert any(field in entry["loc"] for entry in error["details"]["errors"]), error


async def test_a_rule_names_a_cidr_or_a_group_not_both(admin: ApiSession) -> None:
    group = await _group(admin)

    both = await admin.post(
        f"/security-groups/{group['id']}/rules",
        json={"direction": "ingress", "remote_cidr": "10.0.0.0/8", "remote_group_id": group["id"]},
    )
    unknown = await admin.post(
        f"/security-groups/{group['id']}/rules",
        json={"direction": "ingress", "remote_group_id": "00000000-0000-0000-0000-000000000000"},
    )

    assert_error(both, 422, "validation_error")
    assert_error(unknown, 404, "not_found")


async def test_rule_changes_reach_the_ports_using_the_group(admin: ApiSession) -> None:
    group = await _group(admin)
    network = await create_network(admin)
    port = await create_port(admin, network["id"], security_groups=[group["id"]])
    await admin.settle()

    added = await admin.post(
        f"/security-groups/{group['id']}/rules",
        json={"direction": "ingress", "protocol": "udp", "port_min": 53, "port_max": 53},
    )
    await admin.settle()
    backend = {p.id: p for p in await admin.runtime.driver.list_ports()}
    assert [r.id for r in backend[port["id"]].security_rules] == [added.json()["id"]]

    assert (await admin.delete(f"/security-group-rules/{added.json()['id']}")).status_code == 204
    await admin.settle()
    backend = {p.id: p for p in await admin.runtime.driver.list_ports()}
    assert backend[port["id"]].security_rules == ()
    operations = (await admin.get("/operations", params={"resource_id": group["id"]})).json()
    assert {o["action"] for o in operations["items"]} == {"apply_rules"}


async def test_a_group_in_use_and_the_default_group_cannot_be_deleted(admin: ApiSession) -> None:
    group = await _group(admin)
    network = await create_network(admin)
    port = await create_port(admin, network["id"], security_groups=[group["id"]])
    default = (await admin.get("/security-groups", params={"name": "default"})).json()["items"][0]

    in_use = await admin.delete(f"/security-groups/{group['id']}")
    assert_error(await admin.delete(f"/security-groups/{default['id']}"), 409, "conflict")

    error = assert_error(in_use, 409, "conflict")
    assert error["details"]["ports"] == [port["id"]]
    assert (await admin.delete(f"/ports/{port['id']}")).status_code == 204
    assert (await admin.delete(f"/security-groups/{group['id']}")).status_code == 204
    assert_error(await admin.get(f"/security-groups/{group['id']}"), 404, "not_found")


async def test_a_group_name_is_unique_in_a_project(admin: ApiSession) -> None:
    await _group(admin, "db")

    assert_error(await admin.post("/security-groups", json={"name": "db"}), 409, "conflict")


async def test_another_projects_group_is_404_and_a_reader_cannot_write(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    reader = await new_member(admin, owner.project_id, role="reader")
    stranger = await new_project_member(admin)
    group = await _group(owner)
    path = f"/security-groups/{group['id']}"
    rule_body = {"direction": "egress"}

    assert_error(await stranger.get(path), 404, "not_found")
    assert_error(await stranger.delete(path), 404, "not_found")
    assert_error(await stranger.post(f"{path}/rules", json=rule_body), 404, "not_found")
    network = await create_network(stranger)
    port = await stranger.post(
        "/ports", json={"network_id": network["id"], "security_groups": [group["id"]]}
    )
    assert_error(port, 404, "not_found")
    assert (await reader.get(path)).status_code == 200
    assert_error(await reader.post(f"{path}/rules", json=rule_body), 403, "forbidden")
    assert_error(await reader.delete(path), 403, "forbidden")
    assert_error(await reader.post("/security-groups", json={"name": "r"}), 403, "forbidden")
