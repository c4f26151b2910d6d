"""API keys: created by their user, shown once, acting as that user in their project."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from tests.support.api import ApiSession, assert_error
from tests.support.identity import user_with_role

from cloudplane.kit.clock import utcnow

WHOAMI = "/api/v1/auth/whoami"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_key(api: ApiSession, name: str = "ci") -> dict[str, object]:
    response = await api.post("/api-keys", json={"name": name})
    assert response.status_code == 201, response.text
    key: dict[str, object] = response.json()
    return key


async def test_an_api_key_acts_as_its_user_in_its_project(
    client: httpx.AsyncClient, member: ApiSession
) -> None:
    key = await create_key(member)

    assert isinstance(key["key"], str)
    assert key["key"].startswith("cpk_")
    assert key["project_id"] == member.project_id
    whoami = await client.get(WHOAMI, headers=bearer(key["key"]))
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["user"]["id"] == member.user_id
    assert whoami.json()["project"]["id"] == member.project_id
    assert whoami.json()["roles"] == ["member"]
    assert whoami.json()["api_key_id"] == key["id"]


async def test_the_secret_is_shown_only_when_the_key_is_created(member: ApiSession) -> None:
    key = await create_key(member)

    listed = (await member.get("/api-keys")).json()

    assert [item["id"] for item in listed["items"]] == [key["id"]]
    assert set(listed["items"][0]) == {
        "id",
        "name",
        "prefix",
        "project_id",
        "created_at",
        "expires_at",
    }


async def test_a_deleted_api_key_is_401(client: httpx.AsyncClient, member: ApiSession) -> None:
    key = await create_key(member)
    assert isinstance(key["key"], str)

    deleted = await member.delete(f"/api-keys/{key['id']}")

    assert deleted.status_code == 204
    assert_error(await client.get(WHOAMI, headers=bearer(key["key"])), 401, "unauthorized")
    assert (await member.get("/api-keys")).json()["items"] == []


async def test_a_wrong_secret_for_a_real_key_prefix_is_401(
    client: httpx.AsyncClient, member: ApiSession
) -> None:
    key = await create_key(member)
    assert isinstance(key["key"], str)
    prefix = key["key"].rsplit("_", 1)[0]

    response = await client.get(WHOAMI, headers=bearer(f"{prefix}_wrong-secret"))

    assert_error(response, 401, "unauthorized")


async def test_keys_of_other_users_are_invisible_and_cannot_be_deleted(
    admin: ApiSession, member: ApiSession
) -> None:
    key = await create_key(member)

    assert (await admin.get("/api-keys")).json()["items"] == []
    assert_error(await admin.delete(f"/api-keys/{key['id']}"), 404, "not_found")
    assert_error(await member.delete("/api-keys/no-such-key"), 404, "not_found")


async def test_an_api_key_stops_working_when_its_user_is_disabled(
    client: httpx.AsyncClient, admin: ApiSession, member: ApiSession
) -> None:
    key = await create_key(member)
    assert isinstance(key["key"], str)

    await admin.patch(f"/users/{member.user_id}", json={"enabled": False})

    assert_error(await client.get(WHOAMI, headers=bearer(key["key"])), 401, "unauthorized")


async def test_an_api_key_past_its_expiry_is_401(
    client: httpx.AsyncClient, member: ApiSession
) -> None:
    soon = utcnow() + timedelta(milliseconds=300)
    response = await member.post(
        "/api-keys", json={"name": "brief", "expires_at": soon.isoformat()}
    )
    assert response.status_code == 201, response.text
    token = response.json()["key"]
    assert response.json()["expires_at"] is not None

    await asyncio.sleep((soon - utcnow()).total_seconds() + 0.05)

    assert_error(await client.get(WHOAMI, headers=bearer(token)), 401, "unauthorized")


async def test_an_expiry_in_the_past_or_without_a_zone_is_422(member: ApiSession) -> None:
    past = (utcnow() - timedelta(minutes=1)).isoformat()

    in_the_past = await member.post("/api-keys", json={"name": "old", "expires_at": past})
    naive = await member.post(
        "/api-keys", json={"name": "naive", "expires_at": "2099-01-01T00:00:00"}
    )

    assert_error(in_the_past, 422, "validation_error")
    assert_error(naive, 422, "validation_error")


async def test_a_replayed_key_creation_creates_nothing_and_does_not_reveal_the_secret_again(
    member: ApiSession,
) -> None:
    headers = {"Idempotency-Key": "key-create-1"}
    first = await member.post("/api-keys", json={"name": "once"}, headers=headers)
    again = await member.post("/api-keys", json={"name": "once"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["key"]
    assert again.json()["key"] is None
    assert len((await member.get("/api-keys")).json()["items"]) == 1


async def test_a_reader_cannot_create_or_delete_keys_but_can_list_them(admin: ApiSession) -> None:
    reader = await user_with_role(admin, "ron", "reader")

    assert (await reader.get("/api-keys")).status_code == 200
    assert_error(await reader.post("/api-keys", json={"name": "x"}), 403, "forbidden")
    assert_error(await reader.delete("/api-keys/anything"), 403, "forbidden")
