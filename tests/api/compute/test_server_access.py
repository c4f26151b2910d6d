"""Project scoping and roles: another project's server is 404, a reader's write is 403."""

from __future__ import annotations

from tests.support.api import ApiSession, assert_error
from tests.support.factories import (
    active_server,
    catalogue_ids,
    create_server,
    new_member,
    new_project_member,
)


def _server_endpoints(server_id: str) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("GET", f"/servers/{server_id}", None),
        ("PATCH", f"/servers/{server_id}", {"name": "stolen"}),
        ("DELETE", f"/servers/{server_id}", None),
        ("POST", f"/servers/{server_id}/start", None),
        ("POST", f"/servers/{server_id}/stop", None),
        ("POST", f"/servers/{server_id}/reboot", {"type": "hard"}),
        ("POST", f"/servers/{server_id}/pause", None),
        ("POST", f"/servers/{server_id}/resume", None),
        ("GET", f"/servers/{server_id}/console", None),
    ]


async def test_another_projects_server_is_not_found_on_every_endpoint(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    stranger = await new_project_member(admin)
    server = await create_server(owner)
    await owner.settle()
    for method, path, body in _server_endpoints(server["id"]):
        assert_error(await stranger.request(method, path, json=body), 404, "not_found")
    listed = (await stranger.get("/servers")).json()["items"]
    assert listed == []
    operation = await stranger.get(f"/operations/{server['operation_id']}")
    assert_error(operation, 404, "not_found")
    shown = (await owner.get(f"/servers/{server['id']}")).json()
    assert shown["name"] == server["name"]
    assert shown["status"] == "ACTIVE"


async def test_a_reader_can_look_but_every_write_is_forbidden(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    reader = await new_member(admin, owner.project_id, role="reader")
    server = await active_server(owner)
    assert (await reader.get(f"/servers/{server['id']}")).status_code == 200
    assert len((await reader.get("/servers")).json()["items"]) == 1
    for method, path, body in _server_endpoints(server["id"]):
        if method == "GET":
            continue
        assert_error(await reader.request(method, path, json=body), 403, "forbidden")
    flavor_id, image_id = await catalogue_ids(reader)
    create = await reader.post(
        "/servers", json={"name": "r", "flavor_id": flavor_id, "image_id": image_id}
    )
    assert_error(create, 403, "forbidden")


async def test_requests_without_a_valid_token_are_unauthorized(admin: ApiSession) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}):
        response = await admin.client.get("/api/v1/servers", headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


async def test_admins_list_every_project_with_all_projects(admin: ApiSession) -> None:
    owner = await new_project_member(admin)
    server = await active_server(owner)
    own = (await admin.get("/servers")).json()["items"]
    assert server["id"] not in [s["id"] for s in own]
    everything = (await admin.get("/servers", params={"all_projects": "true"})).json()["items"]
    assert server["id"] in [s["id"] for s in everything]
    scoped = (await admin.get("/servers", params={"project_id": owner.project_id})).json()
    assert [s["id"] for s in scoped["items"]] == [server["id"]]
