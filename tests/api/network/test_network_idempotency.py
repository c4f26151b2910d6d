"""A create repeated with the same ``Idempotency-Key`` makes one resource and answers the same."""

from __future__ import annotations

from typing import Any

from tests.api.network.network_factories import create_network, unique
from tests.support.api import ApiSession, assert_error


async def _twice(api: ApiSession, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` twice under one key; both answers must be the same 201."""
    headers = {"Idempotency-Key": unique("key")}
    first = await api.post(path, json=body, headers=headers)
    second = await api.post(path, json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    assert first.json() == second.json()
    assert first.headers["Location"] == second.headers["Location"]
    created: dict[str, Any] = first.json()
    return created


async def test_a_repeated_port_create_makes_one_port(admin: ApiSession) -> None:
    network = await create_network(admin)

    port = await _twice(admin, "/ports", {"network_id": network["id"]})

    listed = (await admin.get("/ports", params={"network_id": network["id"]})).json()["items"]
    assert [p["id"] for p in listed] == [port["id"]]


async def test_a_repeated_floating_ip_allocation_allocates_one_address(admin: ApiSession) -> None:
    before = (await admin.get("/floating-ips")).json()["items"]

    floating_ip = await _twice(admin, "/floating-ips", {})

    after = (await admin.get("/floating-ips")).json()["items"]
    assert len(after) == len(before) + 1
    assert floating_ip["id"] in {f["id"] for f in after}


async def test_repeated_security_group_and_rule_creates_make_one_each(admin: ApiSession) -> None:
    name = unique("sg")
    group = await _twice(admin, "/security-groups", {"name": name})
    rule_body = {"direction": "ingress", "protocol": "tcp", "port_min": 22, "port_max": 22}

    rule = await _twice(admin, f"/security-groups/{group['id']}/rules", rule_body)

    assert [
        g["id"]
        for g in (await admin.get("/security-groups", params={"name": name})).json()["items"]
    ] == [group["id"]]
    shown = (await admin.get(f"/security-groups/{group['id']}")).json()
    assert [r["id"] for r in shown["rules"]] == [rule["id"]]


async def test_the_same_key_with_another_body_is_refused(admin: ApiSession) -> None:
    network = await create_network(admin)
    headers = {"Idempotency-Key": unique("key")}
    first = await admin.post("/ports", json={"network_id": network["id"]}, headers=headers)
    assert first.status_code == 201, first.text

    reused = await admin.post(
        "/ports", json={"network_id": network["id"], "name": "other"}, headers=headers
    )

    assert_error(reused, 422, "validation_error")
    listed = (await admin.get("/ports", params={"network_id": network["id"]})).json()["items"]
    assert len(listed) == 1
