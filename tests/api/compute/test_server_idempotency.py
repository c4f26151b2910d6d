"""``Idempotency-Key`` on server create: a retry replays, a changed body is refused."""

from __future__ import annotations

import asyncio

from tests.support.api import ApiSession, assert_error
from tests.support.factories import catalogue_ids


async def test_a_retried_create_with_the_same_key_replays_and_creates_nothing(
    admin: ApiSession,
) -> None:
    flavor_id, image_id = await catalogue_ids(admin)
    body = {"name": "once", "flavor_id": flavor_id, "image_id": image_id}
    headers = {"Idempotency-Key": "key-1"}
    first = await admin.post("/servers", json=body, headers=headers)
    second = await admin.post("/servers", json=body, headers=headers)
    assert first.status_code == second.status_code == 202
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == first.headers["location"]
    await admin.settle()
    assert len((await admin.get("/servers")).json()["items"]) == 1


async def test_the_same_key_with_a_different_body_is_422(admin: ApiSession) -> None:
    flavor_id, image_id = await catalogue_ids(admin)
    headers = {"Idempotency-Key": "key-2"}
    await admin.post(
        "/servers",
        json={"name": "a", "flavor_id": flavor_id, "image_id": image_id},
        headers=headers,
    )
    response = await admin.post(
        "/servers",
        json={"name": "b", "flavor_id": flavor_id, "image_id": image_id},
        headers=headers,
    )
    assert_error(response, 422, "validation_error")
    await admin.settle()
    assert [s["name"] for s in (await admin.get("/servers")).json()["items"]] == ["a"]


async def test_concurrent_retries_with_one_key_create_one_server(admin: ApiSession) -> None:
    flavor_id, image_id = await catalogue_ids(admin)
    body = {"name": "burst", "flavor_id": flavor_id, "image_id": image_id}
    responses = await asyncio.gather(
        *(admin.post("/servers", json=body, headers={"Idempotency-Key": "k3"}) for _ in range(10))
    )
    assert {r.status_code for r in responses} <= {202, 409}
    accepted = {r.json()["id"] for r in responses if r.status_code == 202}
    assert len(accepted) == 1
    await admin.settle()
    assert len((await admin.get("/servers")).json()["items"]) == 1


async def test_a_failed_create_does_not_burn_the_key(admin: ApiSession) -> None:
    flavor_id, _ = await catalogue_ids(admin)
    headers = {"Idempotency-Key": "key-4"}
    body = {"name": "x", "flavor_id": flavor_id, "image_id": "00000000-0000-0000-0000-000000000000"}
    assert (await admin.post("/servers", json=body, headers=headers)).status_code == 404
    again = await admin.post("/servers", json=body, headers=headers)
    assert again.status_code == 404
    assert "idempotent-replayed" not in again.headers
