"""Who may do what: readers read, members write their project, admins administer."""

from __future__ import annotations

from tests.support.api import ApiSession, assert_error
from tests.support.identity import create_project


async def test_a_reader_can_read_but_every_write_is_403(
    admin: ApiSession, reader: ApiSession
) -> None:
    project = admin.project_id
    for path in (
        "/auth/whoami",
        f"/projects/{project}",
        f"/projects/{project}/quotas",
        "/api-keys",
    ):
        assert (await reader.get(path)).status_code == 200, path

    writes = (
        ("POST", "/api-keys", {"name": "k"}),
        ("DELETE", "/api-keys/some-key", None),
        ("POST", "/servers", {"name": "s", "flavor_id": "f", "image_id": "i"}),
    )
    for method, path, body in writes:
        assert_error(await reader.request(method, path, json=body), 403, "forbidden")


async def test_admin_only_endpoints_are_403_for_members(
    admin: ApiSession, member: ApiSession
) -> None:
    project = admin.project_id
    user = admin.user_id
    admin_only = (
        ("GET", "/users", None),
        ("POST", "/users", {"username": "eve", "password": "long-enough"}),
        ("GET", f"/users/{user}", None),
        ("PATCH", f"/users/{user}", {"enabled": False}),
        ("DELETE", f"/users/{user}", None),
        ("POST", "/projects", {"name": "mine"}),
        ("PATCH", f"/projects/{project}", {"description": "x"}),
        ("DELETE", f"/projects/{project}", None),
        ("PUT", f"/projects/{project}/quotas", {"servers": 100}),
        ("GET", f"/projects/{project}/members", None),
        ("PUT", f"/projects/{project}/members/{member.user_id}", {"role": "member"}),
        ("DELETE", f"/projects/{project}/members/{user}", None),
    )
    for method, path, body in admin_only:
        response = await member.request(method, path, json=body)
        assert_error(response, 403, "forbidden")


async def test_non_admins_see_only_projects_where_they_have_a_role(
    admin: ApiSession, member: ApiSession
) -> None:
    other = await create_project(admin, "elsewhere")

    listed = (await member.get("/projects")).json()

    assert [item["id"] for item in listed["items"]] == [admin.project_id]
    assert_error(await member.get(f"/projects/{other['id']}"), 404, "not_found")
    assert_error(await member.get(f"/projects/{other['id']}/quotas"), 404, "not_found")
    assert (await admin.get(f"/projects/{other['id']}")).status_code == 200
