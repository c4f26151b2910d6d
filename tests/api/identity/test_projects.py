"""Projects: create, read, update, delete, names, and what stops a delete."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from sqlalchemy.ext.asyncio import AsyncSession
from tests.support.api import ApiSession, assert_error, login
from tests.support.identity import DEFAULT_PASSWORD, create_project, create_user, set_role

from cloudplane.identity.quotas import UsageCounter
from cloudplane.runtime import Runtime

PROJECT_FIELDS = {"id", "name", "description", "enabled", "created_at", "updated_at", "deleted_at"}


async def test_a_project_can_be_created_read_updated_and_deleted(admin: ApiSession) -> None:
    created = await admin.post("/projects", json={"name": "web", "description": "The web team"})
    assert created.status_code == 201, created.text
    project = created.json()
    assert set(project) == PROJECT_FIELDS
    assert (project["name"], project["description"], project["enabled"]) == (
        "web",
        "The web team",
        True,
    )

    shown = await admin.get(f"/projects/{project['id']}")
    assert shown.json() == project

    patched = await admin.patch(
        f"/projects/{project['id']}", json={"name": "web-2", "enabled": False}
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["enabled"]) == ("web-2", False)
    assert patched.json()["description"] == "The web team"

    deleted = await admin.delete(f"/projects/{project['id']}")
    assert deleted.status_code == 204
    assert_error(await admin.get(f"/projects/{project['id']}"), 404, "not_found")
    assert_error(await admin.delete(f"/projects/{project['id']}"), 404, "not_found")


async def test_a_name_taken_by_a_live_project_is_409_and_free_again_after_delete(
    admin: ApiSession,
) -> None:
    first = await create_project(admin, "shared-name")
    other = await create_project(admin, "other-name")

    assert_error(await admin.post("/projects", json={"name": "shared-name"}), 409, "conflict")
    renamed = await admin.patch(f"/projects/{other['id']}", json={"name": "shared-name"})
    assert_error(renamed, 409, "conflict")

    assert (await admin.delete(f"/projects/{first['id']}")).status_code == 204
    again = await admin.post("/projects", json={"name": "shared-name"})
    assert again.status_code == 201
    assert again.json()["id"] != first["id"]


async def test_project_bodies_are_validated(admin: ApiSession) -> None:
    for body in ({"name": ""}, {"name": "has space"}, {"name": "x" * 65}, {"name": "ok", "x": 1}):
        assert_error(await admin.post("/projects", json=body), 422, "validation_error")
    patch = await admin.patch(f"/projects/{admin.project_id}", json={"name": None})
    assert_error(patch, 422, "validation_error")


async def test_a_project_with_a_server_cannot_be_deleted(
    client: httpx.AsyncClient, admin: ApiSession, runtime: Runtime
) -> None:
    project = await create_project(admin, "busy")
    inside = await login(client, runtime, "admin", "admin-password-for-tests", project["id"])
    flavor = (await inside.get("/flavors", params={"name": "m1.tiny"})).json()["items"][0]
    image = (await inside.get("/images", params={"name": "tiny"})).json()["items"][0]
    server = await inside.post(
        "/servers", json={"name": "web-1", "flavor_id": flavor["id"], "image_id": image["id"]}
    )
    assert server.status_code == 202, server.text

    response = await admin.delete(f"/projects/{project['id']}")

    error = assert_error(response, 409, "conflict")
    assert error["details"]["in_use"]["servers"] == 1
    assert (await admin.get(f"/projects/{project['id']}")).status_code == 200
    quota = (await admin.get(f"/projects/{project['id']}/quotas")).json()
    assert quota["in_use"]["servers"] == 1


async def test_resources_counted_by_any_feature_block_a_project_delete(
    admin: ApiSession, runtime: Runtime
) -> None:
    project = await create_project(admin, "has-images")

    async def images_in_use(_session: AsyncSession, project_id: str) -> Mapping[str, int]:
        return {"images": 2 if project_id == project["id"] else 0}

    counter: UsageCounter = images_in_use
    runtime.usage_counters.append(counter)
    try:
        response = await admin.delete(f"/projects/{project['id']}")
    finally:
        runtime.usage_counters.remove(counter)

    assert assert_error(response, 409, "conflict")["details"]["in_use"] == {"images": 2}


async def test_deleting_a_project_ends_its_memberships(
    client: httpx.AsyncClient, admin: ApiSession, runtime: Runtime
) -> None:
    project = await create_project(admin, "short-lived")
    user = await create_user(admin, "tenant")
    await set_role(admin, project["id"], user["id"], "member")
    tenant = await login(client, runtime, "tenant", DEFAULT_PASSWORD)

    assert (await admin.delete(f"/projects/{project['id']}")).status_code == 204

    assert_error(await tenant.get("/auth/whoami"), 401, "unauthorized")
    login_again = await client.post(
        "/api/v1/auth/token", json={"username": "tenant", "password": DEFAULT_PASSWORD}
    )
    assert_error(login_again, 401, "unauthorized")


async def test_deleted_projects_are_listed_only_for_admins_asking_with_deleted_true(
    admin: ApiSession, member: ApiSession
) -> None:
    gone = await create_project(admin, "gone")
    await admin.delete(f"/projects/{gone['id']}")

    default = (await admin.get("/projects")).json()["items"]
    with_deleted = (await admin.get("/projects", params={"deleted": "true"})).json()["items"]
    shown = await admin.get(f"/projects/{gone['id']}", params={"deleted": "true"})

    assert gone["id"] not in {item["id"] for item in default}
    deleted_item = next(item for item in with_deleted if item["id"] == gone["id"])
    assert deleted_item["deleted_at"] is not None
    assert shown.status_code == 200
    assert shown.json()["deleted_at"] is not None
    member_view = (await member.get("/projects", params={"deleted": "true"})).json()["items"]
    assert [item["id"] for item in member_view] == [admin.project_id]


async def test_projects_filter_by_name_and_literal_prefix_and_sort_by_name(
    admin: ApiSession,
) -> None:
    for name in ("team_a", "team_b", "teamXc", "other"):
        await create_project(admin, name)

    by_prefix = await admin.get("/projects", params={"name_prefix": "team_", "sort": "name:asc"})
    by_name = await admin.get("/projects", params={"name": "other"})

    assert [item["name"] for item in by_prefix.json()["items"]] == ["team_a", "team_b"]
    assert [item["name"] for item in by_name.json()["items"]] == ["other"]
    assert_error(await admin.get("/projects", params={"sort": "vcpus"}), 400, "bad_request")


async def test_a_disabled_project_cannot_be_used(
    client: httpx.AsyncClient, admin: ApiSession, runtime: Runtime
) -> None:
    project = await create_project(admin, "paused")
    user = await create_user(admin, "worker")
    await set_role(admin, project["id"], user["id"], "member")
    worker = await login(client, runtime, "worker", DEFAULT_PASSWORD)

    await admin.patch(f"/projects/{project['id']}", json={"enabled": False})

    assert_error(await worker.get("/auth/whoami"), 401, "unauthorized")
    login_again = await client.post(
        "/api/v1/auth/token", json={"username": "worker", "password": DEFAULT_PASSWORD}
    )
    assert_error(login_again, 401, "unauthorized")


async def test_an_unknown_project_is_404(admin: ApiSession) -> None:
    for method, path, body in (
        ("GET", "/projects/nope", None),
        ("PATCH", "/projects/nope", {"description": "x"}),
        ("DELETE", "/projects/nope", None),
        ("GET", "/projects/nope/quotas", None),
        ("PUT", "/projects/nope/quotas", {"servers": 1}),
    ):
        assert_error(await admin.request(method, path, json=body), 404, "not_found")


async def test_a_created_project_is_named_in_the_audit_trail(admin: ApiSession) -> None:
    project = await create_project(admin, "audited")

    events = (await admin.get("/audit-events", params={"resource_id": project["id"]})).json()

    assert [(e["resource_type"], e["action"]) for e in events["items"]] == [("projects", "create")]
