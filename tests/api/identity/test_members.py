"""Memberships: who has which role in a project, and what that does to their access."""

from __future__ import annotations

import httpx
from tests.support.api import ApiSession, assert_error, login
from tests.support.identity import DEFAULT_PASSWORD, create_project, create_user

from cloudplane.runtime import Runtime

TOKEN = "/api/v1/auth/token"


async def test_adding_a_member_lets_them_log_in_and_removing_them_stops_it(
    client: httpx.AsyncClient, admin: ApiSession, runtime: Runtime
) -> None:
    user = await create_user(admin, "nina")
    credentials = {"username": "nina", "password": DEFAULT_PASSWORD}
    assert_error(await client.post(TOKEN, json=credentials), 401, "unauthorized")

    added = await admin.put(
        f"/projects/{admin.project_id}/members/{user['id']}", json={"role": "member"}
    )
    assert added.status_code == 200, added.text
    assert {k: added.json()[k] for k in ("project_id", "user_id", "role")} == {
        "project_id": admin.project_id,
        "user_id": user["id"],
        "role": "member",
    }
    nina = await login(client, runtime, "nina", DEFAULT_PASSWORD)
    assert (await nina.get("/auth/whoami")).json()["roles"] == ["member"]

    removed = await admin.delete(f"/projects/{admin.project_id}/members/{user['id']}")
    assert removed.status_code == 204

    assert_error(await nina.get("/auth/whoami"), 401, "unauthorized")
    assert_error(await client.post(TOKEN, json=credentials), 401, "unauthorized")


async def test_changing_a_role_applies_to_tokens_already_issued(
    admin: ApiSession, member: ApiSession
) -> None:
    assert (await member.post("/api-keys", json={"name": "before"})).status_code == 201

    changed = await admin.put(
        f"/projects/{admin.project_id}/members/{member.user_id}", json={"role": "reader"}
    )

    assert changed.json()["role"] == "reader"
    assert (await member.get("/auth/whoami")).json()["roles"] == ["reader"]
    assert_error(await member.post("/api-keys", json={"name": "after"}), 403, "forbidden")


async def test_members_are_listed_with_their_roles(admin: ApiSession, member: ApiSession) -> None:
    reader = await create_user(admin, "quinn")
    await admin.put(f"/projects/{admin.project_id}/members/{reader['id']}", json={"role": "reader"})

    everyone = (await admin.get(f"/projects/{admin.project_id}/members")).json()
    readers = await admin.get(f"/projects/{admin.project_id}/members", params={"role": "reader"})
    first_page = await admin.get(f"/projects/{admin.project_id}/members", params={"limit": 2})

    roles = {item["user_id"]: item["role"] for item in everyone["items"]}
    assert roles == {admin.user_id: "member", member.user_id: "member", reader["id"]: "reader"}
    assert [item["user_id"] for item in readers.json()["items"]] == [reader["id"]]
    assert first_page.json()["next_marker"] is not None
    rest = await admin.get(
        f"/projects/{admin.project_id}/members",
        params={"limit": 2, "marker": first_page.json()["next_marker"]},
    )
    assert len(first_page.json()["items"]) + len(rest.json()["items"]) == 3


async def test_memberships_of_unknown_users_or_projects_are_404(admin: ApiSession) -> None:
    project = await create_project(admin, "target")
    user = await create_user(admin, "somebody")

    for path in (f"/projects/{project['id']}/members/nope", f"/projects/nope/members/{user['id']}"):
        assert_error(await admin.put(path, json={"role": "member"}), 404, "not_found")
        assert_error(await admin.delete(path), 404, "not_found")
    no_role = await admin.delete(f"/projects/{project['id']}/members/{user['id']}")
    assert_error(no_role, 404, "not_found")
    assert_error(await admin.get("/projects/nope/members"), 404, "not_found")


async def test_only_member_and_reader_are_project_roles(admin: ApiSession) -> None:
    user = await create_user(admin, "hopeful")
    path = f"/projects/{admin.project_id}/members/{user['id']}"

    for role in ("admin", "owner", ""):
        assert_error(await admin.put(path, json={"role": role}), 422, "validation_error")
